"""Test databases: the schema is built once per run by the real migrations, then every test
gets its own copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so
tests never see each other's rows and runs never see each other's databases."""

from __future__ import annotations

import os
import shutil
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

PG_URL = os.environ.get("CASEMGR_TEST_DATABASE_URL", "").strip()


def backend() -> str:
    return "postgresql" if PG_URL else "sqlite"


def _admin_conninfo() -> str:
    url = make_url(PG_URL).set(drivername="postgresql")
    return url.set(database="postgres").render_as_string(hide_password=False)


def pg_url_for(name: str) -> str:
    return make_url(PG_URL).set(database=name).render_as_string(hide_password=False)


@contextmanager
def _pg_admin() -> Iterator[psycopg.Connection]:
    with psycopg.connect(_admin_conninfo(), autocommit=True) as conn:
        yield conn


@dataclass
class DatabaseFactory:
    """Hands out fresh databases copied from a migrated template."""

    run_id: str
    workdir: Path
    template: str  # a file path (SQLite) or a database name (PostgreSQL)
    counter: int = 0

    def new(self) -> tuple[str, callable]:
        self.counter += 1
        if backend() == "sqlite":
            path = self.workdir / f"db{self.counter}.sqlite3"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
        name = f"casemgr_test_{self.run_id}_{self.counter}"
        with _pg_admin() as conn:
            conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
        return pg_url_for(name), lambda: drop_pg(name)


def drop_pg(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database(workdir: Path, label: str) -> tuple[str, callable]:
    """A brand-new, schema-less database (for migration tests and templates)."""
    if backend() == "sqlite":
        path = workdir / f"{label}.sqlite3"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"casemgr_test_{uuid.uuid4().hex[:10]}_{label}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return pg_url_for(name), lambda: drop_pg(name)


def checkpoint_sqlite(url: str) -> None:
    """Fold the WAL into the main file so a plain file copy is a complete database."""
    path = make_url(url).database
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()

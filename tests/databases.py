"""Test databases: the schema is built once per run by the real migrations, then every test
gets its own copy (a file copy on SQLite, CREATE DATABASE ... TEMPLATE on PostgreSQL), so
tests never see each other's rows and runs never see each other's databases.

On a PostgreSQL server on this machine, the run's databases live in a tablespace in memory
(/dev/shm) when the suite may make one (a superuser, and root to hand the folder to the
server's user): a copy then costs about 20 ms instead of 0.1 to 0.7 s of writing and syncing
some 700 files on this disk, which was most of the PostgreSQL run's extra time. WAL still goes
to disk, and nothing else changes. CASEMGR_TEST_PG_RAM=0 keeps them on disk."""

from __future__ import annotations

import atexit
import functools
import itertools
import os
import queue
import shutil
import sqlite3
import sys
import threading
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
    _pg: _PgPipeline | None = None

    def new(self) -> tuple[str, callable]:
        self.counter += 1
        if backend() == "sqlite":
            path = self.workdir / f"db{self.counter}.sqlite3"
            shutil.copyfile(self.template, path)
            return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
        if self._pg is None:
            self._pg = _PgPipeline(f"casemgr_test_{self.run_id}", self.template)
        name = self._pg.take()
        return pg_url_for(name), lambda: self._pg.discard(name)

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()


class _PgPipeline:
    """Copies of the template made ahead, and used ones dropped, on a background thread.

    A copy costs PostgreSQL about 20 ms in the in-memory tablespace, 0.1 to 0.7 s on this
    disk without it (CREATE DATABASE ... TEMPLATE, then DROP). The server does the work in
    its own process, so on a machine with a spare core it overlaps with the running test."""

    AHEAD = 2

    def __init__(self, prefix: str, template: str):
        self.prefix, self.template = prefix, template
        self.serial = itertools.count(1)
        self.ready: queue.Queue[str | Exception] = queue.Queue()
        self.jobs: queue.Queue[tuple[str, str] | None] = queue.Queue()
        self.thread = threading.Thread(target=self._work, name="test-databases", daemon=True)
        self.thread.start()
        for _ in range(self.AHEAD):
            self._order()

    def _order(self) -> None:
        self.jobs.put(("create", f"{self.prefix}_{next(self.serial)}"))

    def take(self) -> str:
        self._order()
        got = self.ready.get(timeout=120)
        if isinstance(got, Exception):
            raise got
        return got

    def discard(self, name: str) -> None:
        self.jobs.put(("drop", name))

    def close(self) -> None:
        self.jobs.put(None)
        self.thread.join(timeout=120)
        while not self.ready.empty():  # made ahead, never used
            got = self.ready.get_nowait()
            if isinstance(got, str):
                drop_pg(got)

    def _work(self) -> None:
        with _pg_admin() as conn:
            while (job := self.jobs.get()) is not None:
                action, name = job
                try:
                    if action == "create":
                        conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{self.template}"')
                        self.ready.put(name)
                    else:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exc:  # handed to the test that waits, so it fails loudly
                    if action == "create":
                        self.ready.put(exc)
                    else:  # a leftover copy is not worth failing the run over
                        print(f"could not drop test database {name}: {exc}", file=sys.stderr)


def drop_pg(name: str) -> None:
    with _pg_admin() as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def empty_database(workdir: Path, label: str) -> tuple[str, callable]:
    """A brand-new, schema-less database (for migration tests and templates)."""
    if backend() == "sqlite":
        path = workdir / f"{label}.sqlite3"
        return f"sqlite:///{path}", lambda: path.unlink(missing_ok=True)
    name = f"casemgr_test_{uuid.uuid4().hex[:10]}_{label}"
    space = _ram_tablespace()
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"' + (f' TABLESPACE "{space}"' if space else ""))
    return pg_url_for(name), lambda: drop_pg(name)


@functools.cache
def _ram_tablespace() -> str | None:
    """This run's tablespace in memory, made on first use; None where it cannot be."""
    name = _make_ram_tablespace()
    if name:
        atexit.register(_drop_ram_tablespace, name)
    return name


def _make_ram_tablespace() -> str | None:
    host = make_url(PG_URL).host or "localhost"
    shm = Path("/dev/shm")
    if os.environ.get("CASEMGR_TEST_PG_RAM") == "0" or not shm.is_dir():
        return None
    if host not in ("127.0.0.1", "localhost", "::1"):  # its /dev/shm is not ours
        return None
    # The pid in the name lets a later run clear what a run killed with SIGKILL left.
    name = f"{RAM_PREFIX}{os.getpid()}_{uuid.uuid4().hex[:10]}"
    folder = shm / name
    try:
        with _pg_admin() as conn:
            superuser = "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
            if not conn.execute(superuser).fetchone()[0]:
                return None
            _sweep_dead_runs(conn)
            data_directory = conn.execute("SHOW data_directory").fetchone()[0]
            folder.mkdir(mode=0o700)
            os.chown(folder, os.stat(data_directory).st_uid, -1)  # the server's user; root only
            conn.execute(f"CREATE TABLESPACE \"{name}\" LOCATION '{folder}'")
    except (OSError, psycopg.Error):  # not root, not the server's machine: stay on disk
        shutil.rmtree(folder, ignore_errors=True)
        return None
    return name


RAM_PREFIX = "casemgr_test_"


def _sweep_dead_runs(conn: psycopg.Connection) -> None:
    """Drop the memory tablespaces of earlier runs whose process is gone (atexit does not
    run after SIGKILL): they would hold RAM until the machine restarts."""
    names = conn.execute(
        "SELECT spcname FROM pg_tablespace WHERE spcname LIKE %s", (RAM_PREFIX + "%",)
    ).fetchall()
    for (name,) in names:
        pid = name.removeprefix(RAM_PREFIX).split("_")[0]
        if pid.isdigit() and not _alive(int(pid)):
            _drop_ram_tablespace(name)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        pass
    return True


def _drop_ram_tablespace(name: str) -> None:
    """After the run: any database left in it (a test that failed mid-way), then the
    tablespace and its folder, so no memory stays taken."""
    try:
        with _pg_admin() as conn:
            left = conn.execute(
                "SELECT d.datname FROM pg_database d JOIN pg_tablespace t"
                " ON t.oid = d.dattablespace WHERE t.spcname = %s",
                (name,),
            ).fetchall()
            for (database,) in left:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            conn.execute(f'DROP TABLESPACE IF EXISTS "{name}"')
    except psycopg.Error as exc:
        print(f"could not drop test tablespace {name}: {exc}", file=sys.stderr)
    shutil.rmtree(Path("/dev/shm") / name, ignore_errors=True)


def checkpoint_sqlite(url: str) -> None:
    """Fold the WAL into the main file so a plain file copy is a complete database."""
    path = make_url(url).database
    with sqlite3.connect(path) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()

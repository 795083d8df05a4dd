"""The test suite's own PostgreSQL plumbing: a run killed with SIGKILL cannot drop its
tablespace in /dev/shm at exit, so the next run does (tests/databases.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests import databases
from tests.databases import backend

pytestmark = pytest.mark.skipif(backend() != "postgresql", reason="PostgreSQL tablespaces")


def _ram_tablespaces_possible() -> bool:
    return os.geteuid() == 0 and databases._ram_tablespace() is not None


def _dead_pid() -> int:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    return child.pid


def _tablespaces() -> set[str]:
    with databases._pg_admin() as conn:
        return {r[0] for r in conn.execute("SELECT spcname FROM pg_tablespace")}


def _leave_tablespace(name: str) -> Path:
    """What a killed run leaves: a tablespace in /dev/shm with a database in it."""
    folder = Path("/dev/shm") / name
    folder.mkdir(mode=0o700)
    with databases._pg_admin() as conn:
        owner = os.stat(conn.execute("SHOW data_directory").fetchone()[0]).st_uid
        os.chown(folder, owner, -1)
        conn.execute(f"CREATE TABLESPACE \"{name}\" LOCATION '{folder}'")
        conn.execute(f'CREATE DATABASE "{name}_db" TABLESPACE "{name}"')
    return folder


def test_a_later_run_drops_what_a_killed_run_left_and_keeps_live_runs():
    if not _ram_tablespaces_possible():
        pytest.skip("this run keeps its databases on disk (not root, or not a local server)")
    dead = f"{databases.RAM_PREFIX}{_dead_pid()}_leftover"
    live = f"{databases.RAM_PREFIX}{os.getppid()}_running"  # a live process: another run
    dead_folder, live_folder = _leave_tablespace(dead), _leave_tablespace(live)
    try:
        with databases._pg_admin() as conn:
            databases._sweep_dead_runs(conn)
        assert dead not in _tablespaces() and not dead_folder.exists()
        assert live in _tablespaces() and live_folder.exists()
        assert databases._ram_tablespace() in _tablespaces()  # this run's own: kept
    finally:
        databases._drop_ram_tablespace(dead)
        databases._drop_ram_tablespace(live)

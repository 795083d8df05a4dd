"""Load and faults against real gunicorn servers (security.md §4; rows F-01, F-03, F-04).

- F-04 / the load run: the clinic's mix (`bench/load/mix.py`) from 50 simulated staff for
  CASEMGR_LOAD_SECONDS (default 20) against `gunicorn -w 2 --threads 4`: zero errors (no
  5xx, no "database is locked", no unexpected status) and every acknowledged write in the
  database afterwards, with its audit event, the audit chain verifying.
- F-01 / the database stops mid-run (PostgreSQL only): a private throwaway cluster (never
  the machine's shared server) is stopped with `pg_ctl stop -m immediate` under concurrent
  writers: requests get the app's 503 page (no traceback), never a 500; after `pg_ctl start`
  the same gunicorn serves again within RECOVERY_SECONDS; no half-written rows.
- F-03 / SIGKILL mid-write (both databases): the gunicorn master and workers are killed
  with SIGKILL under concurrent writers, twice, and restarted on the same database: every
  acknowledged write present, nothing half-written, `flask audit verify` ok and on SQLite
  `PRAGMA integrity_check` ok.

The backend is the suite's (tests/databases.py: SQLite, or PostgreSQL with
CASEMGR_TEST_DATABASE_URL). The PostgreSQL cluster test needs initdb and pg_ctl (Debian's
postgresql package); it is skipped without them, except under CI or
CASEMGR_TEST_REDIS_REQUIRED=1, where their absence fails.
"""

from __future__ import annotations

import glob
import os
import pwd
import random
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from bench.load import verify
from bench.load.client import Browser
from bench.load.mix import Ledger, Recorder, Staff
from bench.load.server import Gunicorn, app_env, free_port
from bench.loadtest import _logged_errors, prepare, run_load, sign_in_all
from tests import databases

pytestmark = pytest.mark.slow

LOAD_SECONDS = float(os.environ.get("CASEMGR_LOAD_SECONDS", "20"))
RECOVERY_SECONDS = 10.0  # F-01: back within 10 s of the database, without a restart
PG_START_SECONDS = 30
NOT_REACHABLE = "The records database is not reachable right now"
WRITES = {
    "nurse": {"note": 1, "cows": 1, "dose": 1},
    "physician": {"note": 1, "cows": 1},
    "counselor": {"note": 1},
}


def _writers(base: str, accounts: list[dict], recorder: Recorder, ledger: Ledger) -> list[Staff]:
    clinical = [a for a in accounts if a["role"] in WRITES]
    return sign_in_all(base, clinical, uuid.uuid4().hex[:8], recorder, ledger)


class Crew:
    """Writers working in threads until stopped; always stopped (bounded) by the test."""

    def __init__(self, staff: list[Staff]):
        self.stop_event = threading.Event()
        self.threads = [
            threading.Thread(
                target=s.run,
                args=(time.monotonic() + 600, 0.05),
                kwargs={"weights": WRITES[s.role], "stop": self.stop_event},
                daemon=True,
            )
            for s in staff
        ]

    def __enter__(self) -> Crew:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(timeout=90)
        assert not any(t.is_alive() for t in self.threads), "a writer did not stop"


def _wait_for(predicate, seconds: float, what: str) -> float:
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < seconds, f"{what} within {seconds:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - started


# --- F-04: the load run -------------------------------------------------------------------


def test_f04_clinic_mix_on_two_workers_has_no_errors_and_loses_nothing(database_factory, tmp_path):
    url, drop = database_factory.new()
    try:
        result = run_load(url, tmp_path, seconds=LOAD_SECONDS, staff=50, workers=2,
                          migrate=False, cheap_hashing=True)  # fmt: skip
    finally:
        drop()
    report = result.as_dict()
    print(report)
    writes = sum(report["kinds"].get(k, {}).get("requests", 0) for k in ("note", "cows", "dose"))
    assert report["errors"] == 0, (report["failures"], report["server_log_errors"])
    assert writes > 0 and report["acknowledged_writes"] == writes
    assert report["missing_count"] == 0, report["missing"]
    assert report["partial"] == []
    assert report["audit_verify"].startswith("ok"), report["audit_verify"]
    assert report["sqlite_integrity_check"] in ("ok", "n/a")


# --- F-03: SIGKILL mid-write --------------------------------------------------------------


def test_f03_sigkill_of_master_and_workers_mid_write_loses_no_acknowledged_write(
    database_factory, tmp_path
):
    url, drop = database_factory.new()
    env = app_env(url, tmp_path / "instance", cheap_hashing=True)
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    recorder, ledger = Recorder(), Ledger()
    rng = random.Random()
    try:
        accounts = prepare(env, 10, migrate=False)
        server.start()
        writers = _writers(server.base, accounts, recorder, ledger)
        with Crew(writers):
            for _ in range(int(os.environ.get("CASEMGR_FAULT_KILLS", "2"))):
                before = ledger.count()
                _wait_for(lambda b=before: ledger.count() >= b + 5, 60, "five saves")
                time.sleep(rng.uniform(0.0, 1.0))  # a random moment, writes in flight
                assert len(server.worker_pids()) == 2
                server.kill(signal.SIGKILL)
                time.sleep(0.5)
                server.start()
                after = ledger.count()
                _wait_for(lambda a=after: ledger.count() >= a + 3, 60, "saves after restart")
    finally:
        server.stop()
        findings = verify.check(url, env, ledger) if ledger.count() else None
        drop()
    statuses = {s.status for s in recorder.samples}
    logged = _logged_errors(server.log)
    assert not any(code >= 500 for code in statuses), (recorder.failures[:10], logged)
    assert findings is not None and findings.acknowledged >= 16
    assert findings.missing == [], findings.missing
    assert findings.partial == [], findings.partial
    assert findings.audit.startswith("ok"), findings.audit
    if databases.backend() == "sqlite":
        assert findings.integrity == "ok"


# --- F-01: the database stops mid-run (a private PostgreSQL cluster) ----------------------


def _pg_binaries() -> Path:
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parts[-3]) if Path(p).parts[-3].isdigit() else 0,
    )
    if not found or not Path(found[-1]).with_name("pg_ctl").exists():
        why = "initdb/pg_ctl not found under /usr/lib/postgresql/*/bin (apt-get install postgresql)"
        if os.environ.get("CI") or os.environ.get("CASEMGR_TEST_REDIS_REQUIRED"):
            pytest.fail(why)
        pytest.skip(why)
    return Path(found[-1]).parent


class Cluster:
    """A throwaway PostgreSQL cluster on a free port, its socket in its own directory. Run as
    the postgres user when the tests run as root (initdb refuses root)."""

    def __init__(self, bin_dir: Path):
        self.bin = bin_dir
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="casemgr-pgfault-", dir="/tmp"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            owner = pwd.getpwnam("postgres")
            os.chown(self.root, owner.pw_uid, owner.pw_gid)
            self.as_user = ["runuser", "-u", "postgres", "--"]

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/casemgr"

    def _run(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
        done = subprocess.run(
            [*self.as_user, *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        assert done.returncode == 0, f"{args[0]}: {done.stdout}{done.stderr}"
        return done

    def init(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres",
                  "--auth=trust", "-E", "UTF8", "--no-instructions")  # fmt: skip
        self.start()
        conninfo = f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres"
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute("CREATE DATABASE casemgr")

    def start(self) -> None:
        opts = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-o", opts, "-l",
                  str(self.log), "-w", "-t", str(PG_START_SECONDS), "start",
                  timeout=PG_START_SECONDS + 15)  # fmt: skip

    def stop(self, mode: str = "immediate") -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "-t",
                  "30", "stop", timeout=45)  # fmt: skip

    def destroy(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run([*self.as_user, str(self.bin / "pg_ctl"), "-D", str(self.data),
                            "-m", "immediate", "-w", "-t", "30", "stop"],
                           capture_output=True, timeout=45, check=False)  # fmt: skip
        shutil.rmtree(self.root, ignore_errors=True)


@pytest.fixture
def pg_cluster() -> Iterator[Cluster]:
    if databases.backend() != "postgresql":
        pytest.skip("F-01 stops a PostgreSQL server; SQLite has no server to stop")
    cluster = Cluster(_pg_binaries())
    try:
        cluster.init()
        yield cluster
    finally:
        cluster.destroy()


def _chart_status(browser: Browser, path: str) -> int:
    return browser.get(path).status


def test_f01_database_stopping_mid_run_answers_503_and_recovers_without_restart(
    pg_cluster, tmp_path
):
    env = app_env(pg_cluster.url, tmp_path / "instance", cheap_hashing=True)
    server = Gunicorn(env, tmp_path / "gunicorn.log")
    recorder, ledger = Recorder(), Ledger()
    try:
        accounts = prepare(env, 10, migrate=True)
        server.start()
        writers = _writers(server.base, accounts, recorder, ledger)
        probe = writers[0]
        probe_path = f"/clients/{probe.clients[0]}"
        with Crew(writers):
            _wait_for(lambda: ledger.count() >= 5, 60, "five saves")
            pg_cluster.stop("immediate")
            stopped_at = len(recorder.samples)
            down = probe.browser.get(probe_path)
            _wait_for(lambda: len(recorder.samples) > stopped_at + 20, 60, "requests while down")
            assert server.health() == "down"
            pg_cluster.start()
            recovered = _wait_for(
                lambda: _chart_status(probe.browser, probe_path) == 200,
                RECOVERY_SECONDS,
                "the app serving again without a restart",
            )
            after = ledger.count()
            _wait_for(lambda: ledger.count() >= after + 5, 60, "saves after recovery")
        assert server.proc is not None and server.proc.poll() is None  # never restarted
    finally:
        server.stop()
    findings = verify.check(pg_cluster.url, env, ledger)
    print(f"recovered in {recovered:.1f} s; {len(recorder.server_errors)} 503s")
    assert down.status == 503 and NOT_REACHABLE in down.text
    assert "Traceback" not in down.text and down.retry_after.isdigit()
    codes = {s.status for s in recorder.samples}
    assert 500 not in codes and 0 not in codes, (recorder.failures[:10], _logged_errors(server.log))
    assert recorder.server_errors, "no request saw the database down"
    for kind, status, page in recorder.server_errors:
        assert status == 503, (kind, status, page[-500:])
        assert NOT_REACHABLE in page and "Traceback" not in page and "psycopg" not in page
    assert findings.missing == [], findings.missing
    assert findings.partial == [], findings.partial
    assert findings.audit.startswith("ok"), findings.audit


def test_f01_database_lost_after_the_page_is_made_still_sends_the_page(pg_cluster, tmp_path):
    """The database dies after the view ran: the closing ROLLBACK fails in the teardown,
    which must not turn the finished response into gunicorn's bare 500 (casemgr/errors.py
    `_end_session`); the next request, with the database back, is served."""
    import sqlalchemy as sa

    from casemgr.extensions import db
    from casemgr.policy import public
    from tests.conftest import make_app

    app = make_app(pg_cluster.url, tmp_path / "instance", TESTING=False)

    @app.get("/test-only/read-then-lose-the-database")
    @public
    def read_then_lose_the_database():
        db.session.execute(sa.text("SELECT 1"))
        pg_cluster.stop("immediate")
        return "made before the teardown"

    @app.get("/test-only/read")
    @public
    def read():
        return str(db.session.execute(sa.text("SELECT 2")).scalar())

    client = app.test_client()
    resp = client.get("/test-only/read-then-lose-the-database")
    assert (resp.status_code, resp.text) == (200, "made before the teardown")
    pg_cluster.start()
    assert client.get("/test-only/read").text == "2"
    with app.app_context():
        db.engine.dispose()

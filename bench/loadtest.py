"""Load test: a clinic's mix from simulated staff against `gunicorn -w 2`, then a check that
every write the load test saw acknowledged is in the database (security.md §4; F-03's
acknowledged-but-missing check, F-04's zero lock errors under 2 workers × 4 threads).

    .venv/bin/python bench/loadtest.py                          # 120 s, 50 staff, SQLite
    .venv/bin/python bench/loadtest.py --seconds 30 --staff 20
    .venv/bin/python bench/loadtest.py \\
        --database-url postgresql+psycopg://postgres@127.0.0.1:5432/postgres
    make loadtest LOADTEST_ARGS="--seconds 60"               # the same through make

What it does:

1. Prepares a fresh database: on SQLite a new file (a temp one by default; a path given must
   not exist yet), on PostgreSQL a new database `casemgr_loadtest_<pid>` created on the
   server the URL names and dropped afterwards (`--keep` keeps either). It is migrated,
   loaded with the demo facility (`casemgr/demo.py`) and given `--staff` load accounts
   (`demo-load-<role>-NN`: of every ten, four nurses, four counselors, a physician and a
   clinic manager) on the demo password and one TOTP seed, plus a client per load
   counselor (every other one in detox with an as-needed order, the rest in rehab): see
   `bench/load/prepare.py`. One account per simulated person, because each TOTP code is
   accepted once per account: fifty people sharing eight demo accounts could not all sign
   in within a minute.
2. Starts `gunicorn -w <workers> --threads 4` on a free loopback port with a temp instance
   folder and production settings (argon2 at its defaults unless `--cheap-hashing`).
3. Signs every simulated staff member in through both steps (password, then a pyotp code),
   eight at a time, each in their own cookie jar.
4. For `--seconds`, each staff thread picks an action by its role's weights
   (`bench/load/mix.py`: home pages, caseload, charts, detox board and summaries, client
   search, session notes, COWS assessments, MAR doses, progress-report PDFs) and waits a
   random think time (uniform 0 to 2 × `--think`, default 0.5 s) between actions. Every
   POST first GETs its form for the CSRF token. A save counts as acknowledged when the app
   answers with its redirect; its marker (a unique string in the note text or the dose's
   note, a unique vitals combination for a COWS) goes into the ledger.
5. Stops gunicorn and checks the database: every acknowledged write present, no note
   without its session or sections, no COWS without its 11 items, every clinical row with
   its audit event and no audit event without its row, `flask audit verify` ok, and on
   SQLite `PRAGMA integrity_check` ok.

It prints a table (requests, errors, p50/p95/p99/max in ms per kind and overall) and the
same as JSON (`--json PATH` also writes it to a file). An error is any 5xx, a connection
failure, or any other unexpected status (a read that is not 200, a save that is not its
redirect, a PDF that is not a PDF). The exit status is 1 when there were errors, a missing
or half-written row, or a failed audit or integrity check.

The machine is small (2 cores, shared): latency figures are noisy; record `uptime`.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.load import verify  # noqa: E402
from bench.load.mix import Ledger, Recorder, Staff, summarize  # noqa: E402
from bench.load.server import REPO, Gunicorn, app_env  # noqa: E402

PASSWORD = "amber lantern quietly crosses the harbor"  # noqa: S105
TOTP_SEED = "LAX2B7SLSMRGBSKVAG7IZ6OIV5HXMAVG"
SIGN_IN_PARALLEL = 8


@dataclass
class Result:
    seconds: float
    staff: int
    workers: int
    backend: str
    summary: dict
    failures: list[str]
    findings: verify.Findings
    extra: dict = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return self.summary.get("all", {}).get("errors", 0)

    @property
    def ok(self) -> bool:
        return self.errors == 0 and self.findings.ok

    def as_dict(self) -> dict:
        total = self.summary.get("all", {}).get("requests", 0)
        return {
            "backend": self.backend,
            "seconds": round(self.seconds, 1),
            "staff": self.staff,
            "workers": self.workers,
            "requests_per_second": round(total / self.seconds, 1) if self.seconds else 0,
            "errors": self.errors,
            "kinds": self.summary,
            "failures": self.failures[:30],
            **self.findings.as_dict(),
            **self.extra,
        }


def prepare(env: dict[str, str], staff: int, *, migrate: bool) -> list[dict]:
    """Demo facility plus load staff and caseloads, in a subprocess with the servers' env."""
    import subprocess

    cmd = [sys.executable, "-m", "bench.load.prepare", "--staff", str(staff),
           "--password", PASSWORD, "--totp-seed", TOTP_SEED]  # fmt: skip
    done = subprocess.run(  # noqa: S603
        cmd + (["--migrate"] if migrate else []),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"preparing the database failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def sign_in_all(base: str, accounts: list[dict], run_id: str, recorder: Recorder,
                ledger: Ledger, seed: int = 1) -> list[Staff]:  # fmt: skip
    """Everyone signs in (eight at a time) and finds their clients."""
    staff = [
        Staff(
            base,
            a["login"],
            a["role"],
            PASSWORD,
            TOTP_SEED,
            run_id=run_id,
            recorder=recorder,
            ledger=ledger,
            rng=random.Random(seed * 1000 + n),  # noqa: S311
        )  # fmt: skip
        for n, a in enumerate(accounts)
    ]

    def ready(person: Staff) -> None:
        person.sign_in()
        person.discover()

    with ThreadPoolExecutor(SIGN_IN_PARALLEL) as pool:
        list(pool.map(ready, staff))
    return staff


def drive(staff: list[Staff], seconds: float, think: float) -> float:
    """Every staff member works in their own thread until the time is up; returns the
    elapsed time. Bounded: a thread stuck past the end plus the client timeout is reported."""
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=s.run, args=(until, think), daemon=True) for s in staff]
    started = time.monotonic()
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=max(0.0, until - time.monotonic()) + 90)
    if any(t.is_alive() for t in threads):
        raise RuntimeError("a simulated staff member did not stop within 90 s of the end")
    return time.monotonic() - started


def run_load(database_url: str, root: Path, *, seconds: float, staff: int, workers: int,
             think: float = 0.5, migrate: bool = True, cheap_hashing: bool = False) -> Result:  # fmt: skip
    """Prepare, serve, sign in, drive, stop, check. `database_url` must name an empty (or,
    with migrate=False, a freshly migrated) database."""
    env = app_env(database_url, root / "instance", cheap_hashing=cheap_hashing)
    t0 = time.monotonic()
    accounts = prepare(env, staff, migrate=migrate)
    prepare_seconds = time.monotonic() - t0
    recorder, ledger, run_id = Recorder(), Ledger(), uuid.uuid4().hex[:8]
    server = Gunicorn(env, root / "gunicorn.log", workers=workers)
    try:
        server.start()
        t0 = time.monotonic()
        people = sign_in_all(server.base, accounts, run_id, recorder, ledger)
        sign_in_seconds = time.monotonic() - t0
        recorder.samples.clear()  # the measured window is the run, not sign-in and discovery
        server_cpu, client_cpu = server.cpu_seconds(), time.process_time()
        elapsed = drive(people, seconds, think)
        server_cpu, client_cpu = server.cpu_seconds() - server_cpu, time.process_time() - client_cpu
    finally:
        server.stop()
    t0 = time.monotonic()
    findings = verify.check(database_url, env, ledger)
    check_seconds = time.monotonic() - t0
    return Result(
        elapsed,
        staff,
        workers,
        database_url.split(":", 1)[0].split("+")[0],
        summarize(recorder.samples),
        recorder.failures,
        findings,
        {
            "think_seconds": think,
            "prepare_seconds": round(prepare_seconds, 1),
            "sign_in_seconds": round(sign_in_seconds, 1),
            "check_seconds": round(check_seconds, 1),
            # Who used the (shared) CPU during the run: gunicorn, and this load driver.
            "server_cpu_seconds": round(server_cpu, 1),
            "client_cpu_seconds": round(client_cpu, 1),
            "load_average": [round(x, 1) for x in os.getloadavg()],
            # What the app logged about its failures (ids and types, never row values).
            "server_log_errors": _logged_errors(server.log),
        },
    )


def _logged_errors(log: Path, limit: int = 10) -> list[str]:
    try:
        lines = log.read_text(errors="replace").splitlines()
    except OSError:
        return []
    marks = ("database unavailable", "unhandled error", "[ERROR]", "WORKER TIMEOUT")
    return [line for line in lines if any(m in line for m in marks)][:limit]


def table(result: Result) -> str:
    lines = [f"{'kind':<10} {'requests':>9} {'errors':>7} {'p50 ms':>9} {'p95 ms':>9} "
             f"{'p99 ms':>9} {'max ms':>9}"]  # fmt: skip
    for kind, row in result.summary.items():
        lines.append(
            f"{kind:<10} {row['requests']:>9} {row['errors']:>7} {row['p50_ms']:>9.1f} "
            f"{row['p95_ms']:>9.1f} {row['p99_ms']:>9.1f} {row['max_ms']:>9.1f}"
        )
    d = result.as_dict()
    lines.append(
        f"{d['backend']}: {d['staff']} staff, {d['workers']} workers, {d['seconds']} s, "
        f"{d['requests_per_second']} requests/s; acknowledged writes {d['acknowledged_writes']}, "
        f"missing {d['missing_count']}, half-written {len(d['partial'])}; "
        f"audit: {d['audit_verify']}; integrity: {d['sqlite_integrity_check']}"
    )
    return "\n".join(lines)


# --- databases for the command ----------------------------------------------------------


def _pg_database(admin_url: str) -> tuple[str, callable]:
    import psycopg
    from sqlalchemy.engine import make_url

    url = make_url(admin_url)
    conninfo = url.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"casemgr_loadtest_{os.getpid()}"
    with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with psycopg.connect(conninfo, autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return url.set(database=name).render_as_string(hide_password=False), drop


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=120)
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--think", type=float, default=0.5, help="mean think time, seconds")
    parser.add_argument("--database-url", default="", help="sqlite:///NEW-FILE or a PostgreSQL "
                        "server URL (a database is created on it); default: a temp SQLite file")  # fmt: skip
    parser.add_argument("--cheap-hashing", action="store_true", help="argon2 at test cost")
    parser.add_argument("--json", type=Path, help="also write the JSON report here")
    parser.add_argument("--keep", action="store_true", help="keep the database and logs")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="casemgr-loadtest-"))
    drop = lambda: None  # noqa: E731
    url = args.database_url or f"sqlite:///{root / 'loadtest.sqlite3'}"
    if url.startswith("postgresql"):
        url, drop = _pg_database(url)
    elif Path(url.removeprefix("sqlite:///")).exists():
        parser.error(f"{url} exists: the load test prepares a new database")
    try:
        result = run_load(url, root, seconds=args.seconds, staff=args.staff,
                          workers=args.workers, think=args.think,
                          cheap_hashing=args.cheap_hashing)  # fmt: skip
    finally:
        if not args.keep:
            drop()
    print(table(result))
    for line in result.failures[:20]:
        print("  failure:", line)
    report = json.dumps(result.as_dict(), indent=2)
    print(report)
    if args.json:
        args.json.write_text(report + "\n")
    if args.keep:
        print(f"kept: {url} and {root}")
    else:
        shutil.rmtree(root, ignore_errors=True)
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())

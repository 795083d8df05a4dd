"""Figures for the foundation: password hashing cost, sign-in latency and audit appends.

    .venv/bin/python bench/auth_and_audit.py [--database-url URL] [--events N] [--threads T]

Prints figures; asserts nothing (performance goals are read here, never in timed tests).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from casemgr import create_app  # noqa: E402
from casemgr.audit import services as audit_services  # noqa: E402
from casemgr.audit.hooks import record  # noqa: E402
from casemgr.auth.passwords import hash_password, verify_password  # noqa: E402
from casemgr.extensions import db  # noqa: E402


def timed(fn, repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"{label:<42} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="casemgr-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app(
        {"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": tmp, "AUDIT_HMAC_KEY": "bench"}
    )
    with app.app_context():
        upgrade()
        print(f"database: {db.engine.dialect.name}")
        stored = hash_password("a benchmark passphrase of decent length")
        report("argon2id hash (production parameters)", timed(lambda: hash_password("x" * 20), 10))
        report("argon2id verify", timed(lambda: verify_password(stored, "x" * 20), 10))
        bench_appends(app, args.events, args.threads)
        t0 = time.perf_counter()
        result = audit_services.verify(db.session)
        print(f"audit verify: {result} in {(time.perf_counter() - t0) * 1000:.0f} ms")


def bench_appends(app, events: int, threads: int) -> None:
    per_thread = events // threads

    def worker():
        with app.app_context():
            for i in range(per_thread):
                record(db.session, "bench.event", detail={"i": i})
                db.session.commit()
            db.session.remove()

    t0 = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - t0
    total = per_thread * threads
    print(
        f"audit appends: {total} committed events from {threads} threads in {elapsed:.2f} s "
        f"({total / elapsed:.0f} events/s, one transaction each)"
    )


if __name__ == "__main__":
    main()

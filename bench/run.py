"""The benchmark harness: `make bench`, or

    .venv/bin/python bench/run.py            # BENCH_DB=sqlite|postgresql|both (default both)

Environment: BENCH_CLIENTS (50000), BENCH_SECONDS (10 per scenario), BENCH_CONNECTIONS (16),
BENCH_WORKERS / BENCH_THREADS (gunicorn, 2 / 4), BENCH_REPORT_REPS (3), BENCH_BATCH (1 to
time a batch), BENCH_ONLY (comma-separated scenario keys), BENCH_INSTANCE (instance/bench),
BENCH_PG_URL (postgresql+psycopg://postgres@127.0.0.1:5432/casemgr_bench).

For each database: build or reuse the bench database, serve the floor app and casemgr under
the same gunicorn settings on loopback, run every scenario with wrk for a bounded time,
count SQL statements per page in-process, read the workers' memory, print a table and write
bench/results/<db>-<timestamp>.json. See bench/README.md.
"""

from __future__ import annotations

import json
import os
import platform
import signal
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import database, scenarios, wrk  # noqa: E402
from bench.harness.client import Browser  # noqa: E402
from bench.harness.report import print_table, summarize  # noqa: E402
from bench.harness.server import REPO, Server, Settings  # noqa: E402

RESULTS = REPO / "bench" / "results"


def env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def options() -> dict:
    return {
        "clients": env_int("BENCH_CLIENTS", 50000),
        "seconds": env_int("BENCH_SECONDS", 10),
        "connections": env_int("BENCH_CONNECTIONS", 16),
        "settings": Settings(env_int("BENCH_WORKERS", 2), env_int("BENCH_THREADS", 4)),
        "report_reps": env_int("BENCH_REPORT_REPS", 3),
        "batch": os.environ.get("BENCH_BATCH", "1") == "1",
        "only": {k for k in os.environ.get("BENCH_ONLY", "").split(",") if k},
        "instance": Path(os.environ.get("BENCH_INSTANCE", REPO / "instance" / "bench")),
        "drain": env_int("BENCH_DRAIN_SECONDS", 180),
    }


def machine(db: database.BenchDb) -> dict:
    def out(*cmd: str) -> str:
        try:
            return subprocess.run(  # noqa: S603
                cmd, capture_output=True, text=True, check=False
            ).stdout.strip()
        except OSError:
            return ""

    return {
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "database": database.server_version(db),
        "wrk": out("wrk", "--version").splitlines()[0] if wrk.available() else "",
        "git_commit": out("git", "-C", str(REPO), "rev-parse", "--short", "HEAD"),
        "git_dirty": bool(out("git", "-C", str(REPO), "status", "--porcelain", "--", "casemgr")),
        "load_before": os.getloadavg(),
    }


def run_load(base: str, scenario: scenarios.Scenario, opts: dict) -> dict:
    result = wrk.run(base, scenario.load, seconds=opts["seconds"], connections=opts["connections"])
    print(f"  {scenario.key:<14} {result['rps']:8.1f} req/s  p50 {result['p50_ms']:7.1f} ms  "
          f"p99 {result['p99_ms']:7.1f} ms  unexpected {result['unexpected_status']}", flush=True)  # fmt: skip
    return result


def bench_one(kind: str, opts: dict) -> dict:
    db = database.locate(kind, opts["instance"], opts["clients"])
    state = database.prepare(db, opts["clients"])
    targets = database.find_targets(db, state["prefix"])
    logs = RESULTS / "logs"
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    result = {
        "database": kind,
        "started": stamp,
        "clients": targets.clients,
        "generator": state["generator"],
        "gunicorn": vars(opts["settings"]),
        "seconds_per_scenario": opts["seconds"],
        "connections": opts["connections"],
        "machine": machine(db),
        "targets": {k: v for k, v in vars(targets).items() if not isinstance(v, list)},
        "scenarios": {},
    }
    wanted = lambda key: not opts["only"] or key in opts["only"]  # noqa: E731
    floor_env = {"CASEMGR_INSTANCE_PATH": str(db.instance)}
    with Server("bench.floor_app:create_app()", opts["settings"], floor_env,
                logs / f"floor-{kind}-{stamp}.log") as floor:  # fmt: skip
        print(f"[{kind}] floor on {floor.base}", flush=True)
        load = wrk.Load([wrk.Request("GET", "/")])
        result["scenarios"]["floor"] = {
            "label": "floor (bare Flask, 50 rows)",
            **run_load(floor.base, scenarios.Scenario("floor", "", "", load), opts),
        }  # noqa: E501
        result["floor_rss_mb"] = floor.worker_rss_mb()
    app_log = logs / f"app-{kind}-{stamp}.log"
    with Server("casemgr:create_app()", opts["settings"], db.env, app_log) as app:
        print(f"[{kind}] casemgr on {app.base} ({targets.clients} clients)", flush=True)
        browsers, sign_ins = {}, []
        for role in ("manager", "counselor", "nurse", "note_writer", "cows_writer"):
            browsers[role] = Browser(app.base)
            login = getattr(targets, role)
            sign_ins.append(browsers[role].sign_in(login, state["password"], state["totp_seed"]))
        result["scenarios"]["signin_full"] = {
            "label": "sign-in, both steps (single)",
            **scenarios._timings(sign_ins),
        }
        anonymous = Browser(app.base)
        selected = scenarios.pages(browsers, targets) + scenarios.writes(browsers, targets)
        selected += [scenarios.signin(anonymous, targets.signin, state["password"])]
        selected = [s for s in selected if wanted(s.key)]
        single = {s.key: scenarios.check(browsers.get(s.role, anonymous), s) for s in selected}
        counts = count_queries(db, selected)
        for s in selected:
            quiesce(app)
            before = unavailable(app_log)
            row = run_load(app.base, s, opts)
            drain = time.monotonic()
            quiesce(app, opts["drain"])  # requests wrk gave up on finish here; their 503s count too
            row["drain_s"] = round(time.monotonic() - drain, 1)
            row["log_db_unavailable"] = unavailable(app_log) - before
            row["single_ms"] = round(single[s.key] * 1000, 1)
            result["scenarios"][s.key] = {"label": s.label, "goal": s.goal, "write": s.write,
                                          "expected_status": s.load.expected,
                                          **row, **counts.get(s.key, {})}  # fmt: skip
        if wanted("report"):
            rep = scenarios.progress_report(
                browsers["manager"], targets.report_client, opts["report_reps"]
            )
            result["scenarios"]["report"] = {
                "label": f"full-year progress PDF ({targets.report_notes} notes)",
                **rep,
            }  # noqa: E501
            print(f"  report         {rep['runs_ms']} ms", flush=True)
        if opts["batch"] and wanted("batch"):
            timeout = env_int("BENCH_BATCH_TIMEOUT", 600)
            bat = scenarios.batch(browsers["manager"], db.url, targets.batch, timeout)
            label = f"batch, 200 of {bat['clients']} reports"
            result["scenarios"]["batch"] = {"label": label, **bat}
            print(f"  batch          {bat}", flush=True)
        result["worker_rss_mb"] = app.worker_rss_mb()
    result["app_log"] = str(app_log.relative_to(REPO))
    result["log_database_unavailable"] = unavailable(app_log)
    result["machine"]["load_after"] = os.getloadavg()
    summarize(result)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{kind}-{stamp}.json"
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    print_table(result)
    print(f"[{kind}] results: {out.relative_to(REPO)}", flush=True)
    return result


def unavailable(log: Path) -> int:
    """503s the app logged ("database unavailable": on SQLite, database is locked)."""
    try:
        return log.read_text(errors="replace").count("database unavailable")
    except OSError:
        return 0


def quiesce(server: Server, limit: float = 20.0) -> None:
    """Wait until the workers have worked off what the previous scenario left queued."""
    deadline = time.monotonic() + limit
    quick = 0
    while quick < 3 and time.monotonic() < deadline:
        start = time.monotonic()
        try:
            with urllib.request.urlopen(server.base + "/healthz", timeout=limit) as resp:  # noqa: S310
                resp.read()
        except OSError:
            pass
        quick = quick + 1 if time.monotonic() - start < 0.05 else 0
        time.sleep(0.2)


def count_queries(db: database.BenchDb, selected: list[scenarios.Scenario]) -> dict:
    payload = [
        {"name": s.key, "method": r.method, "path": r.path, "body": r.body, "cookie": s.load.cookie}
        for s in selected
        for r in s.load.requests[:1]
    ]
    proc = subprocess.run(
        [sys.executable, "-m", "bench.harness.queries"],
        input=json.dumps(payload),
        cwd=REPO,
        env={**os.environ, **db.env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    if proc.returncode != 0:
        print(f"query counting failed: {proc.stderr[-1500:]}", file=sys.stderr)
        return {}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> int:
    if not wrk.available():
        print("wrk is not installed: apt-get install -y wrk (Debian's package)", file=sys.stderr)
        return 2
    opts = options()
    kinds = os.environ.get("BENCH_DB", "both")
    kinds = ["sqlite", "postgresql"] if kinds == "both" else [kinds]
    # `timeout` and Ctrl-C end the run through the `with Server(...)` blocks: no server left.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    started, failed = time.monotonic(), []
    for kind in kinds:
        if kind == "postgresql" and (problem := database.postgres_problem(opts["clients"])):
            print(f"[postgresql] skipped: {problem}", file=sys.stderr)
            failed.append(kind)
            continue
        bench_one(kind, opts)
    print(f"done in {time.monotonic() - started:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

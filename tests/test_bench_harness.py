"""The benchmark harness (bench/) at tiny scale: the floor app and one casemgr page under
gunicorn, driven by wrk for a second each, with query counts and the printed table. Proves
the pieces fit; asserts nothing about speed."""

from __future__ import annotations

import os
import shutil

import pytest

pytestmark = pytest.mark.slow

if shutil.which("wrk") is None and not os.environ.get("CASEMGR_BENCH_REQUIRED"):
    pytest.skip("wrk is not installed (apt-get install -y wrk)", allow_module_level=True)


def test_floor_and_one_page_run_end_to_end(tmp_path, capsys):
    from bench.harness import database, report, scenarios, wrk
    from bench.harness.client import Browser
    from bench.harness.queries import count
    from bench.harness.server import Server, Settings

    db = database.locate("sqlite", tmp_path, 60)
    state = database.prepare(db, clients=60)
    targets = database.find_targets(db, state["prefix"])
    settings = Settings(workers=1, threads=2)
    result = {"database": "sqlite", "scenarios": {}, "connections": 2,
              "seconds_per_scenario": 1, "clients": targets.clients, "gunicorn": vars(settings),
              "machine": {"database": "SQLite", "cores": os.cpu_count(),
                          "load_before": os.getloadavg(), "load_after": os.getloadavg()}}  # fmt: skip

    with Server("bench.floor_app:create_app()", settings, {}, tmp_path / "floor.log") as floor:
        row = wrk.run(floor.base, wrk.Load([wrk.Request("GET", "/")]), seconds=1, connections=2)
    assert row["requests"] > 0 and row["unexpected_status"] == 0
    result["scenarios"]["floor"] = {"label": "floor", **row}

    with Server("casemgr:create_app()", settings, db.env, tmp_path / "app.log") as app:
        manager = Browser(app.base)
        manager.sign_in(targets.manager, state["password"], state["totp_seed"])
        census = scenarios.pages({"manager": manager, "counselor": manager, "nurse": manager},
                                 targets)[0]  # fmt: skip
        scenarios.check(manager, census)
        row = wrk.run(app.base, census.load, seconds=1, connections=2)
        request = census.load.requests[0]
        counts = count(
            [{"name": "census", "method": request.method, "path": request.path,
              "body": request.body, "cookie": census.load.cookie}],
            {"INSTANCE_PATH": str(db.instance), "SQLALCHEMY_DATABASE_URI": db.url},
        )  # fmt: skip
        result["worker_rss_mb"] = app.worker_rss_mb()
    assert row["requests"] > 0 and row["unexpected_status"] == 0, row
    assert counts["census"]["queries"] > 0
    result["scenarios"]["census"] = {"label": census.label, "goal": True, **row, **counts["census"]}

    report.summarize(result)
    report.print_table(result)
    assert f"site manager home (census, {targets.census})" in capsys.readouterr().out
    # The board and the census are a site's: its nurse and manager, not network-wide ones.
    assert targets.nurse_site == targets.manager_site == "B001"
    assert targets.manager == "bench-manager-0002"  # 0001 is the network-wide manager
    assert 0 < len(targets.detox_episodes) and targets.census >= len(targets.detox_episodes)
    # The write rows add to another counselor's caseload and another nurse's episodes.
    assert targets.note_writer != targets.counselor and targets.cows_writer != targets.nurse
    assert not set(targets.note_episodes) & set(_open_episodes_of(db, targets.counselor))


def _open_episodes_of(db, login: str) -> list[int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db.url)
    try:
        with engine.connect() as conn:
            return list(
                conn.execute(
                    sa.text(
                        "SELECT e.id FROM episodes e JOIN users u ON u.id = "
                        "e.primary_counselor_id WHERE u.login = :login"
                    ),
                    {"login": login},
                ).scalars()
            )
    finally:
        engine.dispose()

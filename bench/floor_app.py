"""The floor: a bare Flask route rendering a 50-row Jinja table, served under the same
gunicorn settings as casemgr. Every page's throughput is reported as a share of this one.

    gunicorn -w 2 --threads 4 -b 127.0.0.1:8101 "bench.floor_app:create_app()"
"""

from __future__ import annotations

from pathlib import Path

from flask import Flask, render_template

ROWS = [
    {
        "mrn": f"C{100000 + i:06d}",
        "name": f"Client {i:02d}, Bench",
        "phase": ("detox", "rehab", "aftercare")[i % 3],
        "admitted": f"2026-{1 + i % 12:02d}-{1 + i % 28:02d}",
        "counselor": f"Counselor {i % 7}",
    }
    for i in range(50)
]


def create_app() -> Flask:
    app = Flask(__name__, template_folder=str(Path(__file__).parent / "floor_templates"))

    @app.get("/")
    def table():
        return render_template("table.html", rows=ROWS)

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app

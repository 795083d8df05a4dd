"""SQL statements per page, counted in-process: the Flask test client replays one request of
each scenario with the session cookie the harness got over HTTP, and a SQLAlchemy
before_cursor_execute listener counts what the request sends.

Run as `python -m bench.harness.queries` with the bench database's environment; reads
[{"name", "method", "path", "body", "cookie"}] as JSON on stdin, prints {"name": count}.
"""

from __future__ import annotations

import json
import sys
import urllib.parse


def count(requests: list[dict], overrides: dict | None = None) -> dict[str, dict]:
    import sqlalchemy as sa

    from casemgr import create_app
    from casemgr.extensions import db

    app = create_app(overrides)
    with app.app_context():
        engine = db.engine
    # No app context is held across requests: each request gets its own `g` (Flask-Login
    # caches the signed-in user there), as it would under gunicorn.
    statements: list[str] = []

    def listener(conn, cursor, statement, parameters, context, executemany):
        statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", listener)
    results = {}
    for r in requests:
        client = app.test_client()
        if r.get("cookie"):
            client.set_cookie("casemgr_session", r["cookie"])
        body = dict(urllib.parse.parse_qsl(r.get("body") or "", keep_blank_values=True))
        statements.clear()
        resp = client.open(r["path"], method=r["method"], data=body or None)
        results[r["name"]] = {
            "queries": len(statements),
            "query_status": resp.status_code,
            "selects": sum(s.lstrip().upper().startswith("SELECT") for s in statements),
        }
    sa.event.remove(engine, "before_cursor_execute", listener)
    with app.app_context():
        db.engine.dispose()
    return results


if __name__ == "__main__":
    print(json.dumps(count(json.load(sys.stdin))))

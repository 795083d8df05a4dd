"""/healthz for the load balancer: the database and Redis, each up, down or not configured;
200 only when everything configured is up; a dead backend answers 503 within a bounded
time; public and cheap (no session row, no cookie, no audit event, no client data)."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.auth.models import UserSession
from casemgr.extensions import db
from tests.conftest import make_app
from tests.redis_helpers import require_redis

DEAD_DATABASE = "postgresql+psycopg://nobody@127.0.0.1:1/none"  # nothing listens on port 1
DEAD_REDIS = "redis://127.0.0.1:1/0"


def rows(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_without_redis_configured_the_database_alone_decides(client):
    resp = client.get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "db": "up", "redis": "not configured"}


def test_with_redis_up_both_are_reported(app_factory):
    app = app_factory(REDIS_URL=require_redis())
    with app.app_context():
        resp = app.test_client().get("/healthz")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok", "db": "up", "redis": "up"}


def test_redis_down_gives_503(app_factory):
    app = app_factory(REDIS_URL=DEAD_REDIS)
    with app.app_context():
        resp = app.test_client().get("/healthz")
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "unavailable", "db": "up", "redis": "down"}


def test_a_redis_that_never_answers_fails_the_check_within_about_a_second(app_factory):
    """A host that accepts the connection and then says nothing (a hung Redis, a firewall
    black hole): the socket timeout bounds the check."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        app = app_factory(REDIS_URL=f"redis://127.0.0.1:{silent.getsockname()[1]}/0")
        with app.app_context():
            started = time.monotonic()
            resp = app.test_client().get("/healthz")
            elapsed = time.monotonic() - started
    assert resp.status_code == 503 and resp.get_json()["redis"] == "down"
    assert elapsed < 3, elapsed


def test_database_down_gives_503_quickly(tmp_path):
    app = make_app(DEAD_DATABASE, tmp_path)
    started = time.monotonic()
    with app.app_context():
        resp = app.test_client().get("/healthz")
        db.session.remove()
    assert time.monotonic() - started < 10
    assert resp.status_code == 503
    assert resp.get_json() == {"status": "unavailable", "db": "down", "redis": "not configured"}


def test_postgresql_connections_get_a_connect_timeout(tmp_path):
    options = make_app(DEAD_DATABASE, tmp_path).config["SQLALCHEMY_ENGINE_OPTIONS"]
    assert options["connect_args"] == {"connect_timeout": 5}
    assert options["pool_pre_ping"] is True
    own = make_app(DEAD_DATABASE + "?connect_timeout=2", tmp_path).config
    assert "connect_args" not in own["SQLALCHEMY_ENGINE_OPTIONS"]  # the URL's own wins


def test_a_health_check_creates_no_session_cookie_or_audit_event(app, client):
    before = rows(UserSession), rows(AuditEvent)
    for _ in range(3):
        resp = client.get("/healthz")
        assert resp.status_code == 200
        assert "Set-Cookie" not in resp.headers
    db.session.rollback()
    assert (rows(UserSession), rows(AuditEvent)) == before
    assert resp.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_only_get_is_answered(client, method):
    assert getattr(client, method)("/healthz").status_code == 405


def test_checks_from_many_threads_at_once(app_factory):
    """A load balancer probing every app server every few seconds, from several places."""
    app = app_factory(REDIS_URL=require_redis())
    codes: list[int] = []

    def probe():
        with app.app_context():
            codes.append(app.test_client().get("/healthz").status_code)
            db.session.remove()

    threads = [threading.Thread(target=probe) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert codes == [200] * 8

"""Throttling of failed sign-ins and codes, per account and per address, on the database and
on Redis (security matrix R-01, A-05)."""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.auth import throttle, totp
from casemgr.auth.models import Throttle
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.orm import utcnow
from tests.factories import PASSWORD, TOTP_SEED, Factories

T0 = datetime(2026, 11, 25, 14, 0, 10, tzinfo=UTC)
# CI sets CASEMGR_TEST_REDIS_REQUIRED=1 so a missing Redis fails instead of skipping.
REDIS_URL = os.environ.get("CASEMGR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
WRONG = "this is not the password at all"


def redis_reachable() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


@pytest.fixture(params=["database", "redis"])
def app(request, app_factory):
    """Every test here runs on both stores; each app gets its own Redis key prefix."""
    overrides = {}
    if request.param == "redis":
        if not redis_reachable():
            if os.environ.get("CASEMGR_TEST_REDIS_REQUIRED"):
                pytest.fail(f"no Redis at {REDIS_URL}")
            pytest.skip(f"no Redis at {REDIS_URL}")
        overrides["REDIS_URL"] = REDIS_URL
    app = app_factory(**overrides)
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def client(app):
    client = app.test_client()
    client.answer_second_factor = False
    return client


def login(client, name, password=WRONG, addr="192.0.2.10"):
    return client.post(
        "/login",
        data={"login": name, "password": password},
        environ_base={"REMOTE_ADDR": addr},
    )


def send_code(client, code, addr="192.0.2.10"):
    return client.post("/login/code", data={"code": code}, environ_base={"REMOTE_ADDR": addr})


def actions(name: str) -> list[dict]:
    rows = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == name))
    return [json.loads(r.detail) for r in rows]


def test_r01_failures_for_one_login_are_throttled_and_the_block_expires(client):
    with time_machine.travel(T0, tick=False):
        for _ in range(10):
            assert login(client, "nobody-here").status_code == 200
        resp = login(client, "nobody-here")
        assert resp.status_code == 429 and "Too many failed attempts" in resp.text
        assert resp.headers["Retry-After"] == "300"
    with time_machine.travel(T0 + timedelta(minutes=5, seconds=1), tick=False):
        assert login(client, "nobody-here").status_code == 200  # blocked no more...
        assert login(client, "nobody-here").status_code == 429  # ...and straight back, longer
    with time_machine.travel(T0 + timedelta(minutes=14), tick=False):
        assert login(client, "nobody-here").status_code == 429
    with time_machine.travel(T0 + timedelta(minutes=15, seconds=2), tick=False):
        assert login(client, "nobody-here").status_code == 200
    assert [d["stage"] for d in actions("auth.throttled")] == ["password"] * 3


def test_r01_a_throttled_login_is_refused_even_with_the_right_password(app, client, app_factory):
    # A higher account lockout threshold, so only the throttle is at work here.
    other = app_factory(LOGIN_MAX_FAILURES=100, REDIS_URL=app.config["REDIS_URL"])
    with other.app_context():
        nurse = Factories().user(Role.NURSE)
        db.session.commit()
        web = other.test_client()
        web.answer_second_factor = False
        with time_machine.travel(T0, tick=False):
            for _ in range(10):
                login(web, nurse.login)
            assert login(web, nurse.login, PASSWORD).status_code == 429
        with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
            assert login(web, nurse.login, PASSWORD).headers["Location"] == "/login/code"
        db.session.remove()


def test_r01_other_staff_at_the_same_address_still_sign_in(client, make):
    nurse, counselor = make.user(Role.NURSE), make.user(Role.COUNSELOR)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        for _ in range(20):
            login(client, nurse.login)
        assert login(client, nurse.login, PASSWORD).status_code == 429
        assert login(client, counselor.login, PASSWORD).headers["Location"] == "/login/code"


def test_r01_one_address_trying_many_logins_is_throttled(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        for n in range(30):
            assert login(client, f"guess{n}", addr="198.51.100.7").status_code == 200
        resp = login(client, nurse.login, PASSWORD, addr="198.51.100.7")
        assert resp.status_code == 429
        assert login(client, nurse.login, PASSWORD, addr="198.51.100.8").status_code == 302


def test_r01_changing_address_does_not_escape_the_login_limit(client):
    with time_machine.travel(T0, tick=False):
        for n in range(10):
            login(client, "nobody-here", addr=f"203.0.113.{n}")
        assert login(client, "nobody-here", addr="203.0.113.99").status_code == 429
        # A forged X-Forwarded-For is not believed (no proxy is trusted by default).
        resp = client.post(
            "/login",
            data={"login": "somebody-else", "password": WRONG},
            headers={"X-Forwarded-For": "10.9.9.9"},
            environ_base={"REMOTE_ADDR": "203.0.113.1"},
        )
        assert resp.status_code == 200
        assert db.session.scalar(
            sa.select(sa.func.count()).select_from(Throttle).where(Throttle.key == "addr:10.9.9.9")
        ) in (0, None)


def test_r01_a_good_sign_in_clears_the_login_count(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        for _ in range(3):  # 12 failures in all, over the limit of 10 were they not cleared
            for _ in range(4):
                login(client, nurse.login)
            assert login(client, nurse.login, PASSWORD).headers["Location"] == "/login/code"
            client.post("/logout")


def test_r01_throttled_attempts_skip_the_password_check(client, monkeypatch):
    from casemgr.auth import passwords

    with time_machine.travel(T0, tick=False):
        for _ in range(10):
            login(client, "nobody-here")
        monkeypatch.setattr(
            passwords, "burn_a_verify", lambda: pytest.fail("hashed while throttled")
        )
        assert login(client, "nobody-here").status_code == 429


def test_a05_wrong_codes_are_throttled_per_user(app, client, make):
    nurse, counselor = make.user(Role.NURSE), make.user(Role.COUNSELOR)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        good = totp.code_at(TOTP_SEED, totp.step_at(utcnow()))
        wrong = f"{(int(good) + 1) % 1_000_000:06d}"
        login(client, nurse.login, PASSWORD)
        for _ in range(5):
            assert send_code(client, wrong).status_code == 200
        resp = send_code(client, good)
        assert resp.status_code == 429 and "Too many failed attempts" in resp.text
        assert [d["reason"] for d in actions("auth.second_factor_failed")] == ["wrong_code"] * 5
        assert actions("auth.throttled") == [{"stage": "code"}]
        # Someone else at the same desk is not held up.
        other = app.test_client()
        other.answer_second_factor = False
        login(other, counselor.login, PASSWORD)
        assert send_code(other, good).headers["Location"] == "/"
    with time_machine.travel(T0 + timedelta(minutes=5, seconds=30), tick=False):
        later = totp.code_at(TOTP_SEED, totp.step_at(utcnow()))
        assert send_code(client, later).headers["Location"] == "/"


def test_blocks_grow_with_repeated_failures_but_are_capped(app):
    limit = [throttle.Limit("login:someone", 3)]
    blocks = []
    now = T0
    for _ in range(6):
        until = throttle.fail(db.session, limit, now)
        if until is not None:
            blocks.append(until - now)
            now = until  # the next try comes as soon as the block ends
        else:
            now += timedelta(seconds=1)
    assert blocks == [timedelta(minutes=m) for m in (5, 10, 15, 15)]
    assert throttle.blocked_until(db.session, limit, now - timedelta(seconds=1)) is not None
    assert throttle.blocked_until(db.session, limit, now + timedelta(minutes=16)) is None


def test_failures_outside_the_window_start_over(app):
    limit = [throttle.Limit("login:someone", 3)]
    for minutes in (0, 10, 20, 30):
        assert throttle.fail(db.session, limit, T0 + timedelta(minutes=minutes)) is None


def test_concurrent_failures_are_all_counted(app):
    """Like several gunicorn workers: each thread has its own database session."""
    errors = []

    def worker():
        try:
            with app.app_context():
                for _ in range(5):
                    throttle.fail(db.session, [throttle.Limit("login:shared", 1000)], T0)
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # reported below; a thread cannot fail the test itself
            errors.append(exc)

    db.session.commit()
    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    limit = [throttle.Limit("login:shared", 31)]
    assert throttle.fail(db.session, limit, T0) is not None  # the 31st failure blocks


def test_the_database_store_keeps_its_table_small(app_factory):
    app = app_factory()
    with app.app_context():
        throttle.fail(db.session, [throttle.Limit("addr:old", 30)], T0)
        throttle.fail(db.session, [throttle.Limit("addr:new", 30)], T0 + timedelta(hours=1))
        assert set(db.session.scalars(sa.select(Throttle.key))) == {"addr:new"}
        db.session.remove()


def test_unreachable_redis_falls_back_to_the_database(app_factory, caplog):
    app = app_factory(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    with app.app_context():
        client = app.test_client()
        with time_machine.travel(T0, tick=False):
            for _ in range(10):
                login(client, "nobody-here")
            assert login(client, "nobody-here").status_code == 429
        assert "Redis unavailable" in caplog.text
        assert db.session.scalar(
            sa.select(Throttle.failures).where(Throttle.key == "login:nobody-here")
        )
        db.session.remove()


def test_defaults_are_never_a_permanent_lock(app):
    cfg = app.config
    assert cfg["THROTTLE_BLOCK_MAX_MINUTES"] <= 15 and cfg["THROTTLE_BLOCK_MINUTES"] >= 1
    assert cfg["THROTTLE_LOGIN_FAILURES"] <= 10 and cfg["THROTTLE_CODE_FAILURES"] <= 5
    assert cfg["MFA_REQUIRED"] is True

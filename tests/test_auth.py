"""Signing in and out, lockout, sessions and timeouts (security matrix A-, S-, I-07 rows)."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User, UserSession
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.conftest import code_for
from tests.factories import PASSWORD

T0 = datetime(2026, 11, 25, 14, 0, tzinfo=UTC)


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def post_login(client, login, password=PASSWORD, next_=None):
    """Both steps of signing in: the test client types the code (tests/conftest.py)."""
    url = "/login" + (f"?next={next_}" if next_ is not None else "")
    return client.post(url, data={"login": login, "password": password})


def test_anonymous_users_are_sent_to_sign_in(client):
    resp = client.get("/admin/staff")
    assert resp.status_code == 302
    assert resp.headers["Location"] == "/login?next=/admin/staff"


def test_login_page_is_public_and_has_no_remember_me(client):
    resp = client.get("/login")
    assert resp.status_code == 200
    assert "remember" not in resp.text.lower()
    assert 'autocomplete="current-password"' in resp.text


def test_sign_in_lands_on_role_home_and_is_audited(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    resp = post_login(client, nurse.login)
    assert resp.headers["Location"] == "/"
    assert client.get("/").headers["Location"] == "/home/nurse"
    page = client.get("/home/nurse")
    assert page.status_code == 200 and "Nurse home" in page.text
    assert "auth.login" in actions()
    db.session.refresh(nurse)
    assert nurse.last_login_at is not None


def test_login_names_are_case_insensitive(client, make):
    make.user(Role.COUNSELOR, login="jdoe")
    db.session.commit()
    assert post_login(client, "JDoe").status_code == 302


def test_wrong_password_and_unknown_login_look_the_same(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    wrong = post_login(client, user.login, "not the right password at all")
    unknown = post_login(client, "nobody-here", "not the right password at all")
    assert wrong.status_code == unknown.status_code == 200
    assert "Sign-in failed" in wrong.text
    strip = lambda html: html.split('name="csrf_token"')[0]  # noqa: E731
    assert strip(wrong.text).replace(user.login, "X") == strip(unknown.text).replace(
        "nobody-here", "X"
    )
    assert actions().count("auth.login_failed") == 2


def test_password_plus_a_character_or_changed_case_fails(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    assert post_login(client, user.login, PASSWORD + "x").status_code == 200
    assert post_login(client, user.login, PASSWORD.upper()).status_code == 200


def test_five_failures_lock_the_account_then_the_lock_expires(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        for _ in range(5):
            post_login(client, user.login, "wrong password, five times over")
        assert actions().count("auth.lockout") == 1
        # The right password does not get in while locked.
        assert post_login(client, user.login).status_code == 200
        db.session.refresh(user)
        assert user.locked_until == T0 + timedelta(minutes=15)
    with time_machine.travel(T0 + timedelta(minutes=14), tick=False):
        assert post_login(client, user.login).status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=16), tick=False):
        assert post_login(client, user.login).status_code == 302


def test_earlier_failures_are_reported_after_a_good_sign_in(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    post_login(client, user.login, "wrong password number one")
    post_login(client, user.login, "wrong password number two")
    post_login(client, user.login)
    page = client.get("/home/nurse")
    assert "There were 2 failed sign-in attempts" in page.text


@pytest.mark.parametrize(
    "vector",
    [
        "//evil.example",
        "https:evil.example",
        "/\\evil.example",
        "https://evil.example",
        "%2F%2Fevil.example",
        "https://host@evil.example",
        "java%09script:alert(1)",
    ],
)
def test_next_parameter_cannot_leave_the_site(client, make, vector):
    user = make.user(Role.NURSE)
    db.session.commit()
    resp = post_login(client, user.login, next_=vector)
    assert resp.headers["Location"] == "/"


def test_next_parameter_keeps_same_site_paths(client, make):
    user = make.user(Role.ADMIN)
    db.session.commit()
    assert (
        post_login(client, user.login, next_="/admin/staff").headers["Location"] == "/admin/staff"
    )


def test_s02_sign_out_ends_the_server_session_and_a_copied_cookie_is_refused(app, client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    post_login(client, user.login)
    stolen = client.get_cookie(app.config["SESSION_COOKIE_NAME"]).value
    assert client.post("/logout").status_code == 302
    thief = app.test_client()
    thief.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
    resp = thief.get("/home/nurse")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    assert "auth.logout" in actions()


def test_logout_is_post_only(client, auth):
    auth.login(Role.NURSE)
    assert client.get("/logout").status_code == 405


def test_idle_timeout_ends_the_session(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        post_login(client, user.login)
    with time_machine.travel(T0 + timedelta(minutes=14), tick=False):
        assert client.get("/home/nurse").status_code == 200
    with time_machine.travel(T0 + timedelta(minutes=14 + 16), tick=False):
        resp = client.get("/home/nurse")
        assert resp.status_code == 302
        assert "inactivity" in client.get("/login").text
    assert "auth.session_ended" in actions()


def test_idle_timeout_is_configurable(app_factory, make):
    app = app_factory(SESSION_IDLE_MINUTES=5)
    with app.app_context():
        user = make.user(Role.NURSE)
        db.session.commit()
        client = app.test_client()
        with time_machine.travel(T0, tick=False):
            post_login(client, user.login)
        with time_machine.travel(T0 + timedelta(minutes=6), tick=False):
            assert client.get("/home/nurse").status_code == 302
        db.session.remove()


def test_active_use_is_still_cut_at_the_absolute_lifetime(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        post_login(client, user.login)
    for minutes in range(10, 12 * 60, 10):
        with time_machine.travel(T0 + timedelta(minutes=minutes), tick=False):
            assert client.get("/home/nurse").status_code == 200
    with time_machine.travel(T0 + timedelta(hours=12, minutes=1), tick=False):
        assert client.get("/home/nurse").status_code == 302


def test_deactivated_user_is_signed_out_on_next_request(client, auth):
    nurse = auth.login(Role.NURSE)
    assert client.get("/home/nurse").status_code == 200
    db.session.execute(sa.update(User).where(User.id == nurse.id).values(active=False))
    db.session.commit()
    resp = client.get("/home/nurse")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == nurse.id))
    assert row.end_reason == "deactivated"


def test_deactivated_user_cannot_sign_in(client, make):
    user = make.user(Role.NURSE, active=False)
    db.session.commit()
    assert post_login(client, user.login).status_code == 200


def test_s04_session_is_renewed_at_sign_in(app, client, make):
    """Session fixation: nothing set before sign-in survives it (and the token changes again
    after the second factor: tests/test_mfa.py)."""
    user = make.user(Role.NURSE)
    db.session.commit()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by attacker"
    post_login(client, user.login)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        assert set(sess) <= {
            "_user_id",
            "_fresh",
            "_id",
            "sid",
            "_permanent",
            "_flashes",
            "csrf_token",
        }


def test_s01_cookie_flags(app_factory, make):
    app = app_factory(HTTPS=True)
    with app.app_context():
        user = make.user(Role.NURSE)
        db.session.commit()
        client = app.test_client()
        client.answer_second_factor = False
        https = "https://localhost"
        password_step = client.post(
            "/login", data={"login": user.login, "password": PASSWORD}, base_url=https
        )
        code_step = client.post("/login/code", data={"code": code_for(user.login)}, base_url=https)
        assert code_step.headers["Location"] == "/"
        for resp in (password_step, code_step):
            cookies = resp.headers.getlist("Set-Cookie")
            session_cookie = next(c for c in cookies if c.startswith("__Host-casemgr="))
            for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
                assert flag in session_cookie
            assert "Domain=" not in session_cookie
            assert not any("remember_token" in c for c in cookies)
        db.session.remove()


def test_plain_http_cookie_is_httponly_and_lax(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    resp = post_login(client, user.login)
    cookie = next(c for c in resp.headers.getlist("Set-Cookie") if c.startswith("casemgr_session="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_s06_change_password_ends_other_sessions(app, client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    other = app.test_client()
    with time_machine.travel(T0, tick=False):
        post_login(other, user.login)
        post_login(client, user.login)
        new = "a completely new passphrase for me"
        resp = client.post(
            "/account/password",
            data={"current_password": PASSWORD, "new_password": new, "confirm": new},
        )
        assert resp.status_code == 302
        assert client.get("/home/nurse").status_code == 200
        assert other.get("/home/nurse").status_code == 302
        client.post("/logout")
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):  # a new code
        assert post_login(client, user.login, new).headers["Location"] == "/"
    assert "auth.password_changed" in actions()


@pytest.mark.parametrize(
    ("current", "new", "confirm", "message"),
    [
        (
            "wrong current password!!",
            "a completely new passphrase",
            "a completely new passphrase",
            "not correct",
        ),
        (PASSWORD, "too short", "too short", "at least 15"),
        (PASSWORD, "a completely new passphrase", "something else entirely", "differ"),
        (PASSWORD, PASSWORD, PASSWORD, "different from the current"),
    ],
)
def test_change_password_errors_show_next_to_the_field(
    client, auth, current, new, confirm, message
):
    user = auth.login(Role.NURSE)
    before = user.password_hash
    resp = client.post(
        "/account/password",
        data={"current_password": current, "new_password": new, "confirm": confirm},
    )
    assert resp.status_code == 200 and message in resp.text
    db.session.refresh(user)
    assert user.password_hash == before


def test_password_containing_login_is_refused(client, auth):
    user = auth.login(Role.NURSE)
    new = f"my name is {user.login} and that is fine"
    resp = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert "Do not include" in resp.text


def test_must_change_password_blocks_other_pages(client, make):
    user = make.user(Role.NURSE, must_change_password=True)
    db.session.commit()
    post_login(client, user.login)
    assert client.get("/home/nurse").headers["Location"] == "/account/password"
    new = "my own brand new passphrase"
    client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new},
    )
    assert client.get("/home/nurse").status_code == 200


def test_outdated_hash_parameters_are_upgraded_on_sign_in(app, client, make):
    from argon2 import PasswordHasher

    from casemgr.domain.passwords import normalize

    user = make.user(Role.NURSE)
    user.password_hash = PasswordHasher(time_cost=1, memory_cost=16, parallelism=2).hash(
        normalize(PASSWORD)
    )
    db.session.commit()
    post_login(client, user.login)
    db.session.refresh(user)
    assert "p=1" in user.password_hash


def test_oversized_password_is_refused_without_error(client, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    assert post_login(client, user.login, "x" * 5000).status_code == 200

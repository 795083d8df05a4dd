"""Two-factor sign-in: the code step, enrolment, recovery codes, session rotation, and what a
half-signed-in session can reach (security matrix A-04, A-05, S-02, S-04, S-06)."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from werkzeug.routing import AnyConverter

from casemgr.audit.models import AuditEvent
from casemgr.auth import sessions, totp, two_factor
from casemgr.auth.models import RecoveryCode, User, UserSession
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.orm import utcnow
from tests.factories import PASSWORD, TOTP_SEED
from tests.policy_table import EXPECTED

T0 = datetime(2026, 11, 25, 14, 0, 10, tzinfo=UTC)  # 10 s into a 30-second step


@pytest.fixture
def client(app):
    """A plain client: these tests type (or withhold) the code themselves."""
    client = app.test_client()
    client.answer_second_factor = False
    return client


def events(action: str) -> list[AuditEvent]:
    return list(
        db.session.scalars(
            sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def details(action: str) -> list[dict]:
    return [json.loads(e.detail) for e in events(action)]


def password_step(client, user, password=PASSWORD, next_=None):
    url = "/login" + (f"?next={next_}" if next_ else "")
    resp = client.post(url, data={"login": user.login, "password": password})
    assert resp.status_code == 302 and resp.headers["Location"] == "/login/code", resp.text
    return resp


def code(offset: int = 0, seed: str = TOTP_SEED) -> str:
    return totp.code_at(seed, totp.step_at(utcnow()) + offset)


def send_code(client, value: str):
    return client.post("/login/code", data={"code": value})


def cookie(app, client) -> str:
    found = client.get_cookie(app.config["SESSION_COOKIE_NAME"])
    return found.value if found else ""


def sample_url(app, rule) -> str:
    values = {}
    for name, converter in rule._converters.items():
        values[name] = sorted(converter.items)[0] if isinstance(converter, AnyConverter) else 1
    with app.test_request_context():
        return app.url_for(rule.endpoint, **values)


# --- the half-signed-in session (A-04) ------------------------------------------------------


def test_a04_a_password_alone_reaches_only_the_code_page(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    checked = 0
    for rule in app.url_map.iter_rules():
        if rule.endpoint in ("static", "auth.second_factor"):
            continue
        url = sample_url(app, rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if rule.endpoint == "auth.logout":
                continue  # cancels the sign-in: test_cancelling_ends_the_waiting_session
            resp = client.open(url, method=method, data={})
            assert resp.status_code == 302, (method, url, resp.status_code)
            assert resp.headers["Location"] == "/login/code", (method, url)
            checked += 1
    assert checked >= len(EXPECTED) - 2
    assert client.get("/login/code").status_code == 200
    assert client.get("/static/css/app.css").status_code == 200
    assert not events("auth.login") and not events("authz.denied")


def test_a04_the_waiting_session_carries_no_identity(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    with client.session_transaction() as sess:
        assert "_user_id" not in sess and "sid" not in sess
        pending_token = sess["pending_sid"]
    # Forging a signed-in cookie around the waiting token does not sign anyone in.
    forger = app.test_client()
    with forger.session_transaction() as sess:
        sess["_user_id"], sess["sid"] = str(nurse.id), pending_token
    resp = forger.get("/home/nurse")
    assert resp.status_code == 302 and resp.headers["Location"].startswith("/login")


def test_a04_the_code_page_without_a_waiting_session_sends_you_on(client, auth):
    assert client.get("/login/code").headers["Location"] == "/login"
    auth.login(Role.NURSE)
    assert client.get("/login/code").headers["Location"] == "/"


def test_cancelling_ends_the_waiting_session(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    resp = client.post("/logout")
    assert resp.headers["Location"] == "/login"
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == nurse.id))
    assert row.ended_at is not None and row.end_reason == "signed_out"
    assert client.get("/login/code").headers["Location"] == "/login"


def test_the_waiting_session_expires(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        password_step(client, nurse)
    with time_machine.travel(T0 + timedelta(minutes=11), tick=False):
        resp = send_code(client, code())
        assert resp.headers["Location"] == "/login"
        assert "not completed in time" in client.get("/login").text
    assert details("auth.session_ended")[0]["reason"] == "expired"


# --- codes (A-05) -----------------------------------------------------------------------------


def test_a05_a_good_code_signs_in_and_is_audited(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    assert [e.action for e in events("auth.password_ok")] == ["auth.password_ok"]
    assert not events("auth.login")
    resp = send_code(client, code())
    assert resp.headers["Location"] == "/"
    assert client.get("/home/nurse").status_code == 200
    assert details("auth.second_factor_ok")[0] == {"method": "totp"}
    assert len(events("auth.login")) == 1
    db.session.refresh(nurse)
    assert nurse.last_login_at is not None


def test_a05_a_wrong_code_is_refused_and_audited(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    wrong = f"{(int(code()) + 1) % 1_000_000:06d}"
    resp = send_code(client, wrong)
    assert resp.status_code == 200 and "That code is not right" in resp.text
    assert client.get("/home/nurse").headers["Location"] == "/login/code"
    assert [d["reason"] for d in details("auth.second_factor_failed")] == ["wrong_code"]
    assert events("auth.second_factor_failed")[0].actor_id == nurse.id
    assert send_code(client, "not a code at all").status_code == 200


def test_a05_a_code_is_accepted_once(app, make):
    """Within the same 30 seconds, and after the next step was used, a code is refused."""
    nurse = make.user(Role.NURSE)
    db.session.commit()
    first, second = app.test_client(), app.test_client()
    first.answer_second_factor = second.answer_second_factor = False
    with time_machine.travel(T0, tick=False):
        password_step(first, nurse)
        password_step(second, nurse)
        used = code()
        assert send_code(first, used).headers["Location"] == "/"
        resp = send_code(second, used)
        assert resp.status_code == 200 and "That code is not right" in resp.text
        assert details("auth.second_factor_failed")[0]["reason"] == "replayed"
        # The next step's code is accepted early (clock drift), then the current one is stale.
        assert send_code(second, code(+1)).headers["Location"] == "/"
    third = app.test_client()
    third.answer_second_factor = False
    with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
        password_step(third, nurse)
        assert send_code(third, code()).status_code == 200  # that step was used above


def test_a05_the_previous_step_is_accepted_for_clock_drift(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        password_step(client, nurse)
        assert send_code(client, code(-1)).headers["Location"] == "/"


def test_a05_codes_two_steps_away_are_refused(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        password_step(client, nurse)
        assert send_code(client, code(-2)).status_code == 200
        assert send_code(client, code(+2)).status_code == 200


def test_a05_the_seed_is_not_stored_in_plain_text(make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    stored = db.session.scalar(sa.select(User.totp_secret).where(User.id == nurse.id))
    assert TOTP_SEED not in stored and not re.fullmatch(r"[A-Z2-7]+=*", stored)
    assert totp.unseal(stored) == TOTP_SEED
    assert totp.seal(TOTP_SEED) != stored  # a fresh nonce each time


def test_a05_a_seed_sealed_with_another_key_does_not_open(app, client, make, caplog):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    app.config["TOTP_KEY"] = "a different key, as on a wrongly restored instance"
    with pytest.raises(totp.SeedUnreadable):
        totp.unseal(nurse.totp_secret)
    password_step(client, nurse)
    assert send_code(client, code()).status_code == 200
    assert details("auth.second_factor_failed")[0]["reason"] == "seed_unreadable"
    assert "does not open with this TOTP key" in caplog.text


# --- recovery codes -------------------------------------------------------------------------


def recovery_codes_for(user) -> list[str]:
    codes = two_factor.new_recovery_codes(db.session, user, now=utcnow())
    db.session.commit()
    return codes


def test_recovery_codes_are_stored_hashed_and_work_once(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    codes = recovery_codes_for(nurse)
    assert len(codes) == 10 and len(set(codes)) == 10
    stored = db.session.scalars(sa.select(RecoveryCode.code_hash)).all()
    assert not any(c.replace("-", "") in h for c in codes for h in stored)

    password_step(client, nurse)
    resp = send_code(client, codes[3].upper().replace("-", " "))  # typed loosely
    assert resp.headers["Location"] == "/"
    assert "9 left" in client.get("/home/nurse").text
    assert details("auth.second_factor_ok")[0] == {"method": "recovery_code"}
    client.post("/logout")

    password_step(client, nurse)
    resp = send_code(client, codes[3])
    assert resp.status_code == 200 and "That code is not right" in resp.text
    assert details("auth.second_factor_failed")[-1]["reason"] == "wrong_recovery_code"


def test_recovery_codes_of_another_user_do_not_work(client, make):
    nurse, other = make.user(Role.NURSE), make.user(Role.NURSE)
    db.session.commit()
    codes = recovery_codes_for(other)
    password_step(client, nurse)
    assert send_code(client, codes[0]).status_code == 200


# --- session rotation (S-04) and replay (S-02) -------------------------------------------


def test_s04_the_session_token_changes_at_sign_in_and_after_the_code(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with client.session_transaction() as sess:
        sess["planted"] = "by an attacker"
    before = cookie(app, client)
    password_step(client, nurse)
    waiting = cookie(app, client)
    with client.session_transaction() as sess:
        assert "planted" not in sess
        waiting_token = sess["pending_sid"]
    send_code(client, code())
    signed_in = cookie(app, client)
    with client.session_transaction() as sess:
        assert sess["sid"] != waiting_token
        assert set(sess) <= {"_user_id", "_fresh", "_id", "sid", "_permanent", "_flashes"}
    assert len({before, waiting, signed_in}) == 3
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == nurse.id))
    db.session.refresh(row)
    assert not row.awaiting_second_factor
    assert row.token_hash == sessions._digest(sess["sid"])

    # The waiting cookie, replayed, is dead: it neither reaches the code page nor signs in.
    replay = app.test_client()
    replay.answer_second_factor = False
    replay.set_cookie(app.config["SESSION_COOKIE_NAME"], waiting)
    assert replay.get("/login/code").headers["Location"] == "/login"
    assert send_code(replay, code(+1)).headers["Location"] == "/login"
    assert client.get("/home/nurse").status_code == 200


@pytest.mark.parametrize("how", ["sign_out", "idle_timeout", "deactivation", "password_change"])
def test_s02_a_copied_cookie_dies_with_its_session(app, client, make, how):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    with time_machine.travel(T0, tick=False):
        password_step(client, nurse)
        send_code(client, code())
        stolen = cookie(app, client)
        if how == "sign_out":
            client.post("/logout")
        elif how == "deactivation":
            nurse.active = False
            db.session.commit()
        elif how == "password_change":
            # From another sign-in of the same person: their other sessions end.
            own = app.test_client()
            own.answer_second_factor = False
            password_step(own, nurse)
            send_code(own, code(+1))
            new = "a brand new passphrase for the nurse"
            own.post(
                "/account/password",
                data={"current_password": PASSWORD, "new_password": new, "confirm": new},
            )
    later = T0 + timedelta(minutes=20 if how == "idle_timeout" else 1)
    with time_machine.travel(later, tick=False):
        thief = app.test_client()
        thief.set_cookie(app.config["SESSION_COOKIE_NAME"], stolen)
        resp = thief.get("/home/nurse")
        assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), how


# --- enrolment at first sign-in -----------------------------------------------------------


def setup_key(html: str) -> str:
    return re.search(r'id="totp-key" value="([^"]+)"', html).group(1).replace(" ", "")


def test_new_staff_set_up_the_app_right_after_their_password(app, client, make):
    nurse = make.user(Role.NURSE, enrolled=False)
    db.session.commit()
    password_step(client, nurse, next_="/home/nurse")
    page = client.get("/login/code")
    assert page.status_code == 200 and "Set up two-factor sign-in" in page.text
    seed = setup_key(page.text)
    assert totp.seed_problem(seed) is None
    assert client.get("/login/code").text.count(seed[:8]) >= 1  # the same key on reload
    assert client.get("/home/nurse").headers["Location"] == "/login/code"

    resp = send_code(client, "000000" if code(seed=seed) != "000000" else "111111")
    assert "That code is not right" in resp.text
    resp = send_code(client, code(seed=seed))
    assert resp.status_code == 200 and "Your recovery codes" in resp.text
    shown = re.findall(r"<code>([0-9a-z-]{19})</code>", resp.text)
    assert len(shown) == 10
    assert 'href="/home/nurse"' in resp.text  # next= survived the code step
    assert client.get("/home/nurse").status_code == 200

    db.session.refresh(nurse)
    assert two_factor.enabled(nurse) and totp.unseal(nurse.totp_secret) == seed
    assert two_factor.recovery_codes_left(db.session, nurse) == 10
    assert [e.action for e in events("auth.two_factor_enrolled")] == ["auth.two_factor_enrolled"]
    assert details("auth.second_factor_ok")[0] == {"method": "enrolment"}
    with client.session_transaction() as sess:
        assert "totp_candidate" not in sess and "pending_sid" not in sess


def test_enrolment_qr_code_is_inline_svg_with_no_external_url(client, make):
    nurse = make.user(Role.NURSE, enrolled=False)
    db.session.commit()
    password_step(client, nurse)
    page = client.get("/login/code").text
    svg = re.search(r"<svg.*?</svg>", page, re.S).group(0)
    assert 'role="img"' in svg and "aria-label=" in svg
    assert "http" not in svg and "href" not in svg and "style" not in svg
    assert "<script" not in page.split("</head>")[1]
    assert "<img" not in page and "chart.googleapis" not in page
    seed = setup_key(page)
    assert f"secret={seed}" in page  # the otpauth link, for apps that take one
    assert "otpauth://totp/" in page


def test_qr_code_encodes_the_text():
    """The SVG is drawn from reportlab's encoder: a 4-module quiet zone and the finder
    pattern in the top-left corner, as dark runs of 7, 1+1, 1+3+1 modules."""
    svg = str(totp.qr_svg("otpauth://totp/X:y?secret=" + TOTP_SEED + "&issuer=X", label="QR"))
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    path = re.search(r' d="([^"]+)"', svg).group(1)
    assert path.startswith("M4 4h7v1h-7z")
    assert "M4 5h1v1h-1z" in path and "M6 6h3v1h-3z" in path


def test_unenrolled_staff_without_the_requirement_sign_in_with_a_password(app_factory, make):
    app = app_factory(MFA_REQUIRED=False)
    with app.app_context():
        new, enrolled = make.user(Role.NURSE, enrolled=False), make.user(Role.NURSE)
        db.session.commit()
        client = app.test_client()
        client.answer_second_factor = False
        resp = client.post("/login", data={"login": new.login, "password": PASSWORD})
        assert resp.headers["Location"] == "/"
        client.post("/logout")
        # Whoever set up an app uses it, required or not.
        password_step(client, enrolled)
        db.session.remove()


# --- the account page -------------------------------------------------------------------


def setup_form(client, html, password=PASSWORD, value=None):
    seed = setup_key(html)
    return client.post(
        "/account/two-factor",
        data={
            "action": "setup",
            "setup-code": value or code(seed=seed),
            "setup-password": password,
        },
    ), seed


def test_s06_moving_to_a_new_app_needs_the_password_and_ends_other_sessions(app, client, auth):
    nurse = auth.login(Role.NURSE)
    other = app.test_client()  # answers the code page itself (tests/conftest.py)
    other.post("/login", data={"login": nurse.login, "password": PASSWORD})
    assert other.get("/home/nurse").status_code == 200
    page = client.get("/account/two-factor").text
    assert "Move to a new phone or app" in page and "<svg" in page

    resp, _ = setup_form(client, page, password="not my password at all!")
    assert resp.status_code == 200 and "The current password is not correct" in resp.text
    resp, _ = setup_form(client, page, value="123456" if code() != "123456" else "654321")
    assert "That code is not right" in resp.text
    assert other.get("/home/nurse").status_code == 200

    resp, seed = setup_form(client, page)
    assert resp.status_code == 200 and "Your recovery codes" in resp.text
    assert other.get("/home/nurse").status_code == 302
    assert client.get("/home/nurse").status_code == 200
    db.session.refresh(nurse)
    assert totp.unseal(nurse.totp_secret) == seed != TOTP_SEED
    assert events("auth.two_factor_reset")
    assert details("auth.sessions_ended")[0]["other_sessions_ended"] == 1


def test_new_recovery_codes_need_the_password_and_replace_the_old(client, auth):
    nurse = auth.login(Role.NURSE)
    old = recovery_codes_for(nurse)
    resp = client.post(
        "/account/two-factor", data={"action": "codes", "codes-password": "wrong password here"}
    )
    assert "The current password is not correct" in resp.text
    resp = client.post("/account/two-factor", data={"action": "codes", "codes-password": PASSWORD})
    new = re.findall(r"<code>([0-9a-z-]{19})</code>", resp.text)
    assert len(new) == 10 and not set(new) & set(old)
    digests = set(db.session.scalars(sa.select(RecoveryCode.code_hash)))
    assert totp.recovery_digest(old[0]) not in digests
    assert totp.recovery_digest(new[0]) in digests


def test_two_factor_cannot_be_turned_off_where_required(client, auth):
    nurse = auth.login(Role.NURSE)
    assert "Turn off" not in client.get("/account/two-factor").text
    resp = client.post("/account/two-factor", data={"action": "off", "off-password": PASSWORD})
    assert "cannot be turned off" in resp.text
    db.session.refresh(nurse)
    assert two_factor.enabled(nurse)


def test_turning_off_where_optional_needs_the_password_and_ends_other_sessions(app_factory, make):
    app = app_factory(MFA_REQUIRED=False)
    with app.app_context():
        nurse = make.user(Role.NURSE)
        db.session.commit()
        mine, other = app.test_client(), app.test_client()
        with time_machine.travel(T0, tick=False):
            mine.post("/login", data={"login": nurse.login, "password": PASSWORD})
        with time_machine.travel(T0 + timedelta(seconds=30), tick=False):
            other.post("/login", data={"login": nurse.login, "password": PASSWORD})
            assert other.get("/home/nurse").status_code == 200
            assert "Turn off" in mine.get("/account/two-factor").text
            resp = mine.post(
                "/account/two-factor", data={"action": "off", "off-password": PASSWORD}
            )
            assert resp.headers["Location"] == "/account/two-factor"
            assert other.get("/home/nurse").status_code == 302
            assert mine.get("/home/nurse").status_code == 200
        db.session.refresh(nurse)
        assert not two_factor.enabled(nurse) and nurse.totp_secret is None
        db.session.remove()


def test_the_account_page_offers_set_up_to_someone_without_an_app(app_factory, make):
    app = app_factory(MFA_REQUIRED=False)
    with app.app_context():
        nurse = make.user(Role.NURSE, enrolled=False)
        db.session.commit()
        client = app.test_client()
        client.post("/login", data={"login": nurse.login, "password": PASSWORD})
        page = client.get("/account/two-factor").text
        assert "Not set up" in page and "Turn on two-factor sign-in" in page
        resp, seed = setup_form(client, page)
        assert "Your recovery codes" in resp.text
        db.session.refresh(nurse)
        assert totp.unseal(nurse.totp_secret) == seed
        db.session.remove()


# --- administrators ---------------------------------------------------------------------


def test_s06_admin_end_sessions_ends_waiting_sessions_too(app, client, auth, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    waiting = app.test_client()
    waiting.answer_second_factor = False
    password_step(waiting, nurse)
    auth.login(Role.ADMIN)
    client.post(f"/admin/staff/{nurse.id}/end-sessions")
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == nurse.id))
    assert row.end_reason == "ended_by_admin"
    assert waiting.get("/login/code").headers["Location"] == "/login"
    assert send_code(waiting, code()).headers["Location"] == "/login"


def test_deactivation_stops_a_waiting_sign_in(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    password_step(client, nurse)
    nurse.active = False
    db.session.commit()
    assert send_code(client, code()).headers["Location"] == "/login"
    assert "deactivated" in client.get("/login").text
    assert not events("auth.login")


def test_admin_clearing_a_lost_authenticator_makes_them_set_up_again(app, client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    recovery_codes_for(nurse)
    signed_in = app.test_client()
    signed_in.post("/login", data={"login": nurse.login, "password": PASSWORD})
    assert signed_in.get("/home/nurse").status_code == 200
    ended = two_factor.reset_by_admin(db.session, nurse, now=utcnow())
    db.session.commit()
    assert ended == 1 and signed_in.get("/home/nurse").status_code == 302
    assert two_factor.recovery_codes_left(db.session, nurse) == 0
    password_step(client, nurse)
    assert "Set up two-factor sign-in" in client.get("/login/code").text
    assert events("auth.two_factor_cleared")


# --- details ------------------------------------------------------------------------------


def test_earlier_failures_are_reported_after_the_code(client, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    client.post("/login", data={"login": nurse.login, "password": "wrong password number one"})
    password_step(client, nurse)
    send_code(client, code())
    assert "There were 1 failed sign-in attempts" in client.get("/home/nurse").text


def test_must_change_password_comes_after_the_code(client, make):
    nurse = make.user(Role.NURSE, must_change_password=True)
    db.session.commit()
    password_step(client, nurse)
    assert client.get("/account/password").headers["Location"] == "/login/code"
    send_code(client, code())
    assert client.get("/home/nurse").headers["Location"] == "/account/password"


@pytest.mark.parametrize(
    ("typed", "ok"),
    [
        ("abcd-efgh-jkmn-pqrs", True),
        ("ABCD EFGH JKMN PQRS", True),
        ("abcdefghjkmnpqrs", True),
        ("abcd-efgh-jkmn-pqr", False),
        ("abcd-efgh-jkmn-pqr!", False),
        ("123456", False),
    ],
)
def test_recovery_code_digests_forgive_typing(typed, ok):
    expected = totp.recovery_digest("abcd-efgh-jkmn-pqrs")
    assert (totp.recovery_digest(typed) == expected) is ok


def test_look_alike_letters_in_recovery_codes_are_forgiven():
    assert totp.recovery_digest("i0l1-0000-0000-0000") == totp.recovery_digest("1011000000000000")


@pytest.mark.parametrize(
    ("seed", "problem"),
    [
        (TOTP_SEED, None),
        ("JBSWY3DPEHPK3PXPJBSWY3DPEH", None),  # 26 characters: 128 bits
        ("JBSWY3DPEHPK3PXP", "26 to 32"),  # 80 bits: too short
        ("JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXPJBSW", "26 to 32"),
        ("not base32 at all!!", "base32"),
    ],
)
def test_seed_checks(app, seed, problem):
    found = totp.seed_problem(seed)
    assert (found is None) if problem is None else (problem in found)

"""Staff administration: create, edit, deactivate, reset passwords, unlock, settings."""

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User, UserSession
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.conftest import version_on
from tests.factories import PASSWORD

NEW_PW = "temporary passphrase for the new person"


def new_staff(**overrides):
    data = {
        "login": "jsmith",
        "full_name": "Jane Smith",
        "credentials": "LADC",
        "email": "jane@example.org",
        "roles": ["counselor"],
        "password": NEW_PW,
        "confirm": NEW_PW,
    }
    return {**data, **overrides}


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def admin(auth):
    return auth.login(Role.ADMIN)


def test_staff_list_filters_by_status_role_and_name(client, admin, make):
    make.user(Role.NURSE, full_name="Nina Nurse")
    make.user(Role.COUNSELOR, full_name="Carl Counselor", active=False)
    db.session.commit()
    page = client.get("/admin/staff")
    assert "Nina Nurse" in page.text and "Carl Counselor" not in page.text
    assert "Carl Counselor" in client.get("/admin/staff?status=inactive").text
    assert "Nina Nurse" not in client.get("/admin/staff?role=counselor&status=all").text
    assert "Nina Nurse" in client.get("/admin/staff?q=nina").text
    assert "Nina Nurse" not in client.get("/admin/staff?q=%25%25").text  # % is matched literally


def test_staff_list_refuses_unknown_filter_values(client, admin):
    assert client.get("/admin/staff?role=wizard").status_code == 400


def test_admin_creates_an_account_with_a_temporary_password(client, admin):
    resp = client.post("/admin/staff/new", data=new_staff())
    assert resp.status_code == 302
    user = db.session.scalar(sa.select(User).where(User.login == "jsmith"))
    assert user.roles == {Role.COUNSELOR} and user.must_change_password
    assert user.password_hash.startswith("$argon2id$")
    created = events("users.created")[-1]
    assert "password_hash" in created.detail and NEW_PW not in created.detail
    assert user.password_hash not in created.detail  # hashes never reach the trail


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"login": "Bad Login!"}, "login", "lowercase letters"),
        ({"login": ""}, "login", "required"),
        ({"full_name": ""}, "full_name", "required"),
        ({"full_name": "x" * 121}, "full_name", "120"),
        ({"full_name": "Evil\u202eName"}, "full_name", "invisible"),
        ({"full_name": "nul\x00name"}, "full_name", "control"),
        ({"email": "not-an-email"}, "email", "email address"),
        ({"roles": []}, "roles", "at least one role"),
        ({"roles": ["wizard"]}, "roles", "not a valid choice"),
        ({"password": "short", "confirm": "short"}, "password", "at least 15"),
        ({"confirm": "something different entirely"}, "confirm", "differ"),
        (
            {"password": "jsmith is my password ok", "confirm": "jsmith is my password ok"},
            "password",
            "Do not include",
        ),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_changes_nothing(
    client, admin, overrides, field, message
):
    before = db.session.scalar(sa.select(sa.func.count(User.id)))
    resp = client.post("/admin/staff/new", data=new_staff(**overrides))
    assert resp.status_code == 200
    assert f'id="{field}-error"' in resp.text and message in resp.text
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == before


def test_duplicate_login_is_refused_even_for_deactivated_accounts(client, admin, make):
    make.user(Role.NURSE, login="jsmith", active=False)
    db.session.commit()
    resp = client.post("/admin/staff/new", data=new_staff(login="JSmith"))
    assert "taken" in resp.text


def test_edit_changes_details_and_roles_and_audits_them(client, admin, make):
    user = make.user(Role.NURSE)
    db.session.commit()
    page = client.get(f"/admin/staff/{user.id}/edit").text
    resp = client.post(
        f"/admin/staff/{user.id}/edit",
        data={
            "full_name": "Renamed Person",
            "credentials": "RN",
            "email": "",
            "roles": ["nurse", "supervisor"],
            "version": version_on(page),
        },
    )
    assert resp.status_code == 302
    db.session.refresh(user)
    assert user.full_name == "Renamed Person" and user.roles == {Role.NURSE, Role.SUPERVISOR}
    assert any('"role":"supervisor"' in e.detail for e in events("user_roles.created"))
    assert events("users.updated")


def test_edit_form_ignores_fields_it_does_not_have(client, admin, make):
    """Mass assignment (row Z-04): extra posted fields change nothing."""
    user = make.user(Role.NURSE)
    db.session.commit()
    page = client.get(f"/admin/staff/{user.id}/edit").text
    client.post(
        f"/admin/staff/{user.id}/edit",
        data={
            "version": version_on(page),
            "full_name": "Same",
            "roles": ["nurse"],
            "login": "hijacked",
            "active": "0",
            "password_hash": "x",
            "must_change_password": "1",
            "failed_attempts": "99",
        },
    )
    db.session.refresh(user)
    assert user.login != "hijacked" and user.active and user.password_hash != "x"
    assert not user.must_change_password and user.failed_attempts == 0


def test_deactivation_ends_sessions_and_keeps_the_account(app, client, admin, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    nurse_client = app.test_client()
    nurse_client.post("/login", data={"login": nurse.login, "password": PASSWORD})
    assert nurse_client.get("/home/nurse").status_code == 200
    assert client.post(f"/admin/staff/{nurse.id}/deactivate").status_code == 302
    assert nurse_client.get("/home/nurse").status_code == 302
    db.session.refresh(nurse)
    assert not nurse.active and db.session.get(User, nurse.id) is not None
    assert events("staff.deactivated")
    client.post(f"/admin/staff/{nurse.id}/reactivate")
    db.session.refresh(nurse)
    assert nurse.active


def test_admin_cannot_deactivate_themselves_or_the_last_admin(client, admin):
    resp = client.post(f"/admin/staff/{admin.id}/deactivate", follow_redirects=True)
    assert "cannot deactivate your own account" in resp.text
    db.session.refresh(admin)
    assert admin.active


def test_the_last_admin_role_cannot_be_removed(client, admin, make):
    other = make.user(Role.ADMIN)
    db.session.commit()
    client.post(f"/admin/staff/{admin.id}/deactivate")  # refused: self
    other.active = False
    db.session.commit()
    page = client.get(f"/admin/staff/{admin.id}/edit").text
    resp = client.post(
        f"/admin/staff/{admin.id}/edit",
        data={"full_name": "Me", "roles": ["counselor"], "version": version_on(page)},
    )
    assert resp.status_code == 200 and "your own account" in resp.text
    db.session.refresh(admin)
    assert Role.ADMIN in admin.roles


def test_reset_password_sets_a_temporary_one_and_ends_sessions(app, client, admin, make):
    nurse = make.user(Role.NURSE, locked_until=datetime.now(UTC) + timedelta(minutes=10))
    db.session.commit()
    resp = client.post(
        f"/admin/staff/{nurse.id}/password", data={"password": NEW_PW, "confirm": NEW_PW}
    )
    assert resp.status_code == 302
    db.session.refresh(nurse)
    assert nurse.must_change_password and nurse.locked_until is None
    nurse_client = app.test_client()
    nurse_client.post("/login", data={"login": nurse.login, "password": NEW_PW})
    assert nurse_client.get("/home/nurse").headers["Location"] == "/account/password"
    assert events("auth.password_reset")


def test_unlock_clears_a_lockout(client, admin, make):
    nurse = make.user(
        Role.NURSE, locked_until=datetime.now(UTC) + timedelta(minutes=10), failed_attempts=3
    )
    db.session.commit()
    assert "Locked until" in client.get(f"/admin/staff/{nurse.id}").text
    client.post(f"/admin/staff/{nurse.id}/unlock")
    db.session.refresh(nurse)
    assert nurse.locked_until is None and nurse.failed_attempts == 0
    assert events("auth.unlocked")


def test_admin_can_end_someone_elses_sessions(app, client, admin, make):
    nurse = make.user(Role.NURSE)
    db.session.commit()
    nurse_client = app.test_client()
    nurse_client.post("/login", data={"login": nurse.login, "password": PASSWORD})
    assert "Open sessions" in client.get(f"/admin/staff/{nurse.id}").text
    client.post(f"/admin/staff/{nurse.id}/end-sessions")
    assert nurse_client.get("/home/nurse").status_code == 302
    assert (
        db.session.scalar(sa.select(UserSession.end_reason).where(UserSession.user_id == nurse.id))
        == "ended_by_admin"
    )


def test_unknown_staff_is_404(client, admin):
    assert client.get("/admin/staff/99999").status_code == 404
    assert client.post("/admin/staff/99999/deactivate").status_code == 404


def test_settings_change_the_facility_name_everywhere(client, admin):
    resp = client.post("/admin/settings", data={"facility_name": "Harbor Light Recovery"})
    assert resp.status_code == 302
    assert "Harbor Light Recovery" in client.get("/home/admin").text
    assert any("Harbor Light Recovery" in e.detail for e in events("settings.created"))


def test_settings_refuse_an_empty_name(client, admin):
    resp = client.post("/admin/settings", data={"facility_name": ""})
    assert resp.status_code == 200 and "required" in resp.text


def test_facility_name_is_refused_inside_new_passwords(client, admin):
    client.post("/admin/settings", data={"facility_name": "Harbor Light"})
    pw = "welcome to harbor light everyone"
    resp = client.post("/admin/staff/new", data=new_staff(password=pw, confirm=pw))
    assert "Do not include" in resp.text


def test_admin_home_lists_locked_accounts(client, admin, make):
    make.user(
        Role.NURSE, full_name="Locked Larry", locked_until=datetime.now(UTC) + timedelta(minutes=5)
    )
    db.session.commit()
    page = client.get("/home/admin")
    assert "Locked Larry" in page.text and "Accounts needing attention" in page.text

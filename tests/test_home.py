"""Each role's home page, and query counts that do not grow with the data."""

from datetime import UTC, datetime, timedelta

import pytest

from casemgr.domain.roles import Role
from casemgr.extensions import db

HEADINGS = {
    Role.ADMIN: "Administrator home",
    Role.CLINIC_MANAGER: "Clinic manager home",
    Role.COUNSELOR: "Counselor home",
    Role.NURSE: "Nurse home",
    Role.PHYSICIAN: "Physician home",
    Role.SUPERVISOR: "Clinical supervisor home",
}


def test_each_role_lands_on_its_own_home_page(client, auth, role):
    auth.login(role)
    resp = client.get("/", follow_redirects=True)
    assert resp.status_code == 200
    assert f"<h1>{HEADINGS[role]}</h1>" in resp.text
    assert "Your account" in resp.text and "Signed in now" in resp.text


def test_navigation_shows_only_what_the_role_may_use(client, auth):
    auth.login(Role.NURSE)
    page = client.get("/home/nurse").text
    assert 'href="/admin/staff"' not in page and 'href="/audit/"' not in page
    assert 'href="/account/password"' in page


def test_admin_navigation(client, auth):
    auth.login(Role.ADMIN)
    page = client.get("/home/admin").text
    for link in ('href="/admin/staff"', 'href="/admin/settings"', 'href="/audit/"'):
        assert link in page


def test_manager_sees_the_roster_and_who_is_signed_in(app, client, auth, make):
    nurse = make.user(Role.NURSE, full_name="Nora Nightshift")
    auth.login(Role.CLINIC_MANAGER)
    app.test_client().post(
        "/login", data={"login": nurse.login, "password": "a long and memorable test passphrase"}
    )
    page = client.get("/home/clinic_manager").text
    assert (
        "Staff roster" in page and page.count("Nora Nightshift") == 2
    )  # roster and signed-in list


@pytest.mark.parametrize("role", [Role.ADMIN, Role.CLINIC_MANAGER])
def test_home_page_query_count_does_not_grow_with_staff(client, auth, make, count_queries, role):
    auth.login(role)
    for _ in range(2):
        make.user(Role.NURSE, locked_until=datetime.now(UTC) + timedelta(minutes=5))
    db.session.commit()
    client.get(f"/home/{role.value}")
    with count_queries() as few:
        client.get(f"/home/{role.value}")
    for _ in range(25):
        make.user(Role.NURSE, Role.COUNSELOR, locked_until=datetime.now(UTC) + timedelta(minutes=5))
    db.session.commit()
    client.get(f"/home/{role.value}")
    with count_queries() as many:
        client.get(f"/home/{role.value}")
    assert many.count == few.count


def test_staff_list_query_count_does_not_grow(client, auth, make, count_queries):
    auth.login(Role.ADMIN)
    client.get("/admin/staff")
    with count_queries() as few:
        client.get("/admin/staff")
    for _ in range(25):
        make.user(Role.NURSE, Role.SUPERVISOR)
    db.session.commit()
    client.get("/admin/staff")
    with count_queries() as many:
        client.get("/admin/staff")
    assert many.count == few.count

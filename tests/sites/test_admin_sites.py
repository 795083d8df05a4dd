"""Site administration: the admin's list, new, edit, deactivate and reactivate screens, and
the Site of a staff member's account."""

import re
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.sites.models import Site
from tests.clients_helpers import admitted
from tests.conftest import version_on

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
NEW_PW = "temporary passphrase for the new person"


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def admin(auth):
    return auth.login(Role.ADMIN)


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def site_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(Site.id)))


def open_episodes_at(make, site, n: int, **overrides) -> list:
    """`n` clients with an open episode at `site`."""
    manager = make.user(Role.CLINIC_MANAGER)
    made = []
    for i in range(n):
        _, episode = admitted(manager, legal_last_name=f"Client{i}", **overrides)
        episode.site_id = site.id
        made.append(episode)
    db.session.flush()
    return made


def discharged(episode) -> None:
    episode.phase, episode.discharged_on = Phase.DISCHARGED, NOW.date()
    db.session.flush()


def row_of(html: str, code: str) -> str:
    match = re.search(rf"<tr>\s*<td><code>{code}</code></td>.*?</tr>", html, re.S)
    assert match, f"no row for {code}"
    return match.group(0)


def numbers(row: str) -> list[int]:
    return [int(n) for n in re.findall(r'<td class="num">(\d+)</td>', row)]


# The list


def test_the_list_shows_each_site_with_its_staff_and_open_episodes(client, admin, make):
    north, south = make.site("Northside", "NORTH"), make.site("Southside", "SOUTH", active=False)
    make.user(Role.NURSE, site=north)
    make.user(Role.COUNSELOR, site=north)
    make.user(Role.NURSE, site=north, active=False)  # deactivated accounts are not counted
    make.user(Role.NURSE, site=south)
    first, _ = open_episodes_at(make, north, 2)
    discharged(first)
    db.session.commit()
    page = client.get("/admin/sites")
    assert page.status_code == 200
    assert numbers(row_of(page.text, "NORTH")) == [2, 1]
    assert numbers(row_of(page.text, "SOUTH")) == [1, 0]
    assert "Deactivated" in row_of(page.text, "SOUTH")
    assert page.text.index("NORTH") < page.text.index("SOUTH")  # open sites first


def test_an_install_without_sites_says_so(client, admin):
    page = client.get("/admin/sites")
    assert page.status_code == 200 and "No sites yet" in page.text


def test_the_list_is_a_constant_number_of_queries(client, admin, make, count_queries):
    site = make.site()
    make.user(Role.NURSE, site=site)
    db.session.commit()
    client.get("/admin/sites")
    with count_queries() as few:
        assert client.get("/admin/sites").status_code == 200
    for _ in range(6):
        more = make.site()
        make.user(Role.NURSE, site=more)
        open_episodes_at(make, more, 1)
    make.site(active=False)
    db.session.commit()
    client.get("/admin/sites")  # the commit expired the signed-in user: load it again
    with count_queries() as many:
        page = client.get("/admin/sites")
    assert page.text.count("<tr>") == 1 + 8
    assert many.count == few.count


def test_admins_see_a_sites_link_in_the_menu(client, admin):
    page = client.get("/admin/sites").text
    assert re.search(r'href="/admin/sites"\s+aria-current="page">Sites</a>', page)
    assert re.search(r'href="/admin/sites"\s*>Sites</a>', client.get("/admin/staff").text)


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.ADMIN], ids=str)
def test_other_roles_are_refused(client, auth, make, role):
    site = make.site()
    auth.login(role)
    for method, url in [
        ("GET", "/admin/sites"),
        ("GET", "/admin/sites/new"),
        ("POST", "/admin/sites/new"),
        ("GET", f"/admin/sites/{site.id}/edit"),
        ("POST", f"/admin/sites/{site.id}/edit"),
        ("POST", f"/admin/sites/{site.id}/deactivate"),
        ("POST", f"/admin/sites/{site.id}/reactivate"),
    ]:
        resp = client.open(url, method=method, data={"code": "X1", "name": "Hijack"})
        assert resp.status_code == 403, (method, url)
    db.session.refresh(site)
    assert site.active and site.name != "Hijack"
    assert "Sites</a>" not in client.get("/").text


# Adding and editing


def test_admin_adds_a_site_with_its_code_in_capitals(client, admin):
    resp = client.post(
        "/admin/sites/new", data={"code": " north-1 ", "name": " Northside\u00a0Detox "}
    )
    assert resp.status_code == 302
    site = db.session.scalar(sa.select(Site))
    assert (site.code, site.name, site.active) == ("NORTH-1", "Northside\u00a0Detox", True)
    created = events("sites.created")
    assert len(created) == 1 and '"code":"NORTH-1"' in created[0].detail
    assert created[0].actor_id == admin.id
    assert "Northside\u00a0Detox" in client.get("/admin/sites").text


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": ""}, "code", "required"),
        ({"code": "N"}, "code", "2–16 letters, digits or hyphens"),
        ({"code": "NORTH SIDE"}, "code", "2–16 letters, digits or hyphens"),
        ({"code": "NORTH_1"}, "code", "2–16 letters, digits or hyphens"),
        ({"code": "NÖRTH"}, "code", "2–16 letters, digits or hyphens"),
        ({"code": "A" * 17}, "code", "16"),
        ({"code": "NO\u200bRTH"}, "code", "invisible"),
        ({"name": ""}, "name", "required"),
        ({"name": "   "}, "name", "required"),
        ({"name": "X"}, "name", "2 to 120"),
        ({"name": "x" * 121}, "name", "120"),
        ({"name": "Evil\u202eName"}, "name", "invisible"),
        ({"name": "nul\x00name"}, "name", "control"),
        ({"name": "Line\u2028break"}, "name", "invisible or control"),
        ({"name": "Private\ue000use"}, "name", "invisible or control"),
    ],
)
def test_bad_input_is_refused_next_to_the_field_and_changes_nothing(
    client, admin, data, field, message
):
    resp = client.post("/admin/sites/new", data={"code": "NORTH", "name": "Northside", **data})
    assert resp.status_code == 200
    error = re.search(rf'<p class="error" id="{field}-error">([^<]*)</p>', resp.text)
    assert error and message in error.group(1), resp.text
    assert site_count() == 0 and not events("sites.created")


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"code": "north"}, "code", "Another site already has this code."),
        ({"name": "NORTHSIDE"}, "name", "Another site already has this name."),
        ({"name": "northside"}, "name", "Another site already has this name."),
    ],
)
def test_codes_and_names_are_unique(client, admin, make, data, field, message):
    make.site("Northside", "NORTH", active=False)  # a closed site keeps its code and name
    db.session.commit()
    resp = client.post("/admin/sites/new", data={"code": "SOUTH", "name": "Southside", **data})
    assert f'id="{field}-error">{message}' in resp.text
    assert site_count() == 1


def test_admin_renames_and_recodes_a_site(client, admin, make):
    site = make.site("Northside", "NORTH")
    db.session.commit()
    page = client.get(f"/admin/sites/{site.id}/edit").text
    assert 'value="Northside"' in page and 'value="NORTH"' in page
    resp = client.post(
        f"/admin/sites/{site.id}/edit",
        data={"code": "nw", "name": "Northwest", "version": version_on(page)},
    )
    assert resp.status_code == 302
    db.session.refresh(site)
    assert (site.code, site.name) == ("NW", "Northwest")
    updated = events("sites.updated")
    assert len(updated) == 1 and '"name":"Northwest"' in updated[0].detail


def test_an_edit_may_keep_its_own_code_and_name_but_not_take_anothers(client, admin, make):
    site, other = make.site("Northside", "NORTH"), make.site("Southside", "SOUTH")
    db.session.commit()
    page = client.get(f"/admin/sites/{site.id}/edit").text
    taken = client.post(
        f"/admin/sites/{site.id}/edit",
        data={"code": "south", "name": "Northside", "version": version_on(page)},
    )
    assert 'id="code-error">Another site already has this code.' in taken.text
    db.session.refresh(site)
    assert site.code == "NORTH" and not events("sites.updated")
    same = client.post(
        f"/admin/sites/{site.id}/edit",
        data={"code": "NORTH", "name": "NORTHSIDE", "version": version_on(page)},
    )
    assert same.status_code == 302
    db.session.refresh(site)
    assert site.name == "NORTHSIDE" and other.name == "Southside"


def test_an_edit_from_a_stale_page_is_refused(client, admin, make):
    site = make.site("Northside", "NORTH")
    db.session.commit()
    page = client.get(f"/admin/sites/{site.id}/edit").text
    site.name = "Changed Meanwhile"
    db.session.commit()
    resp = client.post(
        f"/admin/sites/{site.id}/edit",
        data={"code": "NORTH", "name": "Mine", "version": version_on(page)},
    )
    assert resp.status_code == 200 and "nothing was saved" in resp.text
    db.session.refresh(site)
    assert site.name == "Changed Meanwhile"


def test_unknown_site_is_404(client, admin):
    assert client.get("/admin/sites/999/edit").status_code == 404
    assert client.post("/admin/sites/999/deactivate").status_code == 404


# Deactivating and reactivating


def test_deactivation_is_refused_while_episodes_are_open(client, admin, make):
    site = make.site("Northside", "NORTH")
    open_episodes_at(make, site, 2)
    db.session.commit()
    page = client.get(f"/admin/sites/{site.id}/edit").text
    assert "cannot be deactivated while it has open episodes (2)" in page
    resp = client.post(f"/admin/sites/{site.id}/deactivate", follow_redirects=True)
    assert "Northside still has 2 open episodes." in resp.text
    db.session.refresh(site)
    assert site.active and not events("site.deactivated") and not events("sites.updated")


def test_deactivation_keeps_its_staff_there_and_reactivation_reopens(client, admin, make):
    site = make.site("Northside", "NORTH")
    nurse = make.user(Role.NURSE, site=site)
    (episode,) = open_episodes_at(make, site, 1)
    discharged(episode)
    db.session.commit()
    page = client.get(f"/admin/sites/{site.id}/edit").text
    assert "keep it as their site" in page and "Deactivate site" in page
    resp = client.post(f"/admin/sites/{site.id}/deactivate", follow_redirects=True)
    assert "Northside deactivated." in resp.text
    db.session.refresh(site)
    db.session.refresh(nurse)
    assert not site.active and nurse.site_id == site.id
    assert len(events("site.deactivated")) == 1
    assert any('"active":false' in e.detail for e in events("sites.updated"))
    assert "Reactivate site" in client.get(f"/admin/sites/{site.id}/edit").text

    resp = client.post(f"/admin/sites/{site.id}/reactivate", follow_redirects=True)
    assert "Northside reactivated." in resp.text
    db.session.refresh(site)
    assert site.active and len(events("site.reactivated")) == 1


# A staff member's site


def staff_form(**overrides) -> dict:
    data = {
        "login": "jsmith",
        "full_name": "Jane Smith",
        "roles": ["nurse"],
        "password": NEW_PW,
        "confirm": NEW_PW,
        "site_id": "",
    }
    return {**data, **overrides}


def new_user() -> User | None:
    return db.session.scalar(sa.select(User).where(User.login == "jsmith"))


def test_without_sites_the_staff_screens_show_no_site(client, admin, make):
    assert 'name="site_id"' not in client.get("/admin/staff/new").text
    assert ">Site</th>" not in client.get("/admin/staff").text
    assert "<dt>Site</dt>" not in client.get(f"/admin/staff/{admin.id}").text
    form = staff_form()
    del form["site_id"]
    assert client.post("/admin/staff/new", data=form).status_code == 302
    assert new_user().site_id is None


def test_a_new_account_is_placed_at_an_open_site(client, admin, make):
    north, closed = make.site("Northside", "NORTH"), make.site("Eastside", "EAST", active=False)
    db.session.commit()
    page = client.get("/admin/staff/new").text
    assert '<option selected value="">Whole network (no site)</option>' in page
    assert f'value="{north.id}">Northside</option>' in page
    assert "Eastside" not in page and f'value="{closed.id}"' not in page
    resp = client.post("/admin/staff/new", data=staff_form(site_id=str(north.id)))
    assert resp.status_code == 302
    user = new_user()
    assert user.site_id == north.id
    created = events("users.created")[-1]
    assert f'"site_id":{north.id}' in created.detail
    shown = client.get(f"/admin/staff/{user.id}").text
    assert re.search(r"<dt>Site</dt><dd><bdi>Northside</bdi></dd>", shown)
    listed = client.get("/admin/staff").text
    assert ">Site</th>" in listed and "<bdi>Northside</bdi>" in listed
    assert "Whole network" in listed  # the administrator works network-wide


@pytest.mark.parametrize("choice", ["closed", "999", "abc", "1.5"])
def test_a_site_that_is_not_offered_is_refused(client, admin, make, choice):
    make.site("Northside", "NORTH")
    closed = make.site("Eastside", "EAST", active=False)
    db.session.commit()
    value = str(closed.id) if choice == "closed" else choice
    resp = client.post("/admin/staff/new", data=staff_form(site_id=value))
    assert resp.status_code == 200
    assert 'id="site_id-error">Not a valid choice' in resp.text
    assert new_user() is None


def test_someone_at_a_closed_site_keeps_it_until_moved(client, admin, make):
    north = make.site("Northside", "NORTH")
    closed = make.site("Eastside", "EAST", active=False)
    nurse = make.user(Role.NURSE, site=closed, full_name="Nina Nurse")
    other = make.user(Role.NURSE)
    db.session.commit()
    shown = client.get(f"/admin/staff/{nurse.id}").text
    assert re.search(r"<bdi>Eastside</bdi> <span class=\"badge badge-muted\">closed</span>", shown)
    page = client.get(f"/admin/staff/{nurse.id}/edit").text
    assert f'<option selected value="{closed.id}">Eastside (closed)</option>' in page
    resp = client.post(
        f"/admin/staff/{nurse.id}/edit",
        data={
            "full_name": "Nina Renamed",
            "roles": ["nurse"],
            "site_id": str(closed.id),
            "version": version_on(page),
        },
    )
    assert resp.status_code == 302
    db.session.refresh(nurse)
    assert nurse.full_name == "Nina Renamed" and nurse.site_id == closed.id

    # Nobody else can be placed there.
    page = client.get(f"/admin/staff/{other.id}/edit").text
    assert "Eastside" not in page
    resp = client.post(
        f"/admin/staff/{other.id}/edit",
        data={"full_name": "Other", "roles": ["nurse"], "site_id": str(closed.id),
              "version": version_on(page)},
    )  # fmt: skip
    assert 'id="site_id-error"' in resp.text
    db.session.refresh(other)
    assert other.site_id is None

    # Moving the first one to an open site takes the closed one out of their choices.
    page = client.get(f"/admin/staff/{nurse.id}/edit").text
    resp = client.post(
        f"/admin/staff/{nurse.id}/edit",
        data={"full_name": "Nina Renamed", "roles": ["nurse"], "site_id": str(north.id),
              "version": version_on(page)},
    )  # fmt: skip
    assert resp.status_code == 302
    db.session.refresh(nurse)
    assert nurse.site_id == north.id
    assert any(f'"site_id":{north.id}' in e.detail for e in events("users.updated"))
    assert "Eastside" not in client.get(f"/admin/staff/{nurse.id}/edit").text


def test_the_staff_list_query_count_does_not_grow_with_sites(client, admin, make, count_queries):
    make.user(Role.NURSE, site=make.site())
    db.session.commit()
    client.get("/admin/staff")
    with count_queries() as few:
        client.get("/admin/staff")
    for _ in range(5):
        make.user(Role.NURSE, site=make.site())
    db.session.commit()
    client.get("/admin/staff")  # the commit expired the signed-in user: load it again
    with count_queries() as many:
        page = client.get("/admin/staff")
    assert page.text.count("<bdi>Site ") == 6
    assert many.count == few.count

"""Restricted clients: named staff never see the chart, whatever else allows it (deny wins;
security matrix Z-06, with Z-02 for the object types and Z-01 for the routes)."""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import url_for

from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.policy import Perm, scoped
from casemgr.privacy import restrictions
from casemgr.privacy.models import ClientRestriction, EmergencyAccess
from tests.clients_helpers import admitted
from tests.notes.helpers import sweep_note
from tests.plans.helpers import sweep_plan
from tests.policy_table import EXPECTED
from tests.screens.helpers import recorded

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(clock, make):
    """A client in detox on a counselor's caseload (so nurses see it too) and a second one."""
    manager, carer = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    s, episode = admitted(manager, carer, Phase.DETOX, legal_last_name="Sierra")
    t, _ = admitted(manager, carer, Phase.DETOX, legal_last_name="Tango")
    db.session.commit()
    return {"manager": manager, "carer": carer, "s": s, "episode": episode, "t": t}


def restrict(client_id: int, user: User, by: User, **fields) -> ClientRestriction:
    row = ClientRestriction(
        client_id=client_id, user_id=user.id, reason="Relative", by_id=by.id, **fields
    )
    db.session.add(row)
    db.session.commit()
    return row


def visible(user: User) -> set[int]:
    return set(db.session.scalars(scoped(sa.select(Client.id), Perm.CLIENT_VIEW, user)))


def chart_urls(app, client: Client, episode) -> list[str]:
    """One page of each kind of record in the chart."""
    note = sweep_note(episode)
    screen = recorded(episode, episode.primary_counselor)
    plan = sweep_plan(episode)
    pages = [
        ("clients.show", {"client_id": client.id}),
        ("clients.edit", {"client_id": client.id}),
        ("charts.client_timeline", {"client_id": client.id}),
        ("screens.history", {"client_id": client.id}),
        ("printing.progress", {"client_id": client.id}),
        ("detox.summary", {"episode_id": episode.id}),
        ("detox.cows", {"episode_id": episode.id}),
        ("mar.chart", {"episode_id": episode.id}),
        ("plans.show", {"episode_id": episode.id}),
        ("plans.version", {"plan_id": plan["plan_id"]}),
        ("notes.new", {"episode_id": episode.id}),
        ("notes.show", {"note_id": note.id}),
        ("screens.show", {"screen_id": screen.id}),
        ("aftercare.show", {"episode_id": episode.id}),
        ("episodes.change_phase", {"episode_id": episode.id}),
    ]
    with app.test_request_context():
        return [url_for(endpoint, **values) for endpoint, values in pages]


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE])
def test_z06_a_restricted_carer_gets_404_on_every_page_of_the_chart(client, auth, world, app, role):
    s, episode = world["s"], world["episode"]
    urls = chart_urls(app, s, episode)
    user = world["carer"] if role is Role.COUNSELOR else auth.make.user(Role.NURSE)
    auth.login(user)
    # The caseload (or detox) allows these; pages the role may not use at all stay 403.
    allowed = [url for url in urls if client.get(url).status_code == 200]
    assert len(allowed) >= 10, allowed

    restrict(s.id, user, world["manager"])
    for url in allowed:
        assert client.get(url).status_code == 404, url
    assert "Sierra" not in client.post("/clients/", data={"q": "sierra"}).text
    assert client.get(f"/clients/{world['t'].id}").status_code == 200  # only that client
    blocked = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "restriction.blocked")
    ).all()
    assert len(blocked) == len(allowed)
    assert {json.loads(e.detail)["severity"] for e in blocked} == {"high"}
    denied = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "authz.denied", AuditEvent.client_id == s.id
        )
    ).all()
    assert denied  # the scope's own refusal is audited as well


@pytest.mark.parametrize("role", [Role.CLINIC_MANAGER, Role.SUPERVISOR, Role.PHYSICIAN])
def test_z06_deny_wins_over_managers_supervisors_and_physicians(client, auth, world, role):
    user = auth.make.user(role)
    auth.login(user)
    assert client.get(f"/clients/{world['s'].id}").status_code == 200
    restrict(world["s"].id, user, world["manager"])
    assert client.get(f"/clients/{world['s'].id}").status_code == 404
    assert client.get(f"/detox/{world['episode'].id}").status_code == 404


def test_z06_deny_wins_over_an_open_emergency_access(world, make):
    nurse = make.user(Role.NURSE)
    world["episode"].phase = Phase.REHAB  # out of the nurse's detox scope
    db.session.add(
        EmergencyAccess(
            client_id=world["s"].id,
            user_id=nurse.id,
            receiving_personnel="Dr. Reyes",
            receiving_facility="St. Mary's",
            nature="Seizure during withdrawal, transported by EMS",
            confirmed_at=NOW,
            started_at=NOW,
            expires_at=NOW + timedelta(hours=1),
        )
    )
    db.session.flush()
    assert world["s"].id in visible(nurse)
    restrict(world["s"].id, nurse, world["manager"])
    assert world["s"].id not in visible(nurse)


# Every combination of what allows (nothing, caseload, role, emergency) with deny on or off.
@pytest.mark.parametrize("allow", ["none", "caseload", "manager", "supervisor", "emergency"])
@pytest.mark.parametrize("denied", [False, True])
def test_z06_the_evaluator_lets_deny_override_every_allow(world, make, allow, denied):
    s = world["s"]
    world["episode"].phase = Phase.REHAB
    user = {
        "none": lambda: make.user(Role.COUNSELOR),
        "caseload": lambda: world["carer"],
        "manager": lambda: make.user(Role.CLINIC_MANAGER),
        "supervisor": lambda: make.user(Role.SUPERVISOR),
        "emergency": lambda: make.user(Role.NURSE),
    }[allow]()
    if allow == "emergency":
        db.session.add(
            EmergencyAccess(
                client_id=s.id,
                user_id=user.id,
                receiving_personnel="Dr. Reyes",
                receiving_facility="St. Mary's",
                nature="Seizure during withdrawal, transported by EMS",
                confirmed_at=NOW,
                started_at=NOW,
                expires_at=NOW + timedelta(hours=1),
            )
        )
    if denied:
        restrict(s.id, user, world["manager"])
    db.session.flush()
    assert (s.id in visible(user)) is (allow != "none" and not denied)


def test_a_lifted_restriction_is_no_longer_a_deny(world):
    carer = world["carer"]
    restrict(
        world["s"].id, carer, world["manager"], lifted_at=NOW, lifted_by_id=world["manager"].id
    )
    assert world["s"].id in visible(carer)


def test_scope_keeps_rows_without_a_client_for_managers(world, make):
    """NOT EXISTS, not NOT IN: a list outer-joining clients (the print log) keeps the rows of
    facility reports, which have no client, even for a manager with a restriction."""
    manager = world["manager"]
    restrict(world["s"].id, manager, make.user(Role.CLINIC_MANAGER))
    stmt = sa.select(User.id).outerjoin(Client, sa.false())
    assert len(db.session.scalars(scoped(stmt, Perm.CLIENT_VIEW, manager)).all()) == len(
        db.session.scalars(sa.select(User.id)).all()
    )


def test_z06_index_adds_a_restriction_with_a_reason_and_lifting_restores_access(
    client, auth, world, make
):
    s, manager = world["s"], world["manager"]
    nurse = make.user(Role.NURSE, full_name="Nora Nurse")
    auth.login(world["manager"])
    page = client.get(f"/restrictions/clients/{s.id}")
    assert page.status_code == 200 and "No staff member is restricted" in page.text
    assert "Nora Nurse" in page.text
    offered = [u.id for u in restrictions.restrictable_staff(db.session, s, manager)]
    assert nurse.id in offered and manager.id not in offered  # not oneself

    resp = client.post(f"/restrictions/clients/{s.id}", data={"user": nurse.id, "reason": ""})
    assert resp.status_code == 400 and db.session.scalars(sa.select(ClientRestriction)).all() == []

    resp = client.post(
        f"/restrictions/clients/{s.id}", data={"user": nurse.id, "reason": "Her brother"}
    )
    assert resp.status_code == 302
    (row,) = db.session.scalars(sa.select(ClientRestriction)).all()
    assert (row.user_id, row.reason, row.by_id, row.created_at) == (
        nurse.id,
        "Her brother",
        world["manager"].id,
        NOW,
    )
    assert nurse.id not in [u.id for u in restrictions.restrictable_staff(db.session, s, manager)]
    page = client.get(f"/restrictions/clients/{s.id}").text
    assert "Her brother" in page and "Nora Nurse" in page
    assert s.id not in visible(nurse)

    resp = client.post(f"/restrictions/clients/{s.id}/{row.id}/lift")
    assert resp.status_code == 302
    assert row.lifted_at == NOW and row.lifted_by_id == world["manager"].id
    assert s.id in visible(nurse)
    assert "Lifted restrictions" in client.get(f"/restrictions/clients/{s.id}").text
    assert client.post(f"/restrictions/clients/{s.id}/{row.id}/lift").status_code == 302
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.object_type == "client_restrictions")
    ).all()
    assert actions == ["client_restrictions.created", "client_restrictions.updated"]


def test_restricting_the_primary_counselor_warns_that_the_caseload_needs_reassigning(
    client, auth, world
):
    s, carer = world["s"], world["carer"]
    auth.login(world["manager"])
    resp = client.post(
        f"/restrictions/clients/{s.id}",
        data={"user": carer.id, "reason": "Client is the counselor's cousin"},
        follow_redirects=True,
    )
    assert "reassign the caseload" in resp.text
    assert "Primary counselor of the open episode" in resp.text
    assert f"/episodes/{world['episode'].id}/assign" in resp.text
    assert s.id not in visible(carer)


def test_a_staff_member_cannot_be_restricted_twice_or_by_id_smuggling(client, auth, world, make):
    nurse, s = make.user(Role.NURSE), world["s"]
    restrict(s.id, nurse, world["manager"])
    auth.login(world["manager"])
    resp = client.post(f"/restrictions/clients/{s.id}", data={"user": nurse.id, "reason": "Again"})
    assert resp.status_code == 400
    resp = client.post(
        f"/restrictions/clients/{s.id}", data={"user": world["manager"].id, "reason": "Myself"}
    )
    assert resp.status_code == 400
    assert len(db.session.scalars(sa.select(ClientRestriction)).all()) == 1


def test_lifting_through_another_clients_url_is_404(client, auth, world, make):
    row = restrict(world["s"].id, make.user(Role.NURSE), world["manager"])
    auth.login(world["manager"])
    assert client.post(f"/restrictions/clients/{world['t'].id}/{row.id}/lift").status_code == 404
    assert row.lifted_at is None


def test_a_restricted_manager_cannot_manage_that_clients_restrictions(client, auth, world, make):
    other = make.user(Role.CLINIC_MANAGER)
    row = restrict(world["s"].id, other, world["manager"])
    auth.login(other)
    assert client.get(f"/restrictions/clients/{world['s'].id}").status_code == 404
    assert client.post(f"/restrictions/clients/{world['s'].id}/{row.id}/lift").status_code == 404
    assert row.lifted_at is None


ROUTES = [
    ("GET", "/restrictions/clients/999999", "restrictions.index"),
    ("POST", "/restrictions/clients/999999", "restrictions.index"),
    ("POST", "/restrictions/clients/999999/1/lift", "restrictions.lift"),
]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_z01_only_clinic_managers_reach_the_restriction_routes(client, auth, clock, role):
    """Refused roles get 403 before any lookup; managers get 404 for an unknown client."""
    auth.login(role)
    for method, url, endpoint in ROUTES:
        resp = client.open(url, method=method, data={})
        expected = 404 if role in EXPECTED[endpoint] else 403
        assert resp.status_code == expected, (method, url)

"""Medical emergency access, "break-glass" (42 CFR §2.51; security matrix Z-07, X-01, U-01).

The clock is frozen before anyone signs in: sessions and the access itself are timed.
"""

import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from flask import render_template, url_for

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.privacy import emergency
from casemgr.privacy.models import ClientRestriction, Disclosure, EmergencyAccess
from tests.clients_helpers import admitted
from tests.factories import PASSWORD
from tests.notes.helpers import sweep_note
from tests.policy_table import EXPECTED
from tests.screens.helpers import recorded

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 at the facility (America/New_York)
LOCAL_NOW = "2026-11-25T10:00"
NATURE = "Unresponsive after a suspected opioid overdose; naloxone given by EMS."


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def world(clock, make):
    """A client in rehab on a counselor's caseload, a second client, and a nurse who may see
    neither (nurses see detox and what they documented for)."""
    manager, carer = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    a, episode = admitted(manager, carer, Phase.REHAB, legal_last_name="Alpha")
    b, _ = admitted(manager, carer, Phase.REHAB, legal_last_name="Bravo")
    nurse = make.user(Role.NURSE, full_name="Nina Nurse")
    db.session.commit()
    return {"manager": manager, "carer": carer, "a": a, "episode": episode, "b": b, "nurse": nurse}


def details(**overrides) -> dict[str, str]:
    data = {
        "receiving_personnel": "Dr. Ada Reyes",
        "receiving_facility": "St. Mary's Emergency Department",
        "nature": NATURE,
        "confirmed_at": LOCAL_NOW,
        "confirm": "y",
    }
    return {k: v for k, v in {**data, **overrides}.items() if v is not None}


def break_glass(client, target, **overrides):
    return client.post(f"/emergency/clients/{target.id}", data=details(**overrides))


def events(action: str, client_id: int | None = None) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    if client_id is not None:
        stmt = stmt.where(AuditEvent.client_id == client_id)
    return list(db.session.scalars(stmt))


def accesses() -> list[EmergencyAccess]:
    return list(db.session.scalars(sa.select(EmergencyAccess)))


def path(app, endpoint: str, **values) -> str:
    with app.test_request_context():
        return url_for(endpoint, **values)


def test_z07_break_glass_opens_one_chart_for_60_minutes_then_404(client, auth, world, clock):
    auth.login(world["nurse"])
    a, b = world["a"], world["b"]
    assert client.get(f"/clients/{a.id}").status_code == 404

    resp = break_glass(client, a)
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clients/{a.id}"
    assert client.get(f"/clients/{a.id}").status_code == 200
    assert client.get(f"/clients/{b.id}").status_code == 404  # that client only
    (access,) = accesses()
    assert access.started_at == NOW and access.expires_at == NOW + timedelta(minutes=60)

    for minutes in (10, 20, 30, 40, 50, 59):  # each request also keeps the session alive
        clock.move_to(NOW + timedelta(minutes=minutes))
        assert client.get(f"/clients/{a.id}").status_code == 200, minutes
    clock.move_to(NOW + timedelta(minutes=60, seconds=1))
    assert client.get(f"/clients/{a.id}").status_code == 404
    assert client.get(path(client.application, "emergency.start")).status_code == 200


def test_z07_the_duration_comes_from_the_configuration(app_factory, clock, make):
    app = app_factory(EMERGENCY_ACCESS_MINUTES=5)
    with app.app_context():
        manager, carer = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        a, _ = admitted(manager, carer, Phase.REHAB)
        nurse = make.user(Role.NURSE)
        db.session.commit()
        web = app.test_client()
        web.post("/login", data={"login": nurse.login, "password": PASSWORD})
        assert break_glass(web, a).status_code == 302
        assert accesses()[0].expires_at == NOW + timedelta(minutes=5)
        clock.move_to(NOW + timedelta(minutes=5))
        assert web.get(f"/clients/{a.id}").status_code == 404


def test_z07_lookup_by_mrn_shows_no_name_before_the_access_is_confirmed(client, auth, world):
    auth.login(world["nurse"])
    a = world["a"]
    resp = client.post("/emergency/", data={"mrn": f" {a.mrn} "})
    assert resp.status_code == 302 and resp.headers["Location"] == f"/emergency/clients/{a.id}"
    page = client.get(resp.headers["Location"])
    assert page.status_code == 200
    assert a.mrn in page.text and "Alpha" not in page.text and a.legal_first_name not in page.text
    (lookup,) = events("emergency.lookup", a.id)
    assert json.loads(lookup.detail)["severity"] == "high"
    assert accesses() == []  # looking is not opening


@pytest.mark.parametrize("mrn", ["C9999999", "not an mrn!", "", "c0000011"])
def test_lookup_of_an_unknown_or_malformed_mrn_is_refused(client, auth, world, mrn):
    auth.login(world["nurse"])
    resp = client.post("/emergency/", data={"mrn": mrn})
    assert resp.status_code == 400
    assert "Alpha" not in resp.text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"receiving_personnel": None}, "This field is required."),
        ({"receiving_facility": ""}, "This field is required."),
        ({"nature": None}, "This field is required."),
        ({"nature": "Overdose"}, "20 to 1000 characters"),
        ({"confirmed_at": None}, "Enter a date and time."),
        ({"confirm": None}, "Tick the box to confirm the emergency."),
        ({"confirmed_at": "2026-11-25T10:05"}, "cannot be in the future"),
        ({"confirmed_at": "2026-11-25T08:59"}, "within an hour"),
    ],
)
def test_z07_break_glass_requires_every_251_field_and_the_confirmation(
    client, auth, world, overrides, message
):
    auth.login(world["nurse"])
    resp = break_glass(client, world["a"], **overrides)
    assert resp.status_code == 400
    assert message in resp.text
    assert "Alpha" not in resp.text
    assert accesses() == [] and events("emergency.opened") == []
    assert client.get(f"/clients/{world['a'].id}").status_code == 404


def test_z07_a_confirmation_up_to_an_hour_old_is_accepted(client, auth, world):
    auth.login(world["nurse"])
    assert break_glass(client, world["a"], confirmed_at="2026-11-25T09:00").status_code == 302
    assert accesses()[0].confirmed_at == NOW - timedelta(hours=1)


def test_z07_opening_is_audited_high_with_the_251_fields(client, auth, world):
    nurse = auth.login(world["nurse"])
    break_glass(client, world["a"])
    (opened,) = events("emergency.opened", world["a"].id)
    detail = json.loads(opened.detail)
    assert opened.actor_id == nurse.id
    assert detail["severity"] == "high"
    assert detail["receiving_personnel"] == "Dr. Ada Reyes"
    assert detail["receiving_facility"] == "St. Mary's Emergency Department"
    assert detail["nature"] == NATURE
    assert detail["confirmed_at"].startswith("2026-11-25T15:00")


def test_x01_the_emergency_disclosure_is_recorded_in_the_chart(client, auth, world):
    nurse = auth.login(world["nurse"])
    break_glass(client, world["a"])
    (access,) = accesses()
    (row,) = db.session.scalars(sa.select(Disclosure)).all()
    assert row.client_id == world["a"].id and row.kind == "emergency"
    assert row.emergency_id == access.id and row.consent_id is None
    assert row.recipient == "Dr. Ada Reyes, St. Mary's Emergency Department"
    assert row.purpose == f"Medical emergency: {NATURE}"
    assert row.information == "as viewed during emergency access"
    assert row.released_by_id == nurse.id and row.released_at == NOW


def test_x01_a_long_nature_is_shortened_in_the_accounting_but_kept_whole(client, auth, world):
    auth.login(world["nurse"])
    nature = "Seizure after withdrawal; " + "x" * 600
    assert break_glass(client, world["a"], nature=nature).status_code == 302
    row = db.session.scalar(sa.select(Disclosure))
    assert len(row.purpose) == 300 and row.purpose.endswith("…")
    assert accesses()[0].nature == nature


def test_z07_every_page_of_the_chart_viewed_is_audited_high(client, auth, world, app):
    episode, a = world["episode"], world["a"]
    note = sweep_note(episode)
    screen = recorded(episode, world["carer"])
    auth.login(world["nurse"])
    break_glass(client, a)
    pages = [
        path(app, "clients.show", client_id=a.id),
        path(app, "charts.client_timeline", client_id=a.id),
        path(app, "screens.history", client_id=a.id),
        path(app, "detox.summary", episode_id=episode.id),
        path(app, "mar.chart", episode_id=episode.id),
        path(app, "plans.show", episode_id=episode.id),
        path(app, "notes.show", note_id=note.id),
        path(app, "screens.show", screen_id=screen.id),
    ]
    for url in pages:
        assert client.get(url).status_code == 200, url
    viewed = events("emergency.viewed", a.id)
    assert [json.loads(e.detail)["path"] for e in viewed] == pages
    access = accesses()[0]
    for event in viewed:
        assert json.loads(event.detail)["severity"] == "high"
        assert event.object_id == str(access.id)
    # Another client's pages are not tagged (and stay 404).
    assert client.get(path(app, "clients.show", client_id=world["b"].id)).status_code == 404
    assert events("emergency.viewed", world["b"].id) == []


def test_z07_other_staff_still_get_404_and_no_emergency_audit(client, auth, world, make):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    auth.logout()
    auth.login(make.user(Role.NURSE))
    assert client.get(f"/clients/{world['a'].id}").status_code == 404
    assert events("emergency.viewed") == []


def test_ending_the_access_early_closes_the_chart(client, auth, world):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    (access,) = accesses()
    resp = client.post(f"/emergency/{access.id}/end")
    assert resp.status_code == 302
    assert access.ended_at == NOW
    assert client.get(f"/clients/{world['a'].id}").status_code == 404
    assert len(events("emergency.ended")) == 1
    assert client.post(f"/emergency/{access.id}/end").status_code == 302  # already ended
    assert len(events("emergency.ended")) == 1


def test_only_the_holder_may_end_an_access(client, auth, world, make):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    (access,) = accesses()
    auth.logout()
    auth.login(make.user(Role.NURSE))
    assert client.post(f"/emergency/{access.id}/end").status_code == 404
    assert access.ended_at is None


def test_the_lookup_page_lists_ones_own_open_accesses(client, auth, world):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    page = client.get("/emergency/").text
    assert world["a"].mrn in page and "End access now" in page


def test_a_chart_already_in_scope_needs_no_break_glass(client, auth, world):
    auth.login(world["carer"])
    resp = client.get(f"/emergency/clients/{world['a'].id}")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clients/{world['a'].id}"
    assert break_glass(client, world["a"]).status_code == 302
    assert accesses() == []


def test_z06_a_restricted_staff_member_cannot_break_glass(client, auth, world):
    nurse, a = world["nurse"], world["a"]
    db.session.add(
        ClientRestriction(
            client_id=a.id, user_id=nurse.id, reason="Sister", by_id=world["manager"].id
        )
    )
    db.session.commit()
    auth.login(nurse)
    resp = client.post("/emergency/", data={"mrn": a.mrn})
    assert resp.status_code == 400 and "No client has this MRN." in resp.text
    assert client.get(f"/emergency/clients/{a.id}").status_code == 404
    assert break_glass(client, a).status_code == 404
    assert accesses() == []


def test_z06_a_restriction_added_during_an_access_wins(client, auth, world):
    nurse, a = world["nurse"], world["a"]
    auth.login(nurse)
    break_glass(client, a)
    db.session.add(
        ClientRestriction(
            client_id=a.id, user_id=nurse.id, reason="Sister", by_id=world["manager"].id
        )
    )
    db.session.commit()
    assert client.get(f"/clients/{a.id}").status_code == 404
    (blocked,) = events("restriction.blocked", a.id)
    assert json.loads(blocked.detail)["severity"] == "high"


def test_manager_alert_lists_the_access_and_acknowledging_clears_it(client, auth, world, app):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    auth.logout()
    manager = auth.login(world["manager"])
    (alert,) = emergency.active_and_unacknowledged(db.session)
    with app.test_request_context():
        html = render_template("home/_emergency_alerts.html", emergency_alerts=[alert])
    for text in (
        "Emergency access (break-glass)",
        "Nina Nurse",
        "Alpha",
        world["a"].mrn,
        "St. Mary&#39;s Emergency Department",
        "Unresponsive after a suspected opioid overdose",
        "2026-11-25 10:00",  # opened, facility time
        "until 2026-11-25 11:00",
        f"/emergency/{alert.id}/acknowledge",
    ):
        assert text in html, text

    resp = client.post(f"/emergency/{alert.id}/acknowledge")
    assert resp.status_code == 302
    assert alert.acknowledged_at == NOW and alert.acknowledged_by_id == manager.id
    assert emergency.active_and_unacknowledged(db.session) == []
    assert len(events("emergency.acknowledged")) == 1
    client.post(f"/emergency/{alert.id}/acknowledge")  # twice: no second event
    assert len(events("emergency.acknowledged")) == 1
    with app.test_request_context():
        html = render_template("home/_emergency_alerts.html", emergency_alerts=[])
    assert "No emergency access is waiting for review." in html


def test_an_expired_or_ended_access_stays_on_the_alert_until_acknowledged(
    client, auth, world, clock
):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    clock.move_to(NOW + timedelta(hours=9))  # opened at night, seen in the morning
    assert [a.client_id for a in emergency.active_and_unacknowledged(db.session)] == [world["a"].id]


def test_a_manager_restricted_from_the_client_sees_no_alert_and_cannot_acknowledge(
    client, auth, world, make
):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    auth.logout()
    other = make.user(Role.CLINIC_MANAGER)
    db.session.add(
        ClientRestriction(
            client_id=world["a"].id, user_id=other.id, reason="Son", by_id=world["manager"].id
        )
    )
    auth.login(other)
    assert emergency.active_and_unacknowledged(db.session, viewer=other) == []
    assert len(emergency.active_and_unacknowledged(db.session, viewer=world["manager"])) == 1
    (access,) = accesses()
    assert client.post(f"/emergency/{access.id}/acknowledge").status_code == 404
    assert access.acknowledged_at is None


ROUTES = [
    ("GET", "/emergency/", "emergency.start"),
    ("GET", "/emergency/clients/999999", "emergency.start"),
    ("POST", "/emergency/clients/999999", "emergency.start"),
    ("POST", "/emergency/999999/end", "emergency.end"),
    ("POST", "/emergency/999999/acknowledge", "emergency.acknowledge"),
]


@pytest.mark.parametrize("role", list(Role), ids=lambda r: r.value)
def test_z01_each_role_reaches_exactly_the_break_glass_routes_the_policy_allows(
    client, auth, clock, role
):
    """Refused roles get 403 before any lookup (an unknown id too); allowed roles get past it."""
    auth.login(role)
    for method, url, endpoint in ROUTES:
        resp = client.open(url, method=method, data={})
        if role in EXPECTED[endpoint]:
            assert resp.status_code in (200, 404), (method, url)
        else:
            assert resp.status_code == 403, (method, url)


def test_z07_an_emergency_access_is_read_only(client, auth, world, app):
    """Writing would also keep the chart in a nurse's scope for good (documented for)."""
    episode = world["episode"]
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    for url, data in (
        (path(app, "detox.clearance", episode_id=episode.id), {"note": "Cleared"}),
        (path(app, "notes.new", episode_id=episode.id), {"format": "nursing"}),
        (path(app, "clients.edit", client_id=world["a"].id), {}),
    ):
        assert client.post(url, data=data).status_code == 403, url
    viewed = events("emergency.viewed", world["a"].id)
    assert [json.loads(e.detail)["method"] for e in viewed] == ["POST"] * 3
    assert client.get(f"/clients/{world['a'].id}").status_code == 200  # reading goes on


def test_the_banner_shows_the_open_access_on_every_page(client, auth, world, app):
    auth.login(world["nurse"])
    break_glass(client, world["a"])
    (access,) = accesses()
    with app.test_request_context():
        from flask import g

        g.emergency_access = access  # what the request hook leaves for the templates
        html = render_template("emergency/_banner.html")
    assert "Emergency access (42 CFR §2.51)" in html and "2026-11-25 11:00" in html
    assert f"/emergency/{access.id}/end" in html


def test_z07_an_mrn_in_the_address_is_not_looked_up(client, auth, world):
    """The lookup is posted: an MRN in a query string (proxy logs, history, Referer) is
    ignored rather than acted on, and the form posts to an address without it."""
    auth.login(world["nurse"])
    a = world["a"]
    resp = client.get("/emergency/", query_string={"mrn": a.mrn})
    assert resp.status_code == 200 and 'method="post"' in resp.text
    assert events("emergency.lookup", a.id) == []

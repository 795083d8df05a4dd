"""The client's timeline, served as SVG within the caseload scope and shown on the chart."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.clients import services as clients
from casemgr.domain.care import Setting
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from tests.clients_helpers import TODAY, admitted, sheet

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture
def staff(make):
    # Frozen before anyone signs in: the session cookie must not be signed in the future.
    with time_machine.travel(NOW, tick=False):
        yield make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)


def timeline(client, person_id: int):
    return client.get(f"/charts/clients/{person_id}/timeline.svg")


def parsed(resp) -> tuple[set[str], str]:
    root = ET.fromstring(resp.data)
    return {t.text for t in root.iter(f"{SVG}text")}, root.find(f"{SVG}desc").text


def test_a_counselor_sees_their_clients_timeline(client, auth, staff):
    manager, counselor = staff
    person, episode = admitted(manager, counselor, Phase.DETOX)
    episodes.set_level_of_care(
        db.session,
        episode,
        setting=Setting.INPATIENT,
        code_system="ASAM3",
        code="3.7-WM",
        started_on=date(2026, 11, 2),
        actor=manager,
        today=TODAY,
    )
    db.session.commit()
    auth.login(counselor)
    resp = timeline(client, person.id)
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Cache-Control"] == "no-store"
    labels, desc = parsed(resp)
    assert {"Episode 1", "Detox", "3.7-WM", "Nov 2026", "Today 2026-11-25"} <= labels
    assert "Admitted 2026-11-01 · open" in labels
    assert (
        "phases Intake 2026-11-01 to 2026-11-02, Detox 2026-11-02 to today (2026-11-25); "
        "levels of care 3.7-WM (Medically Monitored Inpatient Withdrawal Management) "
        "2026-11-02 to today (2026-11-25)."
    ) in desc


def test_another_counselor_gets_404_and_the_attempt_is_audited(client, auth, make, staff):
    manager, counselor = staff
    person, _ = admitted(manager, counselor, Phase.DETOX)
    auth.login(make.user(Role.COUNSELOR))
    resp = timeline(client, person.id)
    assert resp.status_code == 404 and b"Detox" not in resp.data
    event = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "authz.denied", AuditEvent.client_id == person.id
        )
    )
    assert event is not None
    assert json.loads(event.detail)["endpoint"] == "charts.client_timeline"
    assert timeline(client, 999_999).status_code == 404


def test_a_readmitted_client_shows_both_episodes(client, auth, staff):
    manager, counselor = staff
    person, episode = admitted(manager, counselor, Phase.DETOX)
    details = episodes.DischargeDetails(
        last_contact_on=date(2026, 11, 10),
        discharged_on=date(2026, 11, 10),
        reason_code="1",
        use_frequency="1",
        employment="unemployed",
        living_arrangement="independent",
        arrests_30d=0,
        self_help="1",
    )
    episodes.discharge(db.session, episode, details, actor=manager, now=NOW, today=TODAY)
    episodes.admit(
        db.session,
        person,
        actor=manager,
        admitted_on=date(2026, 11, 20),
        counselor=counselor,
        now=NOW,
    )
    db.session.commit()
    auth.login(counselor)
    labels, desc = parsed(timeline(client, person.id))
    assert {"Episode 1", "Episode 2"} <= labels
    assert "Admitted 2026-11-01 · discharged 2026-11-10" in labels
    assert "Episode 1 (admitted 2026-11-01, discharged 2026-11-10): phases Intake" in desc
    assert "Detox 2026-11-02 to 2026-11-10;" in desc
    # The admission is dated by its admission date, not by when it was recorded.
    assert "Episode 2 (admitted 2026-11-20, open): phases Intake 2026-11-20 to today" in desc


def test_the_chart_page_shows_the_timeline_image_with_its_description(client, auth, staff):
    manager, counselor = staff
    person, _ = admitted(manager, counselor, Phase.REHAB)
    auth.login(counselor)
    page = client.get(f"/clients/{person.id}").text
    assert f'src="/charts/clients/{person.id}/timeline.svg"' in page
    assert 'aria-describedby="timeline-summary"' in page
    assert "Rehab 2026-11-03 to today (2026-11-25)" in page


def test_no_timeline_without_an_episode(client, auth, staff):
    manager, _ = staff
    person = clients.register(db.session, sheet(), actor=manager, today=TODAY)
    db.session.commit()
    auth.login(manager)
    assert "timeline.svg" not in client.get(f"/clients/{person.id}").text
    labels, desc = parsed(timeline(client, person.id))
    assert desc == "No episodes." and "No episodes." in labels

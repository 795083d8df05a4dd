"""Detox through the web: assessments with vitals, the summary, clearance and the rehab guard."""

import json
import re
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.detox.models import MedicalClearance, WithdrawalAssessment
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.withdrawal import CIWA_AR
from casemgr.extensions import db
from tests.clients_helpers import NOW, admitted
from tests.detox.helpers import CIWA_ITEMS, COWS_ITEMS, assessed

LOCAL_NOW = "2026-11-25T10:00"  # NOW in the facility's time (America/New_York)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def ward(make, frozen):
    """A counselor's client in detox, and the staff. Time is frozen before anyone logs in."""
    manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    person, episode = admitted(manager, counselor, Phase.DETOX)
    return SimpleNamespace(
        manager=manager,
        counselor=counselor,
        nurse=make.user(Role.NURSE),
        physician=make.user(Role.PHYSICIAN),
        person=person,
        episode=episode,
    )


def cows_form(**overrides) -> dict:
    data = {"assessed_at": "2026-11-25T09:30", "reason": "scheduled", "temperature_unit": "C"}
    data |= {key: str(value) for key, value in COWS_ITEMS.items()}
    return {**data, **overrides}


def saved() -> list[WithdrawalAssessment]:
    return list(db.session.scalars(sa.select(WithdrawalAssessment)))


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return match.group(1)


def test_nurse_records_cows_with_vitals_and_the_server_computes_the_total(client, auth, ward):
    auth.login(ward.nurse)
    vitals = {"systolic": "128", "diastolic": "82", "heart_rate": "104", "respiratory_rate": "18"}
    vitals |= {"temperature": "99.5", "temperature_unit": "F", "spo2": "97", "pain": "3"}
    resp = client.post(
        f"/detox/{ward.episode.id}/cows", data=cows_form(total="2", band="none", **vitals)
    )
    assert resp.status_code == 302, resp.text
    [row] = saved()
    assert (row.instrument, row.total, row.band) == ("cows", 20, "moderate")
    assert json.loads(row.items_json) == COWS_ITEMS
    assert row.items_json == json.dumps(COWS_ITEMS, sort_keys=True, separators=(",", ":"))
    assert (row.systolic, row.diastolic, row.heart_rate, row.temperature_c) == (128, 82, 104, 37.5)
    assert row.nurse_id == ward.nurse.id and row.assessed_at == datetime(
        2026, 11, 25, 14, 30, tzinfo=UTC
    )
    page = client.get(f"/detox/{ward.episode.id}").text
    assert ">20<" in page and "Moderate" in page


@pytest.mark.parametrize(
    ("item", "value"),
    [("resting_pulse", "3"), ("gooseflesh", "abc"), ("sweating", "999"), ("tremor", "-1")],
)
def test_a_disallowed_item_value_is_refused_next_to_the_item(client, auth, ward, item, value):
    auth.login(ward.nurse)
    resp = client.post(f"/detox/{ward.episode.id}/cows", data=cows_form(**{item: value}))
    assert resp.status_code == 200
    label = {"resting_pulse": "Resting pulse", "gooseflesh": "Gooseflesh skin"}.get(
        item, item.capitalize()
    )
    assert error_of(resp.text, item).startswith(f"{label} score must be")
    assert saved() == []


def test_resting_pulse_error_lists_the_allowed_scores(client, auth, ward):
    auth.login(ward.nurse)
    resp = client.post(f"/detox/{ward.episode.id}/cows", data=cows_form(resting_pulse="3"))
    assert error_of(resp.text, "resting_pulse") == "Resting pulse score must be 0, 1, 2 or 4."


def test_a_missing_item_is_refused(client, auth, ward):
    auth.login(ward.nurse)
    resp = client.post(f"/detox/{ward.episode.id}/cows", data=cows_form(yawning=""))
    assert "Score every item" in error_of(resp.text, "yawning") and saved() == []


def test_physician_records_ciwa_ar(client, auth, ward):
    auth.login(ward.physician)
    page = client.get(f"/detox/{ward.episode.id}/ciwa").text
    assert all(f'name="{key}"' in page for key in CIWA_AR.keys) and "Disoriented for place" in page
    data = {"assessed_at": "2026-11-25T09:45", "reason": "symptomatic", "temperature_unit": "C"}
    resp = client.post(f"/detox/{ward.episode.id}/ciwa", data=data | CIWA_ITEMS | {"total": "60"})
    assert resp.status_code == 302, resp.text
    [row] = saved()
    assert (row.instrument, row.total, row.band, row.nurse_id) == (
        "ciwa_ar",
        9,
        "moderate",
        ward.physician.id,
    )
    resp = client.post(
        f"/detox/{ward.episode.id}/ciwa", data=data | CIWA_ITEMS | {"orientation": "5"}
    )
    assert "must be 0, 1, 2, 3 or 4" in error_of(resp.text, "orientation")


@pytest.mark.parametrize(
    ("vitals", "field"),
    [
        ({"heart_rate": "900"}, "heart_rate"),
        ({"systolic": "120"}, "diastolic"),
        ({"spo2": "101"}, "spo2"),
        ({"temperature": "120", "temperature_unit": "F"}, "temperature"),
    ],
)
def test_impossible_vitals_are_refused(client, auth, ward, vitals, field):
    auth.login(ward.nurse)
    resp = client.post(f"/detox/{ward.episode.id}/cows", data=cows_form(**vitals))
    assert resp.status_code == 200 and saved() == []
    assert error_of(resp.text, field)


def test_worrying_vitals_are_saved_and_marked_on_the_summary(client, auth, ward):
    auth.login(ward.nurse)
    resp = client.post(
        f"/detox/{ward.episode.id}/cows", data=cows_form(heart_rate="35", spo2="90", pain="2")
    )
    assert resp.status_code == 302, resp.text
    page = client.get(f"/detox/{ward.episode.id}").text
    assert 'data-vital="heart_rate"' in page and "Heart rate 35/min is below 50/min." in page
    assert 'data-vital="spo2"' in page
    assert 'data-vital="respiratory_rate"' not in page


def test_back_dating_needs_a_reason_and_the_future_is_refused(client, auth, ward):
    auth.login(ward.nurse)
    late = cows_form(assessed_at="2026-11-25T07:00")
    resp = client.post(f"/detox/{ward.episode.id}/cows", data=late)
    assert "more than an hour late" in error_of(resp.text, "backdate_reason") and saved() == []
    resp = client.post(
        f"/detox/{ward.episode.id}/cows", data=cows_form(assessed_at="2026-11-25T11:00")
    )
    assert "future" in error_of(resp.text, "assessed_at") and saved() == []
    resp = client.post(
        f"/detox/{ward.episode.id}/cows",
        data=late | {"backdate_reason": "Paper chart during outage"},
    )
    assert resp.status_code == 302
    [row] = saved()
    assert row.backdate_reason == "Paper chart during outage" and row.recorded_at == NOW
    assert "late entry" in client.get(f"/detox/{ward.episode.id}").text


def move_to_rehab(client, episode):
    return client.post(
        f"/episodes/{episode.id}/phase",
        data={"target": "rehab", "effective_at": LOCAL_NOW, "reason": "Withdrawal resolved"},
    )


def test_rehab_needs_medical_clearance_first(client, auth, ward):
    assessed(ward.episode, ward.nurse)
    assessed(ward.episode, ward.nurse, instrument="ciwa_ar")
    auth.login(ward.nurse)
    resp = move_to_rehab(client, ward.episode)
    assert resp.status_code == 200
    assert "Record medical clearance before moving this client to rehab." in resp.text
    db.session.refresh(ward.episode)
    assert ward.episode.phase is Phase.DETOX
    resp = client.post(
        f"/detox/{ward.episode.id}/clearance", data={"note": "Stable 24 h, COWS < 5"}
    )
    assert resp.status_code == 302, resp.text
    clearance = db.session.scalar(sa.select(MedicalClearance))
    assert (clearance.last_cows_total, clearance.last_ciwa_total) == (20, 9)
    assert clearance.by_id == ward.nurse.id and clearance.cleared_at == NOW
    assert move_to_rehab(client, ward.episode).status_code == 302
    db.session.refresh(ward.episode)
    assert ward.episode.phase is Phase.REHAB
    # Out of detox, nothing more is recorded there.
    assert client.post(f"/detox/{ward.episode.id}/cows", data=cows_form()).status_code in (403, 404)


def test_clearance_needs_a_note(client, auth, ward):
    auth.login(ward.physician)
    resp = client.post(f"/detox/{ward.episode.id}/clearance", data={"note": ""})
    assert error_of(resp.text, "note") and db.session.scalar(sa.select(MedicalClearance)) is None


def test_leaving_detox_against_advice_still_discharges_with_teds_reason_2(client, auth, ward):
    auth.login(ward.nurse)
    data = {
        "reason_code": "2",
        "discharged_on": "2026-11-25",
        "last_contact_on": "2026-11-25",
        "left_at": "2026-11-25T03:30",
        "use_frequency": "1",
        "employment": "full_time",
        "living_arrangement": "independent",
        "arrests_30d": "0",
        "self_help": "1",
        "note": "Left during the night shift.",
    }
    resp = client.post(f"/episodes/{ward.episode.id}/discharge", data=data)
    assert resp.status_code == 302, resp.text
    db.session.refresh(ward.episode)
    assert ward.episode.phase is Phase.DISCHARGED
    assert ward.episode.discharge.reason_code == "2"
    assert ward.episode.discharge.left_at == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("role", "summary", "record"),
    [
        (Role.NURSE, 200, 302),
        (Role.PHYSICIAN, 200, 302),
        (Role.COUNSELOR, 200, 403),  # the client's own counselor reads, never records
        (Role.CLINIC_MANAGER, 200, 403),
        (Role.ADMIN, 403, 403),
    ],
)
def test_permissions_per_role(client, auth, ward, role, summary, record):
    user = ward.counselor if role is Role.COUNSELOR else auth.make.user(role)
    auth.login(user)
    assert client.get(f"/detox/{ward.episode.id}").status_code == summary
    assert client.post(f"/detox/{ward.episode.id}/cows", data=cows_form()).status_code == record
    clearance = client.post(f"/detox/{ward.episode.id}/clearance", data={"note": "ok"})
    assert clearance.status_code == record


def test_another_counselors_client_is_not_found(client, auth, ward, make):
    auth.login(make.user(Role.COUNSELOR))
    assert client.get(f"/detox/{ward.episode.id}").status_code == 404


def test_summary_is_audited_and_shows_the_next_due_time(client, auth, ward):
    assessed(ward.episode, ward.nurse, at=datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    auth.login(ward.counselor)
    page = client.get(f"/detox/{ward.episode.id}").text
    assert "Next assessment" in page and "2026-11-25 13:00" in page  # 4 h after 09:00 local
    assert "Record COWS" not in page
    actions = db.session.scalars(sa.select(AuditEvent.action)).all()
    assert "detox.viewed" in actions


def test_chart_shows_the_latest_score_while_in_detox(client, auth, ward):
    assessed(ward.episode, ward.nurse)
    auth.login(ward.nurse)
    page = client.get(f"/clients/{ward.person.id}").text
    assert "Latest COWS" in page and f"/detox/{ward.episode.id}" in page


def test_summary_query_count_does_not_grow_with_assessments(client, auth, ward, count_queries):
    auth.login(ward.nurse)
    assessed(ward.episode, ward.nurse)
    with count_queries() as few:
        assert client.get(f"/detox/{ward.episode.id}").status_code == 200
    for _ in range(6):
        assessed(ward.episode, auth.make.user(Role.NURSE), heart_rate=120)
    assessed(ward.episode, ward.nurse, instrument="ciwa_ar")
    with count_queries() as many:
        assert client.get(f"/detox/{ward.episode.id}").status_code == 200
    assert many.count == few.count

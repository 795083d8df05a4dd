"""Recording doses: the nurse from the login, witnesses for controlled drugs, the daily
maximum, doses not given, one record per scheduled dose, real slots and PRN intervals.
Every refused POST leaves the orders and the MAR as they were."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.medications import Outcome
from casemgr.extensions import db
from casemgr.mar import services
from casemgr.mar.models import MedicationAdministration
from tests.clients_helpers import NOW
from tests.factories import PASSWORD
from tests.mar.helpers import TZ, at, counts, error_of, order, recorded, slot_arg, ward_of


@pytest.fixture
def ward(make):
    yield from ward_of(make)


@pytest.fixture
def methadone(ward):
    return order(ward.episode, ward.physician, times="08:00, 20:00", max_daily="60")


def give_url(placed, hour=None, minute=0) -> str:
    base = f"/mar/orders/{placed.id}/give"
    return base if hour is None else f"{base}?slot={slot_arg(hour, minute)}"


def dose_form(witness=None, **overrides) -> dict:
    data = {"given_at": "2026-11-25T09:30", "outcome": "given", "dose": "30"}
    if witness is not None:
        data |= {"witness_login": witness.login, "witness_password": PASSWORD}
    return {**data, **overrides}


def doses() -> list[MedicationAdministration]:
    return list(db.session.scalars(sa.select(MedicationAdministration)))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_nurse_gives_a_witnessed_methadone_dose_in_their_own_name(client, auth, ward, methadone):
    auth.login(ward.nurse)
    page = client.get(give_url(methadone, 8)).text
    assert "Record the 08:00 dose" in page and 'name="witness_password"' in page
    assert 'value="30"' in page and 'value="2026-11-25T10:00"' in page  # the defaults
    data = dose_form(ward.witness, nurse_id=str(ward.witness.id), note="Observed swallowing")
    resp = client.post(give_url(methadone, 8), data=data)
    assert resp.status_code == 302, resp.text
    assert resp.headers["Location"] == f"/mar/{ward.episode.id}?day=2026-11-25"
    [row] = doses()
    assert (row.nurse_id, row.witness_id) == (ward.nurse.id, ward.witness.id)
    assert (row.order_id, row.episode_id) == (methadone.id, ward.episode.id)
    assert (row.scheduled_at, row.given_at, row.recorded_at) == (at(8), at(9, 30), NOW)
    assert (row.outcome, row.dose_milli, row.note) == (Outcome.GIVEN, 30000, "Observed swallowing")
    page = client.get(resp.headers["Location"]).text
    assert "Nora Nurse" in page and "witness <bdi>Wes Witness</bdi>" in page and "09:30" in page


def test_a_controlled_dose_without_a_witness_is_refused(client, auth, ward, methadone):
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form())
    assert "needs a witness" in error_of(resp.text, "witness_login")
    assert counts() == (1, 0)


def test_the_nurse_cannot_witness_their_own_dose(client, auth, ward, methadone):
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.nurse))
    assert "different staff member" in error_of(resp.text, "witness_login")
    assert counts() == (1, 0)


def test_a_wrong_witness_password_is_refused_audited_and_counted(client, auth, ward, methadone):
    auth.login(ward.nurse)
    resp = client.post(
        give_url(methadone, 8), data=dose_form(ward.witness, witness_password="not it at all")
    )
    assert error_of(resp.text, "witness_password") == services.WITNESS_FAILED
    assert counts() == (1, 0)
    db.session.expire_all()
    assert ward.witness.failed_attempts == 1
    [event] = events("mar.witness_failed")
    assert event.actor_id == ward.nurse.id and event.object_id == str(methadone.id)
    assert '"reason":"bad_password"' in event.detail and ward.witness.login in event.detail
    # An unknown login gets the same words: the form does not say who works here.
    resp = client.post(
        give_url(methadone, 8), data=dose_form(ward.witness, witness_login="nobody-here")
    )
    assert error_of(resp.text, "witness_password") == services.WITNESS_FAILED
    assert '"reason":"unknown_login"' in events("mar.witness_failed")[-1].detail
    assert counts() == (1, 0)


def test_repeated_wrong_witness_passwords_lock_the_witness_out(client, auth, ward, methadone):
    auth.login(ward.nurse)
    bad = dose_form(ward.witness, witness_password="guess guess guess")
    for _ in range(5):
        client.post(give_url(methadone, 8), data=bad)
    db.session.expire_all()
    assert ward.witness.locked_until is not None and len(events("auth.lockout")) == 1
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.witness))  # right password
    assert error_of(resp.text, "witness_password") == services.WITNESS_FAILED
    assert '"reason":"locked"' in events("mar.witness_failed")[-1].detail
    assert counts() == (1, 0)


def test_a_witness_must_be_a_nurse_or_physician(client, auth, ward, methadone):
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.counselor))
    assert "nurse or physician" in error_of(resp.text, "witness_login")
    assert counts() == (1, 0)


def test_a_physician_may_witness(client, auth, ward, methadone):
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.physician))
    assert resp.status_code == 302
    assert doses()[0].witness_id == ward.physician.id


def test_a_drug_that_is_not_controlled_needs_no_witness(client, auth, ward):
    placed = order(ward.episode, ward.physician, drug="clonidine", dose="0.1", times="08:00")
    auth.login(ward.nurse)
    assert 'name="witness_login"' not in client.get(give_url(placed, 8)).text
    resp = client.post(give_url(placed, 8), data=dose_form(dose="0.1"))
    assert resp.status_code == 302
    [row] = doses()
    assert (row.dose_milli, row.witness_id) == (100, None)


@pytest.fixture
def ondansetron(ward):
    """4 mg at 06:00 and 09:00, at most 8 mg a day; the 06:00 dose already given."""
    placed = order(
        ward.episode,
        ward.physician,
        drug="ondansetron",
        dose="4",
        times="06:00, 09:00",
        max_daily="8",
    )
    recorded(placed, ward.nurse, hour=6)
    return placed


def test_the_daily_maximum_needs_a_physicians_override(client, auth, ward, ondansetron):
    auth.login(ward.nurse)
    url = give_url(ondansetron, 9)
    resp = client.post(url, data=dose_form(dose="6"))
    assert error_of(resp.text, "dose") == (
        "This dose would bring the day's total to 10 mg, over the daily maximum of 8 mg. "
        "To give it, record a physician's override below."
    )
    resp = client.post(url, data=dose_form(dose="6", override_reason="Persistent vomiting"))
    assert "Choose the physician" in error_of(resp.text, "override_physician")
    resp = client.post(url, data=dose_form(dose="6", override_physician=str(ward.physician.id)))
    assert "reason" in error_of(resp.text, "override_reason")
    nurse_named = dose_form(
        dose="6", override_reason="Persistent vomiting", override_physician=str(ward.witness.id)
    )
    assert "Choose the physician" in error_of(
        client.post(url, data=nurse_named).text, "override_physician"
    )
    assert counts() == (1, 1)
    ok = dose_form(
        dose="6", override_reason="Persistent vomiting", override_physician=str(ward.physician.id)
    )
    assert client.post(url, data=ok).status_code == 302
    row = db.session.scalar(
        sa.select(MedicationAdministration).where(MedicationAdministration.scheduled_at == at(9))
    )
    assert (row.dose_milli, row.override_physician_id) == (6000, ward.physician.id)
    assert row.override_reason == "Persistent vomiting"
    assert "over daily maximum" in client.get(f"/mar/{ward.episode.id}").text


def test_within_the_maximum_no_override_is_stored(client, auth, ward, ondansetron):
    auth.login(ward.nurse)
    data = dose_form(
        dose="4", override_reason="Not needed", override_physician=str(ward.physician.id)
    )
    assert client.post(give_url(ondansetron, 9), data=data).status_code == 302
    row = db.session.scalar(
        sa.select(MedicationAdministration).where(MedicationAdministration.scheduled_at == at(9))
    )
    assert (row.override_reason, row.override_physician_id) == ("", None)


def test_a_physician_giving_a_dose_may_authorise_their_own_override(
    client, auth, ward, ondansetron
):
    auth.login(ward.physician)
    data = dose_form(
        dose="6", override_reason="Ongoing emesis", override_physician=str(ward.physician.id)
    )
    assert client.post(give_url(ondansetron, 9), data=data).status_code == 302
    assert counts() == (1, 2)


def test_doses_not_given_do_not_count_toward_the_maximum(client, auth, ward, ondansetron):
    recorded(ondansetron, ward.nurse, hour=9, outcome=Outcome.REFUSED, dose="", reason="Asleep")
    assert services._given_on_day(db.session, ondansetron, at(12), TZ) == [4]


@pytest.mark.parametrize("outcome", ["held", "refused", "missed"])
def test_a_dose_not_given_needs_a_reason_and_stores_zero(client, auth, ward, methadone, outcome):
    auth.login(ward.nurse)
    url = give_url(methadone, 8)
    resp = client.post(url, data=dose_form(outcome=outcome))
    assert error_of(resp.text, "reason") == f"Say why the dose was {outcome}."
    assert counts() == (1, 0)
    resp = client.post(url, data=dose_form(outcome=outcome, reason="Sedated, RR 10"))
    assert resp.status_code == 302  # no witness: nothing controlled left the cabinet
    [row] = doses()
    assert (row.outcome.value, row.dose_milli, row.reason, row.witness_id) == (
        outcome,
        0,
        "Sedated, RR 10",
        None,
    )
    assert f">{outcome}<" in client.get(f"/mar/{ward.episode.id}").text


def test_a_scheduled_dose_is_recorded_once(client, auth, ward, methadone):
    recorded(methadone, ward.nurse, hour=8, witness=ward.witness)
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.witness))
    assert resp.status_code == 200 and services.ALREADY_RECORDED in resp.text.replace("&#39;", "'")
    assert counts() == (1, 1)


@pytest.mark.parametrize(
    ("hour", "minute", "message"),
    [(7, 0, "not a scheduled time"), (8, 1, "not a scheduled time"), (14, 0, "not a scheduled")],
)
def test_a_slot_that_is_not_in_the_schedule_is_refused(
    client, auth, ward, methadone, hour, minute, message
):
    auth.login(ward.nurse)
    url = give_url(methadone, hour, minute)
    page = client.get(url).text
    assert message in page and 'name="given_at"' not in page  # no form to fill in vain
    resp = client.post(url, data=dose_form(ward.witness))
    assert resp.status_code == 200 and message in resp.text
    assert counts() == (1, 0)


def test_a_slot_outside_the_order_is_refused(client, auth, ward):
    late_start = order(ward.episode, ward.physician, times="08:00", starts_at=at(9))
    auth.login(ward.nurse)
    resp = client.post(give_url(late_start, 8), data=dose_form(ward.witness))
    assert "not active at that time" in resp.text
    tomorrow = f"/mar/orders/{late_start.id}/give?slot=2026-11-26T13:00Z"
    assert (
        client.post(tomorrow, data=dose_form(ward.witness, given_at="2026-11-25T09:30")).status_code
        == 302
    )
    assert counts() == (1, 1)


def test_a_discontinued_order_takes_no_more_doses(client, auth, ward, methadone):
    services.discontinue(db.session, methadone, "Stopped", by=ward.physician, now=NOW)
    db.session.commit()
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 20), data=dose_form(ward.witness))
    assert "not active at that time" in resp.text
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.witness))  # before: fine
    assert resp.status_code == 302


def test_scheduled_and_as_needed_doses_are_not_mixed_up(client, auth, ward, methadone):
    prn = order(
        ward.episode,
        ward.physician,
        drug="ondansetron",
        dose="4",
        prn=True,
        prn_indication="Nausea",
        prn_min_hours=4,
    )
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone), data=dose_form(ward.witness))
    assert "Choose the scheduled dose" in resp.text
    resp = client.post(give_url(prn, 8), data=dose_form(dose="4"))
    assert "no scheduled time" in resp.text
    assert counts() == (2, 0)


@pytest.mark.parametrize("slot", ["yesterday", "2026-11-25T13:00", "", "2026-13-01T00:00Z"])
def test_a_slot_that_is_not_an_aware_time_is_not_found(client, auth, ward, methadone, slot):
    auth.login(ward.nurse)
    assert client.get(f"/mar/orders/{methadone.id}/give?slot={slot}").status_code == 404


def test_as_needed_doses_keep_their_minimum_interval(client, auth, ward):
    prn = order(
        ward.episode,
        ward.physician,
        drug="ondansetron",
        dose="4",
        prn=True,
        prn_indication="Nausea",
        prn_min_hours=4,
    )
    recorded(prn, ward.nurse, given_at=at(5, 30))
    auth.login(ward.nurse)
    page = client.get(give_url(prn)).text
    assert "Give an as-needed (PRN) dose" in page and "Nausea" in page
    assert client.post(give_url(prn), data=dose_form(dose="4")).status_code == 302  # 4 h later
    resp = client.post(give_url(prn), data=dose_form(dose="4", given_at="2026-11-25T10:00"))
    assert error_of(resp.text, "given_at") == (
        "A dose of this order was given at 2026-11-25 09:30; it allows one every 4 hours, "
        "so the next may be given from 2026-11-25 13:30."
    )
    late = dose_form(dose="4", given_at="2026-11-25T02:00", note="Late entry: night shift")
    assert "05:30" in error_of(client.post(give_url(prn), data=late).text, "given_at")
    refused = dose_form(outcome="refused", reason="Nausea settled", given_at="2026-11-25T10:00")
    assert client.post(give_url(prn), data=refused).status_code == 302  # nothing was given
    assert counts() == (1, 3)


def test_time_given_cannot_be_in_the_future_and_late_entries_say_why(client, auth, ward, methadone):
    auth.login(ward.nurse)
    url = give_url(methadone, 8)
    resp = client.post(url, data=dose_form(ward.witness, given_at="2026-11-25T10:30"))
    assert "in the future" in error_of(resp.text, "given_at")
    resp = client.post(url, data=dose_form(ward.witness, given_at="2026-11-25T08:05"))
    assert "more than an hour" in error_of(resp.text, "note")
    resp = client.post(url, data=dose_form(ward.witness, given_at="9999-12-31T23:59"))
    assert "between 2000 and 2099" in error_of(resp.text, "given_at")
    assert counts() == (1, 0)
    late = dose_form(ward.witness, given_at="2026-11-25T08:05", note="Charted late after a code")
    assert client.post(url, data=late).status_code == 302
    assert doses()[0].given_at == datetime(2026, 11, 25, 13, 5, tzinfo=UTC)


@pytest.mark.parametrize("dose", ["abc", "0", "-30", "1e999", "NaN", ""])
def test_a_dose_given_must_be_a_plausible_number(client, auth, ward, methadone, dose):
    auth.login(ward.nurse)
    resp = client.post(give_url(methadone, 8), data=dose_form(ward.witness, dose=dose))
    assert error_of(resp.text, "dose")
    assert counts() == (1, 0)

"""Aftercare through the web: the overview, check-ins, reschedules, relapse events with the
phase move they call for, closing aftercare, permissions, audit and query counts."""

import re
from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.aftercare.models import AftercareClosure, CheckIn, RelapseEvent
from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.aftercare.helpers import (
    LINEAGE,
    LOCAL_NOW,
    check_ins,
    first_check_in,
    into_aftercare,
    plan_with_trigger,
    recorded_check_in,
    relapsed,
    row_counts,
    utc,
)
from tests.clients_helpers import NOW, admitted
from tests.screens.helpers import recorded


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def care(make, frozen):
    """A counselor's client stepped down to aftercare now, and the staff. Time is frozen
    before anyone logs in."""
    manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    person, episode = admitted(manager, counselor, Phase.REHAB)
    into_aftercare(episode, counselor)
    return SimpleNamespace(
        manager=manager,
        counselor=counselor,
        other=make.user(Role.COUNSELOR),
        nurse=make.user(Role.NURSE),
        supervisor=make.user(Role.SUPERVISOR),
        person=person,
        episode=episode,
    )


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return match.group(1)


def check_in_form(**overrides) -> dict:
    data = {
        "reached": "yes",
        "method": "phone",
        "contacted_at": LOCAL_NOW,
        "days_used_30": "0",
        "meetings_attended": "12",
        "employment": "part_time",
        "housing": "independent",
        "craving": "3",
        "drug_screen_done": "y",
        "note": "Going to NA twice a week; new job at the bakery.",
    }
    return {**data, **overrides}


def relapse_form(**overrides) -> dict:
    data = {
        "kind": "lapse",
        "used_on": "2026-11-22",
        "substance": "alcohol",
        "circumstances": "Wedding; drank two beers.",
        "trigger": "other",
        "trigger_other": "Family celebration",
        "response": "increased_sessions",
    }
    return {**data, **overrides}


def close_form(**overrides) -> dict:
    data = {
        "summary": "Engaged through the year; sober supports in place.",
        "reason_code": "4",
        "discharged_on": "2026-11-25",
        "last_contact_on": "2026-11-25",
        "use_frequency": "1",
        "employment": "full_time",
        "living_arrangement": "independent",
        "arrests_30d": "0",
        "self_help": "3",
    }
    return {**data, **overrides}


def overview(client, episode) -> str:
    resp = client.get(f"/aftercare/{episode.id}")
    assert resp.status_code == 200, resp.text
    return resp.text


def row_of(html: str, due: str) -> str:
    match = re.search(rf"<tr>\s*<td[^>]*>{due}</td>.*?</tr>", html, re.S)
    assert match, f"no check-in row due {due}"
    return match.group(0)


# ---------------------------------------------------------------------------------------------
# The overview


def test_the_overview_lists_the_year_in_words_and_is_audited(client, auth, care):
    auth.login(care.counselor)
    page = overview(client, care.episode)
    assert "30-day follow-up" in page and "365-day follow-up" in page
    assert "Upcoming" in row_of(page, "2026-12-02") and "Routine" in row_of(page, "2026-12-02")
    assert f'/aftercare/check-ins/{first_check_in(care.episode).id}"' in page
    assert "No continuing-care plan yet" in page
    assert f"/aftercare/plans/new/{care.episode.id}" in page
    assert "not known: no use recorded" in page
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "aftercare.viewed"))
    assert event.client_id == care.person.id and event.actor_id == care.counselor.id


@pytest.mark.parametrize(
    "at, first, second",
    [
        (utc(2026, 12, 2, 15), "Due", "Upcoming"),
        (utc(2026, 12, 3, 15), "Overdue", "Upcoming"),
        (utc(2026, 12, 10, 15), "Missed", "Overdue"),
    ],
)
def test_statuses_on_the_page_follow_the_clock(client, auth, care, at, first, second):
    with time_machine.travel(at, tick=False):
        auth.login(care.counselor)
        page = overview(client, care.episode)
    assert f">{first}</span>" in row_of(page, "2026-12-02")
    assert f">{second}</span>" in row_of(page, "2026-12-09")


def test_the_plan_summary_links_to_the_plan(client, auth, care):
    trigger = plan_with_trigger(care.episode, care.counselor)
    auth.login(care.manager)
    page = overview(client, care.episode)
    assert f"/aftercare/plans/{trigger.plan_id}" in page and "Draft" in page
    assert "Outpatient" in page
    assert "Record lapse or relapse" not in page  # the manager reads, does not write


# ---------------------------------------------------------------------------------------------
# Check-ins


def test_recording_a_reached_check_in_marks_it_done_once(client, auth, care):
    row = first_check_in(care.episode)
    auth.login(care.counselor)
    url = f"/aftercare/check-ins/{row.id}"
    assert LOCAL_NOW in client.get(url).text  # contacted at defaults to now
    resp = client.post(url, data=check_in_form())
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/aftercare/{care.episode.id}#check-ins"
    db.session.refresh(row)
    assert (row.status, row.reached, row.method, row.contacted_at) == ("done", True, "phone", NOW)
    assert (row.days_used_30, row.meetings_attended, row.craving) == (0, 12, 3)
    assert (row.employment, row.housing, row.drug_screen_done) == ("part_time", "independent", True)
    assert row.recorded_by_id == care.counselor.id and row.version == 2
    page = client.post(url, data=check_in_form(reached="no")).text
    assert "already recorded" in page
    db.session.refresh(row)
    assert (row.status, row.version) == ("done", 2)
    assert "Done" in row_of(overview(client, care.episode), "2026-12-02")
    updated = db.session.scalar(
        sa.select(AuditEvent).where(
            AuditEvent.action == "check_ins.updated", AuditEvent.object_id == str(row.id)
        )
    )
    assert updated.client_id == care.person.id and '"status":"done"' in updated.detail


def test_a_client_not_reached_is_a_missed_check_in(client, auth, care):
    row = first_check_in(care.episode)
    auth.login(care.counselor)
    data = {"reached": "no", "method": "text", "contacted_at": LOCAL_NOW, "note": "No reply."}
    assert client.post(f"/aftercare/check-ins/{row.id}", data=data).status_code == 302
    db.session.refresh(row)
    assert (row.status, row.reached, row.days_used_30) == ("missed", False, None)
    shown = row_of(overview(client, care.episode), "2026-12-02")
    assert "Missed" in shown and "not reached by text message" in shown


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"days_used_30": "31"}, "days_used_30"),
        ({"days_used_30": ""}, "days_used_30"),  # reached: how many days of use is required
        ({"meetings_attended": "101"}, "meetings_attended"),
        ({"craving": "11"}, "craving"),
        ({"method": ""}, "method"),
        ({"reached": ""}, "reached"),
        ({"contacted_at": "2026-11-25T11:00"}, "contacted_at"),  # an hour from now
        ({"contacted_at": "2026-10-31T10:00"}, "contacted_at"),  # before the admission
        ({"employment": "astronaut"}, "employment"),
    ],
)
def test_bad_check_in_input_is_refused_next_to_the_field(client, auth, care, overrides, field):
    row = first_check_in(care.episode)
    before = row_counts()
    auth.login(care.counselor)
    resp = client.post(f"/aftercare/check-ins/{row.id}", data=check_in_form(**overrides))
    assert resp.status_code == 200
    assert error_of(resp.text, field)
    assert "Going to NA twice a week" in resp.text  # nothing typed is lost
    db.session.refresh(row)
    assert (row.status, row.version, row.reached) == ("open", 1, None)
    assert row_counts() == before


def test_a_reschedule_keeps_the_due_date(client, auth, care):
    row = first_check_in(care.episode)
    auth.login(care.counselor)
    url = f"/aftercare/check-ins/{row.id}/reschedule"
    data = {"rescheduled_to": "2026-12-04", "reason": "Client works on Wednesdays"}
    assert client.post(url, data=data).status_code == 302
    db.session.refresh(row)
    assert (row.due_on, row.scheduled_on) == (date(2026, 12, 2), date(2026, 12, 4))
    assert row.reschedule_reason == "Client works on Wednesdays"
    shown = row_of(overview(client, care.episode), "2026-12-02")
    assert "2026-12-04" in shown and "Client works on Wednesdays" in shown


@pytest.mark.parametrize(
    "data, field",
    [
        ({"rescheduled_to": "2026-11-24", "reason": "x"}, "rescheduled_to"),  # in the past
        ({"rescheduled_to": "2026-12-04", "reason": ""}, "reason"),
        ({"rescheduled_to": "", "reason": "x"}, "rescheduled_to"),
    ],
)
def test_bad_reschedules_are_refused(client, auth, care, data, field):
    row = first_check_in(care.episode)
    auth.login(care.counselor)
    resp = client.post(f"/aftercare/check-ins/{row.id}/reschedule", data=data)
    assert error_of(resp.text, field)
    db.session.refresh(row)
    assert (row.scheduled_on, row.version) == (None, 1)


def test_a_missed_check_in_cannot_be_rescheduled_away(client, auth, care):
    row = first_check_in(care.episode)
    with time_machine.travel(utc(2026, 12, 10, 15), tick=False):
        auth.login(care.counselor)
        data = {"rescheduled_to": "2026-12-11", "reason": "Try again"}
        resp = client.post(f"/aftercare/check-ins/{row.id}/reschedule", data=data)
    assert "was missed" in error_of(resp.text, "rescheduled_to")
    db.session.refresh(row)
    assert row.scheduled_on is None


# ---------------------------------------------------------------------------------------------
# Relapse events and the sobriety date


def test_relapse_events_and_positive_screens_drive_the_sobriety_date(client, auth, care):
    auth.login(care.counselor)
    resp = client.post(f"/aftercare/{care.episode.id}/relapse", data=relapse_form())
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/aftercare/{care.episode.id}#relapses"
    page = overview(client, care.episode)
    assert "2026-11-23 — <strong>2 days sober</strong>" in page  # the day after 22 November
    assert "Other: Family celebration" in page and "Increased sessions" in page
    # A positive screen collected later moves the date: the collection day counts as use.
    recorded(
        care.episode,
        care.counselor,
        results={"cocaine": "positive"},
        collected_at=utc(2026, 11, 24, 15),
        action_taken="Discussed with the client",
    )
    page = overview(client, care.episode)
    assert "2026-11-25 — <strong>0 days sober</strong>" in page
    assert "last positive or refused drug screen 2026-11-24" in page
    # An earlier relapse event does not move it back.
    relapsed(care.episode, care.counselor, date(2026, 11, 10))
    assert "2026-11-25 — <strong>0 days sober</strong>" in overview(client, care.episode)


def test_a_relapse_back_to_rehab_offers_the_move_and_the_move_works(client, auth, care):
    plan_with_trigger(care.episode, care.counselor)
    auth.login(care.counselor)
    url = f"/aftercare/{care.episode.id}/relapse"
    assert "Old friends from the block" in client.get(url).text  # the plan's triggers
    data = relapse_form(kind="relapse", trigger=LINEAGE, response="return_to_rehab")
    resp = client.post(url, data=data)
    event = db.session.scalar(sa.select(RelapseEvent))
    assert (event.trigger_lineage, event.trigger_other) == (LINEAGE, "")
    assert resp.headers["Location"] == f"/aftercare/{care.episode.id}?relapse={event.id}#move"
    page = client.get(resp.headers["Location"]).text
    assert f'action="/episodes/{care.episode.id}/phase"' in page
    assert re.search(r'<option[^>]*selected[^>]*value="rehab"', page)
    assert "Relapse on 2026-11-22</textarea>" in page
    assert "Old friends from the block" in page  # the relapse names the plan's trigger
    # The move itself belongs to the episodes feature, posted as the offered form would.
    move = {"target": "rehab", "effective_at": LOCAL_NOW, "reason": "Relapse on 2026-11-22"}
    resp = client.post(f"/episodes/{care.episode.id}/phase", data=move)
    assert resp.status_code == 302, resp.text
    db.session.refresh(care.episode)
    assert care.episode.phase is Phase.REHAB
    assert care.episode.phase_changes[-1].reason == "Relapse on 2026-11-22"
    assert check_ins(care.episode) == []  # appointments not yet due are removed
    page = overview(client, care.episode)
    assert "not in aftercare now" in page and "Move the client" not in page


def test_return_to_detox_offers_detox_and_other_responses_offer_nothing(client, auth, care):
    auth.login(care.counselor)
    url = f"/aftercare/{care.episode.id}/relapse"
    resp = client.post(url, data=relapse_form(response="return_to_detox"))
    page = client.get(resp.headers["Location"]).text
    assert "Move the client to detox?" in page
    assert re.search(r'<option[^>]*selected[^>]*value="detox"', page)
    resp = client.post(url, data=relapse_form(response="referral"))
    assert resp.headers["Location"].endswith("#relapses")
    event = db.session.scalars(sa.select(RelapseEvent).order_by(RelapseEvent.id)).all()[-1]
    page = client.get(f"/aftercare/{care.episode.id}?relapse={event.id}").text
    assert "Move the client" not in page


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"used_on": "2026-11-26"}, "used_on"),  # tomorrow
        ({"used_on": "2026-10-31"}, "used_on"),  # before the admission on 1 November
        ({"trigger_other": ""}, "trigger_other"),  # "other" needs a description
        ({"trigger": "f" * 32}, "trigger"),  # not a trigger of this plan
        ({"kind": ""}, "kind"),
        ({"substance": ""}, "substance"),
        ({"response": "pray"}, "response"),
    ],
)
def test_bad_relapse_input_writes_nothing(client, auth, care, overrides, field):
    before = row_counts()
    auth.login(care.counselor)
    resp = client.post(f"/aftercare/{care.episode.id}/relapse", data=relapse_form(**overrides))
    assert resp.status_code == 200
    assert error_of(resp.text, field)
    assert "Wedding; drank two beers." in resp.text
    assert row_counts() == before


# ---------------------------------------------------------------------------------------------
# Closing aftercare


def test_completed_is_refused_before_365_days_and_another_reason_closes(client, auth, care):
    before = row_counts()
    auth.login(care.counselor)
    url = f"/aftercare/{care.episode.id}/close"
    assert "from 2027-11-25" in client.get(url).text
    resp = client.post(url, data=close_form(reason_code="1"))
    assert "from 2027-11-25" in error_of(resp.text, "reason_code")
    assert row_counts() == before
    db.session.refresh(care.episode)
    assert care.episode.phase is Phase.AFTERCARE
    resp = client.post(url, data=close_form(reason_code="4"))
    assert resp.status_code == 302 and resp.headers["Location"] == f"/clients/{care.person.id}"
    closure = db.session.scalar(sa.select(AftercareClosure))
    assert (closure.reason_code, closure.closed_on, closure.by_id) == (
        "4",
        date(2026, 11, 25),
        care.counselor.id,
    )
    db.session.refresh(care.episode)
    assert care.episode.phase is Phase.DISCHARGED
    assert care.episode.discharge.reason_code == "4"
    assert check_ins(care.episode) == []  # nothing was due yet
    page = overview(client, care.episode)
    assert "closed 2026-11-25" in page and "Engaged through the year" in page


def test_completed_after_365_days(client, auth, care):
    row = first_check_in(care.episode)
    recorded_check_in(row, care.counselor, at=utc(2026, 12, 2, 15))
    with time_machine.travel(utc(2027, 11, 25, 15), tick=False):
        auth.login(care.counselor)
        data = close_form(reason_code="1", discharged_on="2027-11-25", last_contact_on="2027-11-20")
        resp = client.post(f"/aftercare/{care.episode.id}/close", data=data)
    assert resp.status_code == 302, resp.text
    db.session.refresh(care.episode)
    assert care.episode.phase is Phase.DISCHARGED
    assert care.episode.discharge.reason_code == "1"
    assert db.session.scalar(sa.select(AftercareClosure.reason_code)) == "1"
    # Recorded check-ins stay; open ones not yet past their date are gone.
    assert [r.id for r in check_ins(care.episode) if r.status != "open"] == [row.id]


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"summary": ""}, "summary"),
        ({"reason_code": ""}, "reason_code"),
        ({"discharged_on": "2026-11-26"}, "discharged_on"),  # the future
        ({"discharged_on": "2026-11-24"}, "discharged_on"),  # before aftercare began
        # The discharge service refuses after the closure row was added: both roll back.
        ({"last_contact_on": "2026-11-26", "discharged_on": "2026-11-25"}, "last_contact_on"),
    ],
)
def test_a_refused_close_writes_nothing(client, auth, care, overrides, field):
    before = row_counts()
    auth.login(care.counselor)
    resp = client.post(f"/aftercare/{care.episode.id}/close", data=close_form(**overrides))
    assert resp.status_code == 200 and error_of(resp.text, field)
    assert row_counts() == before
    db.session.refresh(care.episode)
    assert care.episode.phase is Phase.AFTERCARE


def test_only_aftercare_can_be_closed(client, auth, make, frozen):
    counselor = make.user(Role.COUNSELOR)
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), counselor, Phase.REHAB)
    auth.login(counselor)
    assert "not in aftercare" in client.get(f"/aftercare/{episode.id}/close").text
    resp = client.post(f"/aftercare/{episode.id}/close", data=close_form())
    assert "Only an episode in aftercare" in resp.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AftercareClosure)) == 0


# ---------------------------------------------------------------------------------------------
# Permissions


def write_urls(care) -> list[str]:
    row = first_check_in(care.episode)
    return [
        f"/aftercare/check-ins/{row.id}",
        f"/aftercare/check-ins/{row.id}/reschedule",
        f"/aftercare/{care.episode.id}/relapse",
        f"/aftercare/{care.episode.id}/close",
    ]


@pytest.mark.parametrize(
    "who, show, write",
    [
        ("counselor", 200, 200),  # the primary counselor
        ("other", 404, 404),  # another counselor: not their caseload, looks absent
        ("manager", 200, 403),
        ("supervisor", 200, 403),
        ("nurse", 404, 403),  # out of scope; and no aftercare writing at all
    ],
)
def test_who_reads_and_who_writes(client, auth, care, who, show, write):
    urls = write_urls(care)
    auth.login(getattr(care, who))
    assert client.get(f"/aftercare/{care.episode.id}").status_code == show
    for url in urls:
        assert client.get(url).status_code == write, url
        assert client.post(url, data={}).status_code == write, url


def test_nobody_writes_on_a_discharged_episode(client, auth, care):
    recorded_check_in(first_check_in(care.episode), care.counselor)  # kept when closing
    urls = write_urls(care)
    auth.login(care.counselor)
    assert client.post(urls[-1], data=close_form()).status_code == 302
    for url in urls:
        assert client.get(url).status_code == 403, url
    assert client.get(f"/aftercare/{care.episode.id}").status_code == 200


def test_writes_are_in_the_audit_trail(client, auth, care):
    auth.login(care.counselor)
    row = first_check_in(care.episode)
    client.post(f"/aftercare/check-ins/{row.id}", data=check_in_form())
    client.post(f"/aftercare/{care.episode.id}/relapse", data=relapse_form())
    actions = set(
        db.session.scalars(
            sa.select(AuditEvent.action).where(
                AuditEvent.client_id == care.person.id, AuditEvent.actor_id == care.counselor.id
            )
        )
    )
    assert {"check_ins.updated", "relapse_events.created"} <= actions
    created = db.session.scalar(
        sa.select(sa.func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.action == "check_ins.created", AuditEvent.client_id == care.person.id)
    )
    assert created == 21


# ---------------------------------------------------------------------------------------------
# Query count


def add_history(care, n: int) -> None:
    rows = [r for r in check_ins(care.episode) if r.status == "open"][:n]
    for row in rows:
        recorded_check_in(row, care.counselor)
    for i in range(n):
        relapsed(care.episode, care.counselor, date(2026, 11, 2 + i))
        recorded(
            care.episode,
            care.counselor,
            results={"cannabis": "positive"},
            collected_at=utc(2026, 11, 2 + i, 15),
            action_taken="Discussed",
        )


def test_the_overview_is_a_fixed_number_of_queries(client, auth, care, count_queries):
    trigger = plan_with_trigger(care.episode, care.counselor)
    entry_trigger = relapse_form(kind="relapse", trigger=LINEAGE)
    auth.login(care.counselor)
    client.post(f"/aftercare/{care.episode.id}/relapse", data=entry_trigger)
    add_history(care, 1)
    url = f"/aftercare/{care.episode.id}"
    client.get(url)
    with count_queries() as few:
        assert client.get(url).status_code == 200
    add_history(care, 6)
    client.get(url)
    with count_queries() as many:
        page = client.get(url).text
    assert many.count == few.count, "\n".join(many.statements)
    assert page.count(">Done</span>") == 7 and trigger.description in page


def test_check_in_ids_of_other_episodes_are_not_found(client, auth, care):
    auth.login(care.counselor)
    assert client.get("/aftercare/check-ins/999999").status_code == 404
    assert db.session.get(CheckIn, 999999) is None

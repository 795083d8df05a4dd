"""Voiding clinical records entered in error (issue 8, data integrity): each record type is
voided with a reason through its own route, audited, and stays listed and marked; nothing
computed from the records counts it any more. Who may void is casemgr.domain.voiding's rule
applied through the policy; out of scope answers 404, a role without the permission 403."""

from __future__ import annotations

import json
import re
from datetime import date, timedelta
from html import unescape

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.aftercare import services as aftercare
from casemgr.aftercare.models import CheckIn, RelapseEvent
from casemgr.audit.models import AuditEvent
from casemgr.detox import board as detox_board
from casemgr.detox import services as detox
from casemgr.detox.models import WithdrawalAssessment
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.voiding import ALREADY_VOIDED, NOT_RECORDED, REASON_MIN
from casemgr.extensions import db
from casemgr.mar import services as mar
from casemgr.mar.models import MedicationAdministration
from casemgr.outcomes import queries as outcome_queries
from casemgr.printing import client_report
from casemgr.screens.models import DrugScreen
from tests.aftercare.helpers import (
    START,
    check_ins,
    first_check_in,
    into_aftercare,
    recorded_check_in,
    relapsed,
)
from tests.clients_helpers import NOW, TODAY, admitted
from tests.conftest import version_on
from tests.detox.helpers import assessed
from tests.mar.helpers import TZ, at, order, ward_of
from tests.mar.helpers import recorded as given
from tests.screens.helpers import recorded as screened

REASON = "Entered on the wrong client"


@pytest.fixture
def ward(make):
    yield from ward_of(make)


@pytest.fixture
def care(make):
    """A counselor's client stepped down to aftercare now; time frozen before anyone signs in."""
    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        person, episode = admitted(manager, counselor, Phase.REHAB)
        into_aftercare(episode, counselor)
        yield type(
            "Care",
            (),
            {
                "manager": manager,
                "counselor": counselor,
                "other": make.user(Role.COUNSELOR),
                "nurse": make.user(Role.NURSE),
                "physician": make.user(Role.PHYSICIAN),
                "supervisor": make.user(Role.SUPERVISOR),
                "person": person,
                "episode": episode,
            },
        )


def sign_in(auth, user):
    """Sign out whoever is signed in, then sign `user` in."""
    auth.logout()
    return auth.login(user)


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return unescape(match.group(1))


def voided_events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def void(client, url: str, reason: str = REASON, **extra):
    """Open the confirmation page, then post the reason (with the version the page carries)."""
    page = client.get(url)
    assert page.status_code == 200, page.status_code
    data = {"reason": reason, **extra}
    if 'name="version"' in page.text:
        data.setdefault("version", version_on(page.text))
    return client.post(url, data=data)


def fresh(row):
    db.session.expire_all()
    return db.session.get(type(row), row.id)


# ---------------------------------------------------------------------------------------------
# Withdrawal assessments


def test_a_nurse_voids_their_assessment_with_a_reason_and_it_is_audited(client, auth, ward):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.nurse)
    url = f"/detox/assessments/{assessment.id}/void"
    page = client.get(url).text
    assert "Void this withdrawal assessment" in page and "COWS" in page
    assert 'name="reason"' in page and "Nora Nurse" in page
    resp = void(client, url)
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/detox/{ward.episode.id}"
    row = fresh(assessment)
    assert (row.voided_at, row.voided_by_id, row.void_reason) == (NOW, ward.nurse.id, REASON)
    [event] = voided_events("withdrawal_assessment.voided")
    assert json.loads(event.detail) == {} and REASON not in event.detail  # no PHI in the trail
    assert (event.actor_id, event.object_id) == (ward.nurse.id, str(assessment.id))
    assert event.client_id == ward.person.id
    assert "voided" in client.get(resp.headers["Location"]).text  # the flash


def test_a_voided_assessment_stays_listed_and_marked_in_words(client, auth, ward):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.nurse)
    void(client, f"/detox/assessments/{assessment.id}/void")
    page = client.get(f"/detox/{ward.episode.id}").text
    assert 'class="voided"' in page
    assert f"Voided by <bdi>Nora Nurse</bdi> on 2026-11-25 10:00: {REASON}" in page
    assert f"/detox/assessments/{assessment.id}/void" not in page  # no second Void link


@pytest.mark.parametrize("reason", ["", "   ", "x", "a" * (REASON_MIN - 1)])
def test_an_empty_or_short_reason_is_refused_next_to_the_field(client, auth, ward, reason):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.nurse)
    resp = void(client, f"/detox/assessments/{assessment.id}/void", reason)
    assert resp.status_code == 200
    assert "Say why" in error_of(resp.text, "reason") or "at least" in error_of(resp.text, "reason")
    row = fresh(assessment)
    assert (row.voided_at, row.voided_by_id, row.void_reason) == (None, None, "")
    assert voided_events("withdrawal_assessment.voided") == []


def test_a_control_character_in_the_reason_is_refused(client, auth, ward):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.nurse)
    resp = void(client, f"/detox/assessments/{assessment.id}/void", "Wrong client\x00 entered")
    assert "control characters" in error_of(resp.text, "reason")
    assert fresh(assessment).voided_at is None


def test_voiding_twice_is_refused_and_changes_nothing(client, auth, ward):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.nurse)
    url = f"/detox/assessments/{assessment.id}/void"
    void(client, url)
    page = client.get(url).text
    assert "Voided by" in page and 'name="reason"' not in page
    resp = client.post(url, data={"reason": "Another reason entirely"})
    assert resp.status_code == 200 and ALREADY_VOIDED in unescape(resp.text)
    assert fresh(assessment).void_reason == REASON
    assert len(voided_events("withdrawal_assessment.voided")) == 1


def test_a_physician_may_void_an_assessment_another_nurse_may_not(client, auth, ward, make):
    assessment = assessed(ward.episode, ward.nurse)
    sign_in(auth, ward.witness)  # a nurse who sees the client (in detox) but did not score it
    assert client.get(f"/detox/assessments/{assessment.id}/void").status_code == 403
    assert (
        client.post(f"/detox/assessments/{assessment.id}/void", data={"reason": REASON}).status_code
        == 403
    )
    sign_in(auth, ward.physician)
    assert void(client, f"/detox/assessments/{assessment.id}/void").status_code == 302
    assert fresh(assessment).voided_by_id == ward.physician.id


def test_out_of_scope_is_404_and_a_role_without_the_permission_403(client, auth, ward, make):
    assessment = assessed(ward.episode, ward.nurse)
    url = f"/detox/assessments/{assessment.id}/void"
    sign_in(auth, make.user(Role.COUNSELOR))  # not this client's counselor
    assert client.get(url).status_code == 404
    assert client.post(url, data={"reason": REASON}).status_code == 404
    sign_in(auth, make.user(Role.SUPERVISOR))
    assert client.get(url).status_code == 403
    sign_in(auth, ward.nurse)
    assert client.get("/detox/assessments/999999/void").status_code == 404
    assert fresh(assessment).voided_at is None


def test_a_voided_assessment_counts_for_nothing(ward):
    early = assessed(ward.episode, ward.nurse, at=NOW - timedelta(hours=2), backdate_reason="Late")
    wrong = assessed(
        ward.episode,
        ward.nurse,
        instrument="ciwa_ar",
        at=NOW - timedelta(hours=1),
        backdate_reason="Late",
    )
    assert detox.latest(db.session, ward.episode).assessment.id == wrong.id
    from casemgr.policy import void_kind
    from casemgr.voids import void_record

    void_record(db.session, wrong, void_kind(wrong), REASON, by=ward.nurse, now=NOW)
    db.session.commit()
    assert detox.latest(db.session, ward.episode).assessment.id == early.id
    assert [p.total for p in detox.trend_points(db.session, ward.episode.id)] == [early.total]
    found = detox.summary(db.session, ward.episode, NOW)
    assert [r.assessment.id for r in found["rows"]] == [wrong.id, early.id]  # still listed
    assert [p.total for p in found["trend"]] == [early.total]
    # the next due time runs from the live assessment (COWS 20: every 4 hours)
    assert found["due"].due_at == early.assessed_at + timedelta(hours=4)
    board = detox_board.load_board(db.session, ward.manager, NOW, TODAY)
    [row] = board.rows
    assert row.last.instrument == "cows" and row.last.total == early.total
    assert row.due.due_at == early.assessed_at + timedelta(hours=4)
    cleared = detox.record_clearance(
        db.session, ward.episode, "Cleared", by=ward.physician, now=NOW
    )
    assert (cleared.last_cows_total, cleared.last_ciwa_total) == (early.total, None)


def test_every_score_voided_leaves_the_board_with_no_last_score(ward):
    wrong = assessed(ward.episode, ward.nurse)
    wrong.voided_at, wrong.voided_by_id, wrong.void_reason = NOW, ward.nurse.id, REASON
    db.session.commit()
    [row] = detox_board.load_board(db.session, ward.manager, NOW, TODAY).rows
    assert row.last is None and row.trend == ()
    assert detox.latest(db.session, ward.episode) is None


# ---------------------------------------------------------------------------------------------
# Doses on the MAR


@pytest.fixture
def methadone(ward):
    return order(ward.episode, ward.physician, times="06:00, 08:00", max_daily="60")


def test_a_voided_dose_frees_its_slot_and_leaves_the_daily_maximum(client, auth, ward, methadone):
    wrong = given(methadone, ward.nurse, hour=8, witness=ward.witness, dose="60")
    with pytest.raises(DomainError, match="daily maximum"):
        given(methadone, ward.nurse, hour=6, witness=ward.witness, dose="30")
    db.session.rollback()
    sign_in(auth, ward.nurse)
    url = f"/mar/doses/{wrong.id}/void"
    assert "Void this dose record" in client.get(url).text
    resp = void(client, url, "Wrong amount typed, 60 for 30")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/mar/{ward.episode.id}?day=2026-11-25"
    [event] = voided_events("medication_administration.voided")
    assert json.loads(event.detail) == {}
    # the slot takes the correct record, and the voided 60 mg no longer counts
    right = given(methadone, ward.nurse, hour=8, witness=ward.witness, dose="30")
    early = given(methadone, ward.nurse, hour=6, witness=ward.witness, dose="30")
    assert early.override_physician_id is None
    page = client.get(f"/mar/{ward.episode.id}?day=2026-11-25").text
    assert "Voided by <bdi>Nora Nurse</bdi>" in page and "Wrong amount typed, 60 for 30" in page
    assert page.count('class="voided-record"') == 1
    assert f"/mar/doses/{right.id}/void" in page and f"/mar/doses/{wrong.id}/void" not in page


def test_the_day_grid_shows_a_voided_slot_due_again(ward, methadone):
    wrong = given(methadone, ward.nurse, hour=8, witness=ward.witness)
    wrong.voided_at, wrong.voided_by_id, wrong.void_reason = NOW, ward.nurse.id, REASON
    db.session.commit()
    found = mar.chart(db.session, ward.episode, TODAY, tz=TZ, now=NOW)
    [row] = found["rows"]
    cell = next(c for c in row.cells.values() if c.slot == at(8))
    assert cell.record is None and cell.status == "overdue"
    assert [v.id for v in cell.voided] == [wrong.id]


def test_a_voided_prn_dose_no_longer_holds_the_interval(ward):
    prn = order(
        ward.episode,
        ward.physician,
        drug="lorazepam",
        dose="1",
        prn=True,
        prn_indication="anxiety",
        prn_min_hours=4,
    )
    wrong = given(prn, ward.nurse, given_at=at(8), witness=ward.witness)
    with pytest.raises(DomainError, match="allows one every 4 hours"):
        given(prn, ward.nurse, given_at=at(9), witness=ward.witness)
    db.session.rollback()
    wrong = fresh(wrong)
    wrong.voided_at, wrong.voided_by_id, wrong.void_reason = NOW, ward.nurse.id, REASON
    db.session.commit()
    assert given(prn, ward.nurse, given_at=at(9), witness=ward.witness).voided_at is None


def test_the_board_last_dose_skips_a_voided_one(ward, methadone):
    wrong = given(methadone, ward.nurse, hour=8, witness=ward.witness)
    [row] = detox_board.load_board(db.session, ward.manager, NOW, TODAY).rows
    assert row.last_dose is not None
    wrong.voided_at, wrong.voided_by_id, wrong.void_reason = NOW, ward.nurse.id, REASON
    db.session.commit()
    [row] = detox_board.load_board(db.session, ward.manager, NOW, TODAY).rows
    assert row.last_dose is None


def test_who_may_void_a_dose(client, auth, ward, methadone, make):
    dose = given(methadone, ward.nurse, hour=8, witness=ward.witness)
    url = f"/mar/doses/{dose.id}/void"
    sign_in(auth, ward.witness)  # witnessed it, did not record it
    assert client.get(url).status_code == 403
    sign_in(auth, make.user(Role.COUNSELOR))
    assert client.get(url).status_code == 404
    sign_in(auth, ward.counselor)  # the client's counselor sees the MAR but records no doses
    assert client.get(url).status_code == 403
    sign_in(auth, ward.manager)
    assert void(client, url).status_code == 302
    assert fresh(dose).voided_by_id == ward.manager.id


# ---------------------------------------------------------------------------------------------
# Drug screens


def test_a_collector_voids_a_screen_and_it_stays_listed(client, auth, ward, make):
    screen = screened(
        ward.episode, ward.counselor, results={"opiates": "positive"}, action_taken="Discussed"
    )
    url = f"/screens/{screen.id}/void"
    sign_in(auth, ward.nurse)  # sees the client, did not collect the screen
    assert client.get(url).status_code == 403
    sign_in(auth, ward.physician)  # a physician voids assessments and doses, not screens
    assert client.get(url).status_code == 403
    sign_in(auth, make.user(Role.COUNSELOR))
    assert client.get(url).status_code == 404
    sign_in(auth, ward.counselor)
    show = client.get(f"/screens/{screen.id}").text
    assert url in show  # the Void link
    resp = void(client, url, "Specimen belonged to another client")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/screens/{screen.id}"
    [event] = voided_events("drug_screen.voided")
    assert json.loads(event.detail) == {}
    show = client.get(f"/screens/{screen.id}").text
    assert "Voided by" in show and "Specimen belonged to another client" in show
    assert url not in show
    history = client.get(f"/screens/client/{ward.person.id}").text
    assert 'class="voided"' in history and "Specimen belonged to another client" in history
    chart = client.get(f"/clients/{ward.person.id}").text
    assert "Voided by" in chart
    resp = client.post(url, data={"reason": "Second try at voiding"})
    assert ALREADY_VOIDED in unescape(resp.text)
    assert len(voided_events("drug_screen.voided")) == 1


def test_a_short_reason_leaves_the_screen_as_it_was(client, auth, ward):
    screen = screened(ward.episode, ward.counselor)
    sign_in(auth, ward.counselor)
    resp = void(client, f"/screens/{screen.id}/void", "oops")
    assert "at least" in error_of(resp.text, "reason")
    assert fresh(screen).voided_at is None and voided_events("drug_screen.voided") == []


# ---------------------------------------------------------------------------------------------
# Check-ins and relapse events


def test_a_voided_check_in_stays_listed_and_is_due_again(client, auth, care):
    row = recorded_check_in(first_check_in(care.episode), care.counselor, days_used_30=3)
    due_on, kind = row.due_on, row.kind
    sign_in(auth, care.counselor)
    url = f"/aftercare/check-ins/{row.id}/void"
    overview = client.get(f"/aftercare/{care.episode.id}").text
    assert url in overview
    resp = void(client, url, "Recorded on the wrong client's row")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/aftercare/{care.episode.id}#check-ins"
    same_day = [c for c in check_ins(care.episode) if (c.kind, c.due_on) == (kind, due_on)]
    assert [(c.id == row.id, c.is_voided, c.status) for c in same_day] == [
        (True, True, "done"),
        (False, False, "open"),
    ]
    [event] = voided_events("check_in.voided")
    assert json.loads(event.detail) == {
        "replacement_id": same_day[1].id,
    }
    page = client.get(f"/aftercare/{care.episode.id}").text
    assert "Voided by" in page and "Recorded on the wrong client&#39;s row" in page
    assert f'/aftercare/check-ins/{same_day[1].id}"' in page  # Record the fresh one
    # the fresh one is recorded as usual
    recorded_check_in(fresh(same_day[1]), care.counselor)
    assert fresh(same_day[1]).status == "done"


def test_a_check_in_not_recorded_yet_cannot_be_voided(client, auth, care):
    row = first_check_in(care.episode)
    url = f"/aftercare/check-ins/{row.id}/void"
    sign_in(auth, care.counselor)  # nobody recorded it, so it is nobody's to void
    assert client.get(url).status_code == 403
    sign_in(auth, care.manager)
    assert "nothing to void" in client.get(url).text
    resp = client.post(url, data={"reason": REASON, "version": f"{row.version}@0"})
    assert NOT_RECORDED in unescape(resp.text)
    assert fresh(row).voided_at is None


def test_a_stale_check_in_void_is_refused(client, auth, care):
    row = recorded_check_in(first_check_in(care.episode), care.counselor)
    sign_in(auth, care.counselor)
    url = f"/aftercare/check-ins/{row.id}/void"
    page = client.get(url).text
    version = version_on(page)
    row.note = "Changed by someone else"
    db.session.commit()
    resp = client.post(url, data={"reason": REASON, "version": version})
    assert resp.status_code == 200 and "nothing was saved" in unescape(resp.text)
    assert fresh(row).voided_at is None


def test_who_may_void_a_check_in(client, auth, care):
    row = recorded_check_in(first_check_in(care.episode), care.counselor)
    url = f"/aftercare/check-ins/{row.id}/void"
    sign_in(auth, care.other)
    assert client.get(url).status_code == 404
    sign_in(auth, care.nurse)
    assert client.get(url).status_code == 404
    sign_in(auth, care.supervisor)
    assert client.get(url).status_code == 403
    sign_in(auth, care.manager)
    assert void(client, url).status_code == 302


def test_a_voided_check_in_leaves_the_outcome_figures(care):
    followup = next(c for c in check_ins(care.episode) if c.kind.startswith("followup_"))
    recorded_check_in(followup, care.counselor, at=NOW, days_used_30=5)
    period = outcome_queries.Period(START, followup.due_on + timedelta(days=1))
    before = outcome_queries._followups(db.session, sa.select(sa.literal(care.episode.id)), period)
    assert [f.days_used_last_30 for f in before] == [5]
    from casemgr.policy import void_kind
    from casemgr.voids import void_record

    followup = fresh(followup)
    void_record(
        db.session,
        followup,
        void_kind(followup),
        REASON,
        by=care.counselor,
        now=NOW,
        after=aftercare.reopen_check_in,
    )
    db.session.commit()
    after = outcome_queries._followups(db.session, sa.select(sa.literal(care.episode.id)), period)
    assert [f.days_used_last_30 for f in after] == [None]  # the fresh, unrecorded follow-up


def test_a_voided_relapse_no_longer_sets_the_sobriety_date(client, auth, care):
    event = relapsed(care.episode, care.counselor, date(2026, 11, 20))
    found = aftercare.overview(db.session, care.episode, TODAY, aftercare.status_rules())
    assert found.sobriety.since == date(2026, 11, 21)
    sign_in(auth, care.counselor)
    url = f"/aftercare/relapses/{event.id}/void"
    assert url in client.get(f"/aftercare/{care.episode.id}").text
    resp = void(client, url, "Recorded for the wrong client")
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/aftercare/{care.episode.id}#relapses"
    [voided] = voided_events("relapse_event.voided")
    assert "reason" not in json.loads(voided.detail)
    db.session.expire_all()
    found = aftercare.overview(db.session, care.episode, TODAY, aftercare.status_rules())
    assert found.sobriety.since is None and found.sobriety.last_relapse_on is None
    assert [r.event.id for r in found.relapses] == [event.id]  # still listed
    page = client.get(f"/aftercare/{care.episode.id}").text
    assert "Voided by" in page and "Recorded for the wrong client" in page and url not in page


def test_who_may_void_a_relapse(client, auth, care):
    event = relapsed(care.episode, care.counselor, date(2026, 11, 20))
    url = f"/aftercare/relapses/{event.id}/void"
    sign_in(auth, care.other)
    assert client.get(url).status_code == 404
    sign_in(auth, care.supervisor)
    assert client.get(url).status_code == 403
    assert client.post(url, data={"reason": REASON}).status_code == 403
    assert fresh(event).voided_at is None


def test_a_voided_positive_screen_no_longer_sets_the_sobriety_date(care):
    screen = screened(
        care.episode, care.counselor, results={"opiates": "positive"}, action_taken="Discussed"
    )
    found = aftercare.overview(db.session, care.episode, TODAY, aftercare.status_rules())
    assert found.sobriety.since is not None
    screen.voided_at, screen.voided_by_id, screen.void_reason = NOW, care.counselor.id, REASON
    db.session.commit()
    found = aftercare.overview(db.session, care.episode, TODAY, aftercare.status_rules())
    assert found.sobriety.since is None


def test_the_home_panel_lists_the_fresh_check_in_not_the_voided_one(care):
    row = first_check_in(care.episode)
    recorded_check_in(row, care.counselor)
    row = fresh(row)
    row.voided_at, row.voided_by_id, row.void_reason = NOW, care.counselor.id, REASON
    db.session.flush()
    replacement = aftercare.reopen_check_in(db.session, row)
    db.session.commit()
    due = aftercare.due_check_ins(db.session, care.counselor, row.due_on)
    assert replacement.id in [d.check_in.id for d in due]
    assert row.id not in [d.check_in.id for d in due]


# ---------------------------------------------------------------------------------------------
# The progress report leaves voided records out


def test_the_progress_report_leaves_voided_records_out(ward):
    live = assessed(ward.episode, ward.nurse, at=NOW - timedelta(hours=2), backdate_reason="Late")
    wrong = assessed(ward.episode, ward.nurse, at=NOW - timedelta(hours=1), backdate_reason="Late")
    screen = screened(
        ward.episode, ward.counselor, results={"opiates": "positive"}, action_taken="Discussed"
    )
    for row in (wrong, screen):
        row.voided_at, row.voided_by_id, row.void_reason = NOW, ward.nurse.id, REASON
    db.session.commit()
    scope, start, end = [ward.episode.id], NOW - timedelta(days=1), NOW + timedelta(hours=1)
    scores = client_report._scores(db.session, scope, start, end)
    assert [s.at for s in scores] == [live.assessed_at]
    assert client_report._screens(db.session, ward.person.id, end) == []
    assert db.session.scalar(sa.select(sa.func.count()).select_from(WithdrawalAssessment)) == 2
    assert db.session.scalar(sa.select(sa.func.count()).select_from(DrugScreen)) == 1


def test_nothing_is_ever_deleted(client, auth, ward, methadone):
    dose = given(methadone, ward.nurse, hour=8, witness=ward.witness)
    sign_in(auth, ward.nurse)
    void(client, f"/mar/doses/{dose.id}/void")
    assert db.session.scalar(sa.select(sa.func.count()).select_from(MedicationAdministration)) == 1
    assert not voided_events("medication_administrations.deleted")
    for model in (CheckIn, RelapseEvent):
        assert db.session.scalar(sa.select(sa.func.count()).select_from(model)) == 0

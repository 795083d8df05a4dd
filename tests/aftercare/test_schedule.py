"""The check-in schedule: made on entering aftercare, never duplicated, ended on leaving it;
statuses with a frozen clock; the counselor's list of check-ins due."""

from datetime import date
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.aftercare import services
from casemgr.audit.models import AuditEvent
from casemgr.domain.aftercare import StatusRules, schedule
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.aftercare.helpers import (
    START,
    check_ins,
    into_aftercare,
    move,
    recorded_check_in,
    utc,
)
from tests.clients_helpers import NOW, admitted


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(make):
    return SimpleNamespace(
        manager=make.user(Role.CLINIC_MANAGER), counselor=make.user(Role.COUNSELOR)
    )


@pytest.fixture
def care(staff, frozen):
    """A counselor's client stepped down from rehab to aftercare now (25 November)."""
    _, episode = admitted(staff.manager, staff.counselor, Phase.REHAB)
    into_aftercare(episode, staff.counselor)
    return SimpleNamespace(**vars(staff), episode=episode)


def dates(rows, kind=None):
    return [r.due_on for r in rows if kind is None or r.kind == kind]


def test_entering_aftercare_makes_a_year_of_check_ins(care):
    rows = check_ins(care.episode)
    # Weekly in month 1 (Dec 2-23), fortnightly in months 2-3 (Jan 6 - Feb 17), monthly on
    # the 25th in months 4-12 (Feb 25 - Oct 25): 4 + 4 + 9 routine, and 4 follow-ups.
    assert len(rows) == 21
    assert dates(rows, "routine")[:5] == [
        date(2026, 12, 2),
        date(2026, 12, 9),
        date(2026, 12, 16),
        date(2026, 12, 23),
        date(2027, 1, 6),
    ]
    assert dates(rows, "routine")[-1] == date(2027, 10, 25)
    assert [(r.kind, r.due_on) for r in rows if r.kind != "routine"] == [
        ("followup_30", date(2026, 12, 25)),
        ("followup_90", date(2027, 2, 23)),
        ("followup_180", date(2027, 5, 24)),
        ("followup_365", date(2027, 11, 25)),
    ]
    assert {r.status for r in rows} == {"open"} and all(r.scheduled_on is None for r in rows)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "aftercare.scheduled")
    )
    assert event is not None and '"check_ins":21' in event.detail


@pytest.mark.parametrize(
    "entered, first, last, routine_sample",
    [
        # 31 January: month 1 ends 28 February, then monthly on the last day of shorter months.
        (
            utc(2027, 1, 31, 15),
            date(2027, 2, 7),
            date(2028, 1, 31),
            [date(2027, 4, 30), date(2027, 5, 31), date(2027, 6, 30), date(2027, 12, 31)],
        ),
        # 29 February 2028: the 90-day follow-up falls on the monthly 29 May and replaces it.
        (
            utc(2028, 2, 29, 15),
            date(2028, 3, 7),
            date(2029, 2, 28),
            [date(2028, 6, 29), date(2028, 12, 29), date(2029, 1, 29)],
        ),
    ],
    ids=["31-january", "29-february"],
)
def test_entering_at_the_end_of_a_month(staff, entered, first, last, routine_sample):
    with time_machine.travel(NOW, tick=False):
        _, episode = admitted(staff.manager, staff.counselor, Phase.REHAB)
    with time_machine.travel(entered, tick=False):
        into_aftercare(episode, staff.counselor, entered)
    rows = check_ins(episode)
    start = entered.date()
    assert len(rows) == 20  # 16 routine + 4 follow-ups, by hand: see tests/domain
    assert (rows[0].due_on, rows[0].kind) == (first, "routine")
    assert (rows[-1].due_on, rows[-1].kind) == (last, "followup_365")
    assert set(routine_sample) <= set(dates(rows, "routine"))
    followups = {r.kind: r.due_on for r in rows if r.kind != "routine"}
    assert followups["followup_30"] == date.fromordinal(start.toordinal() + 30)
    assert followups["followup_90"] == date.fromordinal(start.toordinal() + 90)
    assert max(dates(rows)) == last and min(dates(rows)) == first


def test_entering_twice_on_the_same_day_never_duplicates(care):
    first = check_ins(care.episode)[0]
    with time_machine.travel(utc(2026, 11, 25, 15, 30), tick=False):
        recorded_check_in(first, care.counselor, at=utc(2026, 11, 25, 15, 5))  # reached early
        move(care.episode, care.counselor, Phase.REHAB, utc(2026, 11, 25, 15, 10), "Relapse")
        assert [r.id for r in check_ins(care.episode)] == [first.id]  # open ones removed
        into_aftercare(care.episode, care.counselor, utc(2026, 11, 25, 15, 20))
    rows = check_ins(care.episode)
    keys = [(r.kind, r.due_on) for r in rows]
    assert len(keys) == len(set(keys)) == 21
    assert rows[0].id == first.id and rows[0].status == "done"


def test_generating_again_adds_nothing(care):
    added = services.generate_schedule(db.session, care.episode, START, rehab_ended_on=START)
    assert added == [] and len(check_ins(care.episode)) == 21


def test_leaving_and_re_entering_later_starts_a_new_year(care):
    first = check_ins(care.episode)[0]  # due 2 December
    with time_machine.travel(utc(2026, 12, 3, 15), tick=False):
        recorded_check_in(first, care.counselor, at=utc(2026, 12, 2, 15))
        move(care.episode, care.counselor, Phase.REHAB, utc(2026, 12, 3, 14), "Relapse")
    with time_machine.travel(utc(2027, 1, 4, 15), tick=False):
        into_aftercare(care.episode, care.counselor, utc(2027, 1, 4, 15))
    rows = check_ins(care.episode)
    new_year = schedule(date(2027, 1, 4), rehab_ended_on=date(2027, 1, 4))
    assert len(rows) == 1 + len(new_year)
    assert rows[0].id == first.id
    assert [(r.kind, r.due_on) for r in rows[1:]] == [(c.kind, c.due_on) for c in new_year]
    removed = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "aftercare.schedule_ended")
    ).one()
    assert '"removed":20' in removed


@pytest.mark.parametrize(
    "today, first_status, second_status",
    [
        (date(2026, 12, 1), "upcoming", "upcoming"),
        (date(2026, 12, 2), "due", "upcoming"),
        (date(2026, 12, 3), "overdue", "upcoming"),
        (date(2026, 12, 9), "overdue", "due"),
        (date(2026, 12, 10), "missed", "overdue"),  # 8 days after 2 December: past the grace
    ],
)
def test_statuses_follow_the_clock(care, today, first_status, second_status):
    found = services.overview(db.session, care.episode, today, StatusRules(grace_days=7))
    assert [r.status for r in found.check_ins[:2]] == [first_status, second_status]


def test_grace_days_come_from_the_config(app, care):
    app.config["CHECKIN_GRACE_DAYS"] = 3
    rules = services.status_rules()
    found = services.overview(db.session, care.episode, date(2026, 12, 6), rules)
    assert found.check_ins[0].status == "missed"


def test_recorded_check_ins_are_done_or_missed_whatever_the_date(care):
    first, second = check_ins(care.episode)[:2]
    recorded_check_in(first, care.counselor)
    recorded_check_in(second, care.counselor, reached=False)
    found = services.overview(db.session, care.episode, date(2026, 11, 25), StatusRules())
    assert [r.status for r in found.check_ins[:3]] == ["done", "missed", "upcoming"]


def test_a_reschedule_keeps_the_due_date_and_moves_the_status(care):
    first = check_ins(care.episode)[0]
    services.reschedule_check_in(
        db.session, first, date(2026, 12, 5), "Client at work", today=date(2026, 11, 30)
    )
    db.session.commit()
    assert (first.due_on, first.scheduled_on) == (date(2026, 12, 2), date(2026, 12, 5))
    found = services.overview(db.session, care.episode, date(2026, 12, 4), StatusRules())
    assert found.check_ins[0].status == "upcoming"


def test_a_cadence_from_the_config(app, care):
    app.config["AFTERCARE_CADENCE"] = {
        "bands": [{"through_month": 12, "every_months": 3}],
        "followup_days": [30],
    }
    _, episode = admitted(care.manager, care.counselor, Phase.REHAB, legal_first_name="Ari")
    into_aftercare(episode, care.counselor)
    assert [(r.kind, r.due_on) for r in check_ins(episode)] == [
        ("followup_30", date(2026, 12, 25)),
        ("routine", date(2027, 2, 25)),
        ("routine", date(2027, 5, 25)),
        ("routine", date(2027, 8, 25)),
    ]


def test_due_check_ins_for_the_home_page(care, make):
    """Overdue first, then due and upcoming within seven days; missed, recorded, later and
    other counselors' check-ins left out."""
    other = make.user(Role.COUNSELOR)
    _, later = admitted(care.manager, care.counselor, Phase.REHAB, legal_first_name="Bo")
    _, theirs = admitted(care.manager, other, Phase.REHAB, legal_first_name="Cy")
    with time_machine.travel(utc(2026, 11, 28, 15), tick=False):
        into_aftercare(later, care.counselor, utc(2026, 11, 28, 15))  # first due 5 December
        into_aftercare(theirs, other, utc(2026, 11, 28, 15))
    today = date(2026, 12, 10)
    # care.episode: 2 Dec missed (past grace), 9 Dec overdue, 16 Dec upcoming.
    # later: 5 Dec overdue but recorded below, 12 Dec upcoming.
    recorded_check_in(check_ins(later)[0], care.counselor, at=utc(2026, 12, 5, 15))
    found = services.due_check_ins(db.session, care.counselor, today, StatusRules())
    assert [(r.client.legal_first_name, r.target_on, r.status.value) for r in found] == [
        ("Dana", date(2026, 12, 9), "overdue"),
        ("Bo", date(2026, 12, 12), "upcoming"),
        ("Dana", date(2026, 12, 16), "upcoming"),
    ]
    assert found[0].kind_label == "Routine"


def test_due_check_ins_is_one_query(care, count_queries):
    assert care.counselor.id  # loaded before counting, as the signed-in user is on the home page
    with count_queries() as few:
        services.due_check_ins(db.session, care.counselor, date(2026, 12, 2), StatusRules())
    for name in ("Bo", "Cy", "Di"):
        _, episode = admitted(care.manager, care.counselor, Phase.REHAB, legal_first_name=name)
        into_aftercare(episode, care.counselor)
    db.session.expire_all()
    assert care.counselor.id
    with count_queries() as many:
        found = services.due_check_ins(db.session, care.counselor, date(2026, 12, 2), StatusRules())
        assert len({r.client.id for r in found}) == 4
        assert all(r.client.mrn for r in found)
    assert few.count == many.count == 1, many.statements


def test_a_discharge_from_the_episode_page_also_ends_the_schedule(care):
    from casemgr.episodes import services as episodes

    recorded_check_in(check_ins(care.episode)[0], care.counselor)  # recorded: it stays
    episodes.discharge(
        db.session,
        care.episode,
        episodes.DischargeDetails(
            last_contact_on=date(2026, 11, 25),
            discharged_on=date(2026, 11, 25),
            reason_code="4",
            use_frequency="1",
            employment="part_time",
            living_arrangement="independent",
            arrests_30d=0,
            self_help="3",
        ),
        actor=care.counselor,
        now=NOW,
        today=date(2026, 11, 25),
    )
    db.session.commit()
    assert [r.status for r in check_ins(care.episode)] == ["done"]
    ended = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "aftercare.schedule_ended")
    )
    assert ended is not None and '"to":"discharged"' in ended.detail

"""The aftercare year: schedule dates worked out by hand, check-in status at its boundaries,
the sobriety date, relapse responses and the completion rule (no Flask, no clock)."""

from datetime import date, timedelta

import pytest

from casemgr.domain.aftercare import (
    DEFAULT_CADENCE,
    ROUTINE,
    Band,
    Cadence,
    CheckIn,
    CheckInStatus,
    CompletionRule,
    Contact,
    StatusRules,
    add_months,
    check_aftercare_close,
    check_relapse,
    checkin_status,
    completion_allowed_from,
    days_sober,
    implied_phase,
    offered_move,
    reschedule,
    routine_dates,
    schedule,
    sobriety_date,
)
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase

D = date


# --- months ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "months", "expected"),
    [
        (D(2026, 1, 15), 1, D(2026, 2, 15)),
        (D(2026, 1, 31), 1, D(2026, 2, 28)),  # February is shorter: its last day
        (D(2028, 1, 31), 1, D(2028, 2, 29)),  # leap year
        (D(2026, 1, 31), 2, D(2026, 3, 31)),  # counted from the start, so no drift to the 28th
        (D(2026, 1, 31), 3, D(2026, 4, 30)),
        (D(2026, 11, 30), 3, D(2027, 2, 28)),  # across the year end
        (D(2028, 2, 29), 12, D(2029, 2, 28)),
        (D(2028, 2, 29), 48, D(2032, 2, 29)),
        (D(2026, 12, 31), 0, D(2026, 12, 31)),
    ],
)
def test_add_months(start, months, expected):
    assert add_months(start, months) == expected


# --- schedule -------------------------------------------------------------------------------


def test_default_year_from_1_january():
    # Month 1 = [1 Jan, 1 Feb): weekly from the start, 8, 15, 22, 29 Jan (5 Feb is month 2).
    # Months 2-3 = [1 Feb, 1 Apr): every 14 days on from 29 Jan: 12, 26 Feb, 12, 26 Mar.
    # Months 4-12 = [1 Apr, 1 Jan 2027): the monthly anniversaries 1 Apr ... 1 Dec (9).
    weekly = [D(2026, 1, d) for d in (8, 15, 22, 29)]
    fortnightly = [D(2026, 2, 12), D(2026, 2, 26), D(2026, 3, 12), D(2026, 3, 26)]
    monthly = [D(2026, m, 1) for m in range(4, 13)]
    assert routine_dates(D(2026, 1, 1)) == weekly + fortnightly + monthly

    # Follow-ups from the end of rehab (= the start): +30 = 31 Jan, +90 = 1 Apr,
    # +180 = 30 Jun, +365 = 1 Jan 2027. 1 Apr is also a routine date: merged into the follow-up.
    contacts = schedule(D(2026, 1, 1))
    followups = [c for c in contacts if c.kind != ROUTINE]
    assert followups == [
        Contact(D(2026, 1, 31), "followup_30"),
        Contact(D(2026, 4, 1), "followup_90"),
        Contact(D(2026, 6, 30), "followup_180"),
        Contact(D(2027, 1, 1), "followup_365"),
    ]
    routine = [c.due_on for c in contacts if c.kind == ROUTINE]
    assert routine == weekly + fortnightly + monthly[1:]  # 1 Apr went to the follow-up
    assert len(contacts) == 16 + 4
    assert list(contacts) == sorted(contacts)
    assert len({c.due_on for c in contacts}) == len(contacts)  # one contact a day at most


def test_start_on_31_january():
    # Months: 1 = [31 Jan, 28 Feb), 2-3 = [28 Feb, 30 Apr), 4-12 = [30 Apr, 31 Jan 2027).
    # Month 1 has 28 days, so only three weekly contacts: 7, 14, 21 Feb (28 Feb is month 2).
    # Then every 14 days from 21 Feb: 7, 21 Mar, 4, 18 Apr (2 May is past 30 Apr).
    # Monthly on anniversaries, each clamped to the month's end: 30 Apr, 31 May, 30 Jun, ...
    assert routine_dates(D(2026, 1, 31)) == [
        D(2026, 2, 7),
        D(2026, 2, 14),
        D(2026, 2, 21),
        D(2026, 3, 7),
        D(2026, 3, 21),
        D(2026, 4, 4),
        D(2026, 4, 18),
        D(2026, 4, 30),
        D(2026, 5, 31),
        D(2026, 6, 30),
        D(2026, 7, 31),
        D(2026, 8, 31),
        D(2026, 9, 30),
        D(2026, 10, 31),
        D(2026, 11, 30),
        D(2026, 12, 31),
    ]
    # +30 = 2 Mar, +90 = 1 May, +180 = 30 Jul, +365 = 31 Jan 2027: none on a routine date.
    followups = [c.due_on for c in schedule(D(2026, 1, 31)) if c.kind != ROUTINE]
    assert followups == [D(2026, 3, 2), D(2026, 5, 1), D(2026, 7, 30), D(2027, 1, 31)]
    assert len(schedule(D(2026, 1, 31))) == 16 + 4


def test_start_on_29_february_in_a_leap_year():
    # Months from 29 Feb 2028 keep the 29th: 29 Mar, 29 Apr, 29 May, ..., 28 Feb 2029.
    # Month 1 = [29 Feb, 29 Mar): 7, 14, 21, 28 Mar. Months 2-3 = [29 Mar, 29 May): from 28 Mar
    # every 14 days: 11, 25 Apr, 9, 23 May. Months 4-12: 29 May ... 29 Jan 2029 (9 dates).
    start = D(2028, 2, 29)
    assert routine_dates(start) == [
        D(2028, 3, 7),
        D(2028, 3, 14),
        D(2028, 3, 21),
        D(2028, 3, 28),
        D(2028, 4, 11),
        D(2028, 4, 25),
        D(2028, 5, 9),
        D(2028, 5, 23),
        *[D(2028, m, 29) for m in range(5, 13)],
        D(2029, 1, 29),
    ]
    # 365 days after 29 Feb 2028 is 28 Feb 2029, the last day of the aftercare year.
    last = schedule(start)[-1]
    assert last == Contact(D(2029, 2, 28), "followup_365")
    assert last.due_on == add_months(start, 12)


def test_followups_count_from_the_end_of_rehab():
    # Rehab ended 10 days before aftercare began: follow-ups move, routine contacts do not.
    contacts = schedule(D(2026, 1, 11), rehab_ended_on=D(2026, 1, 1))
    assert [c.due_on for c in contacts if c.kind == "followup_30"] == [D(2026, 1, 31)]
    assert [c.due_on for c in contacts if c.kind == "followup_365"] == [D(2027, 1, 1)]
    assert routine_dates(D(2026, 1, 11))[0] == D(2026, 1, 18)


def test_custom_cadence():
    # Every 10 days in month 1 ([1 Mar, 1 Apr)), every two months over months 2-6: the
    # anniversaries 1 Apr, 1 Jun, 1 Aug. Follow-ups only at 60 days: 30 Apr.
    cadence = Cadence(bands=(Band(1, every_days=10), Band(6, every_months=2)), followup_days=(60,))
    assert schedule(D(2026, 3, 1), cadence) == (
        Contact(D(2026, 3, 11), ROUTINE),
        Contact(D(2026, 3, 21), ROUTINE),
        Contact(D(2026, 3, 31), ROUTINE),
        Contact(D(2026, 4, 1), ROUTINE),
        Contact(D(2026, 4, 30), "followup_60"),
        Contact(D(2026, 6, 1), ROUTINE),
        Contact(D(2026, 8, 1), ROUTINE),
    )


def test_monthly_from_the_first_month():
    # A single monthly band never schedules the start day itself.
    cadence = Cadence(bands=(Band(3, every_months=1),), followup_days=())
    assert routine_dates(D(2026, 1, 31), cadence) == [D(2026, 2, 28), D(2026, 3, 31)]


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"bands": ()}, "bands"),
        ({"bands": (Band(3, every_days=7), Band(2, every_days=14))}, "bands"),
        ({"bands": (Band(3, every_days=7), Band(3, every_days=14))}, "bands"),
        ({"followup_days": (30, 30)}, "followup_days"),
        ({"followup_days": (0,)}, "followup_days"),
    ],
)
def test_cadence_refuses_nonsense(kwargs, field):
    with pytest.raises(DomainError) as err:
        Cadence(**kwargs)
    assert err.value.field == field


@pytest.mark.parametrize(
    "kwargs",
    [
        {"through_month": 0, "every_days": 7},
        {"through_month": 1},
        {"through_month": 1, "every_days": 7, "every_months": 1},
        {"through_month": 1, "every_days": 0},
        {"through_month": 1, "every_months": True},
    ],
)
def test_band_refuses_nonsense(kwargs):
    with pytest.raises(DomainError, match="band"):
        Band(**kwargs)


def test_default_cadence_is_the_issue_s():
    assert [(b.through_month, b.every_days, b.every_months) for b in DEFAULT_CADENCE.bands] == [
        (1, 7, None),
        (3, 14, None),
        (12, None, 1),
    ]
    assert DEFAULT_CADENCE.followup_days == (30, 90, 180, 365)


# --- check-in status ------------------------------------------------------------------------

DUE = D(2026, 3, 10)


@pytest.mark.parametrize(
    ("today", "status"),
    [
        (DUE - timedelta(days=1), CheckInStatus.UPCOMING),
        (DUE, CheckInStatus.DUE),
        (DUE + timedelta(days=1), CheckInStatus.OVERDUE),
        (DUE + timedelta(days=7), CheckInStatus.OVERDUE),  # the last day of grace
        (DUE + timedelta(days=8), CheckInStatus.MISSED),
    ],
)
def test_status_boundaries(today, status):
    assert checkin_status(CheckIn(DUE), today) is status


def test_configurable_grace_and_lead():
    rules = StatusRules(grace_days=2, lead_days=3)
    c = CheckIn(DUE)
    assert checkin_status(c, DUE - timedelta(days=4), rules) is CheckInStatus.UPCOMING
    assert checkin_status(c, DUE - timedelta(days=3), rules) is CheckInStatus.DUE
    assert checkin_status(c, DUE + timedelta(days=2), rules) is CheckInStatus.OVERDUE
    assert checkin_status(c, DUE + timedelta(days=3), rules) is CheckInStatus.MISSED
    zero = StatusRules(grace_days=0)
    assert checkin_status(c, DUE + timedelta(days=1), zero) is CheckInStatus.MISSED


@pytest.mark.parametrize("kwargs", [{"grace_days": -1}, {"lead_days": 1.5}, {"grace_days": True}])
def test_status_rules_refuse_nonsense(kwargs):
    with pytest.raises(DomainError):
        StatusRules(**kwargs)


def test_recorded_check_ins_are_done_or_missed_whatever_the_date():
    reached = CheckIn(DUE, recorded_on=DUE, reached=True)
    unreached = CheckIn(DUE, recorded_on=DUE, reached=False)
    early = CheckIn(DUE, recorded_on=DUE - timedelta(days=2), reached=True)
    for today in (DUE - timedelta(days=1), DUE, DUE + timedelta(days=30)):
        assert checkin_status(reached, today) is CheckInStatus.DONE
        assert checkin_status(unreached, today) is CheckInStatus.MISSED
        assert checkin_status(early, today) is CheckInStatus.DONE


def test_rescheduling_keeps_the_original_due_date():
    today = DUE + timedelta(days=3)
    assert checkin_status(CheckIn(DUE), today) is CheckInStatus.OVERDUE
    moved = reschedule(CheckIn(DUE, kind="followup_90"), DUE + timedelta(days=5), today)
    assert moved.due_on == DUE and moved.kind == "followup_90"
    assert moved.rescheduled_to == DUE + timedelta(days=5)
    # The status now runs from the new date: upcoming, due on it, missed 8 days after it.
    assert checkin_status(moved, today) is CheckInStatus.UPCOMING
    assert checkin_status(moved, DUE + timedelta(days=5)) is CheckInStatus.DUE
    assert checkin_status(moved, DUE + timedelta(days=12)) is CheckInStatus.OVERDUE
    assert checkin_status(moved, DUE + timedelta(days=13)) is CheckInStatus.MISSED
    # Moving it again, or back to its own date, still keeps the original.
    again = reschedule(moved, DUE + timedelta(days=9), today)
    assert (again.due_on, again.rescheduled_to) == (DUE, DUE + timedelta(days=9))
    assert reschedule(again, DUE, DUE).rescheduled_to is None


def test_rescheduling_refusals():
    with pytest.raises(DomainError, match="past") as err:
        reschedule(CheckIn(DUE), DUE - timedelta(days=1), DUE)
    assert err.value.field == "rescheduled_to"
    reschedule(CheckIn(DUE), DUE, DUE)  # today is fine
    with pytest.raises(DomainError, match="already recorded"):
        reschedule(CheckIn(DUE, recorded_on=DUE, reached=True), DUE + timedelta(days=1), DUE)


# --- sobriety -------------------------------------------------------------------------------


def test_sobriety_date_is_the_day_after_the_last_known_use():
    # Admission says last use 2 Jan; a lapse on 10 Mar; a positive screen collected 14 Mar.
    # The screen is the latest known use, so sobriety restarts on 15 Mar.
    assert sobriety_date(
        relapses_on=[D(2026, 3, 10)],
        positive_screens_on=[D(2026, 3, 14)],
        last_use_on=D(2026, 1, 2),
    ) == D(2026, 3, 15)
    # Relapse after the screen: the relapse wins. Order of the inputs does not matter.
    assert sobriety_date(
        relapses_on=[D(2026, 5, 1), D(2026, 2, 1)], positive_screens_on=[D(2026, 4, 2)]
    ) == D(2026, 5, 2)
    # Only the admission's last use.
    assert sobriety_date(last_use_on=D(2026, 1, 2)) == D(2026, 1, 3)
    # Across the end of February in a leap year.
    assert sobriety_date(positive_screens_on=[D(2028, 2, 28)]) == D(2028, 2, 29)


def test_no_known_use_means_no_sobriety_date():
    assert sobriety_date() is None
    assert sobriety_date(relapses_on=iter(()), positive_screens_on=()) is None
    assert days_sober(None, D(2026, 3, 1)) is None


def test_days_sober():
    assert days_sober(D(2026, 3, 15), D(2026, 3, 15)) == 0
    assert days_sober(D(2026, 3, 15), D(2026, 3, 16)) == 1
    assert days_sober(D(2026, 1, 1), D(2027, 1, 1)) == 365
    assert days_sober(D(2026, 3, 16), D(2026, 3, 15)) == 0  # used today: never negative


# --- relapses -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("response", "phase"),
    [
        ("return_to_detox", Phase.DETOX),
        ("return_to_rehab", Phase.REHAB),
        ("increased_sessions", None),
        ("referral", None),
        ("none", None),
    ],
)
def test_responses_that_imply_a_phase_move(response, phase):
    assert implied_phase(response) == phase


def test_offered_move_respects_the_journey():
    assert offered_move("return_to_rehab", Phase.AFTERCARE) is Phase.REHAB
    assert offered_move("return_to_detox", Phase.AFTERCARE) is Phase.DETOX
    assert offered_move("return_to_detox", Phase.REHAB) is Phase.DETOX
    assert offered_move("return_to_rehab", Phase.REHAB) is None  # already there
    assert offered_move("return_to_rehab", Phase.DISCHARGED) is None
    assert offered_move("referral", Phase.AFTERCARE) is None


def test_unknown_response_is_a_programming_error():
    with pytest.raises(ValueError):
        implied_phase("jail")


TODAY = D(2026, 6, 1)


def test_check_relapse_accepts_valid_events():
    check_relapse("lapse", TODAY, "none", TODAY)
    check_relapse("relapse", D(2026, 5, 1), "return_to_rehab", TODAY, not_before=D(2026, 5, 1))


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("slip", TODAY, "none"), {}, "kind"),
        (("lapse", TODAY, "prayer"), {}, "response"),
        (("lapse", TODAY + timedelta(days=1), "none"), {}, "used_on"),
        (("lapse", D(2026, 4, 30), "none"), {"not_before": D(2026, 5, 1)}, "used_on"),
    ],
)
def test_check_relapse_refusals(args, kwargs, field):
    with pytest.raises(DomainError) as err:
        check_relapse(*args, TODAY, **kwargs)
    assert err.value.field == field


# --- completion -----------------------------------------------------------------------------

START = D(2026, 1, 1)


def test_completion_from_365_days():
    assert completion_allowed_from(START) == D(2027, 1, 1)
    check_aftercare_close("1", START, D(2027, 1, 1))
    check_aftercare_close("1", START, D(2027, 6, 1))
    with pytest.raises(DomainError, match="from 2027-01-01") as err:
        check_aftercare_close("1", START, D(2026, 12, 31))
    assert err.value.field == "reason_code"
    assert "run 364" in str(err.value)


def test_leap_year_completion_counts_days_not_months():
    # 1 Mar 2027 + 365 days = 29 Feb 2028 (a day before the calendar anniversary).
    check_aftercare_close("1", D(2027, 3, 1), D(2028, 2, 29))
    with pytest.raises(DomainError):
        check_aftercare_close("1", D(2027, 3, 1), D(2028, 2, 28))


@pytest.mark.parametrize("code", ["2", "3", "4", "5", "6", "7"])
def test_other_reasons_close_at_any_time(code):
    check_aftercare_close(code, START, START)
    check_aftercare_close(code, START, D(2026, 2, 1))


def test_close_refusals():
    with pytest.raises(DomainError) as err:
        check_aftercare_close("9", START, D(2027, 2, 1))
    assert err.value.field == "reason_code"
    with pytest.raises(DomainError) as err:
        check_aftercare_close("2", START, D(2025, 12, 31))
    assert err.value.field == "discharged_on"


def test_configurable_completion():
    rule = CompletionRule(min_days=180)
    check_aftercare_close("1", START, START + timedelta(days=180), rule)
    with pytest.raises(DomainError):
        check_aftercare_close("1", START, START + timedelta(days=179), rule)
    with pytest.raises(DomainError):
        CompletionRule(min_days=0)

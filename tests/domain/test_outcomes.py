"""Outcome figures on a small hand-built cohort; every answer is worked out by hand below."""

from dataclasses import replace
from datetime import date

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.outcomes import (
    FOLLOWUP_DAYS,
    RETENTION_DAYS,
    Cohort,
    Count,
    EpisodeFacts,
    Figure,
    FollowUpFacts,
    Median,
    Period,
    PhaseSpan,
    administrative_discharge_rate,
    admissions,
    against_advice_rate,
    completion_rate,
    discharges,
    discharges_by_reason,
    followup_no_use,
    followup_reached,
    median_stay,
    readmissions,
    report,
    retention,
)
from casemgr.domain.phases import Phase

D = date
IN, DX, RH, AC = Phase.INTAKE, Phase.DETOX, Phase.REHAB, Phase.AFTERCARE


def span(phase, start, end=None):
    return PhaseSpan(phase, start, end)


# The range is the first half of 2025. Episodes (client, counselor, level of care):
E1 = EpisodeFacts(  # client 1, completed in range
    1, 1, D(2025, 1, 10), D(2025, 5, 10), "1",
    (span(IN, D(2025, 1, 10), D(2025, 1, 11)),   # 1 day
     span(DX, D(2025, 1, 11), D(2025, 1, 16)),   # 5
     span(RH, D(2025, 1, 16), D(2025, 4, 16)),   # 90
     span(AC, D(2025, 4, 16), D(2025, 5, 10))),  # 24
    "3.5", 100,
)  # fmt: skip
E2 = EpisodeFacts(  # client 2, left against advice in range
    2, 2, D(2025, 2, 1), D(2025, 2, 20), "2",
    (span(IN, D(2025, 2, 1), D(2025, 2, 1)),     # 0 days, counted as 1
     span(DX, D(2025, 2, 1), D(2025, 2, 6)),     # 5
     span(RH, D(2025, 2, 6), D(2025, 2, 20))),   # 14
    "3.5", 101,
)  # fmt: skip
E3 = EpisodeFacts(  # client 3, terminated by the facility in range
    3, 3, D(2025, 3, 1), D(2025, 3, 15), "3",
    (span(IN, D(2025, 3, 1), D(2025, 3, 2)),     # 1
     span(RH, D(2025, 3, 2), D(2025, 3, 15))),   # 13
    "3.7", 100,
)  # fmt: skip
E4 = EpisodeFacts(  # client 4, admitted in range, still in rehab
    4, 4, D(2025, 4, 1), None, None,
    (span(IN, D(2025, 4, 1), D(2025, 4, 2)),     # 1
     span(DX, D(2025, 4, 2), D(2025, 4, 9)),     # 7
     span(RH, D(2025, 4, 9))),                   # open: left out
    "3.7", 101,
)  # fmt: skip
E5 = EpisodeFacts(  # client 2 again: readmitted 162 days after E2's discharge
    5, 2, D(2025, 8, 1), None, None, (span(IN, D(2025, 8, 1)),), "3.5", 100,
)  # fmt: skip
E6 = EpisodeFacts(  # client 5, admitted before the range, completed on its last day
    6, 5, D(2024, 11, 1), D(2025, 6, 30), "1",
    (span(RH, D(2024, 11, 1), D(2025, 3, 1)),    # 30 + 31 + 31 + 28 = 120
     span(AC, D(2025, 3, 1), D(2025, 6, 30))),   # 31 + 30 + 31 + 29 = 121
    "3.5", 100,
)  # fmt: skip
E7 = EpisodeFacts(  # client 6, admitted in range, transferred after it
    7, 6, D(2025, 6, 15), D(2025, 7, 20), "4",
    (span(RH, D(2025, 6, 15), D(2025, 7, 20)),), "1", 101,
)  # fmt: skip
E8 = EpisodeFacts(  # client 3 again: 366 days after E3's discharge (one day too late)
    8, 3, D(2026, 3, 16), None, None, (), "3.7", 102,
)  # fmt: skip

FOLLOWUPS = (
    FollowUpFacts(1, 30, D(2025, 5, 16), reached=True, days_used_last_30=None),  # use unknown
    FollowUpFacts(1, 90, D(2025, 7, 15), reached=True, days_used_last_30=2),  # after the range
    FollowUpFacts(6, 30, D(2025, 3, 31), reached=True, days_used_last_30=0),
    FollowUpFacts(6, 90, D(2025, 5, 30), reached=False),
    FollowUpFacts(6, 180, D(2025, 8, 28), reached=True, days_used_last_30=0),  # after the range
)

COHORT = Cohort(episodes=(E1, E2, E3, E4, E5, E6, E7, E8), followups=FOLLOWUPS)
H1 = Period(D(2025, 1, 1), D(2025, 6, 30))
LATER = D(2026, 12, 31)  # every window has closed
EMPTY = Cohort()


def test_admissions():
    # Admitted 1 Jan-30 Jun 2025: E1, E2, E3, E4, E7. E6 (2024), E5 (Aug), E8 (2026) are not.
    assert admissions(COHORT, H1) == Count("admissions", "Admissions", 5)
    assert admissions(EMPTY, H1).n == 0


def test_discharges_by_reason():
    # Discharged in range: E1 (1), E2 (2), E3 (3), E6 (1, on the range's last day) = 4.
    # E7 left on 20 Jul, after the range.
    assert discharges(COHORT, H1).n == 4
    counts = {f.key: (f.numerator, f.denominator) for f in discharges_by_reason(COHORT, H1)}
    assert counts == {
        "reason_1": (2, 4),
        "reason_2": (1, 4),
        "reason_3": (1, 4),
        "reason_4": (0, 4),
        "reason_5": (0, 4),
        "reason_6": (0, 4),
        "reason_7": (0, 4),
    }


def test_completion_against_advice_and_administrative_rates():
    # 2 of 4 completed -> 50 %; 1 of 4 left against advice -> 25 %; 1 of 4 terminated -> 25 %.
    completed = completion_rate(COHORT, H1)
    assert (completed.numerator, completed.denominator, completed.rate) == (2, 4, 0.5)
    assert completed.text == "2 of 4 (50%)"
    assert against_advice_rate(COHORT, H1).rate == 0.25
    assert administrative_discharge_rate(COHORT, H1).rate == 0.25
    # The second half of 2025: only E7's transfer -> 0 of 1 completed, not "no data".
    h2 = Period(D(2025, 7, 1), D(2025, 12, 31))
    assert completion_rate(COHORT, h2).text == "0 of 1 (0%)"


def test_median_stay_per_phase():
    # Spans ending in range (open spans left out):
    #   intake    E1 1, E2 1 (0 days counts as 1), E3 1, E4 1  -> median 1,  n 4
    #   detox     E1 5, E2 5, E4 7                             -> median 5,  n 3
    #   rehab     E1 90, E2 14, E3 13, E6 120 (E4 open, E7 Jul) -> (14 + 90) / 2 = 52, n 4
    #   aftercare E1 24, E6 121                                -> (24 + 121) / 2 = 72.5, n 2
    assert median_stay(COHORT, H1) == (
        Median("stay_intake", "Intake stay", 1, 4),
        Median("stay_detox", "Detox stay", 5, 3),
        Median("stay_rehab", "Rehab stay", 52, 4),
        Median("stay_aftercare", "Aftercare stay", 72.5, 2),
    )


def test_median_stay_with_no_ended_spans():
    assert all(m.days is None and m.n == 0 for m in median_stay(EMPTY, H1))
    only_open = Cohort((E5,))
    assert all(m.n == 0 for m in median_stay(only_open, Period(D(2025, 1, 1), D(2030, 1, 1))))


def test_retention_with_every_window_closed():
    # Admitted in range: E1, E2, E3, E4, E7 (5). Still in treatment on admission + N days?
    #   30:  E1 yes (out 10 May), E2 no (20 Feb < 3 Mar), E3 no (15 Mar < 31 Mar),
    #        E4 yes (open), E7 yes (20 Jul >= 15 Jul)                      -> 3 of 5, 60 %
    #   90:  E1 yes (10 May >= 10 Apr), E4 yes, E7 no (20 Jul < 13 Sep)   -> 2 of 5, 40 %
    #   180: E1 no (10 May < 9 Jul), E4 yes                               -> 1 of 5, 20 %
    got = [retention(COHORT, H1, n, as_of=LATER) for n in (30, 90, 180)]
    assert [(f.numerator, f.denominator) for f in got] == [(3, 5), (2, 5), (1, 5)]
    assert [f.key for f in got] == ["retention_30", "retention_90", "retention_180"]


def test_retention_leaves_out_admissions_too_recent_to_count():
    # As of 1 Jul 2025, E7 (15 Jun + 30 = 15 Jul) has not reached day 30: 4 eligible, E1 and
    # E4 kept -> 2 of 4. Nobody has reached day 180 (E1's is 9 Jul) -> no data.
    assert retention(COHORT, H1, 30, as_of=D(2025, 7, 1)).text == "2 of 4 (50%)"
    none_yet = retention(COHORT, H1, 180, as_of=D(2025, 7, 1))
    assert (none_yet.denominator, none_yet.rate, none_yet.text) == (0, None, "no data (n = 0)")


def test_retention_boundary_day():
    # Discharged exactly on day 30 was still in treatment that day; the day before was not.
    on_day = EpisodeFacts(1, 1, D(2025, 1, 1), D(2025, 1, 31), "1")
    day_before = EpisodeFacts(2, 2, D(2025, 1, 1), D(2025, 1, 30), "2")
    fig = retention(Cohort((on_day, day_before)), H1, 30, as_of=D(2025, 1, 31))
    assert (fig.numerator, fig.denominator) == (1, 2)
    # Day 30 is 31 Jan: as of 30 Jan neither episode counts yet.
    assert retention(Cohort((on_day,)), H1, 30, as_of=D(2025, 1, 30)).denominator == 0


def test_follow_ups_reached_and_no_use():
    # 30-day follow-ups due in range: E1 (16 May, reached, use unknown) and E6 (31 Mar,
    # reached, 0 days) -> reached 2 of 2; no use 1 of 2 (unknown is not counted as no use).
    # 90-day: E6 only (30 May, not reached; E1's is in July) -> reached 0 of 1; no use 0 of 0.
    # 180 and 365: none due in range -> no data.
    reached = {n: followup_reached(COHORT, H1, n, as_of=LATER) for n in (30, 90, 180, 365)}
    no_use = {n: followup_no_use(COHORT, H1, n, as_of=LATER) for n in (30, 90, 180, 365)}
    assert {n: (f.numerator, f.denominator) for n, f in reached.items()} == {
        30: (2, 2),
        90: (0, 1),
        180: (0, 0),
        365: (0, 0),
    }
    assert {n: (f.numerator, f.denominator) for n, f in no_use.items()} == {
        30: (1, 2),
        90: (0, 0),
        180: (0, 0),
        365: (0, 0),
    }
    assert reached[90].text == "0 of 1 (0%)" and no_use[90].rate is None
    assert reached[30].key == "followup_30_reached" and no_use[30].key == "followup_30_no_use"


def test_follow_ups_not_yet_due_are_left_out():
    # As of 20 May 2025 the 90-day one (30 May) is not due yet.
    assert followup_reached(COHORT, H1, 90, as_of=D(2025, 5, 20)).denominator == 0
    assert followup_reached(COHORT, H1, 30, as_of=D(2025, 5, 20)).denominator == 2
    assert followup_reached(COHORT, H1, 30, as_of=D(2025, 5, 15)).denominator == 1


def test_readmissions():
    # Discharged in range, none died, all windows closed by the end of 2026: E1, E2, E3, E6.
    # Client 2 (E2, out 20 Feb 2025) came back on 1 Aug 2025 (E5): readmitted.
    # Client 3 (E3, out 15 Mar 2025) came back on 16 Mar 2026, 366 days later: not counted.
    # Clients 1 and 5 did not come back. -> 1 of 4, 25 %.
    assert readmissions(COHORT, H1, as_of=LATER).text == "1 of 4 (25%)"
    # Readmitted on day 365 itself (15 Mar 2026) counts -> 2 of 4.
    on_time = replace(E8, admitted_on=D(2026, 3, 15))
    cohort = Cohort((E1, E2, E3, E5, E6, on_time))
    assert readmissions(cohort, H1, as_of=LATER).numerator == 2


def test_readmission_window_must_have_closed():
    # As of 1 Mar 2026 only E2's window (to 20 Feb 2026) has closed, and E2 came back -> 1 of 1.
    assert readmissions(COHORT, H1, as_of=D(2026, 3, 1)).text == "1 of 1 (100%)"
    assert readmissions(COHORT, H1, as_of=D(2025, 7, 1)).rate is None


def test_deaths_are_not_in_the_readmission_denominator():
    died = EpisodeFacts(9, 9, D(2025, 1, 1), D(2025, 2, 1), "6")
    assert readmissions(Cohort((died,)), H1, as_of=LATER).denominator == 0
    assert discharges(Cohort((died,)), H1).n == 1  # still a discharge


def test_readmission_ignores_the_episode_itself_and_earlier_admissions():
    earlier = EpisodeFacts(10, 7, D(2024, 1, 1), D(2024, 6, 1), "2")
    later = EpisodeFacts(11, 7, D(2025, 1, 5), D(2025, 2, 5), "1")
    # Episode 11 (out 5 Feb 2025) has no admission after it; 10 is before it.
    fig = readmissions(Cohort((earlier, later)), H1, as_of=LATER)
    assert (fig.numerator, fig.denominator) == (0, 1)
    # Readmitted the same day as the discharge counts.
    same_day = EpisodeFacts(12, 7, D(2025, 2, 5))
    assert readmissions(Cohort((later, same_day)), H1, as_of=LATER).numerator == 1


def test_filter_by_counselor():
    # Counselor 100: E1, E3, E5, E6. Admitted in range: E1, E3 -> 2.
    # Discharged in range: E1 (1), E3 (3), E6 (1) -> completed 2 of 3, terminated 1 of 3.
    mine = COHORT.filtered(counselor_id=100)
    assert [e.episode_id for e in mine.episodes] == [1, 3, 5, 6]
    assert admissions(mine, H1).n == 2
    assert completion_rate(mine, H1).text == "2 of 3 (67%)"
    assert administrative_discharge_rate(mine, H1).text == "1 of 3 (33%)"
    assert against_advice_rate(mine, H1).text == "0 of 3 (0%)"
    # Their follow-ups come along: E1 and E6 are both counselor 100's.
    assert followup_reached(mine, H1, 30, as_of=LATER).denominator == 2


def test_filtered_readmissions_search_every_episode():
    # Counselor 101: E2, E4, E7. E2's client was readmitted (E5) under counselor 100: it still
    # counts -> 1 of 1. No follow-ups belong to counselor 101 -> no data.
    theirs = COHORT.filtered(counselor_id=101)
    assert [e.episode_id for e in theirs.episodes] == [2, 4, 7]
    assert readmissions(theirs, H1, as_of=LATER).text == "1 of 1 (100%)"
    assert followup_reached(theirs, H1, 30, as_of=LATER).text == "no data (n = 0)"


def test_filter_by_level_of_care_and_both():
    # Level 3.7: E3, E4, E8. Admitted in range E3, E4; discharged E3 (terminated) -> 1 of 1.
    high = COHORT.filtered(level_of_care="3.7")
    assert admissions(high, H1).n == 2
    assert administrative_discharge_rate(high, H1).text == "1 of 1 (100%)"
    # Level 3.5 and counselor 100: E1, E5, E6; filtering in two steps gives the same cohort
    # and still searches every episode for readmissions.
    both = COHORT.filtered(level_of_care="3.5", counselor_id=100)
    stepwise = COHORT.filtered(counselor_id=100).filtered(level_of_care="3.5")
    assert [e.episode_id for e in both.episodes] == [1, 5, 6]
    assert both == stepwise
    assert both.search_pool == COHORT.episodes
    # A filter nobody matches: every rate is "no data".
    nobody = COHORT.filtered(counselor_id=999)
    assert all(f.rate is None for f in report(nobody, H1, as_of=LATER) if isinstance(f, Figure))


def test_report_lists_every_figure_once():
    figures = report(COHORT, H1, as_of=LATER)
    keys = [f.key for f in figures]
    assert len(keys) == len(set(keys)) == 2 + 3 + 7 + 4 + 3 + 4 + 4 + 1
    assert keys[:5] == [
        "admissions",
        "discharges",
        "completion_rate",
        "against_advice_rate",
        "administrative_rate",
    ]
    assert keys[-1] == "readmission_365"
    assert RETENTION_DAYS == (30, 90, 180) and FOLLOWUP_DAYS == (30, 90, 180, 365)


def test_empty_cohort_has_no_data_anywhere():
    for fig in report(EMPTY, H1, as_of=LATER):
        if isinstance(fig, Figure):
            assert fig.denominator == 0 and fig.rate is None and fig.text.startswith("no data")
        elif isinstance(fig, Median):
            assert fig.days is None and fig.n == 0
        else:
            assert fig.n == 0


def test_period():
    assert D(2025, 1, 1) in H1 and D(2025, 6, 30) in H1
    assert D(2024, 12, 31) not in H1 and None not in H1
    Period(D(2025, 1, 1), D(2025, 1, 1))
    with pytest.raises(DomainError) as err:
        Period(D(2025, 1, 2), D(2025, 1, 1))
    assert err.value.field == "end"


def test_facts_refuse_impossible_episodes():
    with pytest.raises(ValueError, match="reason"):
        EpisodeFacts(1, 1, D(2025, 1, 1), D(2025, 2, 1))
    with pytest.raises(ValueError, match="reason"):
        EpisodeFacts(1, 1, D(2025, 1, 1), None, "1")
    with pytest.raises(ValueError, match="before it was admitted"):
        EpisodeFacts(1, 1, D(2025, 1, 2), D(2025, 1, 1), "1")
    with pytest.raises(ValueError, match="ends before"):
        PhaseSpan("rehab", D(2025, 1, 2), D(2025, 1, 1))
    assert PhaseSpan("rehab", D(2025, 1, 1)).phase is Phase.REHAB

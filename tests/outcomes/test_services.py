"""Loading the cohort (facts only) and the pieces of the page and CSV, without HTTP."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from casemgr.domain import outcomes as o
from casemgr.domain.outcomes import Count, Figure, Median, Period, PhaseSpan
from casemgr.domain.phases import Phase
from casemgr.extensions import db
from casemgr.outcomes import queries, services
from tests.outcomes.conftest import D

NY = ZoneInfo("America/New_York")
IN, DX, RH, AC, OUT = Phase.INTAKE, Phase.DETOX, Phase.REHAB, Phase.AFTERCARE, Phase.DISCHARGED
P = Period(D(2025, 1, 1), D(2025, 6, 30))


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# ------------------------------------------------------------------------ phase spans


def test_each_change_opens_a_span_that_the_next_closes_on_local_dates():
    changes = [
        (IN, utc("2025-01-10 15:00")),
        (DX, utc("2025-01-12 03:30")),  # 22:30 on the 11th in New York
        (RH, utc("2025-01-17 15:00")),
    ]
    spans = queries.phase_spans(changes, admitted_on=D(2025, 1, 10), discharged_on=None, tz=NY)
    assert spans == (
        PhaseSpan(IN, D(2025, 1, 10), D(2025, 1, 11)),
        PhaseSpan(DX, D(2025, 1, 11), D(2025, 1, 17)),
        PhaseSpan(RH, D(2025, 1, 17), None),  # still in rehab
    )


def test_admission_and_discharge_dates_come_from_the_episode():
    changes = [
        (IN, utc("2025-02-02 15:00")),  # entered the day after the admission
        (RH, utc("2025-02-03 15:00")),
        (OUT, utc("2025-02-24 15:00")),  # entered four days after the discharge
    ]
    spans = queries.phase_spans(
        changes, admitted_on=D(2025, 2, 1), discharged_on=D(2025, 2, 20), tz=NY
    )
    assert spans == (
        PhaseSpan(IN, D(2025, 2, 1), D(2025, 2, 3)),
        PhaseSpan(RH, D(2025, 2, 3), D(2025, 2, 20)),
    )  # and no span for "discharged"


def test_dates_never_run_backwards():
    changes = [(IN, utc("2025-03-01 15:00")), (RH, utc("2025-03-05 15:00"))]
    changes.append((OUT, utc("2025-03-06 15:00")))
    # A discharge dated before the last move, and an admission dated after the first move.
    spans = queries.phase_spans(
        changes, admitted_on=D(2025, 3, 8), discharged_on=D(2025, 3, 4), tz=NY
    )
    assert spans == (
        PhaseSpan(IN, D(2025, 3, 8), D(2025, 3, 8)),
        PhaseSpan(RH, D(2025, 3, 8), D(2025, 3, 8)),
    )


def test_no_changes_no_spans():
    assert queries.phase_spans([], admitted_on=D(2025, 1, 1), discharged_on=None, tz=NY) == ()


# ------------------------------------------------------------------------ loading


def test_the_cohort_holds_the_facts_of_the_relevant_episodes(app, cohort, staff):
    loaded = queries.load_cohort(db.session, P, NY)
    by_id = {e.episode_id: e for e in loaded.episodes}
    c = cohort
    # E3 (admitted after P) is no part of the cohort, but it is searched for readmissions.
    assert set(by_id) == {c.e1.id, c.e2.id, c.e4.id, c.e5.id, c.e6.id}
    assert {e.episode_id for e in loaded.everyone} == set(by_id) | {c.e3.id}
    e1 = by_id[c.e1.id]
    assert e1.level_of_care == "3.5"  # at admission, not the later level 1
    assert e1.counselor_id == staff.c1.id
    assert (e1.discharged_on, e1.discharge_reason_code) == (D(2025, 5, 20), "1")
    assert [(s.phase, s.start, s.end) for s in e1.phase_spans] == [
        (IN, D(2025, 1, 10), D(2025, 1, 12)),
        (DX, D(2025, 1, 12), D(2025, 1, 17)),
        (RH, D(2025, 1, 17), D(2025, 3, 17)),
        (AC, D(2025, 3, 17), D(2025, 5, 20)),
    ]
    assert by_id[c.e4.id].phase_spans[-1] == PhaseSpan(RH, D(2024, 12, 8), D(2025, 3, 1))
    # Follow-ups due in P only: E1's 30 and 90-day, E6's 30-day.
    assert sorted((f.episode_id, f.kind, f.reached) for f in loaded.followups) == sorted(
        [(c.e1.id, 30, True), (c.e1.id, 90, True), (c.e6.id, 30, False)]
    )


def test_an_episode_outside_the_range_but_with_a_follow_up_due_in_it_is_loaded(app, cohort):
    later = Period(D(2025, 9, 1), D(2025, 9, 30))  # E1's 180-day follow-up is due 09-13
    loaded = queries.load_cohort(db.session, later, NY)
    # E1 was discharged in May; E3 and E6 are in treatment in September.
    assert {e.episode_id for e in loaded.episodes} == {cohort.e1.id, cohort.e3.id, cohort.e6.id}
    assert [(f.kind, f.due_on) for f in loaded.followups] == [(180, D(2025, 9, 13))]


def test_filter_choices(app, cohort, staff):
    assert queries.level_codes(db.session) == ["1", "3.5", "3.7"]  # ASAM order
    names = [u.full_name for u in queries.counselors(db.session)]
    assert names == ["Casey Counselor", "Morgan Counselor"]


# ------------------------------------------------------------------------ the page's words


@pytest.mark.parametrize(
    "today, start, end",
    [
        (D(2026, 11, 25), D(2025, 11, 25), D(2026, 11, 24)),
        (D(2026, 1, 1), D(2025, 1, 1), D(2025, 12, 31)),
        (D(2028, 3, 1), D(2027, 3, 1), D(2028, 2, 29)),  # ends on a leap day
        (D(2029, 3, 1), D(2028, 2, 29), D(2029, 2, 28)),
    ],
)
def test_the_default_range_is_the_twelve_months_ending_yesterday(today, start, end):
    assert services.default_period(today) == Period(start, end)


def test_results_never_show_a_rate_without_its_n():
    assert services.result_text(Count("admissions", "Admissions", 0)) == "0"
    assert services.result_text(Figure("x", "X", 2, 3)) == "2 of 3 (67%)"
    assert services.result_text(Figure("x", "X", 0, 0)) == "no data (n = 0)"
    assert services.result_text(Median("stay_rehab", "Rehab stay", 44.5, 4)) == (
        "44.5 days (n = 4)"
    )
    assert services.result_text(Median("stay_rehab", "Rehab stay", 64, 1)) == "64 days (n = 1)"
    assert services.result_text(Median("stay_rehab", "Rehab stay", None, 0)) == "no data (n = 0)"


def test_every_figure_has_its_definition_from_the_domain():
    figures = o.report(o.Cohort(), P, as_of=D(2026, 11, 25))
    names = {services.definition_name(f.key) for f in figures}
    assert names == set(services.definitions())
    for name, paragraphs in services.definitions().items():
        assert paragraphs and all("`" not in p and "\n" not in p for p in paragraphs), name
    assert services.definitions()["stay"][0].startswith("Median length of stay per phase")
    assert len(services.definitions()["stay"]) == 2  # the docstring's two paragraphs
    assert "on or before the report date" in " ".join(services.definitions()["retention"])


def test_csv_cells_are_neutralised_against_formulas():
    selection = services.Selection(P, None, 7, '=HYPERLINK("http://x")')
    page = services.Outcomes(selection, D(2026, 11, 25), (Count("admissions", "Admissions", 1),))
    (row,) = services.csv_rows(page)
    assert row[-1] == '\'=HYPERLINK("http://x")'


def test_chart_inputs_follow_the_figures():
    page = services.Outcomes(
        services.Selection(P),
        D(2026, 11, 25),
        o.report(o.Cohort(), P, as_of=D(2026, 11, 25)),
    )
    bars = services.discharge_bars(page)
    assert [b.label for b in bars][:2] == [
        "1 Treatment completed",
        "2 Left against professional advice / dropped out",
    ]
    retention, reached = services.engagement_groups(page)
    assert [b.label for b in retention.bars] == ["30 days", "90 days", "180 days"]
    assert [b.label for b in reached.bars] == ["30 days", "90 days", "180 days", "365 days"]
    assert all(b.denominator == 0 for b in reached.bars)

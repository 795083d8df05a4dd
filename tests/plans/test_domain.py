"""When a treatment-plan review is due: pure rules, no app."""

from datetime import date

import pytest

from casemgr.domain.plans import (
    DEFAULT_REVIEW_DAYS,
    ObjectiveStatus,
    review_due,
    review_interval,
    review_overdue,
)

INTERVALS = {"default": 30, "3.7": 14, "1": 90}


@pytest.mark.parametrize(
    "level, days",
    [("3.7", 14), ("1", 90), ("2.1", 30), (None, 30), ("", 30)],
)
def test_the_interval_follows_the_level_of_care(level, days):
    assert review_interval(level, INTERVALS) == days


def test_without_a_default_the_interval_is_thirty_days():
    assert DEFAULT_REVIEW_DAYS == 30
    assert review_interval("3.5", {}) == 30
    assert review_interval("3.5", {"3.7": 14}) == 30


@pytest.mark.parametrize(
    "signed, level, due",
    [
        (date(2026, 11, 25), None, date(2026, 12, 25)),
        (date(2026, 11, 25), "3.7", date(2026, 12, 9)),
        (date(2026, 12, 15), "1", date(2027, 3, 15)),  # across the new year
        (date(2028, 2, 1), None, date(2028, 3, 2)),  # a leap-year February
    ],
)
def test_review_due_date(signed, level, due):
    assert review_due(signed, level, INTERVALS) == due


@pytest.mark.parametrize(
    "due, today, overdue",
    [
        (date(2026, 12, 25), date(2026, 12, 24), False),
        (date(2026, 12, 25), date(2026, 12, 25), False),  # due today is not yet overdue
        (date(2026, 12, 25), date(2026, 12, 26), True),
        (None, date(2026, 12, 26), False),  # a draft has no review date
    ],
)
def test_review_overdue(due, today, overdue):
    assert review_overdue(due, today) is overdue


def test_objective_statuses_read_as_words():
    assert [s.label for s in ObjectiveStatus] == [
        "Not started",
        "In progress",
        "Achieved",
        "Revised",
        "Discontinued",
    ]

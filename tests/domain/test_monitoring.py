"""Assessment schedule, overdue and board order with fixed, timezone-aware times (no clock)."""

from datetime import UTC, datetime, timedelta, timezone

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.monitoring import (
    DEFAULT_INTERVALS,
    Due,
    Intervals,
    board_order,
    due,
    interval_for,
    is_overdue,
    next_due,
)

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
H = timedelta(hours=1)


def test_defaults():
    assert DEFAULT_INTERVALS.routine == 4 * H
    assert DEFAULT_INTERVALS.close == H
    assert DEFAULT_INTERVALS.close_from == 25


@pytest.mark.parametrize(
    ("total", "interval"),
    [(None, 4 * H), (0, 4 * H), (24, 4 * H), (25, H), (36, H), (48, H)],
)
def test_interval_tightens_from_cows_25(total, interval):
    assert interval_for(total) == interval
    assert (
        next_due(NOW - 30 * timedelta(minutes=1), total, NOW)
        == NOW - timedelta(minutes=30) + interval
    )


@pytest.mark.parametrize("total", [-1, 49, 10**9, True, "25", 25.0])
def test_interval_refuses_impossible_totals(total):
    with pytest.raises(ValueError, match="COWS total"):
        interval_for(total)


def test_routine_schedule_and_overdue():
    last = NOW - 4 * H
    assert next_due(last, 10, NOW) == NOW
    assert not is_overdue(last, 10, NOW)  # due exactly now is not yet late
    assert is_overdue(last, 10, NOW + timedelta(seconds=1))
    assert not is_overdue(NOW - 3 * H, 10, NOW)


def test_severe_withdrawal_is_overdue_sooner():
    last = NOW - 90 * timedelta(minutes=1)
    assert is_overdue(last, 25, NOW)
    assert not is_overdue(last, 24, NOW)


def test_never_assessed_is_due_now_and_overdue():
    assert next_due(None, None, NOW) == NOW
    assert is_overdue(None, None, NOW)
    d = due(None, None, NOW)
    assert d == Due(due_at=NOW, overdue=True, overdue_by=timedelta(0))


def test_configurable_intervals():
    custom = Intervals(routine=6 * H, close=2 * H, close_from=13)
    assert next_due(NOW, 12, NOW, custom) == NOW + 6 * H
    assert next_due(NOW, 13, NOW, custom) == NOW + 2 * H
    assert is_overdue(NOW - 3 * H, 20, NOW, custom)
    assert not is_overdue(NOW - 3 * H, 20, NOW)  # 20 is below the default 25: routine


@pytest.mark.parametrize(
    "kwargs",
    [
        {"routine": timedelta(0)},
        {"close": -H},
        {"routine": H, "close": 2 * H},
        {"routine": 4},
        {"close_from": 49},
        {"close_from": -1},
        {"close_from": True},
    ],
)
def test_intervals_refuse_nonsense(kwargs):
    with pytest.raises(DomainError):
        Intervals(**kwargs)


def test_other_timezones_compare_by_instant():
    eastern = timezone(timedelta(hours=-5))
    last = datetime(2026, 3, 10, 4, 0, tzinfo=eastern)  # 09:00 UTC
    assert next_due(last, 5, NOW) == datetime(2026, 3, 10, 13, 0, tzinfo=UTC)
    assert not is_overdue(last, 5, NOW)
    assert is_overdue(last, 30, NOW)


def test_naive_datetimes_are_refused():
    naive = datetime(2026, 3, 10, 12, 0)
    with pytest.raises(ValueError, match="now must be a timezone-aware"):
        next_due(NOW - H, 5, naive)
    with pytest.raises(ValueError, match="last_assessed_at must be a timezone-aware"):
        is_overdue(naive, 5, NOW)
    with pytest.raises(ValueError):
        next_due(None, None, naive)


def test_due_reports_how_late():
    d = due(NOW - 5 * H, 10, NOW)
    assert d == Due(due_at=NOW - H, overdue=True, overdue_by=H)
    d = due(NOW - H, 10, NOW)
    assert d == Due(due_at=NOW + 3 * H, overdue=False, overdue_by=timedelta(0))


def test_board_order_overdue_first_then_soonest_due():
    rows = [
        ("calm, due in 3h", NOW - H, 5),
        ("severe, 2h overdue", NOW - 3 * H, 30),
        ("never assessed", None, None),
        ("due in 1h", NOW - 3 * H, 10),
        ("routine, 1h overdue", NOW - 5 * H, 10),
        ("severe, due in 30m", NOW - timedelta(minutes=30), 40),
        ("due exactly now", NOW - 4 * H, 0),
    ]
    ordered = board_order(rows, lambda r: due(r[1], r[2], NOW))
    assert [r[0] for r in ordered] == [
        "severe, 2h overdue",
        "routine, 1h overdue",
        "never assessed",
        "due exactly now",
        "severe, due in 30m",
        "due in 1h",
        "calm, due in 3h",
    ]


def test_board_order_keeps_given_order_on_ties():
    rows = ["b", "a", "c"]
    same = Due(due_at=NOW, overdue=False, overdue_by=timedelta(0))
    assert board_order(rows, lambda r: same) == ["b", "a", "c"]
    assert board_order([], lambda r: same) == []

"""When each client in detox is next due a withdrawal assessment, and the board's order.

Routine re-assessment every 4 hours is facility protocol (domain reference §2.1), tightened to
hourly while withdrawal is moderately severe or worse (COWS 25+). Both are settings. Times
must be timezone-aware: a naive time on a server in UTC and a nurse's clock in local time
would silently shift every due time by hours.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TypeVar

from .errors import DomainError
from .withdrawal import COWS_MAX

T = TypeVar("T")


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class Intervals:
    routine: timedelta = timedelta(hours=4)
    close: timedelta = timedelta(hours=1)  # while the last COWS is at or above close_from
    close_from: int = 25  # the start of the "moderately severe" band

    def __post_init__(self) -> None:
        for name in ("routine", "close"):
            value = getattr(self, name)
            if not isinstance(value, timedelta) or value <= timedelta(0):
                raise DomainError("Assessment intervals must be positive durations.", name)
        if self.close > self.routine:
            raise DomainError(
                "The interval for severe withdrawal cannot be longer than the routine one.",
                "close",
            )
        if not _is_int(self.close_from) or not 0 <= self.close_from <= COWS_MAX:
            raise DomainError(f"The COWS threshold must be from 0 to {COWS_MAX}.", "close_from")


DEFAULT_INTERVALS = Intervals()


def _aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be a timezone-aware datetime.")


def interval_for(
    last_cows_total: int | None, intervals: Intervals = DEFAULT_INTERVALS
) -> timedelta:
    """An incomplete last assessment has no total, so it earns no closer watch on its own."""
    if last_cows_total is None:
        return intervals.routine
    if not _is_int(last_cows_total) or not 0 <= last_cows_total <= COWS_MAX:
        raise ValueError(f"A COWS total must be a whole number from 0 to {COWS_MAX}.")
    return intervals.close if last_cows_total >= intervals.close_from else intervals.routine


def next_due(
    last_assessed_at: datetime | None,
    last_cows_total: int | None,
    now: datetime,
    intervals: Intervals = DEFAULT_INTERVALS,
) -> datetime:
    """The time the next assessment is due; a client never assessed is due now."""
    _aware("now", now)
    if last_assessed_at is None:
        return now
    _aware("last_assessed_at", last_assessed_at)
    return last_assessed_at + interval_for(last_cows_total, intervals)


def is_overdue(
    last_assessed_at: datetime | None,
    last_cows_total: int | None,
    now: datetime,
    intervals: Intervals = DEFAULT_INTERVALS,
) -> bool:
    """Past the due time. A client in detox with no assessment at all lacks a baseline: overdue."""
    due = next_due(last_assessed_at, last_cows_total, now, intervals)
    return last_assessed_at is None or now > due


@dataclass(frozen=True)
class Due:
    due_at: datetime
    overdue: bool
    overdue_by: timedelta  # zero unless overdue

    @property
    def sort_key(self) -> tuple[bool, datetime]:
        """Overdue first (longest overdue at the top), then the soonest due."""
        return (not self.overdue, self.due_at)


def due(
    last_assessed_at: datetime | None,
    last_cows_total: int | None,
    now: datetime,
    intervals: Intervals = DEFAULT_INTERVALS,
) -> Due:
    """Everything the board shows about one client's schedule."""
    at = next_due(last_assessed_at, last_cows_total, now, intervals)
    late = is_overdue(last_assessed_at, last_cows_total, now, intervals)
    return Due(
        due_at=at, overdue=late, overdue_by=max(now - at, timedelta(0)) if late else timedelta(0)
    )


def board_order(rows: Iterable[T], due_of: Callable[[T], Due]) -> list[T]:
    """Rows for the detox board: overdue first, then soonest due; ties keep the given order."""
    return sorted(rows, key=lambda row: due_of(row).sort_key)

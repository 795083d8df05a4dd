"""Treatment plans: objective statuses, plan statuses and when a review is due."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from enum import StrEnum


class ObjectiveStatus(StrEnum):
    NOT_STARTED = "not_started"
    IN_PROGRESS = "in_progress"
    ACHIEVED = "achieved"
    REVISED = "revised"
    DISCONTINUED = "discontinued"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


class PlanStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    SUPERSEDED = "superseded"  # an older signed version, still readable


DEFAULT_REVIEW_DAYS = 30


def review_interval(level_code: str | None, intervals: Mapping[str, int]) -> int:
    """Days between reviews for a level of care (configurable; "default" otherwise)."""
    if level_code and level_code in intervals:
        return intervals[level_code]
    return intervals.get("default", DEFAULT_REVIEW_DAYS)


def review_due(signed_on: date, level_code: str | None, intervals: Mapping[str, int]) -> date:
    return signed_on + timedelta(days=review_interval(level_code, intervals))


def review_overdue(due: date | None, today: date) -> bool:
    return due is not None and today > due

"""The aftercare year: check-in schedule and status, sobriety date, relapses, completion.

All dates are facility days (`datetime.date`); nothing here reads a clock, callers pass `today`.

A *month* of aftercare is a calendar month counted from the aftercare start: month n runs from
`add_months(start, n - 1)` up to, not including, `add_months(start, n)`. `add_months` keeps the
day of the month and falls back to the month's last day when the month is shorter, always
counting from the start itself (never from the previous month), so a start on 31 January gives
month boundaries 28 February, 31 March, 30 April, ... and a start on 29 February 2028 gives
29 March, 29 April, ..., 28 February 2029. The year ends at `add_months(start, 12)`.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, replace
from datetime import date, timedelta
from enum import StrEnum

from .codes import DISCHARGE_REASONS, codes_of
from .errors import DomainError
from .phases import Phase, next_phases

Codes = tuple[tuple[str, str], ...]

TREATMENT_COMPLETED = "1"  # TEDS discharge REASON 1 (codes.DISCHARGE_REASONS)
ROUTINE = "routine"


def add_months(day: date, months: int) -> date:
    """The same day `months` calendar months later, or that month's last day if it is shorter."""
    year, month0 = divmod(day.year * 12 + day.month - 1 + months, 12)
    last = calendar.monthrange(year, month0 + 1)[1]
    return date(year, month0 + 1, min(day.day, last))


def followup_kind(days: int) -> str:
    return f"followup_{days}"


def _positive_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


@dataclass(frozen=True)
class Band:
    """Contacts every `every_days` days or every `every_months` months (exactly one is set),
    from the end of the previous band's months through the end of month `through_month`."""

    through_month: int
    every_days: int | None = None
    every_months: int | None = None

    def __post_init__(self) -> None:
        if not _positive_int(self.through_month):
            raise DomainError("A band must end in month 1 or later.", "bands")
        steps = [s for s in (self.every_days, self.every_months) if s is not None]
        if len(steps) != 1 or not _positive_int(steps[0]):
            raise DomainError("Give each band one positive step, in days or months.", "bands")


@dataclass(frozen=True)
class Cadence:
    """The default: weekly in month 1, every two weeks in months 2-3, monthly in months 4-12,
    and outcome follow-ups 30, 90, 180 and 365 days after the end of rehab."""

    bands: tuple[Band, ...] = (
        Band(1, every_days=7),
        Band(3, every_days=14),
        Band(12, every_months=1),
    )
    followup_days: tuple[int, ...] = (30, 90, 180, 365)

    def __post_init__(self) -> None:
        ends = [b.through_month for b in self.bands]
        if not ends or ends != sorted(set(ends)):
            raise DomainError("Bands must cover increasing months.", "bands")
        days = self.followup_days
        if not all(_positive_int(d) for d in days) or len(set(days)) != len(days):
            raise DomainError("Follow-up days must be distinct positive numbers.", "followup_days")


DEFAULT_CADENCE = Cadence()


@dataclass(frozen=True, order=True)
class Contact:
    due_on: date
    kind: str  # "routine" or "followup_<days>"


def _candidates(start: date, prev: date, band: Band, first_month: int) -> Iterator[date]:
    if band.every_days is not None:
        day = prev
        while True:
            day += timedelta(days=band.every_days)
            yield day
    step = band.every_months or 1
    j = first_month
    while add_months(start, j) <= prev:
        j += step
    while True:
        yield add_months(start, j)
        j += step


def routine_dates(start: date, cadence: Cadence = DEFAULT_CADENCE) -> list[date]:
    """Routine contacts, after the start day and before the year ends.

    A day-step band continues every n days from the previous contact (the start for the first
    band); a month-step band falls on the start's monthly anniversaries (`add_months(start, j)`)
    after the previous contact. Either way only dates inside the band's months are kept.
    Default from 1 January: 8, 15, 22, 29 Jan; 12, 26 Feb, 12, 26 Mar; 1 Apr, 1 May ... 1 Dec.
    """
    dates: list[date] = []
    prev, first_month = start, 0
    for band in cadence.bands:
        low, high = add_months(start, first_month), add_months(start, band.through_month)
        for day in _candidates(start, prev, band, first_month):
            if day >= high:
                break
            if day >= low:
                dates.append(day)
        prev = dates[-1] if dates else start
        first_month = band.through_month
    return dates


def schedule(
    start: date, cadence: Cadence = DEFAULT_CADENCE, *, rehab_ended_on: date | None = None
) -> tuple[Contact, ...]:
    """A year of contacts from the aftercare start, in date order.

    Outcome follow-ups fall `followup_days` after the end of rehab (the aftercare start unless
    given). A routine contact on the same day as a follow-up is merged into it: the client gets
    one call, and the follow-up (which asks everything a routine check-in asks) is kept.
    """
    base = rehab_ended_on or start
    followups = {base + timedelta(days=d): followup_kind(d) for d in cadence.followup_days}
    routine = [Contact(d, ROUTINE) for d in routine_dates(start, cadence) if d not in followups]
    return tuple(sorted(routine + [Contact(d, k) for d, k in followups.items()]))


class CheckInStatus(StrEnum):
    UPCOMING = "upcoming"
    DUE = "due"
    OVERDUE = "overdue"
    MISSED = "missed"
    DONE = "done"

    @property
    def label(self) -> str:
        return self.value.capitalize()


@dataclass(frozen=True)
class StatusRules:
    grace_days: int = 7  # overdue for this many days after the date, then missed
    lead_days: int = 0  # shown as due this many days before the date

    def __post_init__(self) -> None:
        for name in ("grace_days", "lead_days"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 0:
                raise DomainError("Use a whole number of days, 0 or more.", name)


DEFAULT_STATUS_RULES = StatusRules()


@dataclass(frozen=True)
class CheckIn:
    """A scheduled contact. `due_on` never changes; rescheduling sets `rescheduled_to`."""

    due_on: date
    kind: str = ROUTINE
    rescheduled_to: date | None = None
    recorded_on: date | None = None
    reached: bool | None = None

    @property
    def target_on(self) -> date:
        return self.rescheduled_to or self.due_on


def checkin_status(
    checkin: CheckIn, today: date, rules: StatusRules = DEFAULT_STATUS_RULES
) -> CheckInStatus:
    """Done when recorded with the client reached; missed when recorded unreached, or when
    nothing is recorded more than `grace_days` after the (rescheduled) date. Before that: due
    from `lead_days` before the date through the date itself, overdue after it, else upcoming.
    """
    if checkin.recorded_on is not None:
        return CheckInStatus.DONE if checkin.reached else CheckInStatus.MISSED
    target = checkin.target_on
    if today < target - timedelta(days=rules.lead_days):
        return CheckInStatus.UPCOMING
    if today <= target:
        return CheckInStatus.DUE
    if (today - target).days <= rules.grace_days:
        return CheckInStatus.OVERDUE
    return CheckInStatus.MISSED


def reschedule(checkin: CheckIn, new_on: date, today: date) -> CheckIn:
    """The same check-in, contacted on `new_on` instead; the original due date is kept."""
    if checkin.recorded_on is not None:
        raise DomainError("This check-in is already recorded.", "rescheduled_to")
    if new_on < today:
        raise DomainError("A check-in cannot be moved to a past date.", "rescheduled_to")
    return replace(checkin, rescheduled_to=None if new_on == checkin.due_on else new_on)


def sobriety_date(
    *,
    relapses_on: Iterable[date] = (),
    positive_screens_on: Iterable[date] = (),
    last_use_on: date | None = None,
) -> date | None:
    """The day after the last known use, or None when no use is known.

    Known use: the date of use of each relapse or lapse event, the admission's last-use date,
    and the collection date of each screen that counts as positive (`screens.counts_as_positive`:
    an unexplained positive or a refusal). A positive screen shows use on or before collection;
    the exact day is unknown, so the collection day itself is taken as the last use.
    """
    known = [*relapses_on, *positive_screens_on]
    if last_use_on is not None:
        known.append(last_use_on)
    return max(known) + timedelta(days=1) if known else None


def days_sober(sobriety: date | None, today: date) -> int | None:
    """Whole days completed since the sobriety date: 0 on the sobriety date itself."""
    if sobriety is None:
        return None
    return max((today - sobriety).days, 0)


class RelapseKind(StrEnum):
    LAPSE = "lapse"
    RELAPSE = "relapse"


class RelapseResponse(StrEnum):
    INCREASED_SESSIONS = "increased_sessions"
    RETURN_TO_REHAB = "return_to_rehab"
    RETURN_TO_DETOX = "return_to_detox"
    REFERRAL = "referral"
    NONE = "none"


RELAPSE_KINDS: Codes = (
    (RelapseKind.LAPSE.value, "Lapse (a brief return to use)"),
    (RelapseKind.RELAPSE.value, "Relapse (a return to the old pattern of use)"),
)
RELAPSE_RESPONSES: Codes = (
    (RelapseResponse.INCREASED_SESSIONS.value, "Increased sessions"),
    (RelapseResponse.RETURN_TO_REHAB.value, "Return to rehab"),
    (RelapseResponse.RETURN_TO_DETOX.value, "Return to detox"),
    (RelapseResponse.REFERRAL.value, "Referral"),
    (RelapseResponse.NONE.value, "No change to care"),
)
_PHASE_FOR: dict[RelapseResponse, Phase] = {
    RelapseResponse.RETURN_TO_DETOX: Phase.DETOX,
    RelapseResponse.RETURN_TO_REHAB: Phase.REHAB,
}


def implied_phase(response: str) -> Phase | None:
    """The phase a response sends the client back to, if any."""
    return _PHASE_FOR.get(RelapseResponse(response))


def offered_move(response: str, current: Phase) -> Phase | None:
    """The phase move to offer after a relapse: only when the journey allows it from here."""
    target = implied_phase(response)
    return target if target is not None and target in next_phases(current) else None


def check_relapse(
    kind: str, used_on: date, response: str, today: date, *, not_before: date | None = None
) -> None:
    """A relapse event's shape: known kind and response, and a date of use that has happened
    (and, given `not_before`, e.g. the admission date, is not before it)."""
    if kind not in codes_of(RELAPSE_KINDS):
        raise DomainError("Choose lapse or relapse.", "kind")
    if response not in codes_of(RELAPSE_RESPONSES):
        raise DomainError("Choose a response.", "response")
    if used_on > today:
        raise DomainError("The date of use cannot be in the future.", "used_on")
    if not_before is not None and used_on < not_before:
        raise DomainError(f"The date of use is before {not_before.isoformat()}.", "used_on")


@dataclass(frozen=True)
class CompletionRule:
    min_days: int = 365  # days from the aftercare start before it may close as completed

    def __post_init__(self) -> None:
        if not _positive_int(self.min_days):
            raise DomainError("Use a positive whole number of days.", "min_days")


DEFAULT_COMPLETION = CompletionRule()


def completion_allowed_from(started_on: date, rule: CompletionRule = DEFAULT_COMPLETION) -> date:
    return started_on + timedelta(days=rule.min_days)


def check_aftercare_close(
    reason_code: str,
    started_on: date,
    closing_on: date,
    rule: CompletionRule = DEFAULT_COMPLETION,
) -> None:
    """Aftercare closes as completed (TEDS 1) from `min_days` after it started; any other TEDS
    reason may close it at any time."""
    if reason_code not in codes_of(DISCHARGE_REASONS):
        raise DomainError("Choose a TEDS discharge reason.", "reason_code")
    if closing_on < started_on:
        raise DomainError("Aftercare cannot close before it started.", "discharged_on")
    allowed = completion_allowed_from(started_on, rule)
    if reason_code == TREATMENT_COMPLETED and closing_on < allowed:
        days = (closing_on - started_on).days
        raise DomainError(
            f"Aftercare can close as completed from {allowed.isoformat()}, {rule.min_days} days "
            f"after it started; it has run {days}. Choose another reason to close it sooner.",
            "reason_code",
        )

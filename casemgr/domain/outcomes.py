"""The clinic's outcome figures, computed from plain facts about a cohort of episodes.

Each function's docstring is the documented definition of its figure: what is counted above the
line (numerator), what below (denominator), and which dates decide. Every range is a closed
interval of facility days [start, end]. A rate is None when its denominator is 0: it is shown
as "no data", never as 0 % or 100 %. Filtering by level of care or counselor happens before the
figures, with `Cohort.filtered`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, timedelta
from statistics import median

from .aftercare import TREATMENT_COMPLETED
from .codes import DISCHARGE_REASONS, LEFT_AGAINST_ADVICE
from .errors import DomainError
from .phases import Phase

TERMINATED_BY_FACILITY = "3"  # TEDS REASON 3, the administrative discharge
DEATH = "6"  # TEDS REASON 6
RETENTION_DAYS = (30, 90, 180)
FOLLOWUP_DAYS = (30, 90, 180, 365)
READMISSION_DAYS = 365


@dataclass(frozen=True)
class Period:
    start: date
    end: date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise DomainError("The end of the range is before its start.", "end")

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end


@dataclass(frozen=True)
class PhaseSpan:
    phase: Phase
    start: date
    end: date | None = None  # None while the client is still in this phase

    def __post_init__(self) -> None:
        object.__setattr__(self, "phase", Phase(self.phase))
        if self.end is not None and self.end < self.start:
            raise ValueError(f"A {self.phase} span ends before it starts.")


@dataclass(frozen=True)
class EpisodeFacts:
    episode_id: int
    client_id: int
    admitted_on: date
    discharged_on: date | None = None
    discharge_reason_code: str | None = None  # TEDS REASON; set exactly when discharged
    phase_spans: tuple[PhaseSpan, ...] = ()
    level_of_care: str | None = None  # the level the caller groups by, e.g. at admission
    counselor_id: int | None = None  # the primary counselor the caller groups by

    def __post_init__(self) -> None:
        if (self.discharged_on is None) != (self.discharge_reason_code is None):
            raise ValueError("A discharged episode needs a reason, and only a discharged one.")
        if self.discharged_on is not None and self.discharged_on < self.admitted_on:
            raise ValueError("An episode is discharged before it was admitted.")


@dataclass(frozen=True)
class FollowUpFacts:
    """One outcome follow-up (one per episode and kind), `kind` being its days after rehab."""

    episode_id: int
    kind: int
    due_on: date
    reached: bool
    days_used_last_30: int | None = None  # as the client reported it, when reached


@dataclass(frozen=True)
class Cohort:
    episodes: tuple[EpisodeFacts, ...] = ()
    followups: tuple[FollowUpFacts, ...] = ()
    # Episodes searched for readmissions; all episodes, even when `episodes` is filtered, so a
    # client readmitted under another counselor or level of care still counts.
    everyone: tuple[EpisodeFacts, ...] | None = field(default=None, repr=False)

    def filtered(
        self, *, level_of_care: str | None = None, counselor_id: int | None = None
    ) -> Cohort:
        """The episodes matching every criterion given (None: any), with their follow-ups."""
        kept = tuple(
            e
            for e in self.episodes
            if (level_of_care is None or e.level_of_care == level_of_care)
            and (counselor_id is None or e.counselor_id == counselor_id)
        )
        ids = {e.episode_id for e in kept}
        followups = tuple(f for f in self.followups if f.episode_id in ids)
        return replace(self, episodes=kept, followups=followups, everyone=self.search_pool)

    @property
    def search_pool(self) -> tuple[EpisodeFacts, ...]:
        return self.episodes if self.everyone is None else self.everyone


@dataclass(frozen=True)
class Count:
    key: str
    label: str
    n: int


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def text(self) -> str:
        """'3 of 5 (60%)', or 'no data (n = 0)'."""
        if self.rate is None:
            return "no data (n = 0)"
        return f"{self.numerator} of {self.denominator} ({self.rate:.0%})"


@dataclass(frozen=True)
class Median:
    key: str
    label: str
    days: float | None  # None when n is 0
    n: int


def admissions(cohort: Cohort, period: Period) -> Count:
    """Admissions: episodes whose admission date falls in the range."""
    n = sum(1 for e in cohort.episodes if e.admitted_on in period)
    return Count("admissions", "Admissions", n)


def _discharged(cohort: Cohort, period: Period) -> list[EpisodeFacts]:
    return [e for e in cohort.episodes if e.discharged_on in period]


def discharges(cohort: Cohort, period: Period) -> Count:
    """Discharges: episodes whose discharge date falls in the range, whatever the reason."""
    return Count("discharges", "Discharges", len(_discharged(cohort, period)))


def _reason_share(cohort: Cohort, period: Period, code: str, key: str, label: str) -> Figure:
    out = _discharged(cohort, period)
    hits = sum(1 for e in out if e.discharge_reason_code == code)
    return Figure(key, label, hits, len(out))


def discharges_by_reason(cohort: Cohort, period: Period) -> tuple[Figure, ...]:
    """Discharges by TEDS reason: for each reason code 1-7 in order, the discharges in the range
    with that reason over all discharges in the range."""
    return tuple(
        _reason_share(cohort, period, code, f"reason_{code}", label)
        for code, label in DISCHARGE_REASONS
    )


def completion_rate(cohort: Cohort, period: Period) -> Figure:
    """Completion rate: discharges in the range with TEDS reason 1 (treatment completed) over
    all discharges in the range. Transfers (reason 4) are not counted as completions."""
    return _reason_share(cohort, period, TREATMENT_COMPLETED, "completion_rate", "Completed")


def against_advice_rate(cohort: Cohort, period: Period) -> Figure:
    """Against-advice rate: discharges in the range with TEDS reason 2 (left against
    professional advice / dropped out) over all discharges in the range."""
    return _reason_share(
        cohort, period, LEFT_AGAINST_ADVICE, "against_advice_rate", "Left against advice"
    )


def administrative_discharge_rate(cohort: Cohort, period: Period) -> Figure:
    """Administrative discharge rate: discharges in the range with TEDS reason 3 (terminated by
    the facility) over all discharges in the range."""
    return _reason_share(
        cohort, period, TERMINATED_BY_FACILITY, "administrative_rate", "Terminated by facility"
    )


def median_stay(cohort: Cohort, period: Period) -> tuple[Median, ...]:
    """Median length of stay per phase (intake, detox, rehab, aftercare), in days.

    Counted: every phase span that ended in the range; each span is one stay, so a client who
    returned to rehab has two rehab stays. Length = end date - start date, and at least 1 (the
    TEDS rule: a stay of under a day counts as 1). Open spans (still in the phase) are left out,
    because their length is not yet known. n is the number of stays; the median of an even
    number of stays is the mean of the middle two.
    """
    lengths: dict[Phase, list[int]] = {p: [] for p in Phase if p is not Phase.DISCHARGED}
    for e in cohort.episodes:
        for span in e.phase_spans:
            if span.end is not None and span.end in period and span.phase in lengths:
                lengths[span.phase].append(max((span.end - span.start).days, 1))
    return tuple(
        Median(f"stay_{p}", f"{p.label} stay", median(ds) if ds else None, len(ds))
        for p, ds in lengths.items()
    )


def retention(cohort: Cohort, period: Period, days: int, *, as_of: date) -> Figure:
    """Retention at N days: of the episodes admitted in the range whose day N (admission date +
    N days) is on or before `as_of`, those not discharged before day N, for any reason
    (completion included). Admissions too recent to have reached day N are left out.
    """
    eligible = [
        e
        for e in cohort.episodes
        if e.admitted_on in period and e.admitted_on + timedelta(days=days) <= as_of
    ]
    kept = sum(
        1
        for e in eligible
        if e.discharged_on is None or e.discharged_on >= e.admitted_on + timedelta(days=days)
    )
    return Figure(f"retention_{days}", f"In treatment at {days} days", kept, len(eligible))


def _due(cohort: Cohort, period: Period, days: int, as_of: date) -> list[FollowUpFacts]:
    return [
        f for f in cohort.followups if f.kind == days and f.due_on in period and f.due_on <= as_of
    ]


def followup_reached(cohort: Cohort, period: Period, days: int, *, as_of: date) -> Figure:
    """Reached at the N-day follow-up: of the N-day follow-ups due in the range and on or
    before `as_of`, those recorded with the client reached. A follow-up not yet recorded counts
    as not reached, so read the latest weeks once their check-ins have had time to happen."""
    due = _due(cohort, period, days, as_of)
    hits = sum(1 for f in due if f.reached)
    return Figure(f"followup_{days}_reached", f"Reached at {days} days", hits, len(due))


def followup_no_use(cohort: Cohort, period: Period, days: int, *, as_of: date) -> Figure:
    """No use among those reached: of the N-day follow-ups due in the range (and by `as_of`)
    where the client was reached, those reporting 0 days of use in the last 30 days. A reached
    client whose days of use were not recorded counts as not abstinent."""
    reached = [f for f in _due(cohort, period, days, as_of) if f.reached]
    hits = sum(1 for f in reached if f.days_used_last_30 == 0)
    return Figure(f"followup_{days}_no_use", f"No use at {days} days", hits, len(reached))


def readmissions(
    cohort: Cohort, period: Period, *, as_of: date, window: int = READMISSION_DAYS
) -> Figure:
    """Readmission within 365 days: of the episodes discharged in the range whose full window
    (discharge date + 365 days) ended on or before `as_of`, leaving out deaths (TEDS reason 6),
    those whose client was admitted again (another episode, in any level of care or caseload)
    on or after the discharge date and no later than 365 days after it."""
    admitted: dict[int, list[EpisodeFacts]] = {}
    for other in cohort.search_pool:
        admitted.setdefault(other.client_id, []).append(other)
    base = [
        (e, out)
        for e in cohort.episodes
        if (out := e.discharged_on) is not None
        and out in period
        and e.discharge_reason_code != DEATH
        and out + timedelta(days=window) <= as_of
    ]
    hits = sum(
        1
        for e, out in base
        if any(
            o.episode_id != e.episode_id and out <= o.admitted_on <= out + timedelta(days=window)
            for o in admitted.get(e.client_id, [])
        )
    )
    return Figure(f"readmission_{window}", f"Readmitted within {window} days", hits, len(base))


def report(cohort: Cohort, period: Period, *, as_of: date) -> tuple[Count | Figure | Median, ...]:
    """Every figure, in the order the outcomes page and its CSV list them."""
    return (
        admissions(cohort, period),
        discharges(cohort, period),
        completion_rate(cohort, period),
        against_advice_rate(cohort, period),
        administrative_discharge_rate(cohort, period),
        *discharges_by_reason(cohort, period),
        *median_stay(cohort, period),
        *(retention(cohort, period, n, as_of=as_of) for n in RETENTION_DAYS),
        *(followup_reached(cohort, period, n, as_of=as_of) for n in FOLLOWUP_DAYS),
        *(followup_no_use(cohort, period, n, as_of=as_of) for n in FOLLOWUP_DAYS),
        readmissions(cohort, period, as_of=as_of),
    )

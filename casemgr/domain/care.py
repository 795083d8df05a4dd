"""Levels of care, planned lengths of stay, ages and the warnings clinicians see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum

from .phases import Phase


class Setting(StrEnum):
    RESIDENTIAL = "residential"
    INPATIENT = "inpatient"
    OUTPATIENT = "outpatient"
    INTENSIVE_OUTPATIENT = "intensive_outpatient"
    PARTIAL_HOSPITALIZATION = "partial_hospitalization"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class CodeSystem:
    key: str
    version: str
    codes: dict[str, str]  # code -> name


# Level-of-care code sets are data: a 4th-edition or state set is one more entry here.
ASAM3 = CodeSystem(
    key="ASAM3",
    version="ASAM Criteria, 3rd edition (2013)",
    codes={
        "0.5": "Early Intervention",
        "1": "Outpatient Services",
        "2.1": "Intensive Outpatient",
        "2.5": "Partial Hospitalization",
        "3.1": "Clinically Managed Low-Intensity Residential",
        "3.3": "Clinically Managed Population-Specific High-Intensity Residential",
        "3.5": "Clinically Managed High-Intensity Residential",
        "3.7": "Medically Monitored Intensive Inpatient",
        "4": "Medically Managed Intensive Inpatient",
        "OTP": "Opioid Treatment Program",
        "1-WM": "Ambulatory Withdrawal Management without Extended On-Site Monitoring",
        "2-WM": "Ambulatory Withdrawal Management with Extended On-Site Monitoring",
        "3.2-WM": "Clinically Managed Residential Withdrawal Management",
        "3.7-WM": "Medically Monitored Inpatient Withdrawal Management",
        "4-WM": "Medically Managed Intensive Inpatient Withdrawal Management",
    },
)

CODE_SYSTEMS: dict[str, CodeSystem] = {ASAM3.key: ASAM3}
DEFAULT_CODE_SYSTEM = ASAM3.key


def level_name(system: str, code: str) -> str:
    cs = CODE_SYSTEMS.get(system)
    return cs.codes.get(code, code) if cs else code


@dataclass(frozen=True)
class PlannedStay:
    typical_days: tuple[int, int] | None  # (shortest, longest) expected
    length_days: int | None  # a fixed length, e.g. aftercare's year


PLANNED: dict[Phase, PlannedStay] = {
    Phase.DETOX: PlannedStay(typical_days=(3, 10), length_days=None),
    Phase.REHAB: PlannedStay(typical_days=(90, 180), length_days=None),
    Phase.AFTERCARE: PlannedStay(typical_days=None, length_days=365),
}


def planned_end(phase: Phase, started: date) -> date | None:
    """The date a phase is planned to end: detox and rehab at their longest typical stay."""
    plan = PLANNED.get(phase)
    if plan is None:
        return None
    days = plan.length_days or plan.typical_days[1]  # type: ignore[index]
    return started + timedelta(days=days)


def days_between(start: date, end: date) -> int:
    """Whole days, counting a same-day stay as day 1 (TEDS length-of-stay convention)."""
    return max((end - start).days, 0) + 1


@dataclass(frozen=True)
class CareWarning:
    level: str  # "warning" or "overdue"
    message: str


def phase_warnings(phase: Phase, started: date, today: date) -> list[CareWarning]:
    """What a clinician should notice about how long the current phase has run."""
    plan = PLANNED.get(phase)
    if plan is None:
        return []
    days = days_between(started, today)
    end = planned_end(phase, started)
    if phase is Phase.REHAB and days > 180:
        return [CareWarning("overdue", f"Rehab has run {days} days, past the 180-day target.")]
    if phase is Phase.DETOX and days > 10:
        return [CareWarning("overdue", f"Detox has run {days} days; it typically lasts 3–10.")]
    if phase is Phase.AFTERCARE and end is not None and today > end:
        return [CareWarning("overdue", f"Aftercare passed its planned year on {end.isoformat()}.")]
    return []


def step_down_warning(rehab_started: date, moving_on: date) -> CareWarning | None:
    """Leaving rehab for aftercare before 90 days is allowed but worth a second look."""
    days = days_between(rehab_started, moving_on)
    if days < 90:
        return CareWarning("warning", f"Only {days} days in rehab; the target is at least 90.")
    return None


def age_on(birth: date, today: date) -> int:
    return today.year - birth.year - ((today.month, today.day) < (birth.month, birth.day))


YOUTH_MAX_AGE = 19
ADULT_AGE = 18
MAX_AGE = 120


def check_birth_date(birth: date, today: date) -> None:
    from .errors import DomainError

    if birth > today:
        raise DomainError("Date of birth cannot be in the future.", "date_of_birth")
    if birth < _years_before(today, MAX_AGE):
        raise DomainError(f"Date of birth is more than {MAX_AGE} years ago.", "date_of_birth")


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February in a year that has none
        return day.replace(year=day.year - years, day=28)

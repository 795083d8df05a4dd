"""Medication orders and the administration record (MAR): the formulary and the dose rules.

Pure Python: no Flask, no database. Doses are Decimals (a float total of 0.1 mg steps drifts,
and a maximum-dose check must not be off by a rounding error). The database stores a dose as
an integer number of thousandths of the order's unit (see `to_milli`).

Domain reference §2.4 and §5.9: methadone and buprenorphine (± naloxone) for withdrawal and
maintenance, naltrexone for relapse prevention, clonidine and lofexidine for autonomic
symptoms, and comfort medications. LAAM is kept as a historical code that cannot be ordered.
Controlled substances (a DEA schedule) need a second staff member to witness each dose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from decimal import Decimal, InvalidOperation
from enum import StrEnum

from .errors import DomainError

MILLI = Decimal(1000)
MAX_DOSE = Decimal(100000)  # any single dose or daily maximum above this is a typing error


@dataclass(frozen=True)
class Drug:
    code: str
    name: str
    schedule: str | None  # DEA schedule ("II", "III", "IV") or None when not controlled
    orderable: bool
    unit: str  # default unit for a new order
    route: str  # default route
    category: str

    @property
    def controlled(self) -> bool:
        return self.schedule is not None


# The seed of the `drugs` table (migration 2026_11_26 copies these rows literally).
FORMULARY: tuple[Drug, ...] = (
    Drug("methadone", "Methadone", "II", True, "mg", "oral", "moud"),
    Drug("buprenorphine", "Buprenorphine", "III", True, "mg", "sublingual", "moud"),
    Drug("bup_naloxone", "Buprenorphine/naloxone", "III", True, "mg", "sublingual", "moud"),
    Drug("naltrexone", "Naltrexone", None, True, "mg", "oral", "relapse_prevention"),
    Drug("clonidine", "Clonidine", None, True, "mg", "oral", "withdrawal"),
    Drug("lofexidine", "Lofexidine", None, True, "mg", "oral", "withdrawal"),
    Drug("chlordiazepoxide", "Chlordiazepoxide", "IV", True, "mg", "oral", "withdrawal"),
    Drug("lorazepam", "Lorazepam", "IV", True, "mg", "oral", "withdrawal"),
    Drug("ondansetron", "Ondansetron", None, True, "mg", "oral", "comfort"),
    Drug("loperamide", "Loperamide", None, True, "mg", "oral", "comfort"),
    Drug("dicyclomine", "Dicyclomine", None, True, "mg", "oral", "comfort"),
    Drug("ibuprofen", "Ibuprofen", None, True, "mg", "oral", "comfort"),
    Drug("acetaminophen", "Acetaminophen", None, True, "mg", "oral", "comfort"),
    Drug("methocarbamol", "Methocarbamol", None, True, "mg", "oral", "comfort"),
    Drug("hydroxyzine", "Hydroxyzine", None, True, "mg", "oral", "comfort"),
    Drug("trazodone", "Trazodone", None, True, "mg", "oral", "comfort"),
    # Withdrawn from the US market in 2003 (QT prolongation): history only, never orderable.
    Drug("laam", "LAAM (levomethadyl acetate) — historical", "II", False, "mg", "oral", "moud"),
)
BY_CODE = {d.code: d for d in FORMULARY}

UNITS = ("mg", "mcg", "mL", "tablet")
ROUTES = (
    ("oral", "Oral"),
    ("sublingual", "Sublingual"),
    ("buccal", "Buccal"),
    ("im", "Intramuscular"),
    ("subcutaneous", "Subcutaneous"),
    ("transdermal", "Transdermal"),
)


class Outcome(StrEnum):
    GIVEN = "given"
    HELD = "held"
    REFUSED = "refused"
    MISSED = "missed"

    @property
    def label(self) -> str:
        return self.value.capitalize()


_DOSE = re.compile(r"^-?[0-9]+(\.[0-9]+)?$")


def parse_dose(raw: object, field: str = "dose") -> Decimal:
    """A positive dose with at most three decimals, in the order's unit. ASCII digits only:
    Decimal() would also take "1_000" and Arabic-Indic digits, which no one means on a MAR."""
    text = str(raw).strip()
    if not _DOSE.match(text):
        raise DomainError("Enter the dose as a number, for example 30 or 0.5.", field)
    try:
        value = Decimal(text)
    except (InvalidOperation, ValueError):
        raise DomainError("Enter the dose as a number, for example 30 or 0.5.", field) from None
    if not value.is_finite() or value <= 0:
        raise DomainError("A dose must be more than zero.", field)
    if value > MAX_DOSE:
        raise DomainError("That dose is not plausible; check the number and the unit.", field)
    if value != value.quantize(Decimal("0.001")):
        raise DomainError("Use at most three decimal places.", field)
    return value


def to_milli(value: Decimal) -> int:
    return int(value * MILLI)


def from_milli(value: int) -> Decimal:
    return (Decimal(value) / MILLI).normalize()


def format_dose(value: Decimal, unit: str) -> str:
    text = format(value.normalize(), "f")
    return f"{text} {unit}"


_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


def parse_times(raw: str) -> tuple[time, ...]:
    """Scheduled administration times, facility clock, e.g. "08:00, 20:00"; sorted, distinct."""
    parts = [p.strip() for p in re.split(r"[,\s]+", raw or "") if p.strip()]
    found: set[time] = set()
    for part in parts:
        match = _TIME.match(part)
        if match is None:
            raise DomainError(f"“{part[:10]}” is not a time; use 24-hour HH:MM.", "times")
        found.add(time(int(match.group(1)), int(match.group(2))))
    if len(found) > 12:
        raise DomainError("At most twelve scheduled times a day.", "times")
    return tuple(sorted(found))


def format_times(times: Iterable[time]) -> str:
    return ", ".join(t.strftime("%H:%M") for t in times)


def check_order(
    *,
    drug: Drug,
    dose: Decimal,
    max_daily: Decimal | None,
    prn: bool,
    prn_indication: str,
    times: tuple[time, ...],
    starts_at: datetime,
    stops_at: datetime | None,
) -> None:
    """The order rules that do not depend on stored data."""
    if not drug.orderable:
        raise DomainError(f"{drug.name} is a historical code and cannot be ordered.", "drug")
    if prn and not prn_indication.strip():
        raise DomainError("Say what the as-needed dose is for (the indication).", "prn_indication")
    if not prn and not times:
        raise DomainError("Give the scheduled times, or mark the order as needed (PRN).", "times")
    if max_daily is not None:
        if max_daily < dose:
            raise DomainError("The daily maximum cannot be less than one dose.", "max_daily")
        scheduled = dose * len(times)
        if not prn and scheduled > max_daily:
            raise DomainError(
                f"The scheduled doses add up to {format(scheduled.normalize(), 'f')}, "
                "more than the daily maximum.",
                "max_daily",
            )
    if stops_at is not None and stops_at <= starts_at:
        raise DomainError("The stop time must be after the start.", "stops_at")


def exceeds_daily_max(
    given_today: Iterable[Decimal], dose: Decimal, max_daily: Decimal | None
) -> Decimal | None:
    """The day's total if this dose would take it over the maximum, otherwise None."""
    if max_daily is None:
        return None
    total = sum(given_today, Decimal(0)) + dose
    return total if total > max_daily else None


def day_bounds(day: date, tz: tzinfo) -> tuple[datetime, datetime]:
    """Midnight to midnight on the facility clock, as aware datetimes (DST-safe)."""
    start = datetime.combine(day, time(0), tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time(0), tzinfo=tz)
    return start, end


def slots_for_day(
    times: Iterable[time],
    day: date,
    tz: tzinfo,
    starts_at: datetime,
    stops_at: datetime | None,
) -> list[datetime]:
    """The scheduled administration times of one facility day that fall within the order."""
    found = []
    for t in times:
        at = datetime.combine(day, t, tzinfo=tz)
        if at < starts_at or (stops_at is not None and at >= stops_at):
            continue
        found.append(at)
    return found


def check_administration(
    *,
    outcome: Outcome,
    not_given_reason: str,
    controlled: bool,
    nurse_id: int,
    witness_id: int | None,
) -> None:
    """A dose that was not given says why; a controlled dose given has a different witness."""
    if outcome is not Outcome.GIVEN and not not_given_reason.strip():
        raise DomainError(f"Say why the dose was {outcome.value}.", "reason")
    if outcome is Outcome.GIVEN and controlled:
        if witness_id is None:
            raise DomainError("A controlled substance needs a witness to sign.", "witness_login")
        if witness_id == nurse_id:
            raise DomainError(
                "The witness must be a different staff member from the nurse giving the dose.",
                "witness_login",
            )

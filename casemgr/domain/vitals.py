"""Vital signs taken with each withdrawal assessment, and the values a nurse must notice.

Two kinds of limit, kept apart on purpose: physiological bounds refuse what cannot be a real
reading (a heart rate of 900 is a typo), while alert thresholds only flag real but worrying
readings (a heart rate of 35 is possible and must be recorded, then flagged). Temperature is
stored in °C whatever unit the nurse typed, so charts and thresholds compare like with like.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields
from enum import StrEnum

from .errors import DomainError


class VitalsError(DomainError):
    """An impossible or malformed reading; `field` names the vital."""


class TemperatureUnit(StrEnum):
    CELSIUS = "C"
    FAHRENHEIT = "F"


def fahrenheit_to_celsius(value: float) -> float:
    """Rounded to 0.1 °C: thermometers read no finer, and 100.4 °F must be exactly 38.0 °C."""
    return round((value - 32) * 5 / 9, 1)


def celsius_to_fahrenheit(value: float) -> float:
    return round(value * 9 / 5 + 32, 1)


@dataclass(frozen=True)
class Bound:
    low: float
    high: float
    label: str
    unit: str
    whole: bool = True  # counts and scores are whole numbers; temperature is not

    def describe(self) -> str:
        fmt = (lambda v: f"{v:g}") if self.whole else (lambda v: f"{v:.1f}")
        return f"between {fmt(self.low)} and {fmt(self.high)}{self.unit}"


# Accepted ranges (inclusive). Wide on purpose: they catch typos and unit mix-ups, not illness.
BOUNDS: dict[str, Bound] = {
    "systolic": Bound(50, 300, "Systolic pressure", " mmHg"),
    "diastolic": Bound(20, 200, "Diastolic pressure", " mmHg"),
    "heart_rate": Bound(20, 250, "Heart rate", "/min"),
    "respiratory_rate": Bound(4, 60, "Respiratory rate", "/min"),
    "temperature_c": Bound(30.0, 45.0, "Temperature", " °C", whole=False),
    "spo2": Bound(50, 100, "SpO₂", " %"),
    "pain": Bound(0, 10, "Pain", ""),
}


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check(name: str, value: object) -> None:
    bound = BOUNDS[name]
    if bound.whole:
        ok = isinstance(value, int) and not isinstance(value, bool)
        kind = "a whole number"
    else:
        ok = _is_number(value) and math.isfinite(value)  # type: ignore[arg-type]
        kind = "a number"
    if not ok:
        raise VitalsError(f"{bound.label} must be {kind}.", name)
    if not bound.low <= value <= bound.high:  # type: ignore[operator]
        message = f"{bound.label} must be {bound.describe()}."
        if name == "temperature_c":
            low, high = celsius_to_fahrenheit(bound.low), celsius_to_fahrenheit(bound.high)
            message = f"{bound.label} must be {bound.describe()} ({low:.1f}–{high:.1f} °F)."
        raise VitalsError(message, name)


@dataclass(frozen=True)
class Vitals:
    """One set of readings; any may be left out. Constructing it checks every given value."""

    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    temperature_c: float | None = None
    spo2: int | None = None
    pain: int | None = None

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None:
                _check(f.name, value)
        # A pressure is a pair: one half alone cannot be interpreted.
        if (self.systolic is None) != (self.diastolic is None):
            missing = "diastolic" if self.diastolic is None else "systolic"
            raise VitalsError("Enter both systolic and diastolic pressure, or neither.", missing)
        if self.systolic is not None and self.diastolic >= self.systolic:  # type: ignore[operator]
            raise VitalsError("Diastolic pressure must be below systolic pressure.", "diastolic")

    @property
    def empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    @property
    def temperature_f(self) -> float | None:
        return None if self.temperature_c is None else celsius_to_fahrenheit(self.temperature_c)

    @property
    def blood_pressure(self) -> str | None:
        return None if self.systolic is None else f"{self.systolic}/{self.diastolic}"


def make_vitals(
    *,
    systolic: int | None = None,
    diastolic: int | None = None,
    heart_rate: int | None = None,
    respiratory_rate: int | None = None,
    temperature: float | None = None,
    temperature_unit: TemperatureUnit | str = TemperatureUnit.CELSIUS,
    spo2: int | None = None,
    pain: int | None = None,
) -> Vitals:
    """Readings as the nurse entered them, temperature in either unit; stored in °C."""
    try:
        unit = TemperatureUnit(temperature_unit)
    except ValueError:
        raise VitalsError("Temperature unit must be C or F.", "temperature_unit") from None
    temperature_c = temperature
    if temperature is not None and unit is TemperatureUnit.FAHRENHEIT:
        if not _is_number(temperature) or not math.isfinite(temperature):
            raise VitalsError("Temperature must be a number.", "temperature_c")
        temperature_c = fahrenheit_to_celsius(temperature)
    return Vitals(
        systolic=systolic,
        diastolic=diastolic,
        heart_rate=heart_rate,
        respiratory_rate=respiratory_rate,
        temperature_c=temperature_c,
        spo2=spo2,
        pain=pain,
    )


@dataclass(frozen=True)
class Thresholds:
    """Alert when a reading is strictly above `*_high` or strictly below `*_low`.

    Defaults are the issue's; a facility may change them, or set one to None to switch it off.
    """

    heart_rate_high: float | None = 110
    heart_rate_low: float | None = 50
    systolic_high: float | None = 160
    systolic_low: float | None = 90
    spo2_low: float | None = 92
    temperature_c_high: float | None = 38.0
    respiratory_rate_high: float | None = 24
    respiratory_rate_low: float | None = 10

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if value is not None and (not _is_number(value) or not math.isfinite(value)):
                raise DomainError("Alert thresholds must be numbers.", f.name)
        for vital in ("heart_rate", "systolic", "respiratory_rate"):
            low, high = getattr(self, f"{vital}_low"), getattr(self, f"{vital}_high")
            if low is not None and high is not None and low >= high:
                raise DomainError(
                    f"The low alert for {BOUNDS[vital].label.lower()} must be below the high one.",
                    f"{vital}_low",
                )


DEFAULT_THRESHOLDS = Thresholds()


@dataclass(frozen=True)
class Alert:
    field: str
    value: float
    direction: str  # "high" or "low"
    message: str


def _shown(name: str, value: float) -> str:
    bound = BOUNDS[name]
    text = f"{value:g}" if bound.whole else f"{value:.1f}"
    return f"{text}{bound.unit}"


# Field order matches how vitals are read out: BP, pulse, respirations, temperature, SpO₂.
_ALERTABLE = ("systolic", "heart_rate", "respiratory_rate", "temperature_c", "spo2")


def alerts(vitals: Vitals, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> list[Alert]:
    """Readings outside the alert thresholds, for the board's marks and the nurse's attention."""
    found: list[Alert] = []
    for name in _ALERTABLE:
        value = getattr(vitals, name)
        if value is None:
            continue
        label = BOUNDS[name].label
        high = getattr(thresholds, f"{name}_high", None)
        low = getattr(thresholds, f"{name}_low", None)
        if high is not None and value > high:
            message = f"{label} {_shown(name, value)} is above {_shown(name, high)}."
            found.append(Alert(name, value, "high", message))
        elif low is not None and value < low:
            message = f"{label} {_shown(name, value)} is below {_shown(name, low)}."
            found.append(Alert(name, value, "low", message))
    return found


def alert_fields(vitals: Vitals, thresholds: Thresholds = DEFAULT_THRESHOLDS) -> frozenset[str]:
    """The fields to mark as out of range."""
    return frozenset(a.field for a in alerts(vitals, thresholds))

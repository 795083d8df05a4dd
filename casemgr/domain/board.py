"""The detox board's small pieces: the trend line's points, the overdue wording, vital-sign
marks and a medication order in words. Pure Python: no Flask, no database.

The trend line is a handful of coordinates for an inline SVG <polyline>, drawn per row on
every request; a full chart per client would cost a reportlab render each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import time, timedelta
from decimal import Decimal

from .medications import format_dose, format_times
from .monitoring import DEFAULT_INTERVALS, Due, Intervals
from .vitals import DEFAULT_THRESHOLDS, Thresholds, Vitals, alerts

SPARK_WIDTH, SPARK_HEIGHT, SPARK_PAD = 96, 24, 2


@dataclass(frozen=True)
class Sparkline:
    """`points` is the <polyline points="..."> value, oldest first; `last` marks the newest."""

    points: str
    last: tuple[float, float]
    width: int
    height: int


def sparkline(
    values: Sequence[int],
    ceiling: int,
    *,
    width: int = SPARK_WIDTH,
    height: int = SPARK_HEIGHT,
    pad: int = SPARK_PAD,
) -> Sparkline | None:
    """Totals (oldest first) as points in a width × height box, 0 at the bottom.

    The scale runs from 0 to `ceiling`, or to the highest value if that is higher, so rows of
    the same instrument compare at a glance. A single value is a short flat line.
    """
    if not values:
        return None
    top = max(max(values), ceiling, 1)
    step = (width - 2 * pad) / (len(values) - 1) if len(values) > 1 else 0

    def y(value: int) -> float:
        return round(height - pad - value / top * (height - 2 * pad), 1)

    coords = [(round(pad + i * step, 1), y(v)) for i, v in enumerate(values)]
    if len(coords) == 1:
        coords = [(float(pad), coords[0][1]), (float(width - pad), coords[0][1])]
    points = " ".join(f"{x:g},{y_:g}" for x, y_ in coords)
    return Sparkline(points, coords[-1], width, height)


def duration_words(delta: timedelta) -> str:
    """'1 h 20 min', '45 min', '2 d 3 h'; under a minute reads 'less than 1 min'."""
    minutes = int(delta.total_seconds() // 60)
    if minutes < 1:
        return "less than 1 min"
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    return f"{minutes} min"


def overdue_words(due: Due, *, never_assessed: bool = False) -> str:
    """What the board says about an overdue client; empty when not overdue."""
    if not due.overdue:
        return ""
    if never_assessed:
        return "OVERDUE: no baseline assessment"
    return f"OVERDUE by {duration_words(due.overdue_by)}"


def schedule_words(intervals: Intervals = DEFAULT_INTERVALS) -> str:
    """The re-assessment rule in a sentence, for the board's legend."""
    return (
        f"The next assessment is due {duration_words(intervals.routine)} after the last one, "
        f"or {duration_words(intervals.close)} after it while the last COWS total is "
        f"{intervals.close_from} or more."
    )


# Short labels, in the order vitals are read out.
_SHOWN = (
    ("systolic", "BP"),
    ("heart_rate", "HR"),
    ("respiratory_rate", "RR"),
    ("temperature_c", "T"),
    ("spo2", "SpO₂"),
    ("pain", "Pain"),
)
_ARROWS = {"high": "▲", "low": "▼"}


@dataclass(frozen=True)
class VitalReading:
    field: str
    label: str
    text: str
    direction: str | None  # "high", "low" or None when within the alert thresholds
    message: str = ""  # the alert in a sentence, for screen readers and the tooltip

    @property
    def arrow(self) -> str:
        return _ARROWS[self.direction] if self.direction else ""

    @property
    def marker(self) -> str:
        """'▲ high' / '▼ low': words as well as a symbol, never colour alone."""
        return f"{self.arrow} {self.direction}" if self.direction else ""

    def __str__(self) -> str:
        return f"{self.label} {self.text} {self.marker}".rstrip()


def _text(vitals: Vitals, name: str) -> str | None:
    if name == "systolic":
        return vitals.blood_pressure
    value = getattr(vitals, name)
    if value is None:
        return None
    return f"{value:.1f}" if name == "temperature_c" else str(value)


def vital_readings(
    vitals: Vitals, thresholds: Thresholds = DEFAULT_THRESHOLDS
) -> list[VitalReading]:
    """The readings taken, each marked when outside the alert thresholds."""
    found = {a.field: a for a in alerts(vitals, thresholds)}
    readings = []
    for name, label in _SHOWN:
        text = _text(vitals, name)
        if text is None:
            continue
        alert = found.get(name)
        readings.append(
            VitalReading(
                name,
                label,
                text,
                alert.direction if alert else None,
                alert.message if alert else "",
            )
        )
    return readings


def order_words(drug: str, dose: Decimal, unit: str, times: Iterable[time], prn: bool) -> str:
    """'Methadone 30 mg at 08:00, 20:00' or 'Ondansetron 4 mg PRN'."""
    when = "PRN" if prn else f"at {format_times(times)}"
    return f"{drug} {format_dose(dose, unit)} {when}"

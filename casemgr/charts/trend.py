"""Withdrawal scores over time: COWS and CIWA-Ar totals against their severity bands.

Plain data in (`TrendPoint`s and the facility's time zone), a reportlab `Drawing` out
(`trend_drawing`). The web serves it as SVG (`trend_svg`); a PDF report adds the same Drawing
to its story: `story.append(trend_drawing(points, tz, width=frame.width))`.

One panel per instrument recorded, COWS first. Behind each line the instrument's bands are
shaded and named in the right gutter, so a total reads as "moderate", not just as a height;
the left axis marks where each band starts; the time axis is the facility's clock.

No Flask, no ORM: `casemgr.detox.services.trend_points` reads the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

from reportlab.graphics.shapes import Circle, Drawing, Group, Line, PolyLine, Rect, String
from reportlab.lib.colors import HexColor

from ..domain.withdrawal import INSTRUMENTS, Band, Instrument
from .timeline import AXIS, BOLD, FONT, GRID, INK, MUTED, SMALL_SIZE, TEXT_SIZE, drawing_svg


@dataclass(frozen=True)
class TrendPoint:
    at: datetime  # aware
    instrument: str  # "cows" or "ciwa_ar"
    total: int


@dataclass(frozen=True)
class Palette:
    ink: str
    fill: str


# The band badges' colours (static/css/app.css), lighter as fills behind the line.
BAND_COLOURS: dict[Band, Palette] = {
    Band.NONE: Palette("#2f3a45", "#f1f3f5"),
    Band.MILD: Palette("#1e5b32", "#e3f3e8"),
    Band.MODERATE: Palette("#6b4200", "#fff1d6"),
    Band.MODERATELY_SEVERE: Palette("#8a1c1c", "#fde7e7"),
    Band.SEVERE: Palette("#8a1c1c", "#f6cccc"),
}
LINE = "#1d3f73"
# The highest total drawn unless a score goes above it: COWS in full, CIWA-Ar to where
# "severe" is clearly shown (its scale runs to 67, far above what a ward sees).
VIEW_TOP = {"cows": 48, "ciwa_ar": 32}

SVG_TITLE = "Withdrawal scores over time"
EMPTY = "No assessments yet"
LEFT, RIGHT = 44, 150  # y-axis labels; band names
TITLE_H, PLOT_H, AXIS_H, PANEL_GAP = 22, 170, 36, 14
PANEL = TITLE_H + PLOT_H + AXIS_H + PANEL_GAP
MIN_SPAN = timedelta(hours=12)
MIN_TICK_GAP = 64
TICK_HOURS = (1, 2, 3, 4, 6, 12, 24, 48, 72, 168)
VALUE_LABELS_MAX = 16  # label every point up to this many; beyond, only the peak and the last


@dataclass(frozen=True)
class TimeAxis:
    first: datetime
    last: datetime
    x0: float
    x1: float

    def x(self, at: datetime) -> float:
        span = (self.last - self.first).total_seconds()
        return self.x0 + (at - self.first).total_seconds() / span * (self.x1 - self.x0)


def time_axis(points: Sequence[TrendPoint], width: float) -> TimeAxis:
    """The scores' time range, padded, at least MIN_SPAN wide (a single score sits mid-way)."""
    lo, hi = min(p.at for p in points), max(p.at for p in points)
    if hi - lo < MIN_SPAN:
        middle = lo + (hi - lo) / 2
        lo, hi = middle - MIN_SPAN / 2, middle + MIN_SPAN / 2
    pad = max((hi - lo) / 25, timedelta(minutes=30))
    return TimeAxis(lo - pad, hi + pad, LEFT, width - RIGHT)


def time_ticks(axis: TimeAxis, tz: tzinfo) -> list[tuple[datetime, str, str]]:
    """(instant, time label, date label) on whole facility-clock hours, spaced to be legible.

    Ticks are wall-clock times (06:00, 12:00...), so they stay on the hour across a DST change.
    The date is written under midnight and under the first tick.
    """
    hours_px = (axis.x1 - axis.x0) / ((axis.last - axis.first).total_seconds() / 3600)
    step = next((h for h in TICK_HOURS if h * hours_px >= MIN_TICK_GAP), TICK_HOURS[-1])
    day, last_day = axis.first.astimezone(tz).date(), axis.last.astimezone(tz).date()
    ticks: list[tuple[datetime, str, str]] = []
    while day <= last_day:
        for at in _wall_ticks(day, step, tz):
            if axis.first <= at <= axis.last:
                local = at.astimezone(tz)
                label = "" if step >= 24 else local.strftime("%H:%M")
                dated = step >= 24 or not ticks or local.hour == 0
                ticks.append((at, label, local.date().isoformat() if dated else ""))
        day += timedelta(days=1)
    return ticks


def _wall_ticks(day: date, step: int, tz: tzinfo) -> list[datetime]:
    if step >= 24:
        days = step // 24
        return [datetime.combine(day, time(0), tzinfo=tz)] if day.toordinal() % days == 0 else []
    return [datetime.combine(day, time(hour), tzinfo=tz) for hour in range(0, 24, step)]


def view_top(instrument: Instrument, totals: Sequence[int]) -> int:
    """The y-axis top: VIEW_TOP, raised to the next multiple of 4 above a higher score."""
    top = max(
        VIEW_TOP.get(instrument.key, instrument.max_total), -(-max(totals, default=0) // 4) * 4
    )
    return min(top, instrument.max_total)


def band_ranges(instrument: Instrument, top: int) -> list[tuple[Band, int, int | None]]:
    """(band, lowest total, highest total or None for open-ended), lowest first."""
    ranges, low = [], 0
    for upper, band in instrument.bands.bounds:
        ranges.append((Band(band), low, upper))
        low = upper + 1
    ranges.append((Band(instrument.bands.top), low, None))
    return [r for r in ranges if r[1] <= top]


def trend_drawing(points: Sequence[TrendPoint], tz: tzinfo, width: float = 900) -> Drawing:
    """The chart as a reportlab Drawing. Named parts, for reuse and tests: `panel_<key>` per
    instrument (each with `bands`, `grid`, `line`, `points` and `axis`)."""
    keys = [key for key in INSTRUMENTS if any(p.instrument == key for p in points)]
    if not keys:
        drawing = Drawing(width, 40)
        drawing.add(_text(LEFT, 16, EMPTY, TEXT_SIZE, MUTED), name="empty")
        return drawing
    axis = time_axis(points, width)
    ticks = time_ticks(axis, tz)
    height = PANEL * len(keys) - PANEL_GAP
    drawing = Drawing(width, height)
    for index, key in enumerate(keys):
        series = sorted((p for p in points if p.instrument == key), key=lambda p: p.at)
        top = height - index * PANEL  # reportlab's y grows upwards
        drawing.add(_panel(INSTRUMENTS[key], series, axis, ticks, top), name=f"panel_{key}")
    return drawing


def _panel(instrument, series, axis: TimeAxis, ticks, top: float) -> Group:
    plot_top, plot_bottom = top - TITLE_H, top - TITLE_H - PLOT_H
    vtop = view_top(instrument, [p.total for p in series])

    def y(total: float) -> float:
        return plot_bottom + min(total, vtop) / vtop * PLOT_H

    panel = Group()
    panel.add(_text(axis.x0, top - 15, instrument.name, TEXT_SIZE, INK, font=BOLD))
    panel.add(_bands(instrument, vtop, axis, y), name="bands")
    panel.add(_grid(ticks, axis, plot_top, plot_bottom), name="grid")
    panel.add(_line(series, axis, y), name="line")
    panel.add(_points(series, axis, y), name="points")
    panel.add(_axis(ticks, axis, plot_bottom), name="axis")
    return panel


def _bands(instrument, vtop: int, axis: TimeAxis, y) -> Group:
    """Shaded bands with the left axis at each band's lowest total and the names on the right.
    A band's edge sits half-way between totals, so a score on a boundary is inside its band."""
    bands = Group()
    for band, low, high in band_ranges(instrument, vtop):
        bottom = y(max(low - 0.5, 0))
        upper = y(vtop if high is None else min(high + 0.5, vtop))
        colours = BAND_COLOURS[band]
        rect = Rect(axis.x0, bottom, axis.x1 - axis.x0, upper - bottom)
        rect.fillColor, rect.strokeColor = _c(colours.fill), None
        bands.add(rect)
        bands.add(_text(axis.x0 - 6, y(low) - 3, str(low), SMALL_SIZE, MUTED, anchor="end"))
        span = f"{low}+" if high is None else f"{low}–{high}"
        middle = (bottom + upper) / 2 - 3.5
        bands.add(_text(axis.x1 + 8, middle, f"{band.label} {span}", SMALL_SIZE, colours.ink))
    bands.add(_text(axis.x0 - 6, y(vtop) - 3, str(vtop), SMALL_SIZE, MUTED, anchor="end"))
    frame = Rect(axis.x0, y(0), axis.x1 - axis.x0, y(vtop) - y(0))
    frame.fillColor, frame.strokeColor, frame.strokeWidth = None, _c(AXIS), 0.75
    bands.add(frame)
    return bands


def _grid(ticks, axis: TimeAxis, plot_top: float, plot_bottom: float) -> Group:
    grid = Group()
    for at, _, _ in ticks:
        x = axis.x(at)
        line = Line(x, plot_bottom, x, plot_top)
        line.strokeColor, line.strokeWidth = _c(GRID), 0.75
        grid.add(line)
    return grid


def _line(series, axis: TimeAxis, y) -> Group:
    coords = [c for p in series for c in (axis.x(p.at), y(p.total))]
    line = PolyLine(coords, strokeColor=_c(LINE), strokeWidth=1.75, fillColor=None)
    return Group(line) if len(series) > 1 else Group()


def _points(series, axis: TimeAxis, y) -> Group:
    """A dot per score; the totals are written over the dots (only the peak and the last when
    there are too many to read)."""
    group = Group()
    peak = max(series, key=lambda p: p.total)
    labelled = series if len(series) <= VALUE_LABELS_MAX else {peak, series[-1]}
    ceiling = y(float("inf")) - SMALL_SIZE  # a label above this would run into the title
    for point in series:
        x, py = axis.x(point.at), y(point.total)
        dot = Circle(x, py, 3)
        dot.fillColor, dot.strokeColor, dot.strokeWidth = _c("#ffffff"), _c(LINE), 1.5
        group.add(dot)
        if point in labelled:
            label_y = py + 6 if py + 6 <= ceiling else py - 6 - SMALL_SIZE
            group.add(_text(x, label_y, str(point.total), SMALL_SIZE, INK, anchor="middle"))
    return group


def _axis(ticks, axis: TimeAxis, plot_bottom: float) -> Group:
    group = Group()
    for at, label, day in ticks:
        x = axis.x(at)
        tick = Line(x, plot_bottom, x, plot_bottom - 5)
        tick.strokeColor = _c(AXIS)
        group.add(tick)
        first, second = (label, day) if label else (day, "")
        group.add(_text(x, plot_bottom - 16, first, SMALL_SIZE, INK, anchor="middle"))
        if second:
            group.add(_text(x, plot_bottom - 28, second, SMALL_SIZE, MUTED, anchor="middle"))
    return group


def _c(hex_colour: str):
    return HexColor(hex_colour)


def _text(x, y, text, size, colour=INK, *, font=FONT, anchor="start") -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=_c(colour), textAnchor=anchor)


def trend_summary(points: Sequence[TrendPoint], tz: tzinfo) -> str:
    """The chart in words, for screen readers (the <img>'s description, the SVG's <desc>)."""
    parts = []
    for key, instrument in INSTRUMENTS.items():
        series = sorted((p for p in points if p.instrument == key), key=lambda p: p.at)
        if series:
            parts.append(_series_words(instrument, series, tz))
    return " ".join(parts) or f"{EMPTY}."


def _series_words(instrument: Instrument, series: list[TrendPoint], tz: tzinfo) -> str:
    def shown(point: TrendPoint) -> str:
        band = instrument.bands.band_for(point.total).label.lower()
        when = point.at.astimezone(tz).strftime("%Y-%m-%d %H:%M")
        return f"{point.total} ({band}) at {when}"

    first, last = series[0], series[-1]
    peak = max(series, key=lambda p: p.total)
    count = "1 assessment" if len(series) == 1 else f"{len(series)} assessments"
    if len(series) == 1:
        return f"{instrument.short}: {count}, {shown(first)}."
    return (
        f"{instrument.short}: {count}; first {shown(first)}, highest {shown(peak)}, "
        f"last {shown(last)}."
    )


def trend_svg(points: Sequence[TrendPoint], tz: tzinfo, width: float = 900) -> str:
    return drawing_svg(
        trend_drawing(points, tz, width), title=SVG_TITLE, desc=trend_summary(points, tz)
    )

"""The treatment timeline: each episode's phases and levels of care against the calendar.

Plain data in (`TimelineData`), a reportlab `Drawing` out (`timeline_drawing`). The web
serves it as SVG (`timeline_svg`); a PDF report adds the same Drawing to its story, at the
frame's width: `story.append(timeline_drawing(data, width=frame.width))`.

Layout, top to bottom: a "Today" label; one band per episode (a header line with the
admission and discharge dates, a phase lane of coloured segments labelled with the phase,
a thinner level-of-care lane labelled with the ASAM code, a discharge marker); the date axis
with month ticks (and week ticks on short ranges); a legend. The left gutter names the band.
Dates sit at mid-day, so a same-day span still has width and spans meet at their dates.

No Flask, no ORM: `casemgr.clients.timeline` builds the data from the database.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta

from reportlab.graphics import renderSVG
from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

LEVEL = "level"  # Span.kind of a level of care; a phase span's kind is the phase value


@dataclass(frozen=True)
class Span:
    """A dated stretch of one phase or one level of care. `end` None: still open, drawn up
    to today (or to the discharge, in a closed episode)."""

    start: date
    end: date | None
    label: str  # drawn on the segment: the phase's name, the level's code
    kind: str  # a phase value ("detox"), which picks the colours, or LEVEL
    detail: str = ""  # the words behind a code, for the text summary


@dataclass(frozen=True)
class EpisodeLane:
    number: int
    admitted_on: date
    discharged_on: date | None = None
    phases: Sequence[Span] = ()
    levels: Sequence[Span] = ()

    @property
    def is_open(self) -> bool:
        return self.discharged_on is None


@dataclass(frozen=True)
class TimelineData:
    episodes: Sequence[EpisodeLane]
    today: date  # the facility's date: open spans are drawn up to it


@dataclass(frozen=True)
class Palette:
    ink: str  # text and outline
    fill: str


# The .phase-* badges in static/css/app.css, so the chart and the badges agree.
PHASE_COLOURS: dict[str, Palette] = {
    "intake": Palette("#1d3f73", "#e8eef8"),
    "detox": Palette("#8a1c1c", "#fde7e7"),
    "rehab": Palette("#6b4200", "#fff1d6"),
    "aftercare": Palette("#1e5b32", "#e3f3e8"),
}
LEVEL_COLOURS = Palette("#2f3a45", "#f1f3f5")
OTHER_COLOURS = Palette("#444444", "#eeeeee")
INK, MUTED, AXIS, GRID = "#1f2933", "#545d68", "#8a929c", "#e3e6ea"

FONT, BOLD = "Helvetica", "Helvetica-Bold"
# Text sizes, in points (= SVG pixels at 100%): readable on screen, normal in print.
NAME_SIZE, PHASE_SIZE, TEXT_SIZE, SMALL_SIZE = 12, 11, 10, 9.5
GUTTER = 96  # left column with the band names
RIGHT = 16
TOP = 22  # room for the "Today" label
HEAD, PHASE_H, LANE_GAP, LEVEL_H, BAND_GAP = 16, 26, 3, 18, 12
BAND = HEAD + PHASE_H + LANE_GAP + LEVEL_H + BAND_GAP
AXIS_H = 28
LEGEND_ROW = 20
MIN_DAYS = 28  # the narrowest date range drawn, so a short stay is not a smear
RECENT_DAYS = 60  # a closed history this recent still reaches to today
MIN_SEGMENT = 3.0
MIN_TICK_GAP = 56  # pixels between labelled month ticks
WEEK_TICKS_MAX_DAYS = 92
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

SVG_TITLE = "Treatment timeline"


@dataclass(frozen=True)
class Layout:
    """Where dates fall: `first` is the left edge's day, `days` the number of days shown."""

    first: date
    days: int
    x0: float
    x1: float
    show_today: bool

    def x(self, day: date, frac: float = 0.5) -> float:
        return self.x0 + ((day - self.first).days + frac) * (self.x1 - self.x0) / self.days

    @property
    def last(self) -> date:
        return self.first + timedelta(days=self.days)


def layout(data: TimelineData, width: float) -> Layout:
    """The date range: every episode, and today while an episode is open or recently closed."""
    spans = [s for e in data.episodes for s in (*e.phases, *e.levels)]
    lo = min([e.admitted_on for e in data.episodes] + [s.start for s in spans])
    ends = [e.discharged_on for e in data.episodes] + [s.end for s in spans]
    hi = max([lo] + [d for d in ends if d is not None])
    show_today = any(e.is_open for e in data.episodes)
    show_today = show_today or lo <= data.today <= hi + timedelta(days=RECENT_DAYS)
    if show_today:
        lo, hi = min(lo, data.today), max(hi, data.today)
    days = (hi - lo).days + 1
    pad = max(1, days // 40)
    first, days = lo - timedelta(days=pad), days + 2 * pad
    if days < MIN_DAYS:
        first, days = first - timedelta(days=(MIN_DAYS - days) // 2), MIN_DAYS
    return Layout(first, days, GUTTER, width - RIGHT, show_today)


def timeline_drawing(data: TimelineData, width: float = 900) -> Drawing:
    """The timeline as a reportlab Drawing. Named parts, for reuse and tests: `grid`,
    `today` (when shown), `episode_<number>` (each with `phases`, `levels` and, once
    discharged, `discharge`), `axis` and `legend`."""
    if not data.episodes:
        drawing = Drawing(width, 30)
        drawing.add(
            String(0, 10, "No episodes.", fontName=FONT, fontSize=TEXT_SIZE, fillColor=_c(MUTED))
        )
        return drawing
    lay = layout(data, width)
    axis_top = TOP + BAND * len(data.episodes)
    legend = _legend_items(width)
    height = axis_top + AXIS_H + LEGEND_ROW * len(legend)
    drawing = Drawing(width, height)

    def y(from_top: float) -> float:  # the layout reads top-down; reportlab's y goes up
        return height - from_top

    ticks = month_ticks(lay)
    drawing.add(_grid(lay, ticks, y, axis_top), name="grid")
    if lay.show_today:
        drawing.add(_today(lay, data.today, y, axis_top, width), name="today")
    for index, episode in enumerate(data.episodes):
        band = _band(episode, lay, data.today, y, TOP + index * BAND)
        drawing.add(band, name=f"episode_{episode.number}")
    drawing.add(_axis(lay, ticks, y, axis_top, width), name="axis")
    drawing.add(_legend(legend, y, axis_top + AXIS_H), name="legend")
    return drawing


def _c(hex_colour: str):
    return HexColor(hex_colour)


def _text(x, y, text, size, colour=INK, *, font=FONT, anchor="start") -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=_c(colour), textAnchor=anchor)


def _width(text: str, size: float, font: str = FONT) -> float:
    return stringWidth(text, font, size)


def _band(episode: EpisodeLane, lay: Layout, today: date, y, top: float) -> Group:
    band = Group()
    phase_top = top + HEAD
    level_top = phase_top + PHASE_H + LANE_GAP
    band.add(
        _text(2, y(phase_top + PHASE_H / 2 + 4), f"Episode {episode.number}", NAME_SIZE, font=BOLD)
    )
    band.add(_text(2, y(level_top + LEVEL_H / 2 + 3), "Level of care", SMALL_SIZE, MUTED))

    status = f"discharged {episode.discharged_on.isoformat()}" if episode.discharged_on else "open"
    head = f"Admitted {episode.admitted_on.isoformat()} · {status}"
    x = max(min(lay.x(episode.admitted_on), lay.x1 - _width(head, SMALL_SIZE)), lay.x0)
    knockout = Rect(x - 2, y(top + HEAD - 1), _width(head, SMALL_SIZE) + 4, HEAD - 2)
    knockout.fillColor, knockout.strokeColor = _c("#ffffff"), None  # grid and today lines
    band.add(knockout)
    band.add(_text(x, y(top + HEAD - 4), head, SMALL_SIZE, MUTED))

    until = episode.discharged_on or today  # where open spans stop
    phases = Group()
    for span in episode.phases:
        colours = PHASE_COLOURS.get(span.kind, OTHER_COLOURS)
        phases.add(
            _segment(span, lay, until, y, phase_top, PHASE_H, colours, PHASE_SIZE, abbreviate=True)
        )
    band.add(phases, name="phases")
    levels = Group()
    for span in episode.levels:
        levels.add(_segment(span, lay, until, y, level_top, LEVEL_H, LEVEL_COLOURS, SMALL_SIZE))
    band.add(levels, name="levels")

    if episode.discharged_on is not None:
        x = lay.x(episode.discharged_on)
        marker = Line(x, y(phase_top - 3), x, y(level_top + LEVEL_H + 3))
        marker.strokeColor, marker.strokeWidth = _c(INK), 2
        band.add(marker, name="discharge")
    return band


def _segment(span, lay, until, y, top, height, colours, size, *, abbreviate=False) -> Group:
    """One span as a box; an open span reaches `until` (today, or the episode's discharge).
    Labelled when the label fits, with the phase's initial when only that fits."""
    start = lay.x(span.start)
    end = lay.x(max(span.end or until, span.start))
    width = max(end - start, MIN_SEGMENT)
    box = Rect(start, y(top + height), width, height)
    box.fillColor, box.strokeColor, box.strokeWidth = _c(colours.fill), _c(colours.ink), 0.75
    segment = Group(box)
    label = _fitting(span.label, width - 6, size, abbreviate)
    if label:
        baseline = y(top + height / 2) - size * 0.35
        segment.add(_text(start + width / 2, baseline, label, size, colours.ink, anchor="middle"))
    return segment


def _fitting(label: str, room: float, size: float, abbreviate: bool) -> str:
    if _width(label, size) <= room:
        return label
    if abbreviate and label and _width(label[0], size) <= room:
        return label[0]
    return ""


def month_ticks(lay: Layout) -> list[tuple[date, str]]:
    """The first of each month in range (every 2nd, 3rd... month when they would crowd)."""
    per_month = (lay.x1 - lay.x0) / lay.days * 30.44
    steps = (1, 2, 3, 6, 12, 24, 60, 120)
    step = next((s for s in steps if s * per_month >= MIN_TICK_GAP), steps[-1])
    ticks: list[tuple[date, str]] = []
    first = lay.first.year * 12 + lay.first.month - 1 + (lay.first.day > 1)  # months since 0 AD
    for index in itertools.count(first):
        day = date(index // 12, index % 12 + 1, 1)
        if day > lay.last:
            break
        if index % step:
            continue
        if step >= 12:
            label = str(day.year)
        elif not ticks or day.month == 1:
            label = f"{MONTHS[day.month - 1]} {day.year}"
        else:
            label = MONTHS[day.month - 1]
        ticks.append((day, label))
    return ticks


def _week_ticks(lay: Layout) -> list[date]:
    """Mondays, on ranges of a few months with room for them."""
    if lay.days > WEEK_TICKS_MAX_DAYS or (lay.x1 - lay.x0) / lay.days * 7 < 24:
        return []
    monday = lay.first + timedelta(days=(7 - lay.first.weekday()) % 7)
    return [monday + timedelta(weeks=n) for n in range((lay.last - monday).days // 7 + 1)]


def _grid(lay: Layout, ticks, y, axis_top: float) -> Group:
    grid = Group()
    for day, _ in ticks:
        x = lay.x(day, 0)
        line = Line(x, y(TOP - 2), x, y(axis_top))
        line.strokeColor, line.strokeWidth = _c(GRID), 0.75
        grid.add(line)
    return grid


def _today(lay: Layout, today: date, y, axis_top: float, width: float) -> Group:
    x = lay.x(today)
    line = Line(x, y(TOP - 2), x, y(axis_top))
    line.strokeColor, line.strokeWidth, line.strokeDashArray = _c(INK), 1, [3, 2]
    label = f"Today {today.isoformat()}"
    half = _width(label, TEXT_SIZE, BOLD) / 2
    centre = min(max(x, half + 1), width - half - 1)
    return Group(line, _text(centre, y(TOP - 7), label, TEXT_SIZE, font=BOLD, anchor="middle"))


def _axis(lay: Layout, ticks, y, axis_top: float, width: float) -> Group:
    axis = Group()
    base = Line(lay.x0, y(axis_top), lay.x1, y(axis_top))
    base.strokeColor = _c(AXIS)
    axis.add(base)
    taken: list[tuple[float, float]] = []  # label extents, so week labels avoid month labels
    for day, label in ticks:
        x = lay.x(day, 0)
        axis.add(_tick(x, y, axis_top, 6))
        if x + 2 + _width(label, TEXT_SIZE) <= width:
            axis.add(_text(x + 2, y(axis_top + 17), label, TEXT_SIZE))
            taken.append((x - 2, x + 6 + _width(label, TEXT_SIZE)))
    for day in _week_ticks(lay):
        x = lay.x(day, 0)
        if not lay.x0 <= x <= lay.x1:
            continue
        axis.add(_tick(x, y, axis_top, 3))
        label = str(day.day)
        half = _width(label, SMALL_SIZE) / 2
        if all(x + half < a or x - half > b for a, b in taken) and x + half <= width:
            axis.add(_text(x, y(axis_top + 17), label, SMALL_SIZE, MUTED, anchor="middle"))
    return axis


def _tick(x: float, y, axis_top: float, length: float) -> Line:
    tick = Line(x, y(axis_top), x, y(axis_top + length))
    tick.strokeColor = _c(AXIS)
    return tick


def _legend_items(width: float) -> list[list[tuple[str, str, float]]]:
    """Legend entries (kind, label, width) in rows that fit the drawing's width."""
    entries = [(kind, kind.capitalize()) for kind in PHASE_COLOURS]
    entries += [
        (LEVEL, "Level of care (ASAM code)"),
        ("today", "Today"),
        ("discharge", "Discharge"),
    ]
    rows: list[list[tuple[str, str, float]]] = [[]]
    x = GUTTER
    for kind, label in entries:
        item = 18 + _width(label, SMALL_SIZE) + 16
        if rows[-1] and x + item > width:
            rows.append([])
            x = GUTTER
        rows[-1].append((kind, label, item))
        x += item
    return rows


def _legend(rows, y, top: float) -> Group:
    legend = Group()
    for row_index, row in enumerate(rows):
        middle = top + row_index * LEGEND_ROW + LEGEND_ROW / 2
        x = GUTTER
        for kind, label, item in row:
            legend.add(_swatch(kind, x, y, middle))
            legend.add(_text(x + 18, y(middle + 3.5), label, SMALL_SIZE, MUTED))
            x += item
    return legend


def _swatch(kind: str, x: float, y, middle: float):
    if kind in ("today", "discharge"):
        line = Line(x + 7, y(middle - 6), x + 7, y(middle + 6))
        line.strokeColor = _c(INK)
        if kind == "today":
            line.strokeDashArray = [3, 2]
        else:
            line.strokeWidth = 2
        return line
    colours = LEVEL_COLOURS if kind == LEVEL else PHASE_COLOURS[kind]
    box = Rect(x, y(middle + 5), 14, 10)
    box.fillColor, box.strokeColor, box.strokeWidth = _c(colours.fill), _c(colours.ink), 0.75
    return box


def timeline_summary(data: TimelineData) -> str:
    """The timeline in words, for screen readers (the <img>'s description, the SVG's <desc>)."""
    if not data.episodes:
        return "No episodes."
    return " ".join(_episode_words(e, data.today) for e in data.episodes)


def _episode_words(episode: EpisodeLane, today: date) -> str:
    status = f"discharged {episode.discharged_on.isoformat()}" if episode.discharged_on else "open"
    until = episode.discharged_on
    phases = ", ".join(_span_words(s, today, until) for s in episode.phases) or "none recorded"
    levels = ", ".join(_span_words(s, today, until) for s in episode.levels) or "none recorded"
    return (
        f"Episode {episode.number} (admitted {episode.admitted_on.isoformat()}, {status}): "
        f"phases {phases}; levels of care {levels}."
    )


def _span_words(span: Span, today: date, until: date | None) -> str:
    name = f"{span.label} ({span.detail})" if span.detail else span.label
    end = span.end or until
    words = end.isoformat() if end else f"today ({today.isoformat()})"
    return f"{name} {span.start.isoformat()} to {words}"


def timeline_svg(data: TimelineData, width: float = 900) -> str:
    return drawing_svg(timeline_drawing(data, width), title=SVG_TITLE, desc=timeline_summary(data))


# SVG presentation attributes that reportlab writes as style="..." declarations.
_PRESENTATION = frozenset(
    {
        "clip-path",
        "fill",
        "fill-opacity",
        "fill-rule",
        "font-family",
        "font-size",
        "font-style",
        "font-weight",
        "stroke",
        "stroke-dasharray",
        "stroke-dashoffset",
        "stroke-linecap",
        "stroke-linejoin",
        "stroke-opacity",
        "stroke-width",
    }
)
# reportlab's standard fonts, as the browser should find them (Arial has Helvetica's metrics,
# which reportlab used to centre the labels).
_FONTS = {
    "Helvetica": ("Helvetica, Arial, sans-serif", ""),
    "Helvetica-Bold": ("Helvetica, Arial, sans-serif", "bold"),
}


def drawing_svg(drawing: Drawing, *, title: str, desc: str) -> str:
    """A Drawing as an SVG document with a <title> and <desc>, styled by presentation
    attributes only (no style="..."), so it renders under `default-src 'none'`. Text goes
    through the DOM, which escapes it: labels are never read as markup."""
    canvas = _SVGCanvas((drawing.width, drawing.height))
    renderSVG.draw(drawing, canvas)
    root = canvas.doc.documentElement
    for element in root.getElementsByTagName("*"):
        style = element.getAttribute("style")
        if style:
            element.removeAttribute("style")
            _set_presentation(element, style)
    root.setAttribute("role", "img")
    root.setAttribute("aria-labelledby", "chart-title")
    root.setAttribute("aria-describedby", "chart-desc")
    for tag, text in (("title", title), ("desc", desc)):
        node = root.getElementsByTagName(tag)[0]
        node.setAttribute("id", f"chart-{tag}")
        node.firstChild.data = text
    return root.toxml()  # without the DOCTYPE, which names an external DTD


class _SVGCanvas(renderSVG.SVGCanvas):
    """reportlab's SVG canvas, writing colours exactly (#rrggbb, as the CSS has them) where
    it would round them down to whole percents."""

    def setStrokeColor(self, color):
        super().setStrokeColor(color)
        if color is not None:
            self.style["stroke"] = _hex(color)

    def setFillColor(self, color):
        super().setFillColor(color)
        if color is not None:
            self.style["fill"] = _hex(color)


def _hex(color) -> str:
    return "#" + "".join(f"{round(v * 255):02x}" for v in color.rgb())


def _set_presentation(element, style: str) -> None:
    for declaration in style.split(";"):
        name, _, value = (part.strip() for part in declaration.partition(":"))
        if not name:
            continue
        if name not in _PRESENTATION:
            raise ValueError(f"no SVG presentation attribute for {name!r}")
        if name == "font-family":
            value, weight = _FONTS.get(value, (value, ""))
            if weight:
                element.setAttribute("font-weight", weight)
        element.setAttribute(name, value)

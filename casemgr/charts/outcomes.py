"""The clinic's outcome charts: discharges by TEDS reason, and retention with follow-up reach.

Plain data in (`CountBar`s; `RateGroup`s of `RateBar`s), reportlab `Drawing`s out, served as
SVG by the outcomes page (`discharges_svg`, `engagement_svg`); a PDF report adds the same
Drawings to its story: `story.append(engagement_drawing(groups, width=frame.width))`.

- Discharges: one horizontal bar per reason, labelled with its count.
- Engagement: vertical bars on a 0-100 % scale in groups (retention at 30/90/180 days,
  reached at the 30/90/180/365-day follow-ups), each labelled with its percentage above and
  its label and "n=" below. A bar whose n is 0 has no rate: it is drawn as "no data", never
  as 0 %.

No Flask, no ORM: `casemgr.outcomes.services` turns the figures into these inputs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

from .timeline import AXIS, BOLD, FONT, GRID, INK, MUTED, SMALL_SIZE, TEXT_SIZE, drawing_svg


@dataclass(frozen=True)
class CountBar:
    label: str
    count: int


@dataclass(frozen=True)
class RateBar:
    label: str  # under the bar, e.g. "30 days"
    numerator: int
    denominator: int

    @property
    def rate(self) -> float | None:
        return self.numerator / self.denominator if self.denominator else None

    @property
    def text(self) -> str:
        """'3 of 5 (60%)', or 'no data (n = 0)', as the page writes a figure."""
        if self.rate is None:
            return "no data (n = 0)"
        return f"{self.numerator} of {self.denominator} ({self.rate:.0%})"


@dataclass(frozen=True)
class RateGroup:
    title: str  # under its bars, e.g. "In treatment (retention)"
    bars: Sequence[RateBar]
    colour: str = "#1d4f73"  # the bars' fill; text stays in INK


DISCHARGES_TITLE = "Discharges by TEDS reason"
ENGAGEMENT_TITLE = "Retention and follow-up reach"
NO_DISCHARGES = "No discharges in this range."
BAR_FILL = "#1d4f73"  # --brand in static/css/app.css
NO_DATA = "no data"

# Discharges (horizontal bars)
ROW, BAR_H, PAD = 24, 15, 8
# Engagement (vertical bars)
LEFT, RIGHT, TOP, PLOT_H = 44, 12, 22, 180
LABEL_ROW, N_ROW, GROUP_ROW = 15, 14, 20
PERCENT_TICKS = (0, 25, 50, 75, 100)


def _c(hex_colour: str):
    return HexColor(hex_colour)


def _text(x, y, text, size=TEXT_SIZE, colour=INK, *, font=FONT, anchor="start") -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=_c(colour), textAnchor=anchor)


def _width(text: str, size: float = TEXT_SIZE, font: str = FONT) -> float:
    return stringWidth(text, font, size)


def _message(width: float, text: str) -> Drawing:
    drawing = Drawing(width, 30)
    drawing.add(_text(0, 10, text, colour=MUTED), name="message")
    return drawing


# ------------------------------------------------------------------------ discharges


def discharges_drawing(bars: Sequence[CountBar], width: float = 720) -> Drawing:
    """One row per reason: its label on the left, a bar as long as its share of the largest
    count, and the count after the bar. Named parts: `bars` (one group per row) and `axis`.
    With no discharges at all, only a message."""
    if not bars or not any(b.count for b in bars):
        return _message(width, NO_DISCHARGES)
    # Labels are measured in Helvetica; the slack covers a wider fallback font.
    gutter = max(_width(b.label) for b in bars) * 1.1 + 2 * PAD
    room = max(_width(str(b.count), TEXT_SIZE, BOLD) for b in bars) + 2 * PAD
    span = max(width - gutter - room, 40)
    top = max(b.count for b in bars)
    height = ROW * len(bars) + 2 * PAD
    drawing = Drawing(width, height)
    rows = Group()
    for index, bar in enumerate(bars):
        middle = height - PAD - ROW * index - ROW / 2
        rows.add(_count_row(bar, gutter, span * bar.count / top, middle))
    drawing.add(rows, name="bars")
    axis = Line(gutter, PAD / 2, gutter, height - PAD / 2)
    axis.strokeColor = _c(AXIS)
    drawing.add(axis, name="axis")
    return drawing


def _count_row(bar: CountBar, x0: float, length: float, middle: float) -> Group:
    row = Group(_text(2, middle - 3.5, bar.label))
    if bar.count:
        box = Rect(x0, middle - BAR_H / 2, length, BAR_H)
        box.fillColor, box.strokeColor = _c(BAR_FILL), None
        row.add(box)
    row.add(_text(x0 + length + PAD, middle - 3.5, str(bar.count), font=BOLD))
    return row


def discharges_summary(bars: Sequence[CountBar]) -> str:
    """The chart in words, for screen readers."""
    total = sum(b.count for b in bars)
    if not total:
        return NO_DISCHARGES
    counts = "; ".join(f"{b.label}: {b.count}" for b in bars)
    return f"{DISCHARGES_TITLE}, {total} discharges in all. {counts}."


def discharges_svg(bars: Sequence[CountBar], width: float = 720) -> str:
    drawing = discharges_drawing(bars, width)
    return drawing_svg(drawing, title=DISCHARGES_TITLE, desc=discharges_summary(bars))


# ------------------------------------------------------------------------ engagement


def engagement_drawing(groups: Sequence[RateGroup], width: float = 720) -> Drawing:
    """Bars on a 0-100 % scale, group after group with a gap between groups. Named parts:
    `grid` (the percentage lines and labels), `group_<index>` (each with one `bar_<index>`
    per bar: a box, unless n is 0, its percentage or "no data", its label and "n=") and
    `axis`."""
    slots = sum(len(g.bars) for g in groups) + max(len(groups) - 1, 0)
    if not slots:
        return _message(width, "No figures.")
    height = TOP + PLOT_H + LABEL_ROW + N_ROW + GROUP_ROW + 4
    base = height - TOP - PLOT_H  # the y of 0 %
    slot = (width - LEFT - RIGHT) / slots
    drawing = Drawing(width, height)
    drawing.add(_percent_grid(width, base), name="grid")
    index = 0
    for number, group in enumerate(groups):
        drawing.add(_rate_group(group, LEFT + index * slot, slot, base), name=f"group_{number}")
        index += len(group.bars) + 1
    axis = Line(LEFT, base, width - RIGHT, base)
    axis.strokeColor = _c(AXIS)
    drawing.add(axis, name="axis")
    return drawing


def _percent_grid(width: float, base: float) -> Group:
    grid = Group()
    for percent in PERCENT_TICKS:
        y = base + PLOT_H * percent / 100
        if percent:
            line = Line(LEFT, y, width - RIGHT, y)
            line.strokeColor, line.strokeWidth = _c(GRID), 0.75
            grid.add(line)
        grid.add(_text(LEFT - 6, y - 3.5, f"{percent}%", SMALL_SIZE, MUTED, anchor="end"))
    return grid


def _rate_group(group: RateGroup, x0: float, slot: float, base: float) -> Group:
    drawn = Group()
    for index, bar in enumerate(group.bars):
        drawn.add(_rate_bar(bar, x0 + index * slot, slot, base, group.colour), name=f"bar_{index}")
    middle = x0 + slot * len(group.bars) / 2
    drawn.add(_text(middle, base - LABEL_ROW - N_ROW - 14, group.title, font=BOLD, anchor="middle"))
    return drawn


def _rate_bar(bar: RateBar, x: float, slot: float, base: float, colour: str) -> Group:
    centre, width = x + slot / 2, slot * 0.6
    drawn = Group()
    if bar.rate is None:
        stub = Rect(centre - width / 2, base, width, 2)
        stub.fillColor, stub.strokeColor = _c(GRID), None
        drawn.add(stub)
        drawn.add(_text(centre, base + 6, NO_DATA, SMALL_SIZE, MUTED, anchor="middle"))
    else:
        height = PLOT_H * bar.rate
        box = Rect(centre - width / 2, base, width, height)
        box.fillColor, box.strokeColor = _c(colour), None
        drawn.add(box)
        label = f"{bar.rate:.0%}"
        drawn.add(_text(centre, base + height + 5, label, font=BOLD, anchor="middle"))
    drawn.add(_text(centre, base - LABEL_ROW + 3, bar.label, anchor="middle"))
    drawn.add(
        _text(centre, base - LABEL_ROW - N_ROW + 3, f"n={bar.denominator}", SMALL_SIZE, MUTED,
              anchor="middle")
    )  # fmt: skip
    return drawn


def engagement_summary(groups: Sequence[RateGroup]) -> str:
    """The chart in words, for screen readers: each bar as the page writes its figure."""
    if not any(g.bars for g in groups):
        return "No figures."
    return " ".join(
        f"{g.title}: " + "; ".join(f"{b.label} {b.text}" for b in g.bars) + "."
        for g in groups
        if g.bars
    )


def engagement_svg(groups: Sequence[RateGroup], width: float = 720) -> str:
    drawing = engagement_drawing(groups, width)
    return drawing_svg(drawing, title=ENGAGEMENT_TITLE, desc=engagement_summary(groups))

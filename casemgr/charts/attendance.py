"""Session attendance: one stacked bar per kind of session (individual, group, family...).

Plain data in (`AttendanceBar`s), a reportlab `Drawing` out (`attendance_drawing`). A web page
can serve it as SVG (`attendance_svg`); the progress report adds the same Drawing to its
story: `story.append(attendance_drawing(bars, width=frame.width))`.

Each bar is as long as the sessions scheduled, split into attended, no-show and cancelled, so
"8 of 10 attended" reads from the bar; the counts are written after it. All bars share one
scale. With no sessions at all, only a message.

No Flask, no ORM: `casemgr.printing.client_report` counts the sessions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from reportlab.graphics.shapes import Drawing, Group, Line, Rect, String
from reportlab.lib.colors import HexColor
from reportlab.pdfbase.pdfmetrics import stringWidth

from .timeline import AXIS, FONT, INK, MUTED, SMALL_SIZE, TEXT_SIZE, drawing_svg


@dataclass(frozen=True)
class AttendanceBar:
    label: str  # "Individual counseling", "Group", ...
    scheduled: int
    attended: int  # attended, late or left early: the client was there
    no_show: int
    cancelled: int  # by the client or the facility

    @property
    def text(self) -> str:
        """'8 of 10 attended, 1 no-show, 1 cancelled', as the chart writes it."""
        parts = [f"{self.attended} of {self.scheduled} attended"]
        if self.no_show:
            parts.append(f"{self.no_show} no-show")
        if self.cancelled:
            parts.append(f"{self.cancelled} cancelled")
        return ", ".join(parts)


TITLE = "Session attendance"
EMPTY = "No sessions in this period."
# (part, legend label, fill): the parts of a bar, left to right.
PARTS = (
    ("attended", "Attended", "#1d4f73"),
    ("no_show", "No-show", "#b03a2e"),
    ("cancelled", "Cancelled", "#a7b0ba"),
)
ROW, BAR_H, PAD, LEGEND_H, SWATCH = 22, 13, 8, 20, 9


def _c(hex_colour: str):
    return HexColor(hex_colour)


def _text(x, y, text, size=TEXT_SIZE, colour=INK, *, font=FONT, anchor="start") -> String:
    return String(x, y, text, fontName=font, fontSize=size, fillColor=_c(colour), textAnchor=anchor)


def _width(text: str, size: float = TEXT_SIZE, font: str = FONT) -> float:
    return stringWidth(text, font, size)


def attendance_drawing(bars: Sequence[AttendanceBar], width: float = 720) -> Drawing:
    """Named parts: `bars` (one group per row: label, up to three boxes, the counts),
    `axis` and `legend`. Without any scheduled session: only `message`."""
    if not any(b.scheduled for b in bars):
        drawing = Drawing(width, 24)
        drawing.add(_text(0, 8, EMPTY, colour=MUTED), name="message")
        return drawing
    # Labels are measured in Helvetica; the slack covers a wider fallback font.
    gutter = max(_width(b.label) for b in bars) * 1.1 + 2 * PAD
    room = max(_width(b.text, SMALL_SIZE) for b in bars) + 2 * PAD
    span = max(width - gutter - room, 60)
    top = max(b.scheduled for b in bars)
    height = ROW * len(bars) + LEGEND_H + PAD
    drawing = Drawing(width, height)
    rows = Group()
    for index, bar in enumerate(bars):
        middle = height - PAD / 2 - ROW * index - ROW / 2
        rows.add(_row(bar, gutter, span / top, middle))
    drawing.add(rows, name="bars")
    axis = Line(gutter, LEGEND_H, gutter, height - PAD / 2)
    axis.strokeColor = _c(AXIS)
    drawing.add(axis, name="axis")
    drawing.add(_legend(gutter), name="legend")
    return drawing


def _row(bar: AttendanceBar, x0: float, scale: float, middle: float) -> Group:
    row = Group(_text(2, middle - 3.5, bar.label))
    x = x0
    for part, _, fill in PARTS:
        count = getattr(bar, part)
        if count:
            box = Rect(x, middle - BAR_H / 2, count * scale, BAR_H)
            box.fillColor, box.strokeColor = _c(fill), None
            row.add(box)
            x += count * scale
    row.add(_text(x0 + bar.scheduled * scale + PAD, middle - 3.5, bar.text, SMALL_SIZE))
    return row


def _legend(x0: float) -> Group:
    legend, x = Group(), x0
    for _, label, fill in PARTS:
        swatch = Rect(x, 4, SWATCH, SWATCH)
        swatch.fillColor, swatch.strokeColor = _c(fill), None
        legend.add(swatch)
        legend.add(_text(x + SWATCH + 4, 5, label, SMALL_SIZE, MUTED))
        x += SWATCH + 4 + _width(label, SMALL_SIZE) + 3 * PAD
    return legend


def attendance_summary(bars: Sequence[AttendanceBar]) -> str:
    """The chart in words, for screen readers."""
    shown = [b for b in bars if b.scheduled]
    if not shown:
        return EMPTY
    return " ".join(f"{b.label}: {b.text}." for b in shown)


def attendance_svg(bars: Sequence[AttendanceBar], width: float = 720) -> str:
    drawing = attendance_drawing(bars, width)
    return drawing_svg(drawing, title=TITLE, desc=attendance_summary(bars))

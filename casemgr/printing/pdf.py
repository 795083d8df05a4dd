"""The PDF engine every report uses: fonts, styles, safe text, tables, and a page frame with
"page X of Y", the client's name and MRN and the 42 CFR Part 2 notice on every page.

Three rules make reports safe to print from any record:
- Every piece of text passes through `esc()` before it reaches a Paragraph: platypus parses
  a mini-markup, so a name like "<b>" or "A & B" would otherwise break or restyle the page.
- The font is DejaVu Sans, bundled under its licence (fonts/LICENSE-DejaVu.txt), so accented,
  Cyrillic, Greek and Hebrew or Arabic names print (right-to-left text prints in logical
  order: reportlab does not reorder it). Characters the font lacks (most emoji) print as a
  box rather than failing. Long words are split by reportlab (`splitLongWords`).
- Output is reproducible: the creation date and the document ID come from the report's
  record (`Meta.generated_at`, `Meta.key`), never from the clock, so re-rendering the same
  report from unchanged records gives the same bytes and the SHA-256 is a real check.
"""

from __future__ import annotations

import hashlib
import io
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.enums import TA_LEFT
from reportlab.lib.pagesizes import LETTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import inch
from reportlab.lib.utils import TimeStamp, simpleSplit
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

FONT_DIR = Path(__file__).parent / "fonts"
FONT, BOLD, ITALIC = "DejaVuSans", "DejaVuSans-Bold", "DejaVuSans-Oblique"
PAGE = LETTER
MARGIN = 0.7 * inch
FOOTER_HEIGHT = 0.85 * inch
HEADER_HEIGHT = 0.45 * inch
# The abbreviated re-disclosure notice of 42 CFR §2.32 (domain reference §4.1). The 2024
# wording is unverified there, so the facility can set its own (config PART2_NOTICE).
PART2_NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."


@cache
def register_fonts() -> None:
    for name, file in (
        (FONT, "DejaVuSans.ttf"),
        (BOLD, "DejaVuSans-Bold.ttf"),
        (ITALIC, "DejaVuSans-Oblique.ttf"),
    ):
        pdfmetrics.registerFont(TTFont(name, str(FONT_DIR / file)))
    pdfmetrics.registerFontFamily(FONT, normal=FONT, bold=BOLD, italic=ITALIC, boldItalic=BOLD)


@cache
def styles() -> dict[str, ParagraphStyle]:
    register_fonts()
    body = ParagraphStyle(
        "body", fontName=FONT, fontSize=9.5, leading=12.5, alignment=TA_LEFT, splitLongWords=1
    )
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=8, leading=10),
        "muted": ParagraphStyle("muted", parent=body, fontSize=8.5, textColor=colors.grey),
        "title": ParagraphStyle("title", parent=body, fontName=BOLD, fontSize=16, leading=20),
        "h2": ParagraphStyle(
            "h2", parent=body, fontName=BOLD, fontSize=12, leading=15, spaceBefore=10, spaceAfter=4
        ),
        "h3": ParagraphStyle(
            "h3", parent=body, fontName=BOLD, fontSize=10, leading=13, spaceBefore=6, spaceAfter=2
        ),
        "cell": ParagraphStyle("cell", parent=body, fontSize=8.5, leading=10.5),
        "head": ParagraphStyle("head", parent=body, fontName=BOLD, fontSize=8.5, leading=10.5),
    }


def esc(value: object) -> str:
    """Text for a Paragraph: markup characters escaped, line breaks kept."""
    text = "" if value is None else str(value)
    text = escape(text, {'"': "&quot;", "'": "&#39;"})
    return text.replace("\r\n", "\n").replace("\n", "<br/>")


def para(value: object, style: str = "body") -> Paragraph:
    return Paragraph(esc(value), styles()[style])


def heading(value: object, level: int = 2) -> Paragraph:
    return para(value, f"h{level}")


def empty(message: str) -> Paragraph:
    """What a section says when the client has no data of its kind."""
    return para(message, "muted")


def table(
    header: Sequence[object],
    rows: Iterable[Sequence[object]],
    widths: Sequence[float] | None = None,
) -> Table:
    """A table whose every cell is escaped text in a wrapping Paragraph; the header repeats on
    each page the table spans."""
    s = styles()
    data = [[Paragraph(esc(h), s["head"]) for h in header]]
    data += [
        [c if isinstance(c, Flowable) else Paragraph(esc(c), s["cell"]) for c in r] for r in rows
    ]
    usable = PAGE[0] - 2 * MARGIN
    widths = widths or [usable / len(header)] * len(header)
    result = Table(data, colWidths=list(widths), repeatRows=1)
    result.setStyle(
        TableStyle(
            [
                ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8edf5")),
                ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#9aa5b4")),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    return result


def facts(pairs: Iterable[tuple[object, object]]) -> Table:
    """Label/value pairs, two columns, e.g. the header block of a report."""
    s = styles()
    rows = [[Paragraph(esc(k), s["head"]), Paragraph(esc(v), s["cell"])] for k, v in pairs]
    usable = PAGE[0] - 2 * MARGIN
    result = Table(rows, colWidths=[1.8 * inch, usable - 1.8 * inch])
    result.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("BOTTOMPADDING", (0, 0), (-1, -1), 1)])
    )
    return result


def keep(*flowables: Flowable) -> KeepTogether:
    return KeepTogether(list(flowables))


def gap(points: float = 6) -> Spacer:
    return Spacer(1, points)


@dataclass(frozen=True)
class Meta:
    """What every page shows, and what fixes the file's date and ID."""

    title: str
    facility: str
    generated_at: datetime  # aware; from the print record, not the clock
    key: str  # identifies the report (kind, client, period, record): seeds the PDF's ID
    client_label: str = ""  # "Name · MRN C0000123-4", on every page of a client's report
    notice: str = PART2_NOTICE
    author: str = ""


def _timestamp(at: datetime) -> TimeStamp:
    stamp = TimeStamp(invariant=True)
    utc = at.astimezone(UTC)
    stamp.t = utc.timestamp()
    stamp.lt = time.gmtime(stamp.t)
    stamp.YMDhms = tuple(stamp.lt)[:6]
    return stamp


def _canvas_class(meta: Meta) -> type[Canvas]:
    """A canvas that draws the footer once the page count is known ("page X of Y")."""

    class ReportCanvas(Canvas):
        def __init__(self, *args, **kwargs):
            kwargs["invariant"] = 1
            super().__init__(*args, **kwargs)
            # Date and ID from the record: reproducible, and still distinct per report.
            self._doc._timeStamp = _timestamp(meta.generated_at)
            self._doc.signature = hashlib.md5(usedforsecurity=False)
            self._doc.signature.update(meta.key.encode())
            self._pages: list[dict] = []

        def showPage(self):  # noqa: N802 (reportlab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self):
            total = len(self._pages)
            for number, state in enumerate(self._pages, start=1):
                self.__dict__.update(state)
                _draw_frame(self, meta, number, total)
                super().showPage()
            super().save()

    return ReportCanvas


def _draw_frame(canvas: Canvas, meta: Meta, number: int, total: int) -> None:
    width, height = PAGE
    canvas.saveState()
    canvas.setFont(BOLD, 8)
    canvas.setFillColor(colors.HexColor("#1d3f73"))
    canvas.drawString(MARGIN, height - MARGIN + 12, meta.facility[:90])
    canvas.setFont(FONT, 8)
    canvas.drawRightString(width - MARGIN, height - MARGIN + 12, meta.title[:80])
    canvas.setFillColor(colors.black)
    y = MARGIN - 2
    canvas.setStrokeColor(colors.HexColor("#9aa5b4"))
    canvas.line(MARGIN, y + 10, width - MARGIN, y + 10)
    canvas.setFont(BOLD, 8)
    canvas.drawString(MARGIN, y, meta.client_label[:100])
    canvas.drawRightString(width - MARGIN, y, f"Page {number} of {total}")
    canvas.setFont(FONT, 7)
    lines = simpleSplit("CONFIDENTIAL: " + meta.notice, FONT, 7, width - 2 * MARGIN)
    for i, line in enumerate(lines[:4]):
        canvas.drawString(MARGIN, y - 10 - 8.5 * i, line)
    canvas.restoreState()


def render(story: list[Flowable], meta: Meta) -> tuple[bytes, int]:
    """The PDF's bytes and its page count."""
    register_fonts()
    buffer = io.BytesIO()
    width, height = PAGE
    doc = BaseDocTemplate(
        buffer,
        pagesize=PAGE,
        leftMargin=MARGIN,
        rightMargin=MARGIN,
        topMargin=MARGIN + HEADER_HEIGHT / 2,
        bottomMargin=MARGIN + FOOTER_HEIGHT / 2,
        title=meta.title,
        author=meta.author,
        subject=meta.client_label,
        creator="casemgr",
        producer="casemgr",
        invariant=1,
    )
    frame = Frame(
        doc.leftMargin, doc.bottomMargin, doc.width, doc.height, id="body", showBoundary=0
    )
    doc.addPageTemplates([PageTemplate(id="page", frames=[frame])])
    canvas_class = _canvas_class(meta)
    pages: list[int] = []

    class Counting(canvas_class):  # type: ignore[misc, valid-type]
        def save(self):
            pages.append(len(self._pages))
            super().save()

    doc.build(story or [empty("Nothing to report.")], canvasmaker=Counting)
    return buffer.getvalue(), pages[0] if pages else 0


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()

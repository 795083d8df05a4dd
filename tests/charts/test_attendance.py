"""The attendance chart: plain data in, a Drawing out, rendered as SVG and as PDF. No Flask."""

import xml.etree.ElementTree as ET

from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Group, Rect, String

from casemgr.charts.attendance import (
    EMPTY,
    PARTS,
    AttendanceBar,
    attendance_drawing,
    attendance_summary,
    attendance_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
FILLS = {part: fill for part, _, fill in PARTS}
BARS = [
    AttendanceBar("Individual counseling", 10, 8, 1, 1),
    AttendanceBar("Group sessions", 20, 20, 0, 0),
    AttendanceBar("Family sessions", 2, 0, 2, 0),
]


def shapes(node, kind):
    for child in node.contents:
        if isinstance(child, Group):
            yield from shapes(child, kind)
        elif isinstance(child, kind):
            yield child


def test_one_row_per_kind_with_a_box_per_part_on_one_scale():
    drawing = attendance_drawing(BARS, width=600)
    rows = drawing.bars.contents
    assert len(rows) == 3
    individual = [r for r in shapes(rows[0], Rect)]
    assert [r.fillColor.hexval()[2:] for r in individual] == [
        FILLS["attended"][1:],
        FILLS["no_show"][1:],
        FILLS["cancelled"][1:],
    ]
    group = list(shapes(rows[1], Rect))
    assert len(group) == 1  # only attended sessions
    # 20 sessions draw twice as long as 10: the same scale for every row.
    assert abs(group[0].width - 2 * sum(r.width for r in individual)) < 0.01
    assert [r.fillColor.hexval()[2:] for r in shapes(rows[2], Rect)] == [FILLS["no_show"][1:]]


def test_counts_are_written_after_each_bar_and_in_the_summary():
    texts = [s.text for s in shapes(attendance_drawing(BARS), String)]
    assert "8 of 10 attended, 1 no-show, 1 cancelled" in texts
    assert "20 of 20 attended" in texts and "0 of 2 attended, 2 no-show" in texts
    assert {"Attended", "No-show", "Cancelled"} <= set(texts)  # the legend
    assert attendance_summary(BARS).startswith(
        "Individual counseling: 8 of 10 attended, 1 no-show, 1 cancelled."
    )


def test_no_sessions_draws_only_a_message():
    drawing = attendance_drawing([AttendanceBar("Group sessions", 0, 0, 0, 0)])
    assert [s.text for s in shapes(drawing, String)] == [EMPTY]
    assert attendance_summary([]) == EMPTY


def test_the_svg_is_titled_described_and_style_free():
    svg = attendance_svg(BARS)
    root = ET.fromstring(svg)
    assert root.find(f"{SVG}title").text == "Session attendance"
    assert "Group sessions: 20 of 20 attended." in root.find(f"{SVG}desc").text
    assert "style=" not in svg and "<script" not in svg


def test_the_same_drawing_renders_into_a_pdf():
    assert renderPDF.drawToString(attendance_drawing(BARS)).startswith(b"%PDF")

"""The outcome charts: plain data in, Drawings out, rendered as SVG and as PDF. No Flask."""

import xml.etree.ElementTree as ET

import pytest
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Group, Rect, String

from casemgr.charts.outcomes import (
    BAR_FILL,
    NO_DISCHARGES,
    PLOT_H,
    CountBar,
    RateBar,
    RateGroup,
    discharges_drawing,
    discharges_summary,
    discharges_svg,
    engagement_drawing,
    engagement_summary,
    engagement_svg,
)

SVG = "{http://www.w3.org/2000/svg}"

REASONS = [
    CountBar("1 Treatment completed", 1),
    CountBar("2 Left against professional advice / dropped out", 2),
    CountBar("3 Terminated by facility", 1),
    CountBar("4 Transferred to another program or facility", 0),
]
GROUPS = [
    RateGroup(
        "In treatment (retention)",
        [RateBar("30 days", 2, 4), RateBar("90 days", 4, 4), RateBar("180 days", 0, 0)],
    ),
    RateGroup(
        "Reached at follow-up",
        [RateBar("30 days", 1, 2), RateBar("90 days", 0, 1)],
        colour="#1e5b32",
    ),
]


def shapes(node, kind):
    for child in node.contents:
        if isinstance(child, Group):
            yield from shapes(child, kind)
        elif isinstance(child, kind):
            yield child


def strings(node) -> list[str]:
    return [s.text for s in shapes(node, String)]


def test_one_discharge_bar_per_reason_as_long_as_its_count():
    drawing = discharges_drawing(REASONS)
    rows = drawing.bars.contents
    assert len(rows) == 4
    boxes = [list(shapes(r, Rect)) for r in rows]
    assert [len(b) for b in boxes] == [1, 1, 1, 0]  # no bar for a count of 0
    completed, against_advice, terminated = (b[0] for b in boxes[:3])
    assert against_advice.width == pytest.approx(2 * completed.width)
    assert terminated.width == pytest.approx(completed.width)
    assert strings(rows[1]) == ["2 Left against professional advice / dropped out", "2"]
    assert strings(rows[3])[-1] == "0"
    # Top to bottom in the order given.
    assert rows[0].contents[0].y > rows[1].contents[0].y


def test_no_discharges_is_a_message_not_empty_bars():
    for bars in ([], [CountBar("1 Treatment completed", 0)]):
        drawing = discharges_drawing(bars)
        assert strings(drawing) == [NO_DISCHARGES]
        assert discharges_summary(bars) == NO_DISCHARGES


def test_rate_bars_are_as_tall_as_their_rate_and_carry_their_n():
    drawing = engagement_drawing(GROUPS)
    retention = drawing.group_0
    half, full = (next(shapes(retention.contents[i], Rect)) for i in (0, 1))
    assert full.height == pytest.approx(PLOT_H) and half.height == pytest.approx(PLOT_H / 2)
    assert half.y == full.y  # on the same baseline
    assert strings(retention.contents[0]) == ["50%", "30 days", "n=4"]
    assert strings(retention.contents[1]) == ["100%", "90 days", "n=4"]
    assert "In treatment (retention)" in strings(retention)
    assert {r.fillColor.hexval() for r in shapes(drawing.group_1, Rect)} == {"0x1e5b32"}


def test_a_bar_with_n_0_is_no_data_never_0_percent():
    drawing = engagement_drawing(GROUPS)
    none = drawing.group_0.contents[2]  # 180 days, n = 0
    assert strings(none) == ["no data", "180 days", "n=0"]
    (stub,) = shapes(none, Rect)
    assert stub.fillColor.hexval() != "0x" + BAR_FILL[1:]  # a grey stub, not a bar
    zero = drawing.group_1.contents[1]  # 90 days: 0 of 1 is a real 0 %
    assert strings(zero) == ["0%", "90 days", "n=1"]
    assert next(shapes(zero, Rect)).height == 0


def test_the_percentage_grid_runs_from_0_to_100():
    assert strings(engagement_drawing(GROUPS).grid) == ["0%", "25%", "50%", "75%", "100%"]


def test_groups_do_not_overlap_and_fit_the_width():
    drawing = engagement_drawing(GROUPS, width=600)
    last_of_first = max(r.x + r.width for r in shapes(drawing.group_0, Rect))
    first_of_second = min(r.x for r in shapes(drawing.group_1, Rect))
    assert last_of_first < first_of_second
    assert all(0 <= r.x and r.x + r.width <= 600 for r in shapes(drawing, Rect))


def test_summaries_in_words():
    assert discharges_summary(REASONS) == (
        "Discharges by TEDS reason, 4 discharges in all. 1 Treatment completed: 1; "
        "2 Left against professional advice / dropped out: 2; 3 Terminated by facility: 1; "
        "4 Transferred to another program or facility: 0."
    )
    assert engagement_summary(GROUPS) == (
        "In treatment (retention): 30 days 2 of 4 (50%); 90 days 4 of 4 (100%); "
        "180 days no data (n = 0). Reached at follow-up: 30 days 1 of 2 (50%); "
        "90 days 0 of 1 (0%)."
    )


@pytest.mark.parametrize(
    "svg, title",
    [
        (discharges_svg(REASONS), "Discharges by TEDS reason"),
        (engagement_svg(GROUPS), "Retention and follow-up reach"),
    ],
)
def test_svg_is_well_formed_accessible_and_needs_no_styles(svg, title):
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == title
    assert root.find(f"{SVG}desc").text
    assert root.get("aria-labelledby") == "chart-title"
    assert all(el.get("style") is None for el in root.iter())
    assert not list(root.iter(f"{SVG}script")) and "<!DOCTYPE" not in svg


def test_labels_are_text_never_markup():
    nasty = '<script>alert("x")</script> & <b>'
    svg = engagement_svg([RateGroup(nasty, [RateBar(nasty, 1, 2)])])
    root = ET.fromstring(svg)
    assert nasty in [t.text for t in root.iter(f"{SVG}text")]
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}b"))
    svg = discharges_svg([CountBar(nasty, 3)])
    assert nasty in ET.fromstring(svg).find(f"{SVG}desc").text


def test_the_same_drawings_go_into_a_pdf():
    for drawing in (discharges_drawing(REASONS, 480), engagement_drawing(GROUPS, 480)):
        assert renderPDF.drawToString(drawing).startswith(b"%PDF")

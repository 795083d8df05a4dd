"""The timeline drawing: plain data in, one Drawing out, rendered as SVG and as PDF. No Flask."""

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Group, Line, Rect, String

from casemgr.charts.timeline import (
    LEVEL,
    PHASE_COLOURS,
    EpisodeLane,
    Span,
    TimelineData,
    layout,
    month_ticks,
    timeline_drawing,
    timeline_summary,
    timeline_svg,
)

SVG = "{http://www.w3.org/2000/svg}"
TODAY = date(2026, 11, 25)


def d(text: str) -> date:
    return date.fromisoformat(text)


def first_episode() -> EpisodeLane:
    return EpisodeLane(
        1,
        d("2026-08-03"),
        d("2026-09-20"),
        phases=[
            Span(d("2026-08-03"), d("2026-08-04"), "Intake", "intake"),
            Span(d("2026-08-04"), d("2026-08-10"), "Detox", "detox"),
            Span(d("2026-08-10"), d("2026-09-20"), "Rehab", "rehab"),
        ],
        levels=[Span(d("2026-08-04"), None, "3.7-WM", LEVEL, "Medically Monitored Inpatient WM")],
    )


def open_episode(number: int = 2) -> EpisodeLane:
    return EpisodeLane(
        number,
        d("2026-11-01"),
        None,
        phases=[
            Span(d("2026-11-01"), d("2026-11-02"), "Intake", "intake"),
            Span(d("2026-11-02"), d("2026-11-05"), "Detox", "detox"),
            Span(d("2026-11-05"), None, "Aftercare", "aftercare"),
        ],
        levels=[Span(d("2026-11-05"), None, "3.5", LEVEL)],
    )


def two_episodes() -> TimelineData:
    return TimelineData([first_episode(), open_episode()], today=TODAY)


def shapes(node, kind):
    """Every shape of `kind` under a drawing or group, depth first."""
    for child in node.contents:
        if isinstance(child, Group):
            yield from shapes(child, kind)
        elif isinstance(child, kind):
            yield child


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_svg_parses_and_carries_the_labels_ticks_and_a_description():
    svg = timeline_svg(two_episodes())
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    labels = texts(svg)
    assert {"Episode 1", "Episode 2", "Detox", "Rehab", "Aftercare", "3.5"} <= set(labels)
    assert {"Aug 2026", "Sep", "Oct", "Nov"} <= set(labels)  # month ticks
    assert "Today 2026-11-25" in labels
    assert root.find(f"{SVG}title").text == "Treatment timeline"
    assert root.find(f"{SVG}desc").text == timeline_summary(two_episodes())


def test_svg_needs_no_styles_or_scripts():
    """Served under `default-src 'none'`: colours and fonts are presentation attributes."""
    root = ET.fromstring(timeline_svg(two_episodes()))
    assert all(el.get("style") is None for el in root.iter())
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}style"))
    assert "<!DOCTYPE" not in timeline_svg(two_episodes())
    fills = {el.get("fill") for el in root.iter(f"{SVG}rect")}
    assert {"#e8eef8", "#fde7e7", "#fff1d6", "#e3f3e8"} <= fills  # exactly the badges' colours
    assert {el.get("font-family") for el in root.iter(f"{SVG}text")} == {
        "Helvetica, Arial, sans-serif"
    }


def test_labels_are_text_never_markup():
    nasty = '<script>alert("x")</script> & <b>'
    lane = EpisodeLane(1, d("2026-11-01"), None, phases=[Span(d("2026-11-01"), None, nasty, "x")])
    data = TimelineData([lane], today=d("2027-03-01"))
    svg = timeline_svg(data)
    root = ET.fromstring(svg)
    assert nasty in texts(svg)
    assert not list(root.iter(f"{SVG}script")) and not list(root.iter(f"{SVG}b"))
    assert nasty in root.find(f"{SVG}desc").text


def test_one_band_per_episode_and_the_discharge_is_marked():
    drawing = timeline_drawing(two_episodes())
    first, second = drawing.episode_1, drawing.episode_2
    assert len(first.phases.contents) == 3 and len(second.phases.contents) == 3
    lay = layout(two_episodes(), 900)
    assert first.discharge.x1 == pytest.approx(lay.x(d("2026-09-20")))
    assert not hasattr(second, "discharge")
    # Bands stack: the second sits below the first.
    assert max(r.y for r in shapes(second, Rect)) < min(r.y for r in shapes(first.phases, Rect))


def right_edge(group) -> float:
    box = group.contents[-1].contents[0]
    return box.x + box.width


def test_open_spans_end_at_today_and_in_a_closed_episode_at_discharge():
    drawing = timeline_drawing(two_episodes())
    today = drawing.today.contents[0]
    assert isinstance(today, Line) and today.strokeDashArray
    assert right_edge(drawing.episode_2.phases) == pytest.approx(today.x1)
    assert right_edge(drawing.episode_2.levels) == pytest.approx(today.x1)
    # The level left open in episode 1 stops at its discharge, not today.
    assert right_edge(drawing.episode_1.levels) == pytest.approx(drawing.episode_1.discharge.x1)


def test_phase_segments_use_the_badge_colours():
    drawing = timeline_drawing(two_episodes())
    boxes = [g.contents[0] for g in drawing.episode_2.phases.contents]
    assert [b.fillColor.hexval() for b in boxes] == ["0xe8eef8", "0xfde7e7", "0xe3f3e8"]
    assert [b.strokeColor.hexval() for b in boxes] == ["0x1d3f73", "0x8a1c1c", "0x1e5b32"]
    assert set(PHASE_COLOURS) == {"intake", "detox", "rehab", "aftercare"}


def test_a_stay_that_began_today_still_shows():
    lane = EpisodeLane(1, TODAY, None, phases=[Span(TODAY, None, "Intake", "intake")])
    data = TimelineData([lane], today=TODAY)
    box = timeline_drawing(data).episode_1.phases.contents[0].contents[0]
    assert box.width >= 2
    assert "Dec 2026" in texts(timeline_svg(data))  # four weeks around today: a month tick


def test_month_ticks_thin_out_over_years_and_never_crowd():
    lanes = [
        EpisodeLane(
            1,
            d("2019-01-10"),
            d("2019-06-01"),
            phases=[Span(d("2019-01-10"), None, "Rehab", "rehab")],
        ),
        open_episode(2),
    ]
    data = TimelineData(lanes, today=TODAY)
    for width in (500, 900):
        lay = layout(data, width)
        xs = [lay.x(day, 0) for day, _ in month_ticks(lay)]
        assert len(xs) >= 3
        assert all(b - a >= 50 for a, b in zip(xs, xs[1:], strict=False))
    # A long closed history without an open episode does not stretch to today.
    old = TimelineData(lanes[:1], today=TODAY)
    assert layout(old, 900).last < d("2020-01-01") and not hasattr(timeline_drawing(old), "today")


def test_narrow_drawing_for_a_pdf_frame_wraps_its_legend():
    wide, narrow = timeline_drawing(two_episodes(), 900), timeline_drawing(two_episodes(), 450)
    assert narrow.width == 450 and narrow.height > wide.height
    assert all(s.x + 1 >= 0 for s in shapes(narrow, String))


def test_the_same_drawing_renders_to_pdf():
    pdf = renderPDF.drawToString(timeline_drawing(two_episodes(), 500))
    assert pdf.startswith(b"%PDF")


def test_summary_in_words():
    text = timeline_summary(two_episodes())
    assert text.startswith(
        "Episode 1 (admitted 2026-08-03, discharged 2026-09-20): phases Intake 2026-08-03 to "
        "2026-08-04, Detox 2026-08-04 to 2026-08-10, Rehab 2026-08-10 to 2026-09-20; levels of "
        "care 3.7-WM (Medically Monitored Inpatient WM) 2026-08-04 to 2026-09-20."
    )
    assert "Aftercare 2026-11-05 to today (2026-11-25)" in text


def test_no_episodes():
    data = TimelineData([], today=TODAY)
    assert timeline_summary(data) == "No episodes."
    assert "No episodes." in texts(timeline_svg(data))

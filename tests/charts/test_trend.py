"""The withdrawal trend chart: plain data in, one Drawing out (SVG and PDF); served within the
caseload scope and shown on the detox summary."""

import json
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
import time_machine
from reportlab.graphics import renderPDF
from reportlab.graphics.shapes import Circle, Group, PolyLine, Rect

from casemgr.audit.models import AuditEvent
from casemgr.charts.trend import (
    BAND_COLOURS,
    TrendPoint,
    band_ranges,
    time_axis,
    time_ticks,
    trend_drawing,
    trend_summary,
    trend_svg,
    view_top,
)
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.withdrawal import CIWA_AR, COWS, Band
from casemgr.extensions import db
from tests.clients_helpers import NOW, admitted
from tests.detox.helpers import assessed

SVG = "{http://www.w3.org/2000/svg}"
TZ = ZoneInfo("America/New_York")
START = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)  # 08:00 at the facility
COWS_TOTALS = (8, 14, 22, 27, 30, 26, 21, 17, 12)


def cows_series() -> list[TrendPoint]:
    return [
        TrendPoint(START + timedelta(hours=4 * i), "cows", t) for i, t in enumerate(COWS_TOTALS)
    ]


def both() -> list[TrendPoint]:
    ciwa = [
        TrendPoint(START + timedelta(hours=6 * i + 1), "ciwa_ar", t)
        for i, t in enumerate((12, 18, 9))
    ]
    return cows_series() + ciwa


def shapes(node, kind):
    for child in node.contents:
        if isinstance(child, Group):
            yield from shapes(child, kind)
        elif isinstance(child, kind):
            yield child


def texts(svg: str) -> list[str]:
    return [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_svg_is_well_formed_with_band_labels_points_and_a_description():
    svg = trend_svg(cows_series(), TZ)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "Withdrawal scores over time"
    labels = texts(svg)
    for band in (
        "None 0–4",
        "Mild 5–12",
        "Moderate 13–24",
        "Moderately severe 25–36",
        "Severe 37+",
    ):
        assert band in labels
    assert "COWS (Clinical Opiate Withdrawal Scale)" in labels
    assert len(list(root.iter(f"{SVG}circle"))) == len(COWS_TOTALS)
    assert {str(t) for t in COWS_TOTALS} <= set(labels)  # every total written by its dot
    [line] = list(root.iter(f"{SVG}polyline"))
    assert len(line.get("points").split(",")) == len(COWS_TOTALS)
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("COWS: 9 assessments; first 8 (mild) at 2026-11-23 08:00")
    assert "highest 30 (moderately severe) at 2026-11-24 00:00" in desc


def test_svg_needs_no_styles_or_scripts():
    svg = trend_svg(both(), TZ)
    assert "style=" not in svg and "<script" not in svg and "<!DOCTYPE" not in svg


def test_a_panel_per_instrument_cows_first_with_its_own_bands():
    drawing = trend_drawing(both(), TZ)
    cows, ciwa = drawing.panel_cows, drawing.panel_ciwa_ar
    assert cows.getBounds()[1] > ciwa.getBounds()[1]  # COWS above (reportlab's y goes up)
    assert len(list(shapes(ciwa.points, Circle))) == 3
    ciwa_labels = texts(trend_svg([p for p in both() if p.instrument == "ciwa_ar"], TZ))
    assert {"Mild 0–7", "Moderate 8–15", "Severe 16+"} <= set(ciwa_labels)
    fills = {r.fillColor.hexval()[2:] for r in shapes(cows.bands, Rect) if r.fillColor}
    assert {BAND_COLOURS[b].fill[1:] for b in Band} <= fills


def test_a_total_on_a_band_boundary_sits_inside_its_band():
    drawing = trend_drawing([TrendPoint(START, "cows", 5)], TZ)
    [dot] = shapes(drawing.panel_cows.points, Circle)
    mild = "0x" + BAND_COLOURS[Band.MILD].fill[1:]
    [band] = [
        r
        for r in shapes(drawing.panel_cows.bands, Rect)
        if r.fillColor and r.fillColor.hexval() == mild
    ]
    assert band.y < dot.cy < band.y + band.height


def test_the_scale_grows_for_a_score_above_the_usual_top():
    assert view_top(CIWA_AR, [12]) == 32 and view_top(CIWA_AR, [41]) == 44
    assert view_top(CIWA_AR, [67]) == 67 and view_top(COWS, [3]) == 48
    assert band_ranges(CIWA_AR, 32) == [
        (Band.MILD, 0, 7),
        (Band.MODERATE, 8, 15),
        (Band.SEVERE, 16, None),
    ]


def test_time_ticks_are_on_the_facility_clock_and_dated_at_midnight():
    ticks = time_ticks(time_axis(cows_series(), 900), TZ)
    labels = [(label, day) for _, label, day in ticks]
    assert labels[0][1] == "2026-11-23"  # the first tick carries its date
    assert ("00:00", "2026-11-24") in labels
    assert all(at.astimezone(TZ).minute == 0 for at, _, _ in ticks)


def test_ticks_stay_on_the_hour_across_the_end_of_daylight_saving_time():
    start = datetime(2026, 10, 31, 12, tzinfo=UTC)
    points = [TrendPoint(start + timedelta(hours=6 * i), "cows", 10) for i in range(8)]
    ticks = time_ticks(time_axis(points, 900), TZ)
    hours = {at.astimezone(TZ).hour for at, _, _ in ticks}
    assert hours <= {0, 3, 6, 9, 12, 15, 18, 21} or hours <= {0, 6, 12, 18}


def test_two_weeks_of_scores_label_only_the_peak_and_the_last():
    points = [TrendPoint(START + timedelta(hours=4 * i), "cows", 5 + i % 20) for i in range(84)]
    drawing = trend_drawing(points, TZ)
    assert len(list(shapes(drawing.panel_cows.points, Circle))) == 84
    [line] = shapes(drawing.panel_cows.line, PolyLine)
    assert len(line.points) == 84 * 2
    labels = [t for t in texts(trend_svg(points, TZ)) if t.isdigit()]
    assert "24" in labels  # the peak


def test_no_assessments_yet_is_a_drawing_not_an_error():
    svg = trend_svg([], TZ)
    assert texts(svg) == ["No assessments yet"]
    assert ET.fromstring(svg).find(f"{SVG}desc").text == "No assessments yet."
    assert trend_summary([], TZ) == "No assessments yet."


def test_the_same_drawing_renders_to_pdf():
    assert renderPDF.drawToString(trend_drawing(both(), TZ, width=480)).startswith(b"%PDF-")


def test_summary_in_words_covers_both_instruments():
    words = trend_summary(both(), TZ)
    assert words.startswith("COWS: 9 assessments;")
    assert "CIWA-Ar: 3 assessments; first 12 (moderate) at 2026-11-23 09:00" in words
    assert "last 9 (moderate)" in words
    one = trend_summary([TrendPoint(START, "ciwa_ar", 4)], TZ)
    assert one == "CIWA-Ar: 1 assessment, 4 (mild) at 2026-11-23 08:00."


# Served: the episode's own trend, within the caseload scope.


@pytest.fixture
def ward(make):
    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        person, episode = admitted(manager, counselor, Phase.DETOX)
        yield manager, counselor, make.user(Role.NURSE), episode


def test_the_trend_is_served_as_svg_with_a_strict_policy(client, auth, ward):
    _, counselor, nurse, episode = ward
    assessed(episode, nurse, at=NOW - timedelta(minutes=30))
    assessed(episode, nurse, instrument="ciwa_ar", at=NOW - timedelta(minutes=20))
    auth.login(counselor)
    resp = client.get(f"/detox/{episode.id}/trend.svg")
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    root = ET.fromstring(resp.data)
    assert len(list(root.iter(f"{SVG}circle"))) == 2
    assert "COWS: 1 assessment, 20 (moderate) at 2026-11-25 09:30." in root.find(f"{SVG}desc").text


def test_an_episode_without_assessments_serves_the_empty_chart(client, auth, ward):
    _, counselor, _, episode = ward
    auth.login(counselor)
    resp = client.get(f"/detox/{episode.id}/trend.svg")
    assert resp.status_code == 200 and b"No assessments yet" in resp.data


def test_out_of_scope_is_404_and_audited(client, auth, make, ward):
    *_, episode = ward
    auth.login(make.user(Role.COUNSELOR))  # not this client's counselor
    assert client.get(f"/detox/{episode.id}/trend.svg").status_code == 404
    assert client.get("/detox/999999/trend.svg").status_code == 404
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "authz.denied"))
    assert json.loads(event.detail)["endpoint"] == "detox.trend"


def test_the_summary_embeds_the_chart_with_its_words(client, auth, ward):
    _, _, nurse, episode = ward
    assessed(episode, nurse, at=NOW - timedelta(minutes=30))
    auth.login(nurse)
    page = client.get(f"/detox/{episode.id}").text
    assert f'src="/detox/{episode.id}/trend.svg"' in page
    assert "COWS: 1 assessment, 20 (moderate) at 2026-11-25 09:30." in page

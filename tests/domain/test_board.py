"""The detox board's pure pieces: trend-line points, overdue wording, vital marks, orders."""

from datetime import UTC, datetime, time, timedelta
from decimal import Decimal

import pytest

from casemgr.domain.board import (
    duration_words,
    order_words,
    overdue_words,
    schedule_words,
    sparkline,
    vital_readings,
)
from casemgr.domain.monitoring import Intervals, due
from casemgr.domain.vitals import Vitals

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def coords(points: str) -> list[tuple[float, float]]:
    return [tuple(float(n) for n in pair.split(",")) for pair in points.split()]


def test_sparkline_spreads_the_values_across_the_box_oldest_first():
    line = sparkline([0, 18, 36], ceiling=36, width=100, height=24, pad=2)
    assert coords(line.points) == [(2, 22), (50, 12), (98, 2)]
    assert line.last == (98, 2) and (line.width, line.height) == (100, 24)


def test_sparkline_scale_grows_past_the_ceiling_but_never_shrinks_below_it():
    low = coords(sparkline([6, 6], ceiling=36, height=24, pad=2).points)
    assert low[0][1] == pytest.approx(22 - 6 / 36 * 20, abs=0.05)
    high = coords(sparkline([10, 48], ceiling=36, height=24, pad=2).points)
    assert high[1][1] == 2  # the highest value touches the top


def test_sparkline_of_one_value_is_a_flat_line_and_of_none_is_nothing():
    line = sparkline([12], ceiling=12, width=96, height=24, pad=2)
    assert coords(line.points) == [(2, 2), (94, 2)]
    assert sparkline([], ceiling=36) is None
    assert coords(sparkline([0, 0], ceiling=0).points)[0][1] == 22  # no division by zero


def test_sparkline_keeps_at_most_one_point_per_value():
    assert len(coords(sparkline(list(range(12)), ceiling=36).points)) == 12


@pytest.mark.parametrize(
    ("delta", "words"),
    [
        (timedelta(seconds=20), "less than 1 min"),
        (timedelta(minutes=45), "45 min"),
        (timedelta(hours=1, minutes=20), "1 h 20 min"),
        (timedelta(hours=2), "2 h"),
        (timedelta(hours=2, seconds=59), "2 h"),
        (timedelta(days=1), "1 d"),
        (timedelta(days=2, hours=3, minutes=10), "2 d 3 h"),
    ],
)
def test_duration_words(delta, words):
    assert duration_words(delta) == words


def test_overdue_words_from_the_due_time():
    late = due(NOW - timedelta(hours=5, minutes=20), 10, NOW)
    assert overdue_words(late) == "OVERDUE by 1 h 20 min"
    severe = due(NOW - timedelta(hours=1, minutes=5), 30, NOW)  # hourly from COWS 25
    assert overdue_words(severe) == "OVERDUE by 5 min"
    assert overdue_words(due(NOW - timedelta(hours=1), 10, NOW)) == ""
    never = due(None, None, NOW)
    assert overdue_words(never, never_assessed=True) == "OVERDUE: no baseline assessment"


def test_schedule_words_follow_the_intervals():
    assert schedule_words() == (
        "The next assessment is due 4 h after the last one, or 1 h after it while the last "
        "COWS total is 25 or more."
    )
    custom = Intervals(routine=timedelta(hours=6), close=timedelta(minutes=30), close_from=20)
    assert "6 h" in schedule_words(custom) and "30 min" in schedule_words(custom)


def test_vital_readings_mark_out_of_range_values_in_words():
    vitals = Vitals(
        systolic=150, diastolic=90, heart_rate=118, respiratory_rate=8, temperature_c=37.24
    )
    readings = {r.field: r for r in vital_readings(vitals)}
    assert list(readings) == ["systolic", "heart_rate", "respiratory_rate", "temperature_c"]
    assert str(readings["heart_rate"]) == "HR 118 ▲ high"
    assert str(readings["respiratory_rate"]) == "RR 8 ▼ low"
    assert str(readings["systolic"]) == "BP 150/90" and readings["systolic"].direction is None
    assert str(readings["temperature_c"]) == "T 37.2"
    assert readings["heart_rate"].message == "Heart rate 118/min is above 110/min."


def test_vital_readings_of_nothing_taken():
    assert vital_readings(Vitals()) == []
    [reading] = vital_readings(Vitals(spo2=90))
    assert str(reading) == "SpO₂ 90 ▼ low"


def test_order_words():
    times = (time(8), time(20))
    assert order_words("Methadone", Decimal("30.000"), "mg", times, False) == (
        "Methadone 30 mg at 08:00, 20:00"
    )
    assert order_words("Ondansetron", Decimal("4"), "mg", (), True) == "Ondansetron 4 mg PRN"

"""The pure medication rules: doses, schedules, orders, the daily maximum and each dose."""

from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.medications import (
    BY_CODE,
    FORMULARY,
    Outcome,
    check_administration,
    check_order,
    day_bounds,
    exceeds_daily_max,
    format_dose,
    format_times,
    from_milli,
    parse_dose,
    parse_times,
    slots_for_day,
    to_milli,
)

NY = ZoneInfo("America/New_York")
START = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("30", "30"), (" 0.5 ", "0.5"), ("2.125", "2.125"), ("100000", "100000")],
)
def test_parse_dose_accepts_plain_decimals(raw, expected):
    assert parse_dose(raw) == Decimal(expected)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("", "Enter the dose as a number"),
        (None, "Enter the dose as a number"),
        ("30mg", "Enter the dose as a number"),
        ("0x1A", "Enter the dose as a number"),
        ("1,5", "Enter the dose as a number"),
        ("30; DROP TABLE drugs", "Enter the dose as a number"),
        ("0", "more than zero"),
        ("-0", "more than zero"),
        ("-5", "more than zero"),
        ("NaN", "Enter the dose as a number"),
        ("sNaN", "Enter the dose as a number"),
        ("Infinity", "Enter the dose as a number"),
        ("-Infinity", "Enter the dose as a number"),
        ("100000.001", "not plausible"),
        ("1e999999999999999999", "Enter the dose as a number"),
        ("9" * 5000, "not plausible"),
        ("0.0005", "three decimal places"),
        ("1e-999999999999999999", "Enter the dose as a number"),
        ("1_000", "Enter the dose as a number"),
        ("\u0661\u0662", "Enter the dose as a number"),
    ],
)
def test_parse_dose_refuses_hostile_values_with_a_message_for_the_field(raw, message):
    with pytest.raises(DomainError, match=message) as caught:
        parse_dose(raw, "max_daily")
    assert caught.value.field == "max_daily"


def test_doses_round_trip_through_thousandths_exactly():
    for text in ("0.001", "0.1", "2.5", "30", "120.125"):
        value = parse_dose(text)
        assert from_milli(to_milli(value)) == value
    assert sum((Decimal("0.1"),) * 3, Decimal(0)) == Decimal("0.3")  # floats would drift
    assert format_dose(from_milli(30000), "mg") == "30 mg"
    assert format_dose(Decimal("1E+2"), "mcg") == "100 mcg"


def test_parse_times_sorts_and_deduplicates_facility_times():
    assert parse_times("20:00, 8:00 08:00,\t14:30") == (time(8), time(14, 30), time(20))
    assert parse_times("") == ()
    assert format_times(parse_times("20:00,08:00")) == "08:00, 20:00"


@pytest.mark.parametrize("raw", ["24:00", "8", "08:60", "8am", "08:00:00", "-1:00", "０８:００x"])
def test_parse_times_refuses_what_is_not_a_24_hour_time(raw):
    with pytest.raises(DomainError, match="not a time") as caught:
        parse_times(raw)
    assert caught.value.field == "times"


def test_parse_times_allows_at_most_twelve_a_day():
    assert len(parse_times(", ".join(f"{h:02}:00" for h in range(12)))) == 12
    with pytest.raises(DomainError, match="twelve"):
        parse_times(", ".join(f"{h:02}:00" for h in range(13)))


def order_args(**overrides):
    args = dict(
        drug=BY_CODE["methadone"],
        dose=Decimal(30),
        max_daily=None,
        prn=False,
        prn_indication="",
        times=(time(8),),
        starts_at=START,
        stops_at=None,
    )
    return {**args, **overrides}


def test_a_plain_scheduled_order_passes():
    check_order(**order_args(max_daily=Decimal(30)))
    check_order(**order_args(prn=True, times=(), prn_indication="Nausea"))


def test_laam_is_kept_as_history_and_can_never_be_ordered():
    laam = BY_CODE["laam"]
    assert not laam.orderable and laam.controlled
    assert [d.code for d in FORMULARY if not d.orderable] == ["laam"]
    with pytest.raises(DomainError, match="historical") as caught:
        check_order(**order_args(drug=laam))
    assert caught.value.field == "drug"


def test_controlled_substances_are_those_with_a_dea_schedule():
    assert {d.code for d in FORMULARY if d.controlled and d.orderable} == {
        "methadone",
        "buprenorphine",
        "bup_naloxone",
        "chlordiazepoxide",
        "lorazepam",
    }


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"prn": True, "times": (), "prn_indication": "  "}, "prn_indication"),
        ({"times": ()}, "times"),
        ({"max_daily": Decimal(20)}, "max_daily"),
        ({"times": (time(8), time(20)), "max_daily": Decimal(45)}, "max_daily"),
        ({"stops_at": START}, "stops_at"),
        ({"stops_at": START - timedelta(hours=1)}, "stops_at"),
    ],
)
def test_check_order_names_the_field_at_fault(overrides, field):
    with pytest.raises(DomainError) as caught:
        check_order(**order_args(**overrides))
    assert caught.value.field == field


def test_a_prn_order_may_have_a_maximum_below_many_doses():
    check_order(**order_args(prn=True, times=(), prn_indication="Pain", max_daily=Decimal(30)))


def test_daily_maximum_counts_the_day_so_far_plus_this_dose():
    given = [Decimal("30"), Decimal("10.5")]
    assert exceeds_daily_max(given, Decimal("19.5"), Decimal(60)) is None  # exactly the max
    assert exceeds_daily_max(given, Decimal("19.501"), Decimal(60)) == Decimal("60.001")
    assert exceeds_daily_max([], Decimal(61), Decimal(60)) == Decimal(61)
    assert exceeds_daily_max(given, Decimal(1000), None) is None


def test_day_bounds_are_facility_midnights_even_on_dst_days():
    start, end = day_bounds(date(2026, 3, 8), NY)  # spring forward: a 23-hour day
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=23)
    assert end - start == timedelta(hours=24)  # same-zone arithmetic is wall-clock: convert first
    assert start.astimezone(UTC) == datetime(2026, 3, 8, 5, tzinfo=UTC)
    start, end = day_bounds(date(2026, 11, 1), NY)  # fall back: a 25-hour day
    assert end.astimezone(UTC) - start.astimezone(UTC) == timedelta(hours=25)


def test_slots_keep_the_wall_clock_across_the_spring_dst_change():
    times = (time(1, 30), time(8), time(20))
    begin = datetime(2026, 3, 1, tzinfo=UTC)
    before = slots_for_day(times, date(2026, 3, 7), NY, begin, None)
    after = slots_for_day(times, date(2026, 3, 8), NY, begin, None)
    assert [s.astimezone(UTC).hour for s in before] == [6, 13, 1]  # EST, -5 (20:00 → 01:00 next)
    assert [s.astimezone(UTC).hour for s in after] == [6, 12, 0]  # 01:30 still EST; then EDT
    assert [s.time() for s in after] == list(times)


def test_slots_across_the_autumn_dst_change_take_the_first_of_a_repeated_hour():
    times = (time(1, 30), time(8))
    [early, morning] = slots_for_day(times, date(2026, 11, 1), NY, START - timedelta(days=60), None)
    assert early.astimezone(UTC) == datetime(2026, 11, 1, 5, 30, tzinfo=UTC)  # 01:30 EDT
    assert morning.astimezone(UTC) == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)  # 08:00 EST


def test_slots_fall_within_the_order_start_inclusive_and_stop_exclusive():
    times = (time(8), time(14), time(20))
    starts = datetime(2026, 11, 25, 13, 0, tzinfo=UTC)  # 08:00 local
    stops = datetime(2026, 11, 26, 1, 0, tzinfo=UTC)  # 20:00 local
    slots = slots_for_day(times, date(2026, 11, 25), NY, starts, stops)
    assert [s.time() for s in slots] == [time(8), time(14)]
    assert slots_for_day(times, date(2026, 11, 24), NY, starts, None) == []


def administration(**overrides):
    args = dict(
        outcome=Outcome.GIVEN, not_given_reason="", controlled=True, nurse_id=1, witness_id=2
    )
    check_administration(**{**args, **overrides})


def test_a_witnessed_controlled_dose_passes_and_a_plain_one_needs_no_witness():
    administration()
    administration(controlled=False, witness_id=None)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"witness_id": None}, "witness_login", "needs a witness"),
        ({"witness_id": 1}, "witness_login", "different staff member"),
        ({"outcome": Outcome.HELD, "witness_id": None}, "reason", "why the dose was held"),
        ({"outcome": Outcome.REFUSED, "not_given_reason": "  "}, "reason", "refused"),
        ({"outcome": Outcome.MISSED, "controlled": False}, "reason", "missed"),
    ],
)
def test_check_administration(overrides, field, message):
    with pytest.raises(DomainError, match=message) as caught:
        administration(**overrides)
    assert caught.value.field == field


def test_a_dose_not_given_needs_no_witness():
    administration(outcome=Outcome.REFUSED, not_given_reason="Client declined", witness_id=None)
    assert [o.label for o in Outcome] == ["Given", "Held", "Refused", "Missed"]

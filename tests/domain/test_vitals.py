"""Vital-sign bounds, °F conversion and alert thresholds (pure; no Flask)."""

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.vitals import (
    BOUNDS,
    DEFAULT_THRESHOLDS,
    Thresholds,
    Vitals,
    VitalsError,
    alert_fields,
    alerts,
    celsius_to_fahrenheit,
    fahrenheit_to_celsius,
    make_vitals,
)

NORMAL = Vitals(
    systolic=120,
    diastolic=80,
    heart_rate=72,
    respiratory_rate=16,
    temperature_c=36.8,
    spo2=98,
    pain=2,
)


def test_empty_and_normal_readings():
    assert Vitals().empty
    assert not NORMAL.empty
    assert NORMAL.blood_pressure == "120/80"
    assert Vitals().blood_pressure is None
    assert alerts(NORMAL) == []
    assert alerts(Vitals()) == []


def one(field, value):
    """A reading of `field` alone, with the other half of the pressure at a harmless value."""
    if field == "systolic":
        return Vitals(systolic=value, diastolic=20)
    if field == "diastolic":
        return Vitals(systolic=300, diastolic=value)
    return Vitals(**{field: value})


@pytest.mark.parametrize(
    ("field", "low", "high"),
    [
        ("heart_rate", 20, 250),
        ("systolic", 50, 300),
        ("diastolic", 20, 200),
        ("respiratory_rate", 4, 60),
        ("spo2", 50, 100),
        ("pain", 0, 10),
    ],
)
def test_whole_number_bounds_are_inclusive(field, low, high):
    for ok in (low, high):
        assert getattr(one(field, ok), field) == ok
    for bad in (low - 1, high + 1):
        with pytest.raises(VitalsError) as err:
            one(field, bad)
        assert err.value.field == field
        assert BOUNDS[field].label in str(err.value)


def test_heart_rate_900_is_refused_and_35_accepted():
    with pytest.raises(VitalsError, match="^Heart rate must be between 20 and 250/min.$") as err:
        Vitals(heart_rate=900)
    assert err.value.field == "heart_rate"
    assert isinstance(err.value, ValueError)
    assert Vitals(heart_rate=35).heart_rate == 35


@pytest.mark.parametrize(
    ("value", "ok"), [(30.0, True), (45.0, True), (29.9, False), (45.1, False), (37, True)]
)
def test_temperature_bounds_in_celsius(value, ok):
    if ok:
        assert Vitals(temperature_c=value).temperature_c == value
    else:
        with pytest.raises(
            VitalsError, match=r"Temperature .*30\.0 and 45\.0 °C \(86\.0–113\.0 °F\)"
        ):
            Vitals(temperature_c=value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("heart_rate", True),
        ("heart_rate", "72"),
        ("heart_rate", 72.5),
        ("spo2", 97.0),
        ("pain", "5"),
        ("temperature_c", "37"),
        ("temperature_c", float("nan")),
        ("temperature_c", float("inf")),
        ("temperature_c", False),
        ("respiratory_rate", 10**9),
        ("pain", -1),
    ],
)
def test_malformed_values_are_refused_naming_the_field(field, value):
    with pytest.raises(VitalsError) as err:
        Vitals(**{field: value})
    assert err.value.field == field


def test_blood_pressure_is_a_pair_with_diastolic_below_systolic():
    with pytest.raises(VitalsError, match="both") as err:
        Vitals(systolic=120)
    assert err.value.field == "diastolic"
    with pytest.raises(VitalsError, match="both") as err:
        Vitals(diastolic=80)
    assert err.value.field == "systolic"
    with pytest.raises(VitalsError, match="below systolic") as err:
        Vitals(systolic=90, diastolic=90)
    assert err.value.field == "diastolic"
    with pytest.raises(VitalsError, match="below systolic"):
        Vitals(systolic=80, diastolic=120)
    assert Vitals(systolic=91, diastolic=90).blood_pressure == "91/90"


def test_fahrenheit_is_stored_as_celsius():
    assert fahrenheit_to_celsius(98.6) == 37.0
    assert fahrenheit_to_celsius(100.4) == 38.0  # not 38.00000000000001
    assert celsius_to_fahrenheit(37.0) == 98.6
    v = make_vitals(temperature=101.3, temperature_unit="F")
    assert v.temperature_c == 38.5
    assert v.temperature_f == 101.3
    assert make_vitals(temperature=37.2).temperature_c == 37.2
    assert make_vitals(temperature=37.2, temperature_unit="C").temperature_c == 37.2
    assert make_vitals().temperature_c is None
    assert make_vitals().temperature_f is None


def test_fahrenheit_reading_is_checked_after_conversion():
    # 37 typed with the °F unit selected is 2.8 °C: a unit mix-up, refused.
    with pytest.raises(VitalsError, match="°F") as err:
        make_vitals(temperature=37, temperature_unit="F")
    assert err.value.field == "temperature_c"
    with pytest.raises(VitalsError):
        make_vitals(temperature=120, temperature_unit="F")
    with pytest.raises(VitalsError):
        make_vitals(temperature="99", temperature_unit="F")
    with pytest.raises(VitalsError) as err:
        make_vitals(temperature=37, temperature_unit="K")
    assert err.value.field == "temperature_unit"


def test_make_vitals_passes_every_field_through():
    v = make_vitals(
        systolic=120,
        diastolic=80,
        heart_rate=72,
        respiratory_rate=16,
        temperature=98.2,
        temperature_unit="F",
        spo2=98,
        pain=2,
    )
    assert v == NORMAL


# --- alerts --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "quiet", "loud", "direction"),
    [
        ("heart_rate", 110, 111, "high"),
        ("heart_rate", 50, 49, "low"),
        ("systolic", 160, 161, "high"),
        ("systolic", 90, 89, "low"),
        ("spo2", 92, 91, "low"),
        ("temperature_c", 38.0, 38.1, "high"),
        ("respiratory_rate", 24, 25, "high"),
        ("respiratory_rate", 10, 9, "low"),
    ],
)
def test_default_alert_thresholds_are_strict(field, quiet, loud, direction):
    assert alerts(one(field, quiet)) == []
    [alert] = alerts(one(field, loud))
    assert (alert.field, alert.value, alert.direction) == (field, loud, direction)
    assert BOUNDS[field].label in alert.message
    assert alert_fields(one(field, loud)) == {field}


def test_alert_messages():
    found = alerts(Vitals(systolic=170, diastolic=100, heart_rate=35, temperature_c=38.4, spo2=88))
    assert [a.message for a in found] == [
        "Systolic pressure 170 mmHg is above 160 mmHg.",
        "Heart rate 35/min is below 50/min.",
        "Temperature 38.4 °C is above 38.0 °C.",
        "SpO₂ 88 % is below 92 %.",
    ]


def test_fever_typed_in_fahrenheit_alerts():
    assert alert_fields(make_vitals(temperature=100.4, temperature_unit="F")) == frozenset()
    assert alert_fields(make_vitals(temperature=100.6, temperature_unit="F")) == {"temperature_c"}


def test_diastolic_and_pain_have_no_default_alerts():
    assert alerts(Vitals(systolic=130, diastolic=125, pain=10)) == []


def test_thresholds_are_configurable_and_can_be_switched_off():
    strict = Thresholds(heart_rate_high=100, temperature_c_high=37.5)
    v = Vitals(heart_rate=105, temperature_c=37.8)
    assert alert_fields(v) == frozenset()
    assert alert_fields(v, strict) == {"heart_rate", "temperature_c"}
    off = Thresholds(spo2_low=None)
    assert alerts(Vitals(spo2=80), off) == []
    assert alert_fields(Vitals(spo2=80), DEFAULT_THRESHOLDS) == {"spo2"}


@pytest.mark.parametrize(
    "kwargs",
    [
        {"heart_rate_low": 120},  # above the high default of 110
        {"systolic_low": 160},
        {"respiratory_rate_high": 5},
        {"spo2_low": "92"},
        {"temperature_c_high": float("nan")},
        {"heart_rate_high": True},
    ],
)
def test_thresholds_refuse_nonsense(kwargs):
    with pytest.raises(DomainError) as err:
        Thresholds(**kwargs)
    assert err.value.field

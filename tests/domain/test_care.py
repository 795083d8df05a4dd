"""Planned stays, warnings, ages and code sets (no Flask; dates are fixed, never today)."""

from datetime import date

import pytest

from casemgr.domain.care import (
    ASAM3,
    CODE_SYSTEMS,
    age_on,
    check_birth_date,
    days_between,
    level_name,
    phase_warnings,
    planned_end,
    step_down_warning,
)
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase

D = date(2026, 1, 1)


def test_planned_ends():
    assert planned_end(Phase.DETOX, D) == date(2026, 1, 11)
    assert planned_end(Phase.REHAB, D) == date(2026, 6, 30)
    assert planned_end(Phase.AFTERCARE, D) == date(2027, 1, 1)
    assert planned_end(Phase.INTAKE, D) is None


def test_days_count_the_first_day():
    assert days_between(D, D) == 1
    assert days_between(D, date(2026, 1, 10)) == 10


@pytest.mark.parametrize(
    ("phase", "today", "flagged"),
    [
        (Phase.DETOX, date(2026, 1, 10), False),
        (Phase.DETOX, date(2026, 1, 11), True),
        (Phase.REHAB, date(2026, 6, 29), False),  # day 180
        (Phase.REHAB, date(2026, 6, 30), True),  # day 181
        (Phase.AFTERCARE, date(2027, 1, 1), False),
        (Phase.AFTERCARE, date(2027, 1, 2), True),
        (Phase.INTAKE, date(2027, 1, 2), False),
    ],
)
def test_phase_overdue_warnings(phase, today, flagged):
    warnings = phase_warnings(phase, D, today)
    assert bool(warnings) is flagged
    assert all(w.level == "overdue" for w in warnings)


def test_leaving_rehab_before_90_days_warns():
    assert step_down_warning(D, date(2026, 3, 30)).message.startswith("Only 89 days")
    assert step_down_warning(D, date(2026, 3, 31)) is None  # day 90


@pytest.mark.parametrize(
    ("birth", "today", "age"),
    [
        (date(2000, 2, 29), date(2018, 2, 28), 17),
        (date(2000, 2, 29), date(2018, 3, 1), 18),
        (D, D, 0),
    ],
)
def test_age(birth, today, age):
    assert age_on(birth, today) == age


def test_birth_date_rules():
    check_birth_date(date(1906, 1, 2), date(2026, 1, 1))
    with pytest.raises(DomainError, match="future"):
        check_birth_date(date(2026, 1, 2), D)
    with pytest.raises(DomainError, match="120 years"):
        check_birth_date(date(1905, 12, 31), D)


def test_level_codes_are_data_with_a_version():
    assert CODE_SYSTEMS["ASAM3"] is ASAM3 and "3rd edition" in ASAM3.version
    assert level_name("ASAM3", "3.7-WM") == "Medically Monitored Inpatient Withdrawal Management"
    assert level_name("STATE", "X1") == "X1"  # an unknown system shows its raw code
    assert {"1-WM", "2-WM", "3.2-WM", "3.7-WM", "4-WM"} <= set(ASAM3.codes)

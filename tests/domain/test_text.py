import pytest

from casemgr.domain.text import fold, format_mrn, is_valid_mrn, mrn_check_digit, neutralize_cell


def test_fold_ignores_case_and_accents():
    assert fold("José ÁLVAREZ") == "jose alvarez"
    assert fold("Zoë") == fold("zoe")


@pytest.mark.parametrize("value", ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(value):
    assert neutralize_cell(value) == "'" + value


@pytest.mark.parametrize("value", ["Rivers", "O'Neil", "3", "", None])
def test_ordinary_cells_are_unchanged(value):
    assert neutralize_cell(value) == ("" if value is None else value)


def test_mrns_carry_a_check_digit_that_catches_typos():
    mrn = format_mrn("C", 123)
    assert mrn == f"C000123{mrn_check_digit(123)}"
    assert is_valid_mrn("C", mrn)
    typo = mrn[:-2] + str((int(mrn[-2]) + 1) % 10) + mrn[-1]
    assert not is_valid_mrn("C", typo)
    assert not is_valid_mrn("C", "X0001234") and not is_valid_mrn("C", "C12")

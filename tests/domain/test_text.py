import pytest

from casemgr.domain import text
from casemgr.domain.errors import DomainError
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


REASON_RULES = dict(minimum=10, maximum=40, required="Say why.", too_short="Longer, please.")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (None, "Say why."),
        ("   ", "Say why."),
        ("moved \ufffd away", text.REASON_GARBLED),
        ("moved\x00 to the other site", text.REASON_CONTROL),
        ("too short", "Longer, please."),
        ("x" * 41, "Keep the reason to 40 characters or fewer."),
    ],
)
def test_a_reason_is_refused_with_the_message_that_fixes_it(raw, message):
    with pytest.raises(DomainError) as refused:
        text.clean_reason(raw, **REASON_RULES, field="why")
    assert str(refused.value) == message
    assert refused.value.field == "why"


def test_a_reason_is_stored_stripped_with_its_line_breaks():
    assert text.clean_reason("  bed free at\nthe east site \t", **REASON_RULES) == (
        "bed free at\nthe east site"
    )

"""How a screen reads in summaries: pure domain rules, no app."""

import pytest

from casemgr.domain.screens import Result, counts_as_positive, summary

NEG, POS, INV, NT = Result.NEGATIVE, Result.POSITIVE, Result.INVALID, Result.NOT_TESTED


def test_all_negative_reads_negative():
    assert summary(False, {"opiates": (NEG, False), "cocaine": (NEG, False)}) == "negative"


def test_expected_medication_positive_reads_negative():
    results = {"methadone": (POS, True), "fentanyl": (NEG, False)}
    assert summary(False, results) == "negative"
    assert not counts_as_positive(summary(False, results))


def test_unexpected_positive_reads_positive_even_beside_an_expected_one():
    results = {"methadone": (POS, True), "fentanyl": (POS, False)}
    assert summary(False, results) == "positive"
    assert counts_as_positive("positive")


def test_refusal_reads_refused_and_counts_as_positive():
    results = {"opiates": (NT, False), "fentanyl": (NT, False)}
    assert summary(True, results) == "refused"
    assert counts_as_positive(summary(True, results))


def test_invalid_reads_invalid_unless_something_is_positive():
    assert summary(False, {"opiates": (INV, False), "cocaine": (NEG, False)}) == "invalid"
    assert summary(False, {"opiates": (INV, False), "cocaine": (POS, False)}) == "positive"
    assert not counts_as_positive("invalid")


@pytest.mark.parametrize("word", ["negative", "invalid"])
def test_only_positive_and_refused_count_as_positive(word):
    assert not counts_as_positive(word)

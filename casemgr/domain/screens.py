"""Drug screens: the panel is data, and how results read in summaries."""

from __future__ import annotations

from enum import StrEnum

Codes = tuple[tuple[str, str], ...]

# The analytes offered on a screen, in display order. A facility panel is a data change.
PANEL: Codes = (
    ("opiates", "Opiates"),
    ("fentanyl", "Fentanyl"),
    ("methadone", "Methadone"),
    ("buprenorphine", "Buprenorphine"),
    ("oxycodone", "Oxycodone"),
    ("cocaine", "Cocaine"),
    ("amphetamine", "Amphetamine"),
    ("methamphetamine", "Methamphetamine"),
    ("benzodiazepines", "Benzodiazepines"),
    ("cannabis", "Cannabis (THC)"),
    ("alcohol", "Alcohol"),
)

# Analytes a prescription can explain (methadone or buprenorphine treatment).
MEDICATION_ANALYTES = frozenset({"methadone", "buprenorphine"})

SPECIMEN_TYPES: Codes = (
    ("urine", "Urine"),
    ("oral_fluid", "Oral fluid"),
    ("breath", "Breath"),
    ("blood", "Blood"),
)


class Result(StrEnum):
    NEGATIVE = "negative"
    POSITIVE = "positive"
    INVALID = "invalid"
    NOT_TESTED = "not_tested"


def summary(refused: bool, results: dict[str, tuple[Result, bool]]) -> str:
    """'positive', 'negative', 'invalid' or 'refused' for a whole screen. A refusal counts as
    positive; a positive that a prescription explains (expected) does not."""
    if refused:
        return "refused"
    unexpected = [
        a for a, (r, expected) in results.items() if r is Result.POSITIVE and not expected
    ]
    if unexpected:
        return "positive"
    if any(r is Result.INVALID for r, _ in results.values()):
        return "invalid"
    return "negative"


def counts_as_positive(summary_value: str) -> bool:
    return summary_value in ("positive", "refused")

"""Text rules shared by search, exports and the reasons staff give for a correction."""

from __future__ import annotations

import unicodedata

from .errors import DomainError

REASON_GARBLED = "Some characters could not be read (the text was not valid UTF-8); type it again."
REASON_CONTROL = "Remove control characters from the reason."

# A spreadsheet treats a cell starting with these as a formula (CSV injection).
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def fold(text: str) -> str:
    """Case- and accent-insensitive form for searching: 'José' and 'jose' match."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch)).casefold().strip()


def neutralize_cell(value: object) -> str:
    """Make a CSV cell safe to open in a spreadsheet: formulas are shown, not executed."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_PREFIXES) else text


def mrn_check_digit(number: int) -> int:
    """Luhn check digit, so a mistyped MRN is caught instead of opening the wrong chart."""
    total = 0
    for i, ch in enumerate(reversed(str(number))):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            d = d - 9 if d > 9 else d
        total += d
    return (10 - total % 10) % 10


def format_mrn(prefix: str, number: int) -> str:
    return f"{prefix}{number:06d}{mrn_check_digit(number)}"


def is_valid_mrn(prefix: str, mrn: str) -> bool:
    body = mrn[len(prefix) :]
    if not mrn.startswith(prefix) or len(body) < 7 or not body.isdigit():
        return False
    return mrn_check_digit(int(body[:-1])) == int(body[-1])


def clean_reason(
    text: str | None,
    *,
    minimum: int,
    maximum: int,
    required: str,
    too_short: str,
    field: str = "reason",
) -> str:
    """A reason as stored (why a record is voided, why a client moves site): stripped,
    required, `minimum`..`maximum` characters, no control characters (tabs and line breaks
    allowed). The messages that name the record come from the caller; raises DomainError
    on `field`, in the order a person would fix them."""
    value = (text or "").strip()
    if not value:
        raise DomainError(required, field)
    if "\ufffd" in value:
        raise DomainError(REASON_GARBLED, field)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in value):
        raise DomainError(REASON_CONTROL, field)
    if len(value) < minimum:
        raise DomainError(too_short, field)
    if len(value) > maximum:
        raise DomainError(f"Keep the reason to {maximum} characters or fewer.", field)
    return value

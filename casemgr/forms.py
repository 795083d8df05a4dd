"""Shared form pieces: text fields that refuse what the databases disagree on."""

from __future__ import annotations

import unicodedata
from typing import Any

from wtforms import Field
from wtforms.validators import ValidationError


def no_control_chars(_form: Any, field: Field) -> None:
    """NUL and other control characters: PostgreSQL refuses NUL, SQLite stores it, so refuse
    both the same way. Tabs and line breaks stay allowed in multi-line text."""
    value = field.data or ""
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in value):
        raise ValidationError("Remove control characters from this field.")


def no_format_chars(_form: Any, field: Field) -> None:
    """Identifiers may not contain invisible or direction-changing characters (U+202E, U+200B)."""
    value = field.data or ""
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in value):
        raise ValidationError("Remove invisible or control characters from this field.")

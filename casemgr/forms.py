"""Shared form pieces: text fields that refuse what the databases disagree on."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
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


def plausible_time(_form: Any, field: Field) -> None:
    """A date or time far off is a typing error, and 9999-12-31 23:59 in the facility's zone
    overflows on the way to UTC: refuse it next to the field instead of failing later."""
    if field.data is not None and not 2000 <= field.data.year <= 2099:
        raise ValidationError("Enter a date between 2000 and 2099.")


CONFLICT = "Someone else changed this record a moment ago. Reload the page and try again."


def _named_field(form: Any, name: str | None) -> Any:
    return getattr(form, name, None) if name else None


def attempt(
    form: Any,
    action: Callable[[], Any],
    default_field: str = "",
    *,
    conflict: str = CONFLICT,
    find_field: Callable[[Any, str | None], Any] = _named_field,
) -> tuple[bool, Any]:
    """Run one service call and commit, the way every form view does.

    A rule violation (any ValueError: DomainError and the domain's own refusals) rolls back
    and is shown next to the field it names, else above the form; a save that lost a race
    with another user's (version counter or unique constraint) rolls back with `conflict`.
    Never a 500, never a half-written record.
    """
    from sqlalchemy.exc import IntegrityError
    from sqlalchemy.orm.exc import StaleDataError

    from .extensions import db

    try:
        result = action()
        db.session.commit()
    except ValueError as exc:
        db.session.rollback()
        field = find_field(form, getattr(exc, "field", None) or default_field)
        (field.errors if field is not None else form.form_errors).append(str(exc))
        return False, None
    except (StaleDataError, IntegrityError):
        db.session.rollback()
        form.form_errors.append(conflict)
        return False, None
    return True, result

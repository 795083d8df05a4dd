"""Shared form pieces: text fields that refuse what the databases disagree on, the commit
wrapper every form view uses, and optimistic locking for edit forms."""

from __future__ import annotations

import hashlib
import json
import re
import unicodedata
from collections.abc import Callable, Iterable
from typing import Any

import sqlalchemy as sa
from wtforms import Field, HiddenField
from wtforms.validators import ValidationError

# Werkzeug decodes a body that is not valid UTF-8 by putting U+FFFD in place of each bad
# byte; text with one in it was garbled on the way and is refused rather than stored.
REPLACEMENT = "\ufffd"
GARBLED = "Some characters could not be read (the text was not valid UTF-8); type it again."


def no_control_chars(_form: Any, field: Field) -> None:
    """NUL and other control characters: PostgreSQL refuses NUL, SQLite stores it, so refuse
    both the same way. Tabs and line breaks stay allowed in multi-line text."""
    value = field.data or ""
    if REPLACEMENT in value:
        raise ValidationError(GARBLED)
    if any(unicodedata.category(ch) == "Cc" and ch not in "\t\r\n" for ch in value):
        raise ValidationError("Remove control characters from this field.")


def no_format_chars(_form: Any, field: Field) -> None:
    """Identifiers may not contain invisible or direction-changing characters (U+202E, U+200B)."""
    value = field.data or ""
    if REPLACEMENT in value:
        raise ValidationError(GARBLED)
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


# Optimistic locking: an edit form carries the version of the record it was opened on, and a
# save is refused, before anything is written, when the record has moved on since.

STALE = "Reload to see {their} changes; nothing was saved."
UNKNOWN_VERSION = (
    "This page did not say which version of the record you opened, so nothing was saved. "
    "Reload the page and enter your changes again."
)
_COUNTER = re.compile(r"[0-9]{1,18}")
_DIGEST = re.compile(r"[0-9a-f]{16}")
_CHANGES = ("created", "updated", "deleted")


class VersionField(HiddenField):
    """The record's version when the edit page was opened, and where the audit trail stood
    then ("7@1042"): the version refuses a stale save, the position lets the refusal name the
    change that came after it."""

    def process(self, formdata: Any, data: Any = None, extra_filters: Any = None) -> None:
        # Only ever what the page posted (or open_version set), never a value taken from the
        # record through obj= or data=, which would make every save look current.
        super().process(formdata, None, extra_filters)


def version_of(record: Any, *children: Any) -> str:
    """The record's version counter; for a record without one, or with `children` (rows the
    same form edits, which do not move the counter), a digest of the audited columns."""
    if not children and sa.inspect(record).mapper.version_id_col is not None:
        return str(record.version)
    state = [_audited_columns(row) for row in (record, *children)]
    blob = json.dumps(state, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _audited_columns(row: Any) -> list[Any]:
    skip = {
        "updated_at",
        *getattr(row, "__audit_ignore__", ()),
        *getattr(row, "__audit_redact__", ()),
    }
    columns = sa.inspect(row).mapper.column_attrs
    return [_type_of(row), {c.key: getattr(row, c.key) for c in columns if c.key not in skip}]


def open_version(form: Any, record: Any, version: Callable[[Any], str] = version_of) -> None:
    """Put the record's version into the edit form as the page is opened."""
    from .audit.models import AuditChainHead
    from .extensions import db

    seen = db.session.scalar(sa.select(AuditChainHead.last_seq).where(AuditChainHead.id == 1))
    form.version.data = f"{version(record)}@{seen or 0}"


def stale(
    form: Any,
    record: Any,
    version: Callable[[Any], str] = version_of,
    *,
    related: Iterable[Any] = (),
    client_types: tuple[str, ...] = (),
) -> bool:
    """True, with a message above the form naming who changed the record and when, if it is
    no longer the version the form was opened on. A missing or malformed version counts as
    changed. Call it before the service, so a refusal writes nothing; the row is locked (FOR
    UPDATE on PostgreSQL) so no other save slips in between this check and the commit.

    Who and when come from the audit trail: the latest change since the page was opened to
    the record, to the `related` rows, or to rows of `client_types` of the record's client.
    """
    from .extensions import db

    db.session.refresh(record, with_for_update=True)
    posted, _, seen = (form.version.data or "").partition("@")
    current = version(record)
    if posted == current:
        return False
    if not _older_version(posted, current):
        form.form_errors.append(UNKNOWN_VERSION)
        return True
    after = int(seen) if _COUNTER.fullmatch(seen) else 0
    event = last_change(db.session, [record, *related], client_types, after=after)
    form.form_errors.append(changed_message(event))
    return True


def _older_version(posted: str, current: str) -> bool:
    if _COUNTER.fullmatch(current):
        return _COUNTER.fullmatch(posted) is not None and int(posted) < int(current)
    return _DIGEST.fullmatch(posted) is not None


def last_change(
    session: Any, rows: list[Any], client_types: tuple[str, ...] = (), *, after: int = 0
) -> Any:
    """The latest audit event (after seq `after`) that created, changed or deleted one of
    `rows`, or a row of `client_types` belonging to the first row's client."""
    from .audit.models import AuditEvent as E

    ids: dict[str, set[str]] = {}
    for row in rows:
        ids.setdefault(_type_of(row), set()).add(_id_of(row))
    match = [sa.and_(E.object_type == t, E.object_id.in_(sorted(i))) for t, i in ids.items()]
    attr = getattr(rows[0], "__audit_client_attr__", None)
    if client_types and attr:
        match.append(
            sa.and_(E.client_id == getattr(rows[0], attr), E.object_type.in_(client_types))
        )
    actions = [f"{t}.{verb}" for t in {*ids, *client_types} for verb in _CHANGES]
    return session.scalar(
        sa.select(E)
        .where(E.seq > after, E.action.in_(actions), sa.or_(*match))
        .order_by(E.seq.desc())
        .limit(1)
    )


def changed_message(event: Any) -> str:
    """Who changed the record and when ("Jordan Counselor changed this record at 14:32"),
    from its audit event; "Someone" when the trail has none since the page was opened."""
    from .audit.hooks import current_context
    from .timefmt import local, today

    if event is None:
        return f"Someone changed this record after you opened it. {STALE.format(their='their')}"
    at = local(event.at)
    when = f"at {at:%H:%M}" if at.date() == today() else f"on {at:%Y-%m-%d} at {at:%H:%M}"
    if event.actor_id is not None and event.actor_id == current_context().actor_id:
        return (
            f"You changed this record {when} (facility time), after this page was opened. "
            f"{STALE.format(their='those')}"
        )
    return (
        f"{_actor_name(event)} changed this record {when} (facility time) after you opened "
        f"it. {STALE.format(their='their')}"
    )


def _actor_name(event: Any) -> str:
    from .auth.models import User
    from .extensions import db

    user = db.session.get(User, event.actor_id) if event.actor_id is not None else None
    return user.full_name if user is not None else event.actor_login or "Someone"


def _type_of(row: Any) -> str:
    return getattr(row, "__audit_type__", None) or row.__tablename__


def _id_of(row: Any) -> str:
    return ":".join(str(part) for part in sa.inspect(row).identity or ())

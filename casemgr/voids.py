"""Voiding a clinical record entered in error, the same way for every record type.

The rules (reason, already voided, who may) are casemgr.domain.voiding's; who may is applied
through casemgr.policy (Perm.RECORD_VOID and its object rule). Each blueprint has its own
route, loads the record through its client's scope (out of scope: 404) and calls
`void_page()`, which shows the confirmation page (GET) and voids on a good POST.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import flash, redirect, render_template
from flask_wtf import FlaskForm
from sqlalchemy.orm import Session
from wtforms import TextAreaField
from wtforms.validators import Length

from .audit.hooks import record as audit
from .auth.web import me
from .domain.voiding import REASON_MAX, REASON_MIN, RecordKind, check_void
from .extensions import db
from .forms import VersionField, attempt, no_control_chars, open_version, stale
from .orm import utcnow
from .policy import Perm, authorize


class VoidForm(FlaskForm):
    # Shape only (length cap, no control characters); required and minimum length are the
    # domain's, so the message is the same wherever a void comes from.
    reason = TextAreaField(
        "Reason for voiding",
        validators=[Length(max=REASON_MAX), no_control_chars],
        description=(
            f"Required, at least {REASON_MIN} characters, e.g. “entered on the wrong client” "
            "or “duplicate of the 14:00 entry”. The record stays in the chart, struck through, "
            "with your name, the date and this reason."
        ),
    )


class VersionedVoidForm(VoidForm):
    """For a record with a version counter (a check-in): a void over a later change is refused."""

    version = VersionField()


def void_record(
    session: Session,
    row: Any,
    kind: RecordKind,
    reason: str | None,
    *,
    by: Any,
    now: datetime,
    recorded: bool = True,
    after: Callable[[Session, Any], Any] | None = None,
) -> Any:
    """Mark `row` voided by `by` now with the reason, and audit it as `<kind>.voided`. The
    reason stays on the record, not in the trail: it may hold clinical content, and the trail
    holds none (an auditor follows the event's object id to the record). `after` runs once the void is flushed (a check-in made due again).
    Raises DomainError (nothing written) for a bad reason or a record already voided."""
    cleaned = check_void(kind, reason, already_voided=row.is_voided, recorded=recorded)
    row.voided_at = now
    row.voided_by_id = by.id
    row.void_reason = cleaned
    session.flush()  # the void first: a partial unique index then lets a fresh row in
    extra = after(session, row) if after is not None else None
    detail: dict[str, Any] = {}
    if extra is not None:
        detail["replacement_id"] = extra.id
    audit(session, kind.audit_action, target=row, detail=detail)
    return row


def void_page(
    row: Any,
    kind: RecordKind,
    *,
    client: Any,
    episode: Any,
    back: str,
    facts: list[tuple[str, str]],
    done: str,
    recorded: bool = True,
    after: Callable[[Session, Any], Any] | None = None,
    versioned: bool = False,
):
    """The confirmation page and the POST that voids. The caller loaded `row` through its
    client's scope; here the object rule decides (403 for someone who may not void it)."""
    authorize(Perm.RECORD_VOID, row)
    form = VersionedVoidForm() if versioned else VoidForm()
    if versioned and not form.is_submitted():
        open_version(form, row)
    if form.validate_on_submit() and not (versioned and stale(form, row)):
        ok, _ = attempt(
            form,
            lambda: void_record(
                db.session,
                row,
                kind,
                form.reason.data,
                by=me(),
                now=utcnow(),
                recorded=recorded,
                after=after,
            ),
        )
        if ok:
            flash(done, "success")
            return redirect(back)
    return render_template(
        "voids/confirm.html",
        row=row,
        kind=kind,
        client=client,
        episode=episode,
        form=form,
        back=back,
        facts=facts,
        recorded=recorded,
    )

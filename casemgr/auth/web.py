"""Glue between Flask-Login and the server-side session table."""

from __future__ import annotations

import secrets
from typing import Any

from flask import Flask, flash, g, has_request_context, redirect, request, session, url_for
from flask_login import current_user, login_user

from ..audit.hooks import AuditContext, record, set_context_provider
from ..extensions import db, login_manager
from ..orm import utcnow
from ..sqlite_setup import take_write_lock
from . import sessions
from .models import User

# The Flask session of a sign-in waiting for its second factor carries this token and no
# Flask-Login identity: to everything but the code page it is nobody (security matrix A-04).
PENDING = "pending_sid"
PENDING_NEXT = "pending_next"
PENDING_FAILURES = "pending_failures"
# Where a waiting sign-in may go; everything else is sent to the code page.
_PENDING_ALLOWED = {"auth.second_factor", "static"}

_ENDED_MESSAGES = {
    "idle_timeout": "You were signed out after a period of inactivity. Please sign in again.",
    "expired": "Your session reached its maximum length. Please sign in again.",
    "deactivated": "Your account has been deactivated.",
}


def init_app(app: Flask) -> None:
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message = "Please sign in to continue."
    login_manager.login_message_category = "info"
    login_manager.user_loader(load_user)
    app.before_request(_assign_request_id)
    app.before_request(_second_factor_gate)
    set_context_provider(_audit_context)


def _assign_request_id() -> None:
    g.request_id = secrets.token_hex(8)


def _audit_context() -> AuditContext:
    if not has_request_context():
        return AuditContext()
    user = g.get("_login_user")
    signed_in = user is not None and getattr(user, "is_authenticated", False)
    return AuditContext(
        actor_id=user.id if signed_in else None,
        actor_login=user.login if signed_in else None,
        remote_addr=(request.remote_addr or "")[:64],
        request_id=g.get("request_id"),
    )


def load_user(user_id: str) -> User | None:
    """Called once per request by Flask-Login: the cookie is only honoured while its
    server-side session is open, unexpired, recently used and its user is active."""
    result = _check(session.get("sid"), user_id)
    if result.problem is None:
        g.user_session = result.row
        if db.session.dirty:  # last_seen_at moved on; nothing else is pending this early
            db.session.commit()
        return result.row.user
    if result.problem in _ENDED_MESSAGES:
        record(
            db.session,
            "auth.session_ended",
            target=result.row.user,
            actor=result.row.user,
            detail={"reason": result.problem},
        )
        db.session.commit()
        session.clear()
        flash(_ENDED_MESSAGES[result.problem], "warning")
    else:
        db.session.rollback()
        session.clear()
    return None


def _check(token: str | None, user_id: str | None, **kwargs: Any) -> sessions.Check:
    """The session check, made again under the write lock when it has something to save
    (last_seen_at moved on, or the session ended) in a request that began as a read."""
    result = sessions.check(db.session, token, user_id, now=utcnow(), **kwargs)
    if db.session.dirty and take_write_lock(db.session, discard=True):
        result = sessions.check(db.session, token, user_id, now=utcnow(), **kwargs)
    return result


def _second_factor_gate() -> Any:
    """Runs before every view (ahead of the login requirement): a session waiting for its
    second factor reaches the code page and static files, can be cancelled by signing out,
    and is turned back to the code page everywhere else."""
    token = session.get(PENDING)
    if token is None:
        return None
    result = _check(token, None, awaiting_second_factor=True)
    if result.problem is not None:
        if result.row is not None and result.problem in _ENDED_MESSAGES:
            record(
                db.session,
                "auth.session_ended",
                target=result.row.user,
                actor=result.row.user,
                detail={"reason": result.problem, "awaiting_second_factor": True},
            )
            db.session.commit()
        else:
            db.session.rollback()
        session.clear()
        flash(
            _ENDED_MESSAGES["deactivated"]
            if result.problem == "deactivated"
            else "Sign-in was not completed in time. Please sign in again.",
            "warning",
        )
        return redirect(url_for("auth.login"))
    if db.session.dirty:
        db.session.commit()
    g.pending_session = result.row
    if request.endpoint in _PENDING_ALLOWED:
        return None
    if request.endpoint == "auth.logout" and request.method == "POST":
        return _cancel_pending(result.row)
    return redirect(url_for("auth.second_factor"))


def _cancel_pending(row: Any) -> Any:
    sessions.end(row, "signed_out", now=utcnow())
    record(db.session, "auth.logout", target=row.user, actor=row.user, detail={"stage": "code"})
    db.session.commit()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


def establish_pending(token: str, *, next_url: str | None, earlier_failures: int) -> None:
    """Start a fresh cookie session that only waits for the second factor."""
    session.clear()
    session.permanent = True
    session[PENDING] = token
    if next_url:
        session[PENDING_NEXT] = next_url
    if earlier_failures:
        session[PENDING_FAILURES] = earlier_failures


def establish(user: User, token: str) -> None:
    """Start a fresh cookie session (no pre-login keys survive: session fixation)."""
    session.clear()
    session.permanent = True
    login_user(user, remember=False)
    session["sid"] = token


def me() -> User:
    """The signed-in user as a real model instance (services and the audit log need one,
    not Flask-Login's proxy)."""
    return current_user._get_current_object()  # type: ignore[no-any-return]

"""Glue between Flask-Login and the server-side session table."""

from __future__ import annotations

import secrets

from flask import Flask, flash, g, has_request_context, request, session
from flask_login import current_user, login_user

from ..audit.hooks import AuditContext, record, set_context_provider
from ..extensions import db, login_manager
from ..orm import utcnow
from . import sessions
from .models import User

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
    result = sessions.check(db.session, session.get("sid"), user_id, now=utcnow())
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

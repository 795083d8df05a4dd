"""Server-side sessions: the cookie holds a random token, the database holds its hash."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, joinedload

from .models import User, UserSession

# last_seen_at is refreshed at most this often, so browsing is not one write per click.
TOUCH_EVERY = timedelta(seconds=30)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start(
    session: Session,
    user: User,
    *,
    now: datetime,
    remote_addr: str,
    user_agent: str,
    awaiting_second_factor: bool = False,
) -> str:
    """Open a session and return its token (256 random bits; only the hash is stored).

    A session awaiting the second factor is short-lived and reaches only the code page."""
    token = secrets.token_urlsafe(32)
    cfg = current_app.config
    lifetime = (
        timedelta(minutes=int(cfg["SECOND_FACTOR_MINUTES"]))
        if awaiting_second_factor
        else timedelta(hours=int(cfg["SESSION_ABSOLUTE_HOURS"]))
    )
    session.add(
        UserSession(
            token_hash=_digest(token),
            user=user,
            created_at=now,
            last_seen_at=now,
            expires_at=now + lifetime,
            remote_addr=(remote_addr or "")[:64],
            user_agent=(user_agent or "")[:255],
            awaiting_second_factor=awaiting_second_factor,
        )
    )
    return token


def promote(row: UserSession, *, now: datetime) -> str:
    """The second factor passed: the waiting session becomes a signed-in one under a new
    token. The old token's hash is gone, so a copy of the earlier cookie opens nothing."""
    token = secrets.token_urlsafe(32)
    hours = int(current_app.config["SESSION_ABSOLUTE_HOURS"])
    row.token_hash, row.awaiting_second_factor = _digest(token), False
    row.last_seen_at, row.expires_at = now, now + timedelta(hours=hours)
    return token


@dataclass(frozen=True)
class Check:
    row: UserSession | None
    problem: str | None  # None when the session is good


def check(
    session: Session,
    token: str | None,
    user_id: str | None,
    *,
    now: datetime,
    awaiting_second_factor: bool = False,
) -> Check:
    """Decide whether a cookie's session may continue; ending it when it may not.

    A token is honoured only for its own kind: a session still waiting for the second factor
    never passes as a signed-in one, nor the reverse."""
    if not token:
        return Check(None, "missing")
    row = (
        session.execute(
            # The user and their roles in the same statement: every signed-in request needs them.
            sa.select(UserSession)
            .where(UserSession.token_hash == _digest(token))
            .options(joinedload(UserSession.user).joinedload(User.role_rows))
        )
        .unique()
        .scalar_one_or_none()
    )
    if row is None or row.awaiting_second_factor != awaiting_second_factor:
        return Check(None, "unknown")
    if user_id is not None and str(row.user_id) != str(user_id):
        return Check(None, "unknown")
    if row.ended_at is not None:
        return Check(row, "ended")
    idle = timedelta(minutes=int(current_app.config["SESSION_IDLE_MINUTES"]))
    problem = (
        "expired"
        if now >= row.expires_at
        else "idle_timeout"
        if now - row.last_seen_at > idle
        else "deactivated"
        if not row.user.active
        else None
    )
    if problem:
        end(row, problem, now=now)
    elif now - row.last_seen_at >= TOUCH_EVERY:
        row.last_seen_at = now
    return Check(row, problem)


def end(row: UserSession, reason: str, *, now: datetime) -> None:
    if row.ended_at is None:
        row.ended_at, row.end_reason = now, reason


def end_all(
    session: Session, user: User, reason: str, *, now: datetime, keep: UserSession | None = None
) -> int:
    rows = session.scalars(
        sa.select(UserSession).where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
    ).all()
    ended = [r for r in rows if r is not keep]
    for row in ended:
        end(row, reason, now=now)
    return len(ended)

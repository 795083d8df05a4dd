"""Signing in and changing passwords. Services flush and audit; the caller commits."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..domain.errors import DomainError
from ..domain.passwords import normalize_login
from . import passwords, sessions
from .models import User, UserSession

# One message for every failure, so the form never tells an attacker which logins exist.
SIGN_IN_FAILED = (
    "Sign-in failed. Check the login name and password. After repeated failures an account "
    "is locked for a while; an administrator can unlock it."
)


class SignInFailed(DomainError):
    pass


def find_by_login(session: Session, login: str) -> User | None:
    return session.scalar(sa.select(User).where(User.login == normalize_login(login)))


@dataclass(frozen=True)
class SignIn:
    user: User
    token: str
    earlier_failures: int


def sign_in(
    session: Session, login: str, password: str, *, now: datetime, remote_addr: str, user_agent: str
) -> SignIn:
    """Check the credentials and open a server-side session; raise SignInFailed otherwise.

    Failures are recorded (and may lock the account) before raising, so the caller must
    commit in both cases.
    """
    user = find_by_login(session, login)
    if user is None:
        passwords.burn_a_verify()
        _failed(session, None, login, "unknown_login")
    elif not user.active:
        passwords.burn_a_verify()
        _failed(session, user, login, "inactive")
    elif user.is_locked(now):
        passwords.burn_a_verify()
        _failed(session, user, login, "locked")
    elif not passwords.verify_password(user.password_hash, password):
        count_failure(session, user, now)
        _failed(session, user, login, "bad_password")
    earlier = user.failed_attempts
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_attempts, user.locked_until, user.last_login_at = 0, None, now
    token = sessions.start(session, user, now=now, remote_addr=remote_addr, user_agent=user_agent)
    session.flush()
    record(session, "auth.login", target=user, actor=user)
    return SignIn(user, token, earlier)


def count_failure(session: Session, user: User, now: datetime) -> None:
    cfg = current_app.config
    user.failed_attempts += 1
    if user.failed_attempts >= int(cfg["LOGIN_MAX_FAILURES"]):
        user.locked_until = now + timedelta(minutes=int(cfg["LOCKOUT_MINUTES"]))
        user.failed_attempts = 0
        session.flush()
        record(
            session,
            "auth.lockout",
            target=user,
            actor_login=user.login,
            detail={"minutes": int(cfg["LOCKOUT_MINUTES"])},
        )


def _failed(session: Session, user: User | None, login: str, reason: str) -> None:
    if user is not None:
        record(
            session,
            "auth.login_failed",
            target=user,
            actor_login=user.login,
            detail={"reason": reason},
        )
    else:
        record(
            session,
            "auth.login_failed",
            actor_login=normalize_login(login)[:64],
            detail={"reason": reason},
        )
    raise SignInFailed(SIGN_IN_FAILED)


def sign_out(session: Session, user: User, row: UserSession | None, *, now: datetime) -> None:
    if row is not None:
        sessions.end(row, "signed_out", now=now)
    record(session, "auth.logout", target=user, actor=user)


def change_password(
    session: Session,
    user: User,
    current: str,
    new: str,
    *,
    now: datetime,
    facility: str,
    keep: UserSession | None,
) -> int:
    """Change one's own password; other sessions of the user end. Returns how many ended."""
    if not passwords.verify_password(user.password_hash, current):
        raise DomainError("The current password is not correct.", field="current_password")
    if passwords.verify_password(user.password_hash, new):
        raise DomainError("Choose a password different from the current one.", field="new_password")
    passwords.validate_new_password(new, login=user.login, facility=facility)
    user.password_hash = passwords.hash_password(new)
    user.password_changed_at, user.must_change_password = now, False
    ended = sessions.end_all(session, user, "password_changed", now=now, keep=keep)
    session.flush()
    record(
        session,
        "auth.password_changed",
        target=user,
        actor=user,
        detail={"other_sessions_ended": ended},
    )
    return ended

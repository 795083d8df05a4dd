"""Signing in (password, then the second factor) and changing passwords. Services flush and
audit; the caller commits."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NoReturn

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..domain.errors import DomainError
from ..domain.passwords import normalize_login
from . import passwords, sessions, throttle, two_factor
from .models import User, UserSession

# One message for every failure, so the form never tells an attacker which logins exist.
SIGN_IN_FAILED = (
    "Sign-in failed. Check the login name and password. After repeated failures an account "
    "is locked for a while; an administrator can unlock it."
)


class SignInFailed(DomainError):
    pass


class Throttled(SignInFailed):
    """Too many failures from this login, user or address: refused without checking."""

    def __init__(self, until: datetime, now: datetime):
        minutes = max(1, math.ceil((until - now).total_seconds() / 60))
        super().__init__(
            f"Too many failed attempts. Wait {minutes} minute{'s' if minutes > 1 else ''}, "
            "then try again. If it was not you, tell an administrator."
        )
        self.until = until
        self.retry_after = max(1, math.ceil((until - now).total_seconds()))


def find_by_login(session: Session, login: str) -> User | None:
    return session.scalar(sa.select(User).where(User.login == normalize_login(login)))


@dataclass(frozen=True)
class SignIn:
    user: User
    token: str
    earlier_failures: int
    # The token opens only the code page until the second factor is passed (or set up).
    awaiting_second_factor: bool = False


def sign_in(
    session: Session, login: str, password: str, *, now: datetime, remote_addr: str, user_agent: str
) -> SignIn:
    """Check the credentials and open a server-side session; raise SignInFailed otherwise.

    When a second factor is needed the session only waits for it (`awaiting_second_factor`).
    Failures are counted (throttle, account lockout) before raising, so the caller must
    commit in both cases.
    """
    limits = throttle.for_login(login, remote_addr)
    until = throttle.blocked_until(session, limits, now)
    if until is not None:
        record(
            session,
            "auth.throttled",
            actor_login=normalize_login(login)[:64],
            detail={"stage": "password"},
        )
        raise Throttled(until, now)
    user = find_by_login(session, login)
    reason = None
    if user is None:
        passwords.burn_a_verify()
        reason = "unknown_login"
    elif not user.active:
        passwords.burn_a_verify()
        reason = "inactive"
    elif user.is_locked(now):
        passwords.burn_a_verify()
        reason = "locked"
    elif not passwords.verify_password(user.password_hash, password):
        count_failure(session, user, now)
        reason = "bad_password"
    if reason is not None or user is None:
        throttle.fail(session, limits, now)
        _failed(session, user, login, reason or "unknown_login")
    earlier = user.failed_attempts
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    user.failed_attempts, user.locked_until = 0, None
    throttle.clear(session, limits[0])
    pending = two_factor.needed_at_sign_in(user)
    if not pending:
        user.last_login_at = now
    token = sessions.start(
        session,
        user,
        now=now,
        remote_addr=remote_addr,
        user_agent=user_agent,
        awaiting_second_factor=pending,
    )
    session.flush()
    record(session, "auth.password_ok" if pending else "auth.login", target=user, actor=user)
    return SignIn(user, token, earlier, awaiting_second_factor=pending)


@dataclass(frozen=True)
class SecondFactor:
    user: User
    token: str  # of the new, signed-in session
    method: str  # totp, recovery_code or enrolment
    recovery_codes: tuple[str, ...] = ()  # new codes to show once (after enrolment)
    recovery_codes_left: int | None = None  # after using one


def pass_second_factor(
    session: Session,
    pending: UserSession,
    code: str,
    *,
    now: datetime,
    remote_addr: str,
    enrol_seed: str | None = None,
) -> SecondFactor:
    """Finish a sign-in with a code (or, for someone without an authenticator yet, with the
    first code of the one being set up). The waiting session is signed in under a new token;
    the token of the password step stops working. Rate-limited per user and per address;
    failures are audited."""
    user = pending.user
    limits = throttle.for_code(user.id, remote_addr)
    until = throttle.blocked_until(session, limits, now)
    if until is not None:
        record(session, "auth.throttled", target=user, actor=user, detail={"stage": "code"})
        raise Throttled(until, now)
    new_codes: list[str] = []
    try:
        if enrol_seed is not None:
            new_codes = two_factor.enrol(session, user, enrol_seed, code, now=now)
            method = "enrolment"
        else:
            method = two_factor.check_code(session, user, code, now=now)
    except two_factor.CodeRefused as exc:
        throttle.fail(session, limits, now)
        record(
            session,
            "auth.second_factor_failed",
            target=user,
            actor=user,
            detail={"reason": exc.reason},
        )
        raise
    throttle.clear(session, limits[0])
    token = sessions.promote(pending, now=now)
    user.last_login_at = now
    session.flush()
    record(session, "auth.second_factor_ok", target=user, actor=user, detail={"method": method})
    record(session, "auth.login", target=user, actor=user)
    left = two_factor.recovery_codes_left(session, user) if method == "recovery_code" else None
    return SecondFactor(user, token, method, tuple(new_codes), left)


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


def _failed(session: Session, user: User | None, login: str, reason: str) -> NoReturn:
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


def check_current_password(user: User, password: str) -> None:
    """Re-authentication before a change to how one signs in (ASVS 7.5.1)."""
    if not passwords.verify_password(user.password_hash, password or ""):
        raise DomainError("The current password is not correct.", field="password")


def set_up_two_factor(
    session: Session,
    user: User,
    password: str,
    seed: str,
    code: str,
    *,
    now: datetime,
    keep: UserSession | None,
) -> list[str]:
    """Set up (or move to) a new authenticator from the account page: the current password
    and a code from the new authenticator. Other sessions end. Returns the recovery codes."""
    check_current_password(user, password)
    codes = two_factor.enrol(session, user, seed, code, now=now)
    _end_others(session, user, now=now, keep=keep)
    return codes


def replace_recovery_codes(
    session: Session, user: User, password: str, *, now: datetime
) -> list[str]:
    check_current_password(user, password)
    if not two_factor.enabled(user):
        raise DomainError("Set up an authenticator app first.", field="password")
    return two_factor.new_recovery_codes(session, user, now=now)


def turn_off_two_factor(
    session: Session, user: User, password: str, *, now: datetime, keep: UserSession | None
) -> None:
    check_current_password(user, password)
    two_factor.turn_off(session, user)
    _end_others(session, user, now=now, keep=keep)


def _end_others(session: Session, user: User, *, now: datetime, keep: UserSession | None) -> None:
    ended = sessions.end_all(session, user, "two_factor_changed", now=now, keep=keep)
    session.flush()
    record(
        session,
        "auth.sessions_ended",
        target=user,
        actor=user,
        detail={"other_sessions_ended": ended, "why": "two_factor_changed"},
    )

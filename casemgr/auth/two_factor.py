"""The second factor: enrolment, checking codes, recovery codes. Services flush and audit;
the caller commits."""

from __future__ import annotations

import logging
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..admin import settings
from ..audit.hooks import record
from ..domain.errors import DomainError
from . import totp
from .models import RecoveryCode, User

log = logging.getLogger("casemgr")

WRONG_CODE = "That code is not right. Codes change every 30 seconds and each works only once."


class CodeRefused(DomainError):
    def __init__(self, reason: str):
        super().__init__(WRONG_CODE, field="code")
        self.reason = reason  # for the audit trail: wrong_code, replayed, recovery_code...


def enabled(user: User) -> bool:
    return user.totp_enabled_at is not None and bool(user.totp_secret)


def required() -> bool:
    return bool(current_app.config["MFA_REQUIRED"])


def needed_at_sign_in(user: User) -> bool:
    """Everyone who has an authenticator uses it; when two-factor sign-in is required, those
    without one set it up before they get in."""
    return enabled(user) or required()


def issuer(session: Session) -> str:
    return current_app.config.get("TOTP_ISSUER") or settings.facility_name(session)


def check_code(session: Session, user: User, code: str, *, now: datetime) -> str:
    """Accept a TOTP code or an unused recovery code, each at most once even when two
    requests race; return the method used. Raise CodeRefused otherwise."""
    if totp.is_totp_code(code):
        _claim_step(session, user, totp.normalize_code(code), now)
        return "totp"
    digest = totp.recovery_digest(code)
    if digest is None:
        raise CodeRefused("wrong_code")
    used = session.execute(
        sa.update(RecoveryCode)
        .where(
            RecoveryCode.user_id == user.id,
            RecoveryCode.code_hash == digest,
            RecoveryCode.used_at.is_(None),
        )
        .values(used_at=now)
        .execution_options(synchronize_session=False)
    )
    if used.rowcount != 1:
        raise CodeRefused("wrong_recovery_code")
    return "recovery_code"


def _claim_step(session: Session, user: User, code: str, now: datetime) -> None:
    try:
        seed = totp.unseal(user.totp_secret or "")
    except totp.SeedUnreadable:
        log.error("two-factor: the seed of user %s does not open with this TOTP key", user.id)
        raise CodeRefused("seed_unreadable") from None
    found = totp.match(seed, code, now=now, last_step=user.totp_last_step)
    if found.step is None:
        raise CodeRefused("replayed" if found.replayed else "wrong_code")
    # Conditional on the stored step, so of two requests with one code only one wins.
    claimed = session.execute(
        sa.update(User)
        .where(
            User.id == user.id,
            sa.or_(User.totp_last_step.is_(None), User.totp_last_step < found.step),
        )
        .values(totp_last_step=found.step)
        .execution_options(synchronize_session=False)
    )
    session.expire(user, ["totp_last_step"])
    if claimed.rowcount != 1:
        raise CodeRefused("replayed")


def enrol(session: Session, user: User, seed: str, code: str, *, now: datetime) -> list[str]:
    """Make `seed` the user's authenticator once they show a code from it; return new
    recovery codes (shown once). Replaces any earlier authenticator and recovery codes."""
    found = totp.match(seed, totp.normalize_code(code), now=now, last_step=None)
    if not totp.is_totp_code(code) or found.step is None:
        raise CodeRefused("wrong_enrolment_code")
    replacing = enabled(user)
    user.totp_secret = totp.seal(seed)
    user.totp_enabled_at, user.totp_last_step = now, found.step
    session.flush()
    record(
        session,
        "auth.two_factor_reset" if replacing else "auth.two_factor_enrolled",
        target=user,
        actor=user,
    )
    return new_recovery_codes(session, user, now=now)


def new_recovery_codes(session: Session, user: User, *, now: datetime) -> list[str]:
    """Ten fresh codes; the old ones stop working. Only hashes are stored."""
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    codes = totp.new_recovery_codes()
    session.add_all(
        RecoveryCode(user_id=user.id, code_hash=totp.recovery_digest(c), created_at=now)
        for c in codes
    )
    session.flush()
    record(
        session,
        "auth.recovery_codes_created",
        target=user,
        actor=user,
        detail={"count": len(codes)},
    )
    return codes


def recovery_codes_left(session: Session, user: User) -> int:
    return (
        session.scalar(
            sa.select(sa.func.count(RecoveryCode.id)).where(
                RecoveryCode.user_id == user.id, RecoveryCode.used_at.is_(None)
            )
        )
        or 0
    )


def remove(session: Session, user: User) -> None:
    """Forget the authenticator and recovery codes (the caller audits why)."""
    user.totp_secret, user.totp_enabled_at, user.totp_last_step = None, None, None
    session.execute(sa.delete(RecoveryCode).where(RecoveryCode.user_id == user.id))
    session.flush()


def turn_off(session: Session, user: User) -> None:
    if required():
        raise DomainError("Two-factor sign-in is required here; it cannot be turned off.")
    remove(session, user)
    record(session, "auth.two_factor_removed", target=user, actor=user)


def reset_by_admin(session: Session, user: User, *, now: datetime) -> int:
    """An administrator clears a lost authenticator: the person sets up a new one at their
    next sign-in (with their password). Every session of theirs ends. For the admin views."""
    from . import sessions

    remove(session, user)
    ended = sessions.end_all(session, user, "two_factor_reset", now=now)
    session.flush()
    record(session, "auth.two_factor_cleared", target=user, detail={"sessions_ended": ended})
    return ended

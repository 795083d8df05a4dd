"""What each home page shows. Queries only; nothing here writes."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..audit.models import AuditEvent
from ..auth.models import User, UserRole, UserSession


def signed_in_staff(session: Session, now: datetime, idle_minutes: int) -> list[User]:
    """Staff with a session used within the idle window: who is on shift right now."""
    cutoff = now - timedelta(minutes=idle_minutes)
    stmt = (
        sa.select(User)
        .where(
            User.id.in_(
                sa.select(UserSession.user_id).where(
                    UserSession.ended_at.is_(None), UserSession.last_seen_at >= cutoff
                )
            )
        )
        .order_by(User.full_name)
    )
    return list(session.scalars(stmt))


def locked_accounts(session: Session, now: datetime) -> list[User]:
    return list(
        session.scalars(sa.select(User).where(User.locked_until > now).order_by(User.full_name))
    )


def pending_password_change(session: Session) -> list[User]:
    stmt = sa.select(User).where(User.must_change_password.is_(True), User.active.is_(True))
    return list(session.scalars(stmt.order_by(User.full_name)))


def staff_counts(session: Session) -> dict[str, int]:
    rows = session.execute(
        sa.select(UserRole.role, sa.func.count())
        .join(User)
        .where(User.active.is_(True))
        .group_by(UserRole.role)
    ).all()
    return {role.value: n for role, n in rows}


def roster(session: Session) -> list[User]:
    stmt = sa.select(User).where(User.active.is_(True)).options(selectinload(User.role_rows))
    return list(session.scalars(stmt.order_by(User.full_name)))


def recent_failed_sign_ins(session: Session, limit: int = 10) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action.in_(("auth.login_failed", "auth.lockout")))
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))


def my_recent_sign_ins(session: Session, user: User, limit: int = 5) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(
        AuditEvent.object_type == "users",
        AuditEvent.object_id == str(user.id),
        AuditEvent.action.in_(("auth.login", "auth.login_failed", "auth.lockout")),
    )
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))

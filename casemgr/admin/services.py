"""Managing staff accounts. Staff are never deleted, only deactivated."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..audit.hooks import record
from ..auth import passwords, sessions
from ..auth.models import User, UserRole
from ..domain.errors import DomainError
from ..domain.passwords import normalize_login
from ..domain.roles import Role
from ..orm import contains_pattern
from ..sites.models import Site

LOGIN_PATTERN = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")


@dataclass(frozen=True)
class StaffDetails:
    full_name: str
    credentials: str
    email: str
    roles: frozenset[Role]
    needs_supervision: bool = False
    site_id: int | None = None  # None: the whole network (and every install without sites)


def create_staff(
    session: Session, login: str, details: StaffDetails, password: str, *, facility: str
) -> User:
    """A new account with a temporary password the person must replace at first sign-in."""
    login = normalize_login(login)
    if not LOGIN_PATTERN.match(login):
        raise DomainError(
            "Use 2–64 lowercase letters, digits, dots, dashes or underscores.", "login"
        )
    if session.scalar(sa.select(User.id).where(User.login == login)) is not None:
        raise DomainError("That login name is taken (perhaps by a deactivated account).", "login")
    _require_roles(details)
    _check_site(session, details.site_id, keep=None)
    passwords.validate_new_password(password, login=login, facility=facility)
    user = User(
        login=login, password_hash=passwords.hash_password(password), must_change_password=True
    )
    _apply(user, details)
    session.add(user)
    session.flush()
    return user


def update_staff(session: Session, user: User, details: StaffDetails, *, actor: User) -> None:
    _require_roles(details)
    _check_site(session, details.site_id, keep=user.site_id)
    if Role.ADMIN in user.roles and Role.ADMIN not in details.roles:
        _keep_an_admin(session, user, actor, "remove the administrator role from")
    _apply(user, details)
    session.flush()


def deactivate(session: Session, user: User, *, actor: User, now: datetime) -> None:
    if not user.active:
        return
    _keep_an_admin(session, user, actor, "deactivate")
    user.active = False
    ended = sessions.end_all(session, user, "deactivated", now=now)
    session.flush()
    record(session, "staff.deactivated", target=user, detail={"sessions_ended": ended})


def reactivate(session: Session, user: User) -> None:
    if not user.active:
        user.active = True
        session.flush()
        record(session, "staff.reactivated", target=user)


def reset_password(
    session: Session, user: User, password: str, *, facility: str, now: datetime
) -> None:
    """An administrator sets a temporary password; the person must change it on sign-in."""
    passwords.validate_new_password(password, login=user.login, facility=facility)
    user.password_hash = passwords.hash_password(password)
    user.must_change_password, user.password_changed_at = True, now
    user.locked_until, user.failed_attempts = None, 0
    ended = sessions.end_all(session, user, "password_reset", now=now)
    session.flush()
    record(session, "auth.password_reset", target=user, detail={"sessions_ended": ended})


def unlock(session: Session, user: User) -> None:
    user.locked_until, user.failed_attempts = None, 0
    session.flush()
    record(session, "auth.unlocked", target=user)


def end_sessions(session: Session, user: User, *, now: datetime) -> int:
    ended = sessions.end_all(session, user, "ended_by_admin", now=now)
    session.flush()
    record(session, "auth.sessions_ended", target=user, detail={"sessions_ended": ended})
    return ended


def _apply(user: User, details: StaffDetails) -> None:
    user.full_name = details.full_name.strip()
    user.credentials = details.credentials.strip()
    user.email = details.email.strip()
    user.set_roles(set(details.roles))
    user.needs_supervision = details.needs_supervision
    user.site_id = details.site_id


def _require_roles(details: StaffDetails) -> None:
    if not details.roles:
        raise DomainError("Choose at least one role.", "roles")


def _check_site(session: Session, site_id: int | None, *, keep: int | None) -> None:
    """Staff are placed at an open site; someone already at a closed one may stay there."""
    if site_id is None or site_id == keep:
        return
    site = session.get(Site, site_id)
    if site is None or not site.active:
        raise DomainError("Choose one of the open sites, or the whole network.", "site_id")


def _keep_an_admin(session: Session, user: User, actor: User, verb: str) -> None:
    """Nobody may lock the facility out of its own administration."""
    if user.id == actor.id:
        raise DomainError(f"You cannot {verb} your own account; ask another administrator.")
    others = session.scalar(
        sa.select(sa.func.count(User.id))
        .join(UserRole)
        .where(UserRole.role == Role.ADMIN, User.active.is_(True), User.id != user.id)
    )
    if not others:
        raise DomainError(f"Cannot {verb} the last active administrator.")


def list_staff(session: Session, *, status: str, role: Role | None, query: str) -> list[User]:
    stmt = sa.select(User).options(joinedload(User.site)).order_by(User.full_name, User.id)
    if status in ("active", "inactive"):
        stmt = stmt.where(User.active.is_(status == "active"))
    if role is not None:
        stmt = stmt.where(User.role_rows.any(UserRole.role == role))
    if query:
        like = contains_pattern(query.strip())
        stmt = stmt.where(
            sa.or_(User.full_name.ilike(like, escape="\\"), User.login.ilike(like, escape="\\"))
        )
    return list(session.scalars(stmt))

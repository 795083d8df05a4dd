"""Restricted clients: staff named here never see the chart, whatever their caseload, role or
an emergency access would allow (deny wins; the rule itself lives in the CLIENT_VIEW scope).

Restrictions are lifted, never deleted, so the record shows who was kept out and when.
Services flush; views commit.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..auth.models import User
from ..clients.models import Client
from ..domain.errors import DomainError
from .models import ClientRestriction


def for_client(session: Session, client: Client) -> list[ClientRestriction]:
    """Active restrictions first, then lifted ones, newest first within each."""
    stmt = (
        sa.select(ClientRestriction)
        .where(ClientRestriction.client_id == client.id)
        .options(joinedload(ClientRestriction.user))
        .order_by(
            ClientRestriction.lifted_at.is_not(None),
            ClientRestriction.created_at.desc(),
            ClientRestriction.id.desc(),
        )
    )
    return list(session.scalars(stmt))


def restrictable_staff(session: Session, client: Client, actor: Any) -> list[User]:
    """Active staff not yet restricted from the client. Not the acting manager: restricting
    oneself would lock one out mid-task; another manager records that."""
    active = sa.select(ClientRestriction.user_id).where(
        ClientRestriction.client_id == client.id, ClientRestriction.lifted_at.is_(None)
    )
    stmt = (
        sa.select(User)
        .where(User.active.is_(True), User.id != actor.id, User.id.not_in(active))
        .order_by(User.full_name, User.id)
    )
    return list(session.scalars(stmt))


def restrict(
    session: Session, client: Client, user: User, reason: str, *, by: Any, now: datetime
) -> ClientRestriction:
    reason = reason.strip()
    if not reason:
        raise DomainError("Say why this staff member must not see the chart.", "reason")
    if user.id == by.id:
        raise DomainError("Ask another clinic manager to restrict you.", "user")
    if not user.active:
        raise DomainError("Choose an active staff member.", "user")
    if is_restricted(session, user, client):
        raise DomainError(f"{user.full_name} is already restricted from this chart.", "user")
    restriction = ClientRestriction(
        client_id=client.id, user_id=user.id, reason=reason, by_id=by.id, created_at=now
    )
    session.add(restriction)
    session.flush()
    return restriction


def lift(session: Session, restriction: ClientRestriction, *, by: Any, now: datetime) -> None:
    if restriction.lifted_at is not None:
        raise DomainError("This restriction has already been lifted.")
    restriction.lifted_at = now
    restriction.lifted_by_id = by.id
    session.flush()


def is_restricted(session: Session, user: Any, client: Client) -> bool:
    stmt = sa.select(ClientRestriction.id).where(
        ClientRestriction.client_id == client.id,
        ClientRestriction.user_id == user.id,
        ClientRestriction.lifted_at.is_(None),
    )
    return session.scalar(sa.select(stmt.exists())) is True


def counsels(client: Client, user: Any) -> bool:
    """The user is primary counselor of the client's open episode: the caseload must move."""
    return any(e.is_open and e.primary_counselor_id == user.id for e in client.episodes)

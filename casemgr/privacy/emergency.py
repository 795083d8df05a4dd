"""Medical emergency access ("break-glass", 42 CFR §2.51).

A staff member who cannot see a client opens the chart for a limited time after recording
who receives the information, their facility, the nature of the emergency and the time. The
access is loud: it is audited at high severity when opened and on every request that touches
the client, it is entered in the client's accounting of disclosures, and it waits on the
clinic manager's home page until a manager acknowledges it. Services flush; views commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from flask import Flask, abort, flash, g, request
from flask_login import current_user
from sqlalchemy.orm import Session, joinedload

from ..aftercare.models import CheckIn, ContinuingCarePlan
from ..audit.hooks import record
from ..clients.models import Client
from ..domain.errors import DomainError
from ..episodes.models import Episode
from ..extensions import db
from ..mar.models import MedicationOrder
from ..notes.models import ClinicalSession, Note
from ..orm import utcnow
from ..plans.models import TreatmentPlan
from ..policy import Perm, permissions_of
from ..screens.models import DrugScreen
from .models import ClientRestriction, Disclosure, EmergencyAccess

DEFAULT_MINUTES = 60
CONFIRMATION_WINDOW = timedelta(hours=1)
HIGH = "high"
_PURPOSE = "Medical emergency: "
_INFORMATION = "as viewed during emergency access"


@dataclass(frozen=True)
class Emergency:
    """What §2.51(c) requires to be documented, as the staff member entered it."""

    receiving_personnel: str
    receiving_facility: str
    nature: str
    confirmed_at: datetime


def is_open(access: EmergencyAccess, now: datetime) -> bool:
    return access.ended_at is None and access.expires_at > now


def _open_clause(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(EmergencyAccess.ended_at.is_(None), EmergencyAccess.expires_at > now)


def find_by_mrn(session: Session, mrn: str) -> Client | None:
    return session.scalar(sa.select(Client).where(Client.mrn == mrn.strip()))


def record_lookup(session: Session, client: Client) -> None:
    """Someone is about to break the glass on this chart (they see its MRN only)."""
    record(session, "emergency.lookup", target=client, detail={"severity": HIGH})


def open_access(
    session: Session,
    client: Client,
    user: Any,
    emergency: Emergency,
    *,
    now: datetime,
    minutes: int = DEFAULT_MINUTES,
) -> EmergencyAccess:
    """Open the chart to `user` for `minutes`, and record the emergency disclosure."""
    if emergency.confirmed_at > now:
        raise DomainError("The time confirmed cannot be in the future.", "confirmed_at")
    if now - emergency.confirmed_at > CONFIRMATION_WINDOW:
        raise DomainError(
            "Confirm the emergency within an hour: enter the time you confirm it now.",
            "confirmed_at",
        )
    access = EmergencyAccess(
        client_id=client.id,
        user_id=user.id,
        receiving_personnel=emergency.receiving_personnel.strip(),
        receiving_facility=emergency.receiving_facility.strip(),
        nature=emergency.nature.strip(),
        confirmed_at=emergency.confirmed_at,
        started_at=now,
        expires_at=now + timedelta(minutes=minutes),
    )
    session.add(access)
    session.flush()
    session.add(_disclosure(access, now))
    record(
        session,
        "emergency.opened",
        target=access,
        detail={
            "severity": HIGH,
            "receiving_personnel": access.receiving_personnel,
            "receiving_facility": access.receiving_facility,
            "nature": access.nature,
            "confirmed_at": access.confirmed_at.isoformat(),
            "expires_at": access.expires_at.isoformat(),
        },
    )
    session.flush()
    return access


def _disclosure(access: EmergencyAccess, now: datetime) -> Disclosure:
    """The entry §2.51(c) requires in the client's record, shown in their accounting."""
    limit = Disclosure.purpose.type.length
    purpose = _PURPOSE + access.nature
    if len(purpose) > limit:
        purpose = purpose[: limit - 1] + "…"
    return Disclosure(
        client_id=access.client_id,
        kind="emergency",
        emergency_id=access.id,
        released_at=now,
        released_by_id=access.user_id,
        recipient=f"{access.receiving_personnel}, {access.receiving_facility}",
        purpose=purpose,
        information=_INFORMATION,
        file_format="",
    )


def end_access(session: Session, access: EmergencyAccess, *, now: datetime) -> None:
    if not is_open(access, now):
        raise DomainError("This emergency access has already ended.")
    access.ended_at = now
    record(session, "emergency.ended", target=access, detail={"severity": HIGH})
    session.flush()


def acknowledge(session: Session, access: EmergencyAccess, manager: Any, *, now: datetime) -> None:
    if access.acknowledged_at is not None:
        raise DomainError("A manager has already acknowledged this emergency access.")
    access.acknowledged_at = now
    access.acknowledged_by_id = manager.id
    record(session, "emergency.acknowledged", target=access)
    session.flush()


def open_for(session: Session, user: Any, *, now: datetime) -> list[EmergencyAccess]:
    """The user's own emergency accesses still open, soonest to expire first."""
    stmt = (
        sa.select(EmergencyAccess)
        .where(EmergencyAccess.user_id == user.id, _open_clause(now))
        .options(joinedload(EmergencyAccess.client))
        .order_by(EmergencyAccess.expires_at)
    )
    return list(session.scalars(stmt))


ALERT_LIMIT = 50


def active_and_unacknowledged(session: Session, viewer: Any = None) -> list[EmergencyAccess]:
    """The alerts on the clinic manager's home page: every emergency access no manager has
    acknowledged yet, newest first, whether it is still open or has ended or expired (one
    opened at night must still be seen in the morning). With a `viewer`, accesses to clients
    restricted from that viewer are left out: another manager reviews those."""
    stmt = (
        sa.select(EmergencyAccess)
        .where(EmergencyAccess.acknowledged_at.is_(None))
        .options(joinedload(EmergencyAccess.client), joinedload(EmergencyAccess.user))
        .order_by(EmergencyAccess.started_at.desc(), EmergencyAccess.id.desc())
        .limit(ALERT_LIMIT)
    )
    if viewer is not None:
        stmt = stmt.where(
            ~sa.exists().where(
                ClientRestriction.client_id == EmergencyAccess.client_id,
                ClientRestriction.user_id == viewer.id,
                ClientRestriction.lifted_at.is_(None),
            )
        )
    return list(session.scalars(stmt))


# Every request touching a client while its emergency access is open is audited. Charts are
# reached by many ids; each maps to its client here ("blueprint.arg" first, then "arg").
ClientOf = Callable[[int], Any]


def _through_episode(model: Any) -> ClientOf:
    def client_of(value: int) -> Any:
        stmt = sa.select(Episode.client_id).join(model, model.episode_id == Episode.id)
        return stmt.where(model.id == value).scalar_subquery()

    return client_of


def _note_client(value: int) -> Any:
    return (
        sa.select(Episode.client_id)
        .join(ClinicalSession, ClinicalSession.episode_id == Episode.id)
        .join(Note, Note.session_id == ClinicalSession.id)
        .where(Note.id == value)
        .scalar_subquery()
    )


CLIENT_OF_ARG: dict[str, ClientOf] = {
    "client_id": lambda value: sa.literal(value, sa.Integer),
    "episode_id": lambda value: (
        sa.select(Episode.client_id).where(Episode.id == value).scalar_subquery()
    ),
    "note_id": _note_client,
    "screen_id": _through_episode(DrugScreen),
    "order_id": _through_episode(MedicationOrder),
    "check_in_id": _through_episode(CheckIn),
    "plans.plan_id": _through_episode(TreatmentPlan),
    "ccplan.plan_id": _through_episode(ContinuingCarePlan),
}


def _client_expr() -> Any:
    args = request.view_args or {}
    for name, value in args.items():
        resolve = CLIENT_OF_ARG.get(f"{request.blueprint}.{name}") or CLIENT_OF_ARG.get(name)
        if resolve is not None and isinstance(value, int):
            return resolve(value)
    return None


_READS = frozenset({"GET", "HEAD", "OPTIONS"})


def _watch_request() -> None:
    """Before each request about a client: audit it at high severity when the user reaches
    the client through an open emergency access, or is restricted from it (the scope then
    answers 404). One query; nothing for requests that name no client.

    An emergency access is read-only: it exists to tell the treating clinicians what they
    need. Writing would also widen the scope for good (nurses see whom they documented for),
    so changes are refused (403) while it is open; ending it restores the usual rules."""
    if request.endpoint in (None, "static") or not current_user.is_authenticated:
        return
    if Perm.CLIENT_VIEW not in permissions_of(current_user):
        return
    client = _client_expr()
    if client is None:
        return
    now, uid = utcnow(), current_user.id
    access = (
        sa.select(EmergencyAccess.id)
        .where(EmergencyAccess.user_id == uid, EmergencyAccess.client_id == client)
        .where(_open_clause(now))
        .order_by(EmergencyAccess.expires_at.desc())
        .limit(1)
        .scalar_subquery()
    )
    restricted = sa.exists().where(
        ClientRestriction.user_id == uid,
        ClientRestriction.client_id == client,
        ClientRestriction.lifted_at.is_(None),
    )
    row = db.session.execute(sa.select(client, access, restricted)).one()
    client_id, access_id, is_restricted = row
    if client_id is None or (access_id is None and not is_restricted):
        return
    detail = {
        "severity": HIGH,
        "method": request.method,
        "path": request.path,
        "endpoint": request.endpoint,
    }
    if is_restricted:
        record(db.session, "restriction.blocked", client_id=client_id, detail=detail)
    else:
        record(
            db.session,
            "emergency.viewed",
            object_type=EmergencyAccess.__tablename__,
            object_id=access_id,
            client_id=client_id,
            detail=detail,
        )
        g.emergency_access = db.session.get(EmergencyAccess, access_id)
    db.session.commit()
    if not is_restricted and request.method not in _READS:
        flash("Emergency access is read-only. End it to work under your usual access.", "warning")
        abort(403)


def _template_context() -> dict[str, Any]:
    return {"emergency_access": g.get("emergency_access")}


def init_app(app: Flask) -> None:
    """Registered by the emergency blueprint (record_once), after sign-in checks run."""
    app.before_request(_watch_request)
    app.context_processor(_template_context)

"""Reading the audit trail: verification and filtered browsing. Nothing here writes."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..domain.audit_chain import ChainReport, verify_chain
from .models import AuditChainHead, AuditEvent


def verify(session: Session) -> ChainReport:
    """Recompute every link; report the first broken one, or ok."""
    key = current_app.config["AUDIT_HMAC_KEY"].encode()
    head = session.get(AuditChainHead, 1)
    stmt = sa.select(AuditEvent.__table__).order_by(AuditEvent.seq)
    rows = session.execute(stmt, execution_options={"yield_per": 2000}).mappings()
    return verify_chain(
        rows,
        key,
        head_seq=head.last_seq if head else 0,
        head_hash=head.last_hash if head else None,
    )


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor_login: str = ""
    action: str = ""
    object_type: str = ""
    client_id: int | None = None


PAGE_SIZE = 50


def search(session: Session, flt: AuditFilter, page: int) -> tuple[list[AuditEvent], bool]:
    """Newest first; returns one page and whether an older page exists."""
    stmt = sa.select(AuditEvent).order_by(AuditEvent.seq.desc())
    if flt.since:
        stmt = stmt.where(AuditEvent.at >= flt.since)
    if flt.until:
        stmt = stmt.where(AuditEvent.at < flt.until)
    if flt.actor_login:
        stmt = stmt.where(AuditEvent.actor_login == flt.actor_login)
    if flt.action:
        stmt = stmt.where(AuditEvent.action.startswith(flt.action, autoescape=True))
    if flt.object_type:
        stmt = stmt.where(AuditEvent.object_type == flt.object_type)
    if flt.client_id is not None:
        stmt = stmt.where(AuditEvent.client_id == flt.client_id)
    rows = list(session.scalars(stmt.limit(PAGE_SIZE + 1).offset((page - 1) * PAGE_SIZE)))
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE


def head(session: Session) -> AuditChainHead | None:
    return session.get(AuditChainHead, 1)

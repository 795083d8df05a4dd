"""Recording what was printed, and re-rendering a record to check its hash.

Every report module registers a renderer for its kind: given the print record (who, when,
which client, period, parameters), it renders the same bytes again from the current data.
If the records behind the report have not changed, the SHA-256 matches the stored one.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..audit.hooks import record as audit
from ..auth.models import User
from ..episodes.models import Episode
from ..sites.models import Site
from ..sqlite_setup import take_write_lock
from .models import PrintedReport
from .pdf import sha256

PROGRAM_MAX = PrintedReport.facility.type.length  # "<facility> — <site>" as printed

# kind -> renderer(session, record) -> (bytes, pages)
Renderer = Callable[[Session, PrintedReport], tuple[bytes, int | None]]
RENDERERS: dict[str, Renderer] = {}


def register(kind: str, renderer: Renderer) -> None:
    RENDERERS[kind] = renderer


def canonical(parameters: dict[str, Any] | None) -> str:
    return json.dumps(parameters or {}, sort_keys=True, separators=(",", ":"), default=str)


def draft(
    *,
    kind: str,
    generated_at: datetime,
    by: User,
    client_id: int | None = None,
    episode_id: int | None = None,
    period: tuple[date | None, date | None] = (None, None),
    parameters: dict[str, Any] | None = None,
    purpose: str = "",
    recipient: str = "",
    file_format: str = "pdf",
    batch_id: int | None = None,
) -> PrintedReport:
    """The record of a report about to be rendered (not yet added): renderers read it, so a
    first print and a later re-check take exactly the same inputs."""
    from ..admin import settings
    from ..extensions import db

    return PrintedReport(
        kind=kind,
        generated_by_label=by.display_name,
        facility=_program(
            db.session, settings.facility_name(db.session), by, client_id, episode_id
        ),
        file_format=file_format,
        client_id=client_id,
        episode_id=episode_id,
        period_start=period[0],
        period_end=period[1],
        parameters=canonical(parameters),
        purpose=purpose.strip(),
        recipient=recipient.strip(),
        generated_at=generated_at,
        generated_by_id=by.id,
        generated_by=by,
        batch_id=batch_id,
        sha256="",
        size_bytes=0,
    )


def _program(
    session: Session, facility: str, by: User, client_id: int | None, episode_id: int | None
) -> str:
    """The program the report names, kept as printed: the facility (or network), and in a
    network the site: the one treating the episode a client's report covers, or for a list
    printed by staff of one site, theirs (their lists hold only its clients)."""
    if episode_id is not None:
        site = session.scalar(
            sa.select(Site.name)
            .join(Episode, Episode.site_id == Site.id)
            .where(Episode.id == episode_id)
        )
    elif client_id is None and by.site_id is not None:
        site = session.scalar(sa.select(Site.name).where(Site.id == by.site_id))
    else:  # a client's record across episodes (the accounting of disclosures)
        site = None
    return f"{facility} — {site}"[:PROGRAM_MAX] if site else facility


def produce(session: Session, row: PrintedReport) -> bytes:
    """Render a drafted record, store its hash and size, add it and audit the print. Some
    prints are asked for with a GET: the record is written under the write lock."""
    data, pages = RENDERERS[row.kind](session, row)
    row.sha256, row.size_bytes, row.pages = sha256(data), len(data), pages
    take_write_lock(session)
    session.add(row)
    session.flush()
    audit(
        session,
        "report.printed",
        target=row,
        client_id=row.client_id,
        detail={"kind": row.kind, "sha256": row.sha256, "recipient": row.recipient},
    )
    return data


def check(session: Session, row: PrintedReport) -> bool:
    """Render again from the record; True when the bytes hash to what was printed."""
    data, _ = RENDERERS[row.kind](session, row)
    same = sha256(data) == row.sha256
    audit(
        session,
        "report.verified",
        target=row,
        client_id=row.client_id,
        detail={"kind": row.kind, "unchanged": same},
    )
    return same

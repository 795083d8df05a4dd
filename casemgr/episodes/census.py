"""Who is in treatment on a given day: the census rows and their counts, in one query."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ..auth.models import User
from ..clients.models import Client
from ..domain.phases import Phase
from ..policy import Perm, scoped
from .models import Episode, LevelOfCareSpan, PhaseChange


@dataclass(frozen=True)
class CensusRow:
    client: Client
    episode: Episode
    phase: Phase
    level: LevelOfCareSpan | None
    counselor: User | None


def _phase_on(day_end: datetime) -> sa.ScalarSelect:
    """The phase an episode was in at the end of `day`: its last move effective by then."""
    pc = aliased(PhaseChange)
    return (
        sa.select(pc.to_phase)
        .where(pc.episode_id == Episode.id, pc.effective_at < day_end)
        .order_by(pc.effective_at.desc(), pc.id.desc())
        .limit(1)
        .scalar_subquery()
    )


def census(session: Session, on: date, tz) -> list[CensusRow]:
    """Open episodes on `on` (facility date), with the phase and level of care of that day,
    limited to the clients the current user may see."""
    day_end = datetime.combine(on + timedelta(days=1), time.min, tzinfo=tz)
    phase = _phase_on(day_end).label("phase_on")
    level = aliased(LevelOfCareSpan)
    counselor = aliased(User)
    stmt = (
        sa.select(Client, Episode, phase, level, counselor)
        .join(Episode, Episode.client_id == Client.id)
        .outerjoin(
            level,
            sa.and_(
                level.episode_id == Episode.id,
                level.started_on <= on,
                sa.or_(level.ended_on.is_(None), level.ended_on > on),
            ),
        )
        .outerjoin(counselor, counselor.id == Episode.primary_counselor_id)
        .where(
            Episode.admitted_on <= on,
            sa.or_(Episode.discharged_on.is_(None), Episode.discharged_on > on),
        )
        .order_by(Client.search_name, Client.id)
    )
    rows = session.execute(scoped(stmt, Perm.CLIENT_VIEW)).all()
    # An episode admitted by `on` whose first move was entered later was still in intake.
    return [
        CensusRow(c, e, Phase(p) if p else Phase.INTAKE, lvl, u)
        for c, e, p, lvl, u in rows
        if p != Phase.DISCHARGED
    ]


def counts(rows: list[CensusRow]) -> dict[str, Counter]:
    """Counts by phase and by level-of-care code (\"none\" when no level was recorded)."""
    return {
        "phase": Counter(r.phase.value for r in rows),
        "level": Counter(r.level.code if r.level else "none" for r in rows),
    }

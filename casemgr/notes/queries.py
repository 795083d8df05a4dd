"""Reading sessions and notes: one note with what its page shows, the plan objectives a note
may link, an episode's sessions for the chart, the co-signature queue and overdue drafts.

Each list is one query (plus the selectin loads of its users' roles), whatever its length.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload

from ..auth.models import User
from ..clients.models import Client
from ..domain import notes as rules
from ..domain.notes import NoteStatus
from ..episodes.models import Episode
from ..plans.models import PlanGoal, PlanObjective, PlanProblem, TreatmentPlan
from ..policy import Perm, scoped, scoped_own_notes
from .models import ClinicalSession, Note, NoteReview

PAGE_SIZE = 25


def load(session: Session, note_id: int) -> Note | None:
    return session.scalar(
        sa.select(Note)
        .where(Note.id == note_id)
        .options(
            joinedload(Note.author),
            joinedload(Note.session).joinedload(ClinicalSession.episode),
            joinedload(Note.session).joinedload(ClinicalSession.group_meeting),
            joinedload(Note.session).joinedload(ClinicalSession.staff),
            selectinload(Note.objectives),
            selectinload(Note.addenda),
            selectinload(Note.reviews).joinedload(NoteReview.reviewer),
        )
    )


def plan_objectives(session: Session, episode_id: int) -> list[PlanObjective]:
    """The objectives of the episode's latest treatment plan, in plan order; none before the
    first plan exists."""
    latest = (
        sa.select(TreatmentPlan.id)
        .where(TreatmentPlan.episode_id == episode_id)
        .order_by(TreatmentPlan.number.desc())
        .limit(1)
        .scalar_subquery()
    )
    return list(
        session.scalars(
            sa.select(PlanObjective)
            .join(PlanGoal)
            .join(PlanProblem)
            .where(PlanProblem.plan_id == latest)
            .order_by(PlanProblem.position, PlanGoal.position, PlanObjective.position)
        )
    )


@dataclass(frozen=True)
class Listing:
    rows: list[Any]
    page: int
    more: bool  # more rows exist than are shown


def chart_sessions(session: Session, episode_id: int, limit: int = 100) -> Listing:
    """An episode's sessions, newest first, each with its note, author and (for a group seat)
    the meeting, whose topic is all the chart shows of it."""
    rows = session.scalars(
        sa.select(ClinicalSession)
        .where(ClinicalSession.episode_id == episode_id)
        .options(
            joinedload(ClinicalSession.staff),
            joinedload(ClinicalSession.group_meeting),
            joinedload(ClinicalSession.note).joinedload(Note.author),
        )
        .order_by(
            ClinicalSession.session_date.desc(),
            ClinicalSession.start_time.desc(),
            ClinicalSession.id.desc(),
        )
        .limit(limit + 1)
    ).all()
    return Listing(list(rows[:limit]), 1, len(rows) > limit)


@dataclass(frozen=True)
class NoteRow:
    note: Note
    visit: ClinicalSession
    client: Client
    author: User


def _note_columns() -> sa.Select[Any]:
    """Notes with their session, client and author; not yet scoped."""
    return (
        sa.select(Note, ClinicalSession, Client, User)
        .join(ClinicalSession, ClinicalSession.id == Note.session_id)
        .join(Episode, Episode.id == ClinicalSession.episode_id)
        .join(Client, Client.id == Episode.client_id)
        .join(User, User.id == Note.author_id)
    )


def _note_rows(user: User) -> sa.Select[Any]:
    """Notes with their session, client and author, limited to the clients `user` may see."""
    return scoped(_note_columns(), Perm.CLIENT_VIEW, user)


def review_queue(session: Session, user: User, page: int = 1, size: int = PAGE_SIZE) -> Listing:
    """Notes signed by supervised staff and waiting for co-signature, the longest waiting
    first; never the reviewer's own."""
    stmt = (
        _note_rows(user)
        .where(
            Note.status == NoteStatus.SIGNED,
            Note.needs_cosign.is_(True),
            Note.author_id != user.id,
        )
        .order_by(Note.signed_at, Note.id)
        .limit(size + 1)
        .offset((page - 1) * size)
    )
    rows = [NoteRow(*row) for row in session.execute(stmt).all()]
    return Listing(rows[:size], page, len(rows) > size)


def overdue_drafts(
    session: Session, user: User, now: datetime, tz: tzinfo, limit: int = 50
) -> Listing:
    """The user's own draft notes whose session ended more than 24 hours ago, oldest first.
    Session dates and times are facility wall-clock, so the cut-off is computed in it too."""
    cutoff = (now.astimezone(tz) - rules.LATE_AFTER).replace(tzinfo=None)
    ended_before = sa.or_(
        ClinicalSession.session_date < cutoff.date(),
        sa.and_(
            ClinicalSession.session_date == cutoff.date(),
            ClinicalSession.end_time < cutoff.time(),
        ),
    )
    stmt = (
        scoped_own_notes(_note_columns(), user)
        .where(Note.status == NoteStatus.DRAFT, ended_before)
        .order_by(ClinicalSession.session_date, ClinicalSession.end_time, Note.id)
        .limit(limit + 1)
    )
    rows = [NoteRow(*row) for row in session.execute(stmt).all()]
    return Listing(rows[:limit], 1, len(rows) > limit)

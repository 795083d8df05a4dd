"""Putting episodes into aftercare for tests: through the episodes move service, as the views
do, so the on-enter action makes the year of check-ins."""

from __future__ import annotations

from datetime import UTC, date, datetime

import sqlalchemy as sa

from casemgr.aftercare import services
from casemgr.aftercare.models import (
    AftercareClosure,
    CheckIn,
    ContinuingCarePlan,
    PlanTrigger,
    RelapseEvent,
)
from casemgr.domain.phases import Phase
from casemgr.episodes import services as episodes
from casemgr.episodes.models import Discharge
from casemgr.extensions import db
from casemgr.timefmt import local_date
from tests.clients_helpers import NOW

START = date(2026, 11, 25)  # NOW at the facility: aftercare entered 25 November, 10:00
LOCAL_NOW = "2026-11-25T10:00"
LINEAGE = "0123456789abcdef0123456789abcdef"


def move(episode, actor, target: Phase, at: datetime = NOW, reason: str = "test move"):
    """Move through the episodes service, recorded at the moment it happens."""
    episodes.move(
        db.session,
        episode,
        episodes.Move(target, at, reason),
        actor=actor,
        now=at,
        local_date=local_date,
    )
    db.session.commit()


def into_aftercare(episode, actor, at: datetime = NOW):
    """Step an episode in rehab down to aftercare at `at` (facility-local day = the start)."""
    move(episode, actor, Phase.AFTERCARE, at, "Stepped down to aftercare")
    return episode


def check_ins(episode) -> list[CheckIn]:
    return list(
        db.session.scalars(
            sa.select(CheckIn)
            .where(CheckIn.episode_id == episode.id)
            .order_by(CheckIn.due_on, CheckIn.id)
        )
    )


def first_check_in(episode) -> CheckIn:
    return check_ins(episode)[0]


def row_counts() -> dict[str, int]:
    """How many rows each aftercare table holds: to show a refused form wrote nothing."""
    models = (CheckIn, RelapseEvent, AftercareClosure, Discharge)
    return {
        m.__tablename__: db.session.scalar(sa.select(sa.func.count()).select_from(m))
        for m in models
    }


def plan_with_trigger(episode, author, description="Old friends from the block") -> PlanTrigger:
    """A draft continuing-care plan with one trigger, written straight to the tables."""
    plan = ContinuingCarePlan(
        episode=episode, number=1, created_by_id=author.id, program="outpatient"
    )
    trigger = PlanTrigger(
        plan=plan, position=1, category="people", description=description, risk=3, lineage=LINEAGE
    )
    db.session.add_all([plan, trigger])
    db.session.commit()
    return trigger


def recorded_check_in(row: CheckIn, actor, *, at: datetime = NOW, reached=True, **answers):
    entry = services.CheckInEntry(
        reached=reached,
        method="phone",
        contacted_at=at,
        days_used_30=answers.pop("days_used_30", 0 if reached else None),
        **answers,
    )
    services.record_check_in(db.session, row, entry, actor=actor, now=at)
    db.session.commit()
    return row


def relapsed(episode, actor, used_on: date, response="increased_sessions", today=START):
    entry = services.RelapseEntry("lapse", used_on, "alcohol", response)
    event = services.record_relapse(
        db.session, episode, entry, actor=actor, today=today, triggers=[]
    )
    db.session.commit()
    return event


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)

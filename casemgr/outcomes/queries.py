"""Loading the outcomes cohort of a date range from the records, in four queries.

Which episodes: every episode that was in treatment at some time in the range (admitted on or
before its end and not discharged before its start) and every episode with an outcome
follow-up due in it. That covers each figure: admissions, discharges, phase stays ending in
the range, retention and follow-ups. Readmission also needs the clients' other episodes, so
every episode of those clients is loaded as the readmission search pool (`Cohort.everyone`).

What is read, per episode (the page says so too):
- level of care: the level at admission, i.e. the episode's first level-of-care span;
- counselor: the episode's primary counselor (the current one, or the last one once
  discharged);
- discharge: the TEDS discharge record (its date and reason);
- phase spans: from the phase changes, see `phase_spans`.

Only facts are read here; every figure is computed by `casemgr.domain.outcomes`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from datetime import date, datetime, tzinfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..aftercare.models import CheckIn
from ..auth.models import User, UserRole
from ..domain.aftercare import followup_kind
from ..domain.care import CODE_SYSTEMS
from ..domain.outcomes import (
    FOLLOWUP_DAYS,
    Cohort,
    EpisodeFacts,
    FollowUpFacts,
    Period,
    PhaseSpan,
)
from ..domain.phases import Phase
from ..domain.roles import Role
from ..episodes.models import Discharge, Episode, LevelOfCareSpan, PhaseChange

FOLLOWUP_KINDS = {followup_kind(days): days for days in FOLLOWUP_DAYS}

Change = tuple[Phase, datetime]  # (the phase moved to, when it took effect)


def load_cohort(session: Session, period: Period, tz: tzinfo) -> Cohort:
    """The episodes relevant to `period` with their facts, and their clients' other episodes
    as the readmission search pool: four queries, whatever the number of episodes."""
    relevant = _relevant_ids(period)
    changes = _phase_changes(session, relevant)
    levels = _levels_at_admission(session, relevant)
    cohort, everyone = [], []
    for row in session.execute(_episodes(relevant)):
        facts = EpisodeFacts(
            episode_id=row.id,
            client_id=row.client_id,
            admitted_on=row.admitted_on,
            discharged_on=row.discharged_on,
            discharge_reason_code=row.reason_code,
            counselor_id=row.primary_counselor_id,
        )
        if row.relevant:
            spans = phase_spans(
                changes.get(row.id, ()),
                admitted_on=row.admitted_on,
                discharged_on=row.discharged_on,
                tz=tz,
            )
            facts = replace(facts, phase_spans=spans, level_of_care=levels.get(row.id))
            cohort.append(facts)
        everyone.append(facts)
    return Cohort(
        episodes=tuple(cohort),
        followups=_followups(session, relevant, period),
        everyone=tuple(everyone),
    )


def phase_spans(
    changes: Sequence[Change], *, admitted_on: date, discharged_on: date | None, tz: tzinfo
) -> tuple[PhaseSpan, ...]:
    """The phase spans of one episode from its phase changes, in order: each change opens a
    span of the phase it moved to, and the next change closes it, on the facility's local
    date of each change. The last span is open (end None) unless the episode was discharged.

    Two dates come from the episode, not from the change: the first span (the admission)
    starts on the admission date, and the move to discharged closes the last span on the
    discharge date, since both may be entered later than they happened. A date earlier than
    the one before it is moved up to it, so no span ends before it starts."""
    bounds: list[date] = []
    for index, (phase, at) in enumerate(changes):
        day = at.astimezone(tz).date()
        if index == 0:
            day = admitted_on
        elif phase is Phase.DISCHARGED and discharged_on is not None:
            day = discharged_on
        bounds.append(max(day, bounds[-1]) if bounds else day)
    return tuple(
        PhaseSpan(phase, bounds[i], bounds[i + 1] if i + 1 < len(bounds) else None)
        for i, (phase, _) in enumerate(changes)
        if phase is not Phase.DISCHARGED
    )


def _relevant_ids(period: Period) -> sa.Select:
    """Ids of the episodes any figure of `period` can count (see the module docstring)."""
    in_treatment = sa.and_(
        Episode.admitted_on <= period.end,
        sa.or_(Episode.discharged_on.is_(None), Episode.discharged_on >= period.start),
    )
    followup_due = sa.select(CheckIn.episode_id).where(
        CheckIn.kind.in_(FOLLOWUP_KINDS),
        CheckIn.due_on.between(period.start, period.end),
        CheckIn.voided_at.is_(None),  # recorded in error: counts for nothing
    )
    return sa.select(Episode.id).where(sa.or_(in_treatment, Episode.id.in_(followup_due)))


def _episodes(relevant: sa.Select) -> sa.Select:
    """Every episode of the clients with a relevant episode, flagged `relevant` or not, with
    its discharge record (the date and TEDS reason counted)."""
    clients = sa.select(Episode.client_id).where(Episode.id.in_(relevant))
    return (
        sa.select(
            Episode.id,
            Episode.client_id,
            Episode.admitted_on,
            Episode.primary_counselor_id,
            Discharge.discharged_on,
            Discharge.reason_code,
            Episode.id.in_(relevant).label("relevant"),
        )
        .outerjoin(Discharge, Discharge.episode_id == Episode.id)
        .where(Episode.client_id.in_(clients))
        .order_by(Episode.id)
    )


def _phase_changes(session: Session, relevant: sa.Select) -> dict[int, list[Change]]:
    stmt = (
        sa.select(PhaseChange.episode_id, PhaseChange.to_phase, PhaseChange.effective_at)
        .where(PhaseChange.episode_id.in_(relevant))
        .order_by(PhaseChange.episode_id, PhaseChange.effective_at, PhaseChange.id)
    )
    changes: dict[int, list[Change]] = {}
    for episode_id, phase, at in session.execute(stmt):
        changes.setdefault(episode_id, []).append((phase, at))
    return changes


def _levels_at_admission(session: Session, relevant: sa.Select) -> dict[int, str]:
    """Each episode's first level of care (the earliest start; the first recorded on a tie)."""
    stmt = (
        sa.select(LevelOfCareSpan.episode_id, LevelOfCareSpan.code)
        .where(LevelOfCareSpan.episode_id.in_(relevant))
        .order_by(LevelOfCareSpan.episode_id, LevelOfCareSpan.started_on, LevelOfCareSpan.id)
    )
    levels: dict[int, str] = {}
    for episode_id, code in session.execute(stmt):
        levels.setdefault(episode_id, code)
    return levels


def _followups(session: Session, relevant: sa.Select, period: Period) -> tuple[FollowUpFacts, ...]:
    stmt = (
        sa.select(
            CheckIn.episode_id,
            CheckIn.kind,
            CheckIn.due_on,
            CheckIn.reached,
            CheckIn.days_used_30,
        )
        .where(
            CheckIn.episode_id.in_(relevant),
            CheckIn.kind.in_(FOLLOWUP_KINDS),
            CheckIn.due_on.between(period.start, period.end),
            CheckIn.voided_at.is_(None),  # its fresh replacement is the follow-up
        )
        .order_by(CheckIn.episode_id, CheckIn.due_on, CheckIn.id)
    )
    return tuple(
        FollowUpFacts(
            episode_id=row.episode_id,
            kind=FOLLOWUP_KINDS[row.kind],
            due_on=row.due_on,
            reached=row.reached is True,
            days_used_last_30=row.days_used_30,
        )
        for row in session.execute(stmt)
    )


# ------------------------------------------------------------------------ filter choices


def level_codes(session: Session) -> list[str]:
    """The level-of-care codes recorded on any episode, in the code system's order."""
    codes = set(session.scalars(sa.select(LevelOfCareSpan.code).distinct()))
    order = {code: i for system in CODE_SYSTEMS.values() for i, code in enumerate(system.codes)}
    return sorted(codes, key=lambda code: (order.get(code, len(order)), code))


def counselors(session: Session) -> list[User]:
    """Everyone who holds the counselor role, deactivated staff included: their former
    caseloads still count."""
    stmt = (
        sa.select(User)
        .join(UserRole)
        .where(UserRole.role == Role.COUNSELOR)
        .order_by(User.full_name, User.id)
    )
    return list(session.scalars(stmt))

"""Reading treatment plans: the versions of an episode's plan, the version in force, a
version's whole tree, and what the plan page, the chart panel and the editor show.

Queries only; nothing here writes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..auth.models import User, UserRole
from ..domain.plans import PlanStatus, review_overdue
from ..domain.roles import Role
from ..episodes.models import Episode
from .content import verify
from .models import PlanGoal, PlanIntervention, PlanObjective, PlanProblem, TreatmentPlan

Part = PlanProblem | PlanGoal | PlanObjective | PlanIntervention

KINDS: dict[str, type] = {
    "problem": PlanProblem,
    "goal": PlanGoal,
    "objective": PlanObjective,
    "intervention": PlanIntervention,
}
# The joins from each kind of part up to its problem, which names the plan.
_UP_TO_PROBLEM: dict[str, tuple[type, ...]] = {
    "problem": (),
    "goal": (PlanProblem,),
    "objective": (PlanGoal, PlanProblem),
    "intervention": (PlanObjective, PlanGoal, PlanProblem),
}
# Clinical staff who may be named as responsible for an intervention.
_CLINICAL = (Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN, Role.SUPERVISOR, Role.CLINIC_MANAGER)


def versions(session: Session, episode_id: int) -> list[TreatmentPlan]:
    """Every version of the episode's plan, newest first (without their content)."""
    stmt = sa.select(TreatmentPlan).where(TreatmentPlan.episode_id == episode_id)
    return list(session.scalars(stmt.order_by(TreatmentPlan.number.desc())))


def in_force(plans: list[TreatmentPlan]) -> TreatmentPlan | None:
    """The version in force: the signed one, else the draft (a first plan being written)."""
    signed = [p for p in plans if p.status is PlanStatus.SIGNED]
    drafts = [p for p in plans if p.status is PlanStatus.DRAFT]
    return max(signed or drafts, key=lambda p: p.number, default=None)


def draft_of(plans: list[TreatmentPlan]) -> TreatmentPlan | None:
    return next((p for p in plans if p.status is PlanStatus.DRAFT), None)


def current_plan(session: Session, episode_id: int) -> TreatmentPlan | None:
    return in_force(versions(session, episode_id))


def with_content(session: Session, plan: TreatmentPlan) -> TreatmentPlan:
    """The plan with its whole tree loaded in a fixed number of queries."""
    tree = (
        selectinload(TreatmentPlan.problems)
        .selectinload(PlanProblem.goals)
        .selectinload(PlanGoal.objectives)
        .selectinload(PlanObjective.interventions)
        .selectinload(PlanIntervention.responsible)
    )
    stmt = sa.select(TreatmentPlan).where(TreatmentPlan.id == plan.id).options(tree)
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


@dataclass(frozen=True)
class PlanPage:
    episode: Episode
    plan: TreatmentPlan | None  # the version shown, content loaded
    versions: list[TreatmentPlan]  # newest first
    current: TreatmentPlan | None  # the version in force
    draft: TreatmentPlan | None
    verified: bool
    overdue: bool  # the version in force is past its review date


def plan_page(
    session: Session, episode: Episode, today: date, shown: TreatmentPlan | None = None
) -> PlanPage:
    """A version of the episode's plan (the one in force unless `shown`), and the others."""
    plans = versions(session, episode.id)
    current = in_force(plans)
    plan = shown or current
    if plan is not None:
        plan = with_content(session, plan)
    return PlanPage(
        episode=episode,
        plan=plan,
        versions=plans,
        current=current,
        draft=draft_of(plans),
        verified=plan is None or verify(plan),
        overdue=_overdue(episode, current, today),
    )


def _overdue(episode: Episode, current: TreatmentPlan | None, today: date) -> bool:
    due = current.review_due_on if current is not None else None
    return episode.is_open and review_overdue(due, today)


@dataclass(frozen=True)
class PlanSummary:
    """The chart's treatment-plan panel."""

    episode: Episode
    current: TreatmentPlan | None
    draft: TreatmentPlan | None
    overdue: bool

    @property
    def review_due_on(self) -> date | None:
        return self.current.review_due_on if self.current else None


def summary(session: Session, episode: Episode, today: date) -> PlanSummary:
    plans = versions(session, episode.id)
    current = in_force(plans)
    return PlanSummary(
        episode=episode,
        current=current,
        draft=draft_of(plans),
        overdue=_overdue(episode, current, today),
    )


def find_part(session: Session, plan: TreatmentPlan, kind: str, part_id: int) -> Part | None:
    """A problem, goal, objective or intervention of this plan version (None if not in it)."""
    model = KINDS[kind]
    stmt = sa.select(model).where(model.id == part_id)
    for parent in _UP_TO_PROBLEM[kind]:
        stmt = stmt.join(parent)
    return session.scalar(stmt.where(PlanProblem.plan_id == plan.id))


def staff_choices(session: Session) -> list[User]:
    """Active clinical staff, who can be responsible for an intervention."""
    clinical = sa.select(UserRole.user_id).where(UserRole.role.in_(_CLINICAL))
    stmt = sa.select(User).where(User.active.is_(True), User.id.in_(clinical))
    return list(session.scalars(stmt.order_by(User.full_name, User.id)))

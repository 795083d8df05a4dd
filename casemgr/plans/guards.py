"""The ORM guard on signed treatment plans: a signed or superseded version never changes.

Registered on import (casemgr.plans.services imports this module). Nothing in a locked
version, nor any problem, goal, objective or intervention under it, may be inserted, changed
or deleted through the ORM. The one change allowed is signed → superseded, made when the
next version is signed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..domain.plans import PlanStatus
from .models import PlanGoal, PlanIntervention, PlanObjective, PlanProblem, TreatmentPlan


class SignedPlanImmutable(RuntimeError):
    """Raised on any attempt to change a signed or superseded plan version via the ORM."""


# Each part of a plan: the relationship to its parent, the foreign key, and the parent model.
_PARENT: dict[type, tuple[str, str, type]] = {
    PlanProblem: ("plan", "plan_id", TreatmentPlan),
    PlanGoal: ("problem", "problem_id", PlanProblem),
    PlanObjective: ("goal", "goal_id", PlanGoal),
    PlanIntervention: ("objective", "objective_id", PlanObjective),
}
_PARTS = tuple(_PARENT)
_LABELS = {
    PlanProblem: "problems",
    PlanGoal: "goals",
    PlanObjective: "objectives",
    PlanIntervention: "interventions",
}
_SUPERSEDE_FIELDS = frozenset({"status", "version", "updated_at"})


@event.listens_for(Session, "before_flush")
def _guard_signed_plans(session: Session, _ctx: Any, _instances: Any) -> None:
    with session.no_autoflush:
        for obj in session.deleted:
            if isinstance(obj, TreatmentPlan) and _committed_status(obj) is not PlanStatus.DRAFT:
                raise SignedPlanImmutable(f"Plan version {obj.number} is signed; it is kept.")
            if isinstance(obj, _PARTS):
                _check_part(session, obj)
        for obj in session.new:
            if isinstance(obj, _PARTS):
                _check_part(session, obj)
        for obj in session.dirty:
            if isinstance(obj, TreatmentPlan) and session.is_modified(obj):
                _check_plan_change(obj)
            elif isinstance(obj, _PARTS) and session.is_modified(obj):
                _check_part(session, obj)


def _committed_status(plan: TreatmentPlan) -> PlanStatus:
    hist = sa.inspect(plan).attrs.status.history
    before = hist.deleted[0] if hist.deleted else plan.status
    return PlanStatus(before or PlanStatus.DRAFT)


def _check_plan_change(plan: TreatmentPlan) -> None:
    before = _committed_status(plan)
    if before is PlanStatus.DRAFT:
        return
    state = sa.inspect(plan)
    changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
    if state.attrs.problems.history.has_changes():
        changed.add("problems")
    superseding = before is PlanStatus.SIGNED and plan.status is PlanStatus.SUPERSEDED
    if changed and not (superseding and changed <= _SUPERSEDE_FIELDS):
        raise SignedPlanImmutable(
            f"Plan version {plan.number} is {before}; it cannot change "
            f"({', '.join(sorted(changed))}). Start a review to make a new version."
        )


def _check_part(session: Session, part: Any) -> None:
    for plan in _owning_plans(session, part):
        if (plan.status or PlanStatus.DRAFT) is not PlanStatus.DRAFT or (
            _committed_status(plan) is not PlanStatus.DRAFT
        ):
            raise SignedPlanImmutable(
                f"Plan version {plan.number} is signed; its {_LABELS[type(part)]} cannot "
                "change. Start a review to make a new version."
            )


def _owning_plans(session: Session, obj: Any) -> set[TreatmentPlan]:
    """The plan version(s) a part belongs to, before and after this flush (a part moved from
    one plan to another counts for both)."""
    if isinstance(obj, TreatmentPlan):
        return {obj}
    plans: set[TreatmentPlan] = set()
    for parent in _parents(session, obj):
        plans |= _owning_plans(session, parent)
    return plans


def _parents(session: Session, obj: Any) -> list[Any]:
    rel, fk, model = _PARENT[type(obj)]
    state = sa.inspect(obj)
    parents = [p for p in state.attrs[rel].history.sum() if p is not None]
    ids = [v for v in state.attrs[fk].history.sum() if v is not None]
    if not parents and not ids:
        ids = [getattr(obj, fk)]  # expired since the last commit: load it
    parents += [session.get(model, i) for i in ids if i is not None]
    return [p for p in parents if p is not None]

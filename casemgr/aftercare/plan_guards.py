"""The ORM guard on signed continuing-care plans: a signed or superseded version never changes.

Registered on import (casemgr.aftercare.plans imports this module). Nothing in a locked
version, nor any trigger, sober support or life change of it, may be inserted, changed or
deleted through the ORM. The one change allowed is signed → superseded, made when the next
version is signed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Session

from ..domain.plans import PlanStatus
from .models import ContinuingCarePlan, LifeChange, PlanTrigger, SoberSupport


class SignedCarePlanImmutable(RuntimeError):
    """Raised on any attempt to change a signed or superseded continuing-care plan."""


_ITEMS = (PlanTrigger, SoberSupport, LifeChange)
_LABELS = {PlanTrigger: "triggers", SoberSupport: "sober supports", LifeChange: "life changes"}
_COLLECTIONS = ("triggers", "supports", "life_changes")
_SUPERSEDE_FIELDS = frozenset({"status", "version", "updated_at"})


@event.listens_for(Session, "before_flush")
def _guard_signed_care_plans(session: Session, _ctx: Any, _instances: Any) -> None:
    with session.no_autoflush:
        for obj in session.deleted:
            if (
                isinstance(obj, ContinuingCarePlan)
                and _committed_status(obj) is not PlanStatus.DRAFT
            ):
                raise SignedCarePlanImmutable(
                    f"Continuing-care plan version {obj.number} is signed; it is kept."
                )
            if isinstance(obj, _ITEMS):
                _check_item(session, obj)
        for obj in session.new:
            if isinstance(obj, _ITEMS):
                _check_item(session, obj)
        for obj in session.dirty:
            if isinstance(obj, ContinuingCarePlan) and session.is_modified(obj):
                _check_plan_change(obj)
            elif isinstance(obj, _ITEMS) and session.is_modified(obj):
                _check_item(session, obj)


def _committed_status(plan: ContinuingCarePlan) -> PlanStatus:
    hist = sa.inspect(plan).attrs.status.history
    before = hist.deleted[0] if hist.deleted else plan.status
    return PlanStatus(before or PlanStatus.DRAFT)


def _locked(plan: ContinuingCarePlan) -> bool:
    """Locked now, or locked before this flush (un-signing is a change to a signed version)."""
    now = PlanStatus(plan.status or PlanStatus.DRAFT)
    return now is not PlanStatus.DRAFT or _committed_status(plan) is not PlanStatus.DRAFT


def _check_plan_change(plan: ContinuingCarePlan) -> None:
    before = _committed_status(plan)
    if before is PlanStatus.DRAFT:
        return
    state = sa.inspect(plan)
    changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
    changed |= {c for c in _COLLECTIONS if state.attrs[c].history.has_changes()}
    superseding = before is PlanStatus.SIGNED and plan.status is PlanStatus.SUPERSEDED
    if changed and not (superseding and changed <= _SUPERSEDE_FIELDS):
        raise SignedCarePlanImmutable(
            f"Continuing-care plan version {plan.number} is {before}; it cannot change "
            f"({', '.join(sorted(changed))}). Start a revision to make a new version."
        )


def _check_item(session: Session, item: Any) -> None:
    for plan in _owning_plans(session, item):
        if _locked(plan):
            raise SignedCarePlanImmutable(
                f"Continuing-care plan version {plan.number} is signed; its "
                f"{_LABELS[type(item)]} cannot change. Start a revision to make a new version."
            )


def _owning_plans(session: Session, item: Any) -> list[ContinuingCarePlan]:
    """The plan version(s) an item belongs to, before and after this flush (an item moved
    from one plan to another counts for both)."""
    state = sa.inspect(item)
    plans = [p for p in state.attrs.plan.history.sum() if p is not None]
    ids = [v for v in state.attrs.plan_id.history.sum() if v is not None]
    if not plans and not ids:
        ids = [item.plan_id]  # expired since the last commit: load it
    plans += [session.get(ContinuingCarePlan, i) for i in ids if i is not None]
    return [p for p in plans if p is not None]

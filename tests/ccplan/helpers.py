"""Building continuing-care plans for tests, through the services as the views do."""

from __future__ import annotations

from datetime import datetime

import time_machine

from casemgr.aftercare import plans
from casemgr.aftercare.models import ContinuingCarePlan, PlanTrigger
from casemgr.domain import continuing_care as cc
from casemgr.domain.plans import PlanStatus
from casemgr.extensions import db
from tests.clients_helpers import NOW
from tests.factories import PASSWORD

FIELDS = cc.PlanFields(
    level_of_care="2.1",
    program="iop",
    session_schedule="IOP Monday, Wednesday, Thursday 6-9 pm",
    moud="bup_naloxone",
    moud_dose="16 mg daily",
    moud_prescriber="Dr. Pat Reyes",
    emergency_plan="Call Sam (sponsor), then 988.",
    reengagement_plan="Walk in any weekday morning; no wait list after a lapse.",
)


def frozen(at: datetime = NOW):
    return time_machine.travel(at, tick=False)


def draft_plan(episode, actor, *, triggers: int = 1, supports: int = 1, life_changes: int = 1):
    """A complete draft version 1 with `triggers`, `supports` and `life_changes` items."""
    plan = plans.start_plan(db.session, episode, actor=actor)
    plans.update_fields(db.session, plan, FIELDS)
    for n in range(1, triggers + 1):
        plans.add_item(
            db.session, plan, cc.Trigger("people", f"Old friends {n}", 3, "Leave; call Sam")
        )
    for n in range(1, supports + 1):
        plans.add_item(
            db.session, plan, cc.Support("twelve_step", f"NA group {n}", "twice a week", True, "x")
        )
    for n in range(1, life_changes + 1):
        plans.add_item(db.session, plan, cc.LifeChange("housing", f"Sober living {n}", "done"))
    db.session.commit()
    return plan


def sign(plan, actor, *, at: datetime = NOW):
    plans.sign(db.session, plan, PASSWORD, actor=actor, now=at)
    db.session.commit()
    return plan


def signed_plan(episode, actor, **kwargs):
    return sign(draft_plan(episode, actor, **kwargs), actor)


def sweep_ccplan(episode) -> dict[str, object]:
    """URL values backed by real rows for the route sweeps: a draft on `episode` by its primary
    counselor, and a trigger of it. Rows are written directly because the sweep's episode is in
    intake, where the service refuses to start a plan (the views then refuse or redirect)."""
    plan = ContinuingCarePlan(
        episode=episode,
        number=1,
        status=PlanStatus.DRAFT,
        created_by_id=episode.primary_counselor_id,
        triggers=[
            PlanTrigger(position=1, category="people", description="x", risk=1, lineage="s" * 32)
        ],
    )
    db.session.add(plan)
    db.session.commit()
    return {"plan_id": plan.id, "kind": "trigger", "item_id": plan.triggers[0].id}

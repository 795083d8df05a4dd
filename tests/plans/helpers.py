"""Building treatment plans for tests, through the services as the views do."""

from __future__ import annotations

from datetime import UTC, date, datetime

import time_machine

from casemgr.extensions import db
from casemgr.plans import services
from tests.factories import PASSWORD

FROZEN = datetime(2026, 11, 25, 15, tzinfo=UTC)  # 10:00 at the facility on 25 November
SIGNED_ON = date(2026, 11, 25)
INTERVALS = {"default": 30}


def frozen(at: datetime = FROZEN):
    return time_machine.travel(at, tick=False)


def draft_plan(episode, actor, *, problems: int = 1, goals: int = 1, objectives: int = 1):
    """A draft version 1: each problem with `goals` goals, each goal with `objectives`
    objectives, each objective with one intervention run by `actor`."""
    plan = services.create_plan(db.session, episode, actor=actor)
    services.update_strengths(db.session, plan, "Motivated; supportive sister.")
    for p in range(1, problems + 1):
        problem = services.add_part(
            db.session, plan, services.ProblemDetails(f"Opioid use disorder, problem {p}")
        )
        for g in range(1, goals + 1):
            goal = services.add_part(
                db.session, problem, services.GoalDetails(f"Sustained recovery, goal {p}.{g}")
            )
            for o in range(1, objectives + 1):
                objective = services.add_part(
                    db.session,
                    goal,
                    services.ObjectiveDetails(
                        f"Name three triggers, objective {p}.{g}.{o}", date(2026, 12, 20)
                    ),
                )
                services.add_part(
                    db.session,
                    objective,
                    services.InterventionDetails("Individual CBT", "weekly", actor.id),
                )
    db.session.commit()
    return plan


def sign(plan, actor, *, today: date = SIGNED_ON, intervals=INTERVALS, agreed: bool = True):
    services.sign(
        db.session,
        plan,
        services.Signature(PASSWORD, agreed, today if agreed else None),
        actor=actor,
        now=datetime.combine(today, datetime.min.time(), tzinfo=UTC).replace(hour=15),
        today=today,
        intervals=intervals,
    )
    db.session.commit()
    return plan


def signed_plan(episode, actor, **kwargs):
    return sign(draft_plan(episode, actor, **kwargs), actor)


def sweep_plan(episode) -> dict[str, object]:
    """URL values backed by real rows for the route sweeps: a draft plan on `episode` by its
    primary counselor, and its first problem."""
    plan = draft_plan(episode, episode.primary_counselor)
    return {"plan_id": plan.id, "kind": "problem", "part_id": plan.problems[0].id}

"""What a plan signature covers: the canonical content of a version, and checking it.

The SHA-256 stored at signing is taken over `signed_content()`; `verify()` recomputes it, so
a change made behind the application (direct SQL) shows as a mismatch.
"""

from __future__ import annotations

from typing import Any

from ..domain.notes import content_hash
from ..domain.plans import ObjectiveStatus, PlanStatus
from .models import PlanObjective, TreatmentPlan


def signed_content(plan: TreatmentPlan) -> dict[str, Any]:
    """Everything the signature covers, in a form that survives a database round trip."""
    return {
        "plan_id": plan.id,
        "episode_id": plan.episode_id,
        "client_id": plan.episode.client_id,
        "number": plan.number,
        "supersedes_id": plan.supersedes_id,
        "strengths": plan.strengths,
        "problems": [
            {
                "statement": p.statement,
                "goals": [
                    {"statement": g.statement, "objectives": [_objective(o) for o in g.objectives]}
                    for g in p.goals
                ],
            }
            for p in plan.problems
        ],
        "review_due_on": plan.review_due_on.isoformat() if plan.review_due_on else None,
        "client_agreed": plan.client_agreed,
        "client_agreed_on": plan.client_agreed_on.isoformat() if plan.client_agreed_on else None,
        "signer": {
            "id": plan.signed_by_id,
            "name": plan.signer_name,
            "credentials": plan.signer_credentials,
            "at": plan.signed_at.isoformat(timespec="seconds") if plan.signed_at else None,
        },
    }


def _objective(objective: PlanObjective) -> dict[str, Any]:
    return {
        "lineage": objective.lineage,
        "statement": objective.statement,
        "target_date": objective.target_date.isoformat(),
        "status": ObjectiveStatus(objective.status).value,
        "interventions": [
            {"modality": i.modality, "frequency": i.frequency, "responsible_id": i.responsible_id}
            for i in objective.interventions
        ],
    }


def content_sha256(plan: TreatmentPlan) -> str:
    return content_hash(signed_content(plan))


def verify(plan: TreatmentPlan) -> bool:
    """True when the stored hash still matches the version: False means it was altered."""
    if plan.status is PlanStatus.DRAFT:
        return True
    return plan.content_sha256 == content_sha256(plan)

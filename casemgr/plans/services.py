"""Treatment plans: drafting, signing, reviews that make a new version, and the golden thread.

Services flush and audit; the view commits once. A version is signed like a note: the
counselor re-enters their password; signer, credentials, time and the client's agreement are
frozen, and a SHA-256 of the canonical plan content is stored. A review copies the signed
version into a new draft whose objectives keep their lineage.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from ..audit.hooks import record
from ..auth import passwords
from ..auth.models import User
from ..domain.errors import DomainError
from ..domain.plans import ObjectiveStatus, PlanStatus, review_due
from ..episodes.models import Episode
from ..notes.models import Note, note_objectives
from ..orm import utcnow
from . import guards  # noqa: F401  (registers the ORM guard on signed plans)
from .content import content_sha256
from .content import verify as verify  # the hash check is part of this module's API
from .models import PlanGoal, PlanIntervention, PlanObjective, PlanProblem, TreatmentPlan
from .queries import Part, current_plan, draft_of, staff_choices, versions, with_content

# What is added under what: a plan holds problems, a problem goals, and so on.
CHILD_KIND = {
    "plan": "problem",
    "problem": "goal",
    "goal": "objective",
    "objective": "intervention",
}
_COLLECTION = {
    PlanProblem: "problems",
    PlanGoal: "goals",
    PlanObjective: "objectives",
    PlanIntervention: "interventions",
}
_PARENT_ATTR = {
    PlanProblem: "plan",
    PlanGoal: "problem",
    PlanObjective: "goal",
    PlanIntervention: "objective",
}
# Objectives still being worked on need at least one intervention before the plan is signed.
_ACTIVE = frozenset(
    {ObjectiveStatus.NOT_STARTED, ObjectiveStatus.IN_PROGRESS, ObjectiveStatus.REVISED}
)


@dataclass(frozen=True)
class ProblemDetails:
    statement: str


@dataclass(frozen=True)
class GoalDetails:
    statement: str


@dataclass(frozen=True)
class ObjectiveDetails:
    statement: str
    target_date: date
    status: ObjectiveStatus = ObjectiveStatus.NOT_STARTED


@dataclass(frozen=True)
class InterventionDetails:
    modality: str
    frequency: str
    responsible_id: int | None = None


Details = ProblemDetails | GoalDetails | ObjectiveDetails | InterventionDetails


@dataclass(frozen=True)
class Signature:
    password: str
    client_agreed: bool
    client_agreed_on: date | None = None


# ---------------------------------------------------------------------------------------------
# For other features: the objectives a note can be linked to, and the thread of an objective


def current_objectives(session: Session, episode_id: int) -> list[PlanObjective]:
    """Objectives of the latest signed version, else of the draft, in plan order: what a note
    can be linked to."""
    plan = current_plan(session, episode_id)
    if plan is None:
        return []
    stmt = (
        sa.select(PlanObjective)
        .join(PlanGoal)
        .join(PlanProblem)
        .where(PlanProblem.plan_id == plan.id)
        .order_by(
            PlanProblem.position,
            PlanProblem.id,
            PlanGoal.position,
            PlanGoal.id,
            PlanObjective.position,
            PlanObjective.id,
        )
    )
    return list(session.scalars(stmt))


def linked_notes(session: Session, objective: PlanObjective) -> list[Note]:
    """Notes linked to this objective in any version of the plan (followed by lineage)."""
    same = sa.select(PlanObjective.id).where(PlanObjective.lineage == objective.lineage)
    linked = sa.select(note_objectives.c.note_id).where(note_objectives.c.objective_id.in_(same))
    return list(session.scalars(sa.select(Note).where(Note.id.in_(linked)).order_by(Note.id)))


# ---------------------------------------------------------------------------------------------
# Writing a draft


def plan_of(part: Part) -> TreatmentPlan:
    while not isinstance(part, PlanProblem):
        part = getattr(part, _PARENT_ATTR[type(part)])
    return part.plan


def _check_draft(plan: TreatmentPlan) -> None:
    if plan.status is not PlanStatus.DRAFT:
        raise DomainError(
            f"Version {plan.number} is signed and locked. Start a review to make a new version."
        )
    if not plan.episode.is_open:
        raise DomainError("The episode is closed; its treatment plan can no longer change.")


def _touch(plan: TreatmentPlan) -> None:
    # Every edit rewrites the plan row, so its version counter refuses an edit that raced
    # with signing (StaleDataError) instead of slipping content into a signed version, and an
    # edit form opened before this change is refused. Flagged, so it is rewritten even when the
    # clock has not moved (a frozen test clock).
    plan.updated_at = utcnow()
    flag_modified(plan, "updated_at")


def create_plan(session: Session, episode: Episode, *, actor: User) -> TreatmentPlan:
    """Version 1, as a draft. Later versions come from reviews of the signed one."""
    if not episode.is_open:
        raise DomainError("The episode is closed; a treatment plan is written for an open one.")
    existing = versions(session, episode.id)
    if draft_of(existing) is not None:
        raise DomainError("A draft plan already exists for this episode; continue editing it.")
    if existing:
        raise DomainError("This episode already has a signed plan; start a review instead.")
    plan = TreatmentPlan(
        episode=episode, number=1, status=PlanStatus.DRAFT, strengths="", created_by_id=actor.id
    )
    session.add(plan)
    session.flush()
    return plan


def update_strengths(session: Session, plan: TreatmentPlan, strengths: str) -> None:
    _check_draft(plan)
    plan.strengths = _text(strengths, "strengths", 1000, required=False)
    _touch(plan)
    session.flush()


def add_part(session: Session, parent: TreatmentPlan | Part, details: Details) -> Part:
    """A new problem under the plan, goal under a problem, objective under a goal, or
    intervention under an objective, placed last."""
    plan = parent if isinstance(parent, TreatmentPlan) else plan_of(parent)
    _check_draft(plan)
    model = _MODEL_OF[type(details)]
    siblings = getattr(parent, _COLLECTION[model])
    part = model(position=max((s.position for s in siblings), default=0) + 1)
    if isinstance(part, PlanObjective):
        part.lineage = uuid.uuid4().hex
    _apply(session, part, details, plan)
    siblings.append(part)
    _touch(plan)
    session.flush()
    return part


def update_part(session: Session, part: Part, details: Details) -> None:
    plan = plan_of(part)
    _check_draft(plan)
    if _MODEL_OF[type(details)] is not type(part):
        raise TypeError(f"{type(details).__name__} does not describe a {type(part).__name__}")
    _apply(session, part, details, plan)
    _touch(plan)
    session.flush()


def remove_part(session: Session, part: Part) -> None:
    """Remove a part and everything under it; refused when a note is linked to one of its
    objectives (mark the objective discontinued instead, so the thread stays intact)."""
    plan = plan_of(part)
    _check_draft(plan)
    ids = [o.id for o in _objectives_under(part)]
    if ids and session.scalar(
        sa.select(note_objectives.c.note_id).where(note_objectives.c.objective_id.in_(ids))
    ):
        raise DomainError(
            "A note is linked to an objective here; mark it discontinued instead of removing it."
        )
    parent = getattr(part, _PARENT_ATTR[type(part)])
    getattr(parent, _COLLECTION[type(part)]).remove(part)
    _touch(plan)
    session.flush()


_MODEL_OF: dict[type, type] = {
    ProblemDetails: PlanProblem,
    GoalDetails: PlanGoal,
    ObjectiveDetails: PlanObjective,
    InterventionDetails: PlanIntervention,
}


def _objectives_under(part: Part) -> list[PlanObjective]:
    if isinstance(part, PlanIntervention):
        return []
    if isinstance(part, PlanObjective):
        return [part]
    if isinstance(part, PlanGoal):
        return list(part.objectives)
    return [o for g in part.goals for o in g.objectives]


def _text(value: str, field: str, limit: int, *, required: bool = True) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError("Write something here.", field)
    if len(text) > limit:
        raise DomainError(f"Keep this under {limit} characters.", field)
    return text


def _apply(session: Session, part: Part, details: Details, plan: TreatmentPlan) -> None:
    if isinstance(details, ProblemDetails | GoalDetails):
        part.statement = _text(details.statement, "statement", 1000)
    elif isinstance(details, ObjectiveDetails):
        part.statement = _text(details.statement, "statement", 1000)
        if details.target_date < plan.episode.admitted_on:
            raise DomainError("The target date is before the admission date.", "target_date")
        part.target_date, part.status = details.target_date, ObjectiveStatus(details.status)
    else:
        part.modality = _text(details.modality, "modality", 200)
        part.frequency = _text(details.frequency, "frequency", 100)
        part.responsible_id = _responsible(session, details.responsible_id)


def _responsible(session: Session, user_id: int | None) -> int | None:
    if user_id is None:
        return None
    if user_id not in {u.id for u in staff_choices(session)}:
        raise DomainError("Choose an active member of the clinical staff.", "responsible")
    return user_id


# ---------------------------------------------------------------------------------------------
# Signing and reviews


def sign(
    session: Session,
    plan: TreatmentPlan,
    signature: Signature,
    *,
    actor: User,
    now: datetime,
    today: date,
    intervals: Mapping[str, int],
) -> None:
    """Lock the draft: review date from the level of care, frozen signer, stored hash. The
    version it replaces becomes superseded (still readable)."""
    _check_draft(plan)
    _check_complete(plan)
    agreed_on = _agreement(plan, signature, today)
    if not passwords.verify_password(actor.password_hash, signature.password):
        raise DomainError("The password is not correct; the plan was not signed.", "password")
    level = plan.episode.current_level
    previous = session.get(TreatmentPlan, plan.supersedes_id) if plan.supersedes_id else None
    # One flush for the whole signature: the row must never be stored signed without its hash.
    with session.no_autoflush:
        plan.status = PlanStatus.SIGNED
        plan.signed_at, plan.signed_by_id = now, actor.id
        plan.signer_name, plan.signer_credentials = actor.full_name, actor.credentials
        plan.client_agreed, plan.client_agreed_on = signature.client_agreed, agreed_on
        plan.review_due_on = review_due(today, level.code if level else None, intervals)
        plan.content_sha256 = content_sha256(plan)
        if previous is not None and previous.status is PlanStatus.SIGNED:
            previous.status = PlanStatus.SUPERSEDED
    session.flush()
    record(
        session,
        "plan.signed",
        target=plan,
        detail={"number": plan.number, "sha256": plan.content_sha256},
    )


def _check_complete(plan: TreatmentPlan) -> None:
    """Every problem has a goal, every goal an objective, every active objective an
    intervention (numbered as the plan page shows them)."""
    if not plan.problems:
        raise DomainError("Add at least one problem before signing.")
    for p, problem in enumerate(plan.problems, start=1):
        if not problem.goals:
            raise DomainError(f"Problem {p} has no long-term goal yet.")
        for g, goal in enumerate(problem.goals, start=1):
            if not goal.objectives:
                raise DomainError(f"Goal {p}.{g} has no objective yet.")
            for o, objective in enumerate(goal.objectives, start=1):
                if objective.status in _ACTIVE and not objective.interventions:
                    raise DomainError(f"Objective {p}.{g}.{o} has no intervention yet.")


def _agreement(plan: TreatmentPlan, signature: Signature, today: date) -> date | None:
    if not signature.client_agreed:
        return None
    day = signature.client_agreed_on
    if day is None:
        raise DomainError("Enter the date the client agreed to the plan.", "client_agreed_on")
    if day > today:
        raise DomainError("The agreement date cannot be in the future.", "client_agreed_on")
    if day < plan.episode.admitted_on:
        raise DomainError("The agreement date is before the admission date.", "client_agreed_on")
    return day


def start_review(session: Session, plan: TreatmentPlan, *, actor: User) -> TreatmentPlan:
    """A new draft version copied from the signed one: new rows throughout, each objective
    keeping its lineage. The signed version stays in force until the new one is signed."""
    if plan.status is not PlanStatus.SIGNED:
        raise DomainError("Only the signed version in force can be reviewed.")
    if not plan.episode.is_open:
        raise DomainError("The episode is closed; its treatment plan can no longer change.")
    existing = versions(session, plan.episode_id)
    if draft_of(existing) is not None:
        raise DomainError("A review is already in progress; continue editing its draft.")
    new = TreatmentPlan(
        episode=plan.episode,
        number=max(p.number for p in existing) + 1,
        status=PlanStatus.DRAFT,
        strengths=plan.strengths,
        created_by_id=actor.id,
        supersedes_id=plan.id,
    )
    new.problems = [_copy_problem(p) for p in with_content(session, plan).problems]
    session.add(new)
    session.flush()
    record(session, "plan.review_started", target=new, detail={"from_number": plan.number})
    return new


def _copy_problem(problem: PlanProblem) -> PlanProblem:
    return PlanProblem(
        position=problem.position,
        statement=problem.statement,
        goals=[
            PlanGoal(
                position=g.position,
                statement=g.statement,
                objectives=[_copy_objective(o) for o in g.objectives],
            )
            for g in problem.goals
        ],
    )


def _copy_objective(objective: PlanObjective) -> PlanObjective:
    return PlanObjective(
        position=objective.position,
        statement=objective.statement,
        target_date=objective.target_date,
        status=objective.status,
        lineage=objective.lineage,
        interventions=[
            PlanIntervention(
                position=i.position,
                modality=i.modality,
                frequency=i.frequency,
                responsible_id=i.responsible_id,
            )
            for i in objective.interventions
        ],
    )

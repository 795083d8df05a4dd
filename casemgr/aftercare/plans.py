"""Continuing-care plans: drafting, signing, revisions, and what other features read of them.

Services flush and audit; the view commits once. A version is signed like a treatment plan:
the counselor re-enters their password; signer, credentials and time are frozen and a SHA-256
of the canonical content is stored. A revision copies the signed version into a new draft
whose triggers keep their lineage; signing it supersedes the version it copied.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload, selectinload
from sqlalchemy.orm.attributes import flag_modified

from ..audit.hooks import record
from ..auth import passwords
from ..auth.models import User
from ..domain import continuing_care as cc
from ..domain.errors import DomainError
from ..domain.notes import content_hash
from ..domain.plans import PlanStatus
from ..episodes.models import Episode
from ..orm import utcnow
from . import plan_guards  # noqa: F401  (registers the ORM guard on signed plans)
from .models import ContinuingCarePlan, LifeChange, PlanTrigger, SoberSupport

Item = PlanTrigger | SoberSupport | LifeChange
Details = cc.Trigger | cc.Support | cc.LifeChange

# Each kind of item: its model, the plan's collection holding it, and its domain rule.
KINDS: dict[str, tuple[type, str, Any]] = {
    "trigger": (PlanTrigger, "triggers", cc.check_trigger),
    "support": (SoberSupport, "supports", cc.check_support),
    "life_change": (LifeChange, "life_changes", cc.check_life_change),
}
_KIND_OF = {cc.Trigger: "trigger", cc.Support: "support", cc.LifeChange: "life_change"}
_PLAN_FIELDS = tuple(f.name for f in fields(cc.PlanFields))


# ---------------------------------------------------------------------------------------------
# Reading


def versions(session: Session, episode_id: int) -> list[ContinuingCarePlan]:
    """Every version of the episode's continuing-care plan, newest first (without items)."""
    stmt = sa.select(ContinuingCarePlan).where(ContinuingCarePlan.episode_id == episode_id)
    return list(session.scalars(stmt.order_by(ContinuingCarePlan.number.desc())))


def latest_signed(plans: list[ContinuingCarePlan]) -> ContinuingCarePlan | None:
    return max(
        (p for p in plans if p.status is PlanStatus.SIGNED), key=lambda p: p.number, default=None
    )


def draft_of(plans: list[ContinuingCarePlan]) -> ContinuingCarePlan | None:
    return next((p for p in plans if p.status is PlanStatus.DRAFT), None)


def in_force(plans: list[ContinuingCarePlan]) -> ContinuingCarePlan | None:
    """The latest signed version, else the draft (a first plan being written)."""
    return latest_signed(plans) or draft_of(plans)


def current_plan(session: Session, episode_id: int) -> ContinuingCarePlan | None:
    """For other features: the plan the client is followed by (latest signed, else draft)."""
    return in_force(versions(session, episode_id))


def plan_triggers(session: Session, episode_id: int) -> list[PlanTrigger]:
    """For other features (relapse events): the triggers of the current plan, in plan order.
    Match a trigger across versions by its `lineage`, never its id."""
    plan = current_plan(session, episode_id)
    if plan is None:
        return []
    stmt = sa.select(PlanTrigger).where(PlanTrigger.plan_id == plan.id)
    return list(session.scalars(stmt.order_by(PlanTrigger.position, PlanTrigger.id)))


def with_content(session: Session, plan: ContinuingCarePlan) -> ContinuingCarePlan:
    """The plan with its episode, client and three lists loaded in a fixed number of queries.

    The episode and client are joined in because the page reads them; the objects the access
    check loaded may already have been dropped from the session's (weak) identity map."""
    stmt = (
        sa.select(ContinuingCarePlan)
        .where(ContinuingCarePlan.id == plan.id)
        .options(
            joinedload(ContinuingCarePlan.episode).joinedload(Episode.client),
            selectinload(ContinuingCarePlan.triggers),
            selectinload(ContinuingCarePlan.supports),
            selectinload(ContinuingCarePlan.life_changes),
        )
    )
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def find_item(session: Session, plan: ContinuingCarePlan, kind: str, item_id: int) -> Item | None:
    """An item of this plan version (None if it does not exist or belongs to another plan)."""
    model = KINDS[kind][0]
    return session.scalar(sa.select(model).where(model.id == item_id, model.plan_id == plan.id))


@dataclass(frozen=True)
class PlanPage:
    plan: ContinuingCarePlan  # the version shown, lists loaded
    versions: list[ContinuingCarePlan]  # newest first
    current: ContinuingCarePlan | None  # the version in force
    draft: ContinuingCarePlan | None
    verified: bool
    missing: list[str]  # what still stops the shown draft from being signed


def plan_page(session: Session, plan: ContinuingCarePlan) -> PlanPage:
    plans = versions(session, plan.episode_id)
    plan = with_content(session, plan)
    return PlanPage(
        plan=plan,
        versions=plans,
        current=in_force(plans),
        draft=draft_of(plans),
        verified=verify(plan),
        missing=missing_for_signature(plan) if plan.status is PlanStatus.DRAFT else [],
    )


# ---------------------------------------------------------------------------------------------
# What a signature covers


def plan_fields(plan: ContinuingCarePlan) -> cc.PlanFields:
    return cc.PlanFields(**{name: getattr(plan, name) or "" for name in _PLAN_FIELDS})


def _trigger(t: PlanTrigger) -> cc.Trigger:
    return cc.Trigger(t.category, t.description, t.risk, t.coping)


def _support(s: SoberSupport) -> cc.Support:
    return cc.Support(s.kind, s.name, s.frequency, s.contact_consent, s.contact)


def signed_content(plan: ContinuingCarePlan) -> dict[str, Any]:
    """Everything the signature covers, in a form that survives a database round trip."""
    return {
        "plan_id": plan.id,
        "episode_id": plan.episode_id,
        "client_id": plan.episode.client_id,
        "number": plan.number,
        "supersedes_id": plan.supersedes_id,
        **asdict(plan_fields(plan)),
        "triggers": [{"lineage": t.lineage, **asdict(_trigger(t))} for t in plan.triggers],
        "supports": [asdict(_support(s)) for s in plan.supports],
        "life_changes": [
            {"area": c.area, "description": c.description, "status": c.status}
            for c in plan.life_changes
        ],
        "signer": {
            "id": plan.signed_by_id,
            "name": plan.signer_name,
            "credentials": plan.signer_credentials,
            "at": plan.signed_at.isoformat(timespec="seconds") if plan.signed_at else None,
        },
    }


def content_sha256(plan: ContinuingCarePlan) -> str:
    return content_hash(signed_content(plan))


def verify(plan: ContinuingCarePlan) -> bool:
    """True when the stored hash still matches the version: False means it was altered."""
    if plan.status is PlanStatus.DRAFT:
        return True
    return plan.content_sha256 == content_sha256(plan)


def _as_domain(
    plan: ContinuingCarePlan,
) -> tuple[cc.PlanFields, list[cc.Trigger], list[cc.Support]]:
    return (
        plan_fields(plan),
        [_trigger(t) for t in plan.triggers],
        [_support(s) for s in plan.supports],
    )


def missing_for_signature(plan: ContinuingCarePlan) -> list[str]:
    return cc.missing_for_signature(*_as_domain(plan))


# ---------------------------------------------------------------------------------------------
# Writing a draft


def _check_draft(plan: ContinuingCarePlan) -> None:
    if plan.status is not PlanStatus.DRAFT:
        raise DomainError(
            f"Version {plan.number} is signed and locked. Start a revision to change it."
        )
    if not plan.episode.is_open:
        raise DomainError("The episode is closed; its continuing-care plan can no longer change.")


def _touch(plan: ContinuingCarePlan) -> None:
    # Every edit rewrites the plan row, so its version counter refuses an edit that raced
    # with signing (StaleDataError) instead of slipping content into a signed version, and an
    # edit form opened before this change is refused. Flagged, so it is rewritten even when the
    # clock has not moved (a frozen test clock).
    plan.updated_at = utcnow()
    flag_modified(plan, "updated_at")


def start_plan(session: Session, episode: Episode, *, actor: User) -> ContinuingCarePlan:
    """A new draft: version 1, or a revision copying the latest signed version (its items
    keep their lineage). The signed version stays in force until the revision is signed."""
    refusal = cc.start_refusal(episode.phase)
    if refusal:
        raise DomainError(refusal)
    existing = versions(session, episode.id)
    if draft_of(existing) is not None:
        raise DomainError("A draft continuing-care plan already exists; continue editing it.")
    signed = latest_signed(existing)
    plan = ContinuingCarePlan(
        episode=episode,
        number=max((p.number for p in existing), default=0) + 1,
        status=PlanStatus.DRAFT,
        created_by_id=actor.id,
    )
    if signed is not None:
        _copy(with_content(session, signed), plan)
    session.add(plan)
    session.flush()
    if signed is not None:
        record(session, "ccplan.revision_started", target=plan, detail={"from": signed.number})
    return plan


def _copy(signed: ContinuingCarePlan, plan: ContinuingCarePlan) -> None:
    for name in _PLAN_FIELDS:
        setattr(plan, name, getattr(signed, name))
    plan.supersedes_id = signed.id
    plan.triggers = [
        PlanTrigger(
            position=t.position,
            category=t.category,
            description=t.description,
            risk=t.risk,
            coping=t.coping,
            lineage=t.lineage,
        )
        for t in signed.triggers
    ]
    plan.supports = [
        SoberSupport(
            position=s.position,
            kind=s.kind,
            name=s.name,
            frequency=s.frequency,
            contact_consent=s.contact_consent,
            contact=s.contact if s.contact_consent else "",
        )
        for s in signed.supports
    ]
    plan.life_changes = [
        LifeChange(position=c.position, area=c.area, description=c.description, status=c.status)
        for c in signed.life_changes
    ]


def update_fields(session: Session, plan: ContinuingCarePlan, values: cc.PlanFields) -> None:
    _check_draft(plan)
    for name, value in asdict(cc.check_fields(values)).items():
        setattr(plan, name, value)
    _touch(plan)
    session.flush()


def add_item(session: Session, plan: ContinuingCarePlan, details: Details) -> Item:
    """A trigger, sober support or life change, placed last in its list."""
    _check_draft(plan)
    model, collection, check = KINDS[_KIND_OF[type(details)]]
    siblings = getattr(plan, collection)
    item = model(
        position=max((s.position for s in siblings), default=0) + 1, **asdict(check(details))
    )
    if isinstance(item, PlanTrigger):
        item.lineage = uuid.uuid4().hex
    siblings.append(item)
    _touch(plan)
    session.flush()
    return item


def remove_item(session: Session, plan: ContinuingCarePlan, item: Item) -> None:
    _check_draft(plan)
    getattr(plan, KINDS[_kind(item)][1]).remove(item)
    _touch(plan)
    session.flush()


def _kind(item: Item) -> str:
    return next(kind for kind, (model, _, _) in KINDS.items() if isinstance(item, model))


# ---------------------------------------------------------------------------------------------
# Signing


def sign(
    session: Session, plan: ContinuingCarePlan, password: str, *, actor: User, now: datetime
) -> None:
    """Lock the draft with a frozen signer and a stored hash; the signed version it revises
    becomes superseded (still readable)."""
    _check_draft(plan)
    cc.check_ready_to_sign(*_as_domain(plan))
    if not passwords.verify_password(actor.password_hash, password):
        raise DomainError("The password is not correct; the plan was not signed.", "password")
    previous = latest_signed(versions(session, plan.episode_id))
    # One flush for the whole signature: the row must never be stored signed without its hash.
    with session.no_autoflush:
        plan.status = PlanStatus.SIGNED
        plan.signed_at, plan.signed_by_id = now, actor.id
        plan.signer_name, plan.signer_credentials = actor.full_name, actor.credentials
        plan.content_sha256 = content_sha256(plan)
        if previous is not None:
            previous.status = PlanStatus.SUPERSEDED
    session.flush()
    record(
        session,
        "ccplan.signed",
        target=plan,
        detail={"number": plan.number, "sha256": plan.content_sha256},
    )

"""Drafting, signing and revising a continuing-care plan through the services; the ORM guard;
the content hash; what other features read."""

import pytest
import sqlalchemy as sa

from casemgr.aftercare import plans
from casemgr.aftercare.models import ContinuingCarePlan, LifeChange, PlanTrigger, SoberSupport
from casemgr.aftercare.plan_guards import SignedCarePlanImmutable
from casemgr.audit.models import AuditEvent
from casemgr.domain import continuing_care as cc
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase
from casemgr.domain.plans import PlanStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.ccplan.helpers import FIELDS, draft_plan, sign, signed_plan
from tests.clients_helpers import NOW, admitted


@pytest.fixture
def counselor(make):
    return make.user(Role.COUNSELOR, credentials="LADC", full_name="Casey Counselor")


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER)


@pytest.fixture
def episode(manager, counselor):
    return admitted(manager, counselor, Phase.REHAB)[1]


def test_a_draft_is_built_item_by_item(episode, counselor):
    plan = draft_plan(episode, counselor, triggers=2, supports=2, life_changes=2)
    assert plan.number == 1 and plan.status is PlanStatus.DRAFT and plan.supersedes_id is None
    assert [t.position for t in plan.triggers] == [1, 2]
    assert len({t.lineage for t in plan.triggers}) == 2
    assert (plan.program, plan.moud, plan.moud_prescriber) == (
        "iop",
        "bup_naloxone",
        "Dr. Pat Reyes",
    )
    assert plans.current_plan(db.session, episode.id) is plan  # no signed version yet
    assert plans.plan_triggers(db.session, episode.id) == plan.triggers


def test_nothing_is_current_without_a_plan(episode):
    assert plans.current_plan(db.session, episode.id) is None
    assert plans.plan_triggers(db.session, episode.id) == []


@pytest.mark.parametrize("phase", [Phase.INTAKE, Phase.DETOX])
def test_a_plan_is_not_started_before_rehab(manager, counselor, phase):
    _, episode = admitted(manager, counselor, phase)
    with pytest.raises(DomainError, match=f"in {phase.value}"):
        plans.start_plan(db.session, episode, actor=counselor)


def test_a_plan_starts_in_aftercare_too(manager, counselor):
    _, episode = admitted(manager, counselor, Phase.AFTERCARE)
    assert plans.start_plan(db.session, episode, actor=counselor).number == 1


def test_only_one_draft_at_a_time(episode, counselor):
    draft_plan(episode, counselor)
    with pytest.raises(DomainError, match="draft continuing-care plan already exists"):
        plans.start_plan(db.session, episode, actor=counselor)


def test_item_rules_name_their_field(episode, counselor):
    plan = draft_plan(episode, counselor)
    with pytest.raises(DomainError) as err:
        plans.add_item(db.session, plan, cc.Trigger("people", "x", 5))
    assert err.value.field == "risk"
    with pytest.raises(DomainError) as err:
        plans.update_fields(db.session, plan, cc.PlanFields("1", "iop", "weekly", moud="methadone"))
    assert err.value.field == "moud_dose"
    db.session.rollback()


def test_contact_details_are_dropped_without_consent(episode, counselor):
    plan = draft_plan(episode, counselor, supports=0)
    kept = plans.add_item(db.session, plan, cc.Support("sponsor", "Sam", "daily", True, "555-0100"))
    dropped = plans.add_item(db.session, plan, cc.Support("family", "Mom", "", False, "555-0199"))
    db.session.commit()
    db.session.expire_all()
    assert db.session.get(SoberSupport, kept.id).contact == "555-0100"
    assert db.session.get(SoberSupport, dropped.id).contact == ""


def test_items_are_removed_from_a_draft(episode, counselor):
    plan = draft_plan(episode, counselor, triggers=2)
    first = plan.triggers[0]
    plans.remove_item(db.session, plan, first)
    db.session.commit()
    assert [t.description for t in plan.triggers] == ["Old friends 2"]
    assert db.session.get(PlanTrigger, first.id) is None


def test_signing_freezes_the_version(episode, counselor):
    plan = signed_plan(episode, counselor)
    assert plan.status is PlanStatus.SIGNED and plan.signed_at == NOW
    assert (plan.signer_name, plan.signer_credentials) == ("Casey Counselor", "LADC")
    assert len(plan.content_sha256) == 64 and plans.verify(plan)
    signed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "ccplan.signed"))
    assert signed.object_id == str(plan.id) and signed.client_id == episode.client_id


def test_signing_needs_a_coped_trigger_and_a_support(episode, counselor):
    plan = draft_plan(episode, counselor, triggers=0, supports=0)
    plans.add_item(db.session, plan, cc.Trigger("emotions", "Loneliness at night", 2))
    with pytest.raises(DomainError) as err:
        plans.sign(db.session, plan, "irrelevant", actor=counselor, now=NOW)
    assert "at least one trigger with its coping strategies" in str(err.value)
    assert "at least one sober support" in str(err.value) and err.value.field is None
    db.session.rollback()


def test_a_wrong_password_signs_nothing(episode, counselor):
    plan = draft_plan(episode, counselor)
    with pytest.raises(DomainError) as err:
        plans.sign(db.session, plan, "not my password", actor=counselor, now=NOW)
    assert err.value.field == "password"
    db.session.rollback()
    assert plan.status is PlanStatus.DRAFT and plan.content_sha256 == ""


def test_a_revision_copies_the_signed_version_and_keeps_lineage(episode, counselor):
    v1 = signed_plan(episode, counselor, triggers=2, supports=2, life_changes=1)
    v2 = plans.start_plan(db.session, episode, actor=counselor)
    db.session.commit()
    assert (v2.number, v2.status, v2.supersedes_id) == (2, PlanStatus.DRAFT, v1.id)
    assert plans.plan_fields(v2) == plans.plan_fields(v1) == FIELDS
    assert [t.lineage for t in v2.triggers] == [t.lineage for t in v1.triggers]
    assert {t.id for t in v2.triggers}.isdisjoint({t.id for t in v1.triggers})
    assert [s.name for s in v2.supports] == [s.name for s in v1.supports]
    assert [c.description for c in v2.life_changes] == [c.description for c in v1.life_changes]
    # The signed version stays in force until the revision is signed.
    assert plans.current_plan(db.session, episode.id) is v1
    kept = v2.triggers[1].lineage
    plans.remove_item(db.session, v2, v2.triggers[0])
    added = plans.add_item(db.session, v2, cc.Trigger("times", "Payday", 3, "Direct deposit"))
    sign(v2, counselor)
    db.session.refresh(v1)
    assert v1.status is PlanStatus.SUPERSEDED and v2.status is PlanStatus.SIGNED
    assert plans.verify(v1) and plans.verify(v2)
    assert plans.current_plan(db.session, episode.id) is v2
    current = plans.plan_triggers(db.session, episode.id)
    assert [t.lineage for t in current] == [kept, added.lineage] and added.lineage not in {
        t.lineage for t in v1.triggers
    }
    assert db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "ccplan.revision_started")
    )


def test_a_revision_starts_only_once(episode, counselor):
    signed_plan(episode, counselor)
    plans.start_plan(db.session, episode, actor=counselor)
    with pytest.raises(DomainError, match="already exists"):
        plans.start_plan(db.session, episode, actor=counselor)
    db.session.rollback()


def test_a_signed_plan_is_locked_for_the_services(episode, counselor):
    plan = signed_plan(episode, counselor)
    for action in (
        lambda: plans.add_item(db.session, plan, cc.Trigger("people", "x", 1)),
        lambda: plans.update_fields(db.session, plan, FIELDS),
        lambda: plans.remove_item(db.session, plan, plan.triggers[0]),
        lambda: plans.sign(db.session, plan, "x", actor=counselor, now=NOW),
    ):
        with pytest.raises(DomainError, match="signed and locked"):
            action()
    db.session.rollback()


def test_a_closed_episode_plan_does_not_change(episode, counselor):
    plan = draft_plan(episode, counselor)
    episode.phase = Phase.DISCHARGED  # shortcut: the discharge form is tested elsewhere
    with pytest.raises(DomainError, match="closed"):
        plans.update_fields(db.session, plan, FIELDS)
    with pytest.raises(DomainError, match="closed"):
        plans.start_plan(db.session, episode, actor=counselor)
    db.session.rollback()


@pytest.mark.parametrize(
    "change",
    [
        lambda plan: setattr(plan, "emergency_plan", "rewritten"),
        lambda plan: setattr(plan, "moud_dose", "32 mg"),
        lambda plan: setattr(plan, "status", PlanStatus.DRAFT),
        lambda plan: setattr(plan.triggers[0], "coping", "rewritten"),
        lambda plan: setattr(plan.supports[0], "contact", "555-0000"),
        lambda plan: setattr(plan.life_changes[0], "status", "planned"),
        lambda plan: plan.triggers.append(
            PlanTrigger(position=9, category="people", description="x", risk=1, lineage="n" * 32)
        ),
        lambda plan: db.session.add(
            SoberSupport(plan_id=plan.id, position=9, kind="friend", name="added")
        ),
        lambda plan: db.session.delete(plan.supports[0]),
        lambda plan: plan.life_changes.remove(plan.life_changes[0]),
        lambda plan: db.session.delete(plan),
    ],
    ids=[
        "emergency-plan",
        "dose",
        "unsign",
        "trigger",
        "support",
        "life-change",
        "add-trigger",
        "add-support-by-id",
        "delete-support",
        "orphan-life-change",
        "delete-plan",
    ],
)
def test_the_orm_refuses_to_change_a_signed_plan(episode, counselor, change):
    plan = signed_plan(episode, counselor)
    db.session.expire_all()  # as in a fresh request: nothing loaded yet
    change(db.session.get(ContinuingCarePlan, plan.id))
    with pytest.raises(SignedCarePlanImmutable):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_to_change_a_superseded_version(episode, counselor):
    v1 = signed_plan(episode, counselor)
    sign(plans.start_plan(db.session, episode, actor=counselor), counselor)
    db.session.refresh(v1)
    v1.life_changes[0].description = "rewritten"
    with pytest.raises(SignedCarePlanImmutable):
        db.session.flush()
    db.session.rollback()
    v1.status = PlanStatus.SIGNED  # back in force: not allowed either
    with pytest.raises(SignedCarePlanImmutable):
        db.session.flush()
    db.session.rollback()


def test_an_item_cannot_move_into_a_signed_plan(episode, counselor, manager):
    signed = signed_plan(episode, counselor)
    _, other = admitted(manager, counselor, Phase.REHAB, legal_first_name="Other")
    draft = draft_plan(other, counselor)
    draft.life_changes[0].plan_id = signed.id
    with pytest.raises(SignedCarePlanImmutable):
        db.session.flush()
    db.session.rollback()
    assert db.session.get(LifeChange, draft.life_changes[0].id).plan_id == draft.id


def test_a_direct_sql_change_is_detected_by_the_hash(episode, counselor):
    plan = signed_plan(episode, counselor)
    db.session.execute(sa.update(PlanTrigger).where(PlanTrigger.plan_id == plan.id).values(risk=1))
    db.session.commit()
    db.session.expire_all()
    assert not plans.verify(db.session.get(ContinuingCarePlan, plan.id))

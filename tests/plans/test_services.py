"""Drafting, signing and reviewing a plan through the services; the ORM guard; the hash."""

from datetime import date

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase
from casemgr.domain.plans import ObjectiveStatus, PlanStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.plans import services
from casemgr.plans.guards import SignedPlanImmutable
from casemgr.plans.models import PlanGoal, PlanObjective, PlanProblem, TreatmentPlan
from tests.clients_helpers import NOW, admitted
from tests.notes.helpers import session_with_note
from tests.plans.helpers import draft_plan, sign, signed_plan


def linked_note(episode, author, objective):
    """A draft note linked to `objective` (the golden thread)."""
    _, note = session_with_note(episode, author)
    note.objectives = [objective]
    db.session.commit()
    return note


@pytest.fixture
def counselor(make):
    return make.user(Role.COUNSELOR, credentials="LADC", full_name="Casey Counselor")


@pytest.fixture
def episode(make, counselor):
    return admitted(make.user(Role.CLINIC_MANAGER), counselor, Phase.REHAB)[1]


def test_a_draft_is_built_part_by_part(episode, counselor):
    plan = draft_plan(episode, counselor, problems=2, goals=2, objectives=2)
    assert plan.number == 1 and plan.status is PlanStatus.DRAFT
    assert [p.position for p in plan.problems] == [1, 2]
    objectives = services.current_objectives(db.session, episode.id)
    assert len(objectives) == 8
    assert objectives[0].statement.endswith("1.1.1") and objectives[-1].statement.endswith("2.2.2")
    assert len({o.lineage for o in objectives}) == 8


def test_a_second_plan_is_refused(episode, counselor):
    draft_plan(episode, counselor)
    with pytest.raises(DomainError, match="draft plan already exists"):
        services.create_plan(db.session, episode, actor=counselor)


def test_a_closed_episode_gets_no_plan(make, counselor):
    manager = make.user(Role.CLINIC_MANAGER)
    _, episode = admitted(manager, counselor)
    episode.phase = Phase.DISCHARGED
    with pytest.raises(DomainError, match="closed"):
        services.create_plan(db.session, episode, actor=counselor)
    db.session.rollback()


def test_parts_are_edited_and_removed(episode, counselor):
    plan = draft_plan(episode, counselor, goals=2)
    goal = plan.problems[0].goals[0]
    objective = goal.objectives[0]
    services.update_part(
        db.session,
        objective,
        services.ObjectiveDetails(" Attend 3 meetings a week ", date(2027, 1, 5), "in_progress"),
    )
    assert objective.statement == "Attend 3 meetings a week"
    assert objective.status is ObjectiveStatus.IN_PROGRESS
    services.remove_part(db.session, goal)
    db.session.commit()
    assert [g.statement for g in plan.problems[0].goals] == ["Sustained recovery, goal 1.2"]
    assert db.session.get(PlanObjective, objective.id) is None


def test_part_rules_name_their_field(episode, counselor):
    plan = draft_plan(episode, counselor)
    goal = plan.problems[0].goals[0]
    with pytest.raises(DomainError) as exc:
        services.add_part(db.session, goal, services.ObjectiveDetails("x", date(2026, 10, 1)))
    assert exc.value.field == "target_date"
    with pytest.raises(DomainError) as exc:
        services.add_part(db.session, plan, services.ProblemDetails("   "))
    assert exc.value.field == "statement"
    objective = goal.objectives[0]
    with pytest.raises(DomainError) as exc:
        services.add_part(db.session, objective, services.InterventionDetails("CBT", "weekly", 999))
    assert exc.value.field == "responsible"
    db.session.rollback()


def test_an_objective_a_note_follows_cannot_be_removed(episode, counselor):
    plan = draft_plan(episode, counselor)
    objective = plan.problems[0].goals[0].objectives[0]
    linked_note(episode, counselor, objective)
    with pytest.raises(DomainError, match="discontinued"):
        services.remove_part(db.session, plan.problems[0])
    db.session.rollback()


def test_signing_freezes_the_version_and_sets_the_review_date(episode, counselor):
    plan = signed_plan(episode, counselor)
    assert plan.status is PlanStatus.SIGNED
    assert (plan.signer_name, plan.signer_credentials) == ("Casey Counselor", "LADC")
    assert plan.client_agreed and plan.client_agreed_on == date(2026, 11, 25)
    assert plan.review_due_on == date(2026, 12, 25)
    db.session.expire_all()
    plan = db.session.get(TreatmentPlan, plan.id)
    assert len(plan.content_sha256) == 64 and services.verify(plan)
    signed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "plan.signed"))
    assert plan.content_sha256 in signed.detail


def test_wrong_password_refuses_and_changes_nothing(episode, counselor):
    plan = draft_plan(episode, counselor)
    with pytest.raises(DomainError) as exc:
        services.sign(
            db.session,
            plan,
            services.Signature("not my password at all", True, date(2026, 11, 25)),
            actor=counselor,
            now=NOW,
            today=date(2026, 11, 25),
            intervals={"default": 30},
        )
    assert exc.value.field == "password"
    db.session.rollback()
    plan = db.session.get(TreatmentPlan, plan.id)
    assert plan.status is PlanStatus.DRAFT and plan.signed_at is None and not plan.content_sha256


def test_an_incomplete_plan_cannot_be_signed(episode, counselor):
    plan = services.create_plan(db.session, episode, actor=counselor)
    with pytest.raises(DomainError, match="at least one problem"):
        sign(plan, counselor)
    problem = services.add_part(db.session, plan, services.ProblemDetails("Alcohol use"))
    goal = services.add_part(db.session, problem, services.GoalDetails("Abstinence"))
    services.add_part(db.session, goal, services.ObjectiveDetails("AA 3x", date(2026, 12, 1)))
    with pytest.raises(DomainError, match=r"Objective 1\.1\.1 has no intervention"):
        sign(plan, counselor)
    db.session.rollback()


def test_the_agreement_date_is_checked(episode, counselor):
    plan = draft_plan(episode, counselor)
    with pytest.raises(DomainError) as exc:
        services.sign(
            db.session,
            plan,
            services.Signature("irrelevant", True, None),
            actor=counselor,
            now=NOW,
            today=date(2026, 11, 25),
            intervals={},
        )
    assert exc.value.field == "client_agreed_on"
    db.session.rollback()


def test_the_review_interval_follows_the_level_of_care(episode, counselor, make):
    from casemgr.domain.care import Setting
    from casemgr.episodes import services as episodes

    episodes.set_level_of_care(
        db.session,
        episode,
        setting=Setting.RESIDENTIAL,
        code_system="ASAM3",
        code="3.7",
        started_on=date(2026, 11, 3),
        actor=counselor,
        today=date(2026, 11, 25),
    )
    plan = sign(draft_plan(episode, counselor), counselor, intervals={"default": 30, "3.7": 14})
    assert plan.review_due_on == date(2026, 12, 9)


def test_a_review_makes_a_new_version_and_keeps_the_thread(episode, counselor):
    v1 = signed_plan(episode, counselor, goals=2)
    old = v1.problems[0].goals[0].objectives[0]
    note = linked_note(episode, counselor, old)

    v2 = services.start_review(db.session, v1, actor=counselor)
    db.session.commit()
    assert (v2.number, v2.status, v2.supersedes_id) == (2, PlanStatus.DRAFT, v1.id)
    assert v1.status is PlanStatus.SIGNED  # in force until the new version is signed
    new = v2.problems[0].goals[0].objectives[0]
    assert new.id != old.id and new.lineage == old.lineage
    assert new.interventions[0].id != old.interventions[0].id
    assert services.current_objectives(db.session, episode.id)[0].id == old.id

    services.update_part(
        db.session,
        new,
        services.ObjectiveDetails(new.statement, date(2027, 1, 15), ObjectiveStatus.ACHIEVED),
    )
    sign(v2, counselor, today=date(2026, 12, 20))
    db.session.expire_all()
    v1, v2 = db.session.get(TreatmentPlan, v1.id), db.session.get(TreatmentPlan, v2.id)
    assert v1.status is PlanStatus.SUPERSEDED and v2.status is PlanStatus.SIGNED
    assert services.verify(v1) and services.verify(v2)  # superseding is not tampering
    assert v1.problems[0].goals[0].objectives[0].status is ObjectiveStatus.NOT_STARTED
    assert v2.review_due_on == date(2027, 1, 19)
    current = services.current_objectives(db.session, episode.id)
    assert current[0].goal.problem.plan_id == v2.id
    assert current[0].status is ObjectiveStatus.ACHIEVED
    # The note was linked to version 1's objective; version 2's finds it by lineage.
    assert services.linked_notes(db.session, current[0]) == [note]


def test_only_one_review_at_a_time(episode, counselor):
    v1 = signed_plan(episode, counselor)
    services.start_review(db.session, v1, actor=counselor)
    with pytest.raises(DomainError, match="already in progress"):
        services.start_review(db.session, v1, actor=counselor)
    db.session.rollback()


def test_a_signed_plan_is_locked_for_the_services(episode, counselor):
    plan = signed_plan(episode, counselor)
    with pytest.raises(DomainError, match="signed and locked"):
        services.add_part(db.session, plan, services.ProblemDetails("Another"))
    with pytest.raises(DomainError, match="signed and locked"):
        services.update_strengths(db.session, plan, "changed")
    db.session.rollback()


@pytest.mark.parametrize(
    "change",
    [
        lambda plan: setattr(plan, "strengths", "rewritten"),
        lambda plan: setattr(plan, "review_due_on", date(2027, 6, 1)),
        lambda plan: setattr(plan, "status", PlanStatus.DRAFT),
        lambda plan: setattr(plan.problems[0], "statement", "rewritten"),
        lambda plan: setattr(plan.problems[0].goals[0], "statement", "rewritten"),
        lambda plan: setattr(
            plan.problems[0].goals[0].objectives[0], "status", ObjectiveStatus.ACHIEVED
        ),
        lambda plan: setattr(
            plan.problems[0].goals[0].objectives[0].interventions[0], "frequency", "never"
        ),
        lambda plan: plan.problems.append(PlanProblem(position=9, statement="added")),
        lambda plan: plan.problems[0].goals.append(PlanGoal(position=9, statement="added")),
        lambda plan: db.session.delete(plan.problems[0].goals[0].objectives[0].interventions[0]),
        lambda plan: plan.problems[0].goals.remove(plan.problems[0].goals[0]),
        lambda plan: db.session.delete(plan),
    ],
    ids=[
        "strengths",
        "review-date",
        "unsign",
        "problem",
        "goal",
        "objective",
        "intervention",
        "add-problem",
        "add-goal",
        "delete-intervention",
        "orphan-goal",
        "delete-plan",
    ],
)
def test_the_orm_refuses_to_change_a_signed_plan(episode, counselor, change):
    plan = signed_plan(episode, counselor)
    db.session.expire_all()  # as in a fresh request: nothing loaded yet
    change(db.session.get(TreatmentPlan, plan.id))
    with pytest.raises(SignedPlanImmutable):
        db.session.flush()
    db.session.rollback()


def test_the_orm_refuses_to_change_a_superseded_version(episode, counselor):
    v1 = signed_plan(episode, counselor)
    sign(services.start_review(db.session, v1, actor=counselor), counselor)
    v1.problems[0].statement = "rewritten"
    with pytest.raises(SignedPlanImmutable):
        db.session.flush()
    db.session.rollback()
    v1.status = PlanStatus.SIGNED
    with pytest.raises(SignedPlanImmutable):
        db.session.flush()
    db.session.rollback()


def test_a_direct_sql_change_is_detected_by_the_hash(episode, counselor):
    plan = signed_plan(episode, counselor)
    objective = plan.problems[0].goals[0].objectives[0]
    db.session.execute(
        sa.update(PlanObjective)
        .where(PlanObjective.id == objective.id)
        .values(target_date=date(2027, 12, 31))
    )
    db.session.commit()
    db.session.expire_all()
    assert not services.verify(db.session.get(TreatmentPlan, plan.id))

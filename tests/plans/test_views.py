"""The plan pages over HTTP: writing, signing, reviewing, reading old versions, permissions."""

import difflib
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.plans import ObjectiveStatus, PlanStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.plans import services
from casemgr.plans.models import PlanIntervention, TreatmentPlan
from tests.clients_helpers import admitted
from tests.conftest import version_on
from tests.factories import PASSWORD
from tests.plans.helpers import draft_plan, frozen, signed_plan


@pytest.fixture
def counselor(make):
    return make.user(Role.COUNSELOR, credentials="LADC", full_name="Casey Counselor")


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER)


@pytest.fixture
def episode(manager, counselor):
    return admitted(manager, counselor, Phase.REHAB)[1]


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def test_a_counselor_writes_and_signs_a_plan(client, auth, episode, counselor):
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/plans/episode/{episode.id}/new")
        plan = db.session.scalar(sa.select(TreatmentPlan))
        assert resp.status_code == 302 and resp.location == f"/plans/{plan.id}/edit"
        editor = client.get(resp.location).text
        strengths = {"strengths": "Employed; sister nearby.", "version": version_on(editor)}
        assert client.post(f"/plans/{plan.id}/edit", data=strengths).status_code == 302
        client.post(f"/plans/{plan.id}/problems/new", data={"statement": "Opioid use disorder"})
        problem = plan.problems[0]
        client.post(
            f"/plans/{plan.id}/problem/{problem.id}/add", data={"statement": "Stay abstinent"}
        )
        goal = problem.goals[0]
        resp = client.post(
            f"/plans/{plan.id}/goal/{goal.id}/add",
            data={
                "statement": "Name 3 triggers",
                "target_date": "2026-12-20",
                "status": "not_started",
            },
        )
        objective = goal.objectives[0]
        assert resp.location == f"/plans/{plan.id}/edit#objective-{objective.id}"
        client.post(
            f"/plans/{plan.id}/objective/{objective.id}/add",
            data={"modality": "Individual CBT", "frequency": "weekly", "responsible": counselor.id},
        )
        client.post(
            f"/plans/{plan.id}/objective/{objective.id}/edit",
            data={
                "statement": "Name 3 triggers",
                "target_date": "2026-12-20",
                "status": "in_progress",
            },
        )
        editor = client.get(f"/plans/{plan.id}/edit").text
        assert (
            "Stay abstinent" in editor
            and "Individual CBT — weekly; Casey Counselor, LADC" in editor
        )

        wrong = client.post(
            f"/plans/{plan.id}/sign",
            data={
                "password": "not my password",
                "client_agreed": "y",
                "client_agreed_on": "2026-11-25",
            },
        )
        assert wrong.status_code == 200 and "password is not correct" in wrong.text
        db.session.refresh(plan)
        assert plan.status is PlanStatus.DRAFT

        resp = client.post(
            f"/plans/{plan.id}/sign",
            data={"password": PASSWORD, "client_agreed": "y", "client_agreed_on": "2026-11-24"},
        )
        assert resp.status_code == 302 and resp.location == f"/plans/episode/{episode.id}"
        page = client.get(resp.location).text
    db.session.refresh(plan)
    assert plan.status is PlanStatus.SIGNED and plan.review_due_on == date(2026, 12, 25)
    assert plan.signed_at == datetime(2026, 11, 25, 15, tzinfo=UTC)
    assert objective.status is ObjectiveStatus.IN_PROGRESS
    assert "Content verified" in page and "Signed — locked" in page
    assert "Casey Counselor, LADC" in page and "Agreed on 2026-11-24" in page
    assert '<span class="badge ">In progress</span>' in page
    assert "Start review (new version)" in page
    assert len(events("plan.viewed")) >= 1


def test_form_errors_sit_next_to_the_field(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor)
    goal = plan.problems[0].goals[0]
    with frozen():
        auth.login(counselor)
        resp = client.post(
            f"/plans/{plan.id}/goal/{goal.id}/add",
            data={"statement": "", "target_date": "2026-10-01", "status": "achieved"},
        )
        assert resp.status_code == 200 and 'id="statement-error"' in resp.text
        resp = client.post(
            f"/plans/{plan.id}/goal/{goal.id}/add",
            data={"statement": "Too early", "target_date": "2026-10-01", "status": "achieved"},
        )
        assert 'id="target_date-error"' in resp.text and "before the admission date" in resp.text
        resp = client.post(
            f"/plans/{plan.id}/sign",
            data={"password": PASSWORD, "client_agreed": "y", "client_agreed_on": ""},
        )
        assert 'id="client_agreed_on-error"' in resp.text
    assert len(goal.objectives) == 1


def test_a_review_makes_version_2_and_version_1_stays_readable(client, auth, episode, counselor):
    v1 = signed_plan(episode, counselor)
    with frozen(datetime(2026, 12, 20, 15, tzinfo=UTC)):
        auth.login(counselor)
        resp = client.post(f"/plans/{v1.id}/review")
        v2 = db.session.scalar(sa.select(TreatmentPlan).where(TreatmentPlan.number == 2))
        assert resp.location == f"/plans/{v2.id}/edit"
        assert "Continue review (version 2)" in client.get(f"/plans/episode/{episode.id}").text
        objective = v2.problems[0].goals[0].objectives[0]
        client.post(
            f"/plans/{v2.id}/objective/{objective.id}/edit",
            data={
                "statement": objective.statement,
                "target_date": "2027-01-10",
                "status": "achieved",
            },
        )
        client.post(f"/plans/{v2.id}/sign", data={"password": PASSWORD})
        current = client.get(f"/plans/episode/{episode.id}").text
        old = client.get(f"/plans/{v1.id}").text
    db.session.refresh(v1)
    db.session.refresh(v2)
    assert v1.status is PlanStatus.SUPERSEDED and v2.status is PlanStatus.SIGNED
    assert v2.review_due_on == date(2027, 1, 19) and not v2.client_agreed
    assert "version 2" in current and "Achieved" in current and "Not recorded" in current
    assert f'href="/plans/{v1.id}"' in current
    assert "Superseded — locked" in old and "Not the version in force" in old
    assert "Not started" in old and "Content verified" in old


def test_a_signed_plan_cannot_be_changed_by_a_crafted_post(client, auth, episode, counselor):
    plan = signed_plan(episode, counselor)
    objective = plan.problems[0].goals[0].objectives[0]
    with frozen():
        auth.login(counselor)
        for url, data in [
            (
                f"/plans/{plan.id}/objective/{objective.id}/edit",
                {"statement": "x", "target_date": "2027-01-01", "status": "achieved"},
            ),
            (f"/plans/{plan.id}/objective/{objective.id}/remove", {}),
            (f"/plans/{plan.id}/problems/new", {"statement": "x"}),
            (f"/plans/{plan.id}/edit", {"strengths": "x"}),
            (f"/plans/{plan.id}/sign", {"password": PASSWORD}),
        ]:
            resp = client.post(url, data=data)
            assert resp.status_code == 302 and resp.location == f"/plans/{plan.id}", url
        assert "signed and locked" in client.get(f"/plans/{plan.id}").text
    db.session.expire_all()
    plan = db.session.get(TreatmentPlan, plan.id)
    assert services.verify(plan) and plan.strengths != "x" and len(plan.problems) == 1


def test_a_part_of_another_plan_is_not_found(client, auth, episode, counselor, manager):
    plan = draft_plan(episode, counselor)
    _, other_episode = admitted(manager, counselor, Phase.REHAB, legal_first_name="Other")
    other = draft_plan(other_episode, counselor)
    foreign = other.problems[0]
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/plans/{plan.id}/problem/{foreign.id}/edit", data={"statement": "x"})
    assert resp.status_code == 404


def test_an_altered_plan_shows_altered(client, auth, episode, counselor):
    plan = signed_plan(episode, counselor)
    intervention = plan.problems[0].goals[0].objectives[0].interventions[0]
    db.session.execute(
        sa.update(PlanIntervention)
        .where(PlanIntervention.id == intervention.id)
        .values(frequency="monthly")
    )
    db.session.commit()
    with frozen():
        auth.login(counselor)
        page = client.get(f"/plans/episode/{episode.id}").text
    assert "Content ALTERED" in page and "Content verified" not in page


def test_reading_a_plan_is_audited(client, auth, episode, counselor, make):
    plan = signed_plan(episode, counselor)
    supervisor = make.user(Role.SUPERVISOR)
    with frozen():
        auth.login(supervisor)
        assert client.get(f"/plans/{plan.id}").status_code == 200
    (viewed,) = events("plan.viewed")
    assert viewed.actor_id == supervisor.id and viewed.object_id == str(plan.id)
    assert viewed.client_id == episode.client_id


@pytest.mark.parametrize(
    "who, read, write",
    [
        ("primary", 200, 302),
        ("other_counselor", 404, 404),
        ("manager", 200, 403),
        ("supervisor", 200, 403),
        ("admin", 403, 403),
        ("nurse", 404, 403),
    ],
)
def test_permissions_per_role(client, auth, make, episode, counselor, who, read, write):
    plan = draft_plan(episode, counselor)
    user = {
        "primary": counselor,
        "other_counselor": make.user(Role.COUNSELOR),
        "manager": make.user(Role.CLINIC_MANAGER),
        "supervisor": make.user(Role.SUPERVISOR),
        "admin": make.user(Role.ADMIN),
        "nurse": make.user(Role.NURSE),
    }[who]
    with frozen():
        auth.login(user)
        page = client.get(f"/plans/episode/{episode.id}")
        assert page.status_code == read
        assert client.get(f"/plans/{plan.id}").status_code == read
        resp = client.post(f"/plans/{plan.id}/problems/new", data={"statement": "Added"})
        assert resp.status_code == write
        assert client.get(f"/plans/{plan.id}/edit").status_code == (200 if write == 302 else write)
    if read == 200:
        assert ("Edit draft" in page.text) is (write == 302)
    db.session.expire_all()
    added = len(db.session.get(TreatmentPlan, plan.id).problems)
    assert added == (2 if write == 302 else 1)
    if who == "other_counselor":
        assert events("authz.denied")


def test_a_closed_episode_plan_is_read_only(client, auth, make, manager, counselor):
    _, episode = admitted(manager, counselor, Phase.REHAB)
    plan = signed_plan(episode, counselor)
    episode.phase = Phase.DISCHARGED  # shortcut: the discharge form is tested elsewhere
    db.session.commit()
    with frozen():
        auth.login(counselor)
        page = client.get(f"/plans/episode/{episode.id}").text
        assert client.post(f"/plans/{plan.id}/review").status_code == 403
    assert "Start review" not in page and "Content verified" in page


def test_the_plan_page_uses_a_constant_number_of_queries(
    client, auth, make, manager, counselor, count_queries
):
    small = admitted(manager, counselor, Phase.REHAB)[1]
    big = admitted(manager, counselor, Phase.REHAB, legal_first_name="Big")[1]
    signed_plan(small, counselor)
    v1 = signed_plan(big, counselor, problems=3, goals=2, objectives=3)
    services.start_review(db.session, v1, actor=counselor)
    db.session.commit()
    with frozen():
        auth.login(counselor)
        client.get(f"/plans/episode/{small.id}")
        with count_queries() as few:
            client.get(f"/plans/episode/{small.id}")
        client.get(f"/plans/episode/{big.id}")
        with count_queries() as many:
            page = client.get(f"/plans/episode/{big.id}").text
    assert page.count('<tr id="objective-') == 18
    assert many.count == few.count, "\n".join(
        difflib.unified_diff(few.statements, many.statements, lineterm="")
    )

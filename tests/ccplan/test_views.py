"""The continuing-care plan pages over HTTP: writing, signing, revising, reading old versions,
errors next to their field, permissions, audit and a constant number of queries."""

import difflib

import pytest
import sqlalchemy as sa

from casemgr.aftercare import plans
from casemgr.aftercare.models import ContinuingCarePlan, LifeChange, PlanTrigger, SoberSupport
from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.plans import PlanStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.ccplan.helpers import FIELDS, draft_plan, frozen, signed_plan, sweep_ccplan
from tests.clients_helpers import NOW, admitted
from tests.conftest import csrf_token, version_on
from tests.factories import PASSWORD, Factories
from tests.policy_table import EXPECTED

PLAN_FORM = {
    "level_of_care": "1",
    "program": "group_therapy",
    "session_schedule": "Relapse-prevention group, Tuesdays 6 pm",
    "moud": "naltrexone",
    "moud_dose": "380 mg IM monthly",
    "moud_prescriber": "Dr. Pat Reyes",
    "emergency_plan": "Call Sam, then the clinic's 24-hour line.",
    "reengagement_plan": "Same-week appointment after any lapse.",
}
TRIGGER = {
    "trigger-category": "places",
    "trigger-description": "The bar on 5th Street",
    "trigger-risk": "3",
    "trigger-coping": "Take the long way home; call Sam",
}
SUPPORT = {
    "support-kind": "sponsor",
    "support-name": "Sam",
    "support-frequency": "daily call",
    "support-contact": "555-0100",  # typed, but the client did not consent
}
LIFE_CHANGE = {
    "life_change-area": "employment",
    "life_change-description": "New job away from co-workers who used",
    "life_change-status": "in_progress",
}


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


def rows() -> dict[str, int]:
    models = (ContinuingCarePlan, PlanTrigger, SoberSupport, LifeChange)
    return {
        m.__name__: db.session.scalar(sa.select(sa.func.count()).select_from(m)) for m in models
    }


def the_plan(number: int = 1) -> ContinuingCarePlan:
    return db.session.scalar(
        sa.select(ContinuingCarePlan).where(ContinuingCarePlan.number == number)
    )


def test_a_counselor_writes_and_signs_a_plan(client, auth, episode, counselor):
    with frozen():
        auth.login(counselor)
        assert "Start the plan" in client.get(f"/aftercare/plans/new/{episode.id}").text
        resp = client.post(f"/aftercare/plans/new/{episode.id}")
        plan = the_plan()
        assert resp.status_code == 302 and resp.location == f"/aftercare/plans/{plan.id}/edit"
        page = client.get(resp.location).text
        resp = client.post(
            f"/aftercare/plans/{plan.id}/edit", data={**PLAN_FORM, "version": version_on(page)}
        )
        assert resp.location == f"/aftercare/plans/{plan.id}"
        for kind, data in (
            ("trigger", TRIGGER),
            ("support", SUPPORT),
            ("life_change", LIFE_CHANGE),
        ):
            resp = client.post(f"/aftercare/plans/{plan.id}/{kind}", data=data)
            assert resp.status_code == 302 and f"#{kind}-" in resp.location, kind
        draft = client.get(f"/aftercare/plans/{plan.id}").text
        assert "Draft — not signed" in draft and "Sign version 1" in draft
        wrong = client.post(f"/aftercare/plans/{plan.id}/sign", data={"password": "nope"})
        assert wrong.status_code == 200 and 'id="password-error"' in wrong.text
        assert "password is not correct" in wrong.text
        assert the_plan().status is PlanStatus.DRAFT
        resp = client.post(f"/aftercare/plans/{plan.id}/sign", data={"password": PASSWORD})
        assert resp.status_code == 302 and resp.location == f"/aftercare/plans/{plan.id}"
        page = client.get(resp.location).text
    db.session.refresh(plan)
    assert plan.status is PlanStatus.SIGNED and plan.signed_at == NOW and plans.verify(plan)
    assert plan.supports[0].contact == "" and not plan.supports[0].contact_consent
    for shown in (
        "Signed — locked",
        "🔒",
        'Casey Counselor</bdi>, LADC on <span class="nowrap">2026-11-25 10:00</span>',
        "Content verified",
        "ASAM 1 — Outpatient Services",
        "Group therapy",
        "Naltrexone, 380 mg IM monthly; prescriber <bdi>Dr. Pat Reyes</bdi>",
        "The bar on 5th Street",
        '<span class="badge badge-danger">3 high</span>',
        "Take the long way home; call Sam",
        "Sponsor",
        "not recorded (no consent)",
        "New job away from co-workers who used",
        "Same-week appointment after any lapse.",
        "Revise (new version)",
    ):
        assert shown in page, shown
    assert "555-0100" not in page and "Sign version 1" not in page
    assert events("ccplan.signed") and events("ccplan.viewed")


def test_contact_details_show_with_consent(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor, supports=0)
    with frozen():
        auth.login(counselor)
        data = {**SUPPORT, "support-contact_consent": "y"}
        client.post(f"/aftercare/plans/{plan.id}/support", data=data)
        page = client.get(f"/aftercare/plans/{plan.id}").text
    assert "555-0100" in page and "no consent" not in page


@pytest.mark.parametrize("phase", [Phase.INTAKE, Phase.DETOX])
def test_a_plan_is_not_started_outside_rehab_and_aftercare(client, auth, manager, counselor, phase):
    _, episode = admitted(manager, counselor, phase)
    with frozen():
        auth.login(counselor)
        page = client.get(f"/aftercare/plans/new/{episode.id}")
        resp = client.post(f"/aftercare/plans/new/{episode.id}")
    for r in (page, resp):
        assert r.status_code == 200 and f"The client is in {phase.value}" in r.text
        assert "Start the plan" not in r.text
    assert rows()["ContinuingCarePlan"] == 0


def test_a_plan_starts_in_aftercare(client, auth, manager, counselor):
    _, episode = admitted(manager, counselor, Phase.AFTERCARE)
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/aftercare/plans/new/{episode.id}")
    assert resp.status_code == 302 and the_plan() is not None


def test_an_existing_draft_is_continued_not_duplicated(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor)
    with frozen():
        auth.login(counselor)
        for resp in (
            client.get(f"/aftercare/plans/new/{episode.id}"),
            client.post(f"/aftercare/plans/new/{episode.id}"),
        ):
            assert resp.status_code == 302 and resp.location == f"/aftercare/plans/{plan.id}"
        assert "already a draft" in client.get(f"/aftercare/plans/{plan.id}").text
    assert rows()["ContinuingCarePlan"] == 1


@pytest.mark.parametrize(
    "kind, data, field, words",
    [
        ("trigger", {**TRIGGER, "trigger-description": ""}, "trigger-description", "Describe it."),
        ("trigger", {**TRIGGER, "trigger-risk": "0"}, "trigger-risk", "Risk must be 1 (low)"),
        ("trigger", {**TRIGGER, "trigger-risk": "7"}, "trigger-risk", "Not a valid choice"),
        ("trigger", {**TRIGGER, "trigger-category": ""}, "trigger-category", "Choose a category"),
        ("support", {**SUPPORT, "support-name": " "}, "support-name", "Name the support."),
        ("support", {**SUPPORT, "support-kind": "pub"}, "support-kind", "Not a valid choice"),
        (
            "life_change",
            {**LIFE_CHANGE, "life_change-description": "a\x00b"},
            "life_change-description",
            "Remove control characters",
        ),
    ],
)
def test_a_refused_item_shows_the_error_next_to_the_field(
    client, auth, episode, counselor, kind, data, field, words
):
    plan = draft_plan(episode, counselor)
    before = rows()
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/aftercare/plans/{plan.id}/{kind}", data=data)
    assert resp.status_code == 200
    error = resp.text.split(f'id="{field}-error">', 1)[1].split("</p>", 1)[0]
    assert words in error
    assert "Old friends 1" in resp.text  # the plan page itself, re-rendered
    assert rows() == before


def test_a_refused_plan_edit_keeps_what_was_typed(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor)
    with frozen():
        auth.login(counselor)
        page = client.get(f"/aftercare/plans/{plan.id}/edit").text
        data = {**PLAN_FORM, "moud_dose": "", "session_schedule": "Thursdays"}
        resp = client.post(
            f"/aftercare/plans/{plan.id}/edit", data={**data, "version": version_on(page)}
        )
    assert resp.status_code == 200 and 'id="moud_dose-error"' in resp.text
    assert "Enter the dose" in resp.text and "Thursdays" in resp.text
    db.session.expire_all()
    assert plans.plan_fields(db.session.get(ContinuingCarePlan, plan.id)) == FIELDS


def test_an_unknown_kind_or_foreign_item_is_not_found(client, auth, episode, counselor, manager):
    plan = draft_plan(episode, counselor)
    _, other_episode = admitted(manager, counselor, Phase.REHAB, legal_first_name="Other")
    foreign = draft_plan(other_episode, counselor).triggers[0]
    with frozen():
        auth.login(counselor)
        assert client.post(f"/aftercare/plans/{plan.id}/problem", data={}).status_code == 404
        resp = client.post(f"/aftercare/plans/{plan.id}/trigger/{foreign.id}/remove")
        assert resp.status_code == 404
        resp = client.post(f"/aftercare/plans/{plan.id}/support/{plan.triggers[0].id}/remove")
        assert resp.status_code in (302, 404)
    assert rows()["PlanTrigger"] == 2


def test_items_are_removed_from_the_draft(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor, triggers=2)
    first = plan.triggers[0]
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/aftercare/plans/{plan.id}/trigger/{first.id}/remove")
    assert resp.location == f"/aftercare/plans/{plan.id}#triggers"
    assert db.session.get(PlanTrigger, first.id) is None and rows()["PlanTrigger"] == 1


def test_signing_says_what_is_missing(client, auth, episode, counselor):
    plan = draft_plan(episode, counselor, supports=0)
    with frozen():
        auth.login(counselor)
        page = client.get(f"/aftercare/plans/{plan.id}").text
        resp = client.post(f"/aftercare/plans/{plan.id}/sign", data={"password": PASSWORD})
    assert "Not ready to sign" in page and "at least one sober support" in page
    assert (
        resp.status_code == 200 and "Before signing, add at least one sober support." in resp.text
    )
    assert the_plan().status is PlanStatus.DRAFT


def test_a_signed_plan_cannot_be_changed_by_a_crafted_post(client, auth, episode, counselor):
    plan = signed_plan(episode, counselor)
    trigger = plan.triggers[0]
    before, digest = rows(), plan.content_sha256
    with frozen():
        auth.login(counselor)
        for method, url, data in [
            ("GET", f"/aftercare/plans/{plan.id}/edit", None),
            ("POST", f"/aftercare/plans/{plan.id}/edit", PLAN_FORM),
            ("POST", f"/aftercare/plans/{plan.id}/trigger", TRIGGER),
            ("POST", f"/aftercare/plans/{plan.id}/trigger/{trigger.id}/remove", {}),
            ("GET", f"/aftercare/plans/{plan.id}/sign", None),
            ("POST", f"/aftercare/plans/{plan.id}/sign", {"password": PASSWORD}),
        ]:
            resp = client.open(url, method=method, data=data)
            assert resp.status_code == 302 and resp.location == f"/aftercare/plans/{plan.id}", url
        assert "signed and locked" in client.get(f"/aftercare/plans/{plan.id}").text
    db.session.expire_all()
    plan = db.session.get(ContinuingCarePlan, plan.id)
    assert plans.verify(plan) and plan.content_sha256 == digest and rows() == before


def test_a_revision_makes_version_2_and_version_1_stays_readable(client, auth, episode, counselor):
    v1 = signed_plan(episode, counselor, triggers=2)
    lineages = [t.lineage for t in v1.triggers]
    with frozen():
        auth.login(counselor)
        assert (
            "Revise the continuing-care plan"
            in client.get(f"/aftercare/plans/new/{episode.id}").text
        )
        resp = client.post(f"/aftercare/plans/new/{episode.id}")
        v2 = the_plan(2)
        assert resp.location == f"/aftercare/plans/{v2.id}"
        assert "Continue revision (version 2)" in client.get(f"/aftercare/plans/{v1.id}").text
        client.post(f"/aftercare/plans/{v2.id}/trigger/{v2.triggers[0].id}/remove")
        client.post(f"/aftercare/plans/{v2.id}/trigger", data=TRIGGER)
        client.post(f"/aftercare/plans/{v2.id}/sign", data={"password": PASSWORD})
        current = client.get(f"/aftercare/plans/{v2.id}").text
        old = client.get(f"/aftercare/plans/{v1.id}").text
    db.session.refresh(v1)
    db.session.refresh(v2)
    assert v1.status is PlanStatus.SUPERSEDED and v2.status is PlanStatus.SIGNED
    assert v2.triggers[0].lineage == lineages[1] and v2.triggers[1].lineage not in lineages
    assert f'href="/aftercare/plans/{v1.id}"' in current and "The bar on 5th Street" in current
    assert "Superseded — locked" in old and "Not the version in force" in old
    assert "Old friends 1" in old and "Content verified" in old
    assert f'href="/aftercare/plans/{v2.id}"' in old


def test_reading_a_plan_is_audited(client, auth, episode, counselor, make):
    plan = signed_plan(episode, counselor)
    supervisor = make.user(Role.SUPERVISOR)
    with frozen():
        auth.login(supervisor)
        page = client.get(f"/aftercare/plans/{plan.id}").text
    (viewed,) = events("ccplan.viewed")
    assert viewed.actor_id == supervisor.id and viewed.object_id == str(plan.id)
    assert viewed.client_id == episode.client_id
    assert "Revise" not in page and "Content verified" in page


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
        page = client.get(f"/aftercare/plans/{plan.id}")
        assert page.status_code == read
        resp = client.post(f"/aftercare/plans/{plan.id}/trigger", data=TRIGGER)
        assert resp.status_code == write
        assert client.get(f"/aftercare/plans/{plan.id}/edit").status_code == (
            200 if write == 302 else write
        )
        new = client.get(f"/aftercare/plans/new/{episode.id}").status_code
        assert new == (302 if write == 302 else write)  # the draft exists: continue it
    if read == 200:
        assert ("Edit care, medication and plans" in page.text) is (write == 302)
        assert ("Add a trigger" in page.text) is (write == 302)
    assert rows()["PlanTrigger"] == (2 if write == 302 else 1)
    if who == "other_counselor":
        assert events("authz.denied")


def test_a_closed_episode_plan_is_read_only(client, auth, episode, counselor):
    plan = signed_plan(episode, counselor)
    episode.phase = Phase.DISCHARGED  # shortcut: the discharge form is tested elsewhere
    db.session.commit()
    with frozen():
        auth.login(counselor)
        page = client.get(f"/aftercare/plans/{plan.id}").text
        assert client.post(f"/aftercare/plans/new/{episode.id}").status_code == 403
    assert "Revise" not in page and "Content verified" in page


def test_the_plan_page_uses_a_constant_number_of_queries(
    client, auth, manager, counselor, count_queries
):
    small = draft_plan(admitted(manager, counselor, Phase.REHAB)[1], counselor)
    big_episode = admitted(manager, counselor, Phase.REHAB, legal_first_name="Big")[1]
    big = draft_plan(big_episode, counselor, triggers=5, supports=5, life_changes=5)
    with frozen():
        auth.login(counselor)
        client.get(f"/aftercare/plans/{small.id}")
        with count_queries() as few:
            client.get(f"/aftercare/plans/{small.id}")
        client.get(f"/aftercare/plans/{big.id}")
        with count_queries() as many:
            page = client.get(f"/aftercare/plans/{big.id}").text
    assert page.count('<tr id="trigger-') == 5 and page.count('<tr id="support-') == 5
    assert page.count('<tr id="life_change-') == 5
    assert many.count == few.count, "\n".join(
        difflib.unified_diff(few.statements, many.statements, lineterm="")
    )


def test_each_role_reaches_exactly_what_the_policy_allows(app, auth, make, role):
    """The route sweep of tests/test_policy.py, for this blueprint's endpoints."""
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR))
    values = {"episode_id": episode.id, **sweep_ccplan(episode)}
    auth.login(role)
    for rule in app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "ccplan":
            continue
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            resp = auth.client.open(url, method=method, data={})
            refused = role not in EXPECTED[rule.endpoint]
            assert (resp.status_code == 403) is refused, (role, method, url, resp.status_code)


def test_the_prefixed_add_forms_carry_their_token(app_factory):
    """The three add forms share a page, so their fields (and tokens) carry a prefix."""
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context(), frozen():
        counselor = Factories().user(Role.COUNSELOR)
        _, episode = admitted(Factories().user(Role.CLINIC_MANAGER), counselor, Phase.REHAB)
        plan = draft_plan(episode, counselor)
        client = app.test_client()
        token = csrf_token(client.get("/login").text)
        login = {"login": counselor.login, "password": PASSWORD, "csrf_token": token}
        assert client.post("/login", data=login).status_code == 302
        page = client.get(f"/aftercare/plans/{plan.id}").text
        assert 'name="trigger-csrf_token"' in page
        data = {**TRIGGER, "trigger-csrf_token": csrf_token(page)}
        resp = client.post(f"/aftercare/plans/{plan.id}/trigger", data=data)
        assert resp.status_code == 302
        assert client.post(f"/aftercare/plans/{plan.id}/trigger", data=TRIGGER).status_code == 400
        assert rows()["PlanTrigger"] == 2
        db.session.remove()

"""CSRF protection on every state-changing route (rows C-01, C-03), with CSRF switched on."""

import pytest
import sqlalchemy as sa

from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.ccplan.helpers import sweep_ccplan
from tests.clients_helpers import admitted
from tests.conftest import csrf_token
from tests.factories import PASSWORD, Factories
from tests.groups.helpers import sweep_rows
from tests.mar.helpers import sweep_order
from tests.notes.helpers import sweep_note
from tests.plans.helpers import sweep_plan

TABLES = (
    "users",
    "sites",
    "user_roles",
    "settings",
    "clients",
    "episodes",
    "phase_changes",
    "discharges",
    "caseload_assignments",
    "level_of_care_spans",
    "groups",
    "group_facilitators",
    "group_enrollments",
    "group_meetings",
    "drug_screens",
    "drug_screen_results",
    "withdrawal_assessments",
    "medical_clearances",
    "clinical_sessions",
    "notes",
    "note_reviews",
    "note_addenda",
    "treatment_plans",
    "plan_problems",
    "plan_goals",
    "plan_objectives",
    "plan_interventions",
    "drugs",
    "medication_orders",
    "medication_administrations",
    "continuing_care_plans",
    "plan_triggers",
    "sober_supports",
    "life_changes",
    "check_ins",
    "relapse_events",
    "aftercare_closures",
    "printed_reports",
    "report_batches",
    "consents",
    "disclosures",
    "emergency_accesses",
    "client_restrictions",
)


def snapshot() -> dict:
    return {t: db.session.execute(sa.text(f"SELECT * FROM {t}")).all() for t in TABLES}  # noqa: S608


@pytest.fixture
def csrf_client(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        admin = Factories().user(Role.ADMIN)
        target = Factories().user(Role.NURSE)
        db.session.commit()
        client = app.test_client()
        token = csrf_token(client.get("/login").text)
        resp = client.post(
            "/login", data={"login": admin.login, "password": PASSWORD, "csrf_token": token}
        )
        assert resp.status_code == 302
        yield app, client, target
        db.session.remove()


def test_login_without_a_token_is_refused(app_factory):
    app = app_factory(WTF_CSRF_ENABLED=True)
    with app.app_context():
        user = Factories().user(Role.NURSE)
        db.session.commit()
        resp = app.test_client().post("/login", data={"login": user.login, "password": PASSWORD})
        assert resp.status_code == 400 and "security token" in resp.text
        db.session.remove()


def test_every_post_route_refuses_a_missing_token(csrf_client):
    app, client, target = csrf_client
    _, episode = admitted(Factories().user(Role.CLINIC_MANAGER), Factories().user(Role.COUNSELOR))
    groups = sweep_rows(episode)
    note = sweep_note(episode)
    plan = sweep_plan(episode)
    order = sweep_order()
    care = sweep_ccplan(episode)
    site = Factories().site()
    db.session.commit()
    before = snapshot()
    posts = [r for r in app.url_map.iter_rules() if "POST" in r.methods and r.endpoint != "static"]
    assert len(posts) >= 7
    for rule in posts:
        values = {
            "user_id": target.id,
            "action": "deactivate",
            "client_id": episode.client_id,
            "episode_id": episode.id,
            **groups,
            "note_id": note.id,
            "order_id": order.id,
            "check_in_id": 1,
            "screen_id": 1,
            "assessment_id": 1,
            "dose_id": 1,
            "relapse_id": 1,
            "batch_id": 1,
            "report_id": 1,
            "consent_id": 1,
            "access_id": 1,
            "restriction_id": 1,
            "site_id": site.id,
            **(care if rule.endpoint.startswith("ccplan.") else plan),
        }
        with app.test_request_context():
            url = app.url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})
        resp = client.post(
            url,
            data={
                "full_name": "Changed",
                "roles": ["admin"],
                "facility_name": "Changed",
                "password": "x" * 30,
                "confirm": "x" * 30,
            },
        )
        assert resp.status_code == 400, url
    db.session.expire_all()
    assert snapshot() == before
    assert client.get("/home/admin").status_code == 200  # logout without a token did not sign out


def test_a_token_from_another_session_is_refused(csrf_client, app_factory):
    app, client, target = csrf_client
    other = app.test_client()
    foreign = csrf_token(other.get("/login").text)
    resp = client.post(f"/admin/staff/{target.id}/deactivate", data={"csrf_token": foreign})
    assert resp.status_code == 400


def test_forms_carry_tokens_and_tokens_never_appear_in_urls(csrf_client):
    app, client, target = csrf_client
    page = client.get(f"/admin/staff/{target.id}").text
    assert 'name="csrf_token"' in page
    assert "csrf_token=" not in page
    resp = client.post(f"/admin/staff/{target.id}/unlock", data={"csrf_token": csrf_token(page)})
    assert resp.status_code == 302 and "csrf" not in resp.headers["Location"]

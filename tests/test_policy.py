"""Authorisation: every route is guarded, and each role reaches exactly what the reviewed
table allows (security matrix Z-01)."""

import pytest
import sqlalchemy as sa

from casemgr import policy
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.policy import Perm, can, scoped
from tests.ccplan.helpers import sweep_ccplan
from tests.clients_helpers import admitted
from tests.groups.helpers import SWEEP_ARGS, sweep_rows
from tests.mar.helpers import sweep_order
from tests.notes.helpers import sweep_note
from tests.plans.helpers import sweep_plan
from tests.policy_table import EXPECTED, PUBLIC
from tests.screens.helpers import recorded

# Values for URL parts that need no row: a missing one answers 404 to those allowed through.
URL_VALUES = {
    "action": "unlock",
    "check_in_id": 1,
    "assessment_id": 1,
    "dose_id": 1,
    "relapse_id": 1,
    "figure": "discharges",
    "batch_id": 1,
    "report_id": 1,
    "consent_id": 1,
    "access_id": 1,
    "restriction_id": 1,
    "site_id": 1,
}


def routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_endpoint_is_public_or_guarded(app):
    for endpoint, view in app.view_functions.items():
        if endpoint != "static":
            assert getattr(view, "is_public", False) or hasattr(view, "required_perm"), endpoint


def test_every_endpoint_has_a_reviewed_policy(app):
    assert {r.endpoint for r, _ in routes(app)} == set(EXPECTED)


def build_url(
    app, rule, role, target, episode=None, screen=None, note=None, plan=None, order=None, care=None
):
    if rule.endpoint.startswith("ccplan."):  # its plan_id and kind name a continuing-care plan
        plan = care or {"plan_id": 1, "kind": "trigger", "item_id": 1}
    values = {
        "user_id": target.id,
        "role": role.value,
        "client_id": getattr(episode, "client_id", 1),
        "episode_id": getattr(episode, "id", 1),
        "screen_id": getattr(screen, "id", 1),
        "note_id": getattr(note, "id", 1),
        "order_id": getattr(order, "id", 1),
        **(plan or {"plan_id": 1, "kind": "problem", "part_id": 1}),
        "item_id": (plan or {}).get("item_id", 1),
        **(sweep_rows(episode) if SWEEP_ARGS & rule.arguments else {}),
        **URL_VALUES,
    }
    with app.test_request_context():
        return app.url_for(rule.endpoint, **{k: values[k] for k in rule.arguments})


def test_each_role_reaches_exactly_what_the_policy_allows(app, auth, make, role):
    target, user = make.user(Role.NURSE), make.user(role)
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR))
    screen = recorded(episode, make.user(Role.NURSE))
    note = sweep_note(episode)
    plan = sweep_plan(episode)
    order = sweep_order(user)  # a verbal order a physician signed in here may co-sign
    care = sweep_ccplan(episode)
    auth.login(user)
    client = auth.client
    for rule, method in routes(app):
        allowed = EXPECTED[rule.endpoint]
        if allowed == PUBLIC or rule.endpoint == "auth.logout":
            continue
        url = build_url(app, rule, role, target, episode, screen, note, plan, order, care)
        resp = client.open(url, method=method, data={})
        if role in allowed:
            assert resp.status_code != 403, (role, method, url)
        else:
            assert resp.status_code == 403, (role, method, url)
            assert "Not allowed" in resp.text


def test_refusals_are_audited(client, auth):
    auth.login(Role.NURSE)
    client.get("/admin/staff")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "authz.denied"))
    assert event is not None and "admin.staff_list" in event.detail


def test_anonymous_users_reach_only_public_pages(app, client, make):
    target = make.user(Role.NURSE)
    for rule, method in routes(app):
        url = build_url(app, rule, Role.NURSE, target)
        resp = client.open(url, method=method, data={})
        if EXPECTED[rule.endpoint] == PUBLIC:
            assert resp.status_code in (200, 302, 400), url
        else:
            assert resp.status_code == 302 and resp.headers["Location"].startswith("/login"), (
                method,
                url,
            )


def test_home_page_of_a_role_you_do_not_hold_is_refused(client, auth):
    auth.login(Role.COUNSELOR)
    assert client.get("/home/counselor").status_code == 200
    assert client.get("/home/nurse").status_code == 403
    assert client.get("/home/no-such-role").status_code == 404


def test_multi_role_staff_get_the_union_of_their_grants(client, make, auth):
    user = make.user(Role.NURSE, Role.CLINIC_MANAGER)
    auth.login(user)
    assert client.get("/").headers["Location"] == "/home/nurse"
    assert client.get("/home/clinic_manager").status_code == 200
    assert client.get("/audit/").status_code == 200


def test_can_denies_inactive_and_anonymous_users(make):
    admin = make.user(Role.ADMIN)
    assert can(admin, Perm.STAFF_MANAGE)
    admin.active = False
    assert not can(admin, Perm.STAFF_MANAGE)
    assert not can(None, Perm.HOME_VIEW)


def test_object_rules_deny_without_a_target(make):
    nurse = make.user(Role.NURSE)
    assert not can(nurse, Perm.ROLE_HOME)
    assert can(nurse, Perm.ROLE_HOME, Role.NURSE)


def test_scoped_queries_return_nothing_without_the_permission(make, monkeypatch):
    admin, nurse = make.user(Role.ADMIN), make.user(Role.NURSE)
    stmt = sa.select(User.id)
    assert len(db.session.scalars(scoped(stmt, Perm.STAFF_MANAGE, admin)).all()) == 2
    assert db.session.scalars(scoped(stmt, Perm.STAFF_MANAGE, nurse)).all() == []
    # A scope rule narrows the rows for those who hold the permission.
    monkeypatch.setitem(policy.SCOPES, Perm.STAFF_MANAGE, lambda user: User.id == user.id)
    assert db.session.scalars(scoped(stmt, Perm.STAFF_MANAGE, admin)).all() == [admin.id]


@pytest.mark.parametrize("path", ["casemgr/auth", "casemgr/admin", "casemgr/audit", "casemgr/home"])
def test_no_view_or_template_checks_role_names_by_hand(path):
    """Decisions go through policy.can(); a role name in an `if` is a second, drifting policy."""
    import pathlib
    import re

    for file in pathlib.Path(path).glob("views.py"):
        assert not re.search(
            r"\bif\b[^\n]*(Role\.\w+ (not )?in\b|\bin [\w.]*\.roles\b|primary_role ==)",
            file.read_text(),
        ), file
    for file in pathlib.Path("templates").rglob("*.html"):
        assert not re.search(
            r"{%-?\s*(if|elif)\b[^%]*(current_user\.roles|Role\.)", file.read_text()
        ), file

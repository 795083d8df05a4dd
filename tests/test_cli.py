"""The command line: create-admin, demo, audit verify."""

import stat

import sqlalchemy as sa

from casemgr import demo
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db

GOOD = "an administrator passphrase that is long"


def test_create_admin_reads_the_password_from_stdin(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss", "--full-name", "Pat Boss"], input=GOOD + "\n"
    )
    assert result.exit_code == 0, result.output
    user = db.session.scalar(sa.select(User).where(User.login == "boss"))
    assert user.roles == {Role.ADMIN} and not user.must_change_password
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "users.created"))
    assert event.actor_login.startswith("cli:")
    assert GOOD not in result.output


def test_create_admin_refuses_weak_passwords_and_writes_nothing(app, runner):
    result = runner.invoke(
        args=["create-admin", "boss", "--full-name", "Pat Boss"], input="password\n"
    )
    assert result.exit_code != 0 and "at least 15" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0


def test_create_admin_has_no_password_option(app, runner):
    result = runner.invoke(args=["create-admin", "boss", "--full-name", "X", "--password", GOOD])
    assert result.exit_code != 0


def test_demo_loads_every_role_with_one_password(app, runner):
    result = runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    assert result.exit_code == 0, result.output
    users = db.session.scalars(sa.select(User)).all()
    logins = {u.login for u in users}
    assert {
        "demo-admin",
        "demo-manager",
        "demo-counselor",
        "demo-nurse",
        "demo-physician",
        "demo-supervisor",
    } <= logins
    assert {r for u in users for r in u.roles} == set(Role)
    assert all(u.login.startswith("demo-") for u in users)


def test_demo_shows_a_banner_on_every_page(app, client, runner):
    runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    assert "DEMO" in client.get("/login").text
    client.post("/login", data={"login": "demo-nurse", "password": "demo passphrase for everyone"})
    page = client.get("/home/nurse")
    assert "DEMO" in page.text and demo.DEMO_FACILITY in page.text


def test_no_banner_without_demo_data(client):
    assert "DEMO" not in client.get("/login").text


def test_demo_generates_and_prints_a_password_once(app, runner):
    result = runner.invoke(args=["demo"])
    assert result.exit_code == 0
    path = app.instance_path + "/demo_password"
    password = open(path).read().strip()
    assert password in result.output and len(password) >= 15
    assert stat.S_IMODE(__import__("os").stat(path).st_mode) == 0o600


def test_demo_refuses_a_database_with_real_data(app, runner, make):
    make.user(Role.NURSE, login="real-nurse")
    db.session.commit()
    result = runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    assert result.exit_code != 0 and "real staff" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 1


def test_demo_refuses_to_load_twice(app, runner):
    runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    result = runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    assert result.exit_code != 0 and "already loaded" in result.output


def test_demo_documents_every_state_through_the_services(app, client, runner):
    from casemgr.domain.notes import NoteStatus
    from casemgr.groups.models import GroupMeeting
    from casemgr.notes.models import Note
    from casemgr.plans.models import TreatmentPlan
    from casemgr.screens.models import DrugScreen

    assert runner.invoke(args=["demo", "--password", "demo passphrase for everyone"]).exit_code == 0
    statuses = [(n.status, n.needs_cosign) for n in db.session.scalars(sa.select(Note))]
    assert (NoteStatus.DRAFT, False) in statuses and (NoteStatus.SIGNED, True) in statuses
    assert sum(1 for s, _ in statuses if s is NoteStatus.SIGNED) >= 4  # individual + group lines
    assert db.session.scalar(sa.select(TreatmentPlan)).status == "signed"
    assert db.session.scalar(sa.select(sa.func.count(DrugScreen.id))) == 3
    assert db.session.scalar(sa.select(GroupMeeting)).topic == "Refusal skills"
    assert runner.invoke(args=["audit", "verify"]).output.startswith("ok")
    client.post(
        "/login", data={"login": "demo-supervisor", "password": "demo passphrase for everyone"}
    )
    assert (
        "Demo-Delacroix" in client.get("/home/supervisor").text
    )  # a note waiting for co-signature


def test_demo_runs_a_detox_shift_through_the_services(app, runner):
    from casemgr.detox.models import WithdrawalAssessment
    from casemgr.mar.models import MedicationAdministration, MedicationOrder

    assert runner.invoke(args=["demo", "--password", "demo passphrase for everyone"]).exit_code == 0
    count = lambda model: db.session.scalar(sa.select(sa.func.count()).select_from(model))  # noqa: E731
    assert count(WithdrawalAssessment) >= 5
    orders = list(db.session.scalars(sa.select(MedicationOrder)))
    assert any(o.awaiting_cosign for o in orders)  # a verbal order for the physician's home page
    given = list(db.session.scalars(sa.select(MedicationAdministration)))
    assert given and all(a.witness_id not in (None, a.nurse_id) for a in given)

"""The command line: create-admin, demo (with its TOTP seed), audit verify."""

import stat
from pathlib import Path

import pytest
import sqlalchemy as sa

from casemgr import demo
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.factories import TOTP_SEED

GOOD = "an administrator passphrase that is long"
# The test client types codes for this seed at sign-in (tests/conftest.py).
FACTORY_SEED = ["--totp-seed", TOTP_SEED]


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
    runner.invoke(args=["demo", "--password", "demo passphrase for everyone", *FACTORY_SEED])
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

    args = ["demo", "--password", "demo passphrase for everyone", *FACTORY_SEED]
    assert runner.invoke(args=args).exit_code == 0
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


DEMO_SEED = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"


def test_demo_totp_seed_sets_up_two_factor_for_every_demo_login(app, runner):
    from casemgr.auth import totp, two_factor

    result = runner.invoke(
        args=["demo", "--password", "demo passphrase for everyone", "--totp-seed", DEMO_SEED]
    )
    assert result.exit_code == 0, result.output
    users = db.session.scalars(sa.select(User)).all()
    assert users and all(two_factor.enabled(u) for u in users)
    assert {totp.unseal(u.totp_secret) for u in users} == {DEMO_SEED}
    assert DEMO_SEED not in {u.totp_secret for u in users}  # sealed at rest
    assert not (Path(app.instance_path) / "demo_totp_seed").exists()  # given, not generated


def test_demo_logins_sign_in_with_a_code_from_the_seed(app, runner):
    from casemgr.auth import totp
    from casemgr.orm import utcnow

    runner.invoke(
        args=["demo", "--password", "demo passphrase for everyone", "--totp-seed", DEMO_SEED]
    )
    client = app.test_client()
    client.answer_second_factor = False
    resp = client.post(
        "/login", data={"login": "demo-nurse", "password": "demo passphrase for everyone"}
    )
    assert resp.headers["Location"] == "/login/code"
    code = totp.code_at(DEMO_SEED, totp.step_at(utcnow()))
    assert client.post("/login/code", data={"code": code}).headers["Location"] == "/"
    assert client.get("/home/nurse").status_code == 200


def test_demo_generates_and_prints_a_totp_seed_once(app, runner):
    from casemgr.auth import totp

    result = runner.invoke(args=["demo", "--password", "demo passphrase for everyone"])
    assert result.exit_code == 0, result.output
    path = Path(app.instance_path) / "demo_totp_seed"
    seed = path.read_text().strip()
    assert totp.seed_problem(seed) is None and f"setup key {seed}" in result.output
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    user = db.session.scalar(sa.select(User).where(User.login == "demo-admin"))
    assert totp.unseal(user.totp_secret) == seed


@pytest.mark.parametrize("seed", ["JBSWY3DPEHPK3PXP", "not a base32 seed!!"])
def test_demo_refuses_an_unusable_totp_seed_and_writes_nothing(app, runner, seed):
    result = runner.invoke(
        args=["demo", "--password", "demo passphrase for everyone", "--totp-seed", seed]
    )
    assert result.exit_code != 0 and "TOTP seed" in result.output
    assert db.session.scalar(sa.select(sa.func.count(User.id))) == 0

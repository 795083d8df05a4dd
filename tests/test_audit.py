"""The audit trail: what is recorded, that it cannot be changed, and that tampering is found
(security matrix U-01 to U-05)."""

import threading

import pytest
import sqlalchemy as sa

from casemgr.audit import services
from casemgr.audit.hooks import record
from casemgr.audit.models import AuditChainHead, AuditEvent
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.clients_helpers import admitted
from tests.databases import backend
from tests.factories import PASSWORD


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def tamper(sql: str, **params) -> None:
    """Change the trail behind the application's back, as someone with file or superuser
    access could: the append-only triggers are bypassed first."""
    db.session.commit()
    with db.engine.begin() as conn:
        if backend() == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_update")
            conn.exec_driver_sql("DROP TRIGGER IF EXISTS audit_events_no_delete")
        else:
            conn.exec_driver_sql("ALTER TABLE audit_events DISABLE TRIGGER USER")
        conn.execute(sa.text(sql), params)


def some_events(n: int) -> None:
    for i in range(n):
        record(db.session, "test.event", detail={"i": i})
    db.session.commit()


def test_normal_use_is_recorded_and_verifies(client, auth, runner):
    user = auth.login(Role.ADMIN)
    client.post("/admin/settings", data={"facility_name": "Somewhere Else"})
    client.post("/logout")
    client.post("/login", data={"login": user.login, "password": "wrong password entirely here"})
    got = actions()
    for expected in (
        "users.created",
        "auth.login",
        "settings.created",
        "auth.logout",
        "auth.login_failed",
    ):
        assert expected in got
    result = runner.invoke(args=["audit", "verify"])
    assert result.exit_code == 0 and result.output.startswith("ok")


def test_every_sign_in_is_in_the_trail_with_who_and_where(client, auth):
    user = auth.login(Role.NURSE)
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "auth.login"))
    assert event.actor_id == user.id and event.actor_login == user.login
    assert event.remote_addr == "127.0.0.1" and event.request_id
    assert event.at.tzinfo is not None


def test_model_changes_record_field_names_but_not_clinical_values(make):
    user = make.user(Role.NURSE, full_name="Private Name")
    db.session.commit()
    created = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "users.created"))
    assert "full_name" in created.detail and "Private Name" not in created.detail
    user.full_name = "Another Name"
    db.session.commit()
    updated = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "users.updated"))
    assert '"fields":["full_name"]' in updated.detail and "Another Name" not in updated.detail


def test_audit_rows_cannot_be_updated_or_deleted(app):
    some_events(3)
    event = db.session.get(AuditEvent, 2)
    event.action = "forged"
    with pytest.raises(sa.exc.DBAPIError):
        db.session.commit()
    db.session.rollback()
    for sql in (
        "UPDATE audit_events SET action = 'x' WHERE seq = 1",
        "DELETE FROM audit_events WHERE seq = 1",
    ):
        with pytest.raises(sa.exc.DBAPIError):
            with db.engine.begin() as conn:
                conn.exec_driver_sql(sql)
    assert db.session.get(AuditEvent, 1).action == "test.event"


@pytest.mark.skipif(backend() != "postgresql", reason="TRUNCATE is PostgreSQL only")
def test_audit_table_cannot_be_truncated(app):
    some_events(2)
    with pytest.raises(sa.exc.DBAPIError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("TRUNCATE audit_events")


@pytest.mark.parametrize(
    ("sql", "bad_seq"),
    [
        ("UPDATE audit_events SET actor_login = 'someone' WHERE seq = 5", 5),
        ("UPDATE audit_events SET detail = '{}' WHERE seq = 7", 7),
        ("DELETE FROM audit_events WHERE seq = 4", 4),
        ("DELETE FROM audit_events WHERE seq > 8", 9),
        ("UPDATE audit_events SET at = at WHERE seq = 1", None),  # a no-op update is not tampering
    ],
)
def test_tampering_in_sql_is_found_and_located(app, runner, sql, bad_seq):
    some_events(10)
    tamper(sql)
    result = runner.invoke(args=["audit", "verify"])
    if bad_seq is None:
        assert result.exit_code == 0
    else:
        assert result.exit_code == 1
        assert f"broken at seq {bad_seq}" in result.output


def test_a_forged_row_is_found(app):
    some_events(3)
    row = (
        db.session.execute(sa.select(AuditEvent.__table__).where(AuditEvent.seq == 3))
        .mappings()
        .one()
    )
    tamper(
        "INSERT INTO audit_events (seq, at, action, detail, prev_hash, hash) "
        "VALUES (4, :at, 'auth.login', '{}', :prev, :hash)",
        at=row["at"].replace(tzinfo=None) if backend() == "sqlite" else row["at"],
        prev=row["hash"],
        hash="f" * 64,
    )
    report = services.verify(db.session)
    assert not report.ok and report.first_bad_seq == 4


def test_audit_write_failure_rolls_back_the_change(client, auth, monkeypatch):
    """Fail closed (U-02): no change is committed without its audit row."""
    auth.login(Role.ADMIN)
    import casemgr.audit.hooks as hooks

    def broken(*args, **kwargs):
        raise sa.exc.OperationalError("INSERT INTO audit_events", {}, Exception("disk full"))

    monkeypatch.setattr(hooks, "_append", broken)
    resp = client.post("/admin/settings", data={"facility_name": "Never Saved"})
    assert resp.status_code == 503
    monkeypatch.undo()
    db.session.rollback()
    assert "Never Saved" not in client.get("/admin/settings").text


def test_concurrent_appends_never_fork_the_chain(app_factory, database_url):
    """Several threads, each its own connection and transaction (U-05)."""
    app = app_factory()
    errors = []

    def worker(n):
        try:
            with app.app_context():
                for i in range(15):
                    record(db.session, "test.concurrent", detail={"worker": n, "i": i})
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with app.app_context():
        seqs = list(db.session.scalars(sa.select(AuditEvent.seq).order_by(AuditEvent.seq)))
        prevs = list(db.session.scalars(sa.select(AuditEvent.prev_hash)))
        assert len(seqs) >= 90 and seqs == list(range(1, len(seqs) + 1))
        assert len(set(prevs)) == len(prevs)
        assert services.verify(db.session).ok
        assert db.session.get(AuditChainHead, 1).last_seq == len(seqs)
        db.session.remove()


def test_browse_and_filter_the_trail(app, client, auth, make):
    admin = auth.login(Role.ADMIN)
    nurse = make.user(Role.NURSE)
    db.session.commit()
    app.test_client().post(
        "/login", data={"login": nurse.login, "password": "wrong wrong wrong wrong"}
    )
    page = client.get("/audit/")
    assert page.status_code == 200 and "<code>auth.login_failed</code>" in page.text
    only_failed = client.get("/audit/?action=auth.login_failed")
    assert "<code>auth.login_failed</code>" in only_failed.text
    assert "<code>users.created</code>" not in only_failed.text
    by_admin = client.get(f"/audit/?actor={admin.login}&action=auth.login_failed")
    assert "<code>auth.login_failed</code>" not in by_admin.text
    assert client.get("/audit/?action=DROP TABLE").status_code == 400
    assert client.get("/audit/?since=2026-02-30").status_code == 400
    assert client.get("/audit/?since=2026-05-02&until=2026-05-01").status_code == 400


def test_managers_browse_the_trail_and_see_verification(client, auth):
    auth.login(Role.CLINIC_MANAGER)
    page = client.get("/audit/verify")
    assert page.status_code == 200 and "OK" in page.text


def test_audit_pages_use_a_constant_number_of_queries(client, auth, count_queries):
    auth.login(Role.ADMIN)
    some_events(5)
    client.get("/audit/")
    with count_queries() as few:
        client.get("/audit/")
    some_events(60)
    with count_queries() as many:
        resp = client.get("/audit/?page=2")
    assert resp.status_code == 200
    assert many.count == few.count


def test_paging_through_the_trail(client, auth):
    auth.login(Role.ADMIN)
    some_events(70)
    first = client.get("/audit/")
    assert "Older" in first.text and "Newer" not in first.text
    second = client.get("/audit/?page=2")
    assert "Newer" in second.text


def test_cli_head_prints_the_chain_head(app, runner):
    some_events(2)
    head = db.session.get(AuditChainHead, 1)
    result = runner.invoke(args=["audit", "head"])
    assert result.output.strip() == f"{head.last_seq} {head.last_hash}"


def test_password_not_in_trail(client, auth):
    auth.login(Role.NURSE)
    details = " ".join(db.session.scalars(sa.select(AuditEvent.detail)))
    assert PASSWORD not in details


def test_created_events_name_the_new_row(make):
    """U-01: an insert's event carries the row's id, so the trail can be joined to it."""
    client, _episode = admitted(make.user(Role.CLINIC_MANAGER))
    db.session.commit()
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "clients.created"))
    assert event.object_id == str(client.id) and event.client_id == client.id
    blank = db.session.scalars(
        sa.select(AuditEvent.action).where(
            AuditEvent.action.like("%.created"), sa.func.coalesce(AuditEvent.object_id, "") == ""
        )
    ).all()
    assert blank == []


def test_rows_removed_by_a_delete_orphan_cascade_leave_an_event(make):
    """U-01: removing a child from its parent's collection deletes it in the flush; that
    delete is recorded like any other."""
    client, _episode = admitted(make.user(Role.CLINIC_MANAGER))
    db.session.commit()
    substance = client.substances[0]
    gone_id = str(substance.id)
    client.substances.remove(substance)
    db.session.commit()
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "client_substances.deleted")
    )
    assert event is not None and event.object_id == gone_id and event.client_id == client.id

"""SQLite transactions: requests that only read run beside the writer (plain BEGIN); anything
that writes takes the write lock first (BEGIN IMMEDIATE). See casemgr/sqlite_setup.py."""

import sqlite3
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.engine import make_url

from casemgr import sqlite_setup
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import UserSession
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.clients_helpers import intake_form
from tests.databases import backend

pytestmark = pytest.mark.skipif(backend() != "sqlite", reason="SQLite transactions")

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def statements(app):
    seen: list[str] = []

    def trace(_conn, _cursor, statement, *_rest):
        seen.append(statement.split()[0].upper() + " " + " ".join(statement.split()[1:3]))

    sa.event.listen(db.engine, "before_cursor_execute", trace)
    yield seen
    sa.event.remove(db.engine, "before_cursor_execute", trace)


def signed_in(auth, role: Role):
    """Sign in, then end the test's own transaction: tests share one session with the
    requests they make, and a request would otherwise carry on in the test's transaction."""
    user = auth.login(role)
    db.session.rollback()
    return user


def begins(seen: list[str]) -> list[str]:
    return [s.strip() for s in seen if s.startswith("BEGIN")]


def test_a_read_request_begins_deferred_and_a_write_request_takes_the_lock(
    frozen, auth, client, statements
):
    counselor = signed_in(auth, Role.COUNSELOR)
    statements.clear()
    assert client.get("/home/counselor").status_code == 200
    assert begins(statements) == ["BEGIN"]
    assert not [s for s in statements if s.startswith(("INSERT", "UPDATE", "DELETE"))]

    statements.clear()
    resp = client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    assert resp.status_code == 302
    assert set(begins(statements)) == {"BEGIN IMMEDIATE"}


def test_pages_answer_while_another_connection_holds_the_write_lock(
    frozen, app_factory, statements
):
    """With BEGIN IMMEDIATE for every transaction a page waited out the busy timeout behind
    any writer and failed with 503 'database is locked'."""
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=200)
    with app.app_context():
        from tests.conftest import Auth
        from tests.factories import Factories

        client = app.test_client()
        Auth(client, Factories()).login(Role.COUNSELOR)
        db.session.commit()
        writer = sqlite3.connect(make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database)
        writer.isolation_level = None
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE settings SET value = value")
        try:
            assert client.get("/home/counselor").status_code == 200
            assert client.get("/clients/").status_code == 200
        finally:
            writer.execute("ROLLBACK")
            writer.close()


def test_a_chart_view_writes_its_audit_event_under_the_write_lock(frozen, auth, client, statements):
    counselor = signed_in(auth, Role.COUNSELOR)
    resp = client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    db.session.rollback()
    statements.clear()
    assert client.get(resp.headers["Location"]).status_code == 200
    # The read transaction ends before the event is written; the event takes the lock.
    first_write = next(i for i, s in enumerate(statements) if s.startswith("INSERT"))
    assert statements[:first_write].count("BEGIN IMMEDIATE") == 1
    # Once the event is committed the page renders in a read transaction again, without
    # holding the write lock.
    assert begins(statements) == ["BEGIN", "BEGIN IMMEDIATE", "BEGIN"]
    viewed = db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "client.viewed"))
    assert len(viewed.all()) == 1


def test_the_session_touch_of_a_read_request_is_saved_under_the_write_lock(
    frozen, auth, client, statements
):
    user = signed_in(auth, Role.COUNSELOR)
    frozen.shift(timedelta(minutes=2))  # past TOUCH_EVERY: last_seen_at moves on
    statements.clear()
    assert client.get("/home/counselor").status_code == 200
    assert begins(statements)[:2] == ["BEGIN", "BEGIN IMMEDIATE"]
    db.session.expire_all()
    row = db.session.scalar(sa.select(UserSession).where(UserSession.user_id == user.id))
    assert row.last_seen_at == NOW + timedelta(minutes=2)


def test_a_write_inside_a_read_request_is_refused_under_testing(app_factory, caplog):
    app = app_factory()

    @app.get("/test-writes-on-get")
    def writes_on_get():
        db.session.execute(sa.text("UPDATE settings SET value = value"))
        return "written"

    writes_on_get.is_public = True  # no sign-in for this probe
    with app.app_context():
        assert app.test_client().get("/test-writes-on-get").status_code == 500
    assert "a write inside a read transaction (writes_on_get)" in caplog.text


def test_take_write_lock_refuses_to_drop_unsaved_changes(app, make):
    user = make.user(Role.COUNSELOR)
    db.session.commit()
    with app.test_request_context("/", method="GET"):
        sqlite_setup._mark_read_requests()
        db.session.scalar(sa.select(sa.literal(1)))  # a read transaction is open
        user.full_name = "Changed, Not Saved"
        with pytest.raises(RuntimeError, match="unsaved changes"):
            sqlite_setup.take_write_lock(db.session)
    db.session.rollback()


def test_outside_requests_every_transaction_takes_the_write_lock(app, statements):
    with db.engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert begins(statements) == ["BEGIN IMMEDIATE"]


def test_ending_a_read_keeps_what_it_loaded(app, make, statements):
    """A page that read its rows and then records its audit event must not load each row
    again: the read ends with a COMMIT that expires nothing (it wrote nothing)."""
    user = make.user(Role.COUNSELOR)
    db.session.commit()
    with app.test_request_context("/", method="GET"):
        sqlite_setup._mark_read_requests()
        loaded = db.session.get(type(user), user.id)
        assert loaded.full_name
        assert sqlite_setup.take_write_lock(db.session) is True
        assert not sa.inspect(loaded).expired_attributes
        statements.clear()
        assert loaded.full_name  # no query
        assert statements == []


def test_a_posted_search_reads_beside_the_writer(frozen, auth, client, statements):
    """Client search is a POST (no name in a URL) that only reads: it begins a read."""
    signed_in(auth, Role.COUNSELOR)
    statements.clear()
    assert client.post("/clients/", data={"q": "Nobody"}).status_code == 200
    assert begins(statements) == ["BEGIN"]

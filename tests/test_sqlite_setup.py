"""SQLite transactions: requests that only read run beside the writer (plain BEGIN); anything
that writes takes the write lock first (BEGIN IMMEDIATE). See casemgr/sqlite_setup.py."""

import fcntl
import sqlite3
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine
from sqlalchemy.engine import make_url

from casemgr import sqlite_setup
from casemgr.audit.hooks import record
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


def turn_file() -> str:
    return make_url(str(db.engine.url)).database + "-writers"


def turn_taken() -> bool:
    """Whether any connection holds the writers' turn (the flock on the lock file)."""
    with open(turn_file(), "ab") as probe:
        try:
            fcntl.flock(probe.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(probe.fileno(), fcntl.LOCK_UN)
        return False


def test_a_writer_holds_the_turn_until_its_transaction_ends(app):
    assert not turn_taken()
    with db.engine.connect() as conn:
        conn.execute(sa.text("SELECT 1"))  # outside a request: BEGIN IMMEDIATE
        assert turn_taken()
        conn.commit()
        assert not turn_taken()
        conn.execute(sa.text("SELECT 1"))
        assert turn_taken()
        conn.rollback()
        assert not turn_taken()
        conn.execute(sa.text("SELECT 1"))
    assert not turn_taken()  # closed inside a transaction: the pool's reset rolled it back


def test_a_read_request_leaves_the_turn_alone(frozen, auth, client):
    signed_in(auth, Role.COUNSELOR)
    seen: list[bool] = []

    def look(*_args):
        seen.append(turn_taken())

    sa.event.listen(db.engine, "before_cursor_execute", look)
    try:
        assert client.get("/home/counselor").status_code == 200
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", look)
    assert seen and not any(seen)


def test_a_writer_waits_for_the_turn_and_gets_it_when_it_is_given_back(app, statements):
    """The second writer waits for its turn before BEGIN IMMEDIATE, not on SQLite's lock
    (whose busy handler sleeps up to 100 ms at a time, and lets later arrivals in first)."""
    engine = db.engine
    with engine.connect() as first:
        first.execute(sa.text("SELECT 1"))
        assert begins(statements) == ["BEGIN IMMEDIATE"]
        got = threading.Event()

        def second_writer():
            with engine.begin() as conn:
                conn.execute(sa.text("UPDATE settings SET value = value"))
                got.set()

        thread = threading.Thread(target=second_writer)
        thread.start()
        assert not got.wait(0.3)  # waiting for its turn, not failing
        assert begins(statements) == ["BEGIN IMMEDIATE"]
        first.commit()
        thread.join(timeout=10)
    assert got.is_set()
    assert not turn_taken()


def test_a_begin_that_fails_gives_the_turn_back(app_factory):
    """Another process holds SQLite's write lock past the busy timeout: the BEGIN fails with
    "database is locked", and the turn must not stay taken (every later write would wait)."""
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=100)
    with app.app_context():
        other = sqlite3.connect(make_url(str(db.engine.url)).database, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        try:
            with pytest.raises(sa.exc.OperationalError, match="locked"):
                with db.engine.connect() as conn:
                    conn.execute(sa.text("SELECT 1"))
            assert not turn_taken()
        finally:
            other.execute("ROLLBACK")
            other.close()


def test_a_turn_never_given_back_slows_writes_but_does_not_stop_them(app_factory):
    """The wait for the turn is bounded by the busy timeout; afterwards SQLite's own lock
    decides, as it did before writers took turns."""
    app = app_factory(SQLITE_BUSY_TIMEOUT_MS=100)
    with app.app_context():
        stuck = open(turn_file(), "ab")  # as if a writer had lost track of its turn
        fcntl.flock(stuck.fileno(), fcntl.LOCK_EX)
        try:
            with db.engine.begin() as conn:
                conn.execute(sa.text("UPDATE settings SET value = value"))
        finally:
            stuck.close()
        # The helper still waiting on the abandoned wait gets the turn and drops it.
        deadline = time.monotonic() + 5
        while turn_taken() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert not turn_taken()
        with db.engine.begin() as conn:
            conn.execute(sa.text("UPDATE settings SET value = value"))
            assert turn_taken()
        assert not turn_taken()


def test_concurrent_writers_all_commit_and_leave_the_turn_free(app_factory):
    app = app_factory()
    errors: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with app.app_context():
                for i in range(10):
                    record(db.session, "test.turns", detail={"writer": n, "i": i})
                    db.session.commit()
                db.session.remove()
        except BaseException as exc:  # reported below, with the thread's own error
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    with app.app_context():
        assert not turn_taken()
        count = db.session.scalar(
            sa.select(sa.func.count()).where(AuditEvent.action == "test.turns")
        )
        assert count == 80

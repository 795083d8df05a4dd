"""SQLite as casemgr uses it: connection pragmas, planner statistics, and which transactions
take the write lock.

SQLite allows one writer at a time. In WAL mode readers neither wait for the writer nor
block it, but only while their transaction stays a read: a deferred transaction that has
read and then tries to write fails at once with SQLITE_BUSY ("database is locked") if
another connection committed in between, without waiting on the busy timeout. So:

- a transaction that may write begins BEGIN IMMEDIATE, taking the write lock up front, and
  concurrent writers queue on the busy timeout instead of failing;
- a request that only reads (GET, HEAD, OPTIONS) begins plain BEGIN and runs beside every
  other request. When such a request does need to write (the audit event of a chart view,
  the once-a-minute touch of the sign-in session), `take_write_lock` ends its read
  transaction first; its next transaction begins BEGIN IMMEDIATE, and once that commits
  the request reads again;
- a write statement inside a read transaction is a bug; the app logs it and, under TESTING,
  raises so the suite finds it (`_refuse_writes_in_reads`).

Every transaction outside a request (the CLI, the batch worker, the migrations) takes the
write lock, as before.

Writers take turns on a lock file beside the database (`<file>-writers`, flock) before
BEGIN IMMEDIATE. A writer that finds the database locked otherwise waits on SQLite's busy
handler, which sleeps longer at each try (up to 100 ms): at 16 concurrent writers the
unlucky ones waited 2-3 s while later arrivals got in. Waiters on the lock file sleep in
the kernel, in every process, and one of them is woken the moment the turn is given back.
The wait is bounded by the busy timeout (a writer that does not get its turn goes on to
SQLite's own lock, as before), and the kernel drops the lock of a process that dies.
"""

from __future__ import annotations

import fcntl
import logging
import os
import sqlite3
import threading
import time
from typing import Any, BinaryIO

import sqlalchemy as sa
from flask import Flask, current_app, g, has_request_context, request
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, scoped_session

log = logging.getLogger(__name__)

# SQLite's query planner picks indexes by the statistics ANALYZE leaves in sqlite_stat1;
# without them it guesses, and at 50,000 clients the counselor's due check-ins walked every
# open check-in in the network by status (2.8 s) instead of starting from the counselor's
# episodes (0.1 ms). See https://sqlite.org/lang_analyze.html ("Recommended usage pattern").
ANALYSIS_LIMIT = 400  # rows sampled per index: SQLite suggests 100-1000
OPTIMIZE_EVERY_S = 3600.0

READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_READS_ONLY = "_sqlite_reads_only"  # flag on flask.g: this request's next BEGIN is deferred
_DEFERRED = "sqlite_deferred"  # on the connection's info: its open transaction is a read
_WRITES = ("INSERT", "UPDATE", "DELETE", "REPLACE")


class TurnTakingConnection(sqlite3.Connection):
    """pysqlite's connection, taking the writers' turn before its write transactions and
    giving it back when they end, however they end (commit, rollback, the pool's reset,
    close), after SQLite has released its own lock."""

    holds_turn = False
    _turn_file: BinaryIO | None = None

    def __init__(self, database: Any, *args: Any, **kwargs: Any) -> None:
        super().__init__(database, *args, **kwargs)
        self._turn_path = os.fspath(database)
        if self._turn_path and self._turn_path != ":memory:" and not kwargs.get("uri"):
            self._turn_file = self._open_turn_file()

    def _open_turn_file(self) -> BinaryIO:
        return open(f"{self._turn_path}-writers", "ab")  # noqa: SIM115 - closed in close()

    def take_turn(self, timeout_s: float) -> None:
        if self._turn_file is None or self.holds_turn:
            return
        try:
            fcntl.flock(self._turn_file.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            self.holds_turn = self._wait_for_turn(timeout_s)
        else:
            self.holds_turn = True

    def _wait_for_turn(self, timeout_s: float) -> bool:
        """flock has no timeout: a helper thread waits in the kernel and this one waits for
        it no longer than `timeout_s`. On giving up, the helper keeps the file it waits on
        and closes it (dropping the turn) as soon as it gets it; this connection goes on
        with a new file."""
        file, got, settled = self._turn_file, threading.Event(), threading.Lock()
        gave_up = False

        def wait() -> None:
            fcntl.flock(file.fileno(), fcntl.LOCK_EX)
            with settled:
                if gave_up:
                    file.close()
                got.set()

        threading.Thread(target=wait, name="sqlite-writers-turn", daemon=True).start()
        if got.wait(timeout_s):
            return True
        with settled:
            if got.is_set():
                return True
            gave_up = True
        self._turn_file = self._open_turn_file()
        return False

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.give_back_turn()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.give_back_turn()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.give_back_turn()
            if self._turn_file is not None:
                self._turn_file.close()

    def give_back_turn(self) -> None:
        if self.holds_turn and self._turn_file is not None:
            self.holds_turn = False
            fcntl.flock(self._turn_file.fileno(), fcntl.LOCK_UN)


def configure(engine: Engine, busy_timeout_ms: int) -> None:
    """Pragmas on every connection, statistics kept fresh, and the BEGIN each transaction
    needs (pysqlite's own transaction handling is off, SQLAlchemy's documented recipe, so
    the app emits BEGIN itself)."""
    _pragmas_and_statistics(engine, busy_timeout_ms)
    _transactions(engine, busy_timeout_ms / 1000)


def _optimize(dbapi_conn: Any, pragma: str) -> None:
    """Best effort: statistics are an optimisation, so a busy or read-only database must not
    fail the connection or the request that happened to come along."""
    try:
        dbapi_conn.execute(pragma)
    except sqlite3.Error as exc:
        log.warning("%s skipped: %s", pragma, exc)


def _pragmas_and_statistics(engine: Engine, busy_timeout_ms: int) -> None:
    """Keeps the planner statistics fresh the way SQLite recommends for long-lived
    connections: a bounded PRAGMA optimize on the first connection, then once an hour."""
    first = threading.Event()

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        cur.execute("PRAGMA journal_mode = WAL")
        cur.execute("PRAGMA synchronous = FULL")
        cur.execute("PRAGMA foreign_keys = ON")
        # Any ANALYZE on this connection (optimize's, the migrations') reads a sample of each
        # index rather than all of it, so it takes milliseconds on a large database, not
        # minutes. SQLite >= 3.46 bounds optimize by itself; 3.40 (Python 3.11's here) does not.
        cur.execute(f"PRAGMA analysis_limit = {ANALYSIS_LIMIT}")
        cur.close()
        if not first.is_set():
            first.set()
            # SQLite's advice for long-lived connections: 0x10002 on opening, so >= 3.46 also
            # re-analyses tables this connection has not queried yet (older versions ignore
            # the 0x10000 bit and only look at tables already queried: a no-op here).
            _optimize(dbapi_conn, "PRAGMA optimize = 0x10002")

    last_optimized = [time.monotonic()]
    optimizing = threading.Lock()

    @sa.event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, _record: Any, _proxy: Any) -> None:
        # Pooled connections live as long as the worker, so "optimize before closing" would
        # seldom run: instead one checkout an hour runs it, between transactions. Usually a
        # no-op; it re-analyses the tables this connection queried whose indexes have no
        # statistics (a new index) or whose row count grew many times since the last ANALYZE.
        now = time.monotonic()
        if now - last_optimized[0] < OPTIMIZE_EVERY_S or not optimizing.acquire(blocking=False):
            return
        try:
            last_optimized[0] = now
            _optimize(dbapi_conn, "PRAGMA optimize")
        finally:
            optimizing.release()


def _transactions(engine: Engine, turn_timeout_s: float) -> None:
    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        deferred = _reads_only()
        conn.info[_DEFERRED] = deferred
        if deferred:
            conn.exec_driver_sql("BEGIN")
        else:
            _begin_writing(conn, turn_timeout_s)

    @sa.event.listens_for(engine, "rollback")
    def _on_rollback(conn: sa.Connection) -> None:
        conn.info[_DEFERRED] = False

    @sa.event.listens_for(engine, "commit")
    def _on_commit(conn: sa.Connection) -> None:
        conn.info[_DEFERRED] = False
        # A read request that wrote (take_write_lock) goes back to reading once the write is
        # committed: a chart view must not hold the write lock while it renders.
        if has_request_context():
            _mark_read_requests()

    @sa.event.listens_for(engine, "before_cursor_execute")
    def _refuse_writes_in_reads(conn, _cursor, statement: str, *_args: Any) -> None:
        if (
            conn.info.get(_DEFERRED)
            and _reads_only()
            and statement.lstrip()[:7].upper().startswith(_WRITES)
        ):
            _write_in_read(statement)
            conn.info[_DEFERRED] = False  # it holds a write now: never roll it back silently


def _begin_writing(conn: sa.Connection, turn_timeout_s: float) -> None:
    dbapi = conn.connection.dbapi_connection
    if isinstance(dbapi, TurnTakingConnection):
        dbapi.take_turn(turn_timeout_s)
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        if isinstance(dbapi, TurnTakingConnection):
            dbapi.give_back_turn()  # no transaction began, so no commit or rollback will
        raise


def _write_in_read(statement: str) -> None:
    message = (
        f"a write inside a read transaction ({request.endpoint}): call "
        f"sqlite_setup.take_write_lock before writing in a {request.method} request: "
        f"{statement[:80]}"
    )
    if current_app.testing:
        raise RuntimeError(message)
    # SQLite tries to upgrade the transaction: it succeeds unless another connection wrote
    # since this one first read, and then the request fails with 503 "database is locked".
    log.error(message)


def _reads_only() -> bool:
    return has_request_context() and g.get(_READS_ONLY, False)


def take_write_lock(session: Session, *, discard: bool = False) -> bool:
    """Before writing in a request that began as a read: end its read transaction so the
    next one begins with the write lock. Returns whether a read transaction was ended.

    Objects loaded so far stay loaded: the read is ended with a COMMIT that expires nothing
    (it wrote nothing), so a page that read 60 board rows and then records its audit event
    does not load each row again. With `discard=True` a caller's unsaved changes are rolled
    back instead (everything loaded expires), and it must make them again. A no-op outside
    such requests, in a transaction that already holds the write lock, and on PostgreSQL."""
    if not _reads_only():
        return False
    if isinstance(session, scoped_session):
        session = session()
    ended = session.in_transaction() and bool(session.connection().info.get(_DEFERRED))
    if ended:
        unsaved = (
            session.new or session.deleted or any(session.is_modified(o) for o in session.dirty)
        )
        if unsaved and not discard:
            raise RuntimeError("take_write_lock with unsaved changes: they would be lost")
        _end_read(session, keep_loaded=not unsaved)
    g.pop(_READS_ONLY, None)  # until the write commits (_on_commit)
    return ended


def _end_read(session: Session, *, keep_loaded: bool) -> None:
    if not keep_loaded:
        session.rollback()
        return
    expire, session.expire_on_commit = session.expire_on_commit, False
    try:
        session.commit()
    finally:
        session.expire_on_commit = expire


def reads_only(view: Any) -> Any:
    """Marks a POST view that only reads (client search posts its terms so that no name is
    ever in a URL): its transaction is a read as a GET's is, and a write in it is refused
    like one."""
    view.sqlite_reads_only = True
    return view


def _mark_read_requests() -> None:
    view = current_app.view_functions.get(request.endpoint) if request.endpoint else None
    if request.method in READ_METHODS or getattr(view, "sqlite_reads_only", False):
        setattr(g, _READS_ONLY, True)


def init_app(app: Flask, engine: Engine) -> None:
    if engine.dialect.name != "sqlite":
        return
    configure(engine, int(app.config["SQLITE_BUSY_TIMEOUT_MS"]))
    # First, before anything (signing in included) opens a transaction.
    app.before_request_funcs.setdefault(None, []).insert(0, _mark_read_requests)

"""Declarative base, naming convention, UTC datetimes, mixins and SQLite connection setup."""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    registry,
    relationship,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every database; naive values are refused, not guessed at."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        # SQLite has no time zone type; store naive UTC text there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # On the registry, not the class: Flask-SQLAlchemy 3.1 rejects a class-level
    # type_annotation_map (flask-sqlalchemy issue #1361).
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Voidable:
    """A clinical record is never deleted: entered in error, it is voided with a reason and
    stays in the chart (struck through) and in the audit trail. Readers that count or chart
    these records must skip voided ones (`Model.voided_at.is_(None)`)."""

    voided_at: Mapped[datetime | None] = mapped_column(default=None)
    void_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    @declared_attr
    def voided_by_id(cls) -> Mapped[int | None]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(sa.ForeignKey("users.id"), default=None)

    @declared_attr
    def voided_by(cls):  # noqa: N805 - loaded only when a voided record is shown
        return relationship("User", foreign_keys=f"{cls.__name__}.voided_by_id")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


# SQLite's query planner picks indexes by the statistics ANALYZE leaves in sqlite_stat1;
# without them it guesses, and at 50,000 clients the counselor's due check-ins walked every
# open check-in in the network by status (2.8 s) instead of starting from the counselor's
# episodes (0.1 ms). See https://sqlite.org/lang_analyze.html ("Recommended usage pattern").
ANALYSIS_LIMIT = 400  # rows sampled per index: SQLite suggests 100-1000
OPTIMIZE_EVERY_S = 3600.0


def _optimize(dbapi_conn: Any, pragma: str) -> None:
    """Best effort: statistics are an optimisation, so a busy or read-only database must not
    fail the connection or the request that happened to come along."""
    try:
        dbapi_conn.execute(pragma)
    except sqlite3.Error as exc:
        log.warning("%s skipped: %s", pragma, exc)


def configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    """Pragmas on every connection, and BEGIN IMMEDIATE for every transaction.

    pysqlite's own transaction handling is turned off (SQLAlchemy's documented recipe) so we
    can emit BEGIN IMMEDIATE ourselves: a WAL transaction that reads first and then writes
    can fail with SQLITE_BUSY without waiting; taking the write lock up front makes
    concurrent writers queue on the busy timeout instead.

    Also keeps the planner statistics fresh, the way SQLite recommends for long-lived
    connections: a bounded PRAGMA optimize on the first connection, then once an hour.
    """
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

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: sa.Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (use with escape="\\\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def str_enum(enum_cls: type, length: int = 16) -> sa.Enum:
    """A Python StrEnum stored as its values in a VARCHAR (no native enum type), the same on
    SQLite and PostgreSQL."""
    return sa.Enum(
        enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )

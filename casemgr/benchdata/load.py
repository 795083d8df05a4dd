"""Writing generated rows fast: Core `insert()` executemany in chunks, COPY for the biggest
tables on PostgreSQL, load-only pragmas on SQLite, and sequences moved past the ids used."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter

import sqlalchemy as sa

from ..extensions import db
from .rows import Rows

CHUNK = 5000
# Parents before children, so every foreign key finds its row.
ORDER = (
    "sites",
    "users",
    "user_roles",
    "groups",
    "group_facilitators",
    "group_meetings",
    "clients",
    "client_funding",
    "client_substances",
    "episodes",
    "phase_changes",
    "level_of_care_spans",
    "caseload_assignments",
    "discharges",
    "medical_clearances",
    "withdrawal_assessments",
    "medication_orders",
    "medication_administrations",
    "treatment_plans",
    "plan_problems",
    "plan_goals",
    "plan_objectives",
    "plan_interventions",
    "group_enrollments",
    "clinical_sessions",
    "notes",
    "drug_screens",
    "drug_screen_results",
    "check_ins",
    "relapse_events",
    "continuing_care_plans",
    "plan_triggers",
    "sober_supports",
    "life_changes",
)
# The big ones: on PostgreSQL these go through COPY (about twice as fast as executemany).
COPY_TABLES = frozenset(
    {
        "clinical_sessions",
        "notes",
        "withdrawal_assessments",
        "medication_administrations",
        "check_ins",
        "drug_screen_results",
        "group_meetings",
    }
)


def next_ids(conn: sa.Connection) -> dict[str, int]:
    """Where each table's own ids start: after the largest one present (1 when empty)."""
    start = {}
    for name in ORDER:
        table = db.metadata.tables[name]
        if "id" in table.c:
            start[name] = (conn.scalar(sa.select(sa.func.max(table.c.id))) or 0) + 1
    return start


class Writer:
    """Writes batches of rows on one connection and counts them per table."""

    def __init__(self, conn: sa.Connection):
        self.conn = conn
        self.copy = conn.dialect.name == "postgresql"
        self.counts: Counter[str] = Counter()
        self._checked: set[str] = set()

    def write(self, rows: Rows) -> None:
        if not self.conn.in_transaction():
            self.conn.begin()  # the driver-level writes below join this transaction
        for name in ORDER:
            batch = rows.tables.get(name)
            if batch:
                self._write(db.metadata.tables[name], batch)
                self.counts[name] += len(batch)
        rows.clear()

    def _write(self, table: sa.Table, batch: list[dict]) -> None:
        self._check(table, batch[0])
        if self.copy and table.name in COPY_TABLES:
            self._copy(table, batch)
        elif self.conn.dialect.name == "sqlite":
            self._executemany(table, batch)
        else:
            insert = table.insert()
            for i in range(0, len(batch), CHUNK):
                self.conn.execute(insert, batch[i : i + CHUNK])

    def _executemany(self, table: sa.Table, batch: list[dict]) -> None:
        """The Core insert's SQL with values the column types have already converted (their
        own bind processors), handed to the driver's executemany in chunks: the same stored
        form as `conn.execute(insert, rows)` without its per-row bookkeeping."""
        names = [c.name for c in table.columns]
        dialect = self.conn.dialect
        statement = table.insert().compile(dialect=dialect, column_keys=names)
        order = statement.positiontup
        convert = _converters(table, order, dialect)
        values = itemgetter(*order)
        cursor = self.conn.connection.driver_connection.cursor()
        for i in range(0, len(batch), CHUNK):
            chunk = [list(values(row)) for row in batch[i : i + CHUNK]]
            for index, process in convert:
                for row in chunk:
                    if row[index] is not None:
                        row[index] = process(row[index])
            cursor.executemany(statement.string, chunk)
        cursor.close()

    def _check(self, table: sa.Table, row: dict) -> None:
        """Every row names every column: a column added by a migration must be generated."""
        if table.name in self._checked:
            return
        expected = {c.name for c in table.columns}
        if set(row) != expected:
            missing, extra = expected - set(row), set(row) - expected
            raise RuntimeError(f"{table.name}: missing {sorted(missing)}, unknown {sorted(extra)}")
        self._checked.add(table.name)

    def _copy(self, table: sa.Table, batch: list[dict]) -> None:
        names = [c.name for c in table.columns]
        values = itemgetter(*names)
        cursor = self.conn.connection.driver_connection.cursor()
        columns = ", ".join(f'"{n}"' for n in names)
        with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
            for row in batch:
                copy.write_row(values(row))


def _converters(table: sa.Table, order, dialect) -> list[tuple[int, Callable]]:
    """(position, bind processor) for the columns whose type converts values. Timestamps
    repeat a lot (session times, signing times), so each is converted once per table."""
    found = []
    for index, name in enumerate(order):
        process = table.c[name].type._cached_bind_processor(dialect)
        if process is not None:
            found.append((index, _memo(process)))
    return found


def _memo(process: Callable) -> Callable:
    seen: dict = {}

    def convert(value):
        if value not in seen:
            seen[value] = process(value)
        return seen[value]

    return convert


@contextmanager
def load_pragmas(conn: sa.Connection) -> Iterator[None]:
    """On SQLite, trade durability for speed during the load only: a crash mid-load loses a
    bench database, never real data (the command refuses a database that holds any)."""
    if conn.dialect.name != "sqlite":
        yield
        return
    # Outside any transaction (SQLite refuses to change `synchronous` inside one), on the
    # driver connection, which runs in autocommit mode (see sqlite_setup.configure).
    raw = conn.connection.driver_connection
    _pragmas(raw, synchronous="OFF", cache_size=-262144, temp_store="MEMORY")  # 256 MiB cache
    try:
        yield
    finally:
        conn.rollback()
        _pragmas(raw, synchronous="FULL", cache_size=-2000, temp_store="DEFAULT")


def _pragmas(raw, **values) -> None:
    for name, value in values.items():
        raw.execute(f"PRAGMA {name} = {value}")


def analyze(conn: sa.Connection) -> None:
    """Planner statistics for the loaded tables, on both databases: without them SQLite
    guesses (and never analyses by itself before a connection has queried the tables, see
    sqlite_setup.configure), and PostgreSQL waits for autovacuum, so the first benchmark would
    time plans a real database of this size would not use. Sampled on both (SQLite's
    analysis_limit, PostgreSQL's default_statistics_target), so seconds, not minutes."""
    conn.exec_driver_sql("ANALYZE")
    conn.commit()


def advance_sequences(conn: sa.Connection) -> None:
    """PostgreSQL hands out ids from sequences, which explicit ids do not move."""
    if conn.dialect.name != "postgresql":
        return
    for name in ORDER:  # table names from our own metadata, never from input
        if "id" in db.metadata.tables[name].c:
            conn.exec_driver_sql(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), max(id)) "  # noqa: S608
                f'FROM "{name}" HAVING max(id) IS NOT NULL'
            )

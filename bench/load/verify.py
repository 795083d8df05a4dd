"""After a run: every acknowledged write is in the database, nothing is half-written, every
clinical row has its audit event and every audit event its row, the audit chain verifies
(`flask audit verify`) and, on SQLite, `PRAGMA integrity_check` says ok."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import sqlalchemy as sa

from .mix import Ledger
from .server import run_flask

# The clinical tables the mix writes: (table, audit object type).
AUDITED = (
    ("clinical_sessions", "clinical_sessions"),
    ("notes", "notes"),
    ("withdrawal_assessments", "withdrawal_assessments"),
    ("medication_administrations", "medication_administrations"),
)


@dataclass
class Findings:
    acknowledged: int = 0
    missing: list[str] = field(default_factory=list)
    partial: list[str] = field(default_factory=list)
    audit: str = ""
    integrity: str = "n/a"

    @property
    def ok(self) -> bool:
        return (
            not self.missing
            and not self.partial
            and self.audit.startswith("ok")
            and self.integrity in ("ok", "n/a")
        )

    def as_dict(self) -> dict:
        return {
            "acknowledged_writes": self.acknowledged,
            "missing": self.missing[:50],
            "missing_count": len(self.missing),
            "partial": self.partial[:50],
            "audit_verify": self.audit,
            "sqlite_integrity_check": self.integrity,
        }


def check(database_url: str, env: dict[str, str], ledger: Ledger) -> Findings:
    found = Findings(acknowledged=ledger.count())
    engine = sa.create_engine(database_url, poolclass=sa.pool.NullPool)
    try:
        with engine.connect() as conn:
            found.missing = missing_writes(conn, ledger)
            found.partial = partial_rows(conn)
            if engine.dialect.name == "sqlite":
                found.integrity = conn.exec_driver_sql("PRAGMA integrity_check").scalar()
    finally:
        engine.dispose()
    done = run_flask(env, "audit", "verify")
    found.audit = (done.stdout.strip() or done.stderr.strip()[-500:]) if done.returncode == 0 else (
        f"FAILED ({done.returncode}): {(done.stdout + done.stderr).strip()[-500:]}"
    )  # fmt: skip
    return found


def missing_writes(conn, ledger: Ledger) -> list[str]:
    missing = []
    notes = dict(conn.execute(sa.text("SELECT id, sections_json FROM notes")).all())
    for note_id, marker in ledger.notes.items():
        if marker not in (notes.get(note_id) or ""):
            missing.append(f"note {note_id} ({marker})")
    doses = {
        row[0]
        for row in conn.execute(
            sa.text("SELECT note FROM medication_administrations WHERE note LIKE 'LT-%'")
        )
    }
    missing += [f"dose {m}" for m in sorted(ledger.doses - doses)]
    assessments = set(
        conn.execute(
            sa.text(
                "SELECT u.login, a.episode_id, a.systolic, a.diastolic, a.heart_rate "
                "FROM withdrawal_assessments a JOIN users u ON u.id = a.nurse_id "
                "WHERE u.login LIKE 'demo-load-%'"
            )
        ).all()
    )
    missing += [
        f"COWS {key}" for key in sorted(ledger.assessments - {tuple(r) for r in assessments})
    ]
    return missing


def partial_rows(conn) -> list[str]:
    """Rows that could only exist if a transaction was cut in half."""
    bad = []
    for note_id, sections in conn.execute(
        sa.text(
            "SELECT n.id, n.sections_json FROM notes n "
            "LEFT JOIN clinical_sessions s ON s.id = n.session_id WHERE s.id IS NULL "
            "OR n.sections_json IS NULL OR n.sections_json IN ('', '{}')"
        )
    ):
        bad.append(f"note {note_id} without its session or sections ({sections!r})")
    for (session_id,) in conn.execute(
        sa.text(
            "SELECT s.id FROM clinical_sessions s LEFT JOIN notes n ON n.session_id = s.id "
            "WHERE n.id IS NULL AND s.group_meeting_id IS NULL"
        )
    ):
        bad.append(f"clinical session {session_id} without its note")
    for row_id, items in conn.execute(
        sa.text("SELECT id, items_json FROM withdrawal_assessments WHERE instrument = 'cows'")
    ):
        if len(json.loads(items or "{}")) != 11:
            bad.append(f"COWS {row_id} with {items!r} (not 11 items)")
    bad += _audit_mismatches(conn)
    return bad


def _audit_mismatches(conn) -> list[str]:
    """A row without its `<type>.created` event, or an event for a row that is not there
    (an audit written for a rolled-back change)."""
    bad = []
    for table, kind in AUDITED:
        rows = {str(r[0]) for r in conn.execute(sa.text(f"SELECT id FROM {table}"))}  # noqa: S608
        events = {
            r[0]
            for r in conn.execute(
                sa.text(
                    "SELECT object_id FROM audit_events WHERE object_type = :t AND action = :a"
                ),
                {"t": kind, "a": f"{kind}.created"},
            )
        }
        bad += [f"{table} {i} has no audit event" for i in sorted(rows - events)[:20]]
        bad += [
            f"audit event for {table} {i}, which is not there" for i in sorted(events - rows)[:20]
        ]
    return bad

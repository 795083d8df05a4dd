"""Figures for the detox board: response time and SQL statements per request on a full unit.

    .venv/bin/python bench/detox_board.py [--database-url URL] [--clients 60] [--days 14]
                                          [--requests 50]

A fresh database (SQLite in a temporary folder unless --database-url names an empty one) is
migrated, then filled: N clients in detox, each with a COWS assessment with vitals every 4 hours
and a witnessed methadone dose every 4 hours for D days. A nurse signs in through the login
form and opens /detox/board R times. Prints figures; asserts nothing (performance goals are
read here, never in timed tests).
"""

from __future__ import annotations

import argparse
import re
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from casemgr import create_app  # noqa: E402
from casemgr.auth.models import User  # noqa: E402
from casemgr.auth.passwords import hash_password  # noqa: E402
from casemgr.clients import services as clients  # noqa: E402
from casemgr.detox.models import WithdrawalAssessment  # noqa: E402
from casemgr.domain.face_sheet import FaceSheet, Funding, SubstanceUse  # noqa: E402
from casemgr.domain.medications import Outcome  # noqa: E402
from casemgr.domain.phases import Phase  # noqa: E402
from casemgr.domain.roles import Role  # noqa: E402
from casemgr.domain.withdrawal import COWS  # noqa: E402
from casemgr.episodes import services as episodes  # noqa: E402
from casemgr.extensions import db  # noqa: E402
from casemgr.mar.models import Drug, MedicationAdministration, MedicationOrder  # noqa: E402

PASSWORD = "a benchmark passphrase of decent length"  # noqa: S105  (a throwaway database)
EVERY = timedelta(hours=4)


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(f"{label:<42} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   n={len(ms)}")


def staff(login: str, role: Role) -> User:
    user = User(login=login, full_name=login.title(), email=f"{login}@example.org")
    user.password_hash = hash_password(PASSWORD)
    user.set_roles({role})
    db.session.add(user)
    db.session.flush()
    return user


def in_detox(n: int, manager: User, now: datetime, days: int):
    sheet = FaceSheet(
        legal_first_name=f"Client{n:03d}",
        legal_last_name="Bench",
        date_of_birth=date(1985, 1, 1 + n % 28),
        sex="female" if n % 2 else "male",
        first_contact_on=(now - timedelta(days=days + 2)).date(),
        referral_source="self",
        funding=(Funding("medicaid", "", f"MCD{n}"),),
        substances=(SubstanceUse("heroin", "injection", "5", 19),),
    )
    person = clients.register(db.session, sheet, actor=manager, today=now.date())
    admitted_at = now - timedelta(days=days + 1)
    episode = episodes.admit(
        db.session,
        person,
        actor=manager,
        admitted_on=admitted_at.date(),
        counselor=None,
        now=now,
        admitted_at=admitted_at,
    )
    move = episodes.Move(Phase.DETOX, now - timedelta(days=days), "Withdrawal risk", "bench")
    episodes.move(db.session, episode, move, actor=manager, now=now, local_date=lambda d: d.date())
    return episode


def fill(clients_n: int, days: int, now: datetime) -> User:
    """The unit, and the nurse who will read the board."""
    manager = staff("manager", Role.CLINIC_MANAGER)
    nurse, physician = staff("nurse", Role.NURSE), staff("physician", Role.PHYSICIAN)
    methadone = db.session.scalar(sa.select(Drug.id).where(Drug.code == "methadone"))
    slots = [now - timedelta(days=days) + i * EVERY for i in range(days * 24 // 4)]
    assessments, orders, doses = [], [], []
    for n in range(clients_n):
        episode = in_detox(n, manager, now, days)
        orders.append(order_row(episode.id, methadone, physician.id, now - timedelta(days=days)))
        for i, at in enumerate(slots):
            assessments.append(assessment_row(episode.id, nurse.id, at, n + i))
    db.session.flush()
    # Core inserts: fast, and the audit trail of a benchmark's fixtures is of no interest.
    db.session.execute(sa.insert(MedicationOrder.__table__), orders)
    db.session.execute(sa.insert(WithdrawalAssessment.__table__), assessments)
    order_ids = db.session.execute(sa.select(MedicationOrder.id, MedicationOrder.episode_id))
    for order_id, episode_id in order_ids:
        for at in slots:
            doses.append(dose_row(order_id, episode_id, at, nurse.id, physician.id))
    db.session.execute(sa.insert(MedicationAdministration.__table__), doses)
    db.session.commit()
    print(
        f"filled: {clients_n} clients in detox, {len(assessments)} assessments, {len(doses)} doses"
    )
    return nurse


def assessment_row(episode_id: int, nurse_id: int, at: datetime, seed: int) -> dict:
    total = (seed * 7) % 30
    return {
        "episode_id": episode_id,
        "instrument": "cows",
        "items_json": "{}",
        "total": total,
        "band": str(COWS.bands.band_for(total)),
        "assessed_at": at,
        "recorded_at": at,
        "nurse_id": nurse_id,
        "reason": "scheduled",
        "backdate_reason": "",
        "systolic": 120 + seed % 40,
        "diastolic": 80,
        "heart_rate": 70 + seed % 55,
        "respiratory_rate": 16,
        "temperature_c": 36.8,
        "spo2": 97,
        "pain": seed % 6,
        "created_at": at,
        "updated_at": at,
    }


def order_row(episode_id: int, drug_id: int, physician_id: int, starts_at: datetime) -> dict:
    return {
        "episode_id": episode_id,
        "drug_id": drug_id,
        "dose_milli": 30_000,
        "unit": "mg",
        "route": "oral",
        "times": "02:00, 06:00, 10:00, 14:00, 18:00, 22:00",
        "prn": False,
        "prn_indication": "",
        "indication": "Opioid withdrawal",
        "starts_at": starts_at,
        "ordered_by_id": physician_id,
        "entered_by_id": physician_id,
        "verbal": False,
        "discontinue_reason": "",
        "version": 1,
        "created_at": starts_at,
        "updated_at": starts_at,
    }


def dose_row(order_id, episode_id, at, nurse_id, witness_id) -> dict:
    return {
        "order_id": order_id,
        "episode_id": episode_id,
        "scheduled_at": at,
        "given_at": at,
        "recorded_at": at,
        "dose_milli": 30_000,
        "outcome": Outcome.GIVEN.value,
        "reason": "",
        "note": "",
        "nurse_id": nurse_id,
        "witness_id": witness_id,
        "override_reason": "",
    }


def sign_in(client) -> None:
    page = client.get("/login").text
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    resp = client.post("/login", data={"login": "nurse", "password": PASSWORD, "csrf_token": token})
    assert resp.status_code == 302, resp.status_code


def measure(app, requests: int) -> None:
    """Each request in its own app context and session, as under a real server."""
    statements: list[str] = []
    with app.app_context():
        engine = db.engine

    def counted(conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):
            statements.append(statement)

    client = app.test_client()
    sign_in(client)
    resp = client.get("/detox/board")  # warm: templates compiled, statements cached
    assert resp.status_code == 200, resp.status_code
    print(f"board rows: {resp.text.count('data-episode=')}, page {len(resp.data) // 1024} KiB")
    sa.event.listen(engine, "before_cursor_execute", counted)
    timings, cpu, counts = [], [], []
    for _ in range(requests):
        before = len(statements)
        t0, c0 = time.perf_counter(), time.process_time()
        resp = client.get("/detox/board")
        timings.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.process_time() - c0) * 1000)  # SQLite runs in-process: included
        counts.append(len(statements) - before)
        assert resp.status_code == 200
    sa.event.remove(engine, "before_cursor_execute", counted)
    report("GET /detox/board (nurse), wall clock", timings)
    report("GET /detox/board (nurse), CPU time", cpu)
    print(f"SQL statements per request: {sorted(set(counts))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--clients", type=int, default=60)
    parser.add_argument("--days", type=int, default=14)
    parser.add_argument("--requests", type=int, default=50)
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="casemgr-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": tmp,
            "AUDIT_HMAC_KEY": "bench",
            "SECRET_KEY": "bench-secret-key-of-at-least-thirty-two-characters",
        }
    )
    with app.app_context():
        upgrade()
        print(f"database: {db.engine.dialect.name}")
        t0 = time.perf_counter()
        fill(args.clients, args.days, datetime.now(UTC).replace(microsecond=0))
        print(f"fill took {time.perf_counter() - t0:.1f} s")
        db.session.remove()
    measure(app, args.requests)


if __name__ == "__main__":
    main()

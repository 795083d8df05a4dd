"""Figures for PDF reports: one full-year client's progress report, and a whole-census batch.

    .venv/bin/python bench/reports.py [--database-url URL] [--clients 200] [--repeat 7]
                                      [--commit-every 1] [--skip-batch]

A fresh database (SQLite in a temporary folder unless --database-url names an empty one) is
migrated, then filled: one client with a full year of records (about 200 signed notes, 300
withdrawal assessments, 50 drug screens, 40 check-ins) and N clients with a few weeks of
moderate records each. Measures:
- the full-year progress report: the registered renderer, as a print calls it (median of R);
- the N+1-client batch with the inline runner (what the background thread runs), with pages
  per second;
- how long another user's small write waits while the batch runs: SQLite has one writer at a
  time, and the batch takes the write lock for each client's transaction.
Prints figures; asserts nothing (performance goals are read here, never in timed tests).
Needs the progress report (casemgr/printing/client_report.py), imported by the app.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC, date, datetime, timedelta
from datetime import time as clock
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402

from casemgr import create_app  # noqa: E402
from casemgr.aftercare.models import CheckIn  # noqa: E402
from casemgr.audit.hooks import acting_as, record  # noqa: E402
from casemgr.auth.models import User  # noqa: E402
from casemgr.auth.passwords import hash_password  # noqa: E402
from casemgr.clients import services as clients  # noqa: E402
from casemgr.detox import services as detox  # noqa: E402
from casemgr.detox.models import WithdrawalAssessment  # noqa: E402
from casemgr.domain.face_sheet import FaceSheet, Funding, SubstanceUse  # noqa: E402
from casemgr.domain.notes import NoteFormat, NoteStatus  # noqa: E402
from casemgr.domain.phases import Phase  # noqa: E402
from casemgr.domain.roles import Role  # noqa: E402
from casemgr.domain.screens import PANEL, Result  # noqa: E402
from casemgr.episodes import services as episodes  # noqa: E402
from casemgr.extensions import db  # noqa: E402
from casemgr.notes.models import ClinicalSession, Note  # noqa: E402
from casemgr.printing import batch  # noqa: E402
from casemgr.printing import record as printing  # noqa: E402
from casemgr.printing.models import PrintedReport, ReportBatch, ReportBatchFile  # noqa: E402
from casemgr.screens.models import DrugScreen, DrugScreenResult  # noqa: E402
from casemgr.timefmt import local_date  # noqa: E402

PASSWORD = "a benchmark passphrase of decent length"  # noqa: S105  (a throwaway database)


def report(label: str, ms: list[float]) -> None:
    ms = sorted(ms)
    p95 = ms[max(0, int(len(ms) * 0.95) - 1)]
    print(
        f"{label:<44} median {statistics.median(ms):8.1f} ms   p95 {p95:8.1f} ms   "
        f"max {ms[-1]:8.1f} ms   n={len(ms)}"
    )


def staff(login: str, role: Role) -> User:
    user = User(login=login, full_name=login.title(), email=f"{login}@example.org")
    user.password_hash = hash_password(PASSWORD)
    user.credentials = "LADC" if role is Role.COUNSELOR else ""
    user.set_roles({role})
    db.session.add(user)
    db.session.flush()
    return user


class Team:
    def __init__(self):
        self.manager = staff("manager", Role.CLINIC_MANAGER)
        self.counselor = staff("counselor", Role.COUNSELOR)
        self.nurse = staff("nurse", Role.NURSE)


def in_treatment(n: int, team: Team, now: datetime, days: int, aftercare: bool):
    """A client admitted `days` ago, through detox into rehab (and aftercare), by the services."""
    admitted_at = now - timedelta(days=days)
    sheet = FaceSheet(
        legal_first_name=f"Client{n:03d}",
        legal_last_name="Bench",
        date_of_birth=date(1985, 1, 1 + n % 28),
        sex="female" if n % 2 else "male",
        first_contact_on=admitted_at.date() - timedelta(days=2),
        referral_source="self",
        funding=(Funding("medicaid", "", f"MCD{n}"),),
        substances=(SubstanceUse("heroin", "injection", "5", 19),),
    )
    person = clients.register(db.session, sheet, actor=team.manager, today=now.date())
    episode = episodes.admit(
        db.session,
        person,
        actor=team.manager,
        admitted_on=admitted_at.date(),
        counselor=team.counselor,
        now=now,
        admitted_at=admitted_at,
    )
    steps = [(Phase.DETOX, 1), (Phase.REHAB, 6)] + (
        [(Phase.AFTERCARE, days // 3)] if aftercare else []
    )
    for phase, after in steps:
        at = admitted_at + timedelta(days=after)
        if phase is Phase.REHAB:
            detox.record_clearance(db.session, episode, "Cleared", by=team.nurse, now=at)
        move = episodes.Move(phase, at, "bench", "entered for the benchmark")
        episodes.move(db.session, episode, move, actor=team.manager, now=now, local_date=local_date)
    return episode


def records(episode, team: Team, now: datetime, days: int, sizes: dict[str, int]) -> None:
    """Signed notes, withdrawal assessments, drug screens and check-ins, spread over `days`
    (Core inserts: the audit trail of a benchmark's fixtures is of no interest)."""
    start = now - timedelta(days=days)
    sessions = [
        {
            "episode_id": episode.id,
            "session_date": (start + timedelta(days=1 + i * (days - 2) // sizes["notes"])).date(),
            "start_time": clock(9),
            "end_time": clock(9, 50),
            "session_type": "individual" if i % 3 else "group",
            "staff_id": team.counselor.id,
            "created_by_id": team.counselor.id,
            "attendance": "attended" if i % 7 else "no_show",
            "minutes_attended": 50,
        }
        for i in range(sizes["notes"])
    ]
    db.session.execute(sa.insert(ClinicalSession.__table__), sessions)
    ids = db.session.scalars(
        sa.select(ClinicalSession.id).where(ClinicalSession.episode_id == episode.id)
    ).all()
    sections = {
        "data": "Client reports cravings 4/10 after a family visit; attended two meetings.",
        "assessment": "Engaged; names family conflict as a trigger and practises urge surfing. "
        * 3,
        "plan": "Continue weekly sessions; review relapse-prevention plan next week.",
    }
    db.session.execute(
        sa.insert(Note.__table__),
        [
            {
                "session_id": sid,
                "author_id": team.counselor.id,
                "format": NoteFormat.DAP.value,
                "sections_json": json.dumps(sections),
                "status": NoteStatus.SIGNED.value,
                "signed_at": now,
                "signed_by_id": team.counselor.id,
                "signer_name": "Counselor",
                "signer_credentials": "LADC",
            }
            for sid in ids
        ],
    )
    db.session.execute(
        sa.insert(WithdrawalAssessment.__table__),
        [
            {
                "episode_id": episode.id,
                "instrument": "cows" if i % 2 else "ciwa_ar",
                "items_json": "{}",
                "total": (i * 7) % 30,
                "band": "mild",
                "assessed_at": start + timedelta(hours=4 * i),
                "nurse_id": team.nurse.id,
                "reason": "scheduled",
            }
            for i in range(sizes["assessments"])
        ],
    )
    screen_every = max(1, days // max(1, sizes["screens"]))
    for i in range(sizes["screens"]):
        screen = DrugScreen(
            episode=episode,
            collected_at=start + timedelta(days=i * screen_every, hours=15),
            collector_id=team.nurse.id,
            action_taken="Discussed" if i % 10 == 0 else "",
        )
        db.session.add(screen)
        db.session.flush()
        positive = {"fentanyl"} if i % 10 == 0 else set()
        db.session.execute(
            sa.insert(DrugScreenResult.__table__),
            [
                {
                    "screen_id": screen.id,
                    "analyte": code,
                    "result": (Result.POSITIVE if code in positive else Result.NEGATIVE).value,
                }
                for code, _ in PANEL
            ],
        )
    _check_ins(episode, now, sizes["check_ins"])


def _check_ins(episode, now: datetime, wanted: int) -> None:
    """Close the generated check-ins that are due, then add weekly ones up to `wanted`."""
    table = CheckIn.__table__
    today = now.date()
    due = table.c.episode_id == episode.id
    db.session.execute(
        sa.update(table)
        .where(due, table.c.due_on <= today)
        .values(status="done", reached=True, method="phone", contacted_at=now, days_used_30=0)
    )
    taken = set(db.session.scalars(sa.select(table.c.due_on).where(due)))
    day, extra = today - timedelta(days=3), []
    while len(taken) + len(extra) < wanted:
        if day not in taken:
            extra.append({"episode_id": episode.id, "kind": "routine", "due_on": day})
        day -= timedelta(days=7)
    if extra:
        missed = [{**row, "status": "missed", "reached": False} for row in extra]
        db.session.execute(sa.insert(table), missed)


FULL_YEAR = {"notes": 200, "assessments": 300, "screens": 50, "check_ins": 40}
MODERATE = {"notes": 15, "assessments": 20, "screens": 4, "check_ins": 0}


def fill(n: int, now: datetime) -> tuple[Team, int]:
    team = Team()
    year = in_treatment(0, team, now, 365, aftercare=True)
    records(year, team, now, 365, FULL_YEAR)
    db.session.commit()
    for i in range(1, n + 1):
        episode = in_treatment(i, team, now, 30 + i % 60, aftercare=i % 3 == 0)
        records(episode, team, now, 30 + i % 60, {**MODERATE, "check_ins": 0})
        if i % 20 == 0:
            db.session.commit()
    db.session.commit()
    return team, year.id


def counts(episode_id: int) -> str:
    def n(stmt) -> int:
        return db.session.scalar(sa.select(sa.func.count()).select_from(stmt.subquery()))

    notes = sa.select(Note.id).join(ClinicalSession)
    return (
        f"{n(notes.where(ClinicalSession.episode_id == episode_id))} signed notes, "
        f"{n(sa.select(WithdrawalAssessment.id).where(WithdrawalAssessment.episode_id == episode_id))} "
        f"assessments, {n(sa.select(DrugScreen.id).where(DrugScreen.episode_id == episode_id))} "
        f"screens, {n(sa.select(CheckIn.id).where(CheckIn.episode_id == episode_id))} check-ins"
    )


def single(app, team_ids: dict[str, int], episode_id: int, repeat: int, now: datetime) -> None:
    from casemgr.episodes.models import Episode

    with app.app_context():
        episode = db.session.get(Episode, episode_id)
        print(f"full-year client: {counts(episode_id)}")
        manager = db.session.get(User, team_ids["manager"])
        row = printing.draft(
            kind="progress",
            generated_at=now,
            by=manager,
            client_id=episode.client_id,
            episode_id=episode.id,
            period=(episode.admitted_on, local_date(now)),
            purpose="Benchmark",
        )
        render = printing.RENDERERS["progress"]
        timings, pages, size = [], 0, 0
        for attempt in range(repeat + 1):
            db.session.expire_all()
            t0 = time.perf_counter()
            data, pages = render(db.session, row)
            elapsed = (time.perf_counter() - t0) * 1000
            if attempt:  # the first render also loads fonts and compiles statements
                timings.append(elapsed)
            else:
                print(f"full-year report, first render: {elapsed:.0f} ms")
            size = len(data)
        db.session.rollback()
        report("full-year progress report (render)", timings)
        median = statistics.median(timings) / 1000
        print(f"  {pages} pages, {size // 1024} KiB, {pages / median:.1f} pages/s")


def writer(app, stop: threading.Event, waits: list[float], errors: list[str]) -> None:
    """Another user at work: a read and a small audited write every 100 ms (as a page that
    signs someone in does), timed from the first statement to the commit."""
    with app.app_context(), acting_as(None, "bench-writer"):
        while not stop.is_set():
            t0 = time.perf_counter()
            try:
                db.session.scalar(sa.select(sa.func.count()).select_from(ReportBatch))
                record(db.session, "bench.ping")
                db.session.commit()
                waits.append((time.perf_counter() - t0) * 1000)
            except sa.exc.OperationalError as exc:
                db.session.rollback()
                errors.append(type(exc.orig).__name__)
            stop.wait(0.1)


def whole_batch(app, manager_id: int, output: str, now: datetime, writers: int) -> None:
    with app.app_context():
        manager = db.session.get(User, manager_id)
        job, _ = batch.request_batch(
            db.session,
            os.urandom(24).hex(),
            batch.BatchFilter(),
            output,
            "Benchmark",
            "",
            by=manager,
            now=now,
        )
        job_id = job.id
        db.session.commit()
    stop, waits, errors = threading.Event(), [], []
    others = [
        threading.Thread(target=writer, args=(app, stop, waits, errors)) for _ in range(writers)
    ]
    for other in others:
        other.start()
    t0 = time.perf_counter()
    batch.run_batch(app, job_id)
    elapsed = time.perf_counter() - t0
    stop.set()
    for other in others:
        other.join()
    with app.app_context():
        job = db.session.get(ReportBatch, job_id)
        pages = db.session.scalar(
            sa.select(sa.func.sum(PrintedReport.pages)).where(PrintedReport.batch_id == job_id)
        )
        stored = db.session.get(ReportBatchFile, job_id)
        size = stored.size if stored else 0
        print(
            f"batch ({output}): {job.status} {job.done} of {job.total} clients in {elapsed:.1f} s, "
            f"{pages} pages, {pages / elapsed:.1f} pages/s, {job.total / elapsed:.1f} clients/s, "
            f"file {size // 1024} KiB {job.error}"
        )
    if waits:
        report(f"  another user's write during the {output} batch", waits)
    print(f"  its failed writes: {len(errors)} {sorted(set(errors))}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default=None)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--commit-every", type=int, default=1)
    parser.add_argument("--pause-ms", type=int, default=20, help="BATCH_SQLITE_PAUSE_MS")
    parser.add_argument("--writers", type=int, default=4, help="other users writing meanwhile")
    parser.add_argument("--skip-batch", action="store_true")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp(prefix="casemgr-bench-")
    url = args.database_url or f"sqlite:///{tmp}/bench.sqlite3"
    app = create_app(
        {
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": tmp,
            "AUDIT_HMAC_KEY": "bench",
            "SECRET_KEY": "bench-secret-key-of-at-least-thirty-two-characters",
            "BATCH_RUNNER": "inline",
            "BATCH_COMMIT_EVERY": args.commit_every,
            "BATCH_SQLITE_PAUSE_MS": args.pause_ms,
        }
    )
    if "progress" not in printing.RENDERERS:
        sys.exit("The progress report is not registered (casemgr/printing/client_report.py).")
    now = datetime.now(UTC).replace(microsecond=0)
    with app.app_context():
        upgrade()
        print(f"database: {db.engine.dialect.name}; CPUs: {os.cpu_count()}")
        t0 = time.perf_counter()
        team, year_episode = fill(args.clients, now)
        team_ids = {"manager": team.manager.id}
        print(
            f"filled: 1 full-year client and {args.clients} more in {time.perf_counter() - t0:.1f} s"
        )
        db.session.remove()
    single(app, team_ids, year_episode, args.repeat, now)
    if not args.skip_batch:
        print(
            f"batch commits every {args.commit_every} client(s), pauses {args.pause_ms} ms "
            f"after each commit on SQLite; {args.writers} other users write meanwhile"
        )
        for output in ("combined", "zip"):
            whole_batch(app, team_ids["manager"], output, now + timedelta(seconds=1), args.writers)


if __name__ == "__main__":
    main()

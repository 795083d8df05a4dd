"""Batch printing: progress reports for many clients in one run, outside the request, and the
record of what was printed.

Decisions (issue 7):
- One click, one run. The form carries a one-time key made when the page was rendered;
  `report_batches.request_key` is unique, so a double click, a refresh that resubmits or two
  workers racing all end at the same batch. Only the request that inserted the row starts a
  runner, and the runner claims the row (queued -> running, row-locked) before doing
  anything, so a batch never runs twice, in one process (the registry below) or across
  gunicorn workers (the claim).
- Runners. The view commits, then hands the batch id to a runner. With REDIS_URL set it goes
  on an RQ queue for `flask worker` (casemgr/queue.py: several app servers, one queue);
  otherwise a daemon thread runs it with its own app context and session. Tests use "inline",
  which runs the same code before the view returns. Progress lives in the database, so the
  status page survives a refresh and any app server can show it.
- Restart. A queued or running batch that has not advanced for BATCH_STALE_MINUTES, is not
  running in this process and is not waiting in the queue was cut off (worker restarted or
  killed, job lost with Redis): it is marked failed, not resumed. A second run would print
  the same clients again; starting a new batch is one click.
- The file. The worker writes it to an anonymous temporary file, then stores its bytes in
  `report_batch_files` in the transaction that marks the batch done with its SHA-256, so any
  app server can hand it out and a failed batch leaves no file row.
- Transactions. Each client's report is rendered, recorded and audited in its own short
  transaction (committed every BATCH_COMMIT_EVERY clients): on SQLite every transaction holds
  the write lock (BEGIN IMMEDIATE), so one long transaction would stall the whole clinic for
  the length of the run.
- Failure. The batch is marked failed with a message, the half-written file is dropped, and
  the print records already committed stay: those PDFs were rendered and audited, and each
  carries the failed batch's id, so the log shows they never left in a finished batch. Rolling
  them back is impossible without editing the append-only audit trail.
- Combined output. pypdf is a test dependency only, and reportlab cannot read PDFs, so the
  combined file is joined here from the per-client PDFs our engine wrote (`_PdfJoin`): every
  page is byte for byte the page recorded and hashed for that client, with its own "page X of
  Y", and each report is rendered once.
- Release outside (issue 8). A batch with a recipient releases every selected client's report
  to them: it is queued only if `consents.decide` finds a covering consent for each client
  (otherwise nothing is queued and each client lacking one is named by MRN), checked again
  when the run starts, and each report goes through `consents.disclose` (the consent page,
  the accounting entry). Without a recipient, a batch is for use within the program.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import re
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, BinaryIO

import redis
import sqlalchemy as sa
from flask import Flask, current_app
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, joinedload

from .. import queue
from ..audit.hooks import acting_as
from ..auth.models import User
from ..clients.models import Client
from ..domain import consent as consent_rules
from ..domain.care import DEFAULT_CODE_SYSTEM, level_name
from ..domain.errors import DomainError
from ..domain.phases import Phase
from ..episodes.models import Episode, LevelOfCareSpan
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, scoped
from ..privacy import consents
from ..timefmt import day_start, local, local_date
from . import record
from .models import PrintedReport, ReportBatch, ReportBatchFile

log = logging.getLogger("casemgr")

KIND = "progress"
SCOPES = ("all", "phase", "counselor", "level")
OUTPUTS = ("combined", "zip")
ACTIVE = ("queued", "running")


# --- What to print ----------------------------------------------------------------------


@dataclass(frozen=True)
class BatchFilter:
    """Which clients: every open episode, or those in one phase, of one primary counselor or
    at one current level of care (ASAM code)."""

    scope: str = "all"
    value: str = ""

    def to_json(self) -> str:
        return record.canonical({"scope": self.scope, "value": self.value})

    @classmethod
    def from_json(cls, text: str) -> BatchFilter:
        data = json.loads(text or "{}")
        return cls(data.get("scope", "all"), data.get("value", ""))


@dataclass(frozen=True)
class Selected:
    client_id: int
    mrn: str
    episode_id: int
    admitted_on: date


def selection(flt: BatchFilter, user: User) -> sa.Select[Any]:
    """Open episodes now, as the census counts them, limited to the clients `user` may see.
    (census.census reads the signed-in user; a batch runs outside the request.)"""
    stmt = (
        sa.select(Client.id, Client.mrn, Episode.id, Episode.admitted_on)
        .join(Episode, Episode.client_id == Client.id)
        .where(Episode.phase != Phase.DISCHARGED)
        .order_by(Client.search_name, Client.id)
    )
    if flt.scope == "phase":
        stmt = stmt.where(Episode.phase == Phase(flt.value))
    elif flt.scope == "counselor":
        stmt = stmt.where(Episode.primary_counselor_id == int(flt.value))
    elif flt.scope == "level":
        current = sa.select(LevelOfCareSpan.id).where(
            LevelOfCareSpan.episode_id == Episode.id,
            LevelOfCareSpan.ended_on.is_(None),
            LevelOfCareSpan.code == flt.value,
        )
        stmt = stmt.where(current.exists())
    return scoped(stmt, Perm.CLIENT_VIEW, user)


def describe(session: Session, flt: BatchFilter) -> str:
    """The selection in words, for the status page."""
    if flt.scope == "phase":
        return f"Clients in {Phase(flt.value).label.lower()}"
    if flt.scope == "counselor":
        user = session.get(User, int(flt.value))
        return f"Caseload of {user.full_name if user else 'a former counselor'}"
    if flt.scope == "level":
        return (
            f"Clients at level of care {flt.value} ({level_name(DEFAULT_CODE_SYSTEM, flt.value)})"
        )
    return "All active clients"


def select_clients(session: Session, flt: BatchFilter, user: User) -> list[Selected]:
    return [Selected(*row) for row in session.execute(selection(flt, user))]


def request_batch(
    session: Session,
    key: str,
    filters: BatchFilter,
    output: str,
    purpose: str,
    recipient: str,
    *,
    by: User,
    now: datetime,
) -> tuple[ReportBatch, bool]:
    """The batch this form submission asked for, and whether this call created it. The same
    key again (double click, resubmitted form, a concurrent request) returns the first one."""
    existing = _by_key(session, key, by)
    if existing is not None:
        return existing, False
    if output not in OUTPUTS or filters.scope not in SCOPES:
        raise DomainError("Choose what to print from the form.")
    total = session.scalar(
        sa.select(sa.func.count()).select_from(selection(filters, by).subquery())
    )
    if not total:
        raise DomainError("No active client matches this selection.", "scope")
    if recipient.strip():
        refused = unconsented(session, filters, recipient, purpose, by=by, today=local_date(now))
        if refused:
            raise BatchRefused(refused)
    batch = ReportBatch(
        request_key=key,
        requested_by_id=by.id,
        filters=filters.to_json(),
        output=output,
        purpose=purpose.strip(),
        recipient=recipient.strip(),
        status="queued",
        total=total,
        created_at=now,
        updated_at=now,
    )
    try:
        with session.begin_nested():
            session.add(batch)
    except IntegrityError:  # another request with this key committed first
        existing = _by_key(session, key, by)
        if existing is None:
            raise
        return existing, False
    return batch, True


# --- Released outside: every client's consent -------------------------------------------


class BatchRefused(DomainError):
    """A release whose selection names clients without a covering consent: nothing is queued.
    One act of disclosure to one recipient: leaving clients out silently would mislead them."""

    def __init__(self, refused: list[tuple[Client, consents.Refused]]):
        self.refused = refused
        self.reasons = [f"MRN {c.mrn}: {why}" for c, why in refused]
        count = len(refused)
        super().__init__(
            f"Not queued: {count} selected client{'s' if count != 1 else ''} without a consent "
            "that covers releasing the progress report. Nothing was printed or recorded.",
            "recipient",
        )


def unconsented(
    session: Session, flt: BatchFilter, recipient: str, purpose: str, *, by: User, today: date
) -> list[tuple[Client, consents.Refused]]:
    """The selected clients no consent covers for this release (consents.decide, the same
    function a single disclosure uses), in the selection's order, with the reason."""
    ids = [item.client_id for item in select_clients(session, flt, by)]
    people = {c.id: c for c in session.scalars(sa.select(Client).where(Client.id.in_(ids)))}
    found = consents.covering_each(
        session,
        [people[i] for i in ids],
        recipient=recipient,
        purpose=purpose,
        information=consent_rules.PROGRESS_REPORT,
        today=today,
    )
    return [(people[i], w) for i in ids if isinstance(w := found[i], consents.Refused)]


def _by_key(session: Session, key: str, by: User) -> ReportBatch | None:
    batch = session.scalar(sa.select(ReportBatch).where(ReportBatch.request_key == key))
    if batch is not None and batch.requested_by_id != by.id:
        raise DomainError("This form was already used. Open the batch form again.")
    return batch


# --- Running it -------------------------------------------------------------------------

_active: set[int] = set()  # batches running in this process
_lock = threading.Lock()


def start(app: Flask, batch_id: int) -> bool:
    """Run a batch with the configured runner; False if it is already running here. Call
    after the batch row is committed: the runner reads it in its own session."""
    if runner(app) == "queue" and _enqueued(app, batch_id):
        return True
    with _lock:
        if batch_id in _active:
            return False
        _active.add(batch_id)
    try:
        if runner(app) == "inline":
            _run_then_release(app, batch_id)
        else:
            name = f"report-batch-{batch_id}"
            threading.Thread(
                target=_run_then_release, args=(app, batch_id), name=name, daemon=True
            ).start()
    except BaseException:
        _release(batch_id)
        raise
    return True


def _enqueued(app: Flask, batch_id: int) -> bool:
    """On the queue for a worker; False, with a warning, when Redis cannot be reached: the
    batch then runs in this process, and its file still reaches every app server."""
    try:
        queue.enqueue(app, batch_id)
    except redis.RedisError as exc:
        log.warning(
            "report batch %s: queue unreachable (%s); running it here", batch_id, type(exc).__name__
        )
        return False
    return True


def runner(app: Flask) -> str:
    """queue, thread or inline: BATCH_RUNNER, with "auto" meaning the queue when Redis is set."""
    chosen = app.config.get("BATCH_RUNNER", "auto")
    if chosen == "auto":
        return "queue" if app.config.get("REDIS_URL") else "thread"
    return chosen


def is_running_here(batch_id: int) -> bool:
    with _lock:
        return batch_id in _active


def _release(batch_id: int) -> None:
    with _lock:
        _active.discard(batch_id)


def _run_then_release(app: Flask, batch_id: int) -> None:
    try:
        run_batch(app, batch_id)
    finally:
        _release(batch_id)


def run_batch(app: Flask, batch_id: int) -> None:
    """Print every selected client's progress report and write the batch file. Runs in its
    own app context and session; never raises (a failure is recorded on the batch)."""
    with app.app_context():
        try:
            _run(db.session, batch_id)
        except Exception:  # the batch row itself could not be updated: only the log remains
            db.session.rollback()
            log.exception("report batch %s could not be run", batch_id)
        finally:
            db.session.remove()


class BatchStopped(Exception):
    """A reason to stop that the requester can read on the status page."""


def _run(session: Session, batch_id: int) -> None:
    requester = session.execute(
        sa.select(User.id, User.login)
        .join(ReportBatch, ReportBatch.requested_by_id == User.id)
        .where(ReportBatch.id == batch_id)
    ).first()
    session.rollback()
    if requester is None:
        return
    with acting_as(requester.id, requester.login):
        batch = _claim(session, batch_id, utcnow().replace(microsecond=0))
        if batch is None:
            return
        try:
            _print_all(session, batch)
        except Exception as exc:
            session.rollback()
            if not isinstance(exc, BatchStopped):
                log.exception("report batch %s failed", batch_id)
            _fail(session, batch_id, _message(exc, batch_id))
            session.commit()


def _claim(session: Session, batch_id: int, now: datetime) -> ReportBatch | None:
    """queued -> running, under a row lock: whoever claims it runs it, nobody else."""
    batch = session.scalar(
        sa.select(ReportBatch).where(ReportBatch.id == batch_id).with_for_update()
    )
    if batch is None or batch.status != "queued":
        session.rollback()
        return None
    batch.status, batch.started_at, batch.done = "running", now, 0
    session.commit()
    return batch


def _print_all(session: Session, batch: ReportBatch) -> None:
    if KIND not in record.RENDERERS:
        raise BatchStopped("Progress reports are not available in this installation.")
    flt = BatchFilter.from_json(batch.filters)
    clients = select_clients(session, flt, batch.requested_by)
    if not clients:
        raise BatchStopped("No active client matched the selection when the batch started.")
    if batch.recipient:  # a consent may have lapsed since the batch was asked for
        today = local_date(batch.started_at)
        lapsed = unconsented(
            session, flt, batch.recipient, batch.purpose, by=batch.requested_by, today=today
        )
        if lapsed:
            mrns = ", ".join(c.mrn for c, _ in lapsed)
            raise BatchStopped(f"Not released: no consent covers it any more for MRN {mrns}.")
    batch.total = len(clients)
    job = _Job(batch.id, batch.started_at, batch.purpose, batch.recipient, batch.requested_by)
    output = batch.output
    session.commit()
    # An anonymous temporary file (no name on disk, owner-only): a crash leaves nothing.
    with tempfile.TemporaryFile() as out:
        with _sink(output, out, f"Progress reports, batch {job.id}", job.started) as sink:
            _print_each(session, job, clients, sink)
        _store(session, job.id, output, out)
    session.commit()


@dataclass(frozen=True)
class _Job:
    """What every client's print record repeats, read once (each commit expires the batch)."""

    id: int
    started: datetime
    purpose: str
    recipient: str
    by: User


def _print_each(session: Session, job: _Job, clients: list[Selected], sink: Any) -> None:
    every = max(1, int(current_app.config.get("BATCH_COMMIT_EVERY", 1)))
    pause = _pause(session)
    period_end = local_date(job.started)
    for n, item in enumerate(clients, start=1):
        try:
            sink.add(item, *_print_one(session, job, item, period_end))
        except Exception as exc:
            raise _Stopped(n, len(clients), item.mrn) from exc
        if n % every == 0 or n == len(clients):
            _progress(session, job.id, n)
            session.commit()
            time.sleep(pause)


def _print_one(
    session: Session, job: _Job, item: Selected, period_end: date
) -> tuple[PrintedReport, bytes]:
    """One client's report: for use within the program, or (a recipient set) released through
    the one disclosure path, which decides on the client's consent again, closes the PDF with
    it and writes the accounting entry."""
    if job.recipient:
        release = consents.disclose(
            session,
            session.get(Client, item.client_id),
            recipient=job.recipient,
            purpose=job.purpose,
            information=consent_rules.PROGRESS_REPORT,
            period=(item.admitted_on, period_end),
            by=job.by,
            now=job.started,
            today=period_end,
            batch_id=job.id,
        )
        return release.report, release.data
    row = record.draft(
        kind=KIND,
        generated_at=job.started,
        by=job.by,
        client_id=item.client_id,
        episode_id=item.episode_id,
        period=(item.admitted_on, period_end),
        purpose=job.purpose,
        batch_id=job.id,
    )
    return row, record.produce(session, row)


def _store(session: Session, batch_id: int, output: str, out: BinaryIO) -> None:
    """The finished file into the database, with the batch marked done and its SHA-256: one
    transaction, so a reader sees a done batch with its file or a running one without."""
    out.seek(0)
    content = out.read()
    batch = session.get(ReportBatch, batch_id)
    batch.status, batch.finished_at = "done", utcnow()
    batch.file_name = f"batch-{batch_id}.{_extension(output)}"
    batch.sha256 = hashlib.sha256(content).hexdigest()
    session.add(ReportBatchFile(batch_id=batch_id, content=content, size=len(content)))


class _Stopped(Exception):
    def __init__(self, n: int, total: int, mrn: str):
        super().__init__(n, total, mrn)
        self.n, self.total, self.mrn = n, total, mrn


def _message(exc: Exception, batch_id: int) -> str:
    if isinstance(exc, BatchStopped):
        return str(exc)
    reference = f"The error is in the server log (batch {batch_id})."
    if isinstance(exc, _Stopped) and isinstance(exc.__cause__, consents.Refused):
        return (
            f"Stopped at client {exc.n} of {exc.total} (MRN {exc.mrn}): no consent covers the "
            f"release any more: {exc.__cause__} The {exc.n - 1} reports before it were recorded."
        )
    if isinstance(exc, _Stopped):
        return (
            f"Stopped at client {exc.n} of {exc.total} (MRN {exc.mrn}): the report could not "
            f"be produced. {reference} The {exc.n - 1} reports before it were recorded."
        )
    return f"The batch file could not be written. {reference}"


def _pause(session: Session) -> float:
    """Seconds to leave the database alone after each commit. SQLite has one writer at a time
    and every transaction here takes the write lock (BEGIN IMMEDIATE); a waiting request
    retries on its busy timeout's back-off (at most every 100 ms), so a batch that began its
    next transaction at once would starve everyone else until it ended."""
    if session.get_bind().dialect.name != "sqlite":
        return 0.0
    return max(0, int(current_app.config.get("BATCH_SQLITE_PAUSE_MS", 20))) / 1000


def _progress(session: Session, batch_id: int, done: int) -> None:
    # A progress counter is bookkeeping, like a session's last_seen_at: updated in Core so the
    # audit trail gets the batch's status changes, not one row per client. updated_at is the
    # heartbeat that tells a live batch from one cut off by a restart.
    session.execute(
        sa.update(ReportBatch.__table__)
        .where(ReportBatch.__table__.c.id == batch_id)
        .values(done=done, updated_at=utcnow())
    )


def _fail(session: Session, batch_id: int, message: str) -> None:
    batch = session.get(ReportBatch, batch_id)
    batch.status, batch.error, batch.finished_at = "failed", message[:500], utcnow()
    batch.file_name, batch.sha256 = "", ""


def expire_stale(session: Session, *, now: datetime, batch_id: int | None = None) -> int:
    """Mark failed the queued or running batches that stopped advancing (their process was
    restarted or killed, or their job was lost with Redis). Returns how many."""
    minutes = int(current_app.config.get("BATCH_STALE_MINUTES", 10))
    stmt = sa.select(ReportBatch).where(
        ReportBatch.status.in_(ACTIVE), ReportBatch.updated_at < now - timedelta(minutes=minutes)
    )
    if batch_id is not None:
        stmt = stmt.where(ReportBatch.id == batch_id)
    expired = [b for b in session.scalars(stmt) if not _alive(b)]
    for batch in expired:
        _fail(
            session,
            batch.id,
            "Interrupted: the server or its worker restarted before the batch finished. "
            "Start a new batch.",
        )
    return len(expired)


def _alive(batch: ReportBatch) -> bool:
    """Running in this process, or still waiting its turn in the queue (a worker busy with a
    long batch leaves the next one queued and silent for a while)."""
    if is_running_here(batch.id):
        return True
    app = current_app._get_current_object()
    return batch.status == "queued" and runner(app) == "queue" and queue.waiting(app, batch.id)


def recent(session: Session, limit: int = 10) -> list[ReportBatch]:
    stmt = (
        sa.select(ReportBatch)
        .options(joinedload(ReportBatch.requested_by))
        .order_by(ReportBatch.id.desc())
        .limit(limit)
    )
    return list(session.scalars(stmt))


# --- Files ------------------------------------------------------------------------------

MIMETYPES = {"combined": "application/pdf", "zip": "application/zip"}


def _extension(output: str) -> str:
    return "zip" if output == "zip" else "pdf"


def batch_file(session: Session, batch: ReportBatch) -> ReportBatchFile | None:
    """The stored file of a done batch, its bytes not loaded (the column is deferred)."""
    if batch.status != "done":
        return None
    return session.get(ReportBatchFile, batch.id)


def file_name(batch: ReportBatch) -> str:
    return f"progress-reports-batch-{batch.id}.{_extension(batch.output)}"


@contextmanager
def _sink(output: str, out: BinaryIO, title: str, at: datetime) -> Iterator[Any]:
    """Where each client's PDF goes; finished only when every client was added."""
    sink = _ZipSink(out, at) if output == "zip" else _PdfJoin(out)
    try:
        yield sink
    except BaseException:
        sink.abandon()
        raise
    sink.close(title, at)


class _ZipSink:
    """One PDF per client, named by MRN, and manifest.csv with each file's SHA-256."""

    def __init__(self, out: BinaryIO, started: datetime):
        self.zip = zipfile.ZipFile(out, "w", zipfile.ZIP_STORED)
        self.stamp = local(started).timetuple()[:6]
        self.manifest = io.StringIO()
        self.csv = csv.writer(self.manifest, lineterminator="\n")
        self.csv.writerow(["file", "mrn", "print_record", "pages", "bytes", "sha256"])

    def _entry(self, name: str, data: bytes) -> None:
        info = zipfile.ZipInfo(name, date_time=self.stamp)
        info.external_attr = 0o600 << 16
        self.zip.writestr(info, data)

    def add(self, item: Selected, row: PrintedReport, data: bytes) -> None:
        name = f"progress-{re.sub(r'[^A-Za-z0-9-]', '_', item.mrn)}.pdf"
        self._entry(name, data)
        self.csv.writerow([name, item.mrn, row.id, row.pages, row.size_bytes, row.sha256])

    def close(self, *_: object) -> None:
        self._entry("manifest.csv", self.manifest.getvalue().encode())
        self.zip.close()

    def abandon(self) -> None:
        self.zip.close()  # into the temporary file, which is then removed


# --- Joining PDFs -----------------------------------------------------------------------

# In an object's dictionary: a literal string (left alone), an indirect reference, or the
# six-letter tag of a font subset. Streams are copied without being looked at.
_TOKENS = re.compile(rb"(\((?:\\.|[^\\()])*\))|\b(\d+) 0 R\b|/([A-Z]{6})\+")
_INHERITED = (b"/MediaBox", b"/Resources", b"/CropBox", b"/Rotate")


def _ref(text: bytes, key: bytes) -> int:
    match = re.search(re.escape(key) + rb"\s+(\d+) 0 R", text)
    if match is None:
        raise ValueError(f"unexpected PDF layout: no {key.decode()}")
    return int(match.group(1))


class _PdfJoin:
    """Concatenates PDFs written by casemgr's engine (reportlab: one classic xref table, no
    object streams, no encryption) into one file, streaming: each input's objects are copied
    with new numbers, its pages hung under one page tree. Anything else is refused."""

    PAGES, CATALOG, INFO = 1, 2, 3

    def __init__(self, out: BinaryIO):
        self.out = out
        self.offsets: dict[int, int] = {}
        self.next = 4
        self.kids: list[int] = []
        self.tags = 0
        self.out.write(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3 casemgr\n")

    def add(self, _item: object, _row: object, data: bytes) -> None:
        objects, root, info = _objects(data)
        pages, kids = self._page_tree(objects, _ref(objects[root][0], b"/Pages"))
        numbers = {}
        for old in sorted(objects):
            if old not in pages and old not in (root, info):
                numbers[old] = self.next
                self.next += 1
        self.kids += [numbers[k] for k in kids]
        tags: dict[bytes, bytes] = {}

        def renumber(match: re.Match[bytes]) -> bytes:
            if match.group(1) is not None:
                return match.group(0)
            if match.group(3) is not None:  # subset tags must differ between documents
                return b"/" + tags.setdefault(match.group(3), self._tag()) + b"+"
            old = int(match.group(2))
            if old in numbers:
                return b"%d 0 R" % numbers[old]
            return b"%d 0 R" % self.PAGES if old in pages else b"null"

        for old, new in numbers.items():
            head, stream = objects[old]
            self.offsets[new] = self.out.tell()
            self.out.write(b"%d 0 obj\n" % new + _TOKENS.sub(renumber, head) + stream)

    def _page_tree(self, objects: dict, node: int) -> tuple[set[int], list[int]]:
        head = objects[node][0]
        if not re.search(rb"/Type\s*/Pages\b", head):
            return set(), [node]
        if any(key in head for key in _INHERITED):
            raise ValueError("unexpected PDF layout: inherited page attributes")
        nodes, kids = {node}, []
        listed = re.search(rb"/Kids\s*\[([^\]]*)\]", head)
        for kid in re.findall(rb"(\d+) 0 R", listed.group(1) if listed else b""):
            more, pages = self._page_tree(objects, int(kid))
            nodes |= more
            kids += pages
        return nodes, kids

    def _tag(self) -> bytes:
        n, letters = self.tags, []
        self.tags += 1
        for _ in range(6):
            n, r = divmod(n, 26)
            letters.append(65 + r)
        return bytes(reversed(letters))

    def _put(self, number: int, body: bytes) -> None:
        self.offsets[number] = self.out.tell()
        self.out.write(b"%d 0 obj\n%s\nendobj\n" % (number, body))

    def abandon(self) -> None:
        pass

    def close(self, title: str, at: datetime) -> None:
        if not self.kids:
            raise ValueError("nothing to join")
        kids = b" ".join(b"%d 0 R" % k for k in self.kids)
        self._put(self.PAGES, b"<< /Type /Pages /Count %d /Kids [ %s ] >>" % (len(self.kids), kids))
        self._put(self.CATALOG, b"<< /Type /Catalog /Pages %d 0 R >>" % self.PAGES)
        stamp = at.astimezone(UTC).strftime("D:%Y%m%d%H%M%S+00'00'").encode()
        safe_title = re.sub(r"[^A-Za-z0-9 ,.-]", "", title).encode()
        self._put(
            self.INFO,
            b"<< /Title (%s) /Creator (casemgr) /Producer (casemgr) /CreationDate (%s) >>"
            % (safe_title, stamp),
        )
        xref = self.out.tell()
        self.out.write(b"xref\n0 %d\n0000000000 65535 f \n" % self.next)
        for number in range(1, self.next):
            self.out.write(b"%010d 00000 n \n" % self.offsets[number])
        ident = hashlib.md5(f"{title}|{at.isoformat()}".encode(), usedforsecurity=False).hexdigest()
        self.out.write(
            b"trailer\n<< /Size %d /Root %d 0 R /Info %d 0 R /ID [<%s><%s>] >>\nstartxref\n%d\n%%%%EOF\n"
            % (self.next, self.CATALOG, self.INFO, ident.encode(), ident.encode(), xref)
        )


def _objects(data: bytes) -> tuple[dict[int, tuple[bytes, bytes]], int, int]:
    """Object number -> (dictionary part, stream part through `endobj`), the root and info."""
    xref = int(data[data.rindex(b"startxref") + 9 :].split()[0])
    table = re.match(rb"xref\s+0 \d+\s+", data[xref:])
    at = data.find(b"trailer", xref)
    if table is None or at < 0 or b"/Encrypt" in data[at:]:
        raise ValueError("unexpected PDF layout: not a plain xref table")
    entries = re.findall(rb"(\d{10}) \d{5} ([nf])", data[xref + table.end() : at])
    trailer = data[at:]
    starts = sorted((int(off), num) for num, (off, kind) in enumerate(entries) if kind == b"n")
    objects = {}
    for i, (offset, num) in enumerate(starts):
        end = starts[i + 1][0] if i + 1 < len(starts) else xref
        body = data[offset:end]
        header = re.match(rb"(\d+) 0 obj\s*", body)
        if header is None or int(header.group(1)) != num:
            raise ValueError("unexpected PDF layout: xref offset")
        stream = re.search(rb">>\s*stream\r?\n", body)
        split = stream.start() + 2 if stream else len(body)
        objects[num] = (body[header.end() : split], body[split:])
    return objects, _ref(trailer, b"/Root"), _ref(trailer, b"/Info")


# --- The record of what was printed -----------------------------------------------------

LOG_PAGE_SIZE = 50


@dataclass(frozen=True)
class LogFilter:
    kind: str = ""
    since: date | None = None
    until: date | None = None  # inclusive


@dataclass(frozen=True)
class LogLine:
    report: PrintedReport
    client: Client | None
    batch_status: str | None


def printed(session: Session, flt: LogFilter, page: int, user: User) -> tuple[list[LogLine], bool]:
    """One page of print records, newest first, with their client (within the user's scope)
    and batch: a fixed number of queries whatever the page holds."""
    stmt = (
        sa.select(PrintedReport, Client, ReportBatch.status)
        .outerjoin(Client, Client.id == PrintedReport.client_id)
        .outerjoin(ReportBatch, ReportBatch.id == PrintedReport.batch_id)
        .options(joinedload(PrintedReport.generated_by))
        .order_by(PrintedReport.generated_at.desc(), PrintedReport.id.desc())
    )
    if flt.kind:
        stmt = stmt.where(PrintedReport.kind == flt.kind)
    if flt.since:
        stmt = stmt.where(PrintedReport.generated_at >= day_start(flt.since))
    if flt.until:
        stmt = stmt.where(PrintedReport.generated_at < day_start(flt.until + timedelta(days=1)))
    stmt = scoped(stmt, Perm.CLIENT_VIEW, user)
    rows = session.execute(stmt.limit(LOG_PAGE_SIZE + 1).offset((page - 1) * LOG_PAGE_SIZE))
    lines = [LogLine(*row) for row in rows.unique()]
    return lines[:LOG_PAGE_SIZE], len(lines) > LOG_PAGE_SIZE


def printed_kinds(session: Session) -> list[str]:
    stored = set(session.scalars(sa.select(PrintedReport.kind).distinct()))
    return sorted(stored | set(record.RENDERERS))


def load_printed(session: Session, report_id: int, user: User) -> PrintedReport | None:
    """A print record the user may see (its client in scope), or None."""
    stmt = (
        sa.select(PrintedReport)
        .outerjoin(Client, Client.id == PrintedReport.client_id)
        .where(PrintedReport.id == report_id)
    )
    return session.scalar(scoped(stmt, Perm.CLIENT_VIEW, user))

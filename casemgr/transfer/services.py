"""The client import (a dry run, then all rows or none) and the census export.

Services flush and audit; the view commits once.
"""

from __future__ import annotations

import csv
import hashlib
import hmac
import io
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import cached_property
from typing import Any

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..auth.models import User
from ..clients import services as clients
from ..clients.models import Client, MrnSequence
from ..domain import client_import as ci
from ..domain.care import Setting, level_name
from ..domain.client_import import ParsedRow, RowError
from ..domain.errors import DomainError
from ..domain.face_sheet import FaceSheet, Funding, SubstanceUse
from ..domain.passwords import normalize_login
from ..domain.phases import Phase
from ..domain.roles import Role
from ..domain.text import fold, neutralize_cell
from ..episodes import census as census_query
from ..episodes import services as episodes
from ..episodes.models import PhaseChange
from ..timefmt import day_start, facility_tz

_CHUNK = 500  # values per IN (...) list

# DomainError.field from clients.services.validate -> the import column to blame.
_COLUMN_OF = {"substance_1": "primary_substance"}


# ------------------------------------------------------------------------ import


@dataclass(frozen=True)
class Planned:
    """What one clean row will create, for the dry-run page."""

    number: int
    legal_name: str
    date_of_birth: date | None
    mrn: str | None  # None: a new MRN will be issued
    admitted_on: date | None
    counselor: str


@dataclass(frozen=True)
class Report:
    rows: list[Planned]
    errors: list[RowError]

    @property
    def ok(self) -> bool:
        return bool(self.rows) and not self.errors

    @property
    def admissions(self) -> int:
        return sum(1 for r in self.rows if r.admitted_on)

    @cached_property
    def _per_row(self) -> Counter:
        return Counter(e.row for e in self.errors)

    def errors_of(self, number: int) -> int:
        return self._per_row[number]


class ImportRefused(Exception):
    def __init__(self, report: Report):
        super().__init__("the file has errors")
        self.report = report


@dataclass
class _Plan:
    row: ParsedRow
    sheet: FaceSheet | None = None
    counselor: User | None = None


def sign(data: bytes, user_id: int) -> str:
    """HMAC-SHA256 of the checked file, bound to the user, so the confirm step can prove it
    receives exactly the bytes the dry run passed."""
    key = current_app.config["SECRET_KEY"]
    key = key if isinstance(key, bytes) else key.encode()
    message = b"casemgr.client-import\x00%d\x00" % user_id + data
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature_matches(data: bytes, user_id: int, digest: str) -> bool:
    return hmac.compare_digest(sign(data, user_id), digest)


def dry_run(session: Session, data: bytes, *, today: date) -> Report:
    """Check every row; nothing is written."""
    return _check(session, data, today)[0]


def import_clients(
    session: Session, data: bytes, *, actor: User, today: date, now: datetime
) -> tuple[list[Client], int]:
    """Check again and register every row, or raise ImportRefused having written nothing
    the caller must keep (it rolls back). Returns the clients and how many were admitted."""
    last = _lock_sequence(session)  # serialises against intakes until the commit
    report, plans = _check(session, data, today)
    if not report.ok:
        raise ImportRefused(report)
    numbers = _Numbers(session, last, [p.row.mrn_number for p in plans])
    created = []
    for plan in plans:
        try:
            created.append(_create(session, plan, numbers, actor=actor, today=today, now=now))
        except DomainError as exc:  # a rule the checks missed: refuse the whole file
            error = RowError(plan.row.number, _COLUMN_OF.get(exc.field, exc.field or ""), str(exc))
            raise ImportRefused(Report(report.rows, [error])) from exc
    numbers.finish()
    record(
        session,
        "clients.imported",
        detail={"rows": len(created), "admitted": report.admissions},
    )
    return created, report.admissions


def _create(
    session: Session, plan: _Plan, numbers: _Numbers, *, actor: User, today: date, now: datetime
) -> Client:
    assert plan.sheet is not None
    numbers.before(plan.row.mrn_number)
    client = clients.register(session, plan.sheet, actor=actor, today=today)
    if plan.row.admitted_on is not None:
        episodes.admit(
            session,
            client,
            actor=actor,
            admitted_on=plan.row.admitted_on,
            counselor=plan.counselor,
            now=now,
            admitted_at=day_start(plan.row.admitted_on),
        )
    return client


def _check(session: Session, data: bytes, today: date) -> tuple[Report, list[_Plan]]:
    table = ci.read_table(data)
    if table.errors:
        return Report([], sorted(table.errors)), []
    prefix = current_app.config["MRN_PREFIX"]
    plans = [_Plan(ci.parse_row(number, cells, prefix)) for number, cells in table.records]
    for plan in plans:
        _check_dates(plan.row, today)
        plan.sheet = _sheet(plan.row, today)
    rows = [p.row for p in plans]
    _check_duplicates(session, rows)
    _check_mrns(session, rows)
    counselors = _counselors(session, rows)
    for plan in plans:
        plan.counselor = counselors.get(plan.row.number)
    errors = sorted(e for row in rows for e in row.errors)
    return Report([_planned(p) for p in plans], errors), plans


def _planned(plan: _Plan) -> Planned:
    face = plan.row.face
    first, last = face.get("legal_first_name") or "", face.get("legal_last_name") or ""
    return Planned(
        number=plan.row.number,
        legal_name=f"{last}, {first}" if first and last else last or first,
        date_of_birth=face.get("date_of_birth"),
        mrn=plan.row.mrn,
        admitted_on=plan.row.admitted_on,
        counselor=plan.counselor.display_name if plan.counselor else "",
    )


def _error(row: ParsedRow, column: str, message: str) -> None:
    row.errors.append(RowError(row.number, column, message))


def _check_dates(row: ParsedRow, today: date) -> None:
    admitted = row.admitted_on
    if admitted is None:
        return
    born, contact = row.face.get("date_of_birth"), row.face.get("first_contact_on")
    if admitted > today:
        _error(row, "admitted_on", "The admission date cannot be in the future.")
    elif born and admitted < born:
        _error(row, "admitted_on", "The admission date is before the date of birth.")
    elif contact and admitted < contact:
        _error(row, "admitted_on", "The admission date is before the first contact.")


def _sheet(row: ParsedRow, today: date) -> FaceSheet | None:
    """The same FaceSheet the intake form builds, checked by the same rules."""
    if row.errors:
        return None
    sheet = FaceSheet(
        **row.face,
        risk_flags=row.risk_flags,
        funding=tuple(Funding(*f) for f in row.funding),
        substances=tuple(SubstanceUse(*s) for s in row.substances),
    )
    try:
        clients.validate(sheet, today)
    except DomainError as exc:
        _error(row, _COLUMN_OF.get(exc.field or "", exc.field or ""), str(exc))
        return None
    return sheet


def _chunks(values: Iterable[Any]) -> Iterator[list[Any]]:
    values = list(values)
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def _check_duplicates(session: Session, rows: list[ParsedRow]) -> None:
    """The same legal name and date of birth twice in the file, or already registered."""
    first_row: dict[tuple, int] = {}
    for row in rows:
        key = row.identity
        if key is None:
            continue
        if key in first_row:
            _error(
                row,
                "legal_last_name",
                f"Duplicate client: the same legal name and date of birth as row {first_row[key]}.",
            )
        else:
            first_row[key] = row.number
    registered: dict[tuple, str] = {}
    for births in _chunks(sorted({key[2] for key in first_row})):
        stmt = sa.select(
            Client.legal_first_name, Client.legal_last_name, Client.date_of_birth, Client.mrn
        ).where(Client.date_of_birth.in_(births))
        for first, last, born, mrn in session.execute(stmt):
            registered.setdefault((fold(first), fold(last), born), mrn)
    for row in rows:
        mrn = registered.get(row.identity) if row.identity else None
        if mrn:
            _error(row, "legal_last_name", f"Duplicate client: already registered as {mrn}.")


def _check_mrns(session: Session, rows: list[ParsedRow]) -> None:
    first_row: dict[str, int] = {}
    for row in rows:
        if row.mrn is None:
            continue
        if row.mrn in first_row:
            _error(row, "mrn", f"Duplicate MRN: {row.mrn} is also on row {first_row[row.mrn]}.")
        else:
            first_row[row.mrn] = row.number
    in_use: set[str] = set()
    for mrns in _chunks(sorted(first_row)):
        in_use.update(session.scalars(sa.select(Client.mrn).where(Client.mrn.in_(mrns))))
    for row in rows:
        if row.mrn in in_use:
            _error(row, "mrn", f"Duplicate MRN: {row.mrn} is already in use.")


def _counselors(session: Session, rows: list[ParsedRow]) -> dict[int, User]:
    wanted = {
        row.number: normalize_login(row.counselor_login) for row in rows if row.counselor_login
    }
    found: dict[str, User] = {}
    for logins in _chunks(sorted(set(wanted.values()))):
        found.update(
            (u.login, u) for u in session.scalars(sa.select(User).where(User.login.in_(logins)))
        )
    result = {}
    by_number = {row.number: row for row in rows}
    for number, login in wanted.items():
        user = found.get(login)
        if user is None or not user.active or Role.COUNSELOR not in user.roles:
            _error(by_number[number], "counselor_login", "No active counselor has this login.")
        else:
            result[number] = user
    return result


def _lock_sequence(session: Session) -> int:
    table = MrnSequence.__table__
    last = session.execute(
        sa.select(table.c.last_number).where(table.c.id == 1).with_for_update()
    ).scalar_one_or_none()
    if last is None:  # a database built without the seed row
        session.execute(sa.insert(table).values(id=1, last_number=0))
        last = 0
    return last


class _Numbers:
    """Issuing MRNs when the file brings some of its own.

    register() always takes the next number from the sequence; before each row the sequence
    is set so that this next number is the row's given MRN, or, for a row without one, the
    next number above every MRN issued so far and every MRN in the file. At the end it is
    left at the highest number used, so later intakes never collide with an imported MRN.
    Files without an mrn column never touch the sequence beyond register() itself.
    """

    def __init__(self, session: Session, last: int, given: list[int | None]):
        self.session = session
        numbers = [n for n in given if n is not None]
        self.active = bool(numbers)
        self.high = max([last, *numbers])
        self.issued = self.high

    def before(self, number: int | None) -> None:
        if not self.active:
            return
        if number is None:
            self.issued += 1
            number = self.issued
        self._set(number - 1)

    def finish(self) -> None:
        if self.active:
            self._set(max(self.high, self.issued))

    def _set(self, last: int) -> None:
        table = MrnSequence.__table__
        self.session.execute(sa.update(table).where(table.c.id == 1).values(last_number=last))


# ------------------------------------------------------------------------ census

CENSUS_COLUMNS = (
    "MRN",
    "Last name",
    "First name",
    "Date of birth",
    "Admitted",
    "Phase",
    "Phase since",
    "Level of care code",
    "Level name",
    "Setting",
    "Primary counselor",
)


@dataclass(frozen=True)
class CensusLine:
    client_id: int
    mrn: str
    last_name: str
    first_name: str
    date_of_birth: date
    admitted_on: date
    phase: Phase
    phase_since: date
    level_code: str
    level_name: str
    setting: str
    counselor: str

    def cells(self) -> list[str]:
        values = (
            self.mrn,
            self.last_name,
            self.first_name,
            self.date_of_birth.isoformat(),
            self.admitted_on.isoformat(),
            self.phase.label,
            self.phase_since.isoformat(),
            self.level_code,
            self.level_name,
            self.setting,
            self.counselor,
        )
        return [neutralize_cell(v) for v in values]


def census(session: Session, on: date) -> tuple[list[CensusLine], dict[str, Counter]]:
    """The census of `on` (clients the current user may see) and its counts."""
    tz = facility_tz()
    rows = census_query.census(session, on, tz)
    since = _phase_since(session, rows, on, tz)
    return [_line(r, since[r.episode.id]) for r in rows], census_query.counts(rows)


def _line(row: census_query.CensusRow, since: date) -> CensusLine:
    level = row.level
    return CensusLine(
        client_id=row.client.id,
        mrn=row.client.mrn,
        last_name=row.client.legal_last_name,
        first_name=row.client.legal_first_name,
        date_of_birth=row.client.date_of_birth,
        admitted_on=row.episode.admitted_on,
        phase=row.phase,
        phase_since=since,
        level_code=level.code if level else "",
        level_name=level_name(level.code_system, level.code) if level else "",
        setting=_setting_label(level.setting) if level else "",
        counselor=row.counselor.full_name if row.counselor else "",
    )


def _setting_label(value: str) -> str:
    try:
        return Setting(value).label
    except ValueError:
        return value


def _phase_since(session: Session, rows: list, on: date, tz: Any) -> dict[int, date]:
    """The date each episode entered the phase it was in on `on`: the current phase's start
    while it has not moved since; otherwise the admission date or the move's local date."""
    day_end = datetime.combine(on + timedelta(days=1), time.min, tzinfo=tz)
    before: dict[int, tuple[int, Phase | None, datetime]] = {}
    latest: dict[int, int] = {}
    for ids in _chunks(r.episode.id for r in rows):
        stmt = (
            sa.select(
                PhaseChange.episode_id,
                PhaseChange.id,
                PhaseChange.from_phase,
                PhaseChange.effective_at,
            )
            .where(PhaseChange.episode_id.in_(ids))
            .order_by(PhaseChange.effective_at, PhaseChange.id)
        )
        for episode_id, change_id, from_phase, at in session.execute(stmt):
            latest[episode_id] = change_id
            if at < day_end:
                before[episode_id] = (change_id, from_phase, at)
    result = {}
    for r in rows:
        episode, change = r.episode, before.get(r.episode.id)
        if change is None or change[0] == latest.get(episode.id):
            result[episode.id] = episode.phase_started_on
        elif change[1] is None:
            result[episode.id] = episode.admitted_on
        else:
            result[episode.id] = change[2].astimezone(tz).date()
    return result


def census_csv(session: Session, on: date) -> tuple[str, int]:
    """The census as RFC 4180 CSV (with a UTF-8 BOM so spreadsheets read accents), every
    cell neutralised against formula injection. The export is audited."""
    lines, _ = census(session, on)
    out = io.StringIO()
    writer = csv.writer(out)  # QUOTE_MINIMAL with CRLF line ends: RFC 4180
    writer.writerow(CENSUS_COLUMNS)
    writer.writerows(line.cells() for line in lines)
    record(session, "census.exported", detail={"on": on.isoformat(), "rows": len(lines)})
    return "\ufeff" + out.getvalue(), len(lines)

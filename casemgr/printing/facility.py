"""Facility reports: the census on a date, the caseload of every counselor, and the outcome
figures, each as a PDF or a CSV, rebuilt from its print record alone.

A renderer reads only the record: its parameters, its `generated_at` (the report date of the
caseload and outcome figures is the facility date of that moment, never today) and its
author. So re-rendering a record from unchanged data gives the same bytes.

A facility report covers the whole facility. Only clinic managers may print one
(Perm.REPORT_FACILITY), and their client scope is everyone except the clients a restriction
keeps from them (deny wins): the census and caseload leave those clients out of every list and
count, by the restriction deny of casemgr.policy (`unrestricted`) applied for the record's
author. So the content never depends on who re-checks a record later or on whether its author
is still active (a restriction recorded or lifted since is a change of the records behind
it, and the re-check says so). Each report is a fixed number of queries, whatever the number of clients or
counselors. CSV cells are neutralised against formula injection.

The census and caseload name clients. Printed for use within the program (42 CFR
§2.12(c)(3)), they say so on every page and in the first line of the CSV. Released outside
(casemgr.printing.facility_release), the record's parameters keep the consent of every client
listed: only those clients are listed, the §2.32 notice, the recipient and purpose are on the
cover (or the CSV's first lines) and the consents' elements close the file. The outcomes
report counts episodes and never identifies a client: it stays an internal, unmarked report.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from flask import current_app
from reportlab.lib.units import inch
from reportlab.platypus import Flowable
from sqlalchemy.orm import Session, aliased

from ..admin import settings
from ..aftercare import services as aftercare
from ..aftercare.models import CheckIn
from ..auth.models import User, UserRole
from ..charts import outcomes as charts
from ..clients.models import Client
from ..domain import aftercare as checkin_rules
from ..domain import codes
from ..domain.aftercare import CheckInStatus
from ..domain.care import days_between, level_name, phase_warnings
from ..domain.notes import LATE_AFTER, NoteStatus
from ..domain.outcomes import Period
from ..domain.phases import Phase
from ..domain.plans import PlanStatus, review_overdue
from ..domain.roles import Role
from ..domain.sessions import SESSION_TYPES
from ..domain.text import fold, neutralize_cell
from ..episodes.census import CensusRow
from ..episodes.models import Episode, LevelOfCareSpan, PhaseChange
from ..home.services import PLAN_DUE_SOON_DAYS, CensusSummary, census_summary
from ..notes.models import ClinicalSession, Note
from ..outcomes import services as outcomes
from ..plans.models import TreatmentPlan
from ..policy import at_users_site, site_clients, unrestricted
from ..timefmt import facility_tz, format_datetime
from . import pdf, record
from .models import PrintedReport
from .pdf import empty, facts, gap, heading, para, table

FACILITY_LABEL = "Facility report"
WIDTH = pdf.PAGE[0] - 2 * pdf.MARGIN
NONE = "None."
INTERNAL, RELEASE = "internal", "release"
INTERNAL_MARK = "Confidential — 42 CFR Part 2 — internal use only"
# Printed on every census and caseload, whether or not anyone was left out: a count of the
# clients left out would tell a restricted reader that someone kept from them is in treatment.
RESTRICTED_NOTE = (
    "Clients whose chart a restriction keeps from the person who printed this report are left "
    "out of every list and count."
)
CONSENTS = "consents"  # in a released list's parameters: client id -> the consent's snapshot


# ------------------------------------------------------------------------ shared


def parameters(row: PrintedReport) -> dict[str, Any]:
    return json.loads(row.parameters or "{}")


def report_date(row: PrintedReport, tz: tzinfo) -> date:
    """The facility date the report was generated on: the "today" of its figures."""
    return row.generated_at.astimezone(tz).date()


def _author(row: PrintedReport) -> str:
    if row.generated_by_label:  # as printed, so a later change of credentials keeps the hash
        return row.generated_by_label
    user = row.generated_by
    return f"{user.full_name}, {user.credentials}" if user.credentials else user.full_name


def _meta(
    session: Session, row: PrintedReport, title: str, label: str = FACILITY_LABEL
) -> pdf.Meta:
    at = row.generated_at.astimezone(UTC)
    return pdf.Meta(
        title=title,
        facility=row.facility or settings.facility_name(session),
        generated_at=at,
        key="|".join((row.kind, row.parameters, str(row.generated_by_id), at.isoformat())),
        client_label=label,
        notice=_notice(),
        author=_author(row),
    )


def _notice() -> str:
    return current_app.config.get("PART2_NOTICE", pdf.PART2_NOTICE)


def _opening(row: PrintedReport, title: str, pairs: Iterable[tuple[str, object]]) -> list:
    generated = f"{format_datetime(row.generated_at)} by {_author(row)}"
    return [
        para(title, "title"),
        gap(4),
        facts([*pairs, ("Generated", generated), ("Purpose", row.purpose or "Not given")]),
        gap(6),
    ]


# ------------------------------------------------------------------------ client lists


def released(row: PrintedReport) -> dict[int, dict[str, Any]]:
    """A list released outside: client id -> the consent it was released under (empty for a
    list printed for use within the program)."""
    return {int(k): v for k, v in parameters(row).get(CONSENTS, {}).items()}


def listed_for(viewer: Any, only: Iterable[int] | None = None) -> sa.ColumnElement[bool]:
    """The clients a list drawn for `viewer` may name: those of the viewer's site (the
    policy's site rule), not those a restriction keeps from them (the policy's deny, not a
    copy of it), and when `only` is given, only those."""
    clause = sa.and_(site_clients(viewer), unrestricted(viewer, Client.id))
    return clause if only is None else sa.and_(clause, Client.id.in_(sorted(only)))


def _listed(row: PrintedReport) -> sa.ColumnElement[bool]:
    consents = released(row)
    return listed_for(row.generated_by, consents if row.recipient else None)


def _list_label(row: PrintedReport) -> str:
    """At the foot of every page, beside the page number."""
    use = "released outside with consent" if row.recipient else INTERNAL_MARK
    return f"{FACILITY_LABEL} — {use}"


def _by_name(clients: Iterable[Client]) -> list[Client]:
    return sorted({c.id: c for c in clients}.values(), key=name_key)


def _use_opening(row: PrintedReport) -> list[Flowable]:
    """Under the title of a client list: who it is for, and that restricted clients are out."""
    if not row.recipient:
        lines = [para(f"{INTERNAL_MARK}: for use within the program (42 CFR §2.12(c)(3)).")]
    else:
        lines = [
            facts(
                [
                    ("Released to", row.recipient),
                    ("Released for", row.purpose),
                    ("Released under", "The written consent of each client listed (42 CFR "
                     "§2.31), summarised on the last pages."),
                ]
            ),
            gap(4),
            para(f"Notice (42 CFR §2.32): {_notice()}"),
        ]  # fmt: skip
    return [*lines, para(RESTRICTED_NOTE, "muted"), gap(6)]


def _consent_pages(row: PrintedReport, clients: Iterable[Client]) -> list[Flowable]:
    from ..privacy import consent_pdf  # privacy builds on printing: imported when used

    if not row.recipient:
        return []
    consents = released(row)
    return consent_pdf.released_under(
        [(f"{c.legal_name} · MRN {c.mrn}", consents[c.id]) for c in _by_name(clients)], _notice()
    )


def csv_notice(row: PrintedReport, clients: Iterable[Client]) -> list[str]:
    """The first lines of a client list's CSV, one cell each, starting with "#" (so tools that
    skip comment lines can): what a spreadsheet user sees first."""
    if not row.recipient:
        return [f"# {INTERNAL_MARK}", f"# {RESTRICTED_NOTE}"]
    from ..privacy import consent_pdf

    consents = released(row)
    return [
        f"# Released outside the facility to: {row.recipient}",
        f"# Purpose: {row.purpose}",
        f"# Notice (42 CFR §2.32): {_notice()}",
        "# Released under the written consent of each client listed (42 CFR §2.31):",
        *(f"# MRN {c.mrn}: {consent_pdf.scope_line(consents[c.id])}" for c in _by_name(clients)),
        f"# {RESTRICTED_NOTE}",
    ]


def _section(title: str, content: Flowable | None, message: str = NONE) -> list[Flowable]:
    return [heading(title), content if content is not None else empty(message)]


def csv_bytes(
    header: Sequence[str], rows: Iterable[Sequence[object]], notice: Sequence[str] = ()
) -> bytes:
    """RFC 4180 CSV with a UTF-8 BOM (spreadsheets then read accents), every cell neutralised
    against formula injection, as the census and outcomes exports are; `notice` lines first,
    one cell each."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerows([line] for line in notice)
    writer.writerow(header)
    writer.writerows([neutralize_cell(v) for v in r] for r in rows)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def name_key(client: Client) -> tuple[str, str, int]:
    """Reports list clients by last name, then first name, folded, the same on every
    database (collations differ)."""
    return fold(client.legal_last_name), fold(client.legal_first_name), client.id


def _level_text(level: Any) -> str:
    return f"{level.code} — {level_name(level.code_system, level.code)}" if level else ""


# ------------------------------------------------------------------------ census


@dataclass(frozen=True)
class CensusLine:
    row: CensusRow
    since: date  # the day the client entered the phase they were in on the census date
    days: int  # days in that phase on the census date, the first counting as day 1

    @property
    def counselor(self) -> str:
        return self.row.counselor.full_name if self.row.counselor else "Unassigned"


def _last_change(before: datetime | None = None) -> sa.ScalarSelect[Any]:
    """The id of an episode's latest phase change (effective before `before`, when given)."""
    pc = aliased(PhaseChange)
    stmt = sa.select(pc.id).where(pc.episode_id == Episode.id)
    if before is not None:
        stmt = stmt.where(pc.effective_at < before)
    return stmt.order_by(pc.effective_at.desc(), pc.id.desc()).limit(1).scalar_subquery()


def census(
    session: Session, on: date, tz: tzinfo, listed: sa.ColumnElement[bool], viewer: Any
) -> tuple[list[CensusLine], CensusSummary]:
    """Open episodes on `on` at the viewer's site, of the clients `listed` (see listed_for),
    with the phase, level of
    care and days in phase of that day, and the counts by phase and level of care, in one
    query. As in casemgr.episodes.census: the phase is that of the last move effective by the
    end of the day (intake before any)."""
    day_end = datetime.combine(on + timedelta(days=1), time.min, tzinfo=tz)
    change, level, counselor = aliased(PhaseChange), aliased(LevelOfCareSpan), aliased(User)
    stmt = (
        sa.select(Client, Episode, change, level, counselor, _last_change().label("latest"))
        .join(Episode, Episode.client_id == Client.id)
        .outerjoin(change, change.id == _last_change(day_end))
        .outerjoin(
            level,
            sa.and_(
                level.episode_id == Episode.id,
                level.started_on <= on,
                sa.or_(level.ended_on.is_(None), level.ended_on > on),
            ),
        )
        .outerjoin(counselor, counselor.id == Episode.primary_counselor_id)
        .where(
            Episode.admitted_on <= on,
            sa.or_(Episode.discharged_on.is_(None), Episode.discharged_on > on),
            listed,
            at_users_site(viewer, Episode.site_id),
        )
    )
    lines = []
    for c, e, pc, lvl, u, latest in session.execute(stmt):
        phase = pc.to_phase if pc else Phase.INTAKE
        if phase is not Phase.DISCHARGED:
            since = _since(e, pc, latest, tz)
            lines.append(CensusLine(CensusRow(c, e, phase, lvl, u), since, days_between(since, on)))
    lines.sort(key=lambda line: name_key(line.row.client))
    return lines, census_summary([line.row for line in lines])


def _since(episode: Episode, change: PhaseChange | None, latest: int | None, tz: tzinfo) -> date:
    if change is None or change.from_phase is None:
        return episode.admitted_on
    if change.id == latest:
        return episode.phase_started_on
    return change.effective_at.astimezone(tz).date()


CENSUS_COLUMNS = (
    "census_date",
    "last_name",
    "first_name",
    "mrn",
    "phase",
    "phase_since",
    "days_in_phase",
    "level_of_care",
    "level_of_care_name",
    "primary_counselor",
)


def census_csv(on: date, lines: list[CensusLine], notice: Sequence[str] = ()) -> bytes:
    return csv_bytes(
        CENSUS_COLUMNS,
        (
            (
                on.isoformat(),
                line.row.client.legal_last_name,
                line.row.client.legal_first_name,
                line.row.client.mrn,
                line.row.phase.label,
                line.since.isoformat(),
                line.days,
                line.row.level.code if line.row.level else "",
                level_name(line.row.level.code_system, line.row.level.code)
                if line.row.level
                else "",
                line.counselor,
            )
            for line in lines
        ),
        notice,
    )


def census_story(
    row: PrintedReport, on: date, lines: list[CensusLine], summary: CensusSummary
) -> list[Flowable]:
    title = f"Census on {on.isoformat()}"
    story = _opening(row, title, [("Census date", on.isoformat()), ("In treatment", summary.total)])
    story += _use_opening(row)
    phases = [(p.label, n) for p, n in summary.by_phase] + [("Total", summary.total)]
    story += _section("By phase", table(("Phase", "Clients"), phases, [3 * inch, 1 * inch]))
    levels = [(code if code != "none" else "—", name, n) for code, name, n in summary.by_level]
    story += _section(
        "By level of care",
        table(("Level", "Name", "Clients"), levels, [0.8 * inch, 3.2 * inch, 1 * inch])
        if levels
        else None,
    )
    clients = [
        (
            r.row.client.legal_name,
            r.row.client.mrn,
            r.row.phase.label,
            _level_text(r.row.level) or "Not recorded",
            r.counselor,
            r.days,
        )
        for r in lines
    ]
    widths = [1.6 * inch, 1.05 * inch, 0.8 * inch, 1.45 * inch, 1.3 * inch, WIDTH - 6.2 * inch]
    story += _section(
        "Clients",
        table(("Name", "MRN", "Phase", "Level of care", "Counselor", "Days in phase"), clients,
              widths) if clients else None,
        "No client was in treatment on this date.",
    )  # fmt: skip
    return story


def render_census(session: Session, row: PrintedReport) -> tuple[bytes, int | None]:
    on = date.fromisoformat(parameters(row)["on"])
    lines, summary = census(session, on, facility_tz(), _listed(row), row.generated_by)
    clients = [line.row.client for line in lines]
    if row.file_format == "csv":
        return census_csv(on, lines, csv_notice(row, clients)), None
    story = census_story(row, on, lines, summary) + _consent_pages(row, clients)
    return pdf.render(story, _meta(session, row, f"Census on {on}", _list_label(row)))


# ------------------------------------------------------------------------ caseload

NEEDS_SIGNED_PLAN = (Phase.REHAB, Phase.AFTERCARE)  # as the counselor's home page


@dataclass(frozen=True)
class ClientLine:
    client: Client
    episode: Episode
    days: int  # in the current phase, the first counting as day 1
    past_planned: bool  # the phase has run past its planned length


@dataclass(frozen=True)
class NoteLine:
    client: Client
    visit: ClinicalSession


@dataclass(frozen=True)
class PlanLine:
    client: Client
    state: str  # "overdue", "due" (within the week) or "missing" (no signed plan yet)
    due_on: date | None


@dataclass(frozen=True)
class CheckInLine:
    client: Client
    check_in: CheckIn
    status: CheckInStatus  # overdue, due or upcoming (within the week)

    @property
    def target_on(self) -> date:
        return self.check_in.scheduled_on or self.check_in.due_on


@dataclass
class Caseload:
    counselor: User | None  # None: open episodes without a primary counselor
    clients: list[ClientLine] = field(default_factory=list)
    notes: list[NoteLine] = field(default_factory=list)
    plans: list[PlanLine] = field(default_factory=list)
    check_ins: list[CheckInLine] = field(default_factory=list)

    @property
    def name(self) -> str:
        if self.counselor is None:
            return "Unassigned"
        suffix = "" if self.counselor.active else " (deactivated)"
        return self.counselor.full_name + suffix

    def counts(self) -> dict[str, int]:
        plans = [p.state for p in self.plans]
        overdue = sum(c.status is CheckInStatus.OVERDUE for c in self.check_ins)
        return {
            "clients": len(self.clients),
            "past_planned": sum(c.past_planned for c in self.clients),
            "notes": len(self.notes),
            "plans_overdue": plans.count("overdue"),
            "plans_due": plans.count("due"),
            "plans_missing": plans.count("missing"),
            "check_ins_overdue": overdue,
            "check_ins_due": len(self.check_ins) - overdue,
        }


COUNT_HEADERS = (
    "Clients",
    "Past planned dates",
    "Overdue notes",
    "Plan reviews overdue",
    "Plan reviews due",
    "No signed plan",
    "Check-ins overdue",
    "Check-ins due",
)


@dataclass(frozen=True)
class CaseloadReport:
    as_of: date
    caseloads: list[Caseload]  # counselors, by name; the unassigned last when there are any

    def totals(self) -> dict[str, int]:
        total: dict[str, int] = {}
        for load in self.caseloads:
            for key, n in load.counts().items():
                total[key] = total.get(key, 0) + n
        return total

    def clients(self) -> list[Client]:
        """Every client the report names, by name."""
        found = {
            line.client.id: line.client
            for load in self.caseloads
            for line in (*load.clients, *load.notes, *load.plans, *load.check_ins)
        }
        return sorted(found.values(), key=name_key)


def _is_open() -> sa.ColumnElement[bool]:
    return Episode.phase != Phase.DISCHARGED


def caseloads(
    session: Session,
    *,
    now: datetime,
    tz: tzinfo,
    listed: sa.ColumnElement[bool],
    site_id: int | None = None,
) -> CaseloadReport:
    """Every counselor (active counselors, and anyone still holding open episodes) with their
    open episodes, their overdue draft notes, plan reviews due within a week or overdue (and
    plans missing) and aftercare check-ins due within a week or overdue, as of `now`, of the
    clients `listed` (see listed_for), for the site `site_id` (None: the whole network); the
    rules are those of the counselor's home page. Five queries, whatever the numbers."""
    as_of = now.astimezone(tz).date()
    loads = {u.id: Caseload(u) for u in session.scalars(_counselors(listed, site_id))}
    unassigned = Caseload(None)
    episodes = session.execute(_open_episodes().where(listed))
    for c, e in sorted(episodes, key=lambda row: name_key(row[0])):
        loads.get(e.primary_counselor_id, unassigned).clients.append(_client_line(c, e, as_of))
    for note, visit, c in session.execute(_overdue_drafts(now, tz).where(listed)):
        if note.author_id in loads:
            loads[note.author_id].notes.append(NoteLine(c, visit))
    for c, e, plan in session.execute(_plan_reviews(as_of).where(listed)):
        due = plan.review_due_on if plan else None
        loads[e.primary_counselor_id].plans.append(PlanLine(c, _plan_state(plan, as_of), due))
    for load in loads.values():
        load.plans.sort(key=_plan_order)
    for counselor_id, line in _check_ins(session, as_of, listed):
        loads[counselor_id].check_ins.append(line)
    found = list(loads.values()) + ([unassigned] if unassigned.clients else [])
    return CaseloadReport(as_of, found)


def _client_line(client: Client, episode: Episode, as_of: date) -> ClientLine:
    warnings = phase_warnings(episode.phase, episode.phase_started_on, as_of)
    late = any(w.level == "overdue" for w in warnings)
    return ClientLine(client, episode, days_between(episode.phase_started_on, as_of), late)


def _plan_order(line: PlanLine) -> tuple[Any, ...]:
    """Overdue first, then missing, then due, as the counselor's home page lists them."""
    rank = {"overdue": 0, "missing": 1, "due": 2}[line.state]
    return rank, line.due_on or date.min, name_key(line.client)


def _plan_state(plan: TreatmentPlan | None, as_of: date) -> str:
    if plan is None:
        return "missing"
    return "overdue" if review_overdue(plan.review_due_on, as_of) else "due"


def _counselors(listed: sa.ColumnElement[bool], site_id: int | None) -> sa.Select[Any]:
    """Active counselors (at the site, for a site's report), and anyone holding an open
    episode of a listed client."""
    holding = _open_episodes().where(listed).with_only_columns(Episode.primary_counselor_id)
    counselors = sa.select(UserRole.user_id).where(UserRole.role == Role.COUNSELOR)
    staff = sa.and_(User.active.is_(True), User.id.in_(counselors))
    if site_id is not None:
        staff = sa.and_(staff, User.site_id == site_id)
    return (
        sa.select(User).where(sa.or_(staff, User.id.in_(holding))).order_by(User.full_name, User.id)
    )


def _open_episodes() -> sa.Select[Any]:
    return (
        sa.select(Client, Episode).join(Episode, Episode.client_id == Client.id).where(_is_open())
    )


def _overdue_drafts(now: datetime, tz: tzinfo) -> sa.Select[Any]:
    """Draft notes whose session ended more than 24 hours before `now` (session dates and
    times are facility wall-clock), as casemgr.notes.queries.overdue_drafts, for every author."""
    cutoff = (now.astimezone(tz) - LATE_AFTER).replace(tzinfo=None)
    ended_before = sa.or_(
        ClinicalSession.session_date < cutoff.date(),
        sa.and_(
            ClinicalSession.session_date == cutoff.date(),
            ClinicalSession.end_time < cutoff.time(),
        ),
    )
    return (
        sa.select(Note, ClinicalSession, Client)
        .join(ClinicalSession, ClinicalSession.id == Note.session_id)
        .join(Episode, Episode.id == ClinicalSession.episode_id)
        .join(Client, Client.id == Episode.client_id)
        .where(Note.status == NoteStatus.DRAFT, ended_before)
        .order_by(ClinicalSession.session_date, ClinicalSession.end_time, Note.id)
    )


def _plan_reviews(as_of: date) -> sa.Select[Any]:
    """Open episodes with a counselor whose signed plan is due for review within a week or
    overdue, or in rehab or aftercare with no signed plan, as casemgr.home.services does."""
    signed = aliased(TreatmentPlan)
    missing = sa.and_(signed.id.is_(None), Episode.phase.in_(NEEDS_SIGNED_PLAN))
    return (
        sa.select(Client, Episode, signed)
        .join(Episode, Episode.client_id == Client.id)
        .outerjoin(
            signed, sa.and_(signed.episode_id == Episode.id, signed.status == PlanStatus.SIGNED)
        )
        .where(
            _is_open(),
            Episode.primary_counselor_id.is_not(None),
            sa.or_(missing, signed.review_due_on <= as_of + timedelta(days=PLAN_DUE_SOON_DAYS)),
        )
    )


def _check_ins(
    session: Session, as_of: date, listed: sa.ColumnElement[bool]
) -> list[tuple[int, CheckInLine]]:
    """Open check-ins of open aftercare episodes due within the week or overdue (not yet
    missed), as casemgr.aftercare.services.due_check_ins, for every counselor."""
    rules = aftercare.status_rules()
    target = sa.func.coalesce(CheckIn.scheduled_on, CheckIn.due_on)
    stmt = (
        sa.select(CheckIn, Client, Episode.primary_counselor_id)
        .join(Episode, Episode.id == CheckIn.episode_id)
        .join(Client, Client.id == Episode.client_id)
        .where(
            Episode.primary_counselor_id.is_not(None),
            Episode.phase == Phase.AFTERCARE,
            CheckIn.status == aftercare.OPEN,
            CheckIn.voided_at.is_(None),
            target <= as_of + timedelta(days=aftercare.DUE_WINDOW_DAYS),
            target >= as_of - timedelta(days=rules.grace_days),
            listed,
        )
        .order_by(target, CheckIn.id)
    )
    lines = []
    for row, c, counselor_id in session.execute(stmt):
        plain = checkin_rules.CheckIn(row.due_on, row.kind, row.scheduled_on, None, row.reached)
        status = checkin_rules.checkin_status(plain, as_of, rules)
        if status is not CheckInStatus.MISSED:
            lines.append((counselor_id, CheckInLine(c, row, status)))
    return lines


def _client_table(lines: list[ClientLine]) -> Flowable | None:
    rows = [
        (
            c.client.legal_name,
            c.client.mrn,
            c.episode.phase.label,
            c.days,
            "Past planned dates" if c.past_planned else "",
        )
        for c in lines
    ]
    widths = [2.1 * inch, 1.2 * inch, 0.9 * inch, 1 * inch, WIDTH - 5.2 * inch]
    headers = ("Name", "MRN", "Phase", "Days in phase", "Attention")
    return table(headers, rows, widths) if rows else None


def _note_table(lines: list[NoteLine]) -> Flowable | None:
    rows = [
        (
            n.client.legal_name,
            n.client.mrn,
            f"{n.visit.session_date.isoformat()} {n.visit.end_time.strftime('%H:%M')}",
            codes.label(SESSION_TYPES, n.visit.session_type),
        )
        for n in lines
    ]
    widths = [2.1 * inch, 1.2 * inch, 1.5 * inch, WIDTH - 4.8 * inch]
    return table(("Client", "MRN", "Session ended", "Session"), rows, widths) if rows else None


def _plan_table(lines: list[PlanLine]) -> Flowable | None:
    states = {"overdue": "Review overdue", "due": "Review due", "missing": "No signed plan"}
    rows = [
        (
            p.client.legal_name,
            p.client.mrn,
            states[p.state],
            p.due_on.isoformat() if p.due_on else "",
        )
        for p in lines
    ]
    widths = [2.1 * inch, 1.2 * inch, 1.5 * inch, WIDTH - 4.8 * inch]
    return table(("Client", "MRN", "State", "Review due"), rows, widths) if rows else None


def _check_in_table(lines: list[CheckInLine]) -> Flowable | None:
    rows = [
        (
            c.client.legal_name,
            c.client.mrn,
            aftercare.kind_label(c.check_in.kind),
            c.target_on.isoformat(),
            c.status.label,
        )
        for c in lines
    ]
    widths = [2.1 * inch, 1.2 * inch, 1.5 * inch, 1 * inch, WIDTH - 5.8 * inch]
    headers = ("Client", "MRN", "Check-in", "Date", "Status")
    return table(headers, rows, widths) if rows else None


def _totals_table(report: CaseloadReport) -> Flowable:
    keys = list(Caseload(None).counts())
    rows = [(load.name, *(load.counts()[k] for k in keys)) for load in report.caseloads]
    total = report.totals()
    rows.append(("Total", *(total.get(k, 0) for k in keys)))
    first = 1.2 * inch
    widths = [first] + [(WIDTH - first) / len(keys)] * len(keys)
    result = table(("Counselor", *COUNT_HEADERS), rows, widths)
    # Eight narrow columns: less padding, so no header word ("Check-ins") is split.
    result.setStyle([("LEFTPADDING", (0, 0), (-1, -1), 3), ("RIGHTPADDING", (0, 0), (-1, -1), 3)])
    return result


def caseload_story(row: PrintedReport, report: CaseloadReport) -> list[Flowable]:
    as_of = report.as_of.isoformat()
    story = _opening(
        row, f"Caseload report, {as_of}", [("As of", as_of), ("Counselors", len(report.caseloads))]
    )
    story += _use_opening(row)
    story += _section("Totals", _totals_table(report) if report.caseloads else None)
    story.append(
        para(
            "Overdue notes: draft notes whose session ended more than 24 hours before the report "
            "was generated. Plan reviews: signed plans due for review within a week or overdue, "
            "and clients in rehab or aftercare without a signed plan. Check-ins: open aftercare "
            "check-ins due within a week or overdue (not yet missed).",
            "muted",
        )
    )
    for load in report.caseloads:
        n = load.counts()
        story.append(heading(load.name))
        story += _sub(f"Clients ({n['clients']})", _client_table(load.clients))
        if load.counselor is not None:
            story += _sub(f"Overdue notes ({n['notes']})", _note_table(load.notes))
            story += _sub(f"Plan reviews ({len(load.plans)})", _plan_table(load.plans))
            story += _sub(
                f"Aftercare check-ins ({len(load.check_ins)})", _check_in_table(load.check_ins)
            )
    return story


def _sub(title: str, content: Flowable | None) -> list[Flowable]:
    return [heading(title, 3), content if content is not None else empty(NONE)]


CASELOAD_COLUMNS = (
    "as_of",
    "counselor",
    "item",
    "last_name",
    "first_name",
    "mrn",
    "phase",
    "days_in_phase",
    "date",
    "status",
    "detail",
)


def caseload_csv(report: CaseloadReport, notice: Sequence[str] = ()) -> bytes:
    """One row per item of each caseload: `item` is client, overdue_note, plan_review or
    check_in; `date` is the session, review or check-in date."""
    return csv_bytes(CASELOAD_COLUMNS, _caseload_rows(report), notice)


def _caseload_rows(report: CaseloadReport) -> Iterable[tuple[object, ...]]:
    for load in report.caseloads:
        start = (report.as_of.isoformat(), load.name)
        for c in load.clients:
            late = "past_planned" if c.past_planned else ""
            yield (*start, "client", *_who(c.client), c.episode.phase.label, c.days, "", late, "")
        for n in load.notes:
            kind = codes.label(SESSION_TYPES, n.visit.session_type)
            day = n.visit.session_date.isoformat()
            yield (*start, "overdue_note", *_who(n.client), "", "", day, "draft", kind)
        for p in load.plans:
            due = p.due_on.isoformat() if p.due_on else ""
            yield (*start, "plan_review", *_who(p.client), "", "", due, p.state, "")
        for k in load.check_ins:
            kind, day = aftercare.kind_label(k.check_in.kind), k.target_on.isoformat()
            yield (*start, "check_in", *_who(k.client), "", "", day, k.status.value, kind)


def _who(client: Client) -> tuple[str, str, str]:
    return client.legal_last_name, client.legal_first_name, client.mrn


def render_caseload(session: Session, row: PrintedReport) -> tuple[bytes, int | None]:
    tz = facility_tz()
    report = caseloads(
        session,
        now=row.generated_at,
        tz=tz,
        listed=_listed(row),
        site_id=row.generated_by.site_id,
    )
    if row.file_format == "csv":
        return caseload_csv(report, csv_notice(row, report.clients())), None
    title = f"Caseload report, {report.as_of.isoformat()}"
    story = caseload_story(row, report) + _consent_pages(row, report.clients())
    return pdf.render(story, _meta(session, row, title, _list_label(row)))


# ------------------------------------------------------------------------ outcomes


def selection(session: Session, params: dict[str, Any]) -> outcomes.Selection:
    """The outcomes selection a record's parameters name (start, end, level, counselor)."""
    counselor_id = params.get("counselor")
    counselor = session.get(User, counselor_id) if counselor_id else None
    return outcomes.Selection(
        Period(date.fromisoformat(params["start"]), date.fromisoformat(params["end"])),
        params.get("level") or None,
        counselor_id or None,
        counselor.full_name if counselor else "",
    )


def _definition(name: str) -> Flowable:
    return para(" ".join(outcomes.definitions()[name]), "small")


def _figure_table(figures: Iterable[Any], header: Sequence[str] = ("Figure", "Result")) -> Flowable:
    rows = [(f.label, outcomes.result_text(f)) for f in figures]
    return table(header, rows, [3.4 * inch, WIDTH - 3.4 * inch])


def outcomes_story(row: PrintedReport, page: outcomes.Outcomes) -> list[Flowable]:
    sel = page.selection
    period = f"{sel.period.start.isoformat()} to {sel.period.end.isoformat()}"
    story = _opening(
        row,
        f"Outcomes, {period}",
        [
            ("Date range", f"{period} (both days included)"),
            ("Level of care", sel.level_text),
            ("Counselor", sel.counselor_text),
            ("Report date", page.as_of.isoformat()),
        ],
    )
    story.append(
        para(
            'Each percentage comes with its count and denominator; "no data" means there was '
            "nothing to count (n = 0), not 0 %. An episode's level of care is its level at "
            "admission; its counselor is its primary counselor. The figures count episodes "
            "and never identify a client.",
            "muted",
        )
    )
    story += _flow_section(page) + _reasons_section(page) + _stay_section(page)
    story += _engagement_section(page) + _readmission_section(page)
    return story


FLOW_KEYS = (
    "admissions",
    "discharges",
    "completion_rate",
    "against_advice_rate",
    "administrative_rate",
)


def _flow_section(page: outcomes.Outcomes) -> list[Flowable]:
    story: list[Flowable] = [heading("Admissions and discharges")]
    story.append(_figure_table(page[k] for k in FLOW_KEYS))
    story += [_definition(outcomes.definition_name(k)) for k in FLOW_KEYS]
    return story


def _reasons_section(page: outcomes.Outcomes) -> list[Flowable]:
    rows = [
        (f.key.removeprefix("reason_"), f.label, outcomes.result_text(f))
        for f in page.starting("reason_")
    ]
    widths = [1 * inch, 3 * inch, WIDTH - 4 * inch]
    return [
        heading("Discharges by TEDS reason"),
        table(("TEDS reason", "Meaning", "Discharges"), rows, widths),
        _definition("reason"),
        gap(),
        charts.discharges_drawing(outcomes.discharge_bars(page), width=WIDTH),
    ]


def _stay_section(page: outcomes.Outcomes) -> list[Flowable]:
    return [
        heading("Median length of stay by phase"),
        _figure_table(page.starting("stay_"), ("Phase", "Median stay")),
        _definition("stay"),
    ]


def _engagement_section(page: outcomes.Outcomes) -> list[Flowable]:
    followups = [
        (f"{days} days", outcomes.result_text(reached), outcomes.result_text(no_use))
        for days, reached, no_use in page.followups
    ]
    header = ("Follow-up", "Reached", "No use in the last 30 days, of those reached")
    widths = [1.4 * inch, 2 * inch, WIDTH - 3.4 * inch]
    return [
        heading("Retention and follow-ups"),
        _figure_table(page.starting("retention_")),
        _definition("retention"),
        gap(),
        table(header, followups, widths),
        _definition("reached"),
        _definition("no_use"),
        gap(),
        charts.engagement_drawing(outcomes.engagement_groups(page), width=WIDTH),
    ]


def _readmission_section(page: outcomes.Outcomes) -> list[Flowable]:
    return [
        heading("Readmissions"),
        _figure_table(page.starting("readmission_")),
        _definition("readmission"),
    ]


def outcomes_page(session: Session, row: PrintedReport, tz: tzinfo) -> outcomes.Outcomes:
    chosen = selection(session, parameters(row))
    return outcomes.outcomes(session, chosen, as_of=report_date(row, tz), tz=tz)


def render_outcomes(session: Session, row: PrintedReport) -> tuple[bytes, int | None]:
    # Counts of episodes that never identify a client: aggregate, de-identified figures, not
    # any client's record. So they are not narrowed by restrictions, not released through a
    # consent, and carry no internal-use marking (the Part 2 notice still closes each page).
    page = outcomes_page(session, row, facility_tz())
    if row.file_format == "csv":  # the rows of the outcomes page's own export
        return csv_bytes(outcomes.CSV_COLUMNS, outcomes.csv_rows(page)), None
    period = page.selection.period
    title = f"Outcomes, {period.start.isoformat()} to {period.end.isoformat()}"
    return pdf.render(outcomes_story(row, page), _meta(session, row, title))


record.register("census", render_census)
record.register("caseload", render_caseload)
record.register("outcomes", render_outcomes)

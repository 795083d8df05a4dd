"""What each home page shows. Queries only; nothing here writes."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased, selectinload

from ..audit.models import AuditEvent
from ..auth.models import User, UserRole, UserSession
from ..clients.models import Client
from ..domain.care import PLANNED, CareWarning, days_between, level_name, phase_warnings
from ..domain.phases import OPEN_PHASES, Phase
from ..domain.plans import PlanStatus, review_overdue
from ..domain.roles import Role
from ..domain.sessions import PRESENT
from ..episodes.census import CensusRow
from ..episodes.census import counts as census_counts
from ..episodes.census import tally as census_tally
from ..episodes.models import Discharge, Episode, LevelOfCareSpan, PhaseChange
from ..notes.models import ClinicalSession
from ..plans.models import TreatmentPlan
from ..policy import Perm, at_users_site, scoped, scoped_detox_board
from ..timefmt import facility_tz


def signed_in_staff(session: Session, now: datetime, idle_minutes: int) -> list[User]:
    """Staff with a session used within the idle window: who is on shift right now."""
    cutoff = now - timedelta(minutes=idle_minutes)
    stmt = (
        sa.select(User)
        .where(
            User.id.in_(
                sa.select(UserSession.user_id).where(
                    UserSession.ended_at.is_(None), UserSession.last_seen_at >= cutoff
                )
            )
        )
        .order_by(User.full_name)
    )
    return list(session.scalars(stmt))


def locked_accounts(session: Session, now: datetime) -> list[User]:
    return list(
        session.scalars(sa.select(User).where(User.locked_until > now).order_by(User.full_name))
    )


def pending_password_change(session: Session) -> list[User]:
    stmt = sa.select(User).where(User.must_change_password.is_(True), User.active.is_(True))
    return list(session.scalars(stmt.order_by(User.full_name)))


def staff_counts(session: Session, user: User | None = None) -> dict[str, int]:
    """Active staff by role: the user's site's, when given someone who works at a site."""
    here = sa.true() if user is None else at_users_site(user, User.site_id)
    rows = session.execute(
        sa.select(UserRole.role, sa.func.count())
        .join(User)
        .where(User.active.is_(True), here)
        .group_by(UserRole.role)
    ).all()
    return {role.value: n for role, n in rows}


def roster(session: Session, user: User) -> list[User]:
    """Active staff at the user's site (the whole network's for network-wide staff): a site
    manager's home lists her colleagues, not the network's 1,500 staff (190 ms at 50,000
    clients)."""
    stmt = (
        sa.select(User)
        .where(User.active.is_(True), at_users_site(user, User.site_id))
        .options(selectinload(User.role_rows))
    )
    return list(session.scalars(stmt.order_by(User.full_name)))


def recent_failed_sign_ins(session: Session, limit: int = 10) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action.in_(("auth.login_failed", "auth.lockout")))
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))


def my_recent_sign_ins(session: Session, user: User, limit: int = 5) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(
        AuditEvent.object_type == "users",
        AuditEvent.object_id == str(user.id),
        AuditEvent.action.in_(("auth.login", "auth.login_failed", "auth.lockout")),
    )
    return list(session.scalars(stmt.order_by(AuditEvent.seq.desc()).limit(limit)))


# ---------------------------------------------------------------------------------------------
# Clinical work lists. Every query selects Client and goes through policy.scoped(), so a user
# only ever sees the clients they may see; each list is one query whatever its length.

PAGE_SIZE = 25
SHORT_LIST = 10  # the "recent" lists on the manager's page
ATTENTION_LIMIT = 50  # the lists of clients needing action, before "more not shown"


@dataclass(frozen=True)
class ListQuery:
    """Sort key, direction and page of a paginated list, already validated by the view."""

    sort: str
    descending: bool = False
    page: int = 1


@dataclass(frozen=True)
class EpisodeRow:
    client: Client
    episode: Episode
    days: int  # days in the current phase, counting the first as day 1
    warnings: list[CareWarning]
    level: LevelOfCareSpan | None = None
    counselor: User | None = None
    last_contact: datetime | None = None

    @property
    def overdue(self) -> list[CareWarning]:
        return [w for w in self.warnings if w.level == "overdue"]


@dataclass(frozen=True)
class Page:
    rows: list[EpisodeRow]
    query: ListQuery
    more: bool


def _row(client: Client, episode: Episode, today: date, **extra: Any) -> EpisodeRow:
    return EpisodeRow(
        client=client,
        episode=episode,
        days=days_between(episode.phase_started_on, today),
        warnings=phase_warnings(episode.phase, episode.phase_started_on, today),
        **extra,
    )


class LastContact(NamedTuple):
    """When an episode last had a recorded contact, as columns of one query: the end of its
    latest attended session (facility wall-clock text "YYYY-MM-DD HH:MM", which sorts like
    time) or, before any session, its latest phase change (a UTC instant)."""

    session_end: sa.ScalarSelect[Any]
    phase_change: sa.ScalarSelect[Any]

    @property
    def sort_key(self) -> sa.ColumnElement[Any]:
        # Without a session the day the current phase began stands in: the same day as the
        # latest phase change, and text that compares with the session's.
        return sa.func.coalesce(self.session_end, sa.cast(Episode.phase_started_on, sa.String))

    @staticmethod
    def at(session_end: str | None, phase_change: datetime | None, tz: tzinfo) -> datetime | None:
        if session_end:
            return datetime.strptime(session_end, "%Y-%m-%d %H:%M").replace(tzinfo=tz)
        return phase_change


def last_contact() -> LastContact:
    """What counts as contact: a session the client attended (on time, late or leaving early);
    until there is one, the latest phase change."""
    day = sa.cast(ClinicalSession.session_date, sa.String)
    clock = sa.func.substr(sa.cast(ClinicalSession.end_time, sa.String), 1, 5)
    session_end = (
        sa.select(sa.func.max(day + " " + clock))
        .where(ClinicalSession.episode_id == Episode.id, ClinicalSession.attendance.in_(PRESENT))
        .scalar_subquery()
    )
    phase_change = (
        sa.select(sa.func.max(PhaseChange.effective_at))
        .where(PhaseChange.episode_id == Episode.id)
        .scalar_subquery()
    )
    return LastContact(session_end, phase_change)


def _is_open() -> sa.ColumnElement[bool]:
    return Episode.phase != Phase.DISCHARGED


def _client_episodes(*columns: Any) -> sa.Select[Any]:
    return sa.select(Client, Episode, *columns).join(Episode, Episode.client_id == Client.id)


def _current_level() -> sa.ScalarSelect[Any]:
    """The episode's current level of care: its latest span that has not ended. Correlated,
    so it is looked up for the listed episodes only; grouping every open span of the
    network first took 50 ms of a nurse's home page on SQLite at 50,000 clients."""
    return (
        sa.select(sa.func.max(LevelOfCareSpan.id))
        .where(LevelOfCareSpan.episode_id == Episode.id, LevelOfCareSpan.ended_on.is_(None))
        .scalar_subquery()
    )


@lru_cache(maxsize=64)
def _latest_overdue_start(phase: Phase, today: date, horizon_days: int = 3660) -> date | None:
    """The latest phase start date that phase_warnings() calls overdue today. A phase that
    started earlier has run longer, so it is overdue too."""
    for back in range(horizon_days):
        started = today - timedelta(days=back)
        if any(w.level == "overdue" for w in phase_warnings(phase, started, today)):
            return started
    return None


def past_planned(today: date) -> sa.ColumnElement[bool]:
    """Open episodes whose phase has run past its planned length: the SQL side of
    casemgr.domain.care.phase_warnings, derived from it rather than restating its numbers."""
    clauses = []
    for phase in PLANNED:
        latest = _latest_overdue_start(phase, today)
        if latest is not None:
            clauses.append(sa.and_(Episode.phase == phase, Episode.phase_started_on <= latest))
    return sa.or_(*clauses) if clauses else sa.false()


def _phase_order(column: Any) -> sa.Case[Any]:
    return sa.case(*((column == p, i) for i, p in enumerate(Phase)), else_=len(Phase))


# Whitelisted sort keys of each list: column, and whether "ascending" runs the other way
# (days in phase ascending = phase start date descending).
Sorts = dict[str, tuple[Any, bool]]


def _paged(stmt: sa.Select[Any], sorts: Sorts, query: ListQuery) -> sa.Select[Any]:
    column, reverse = sorts[query.sort]
    order = column.desc() if query.descending != reverse else column.asc()
    return (
        stmt.order_by(order.nulls_last(), Client.search_name, Client.id)
        .limit(PAGE_SIZE + 1)
        .offset((query.page - 1) * PAGE_SIZE)
    )


def _caseload_sorts(contact: Any) -> Sorts:
    return {
        "name": (Client.search_name, False),
        "mrn": (Client.mrn, False),
        "phase": (_phase_order(Episode.phase), False),
        "days": (Episode.phase_started_on, True),
        "contact": (contact, False),
    }


CASELOAD_SORTS = ("name", "mrn", "phase", "days", "contact")


def caseload(session: Session, user: User, today: date, query: ListQuery) -> Page:
    """One page of the open episodes whose primary counselor is `user`."""
    contact, tz = last_contact(), facility_tz()
    stmt = _client_episodes(contact.session_end, contact.phase_change).where(
        _is_open(), Episode.primary_counselor_id == user.id
    )
    stmt = _paged(scoped(stmt, Perm.CLIENT_VIEW, user), _caseload_sorts(contact.sort_key), query)
    rows = [
        _row(c, e, today, last_contact=LastContact.at(s, p, tz))
        for c, e, s, p in session.execute(stmt).all()
    ]
    return Page(rows[:PAGE_SIZE], query, len(rows) > PAGE_SIZE)


def _detox_sorts(level: Any, counselor: Any) -> Sorts:
    return {
        "name": (Client.search_name, False),
        "mrn": (Client.mrn, False),
        "days": (Episode.phase_started_on, True),
        "level": (level.code, False),
        "counselor": (counselor.full_name, False),
    }


DETOX_SORTS = ("name", "mrn", "days", "level", "counselor")


def detox_board(session: Session, user: User, today: date, query: ListQuery) -> Page:
    """One page of everyone now in detox that `user` may see, with level of care and
    primary counselor: the detox board's rows, under the board's scope."""
    level, counselor = aliased(LevelOfCareSpan), aliased(User)
    stmt = (
        _client_episodes(level, counselor)
        .outerjoin(level, level.id == _current_level())
        .outerjoin(counselor, counselor.id == Episode.primary_counselor_id)
    )
    stmt = _paged(scoped_detox_board(stmt, user), _detox_sorts(level, counselor), query)
    rows = [
        _row(c, e, today, level=lvl, counselor=u) for c, e, lvl, u in session.execute(stmt).all()
    ]
    return Page(rows[:PAGE_SIZE], query, len(rows) > PAGE_SIZE)


@dataclass(frozen=True)
class Limited:
    rows: list[EpisodeRow]
    more: bool  # more rows exist than are shown


def overdue(
    session: Session,
    user: User,
    today: date,
    *,
    counselor: User | None = None,
    limit: int = ATTENTION_LIMIT,
) -> Limited:
    """Open episodes past their planned dates, longest-running first; only `counselor`'s
    caseload when given (wherever it is treated), else those at the user's site."""
    who = aliased(User)
    stmt = (
        _client_episodes(who)
        .outerjoin(who, who.id == Episode.primary_counselor_id)
        .where(_is_open(), past_planned(today))
    )
    if counselor is not None:
        stmt = stmt.where(Episode.primary_counselor_id == counselor.id)
    else:
        stmt = stmt.where(at_users_site(user, Episode.site_id))
    stmt = scoped(stmt, Perm.CLIENT_VIEW, user).order_by(
        Episode.phase_started_on, Client.search_name, Client.id
    )
    found = session.execute(stmt.limit(limit + 1)).all()
    rows = [_row(c, e, today, counselor=u) for c, e, u in found]
    return Limited([r for r in rows[:limit] if r.overdue], len(rows) > limit)


def unassigned(session: Session, user: User, today: date, limit: int = ATTENTION_LIMIT) -> Limited:
    """Open episodes at the user's site without a primary counselor, the longest waiting
    first."""
    stmt = _client_episodes().where(
        _is_open(), Episode.primary_counselor_id.is_(None), at_users_site(user, Episode.site_id)
    )
    stmt = scoped(stmt, Perm.CLIENT_VIEW, user).order_by(
        Episode.admitted_on, Client.search_name, Client.id
    )
    rows = [_row(c, e, today) for c, e in session.execute(stmt.limit(limit + 1)).all()]
    return Limited(rows[:limit], len(rows) > limit)


@dataclass(frozen=True)
class CensusSummary:
    total: int
    by_phase: list[tuple[Phase, int]]
    by_level: list[tuple[str, str, int]]  # code, name, count; code "none" when not recorded


def _summary(phases: Counter, levels: Counter, names: dict[str, str]) -> CensusSummary:
    """Counts by phase value and by level code ("none" when not recorded), and level names."""
    by_level = sorted(
        ((code, names.get(code, "Not recorded"), n) for code, n in levels.items()),
        key=lambda item: (item[0] == "none", item[0]),
    )
    by_phase = [(p, phases.get(p.value, 0)) for p in Phase if p in OPEN_PHASES]
    return CensusSummary(total=sum(phases.values()), by_phase=by_phase, by_level=by_level)


def census_summary(rows: list[CensusRow]) -> CensusSummary:
    """The figures of census rows already loaded (the facility census report lists them)."""
    tally = census_counts(rows)
    names = {r.level.code: level_name(r.level.code_system, r.level.code) for r in rows if r.level}
    return _summary(tally["phase"], tally["level"], names)


def census_figures(session: Session, user: User, on: date, tz: tzinfo) -> CensusSummary:
    """The manager's census panel: the same figures, counted in the database. The panel
    lists nobody, so no client or episode row is loaded."""
    phases: Counter[str] = Counter()
    levels: Counter[str] = Counter()
    names: dict[str, str] = {}
    for t in census_tally(session, on, tz, user):
        phases[t.phase.value] += t.n
        if t.code is None:
            levels["none"] += t.n
        else:
            levels[t.code] += t.n
            names[t.code] = level_name(t.code_system or "", t.code)
    return _summary(phases, levels, names)


@dataclass(frozen=True)
class MonthFlow:
    first: date
    admissions: int
    discharges: int
    recent_admissions: list[tuple[Client, Episode]]
    recent_discharges: list[tuple[Client, Episode, Discharge | None]]


def _count(session: Session, user: User, *where: sa.ColumnElement[bool]) -> int:
    stmt = (
        sa.select(sa.func.count(Episode.id))
        .select_from(Client)
        .join(Episode, Episode.client_id == Client.id)
        .where(*where)
    )
    return int(session.scalar(scoped(stmt, Perm.CLIENT_VIEW, user)) or 0)


def month_flow(session: Session, user: User, today: date, limit: int = SHORT_LIST) -> MonthFlow:
    """Admissions and discharges at the user's site dated from the first of this month to
    today."""
    first = today.replace(day=1)
    here = at_users_site(user, Episode.site_id)
    admitted = sa.and_(Episode.admitted_on.between(first, today), here)
    discharged = sa.and_(Episode.discharged_on.between(first, today), here)
    recent_in = scoped(_client_episodes().where(admitted), Perm.CLIENT_VIEW, user).order_by(
        Episode.admitted_on.desc(), Episode.id.desc()
    )
    recent_out = (
        _client_episodes(Discharge)
        .outerjoin(Discharge, Discharge.episode_id == Episode.id)
        .where(discharged)
    )
    recent_out = scoped(recent_out, Perm.CLIENT_VIEW, user).order_by(
        Episode.discharged_on.desc(), Episode.id.desc()
    )
    return MonthFlow(
        first=first,
        admissions=_count(session, user, admitted),
        discharges=_count(session, user, discharged),
        recent_admissions=[(c, e) for c, e in session.execute(recent_in.limit(limit)).all()],
        recent_discharges=[(c, e, d) for c, e, d in session.execute(recent_out.limit(limit)).all()],
    )


@dataclass(frozen=True)
class CounselorLoad:
    counselor: User
    open_episodes: int
    past_planned: int


def counselor_caseloads(session: Session, user: User, today: date) -> list[CounselorLoad]:
    """Active counselors (at the user's site), and anyone else still holding open episodes
    there, with how many open episodes they carry there and how many of those are past
    their planned dates."""
    loads = scoped(
        sa.select(
            Episode.primary_counselor_id.label("counselor_id"),
            sa.func.count(Episode.id).label("open"),
            sa.func.sum(sa.case((past_planned(today), 1), else_=0)).label("late"),
        )
        .select_from(Client)
        .join(Episode, Episode.client_id == Client.id)
        .where(
            _is_open(),
            Episode.primary_counselor_id.is_not(None),
            at_users_site(user, Episode.site_id),
        )
        .group_by(Episode.primary_counselor_id),
        Perm.CLIENT_VIEW,
        user,
    ).subquery()
    counselors = sa.select(UserRole.user_id).where(UserRole.role == Role.COUNSELOR)
    stmt = (
        sa.select(User, loads.c.open, loads.c.late)
        .outerjoin(loads, loads.c.counselor_id == User.id)
        .where(
            sa.or_(
                sa.and_(
                    User.active.is_(True),
                    User.id.in_(counselors),
                    at_users_site(user, User.site_id),
                ),
                loads.c.open > 0,
            )
        )
        .order_by(User.full_name, User.id)
    )
    return [CounselorLoad(u, n or 0, late or 0) for u, n, late in session.execute(stmt).all()]


# ---------------------------------------------------------------------------------------------
# Treatment-plan reviews

PLAN_DUE_SOON_DAYS = 7
_NEEDS_SIGNED_PLAN = (Phase.REHAB, Phase.AFTERCARE)


@dataclass(frozen=True)
class PlanReviewRow:
    client: Client
    episode: Episode
    plan: TreatmentPlan | None  # the signed version in force
    draft: TreatmentPlan | None  # a first plan or a review being written
    state: str  # "overdue", "missing" (no signed plan yet) or "due" (within the week)


@dataclass(frozen=True)
class PlanReviews:
    rows: list[PlanReviewRow]
    more: bool


def plan_reviews(
    session: Session,
    user: User,
    today: date,
    *,
    counselor: User,
    limit: int = ATTENTION_LIMIT,
) -> PlanReviews:
    """`counselor`'s open episodes whose signed plan is overdue for review or due within a
    week, and those in rehab or aftercare with no signed plan yet: overdue first."""
    signed, draft = aliased(TreatmentPlan), aliased(TreatmentPlan)
    missing = sa.and_(signed.id.is_(None), Episode.phase.in_(_NEEDS_SIGNED_PLAN))
    soon = today + timedelta(days=PLAN_DUE_SOON_DAYS)
    stmt = (
        _client_episodes(signed, draft)
        .outerjoin(
            signed,
            sa.and_(signed.episode_id == Episode.id, signed.status == PlanStatus.SIGNED),
        )
        .outerjoin(draft, sa.and_(draft.episode_id == Episode.id, draft.status == PlanStatus.DRAFT))
        .where(
            _is_open(),
            Episode.primary_counselor_id == counselor.id,
            sa.or_(missing, signed.review_due_on <= soon),
        )
    )
    stmt = scoped(stmt, Perm.CLIENT_VIEW, user).order_by(
        sa.case((signed.review_due_on < today, 0), (missing, 1), else_=2),
        signed.review_due_on,
        Episode.phase_started_on,
        Client.search_name,
        Client.id,
    )
    found = session.execute(stmt.limit(limit + 1)).all()
    rows = [PlanReviewRow(c, e, p, d, _review_state(p, today)) for c, e, p, d in found[:limit]]
    return PlanReviews(rows, len(found) > limit)


def _review_state(plan: TreatmentPlan | None, today: date) -> str:
    if plan is None:
        return "missing"
    return "overdue" if review_overdue(plan.review_due_on, today) else "due"

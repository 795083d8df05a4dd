"""The client progress report and the discharge summary: everything they show, loaded in a
fixed number of queries (one per kind of record, whatever its length), then laid out by
`client_sections` and rendered by `pdf`.

A renderer reads only its print record: client, episode, period, generated_at, generated_by,
purpose and recipient. Nothing here reads the clock: "today" is the end of the period, so a
report rendered again from unchanged records gives the same bytes, and `record.check` can
prove what was printed.

What a report covers:
- progress: the client's records dated in the period, across their episodes; the episode
  summary, treatment plan and continuing-care plan are those of the record's episode (the
  latest one by default), as they stood at the end of the period.
- discharge: the same, limited to the discharged episode, from admission to discharge.
Drafts are never printed: only signed notes, and the latest plan versions signed by the end
of the period.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from ..admin import settings
from ..admin.models import Setting
from ..aftercare import services as aftercare
from ..aftercare.models import (
    AftercareClosure,
    CheckIn,
    ContinuingCarePlan,
    PlanTrigger,
    RelapseEvent,
)
from ..auth.models import User
from ..charts.timeline import EpisodeLane
from ..clients.models import Client
from ..clients.timeline import timeline_for
from ..detox.models import MedicalClearance, WithdrawalAssessment
from ..domain.medications import Outcome
from ..domain.notes import NoteStatus
from ..domain.outcomes import Period
from ..domain.plans import PlanStatus
from ..domain.screens import counts_as_positive
from ..domain.sessions import PRESENT, duration_minutes
from ..episodes.models import Episode
from ..mar.models import MedicationAdministration, MedicationOrder
from ..notes.models import ClinicalSession, Note
from ..plans.models import PlanGoal, PlanProblem, TreatmentPlan
from ..screens.models import DrugScreen
from ..screens.services import screen_summary
from ..timefmt import day_start, facility_tz, local_date
from . import client_sections, pdf, record
from .models import PrintedReport

PROGRESS, DISCHARGE = "progress", "discharge"
CONSENT = "consent"  # in a disclosed report's parameters: the snapshot of the consent used
TITLES = {PROGRESS: "Client progress report", DISCHARGE: "Discharge summary"}


@dataclass(frozen=True)
class Score:
    at: datetime
    instrument: str  # "cows" or "ciwa_ar"
    total: int
    band: str


@dataclass(frozen=True)
class Visit:
    """One scheduled session, as the attendance table counts it."""

    session_type: str
    in_group: bool  # a seat in a group meeting
    attendance: str
    minutes: int  # minutes attended (0 when absent)


@dataclass(frozen=True)
class PlanVersion:
    """A signed plan version and whether another version is still a draft."""

    plan: TreatmentPlan | ContinuingCarePlan | None
    drafting: bool  # a draft exists and nothing signed is shown (drafts are never printed)


@dataclass(frozen=True)
class ReportData:
    title: str
    facility: str
    tz: ZoneInfo
    client: Client
    episode: Episode | None
    lane: EpisodeLane | None  # the episode's phase and level-of-care spans
    period: Period
    generated_at: datetime
    author: str  # who generated it, with credentials
    purpose: str
    recipient: str
    staff: dict[int, str]  # user id -> "Name, credentials"
    scores: list[Score]
    clearance: MedicalClearance | None
    orders: list[MedicationOrder]
    doses: dict[int, Counter[Outcome]]  # order id -> outcome counts in the period
    treatment_plan: PlanVersion
    visits: list[Visit]
    notes: list[Note]  # signed or co-signed only
    screens: list[DrugScreen]  # in the period (and scope)
    care_plan: PlanVersion
    check_ins: list[aftercare.CheckInRow]  # due in the period, status as of its end
    relapses: list[RelapseEvent]  # in the period (and scope)
    trigger_names: dict[str, str]  # trigger lineage -> description
    sobriety: aftercare.Sobriety
    closure: AftercareClosure | None

    def staff_name(self, user_id: int | None, missing: str = "Not recorded") -> str:
        return self.staff.get(user_id, missing) if user_id is not None else missing


# ---------------------------------------------------------------------------------------------
# Rendering (the renderers registered with the print record)


def render_progress(session: Session, row: PrintedReport) -> tuple[bytes, int]:
    data = load(session, row, whole_client=True)
    story = client_sections.progress(data) + released_under(row, data.client)
    return pdf.render(story, meta(data, row))


def render_discharge(session: Session, row: PrintedReport) -> tuple[bytes, int]:
    data = load(session, row, whole_client=False)
    story = client_sections.discharge(data) + released_under(row, data.client)
    return pdf.render(story, meta(data, row))


def released_under(row: PrintedReport, client: Client) -> list:
    """A disclosed report ends with the consent it was released under, as the record keeps
    it (privacy.consents.disclose); a report printed for use within the program, with none."""
    from ..privacy import consent_pdf  # privacy builds on printing: imported when used

    consent = json.loads(row.parameters or "{}").get(CONSENT)
    if not consent:
        return []
    label = f"{client.legal_first_name} {client.legal_last_name} · MRN {client.mrn}"
    notice = current_app.config.get("PART2_NOTICE", pdf.PART2_NOTICE)
    return consent_pdf.released_under([(label, consent)], notice)


record.register(PROGRESS, render_progress)
record.register(DISCHARGE, render_discharge)


def meta(data: ReportData, row: PrintedReport) -> pdf.Meta:
    client = data.client
    key = "|".join(
        str(v)
        for v in (
            row.kind,
            row.client_id,
            row.episode_id,
            data.period.start,
            data.period.end,
            row.generated_at.isoformat(),
            row.generated_by_id,
            row.parameters,
            row.purpose,
            row.recipient,
        )
    )
    return pdf.Meta(
        title=data.title,
        facility=data.facility,
        generated_at=row.generated_at,
        key=key,
        client_label=f"{client.legal_last_name}, {client.legal_first_name} · MRN {client.mrn}",
        notice=current_app.config.get("PART2_NOTICE", pdf.PART2_NOTICE),
        author=data.author,
    )


def default_period(episode: Episode | None, generated_at: datetime) -> Period:
    """The episode's admission to the day of printing (to the discharge, once discharged)."""
    today = local_date(generated_at)
    if episode is None:
        return Period(today, today)
    end = today if episode.is_open or episode.discharged_on is None else episode.discharged_on
    return Period(min(episode.admitted_on, end), end)


def latest_episode(client: Client) -> Episode | None:
    return client.episodes[-1] if client.episodes else None


# ---------------------------------------------------------------------------------------------
# Loading


def load(session: Session, row: PrintedReport, *, whole_client: bool) -> ReportData:
    """Everything the report shows, in a fixed number of queries."""
    client = _client(session, row.client_id)
    episode = next((e for e in client.episodes if e.id == row.episode_id), None)
    episode = episode or latest_episode(client)
    period = _period(row, episode)
    scope = [e.id for e in client.episodes] if whole_client else [episode.id] if episode else []
    start, end = day_start(period.start), day_start(period.end + timedelta(days=1))
    screens = _screens(session, client.id, end)
    relapses = _relapses(session, client.id, period.end)
    orders = _orders(session, scope, start, end)
    clearance = _clearance(session, scope, start, end)
    staff = _staff(
        session,
        {row.generated_by_id}
        | {e.primary_counselor_id for e in client.episodes if e.primary_counselor_id}
        | {o.ordered_by_id for o in orders}
        | {e.discharge.by_id for e in client.episodes if e.discharge}
        | ({clearance.by_id} if clearance else set()),
    )
    in_scope = set(scope)
    return ReportData(
        title=TITLES[row.kind],
        facility=row.facility or _facility(session),
        tz=facility_tz(),
        client=client,
        episode=episode,
        lane=_lane(client, episode, period.end),
        period=period,
        generated_at=row.generated_at,
        author=row.generated_by_label or staff.get(row.generated_by_id, ""),
        purpose=row.purpose,
        recipient=row.recipient,
        staff=staff,
        scores=_scores(session, scope, start, end),
        clearance=clearance,
        orders=orders,
        doses=_doses(session, scope, start, end),
        treatment_plan=_treatment_plan(session, episode, end),
        visits=_visits(session, scope, period),
        notes=_notes(session, scope, period),
        screens=[
            s for s in screens if s.episode_id in in_scope and local_date(s.collected_at) in period
        ],
        care_plan=_care_plan(session, episode, end),
        check_ins=_check_ins(session, scope, period),
        relapses=[e for e in relapses if e.episode_id in in_scope and e.used_on in period],
        trigger_names=_trigger_names(session, {e.trigger_lineage for e in relapses} - {None}),
        sobriety=aftercare.sobriety(relapses, _positive_days(screens), period.end),
        closure=_closure(session, episode),
    )


def _period(row: PrintedReport, episode: Episode | None) -> Period:
    default = default_period(episode, row.generated_at)
    start, end = row.period_start or default.start, row.period_end or default.end
    return Period(min(start, end), end)


def _client(session: Session, client_id: int | None) -> Client:
    stmt = (
        sa.select(Client)
        .where(Client.id == client_id)
        .options(
            selectinload(Client.substances),
            selectinload(Client.episodes).options(
                selectinload(Episode.phase_changes),
                selectinload(Episode.levels_of_care),
                joinedload(Episode.discharge),
            ),
        )
    )
    # Fresh from the database, whatever the session already holds.
    return session.scalars(stmt.execution_options(populate_existing=True)).one()


def _lane(client: Client, episode: Episode | None, end: date) -> EpisodeLane | None:
    if episode is None:
        return None
    lanes = timeline_for(client, end).episodes
    return next((lane for lane in lanes if lane.number == episode.number), None)


def _facility(session: Session) -> str:
    name = session.scalar(sa.select(Setting.value).where(Setting.key == settings.FACILITY_NAME))
    return name or current_app.config["FACILITY_NAME"]


def _staff(session: Session, ids: set[int]) -> dict[int, str]:
    """Each person's name with credentials, as printed (one query, no User objects)."""
    rows = session.execute(
        sa.select(User.id, User.full_name, User.credentials).where(User.id.in_(ids))
    )
    return {i: f"{name}, {cred}" if cred else name for i, name, cred in rows}


def _scores(session: Session, scope: list[int], start: datetime, end: datetime) -> list[Score]:
    wa = WithdrawalAssessment
    rows = session.execute(
        sa.select(wa.assessed_at, wa.instrument, wa.total, wa.band)
        .where(
            wa.episode_id.in_(scope),
            wa.assessed_at >= start,
            wa.assessed_at < end,
            wa.voided_at.is_(None),  # voided records stay out of a report (entered in error)
        )
        .order_by(wa.assessed_at, wa.id)
    )
    return [Score(*r) for r in rows]


def _clearance(
    session: Session, scope: list[int], start: datetime, end: datetime
) -> MedicalClearance | None:
    mc = MedicalClearance
    return session.scalar(
        sa.select(mc)
        .where(mc.episode_id.in_(scope), mc.cleared_at >= start, mc.cleared_at < end)
        .order_by(mc.cleared_at.desc(), mc.id.desc())
        .limit(1)
    )


def _orders(
    session: Session, scope: list[int], start: datetime, end: datetime
) -> list[MedicationOrder]:
    """Orders in force at some time in the period (the drug is joined by the model)."""
    mo = MedicationOrder
    return list(
        session.scalars(
            sa.select(mo)
            .where(
                mo.episode_id.in_(scope),
                mo.starts_at < end,
                sa.or_(mo.stops_at.is_(None), mo.stops_at > start),
                sa.or_(mo.discontinued_at.is_(None), mo.discontinued_at > start),
            )
            .order_by(mo.starts_at, mo.id)
        )
    )


def _doses(
    session: Session, scope: list[int], start: datetime, end: datetime
) -> dict[int, Counter[Outcome]]:
    ma = MedicationAdministration
    rows = session.execute(
        sa.select(ma.order_id, ma.outcome, sa.func.count())
        .where(
            ma.episode_id.in_(scope),
            ma.given_at >= start,
            ma.given_at < end,
            ma.voided_at.is_(None),
        )
        .group_by(ma.order_id, ma.outcome)
    )
    counts: dict[int, Counter[Outcome]] = defaultdict(Counter)
    for order_id, outcome, count in rows:
        counts[order_id][Outcome(outcome)] = count
    return dict(counts)


def _treatment_plan(session: Session, episode: Episode | None, end: datetime) -> PlanVersion:
    tree = selectinload(TreatmentPlan.problems).selectinload(PlanProblem.goals)
    return _signed_version(
        session, TreatmentPlan, episode, end, tree.selectinload(PlanGoal.objectives)
    )


def _care_plan(session: Session, episode: Episode | None, end: datetime) -> PlanVersion:
    return _signed_version(
        session,
        ContinuingCarePlan,
        episode,
        end,
        selectinload(ContinuingCarePlan.triggers),
        selectinload(ContinuingCarePlan.supports),
        selectinload(ContinuingCarePlan.life_changes),
    )


def _signed_version(
    session: Session, model: type, episode: Episode | None, end: datetime, *content
) -> PlanVersion:
    """The version in force at the end of the period (the latest signed by then, though it
    may be superseded now), with its content: one query for the versions, one per list."""
    if episode is None:
        return PlanVersion(None, False)
    versions = session.execute(
        sa.select(model.id, model.status, model.signed_at)
        .where(model.episode_id == episode.id)
        .order_by(model.number.desc())
    ).all()
    signed = next(
        (
            v.id
            for v in versions
            if v.status is not PlanStatus.DRAFT and v.signed_at and v.signed_at < end
        ),
        None,
    )
    if signed is None:
        return PlanVersion(None, bool(versions))
    return PlanVersion(
        session.scalars(sa.select(model).where(model.id == signed).options(*content)).one(), False
    )


def _visits(session: Session, scope: list[int], period: Period) -> list[Visit]:
    cs = ClinicalSession
    rows = session.execute(
        sa.select(
            cs.session_type,
            cs.group_meeting_id,
            cs.attendance,
            cs.minutes_attended,
            cs.start_time,
            cs.end_time,
        )
        .where(cs.episode_id.in_(scope), cs.session_date.between(period.start, period.end))
        .order_by(cs.session_date, cs.start_time, cs.id)
    )
    return [_visit(*r) for r in rows]


def _visit(kind: str, meeting_id, attendance: str, minutes, starts: time, ends: time) -> Visit:
    if attendance not in PRESENT:
        minutes = 0
    elif minutes is None:
        minutes = duration_minutes(starts, ends)
    return Visit(kind, meeting_id is not None, attendance, minutes)


def _notes(session: Session, scope: list[int], period: Period) -> list[Note]:
    """Signed (or co-signed) notes of sessions in the period; a draft is never loaded."""
    cs = ClinicalSession
    return list(
        session.scalars(
            sa.select(Note)
            .join(Note.session)
            .where(
                cs.episode_id.in_(scope),
                cs.session_date.between(period.start, period.end),
                Note.status.in_([NoteStatus.SIGNED, NoteStatus.COSIGNED]),
            )
            .options(
                contains_eager(Note.session),
                selectinload(Note.addenda),
                selectinload(Note.objectives),
            )
            .order_by(cs.session_date, cs.start_time, Note.id)
        )
    )


def _screens(session: Session, client_id: int, end: datetime) -> list[DrugScreen]:
    """All the client's screens up to the end of the period (positives set the sobriety
    date), oldest first, results loaded."""
    return list(
        session.scalars(
            sa.select(DrugScreen)
            .join(DrugScreen.episode)
            .where(
                Episode.client_id == client_id,
                DrugScreen.collected_at < end,
                DrugScreen.voided_at.is_(None),
            )
            .options(selectinload(DrugScreen.results))
            .order_by(DrugScreen.collected_at, DrugScreen.id)
        )
    )


def _positive_days(screens: list[DrugScreen]) -> list[date]:
    return [local_date(s.collected_at) for s in screens if counts_as_positive(screen_summary(s))]


def _relapses(session: Session, client_id: int, until: date) -> list[RelapseEvent]:
    return list(
        session.scalars(
            sa.select(RelapseEvent)
            .join(RelapseEvent.episode)
            .where(
                Episode.client_id == client_id,
                RelapseEvent.used_on <= until,
                RelapseEvent.voided_at.is_(None),
            )
            .order_by(RelapseEvent.used_on, RelapseEvent.id)
        )
    )


def _trigger_names(session: Session, lineages: set[str]) -> dict[str, str]:
    """Each trigger's description in its newest plan version."""
    if not lineages:
        return {}
    rows = session.execute(
        sa.select(PlanTrigger.lineage, PlanTrigger.description)
        .join(PlanTrigger.plan)
        .where(PlanTrigger.lineage.in_(lineages))
        .order_by(ContinuingCarePlan.number, PlanTrigger.id)
    )
    return dict(rows.tuples().all())  # newer versions overwrite older ones


def _check_ins(session: Session, scope: list[int], period: Period) -> list[aftercare.CheckInRow]:
    """Check-ins whose (rescheduled) date falls in the period, with their status as of its
    end. Each row's episode is already loaded, so reading it costs no query."""
    rows = session.scalars(
        sa.select(CheckIn)
        .where(CheckIn.episode_id.in_(scope), CheckIn.voided_at.is_(None))
        .order_by(CheckIn.due_on, CheckIn.id)
    )
    rules = aftercare.status_rules()
    return [
        aftercare.check_in_row(r, period.end, rules)
        for r in rows
        if (r.scheduled_on or r.due_on) in period
    ]


def _closure(session: Session, episode: Episode | None) -> AftercareClosure | None:
    if episode is None:
        return None
    return session.scalar(
        sa.select(AftercareClosure).where(AftercareClosure.episode_id == episode.id)
    )

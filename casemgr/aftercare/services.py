"""The aftercare year: the check-in schedule, recording and rescheduling contacts, relapse events,
the sobriety date, closure, and the counselor's list of check-ins due.

Services flush and never commit; the view commits once. The rules (schedule, status, sobriety
date, relapse and completion checks) come from casemgr.domain.aftercare. Importing this module
registers what happens when an episode enters or leaves aftercare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session, joinedload, selectinload

from ..audit.hooks import record
from ..auth.models import User
from ..clients.models import Client
from ..domain import aftercare as rules
from ..domain import codes
from ..domain import continuing_care as cc
from ..domain.aftercare import Band, Cadence, CheckInStatus, StatusRules
from ..domain.errors import DomainError
from ..domain.phases import Phase
from ..domain.plans import PlanStatus
from ..domain.screens import counts_as_positive
from ..episodes.models import Episode
from ..episodes.services import DischargeDetails, discharge, register_on_enter
from ..screens.models import DrugScreen
from ..screens.services import screen_summary
from ..timefmt import local_date
from .models import AftercareClosure, CheckIn, ContinuingCarePlan, PlanTrigger, RelapseEvent

OPEN, DONE, MISSED = "open", "done", "missed"
CANCELLED = "cancelled"  # shown only: an open contact after the episode closed
VOIDED = "voided"  # shown only: recorded in error; a fresh row for the same due date replaces it
FUTURE_GRACE = timedelta(minutes=5)
DUE_WINDOW_DAYS = 7  # the home page lists check-ins due within this many days, and overdue
OTHER_TRIGGER = "other"  # trigger select value for "not on the plan"; lineages are hex

METHODS: codes.Codes = (
    ("phone", "Phone"),
    ("in_person", "In person"),
    ("video", "Video"),
    ("text", "Text message"),
    ("letter", "Letter"),
)
# Ranges of the counted answers: (low, high, what the message calls it).
RANGES: dict[str, tuple[int, int, str]] = {
    "days_used_30": (0, 30, "Days of use in the last 30 days"),
    "meetings_attended": (0, 100, "Meetings attended in the last 30 days"),
    "craving": (0, 10, "Craving"),
}


# ---------------------------------------------------------------------------------------------
# Configuration


def cadence() -> Cadence:
    """`AFTERCARE_CADENCE` from the app config: a Cadence, or a mapping such as
    {"bands": [{"through_month": 1, "every_days": 7}, ...], "followup_days": [30, 90]}."""
    value = current_app.config.get("AFTERCARE_CADENCE")
    if value is None or isinstance(value, Cadence):
        return value or rules.DEFAULT_CADENCE
    if isinstance(value, Mapping):
        default = rules.DEFAULT_CADENCE
        bands = tuple(Band(**band) for band in value.get("bands", ())) or default.bands
        days = tuple(value.get("followup_days", default.followup_days))
        return Cadence(bands=bands, followup_days=days)
    raise TypeError("AFTERCARE_CADENCE must be a Cadence or a mapping")


def status_rules() -> StatusRules:
    return StatusRules(grace_days=int(current_app.config.get("CHECKIN_GRACE_DAYS", 7)))


# ---------------------------------------------------------------------------------------------
# The schedule, made on entering aftercare and ended on leaving it


def generate_schedule(
    session: Session,
    episode: Episode,
    start: date,
    *,
    rehab_ended_on: date | None = None,
    plan: Cadence | None = None,
) -> list[CheckIn]:
    """Add the year of contacts from `start`; a (kind, due date) the episode already has is
    kept as it is, so entering aftercare again never duplicates a check-in."""
    existing = {
        (kind, due_on)
        for kind, due_on in session.execute(
            sa.select(CheckIn.kind, CheckIn.due_on).where(
                CheckIn.episode_id == episode.id, CheckIn.voided_at.is_(None)
            )
        )
    }
    contacts = rules.schedule(start, plan or cadence(), rehab_ended_on=rehab_ended_on)
    added = [
        CheckIn(episode=episode, kind=c.kind, due_on=c.due_on)
        for c in contacts
        if (c.kind, c.due_on) not in existing
    ]
    session.add_all(added)
    session.flush()
    return added


def _entered_aftercare(
    session: Session, episode: Episode, source: Phase, actor: User, effective_at: datetime
) -> None:
    start = local_date(effective_at)
    added = generate_schedule(
        session, episode, start, rehab_ended_on=start if source is Phase.REHAB else None
    )
    detail = {"start": start.isoformat(), "check_ins": len(added)}
    record(session, "aftercare.scheduled", target=episode, detail=detail)


def end_schedule(session: Session, episode: Episode, after: date) -> int:
    """Remove the contacts still open and dated after `after`: appointments that will not
    happen because the client left aftercare. Nothing recorded is touched; each removal is in
    the audit trail. Entering aftercare again makes a new year from the new start."""
    target = sa.func.coalesce(CheckIn.scheduled_on, CheckIn.due_on)
    future = session.scalars(
        sa.select(CheckIn).where(
            CheckIn.episode_id == episode.id,
            CheckIn.status == OPEN,
            CheckIn.voided_at.is_(None),  # a voided record is never removed
            target > after,
        )
    ).all()
    for row in future:
        session.delete(row)
    session.flush()
    return len(future)


def _left_aftercare(
    session: Session, episode: Episode, source: Phase, actor: User, effective_at: datetime
) -> None:
    if source is Phase.AFTERCARE:
        removed = end_schedule(session, episode, local_date(effective_at))
        if removed or episode.phase is not Phase.DISCHARGED:  # close() already ended it
            detail = {"to": episode.phase.value, "removed": removed}
            record(session, "aftercare.schedule_ended", target=episode, detail=detail)


register_on_enter(Phase.AFTERCARE, _entered_aftercare)
register_on_enter(Phase.DETOX, _left_aftercare)
register_on_enter(Phase.REHAB, _left_aftercare)
# A discharge from the episode page (not through "Close aftercare") also ends the schedule.
register_on_enter(Phase.DISCHARGED, _left_aftercare)


# ---------------------------------------------------------------------------------------------
# Check-ins as the pages show them


def kind_label(kind: str) -> str:
    """ "Routine" or "30-day follow-up"."""
    if kind.startswith("followup_"):
        return f"{kind.removeprefix('followup_')}-day follow-up"
    return kind.replace("_", " ").capitalize()


def _as_domain(row: CheckIn) -> rules.CheckIn:
    recorded = None
    if row.status != OPEN:
        recorded = local_date(row.contacted_at) if row.contacted_at else row.due_on
    return rules.CheckIn(row.due_on, row.kind, row.scheduled_on, recorded, row.reached)


@dataclass(frozen=True)
class CheckInRow:
    check_in: CheckIn
    status: str  # a CheckInStatus value, or CANCELLED
    kind_label: str

    @property
    def target_on(self) -> date:
        return self.check_in.scheduled_on or self.check_in.due_on

    @property
    def status_label(self) -> str:
        return "Not needed (episode closed)" if self.status == CANCELLED else self.status.title()

    @property
    def is_open(self) -> bool:
        return self.check_in.status == OPEN and self.status not in (CANCELLED, VOIDED)

    @property
    def method_label(self) -> str:
        return codes.label(METHODS, self.check_in.method)


def check_in_row(row: CheckIn, today: date, status_rules_: StatusRules) -> CheckInRow:
    if row.is_voided:
        return CheckInRow(row, VOIDED, kind_label(row.kind))
    status = rules.checkin_status(_as_domain(row), today, status_rules_).value
    episode = row.episode
    target = row.scheduled_on or row.due_on
    if row.status == OPEN and not episode.is_open and target > episode.discharged_on:
        status = CANCELLED  # discharged through the episode page: the schedule just stops
    return CheckInRow(row, status, kind_label(row.kind))


# ---------------------------------------------------------------------------------------------
# Recording a check-in and moving one


@dataclass(frozen=True)
class CheckInEntry:
    reached: bool
    method: str
    contacted_at: datetime
    days_used_30: int | None = None
    meetings_attended: int | None = None
    employment: str = ""
    housing: str = ""
    craving: int | None = None
    drug_screen_done: bool = False
    note: str = ""


def _check_entry(entry: CheckInEntry, episode: Episode, now: datetime) -> None:
    if entry.method not in codes.codes_of(METHODS):
        raise DomainError("Choose how the client was contacted.", "method")
    if entry.contacted_at > now + FUTURE_GRACE:
        raise DomainError("The contact time cannot be in the future.", "contacted_at")
    if local_date(entry.contacted_at) < episode.admitted_on:
        raise DomainError("The contact time is before this episode's admission.", "contacted_at")
    for name, (low, high, what) in RANGES.items():
        value = getattr(entry, name)
        if value is not None and not low <= value <= high:
            raise DomainError(f"{what} must be from {low} to {high}.", name)
    if entry.reached and entry.days_used_30 is None:
        raise DomainError("Enter the days of use in the last 30 days (0 for none).", "days_used_30")
    if entry.employment and entry.employment not in codes.codes_of(codes.EMPLOYMENT):
        raise DomainError("Choose an employment status from the list.", "employment")
    if entry.housing and entry.housing not in codes.codes_of(codes.LIVING_ARRANGEMENTS):
        raise DomainError("Choose a housing status from the list.", "housing")


def record_check_in(
    session: Session, row: CheckIn, entry: CheckInEntry, *, actor: User, now: datetime
) -> CheckIn:
    """Record what the contact found: done when the client was reached, else missed. A
    recorded check-in is never recorded again (a race loses on the version counter)."""
    if row.status != OPEN:
        raise DomainError("This check-in is already recorded.")
    if not row.episode.is_open:
        raise DomainError("The episode is closed.")
    _check_entry(entry, row.episode, now)
    for field in fields(CheckInEntry):
        setattr(row, field.name, getattr(entry, field.name))
    row.note = entry.note.strip()
    row.status = DONE if entry.reached else MISSED
    row.recorded_by_id = actor.id
    session.flush()
    return row


def reschedule_check_in(
    session: Session,
    row: CheckIn,
    new_on: date,
    reason: str,
    *,
    today: date,
    rules_: StatusRules = rules.DEFAULT_STATUS_RULES,
) -> CheckIn:
    """Contact on another day; `due_on` stays, so how late the contact came stays visible."""
    if row.episode.phase is not Phase.AFTERCARE:
        raise DomainError("Check-ins are rescheduled while the client is in aftercare.")
    current = _as_domain(row)
    missed = rules.checkin_status(current, today, rules_) is CheckInStatus.MISSED
    if current.recorded_on is None and missed:
        raise DomainError(
            "This check-in was missed; record the attempt instead of moving it.", "rescheduled_to"
        )
    if not reason.strip():
        raise DomainError("Say why the check-in moves.", "reason")
    moved = rules.reschedule(current, new_on, today)
    row.scheduled_on = moved.rescheduled_to
    row.reschedule_reason = reason.strip()
    session.flush()
    return row


def reopen_check_in(session: Session, row: CheckIn) -> CheckIn | None:
    """After a recorded check-in is voided: a fresh open one for the same episode, kind and due
    date (and any reschedule), so it shows as due again and can be recorded correctly; the
    unique index counts live rows only. None once the episode has left aftercare: the schedule
    ended with it."""
    episode = row.episode
    if not episode.is_open or episode.phase is not Phase.AFTERCARE:
        return None
    fresh = CheckIn(
        episode=episode,
        kind=row.kind,
        due_on=row.due_on,
        scheduled_on=row.scheduled_on,
        reschedule_reason=row.reschedule_reason,
    )
    session.add(fresh)
    session.flush()
    return fresh


# ---------------------------------------------------------------------------------------------
# Relapse events


@dataclass(frozen=True)
class RelapseEntry:
    kind: str
    used_on: date
    substance: str
    response: str
    circumstances: str = ""
    trigger: str = ""  # a plan trigger's lineage, OTHER_TRIGGER, or "" for none / not known
    trigger_other: str = ""


def current_plan(session: Session, episode_id: int) -> ContinuingCarePlan | None:
    """The plan the client is followed by: the latest signed version, else the draft. Its
    triggers and supports are loaded."""
    plans = session.scalars(
        sa.select(ContinuingCarePlan)
        .where(
            ContinuingCarePlan.episode_id == episode_id,
            ContinuingCarePlan.status.in_([PlanStatus.SIGNED, PlanStatus.DRAFT]),
        )
        .options(
            selectinload(ContinuingCarePlan.triggers), selectinload(ContinuingCarePlan.supports)
        )
        .order_by(ContinuingCarePlan.number.desc())
    ).all()
    signed = [p for p in plans if p.status is PlanStatus.SIGNED]
    return (signed or plans or [None])[0]


def record_relapse(
    session: Session,
    episode: Episode,
    entry: RelapseEntry,
    *,
    actor: User,
    today: date,
    triggers: list[PlanTrigger],
) -> RelapseEvent:
    """Add a lapse or relapse. Events are never edited: a correction is a new event."""
    if not episode.is_open:
        raise DomainError("The episode is closed.")
    rules.check_relapse(
        entry.kind, entry.used_on, entry.response, today, not_before=episode.admitted_on
    )
    if entry.substance not in codes.codes_of(codes.SUBSTANCES):
        raise DomainError("Choose the substance used.", "substance")
    lineage = entry.trigger if entry.trigger not in ("", OTHER_TRIGGER) else None
    if lineage is not None and lineage not in {t.lineage for t in triggers}:
        raise DomainError("Choose a trigger from the current plan.", "trigger")
    other = entry.trigger_other.strip() if entry.trigger == OTHER_TRIGGER else ""
    if entry.trigger == OTHER_TRIGGER and not other:
        raise DomainError("Describe the trigger.", "trigger_other")
    event = RelapseEvent(
        episode=episode,
        kind=entry.kind,
        used_on=entry.used_on,
        substance=entry.substance,
        circumstances=entry.circumstances.strip(),
        trigger_lineage=lineage,
        trigger_other=other,
        response=entry.response,
        recorded_by_id=actor.id,
    )
    session.add(event)
    session.flush()
    return event


@dataclass(frozen=True)
class RelapseRow:
    event: RelapseEvent
    kind_label: str
    substance_label: str
    trigger_label: str
    response_label: str


def _relapse_row(event: RelapseEvent, trigger_names: dict[str, str]) -> RelapseRow:
    if event.trigger_lineage:
        trigger = trigger_names.get(event.trigger_lineage, "A trigger no longer on the plan")
    else:
        trigger = f"Other: {event.trigger_other}" if event.trigger_other else "Not recorded"
    return RelapseRow(
        event,
        codes.label(rules.RELAPSE_KINDS, event.kind).split(" (")[0],
        codes.label(codes.SUBSTANCES, event.substance),
        trigger,
        codes.label(rules.RELAPSE_RESPONSES, event.response),
    )


def _trigger_names(session: Session, lineages: set[str]) -> dict[str, str]:
    """Each lineage's description in its newest plan version (one query)."""
    if not lineages:
        return {}
    found = session.execute(
        sa.select(PlanTrigger.lineage, PlanTrigger.description)
        .join(PlanTrigger.plan)
        .where(PlanTrigger.lineage.in_(lineages))
        .order_by(ContinuingCarePlan.number)
    )
    return {lineage: text for lineage, text in found}  # newer versions overwrite older ones


# ---------------------------------------------------------------------------------------------
# The overview page


@dataclass(frozen=True)
class Sobriety:
    since: date | None  # the sobriety date: the day after the last known use
    days: int | None
    last_relapse_on: date | None
    last_positive_screen_on: date | None


def _positive_screen_days(session: Session, client_id: int) -> list[date]:
    screens = session.scalars(
        sa.select(DrugScreen)
        .join(DrugScreen.episode)
        .where(Episode.client_id == client_id, DrugScreen.voided_at.is_(None))
        .options(selectinload(DrugScreen.results))
    )
    return [local_date(s.collected_at) for s in screens if counts_as_positive(screen_summary(s))]


def sobriety(
    relapses: list[RelapseEvent], positive_screens_on: list[date], today: date
) -> Sobriety:
    """Derived, never typed: from every relapse event and positive screen of the client.
    The chart records no last-use date at admission, so none is used. A voided event (entered
    in error) counts for nothing."""
    used = [e.used_on for e in relapses if not e.is_voided]
    since = rules.sobriety_date(relapses_on=used, positive_screens_on=positive_screens_on)
    return Sobriety(
        since,
        rules.days_sober(since, today),
        max(used, default=None),
        max(positive_screens_on, default=None),
    )


@dataclass(frozen=True)
class Overview:
    episode: Episode
    check_ins: list[CheckInRow]
    relapses: list[RelapseRow]  # this episode's, newest first
    sobriety: Sobriety
    plan: ContinuingCarePlan | None
    closure: AftercareClosure | None
    started_on: date | None  # the current aftercare start
    completion_from: date | None  # when it may close as completed

    def relapse(self, event_id: int | None) -> RelapseRow | None:
        return next((r for r in self.relapses if r.event.id == event_id), None)

    @property
    def plan_program(self) -> str:
        return codes.label(cc.PROGRAMS, self.plan.program) if self.plan else ""

    @property
    def plan_level(self) -> str:
        return codes.label(cc.LEVELS_OF_CARE, self.plan.level_of_care) if self.plan else ""

    def counts(self) -> dict[str, int]:
        tally: dict[str, int] = {}
        for row in self.check_ins:  # a voided row counts as nothing (its replacement counts)
            tally[row.status] = tally.get(row.status, 0) + 1
        return tally


def _client_relapses(session: Session, client_id: int) -> list[RelapseEvent]:
    return list(
        session.scalars(
            sa.select(RelapseEvent)
            .join(RelapseEvent.episode)
            .where(Episode.client_id == client_id)
            .options(joinedload(RelapseEvent.recorded_by))
            .order_by(RelapseEvent.used_on.desc(), RelapseEvent.id.desc())
        )
    )


def check_ins(session: Session, episode_id: int) -> list[CheckIn]:
    return list(
        session.scalars(
            sa.select(CheckIn)
            .where(CheckIn.episode_id == episode_id)
            .options(joinedload(CheckIn.recorded_by))
            .order_by(CheckIn.due_on, CheckIn.id)
        )
    )


def aftercare_start(episode: Episode) -> date | None:
    """The day the episode (last) entered aftercare; None when it is not in aftercare."""
    return episode.phase_started_on if episode.phase is Phase.AFTERCARE else None


def completion_from(started_on: date | None) -> date | None:
    """The first day aftercare may close as completed."""
    return rules.completion_allowed_from(started_on) if started_on else None


def overview(session: Session, episode: Episode, today: date, rules_: StatusRules) -> Overview:
    """Everything the aftercare page shows, in a fixed number of queries."""
    relapses = _client_relapses(session, episode.client_id)
    names = _trigger_names(session, {e.trigger_lineage for e in relapses if e.trigger_lineage})
    start = aftercare_start(episode)
    return Overview(
        episode=episode,
        check_ins=[check_in_row(r, today, rules_) for r in check_ins(session, episode.id)],
        relapses=[_relapse_row(e, names) for e in relapses if e.episode_id == episode.id],
        sobriety=sobriety(relapses, _positive_screen_days(session, episode.client_id), today),
        plan=current_plan(session, episode.id),
        closure=session.scalar(
            sa.select(AftercareClosure).where(AftercareClosure.episode_id == episode.id)
        ),
        started_on=start,
        completion_from=completion_from(start),
    )


# ---------------------------------------------------------------------------------------------
# Closing aftercare


def close_aftercare(
    session: Session,
    episode: Episode,
    summary: str,
    details: DischargeDetails,
    *,
    actor: User,
    now: datetime,
    today: date,
) -> AftercareClosure:
    """Close aftercare with a summary and discharge the episode with the TEDS fields, in the
    caller's one transaction: both are written or neither."""
    started_on = aftercare_start(episode)
    if started_on is None:
        raise DomainError("Only an episode in aftercare can close aftercare.")
    if not summary.strip():
        raise DomainError("Write a closing summary.", "summary")
    rules.check_aftercare_close(details.reason_code, started_on, details.discharged_on)
    closure = AftercareClosure(
        episode=episode,
        closed_on=details.discharged_on,
        reason_code=details.reason_code,
        summary=summary.strip(),
        by_id=actor.id,
    )
    session.add(closure)
    end_schedule(session, episode, details.discharged_on)
    discharge(session, episode, details, actor=actor, now=now, today=today)
    session.flush()
    return closure


# ---------------------------------------------------------------------------------------------
# The counselor's home page


@dataclass(frozen=True)
class DueCheckIn:
    check_in: CheckIn
    client: Client
    status: CheckInStatus  # due, overdue or upcoming (within the week)
    kind_label: str

    @property
    def target_on(self) -> date:
        return self.check_in.scheduled_on or self.check_in.due_on


def due_check_ins(
    session: Session,
    counselor: User,
    today: date,
    rules_: StatusRules | None = None,
    *,
    window_days: int = DUE_WINDOW_DAYS,
) -> list[DueCheckIn]:
    """Open check-ins of the counselor's open aftercare episodes that are due within the
    week or overdue (not yet missed), overdue first, then by date. One query."""
    rules_ = rules_ or status_rules()
    target = sa.func.coalesce(CheckIn.scheduled_on, CheckIn.due_on)
    stmt = (
        sa.select(CheckIn)
        .join(CheckIn.episode)
        .where(
            Episode.primary_counselor_id == counselor.id,
            Episode.phase == Phase.AFTERCARE,
            CheckIn.status == OPEN,
            CheckIn.voided_at.is_(None),
            target <= today + timedelta(days=window_days),
            target >= today - timedelta(days=rules_.grace_days),
        )
        .options(joinedload(CheckIn.episode).joinedload(Episode.client))
        .order_by(target, CheckIn.id)
    )
    found = []
    for row in session.scalars(stmt):
        status = rules.checkin_status(_as_domain(row), today, rules_)
        if status is not CheckInStatus.MISSED:
            found.append(DueCheckIn(row, row.episode.client, status, kind_label(row.kind)))
    return sorted(found, key=lambda r: r.status is not CheckInStatus.OVERDUE)  # stable

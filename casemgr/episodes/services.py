"""Admission, phase moves, levels of care, caseload assignment, discharge and readmission.

Services check the rules, append history and audit; the view commits once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..audit.hooks import record
from ..auth.models import User
from ..clients.models import Client
from ..domain.care import CODE_SYSTEMS, CareWarning, Setting, step_down_warning
from ..domain.codes import LEFT_AGAINST_ADVICE
from ..domain.errors import DomainError
from ..domain.phases import IllegalTransition, Phase, check_transition
from ..domain.roles import Role
from ..domain.text import clean_reason
from ..sites.models import Site
from .models import CaseloadAssignment, Discharge, Episode, LevelOfCareSpan, SiteChange

# Recording a move more than this long after it happened needs a reason (a late entry).
BACKDATE_GRACE = timedelta(hours=1)
FUTURE_GRACE = timedelta(minutes=5)

# Guards that must pass before a move, registered by the features that own the facts.
# Each returns None when the move may go ahead, or the reason it may not.
Guard = Callable[[Episode], str | None]
TRANSITION_GUARDS: dict[tuple[Phase, Phase], list[Guard]] = {}


def register_guard(source: Phase, target: Phase, guard: Guard) -> None:
    """E.g. detox registers "medically cleared" for detox → rehab."""
    TRANSITION_GUARDS.setdefault((source, target), []).append(guard)


# What a feature does, in the same transaction, when an episode has entered a phase
# (e.g. aftercare generates its year of check-ins). Called after the move is flushed.
OnEnter = Callable[[Session, Episode, Phase, User, datetime], None]
ON_ENTER: dict[Phase, list[OnEnter]] = {}


def register_on_enter(phase: Phase, action: OnEnter) -> None:
    ON_ENTER.setdefault(phase, []).append(action)


@dataclass(frozen=True)
class Move:
    target: Phase
    effective_at: datetime
    reason: str
    backdate_reason: str = ""


def admit(
    session: Session,
    client: Client,
    *,
    actor: User,
    admitted_on: date,
    counselor: User | None,
    now: datetime,
    admitted_at: datetime | None = None,
    site: Site | None = None,
) -> Episode:
    """Open a new episode in intake, at `site` (None on an install without sites). Refused
    while another episode is still open, and at a site that is closed."""
    if any(e.is_open for e in client.episodes):
        raise DomainError(
            "This client already has an open episode; discharge it before readmitting."
        )
    if site is not None and not site.active:
        raise DomainError(f"{site.name} is closed and takes no admissions.", field="site")
    if counselor is not None:
        _check_counselor(counselor)
    episode = Episode(
        client=client,
        number=len(client.episodes) + 1,
        admitted_on=admitted_on,
        phase=Phase.INTAKE,
        phase_started_on=admitted_on,
        site=site,
    )
    session.add(episode)
    # The admission counts from the start of its day (or now, if that is earlier), so moves
    # entered later can still be dated back to the days they happened.
    episode.phase_changes.append(_admission_change(actor, min(admitted_at or now, now)))
    if counselor is not None:
        _assign(episode, counselor, actor=actor, now=now, reason="Assigned at admission")
    session.flush()
    record(
        session,
        "episode.admitted",
        target=episode,
        client_id=client.id,
        detail={"number": episode.number},
    )
    return episode


def _admission_change(actor: User, at: datetime):
    from .models import PhaseChange

    return PhaseChange(
        from_phase=None, to_phase=Phase.INTAKE, by=actor, effective_at=at, reason="Admitted"
    )


def move(
    session: Session,
    episode: Episode,
    move_: Move,
    *,
    actor: User,
    now: datetime,
    local_date: Callable[[datetime], date],
) -> list[CareWarning]:
    """Move the episode to another phase. Discharge has its own service and form."""
    if move_.target is Phase.DISCHARGED:
        raise DomainError(
            "Use Discharge to close an episode; it records the TEDS discharge fields.", "target"
        )
    check_transition(episode.phase, move_.target)
    move_ = _check_time(episode, move_, now)
    for guard in TRANSITION_GUARDS.get((episode.phase, move_.target), []):
        problem = guard(episode)
        if problem:
            raise IllegalTransition(problem)
    warnings = []
    on = local_date(move_.effective_at)
    if episode.phase is Phase.REHAB and move_.target is Phase.AFTERCARE:
        warning = step_down_warning(episode.phase_started_on, on)
        warnings = [warning] if warning else []
    source = episode.phase
    episode.move_to(
        move_.target,
        by=actor,
        at=move_.effective_at,
        on=on,
        reason=move_.reason.strip(),
        backdate_reason=move_.backdate_reason.strip(),
    )
    session.flush()
    for action in ON_ENTER.get(move_.target, []):
        action(session, episode, source, actor, move_.effective_at)
    return warnings


def _check_time(episode: Episode, move_: Move, now: datetime) -> Move:
    """Refuse future or out-of-order times; forms work in whole minutes, so a move typed for
    the same minute as the previous one is placed just after it."""
    at = move_.effective_at
    if at > now + FUTURE_GRACE:
        raise DomainError("A move cannot be dated in the future.", "effective_at")
    last = episode.phase_changes[-1].effective_at if episode.phase_changes else None
    if last is not None and at < last.replace(second=0, microsecond=0):
        raise DomainError(
            "A move cannot be dated before the episode's previous move.", "effective_at"
        )
    if now - at > BACKDATE_GRACE and not move_.backdate_reason.strip():
        raise DomainError("Say why this move is recorded late.", "backdate_reason")
    return replace(move_, effective_at=max(at, last)) if last is not None else move_


def set_level_of_care(
    session: Session,
    episode: Episode,
    *,
    setting: Setting,
    code_system: str,
    code: str,
    started_on: date,
    actor: User,
    today: date,
) -> LevelOfCareSpan:
    if not episode.is_open:
        raise DomainError("The episode is closed.")
    system = CODE_SYSTEMS.get(code_system)
    if system is None or code not in system.codes:
        raise DomainError("Choose a level from the list.", "code")
    if started_on > today:
        raise DomainError("The level of care cannot start in the future.", "started_on")
    if started_on < episode.admitted_on:
        raise DomainError("The level of care cannot start before admission.", "started_on")
    current = episode.current_level
    if current is not None:
        if started_on < current.started_on:
            raise DomainError(
                "It cannot start before the current level of care started.", "started_on"
            )
        current.ended_on = started_on
    span = LevelOfCareSpan(
        setting=setting.value,
        code_system=code_system,
        code=code,
        started_on=started_on,
        by_id=actor.id,
    )
    episode.levels_of_care.append(span)
    session.flush()
    return span


def assign_counselor(
    session: Session, episode: Episode, counselor: User, *, actor: User, now: datetime, reason: str
) -> None:
    if not episode.is_open:
        raise DomainError("The episode is closed.")
    _check_counselor(counselor)
    if episode.primary_counselor_id == counselor.id:
        raise DomainError(f"{counselor.full_name} is already the primary counselor.", "counselor")
    _assign(episode, counselor, actor=actor, now=now, reason=reason)
    session.flush()


def _check_counselor(counselor: User) -> None:
    if not counselor.active or Role.COUNSELOR not in counselor.roles:
        raise DomainError("Choose an active counselor.", "counselor")


def _assign(episode: Episode, counselor: User, *, actor: User, now: datetime, reason: str) -> None:
    for current in episode.assignments:
        if current.ended_at is None:
            current.ended_at = now
    episode.assignments.append(
        CaseloadAssignment(
            counselor=counselor, started_at=now, by_id=actor.id, reason=reason.strip()
        )
    )
    episode.primary_counselor = counselor


@dataclass(frozen=True)
class DischargeDetails:
    last_contact_on: date
    discharged_on: date
    reason_code: str
    use_frequency: str
    employment: str
    living_arrangement: str
    arrests_30d: int
    self_help: str
    note: str = ""
    left_at: datetime | None = None


def discharge(
    session: Session,
    episode: Episode,
    details: DischargeDetails,
    *,
    actor: User,
    now: datetime,
    today: date,
) -> Discharge:
    check_transition(episode.phase, Phase.DISCHARGED)
    _check_discharge(episode, details, today)
    source = episode.phase
    row = Discharge(episode=episode, by_id=actor.id, **details.__dict__)
    session.add(row)
    at = details.left_at or now
    reason = f"Discharged: TEDS reason {details.reason_code}"
    episode.move_to(
        Phase.DISCHARGED, by=actor, at=min(at, now), on=details.discharged_on, reason=reason
    )
    for current in episode.assignments:
        if current.ended_at is None:
            current.ended_at = now
    _leave_groups(session, episode, details.discharged_on)
    session.flush()
    for action in ON_ENTER.get(Phase.DISCHARGED, []):
        action(session, episode, source, actor, min(at, now))
    return row


def _leave_groups(session: Session, episode: Episode, on: date) -> None:
    from ..groups.models import GroupEnrollment

    enrolled = session.scalars(
        sa.select(GroupEnrollment).where(
            GroupEnrollment.episode_id == episode.id, GroupEnrollment.ended_on.is_(None)
        )
    )
    for enrollment in enrolled:
        enrollment.ended_on = on


def _check_discharge(episode: Episode, d: DischargeDetails, today: date) -> None:
    if d.discharged_on > today:
        raise DomainError("The discharge date cannot be in the future.", "discharged_on")
    if d.discharged_on < episode.admitted_on:
        raise DomainError("The discharge date is before the admission date.", "discharged_on")
    if d.last_contact_on > d.discharged_on:
        raise DomainError("The last contact is after the discharge date.", "last_contact_on")
    if d.last_contact_on < episode.admitted_on:
        raise DomainError("The last contact is before the admission date.", "last_contact_on")
    if d.reason_code == LEFT_AGAINST_ADVICE and episode.phase is Phase.DETOX and d.left_at is None:
        raise DomainError("Record the time the client left detox against advice.", "left_at")


def counselors(session: Session) -> list[User]:
    from ..auth.models import UserRole

    stmt = (
        sa.select(User)
        .join(UserRole)
        .where(UserRole.role == Role.COUNSELOR, User.active.is_(True))
        .order_by(User.full_name)
        .options(joinedload(User.site))  # the site transfer form names each one's site
    )
    return list(session.scalars(stmt))


SITE_REASON_MIN = 5
SITE_REASON_MAX = 500


def transfer_site(
    session: Session,
    episode: Episode,
    to_site: Site | None,
    *,
    actor: User,
    reason: str | None,
    now: datetime,
    counselor: User | None = None,
) -> None:
    """Move an open episode to another of the network's sites (detox at one facility,
    residential rehab at another): the episode's site changes, and a SiteChange row keeps
    who moved it, when and why (the chart's site history). Audited as `episode.site_changed`
    with both site ids; the reason stays on the row, out of the trail (see casemgr.voids).

    With `counselor`, one of the new site's counselors (or a network-wide one) takes the
    client on in the same step, recorded in the caseload history as "Moved to <site>"."""
    if not episode.is_open:
        raise DomainError("The episode is closed; only an open episode changes site.")
    if to_site is None:
        raise DomainError("Choose the site the client moves to.", "site")
    if to_site.id == episode.site_id:
        raise DomainError(f"The client is already at {to_site.name}.", "site")
    if not to_site.active:
        raise DomainError(f"{to_site.name} is closed and takes no clients.", "site")
    _check_site_reason(reason)
    if counselor is not None and counselor.id != episode.primary_counselor_id:
        _check_site_counselor(counselor, to_site)
        moved = f"Moved to {to_site.name}"[: CaseloadAssignment.reason.type.length]
        _assign(episode, counselor, actor=actor, now=now, reason=moved)
    from_site_id = episode.site_id
    episode.site_changes.append(
        SiteChange(
            from_site_id=from_site_id,
            to_site=to_site,
            at=now,
            by=actor,
            reason=(reason or "").strip(),
        )
    )
    episode.site = to_site
    session.flush()
    record(
        session,
        "episode.site_changed",
        target=episode,
        actor=actor,
        detail={"from_site_id": from_site_id, "to_site_id": to_site.id},
    )


def _check_site_counselor(counselor: User, site: Site) -> None:
    _check_counselor(counselor)
    if counselor.site_id not in (None, site.id):
        raise DomainError(
            f"{counselor.full_name} works at another site; choose a counselor of {site.name}.",
            "counselor",
        )


def _check_site_reason(text: str | None) -> None:
    clean_reason(
        text,
        minimum=SITE_REASON_MIN,
        maximum=SITE_REASON_MAX,
        required="Say why the client moves to another site.",
        too_short=f"Give a reason of at least {SITE_REASON_MIN} characters.",
    )


def active_sites(session: Session) -> list[Site]:
    """The open sites, by name: where an episode may be admitted or moved to."""
    return list(session.scalars(sa.select(Site).where(Site.active.is_(True)).order_by(Site.name)))

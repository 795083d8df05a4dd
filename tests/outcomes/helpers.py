"""Building episode histories with explicit dates, as model rows (no services, so no side
effects such as generated check-ins), for the outcomes tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, time

from casemgr.aftercare.models import CheckIn
from casemgr.auth.models import User
from casemgr.clients import services as clients
from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.episodes.models import Discharge, Episode, LevelOfCareSpan, PhaseChange
from casemgr.extensions import db
from tests.clients_helpers import TODAY, sheet


def at(day: date, hour: int = 15) -> datetime:
    """Mid-afternoon UTC: the same calendar day at the facility (America/New_York)."""
    return datetime.combine(day, time(hour), tzinfo=UTC)


def client(actor: User, name: str) -> Client:
    return clients.register(
        db.session, sheet(legal_first_name=name, legal_last_name="Test"), actor=actor, today=TODAY
    )


def episode(
    owner: Client,
    actor: User,
    *,
    admitted: date,
    moves: Sequence[tuple[Phase, date]] = (),
    discharged: tuple[date, str] | None = None,
    counselor: User | None = None,
    levels: Sequence[tuple[str, date]] = (),
    admission_recorded: date | None = None,
    discharge_recorded: date | None = None,
) -> Episode:
    """An episode admitted on `admitted`, moved to each phase on its date, then discharged
    with (date, TEDS reason). The admission and the discharge may be recorded later than
    they happened (`*_recorded`: the date of their phase change)."""
    phase = moves[-1][0] if moves else Phase.INTAKE
    ep = Episode(
        client=owner,
        number=len(owner.episodes) + 1,
        admitted_on=admitted,
        phase=Phase.DISCHARGED if discharged else phase,
        phase_started_on=discharged[0] if discharged else (moves[-1][1] if moves else admitted),
        primary_counselor_id=counselor.id if counselor else None,
        discharged_on=discharged[0] if discharged else None,
    )
    db.session.add(ep)
    steps = [(None, Phase.INTAKE, admission_recorded or admitted)]
    for target, day in moves:
        steps.append((steps[-1][1], target, day))
    if discharged:
        steps.append((steps[-1][1], Phase.DISCHARGED, discharge_recorded or discharged[0]))
    for source, target, day in steps:
        ep.phase_changes.append(
            PhaseChange(
                from_phase=source, to_phase=target, by=actor, effective_at=at(day), reason="test"
            )
        )
    for index, (code, start) in enumerate(levels):
        end = levels[index + 1][1] if index + 1 < len(levels) else None
        ep.levels_of_care.append(
            LevelOfCareSpan(
                setting="residential",
                code_system="ASAM3",
                code=code,
                started_on=start,
                ended_on=end,
                by_id=actor.id,
            )
        )
    if discharged:
        db.session.add(
            Discharge(
                episode=ep,
                last_contact_on=discharged[0],
                discharged_on=discharged[0],
                reason_code=discharged[1],
                use_frequency="1",
                employment="full_time",
                living_arrangement="independent",
                self_help="1",
                by_id=actor.id,
            )
        )
    db.session.flush()
    return ep


def followup(
    ep: Episode, days: int, due: date, *, reached: bool | None, days_used: int | None = None
) -> CheckIn:
    row = CheckIn(
        episode=ep,
        kind=f"followup_{days}",
        due_on=due,
        status="open" if reached is None else ("done" if reached else "missed"),
        reached=reached,
        days_used_30=days_used,
    )
    db.session.add(row)
    db.session.flush()
    return row

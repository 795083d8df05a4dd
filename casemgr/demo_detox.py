"""Demo detox unit: withdrawal assessments, medication orders and a MAR for the clients in
detox, written through the same services the nurses use (scores computed, doses checked).

Casey is early in withdrawal and due now; Drew is settling and overdue for an assessment;
a nurse has entered a verbal order that waits for the demo physician's co-signature.
"""

from __future__ import annotations

from datetime import datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .auth.models import User
from .clients.models import Client
from .detox import services as detox
from .domain.medications import Outcome
from .domain.phases import Phase
from .domain.withdrawal import COWS
from .episodes.models import Episode
from .mar import services as mar
from .timefmt import facility_tz

# COWS item scores, most to least severe; totals 22, 16, 11, 6 (moderate → mild).
_COWS_STEPS = (
    (2, 2, 3, 2, 2, 2, 3, 2, 2, 2, 0),
    (1, 2, 3, 1, 1, 2, 2, 1, 1, 2, 0),
    (1, 1, 1, 1, 1, 1, 2, 1, 1, 1, 0),
    (1, 0, 1, 0, 1, 1, 0, 1, 0, 1, 0),
)
_VITALS = (
    {"systolic": 152, "diastolic": 94, "heart_rate": 112, "respiratory_rate": 20},
    {"systolic": 138, "diastolic": 88, "heart_rate": 98, "respiratory_rate": 18},
    {"systolic": 128, "diastolic": 82, "heart_rate": 86, "respiratory_rate": 16},
    {"systolic": 122, "diastolic": 78, "heart_rate": 76, "respiratory_rate": 14},
)


def load(session: Session, staff: dict[str, User], password: str, now: datetime) -> None:
    detox_now = {
        c.legal_first_name: c.episodes[-1]
        for c in session.scalars(sa.select(Client))
        if c.episodes and c.episodes[-1].phase is Phase.DETOX
    }
    nurse, nurse2, physician = staff["demo-nurse"], staff["demo-nurse2"], staff["demo-physician"]
    if "Casey" in detox_now:
        _assessments(session, detox_now["Casey"], nurse, now, last_hours_ago=3, steps=(0, 1))
        _methadone(session, detox_now["Casey"], physician, nurse, nurse2, password, now)
    if "Drew" in detox_now:
        _assessments(session, detox_now["Drew"], nurse, now, last_hours_ago=6, steps=(1, 2, 3))
        _methadone(session, detox_now["Drew"], physician, nurse, nurse2, password, now)
        _verbal_order(session, detox_now["Drew"], nurse, physician, now)


def _assessments(
    session: Session, episode: Episode, nurse: User, now: datetime, *, last_hours_ago: int, steps
) -> None:
    count = len(steps)
    for i, step in enumerate(steps):
        at = now - timedelta(hours=last_hours_ago + 4 * (count - 1 - i))
        entry = detox.AssessmentEntry(
            "cows",
            dict(zip(COWS.keys, _COWS_STEPS[step], strict=True)),
            at,
            reason="scheduled",
            backdate_reason="Demo history",
            temperature=37.2,
            temperature_unit="C",
            spo2=97,
            pain=max(0, 6 - 2 * step),
            **_VITALS[step],
        )
        detox.record_assessment(session, episode, entry, nurse=nurse, now=now)


def _methadone(
    session: Session,
    episode: Episode,
    physician: User,
    nurse: User,
    witness: User,
    password: str,
    now: datetime,
) -> None:
    tz = facility_tz()
    start_day = (now.astimezone(tz) - timedelta(days=2)).date()
    starts_at = datetime.combine(start_day, time(7, 0), tzinfo=tz)
    order = mar.place_order(
        session,
        episode,
        mar.OrderEntry(
            drug="methadone",
            dose="30",
            unit="mg",
            route="oral",
            starts_at=starts_at,
            times="08:00",
            max_daily="40",
            indication="Opioid withdrawal",
        ),
        actor=physician,
        now=now,
    )
    mar.place_order(
        session,
        episode,
        mar.OrderEntry(
            drug="clonidine",
            dose="0.1",
            unit="mg",
            route="oral",
            starts_at=starts_at,
            prn=True,
            prn_indication="Restlessness, sweating or anxiety (COWS 13 or more)",
            prn_min_hours=6,
            max_daily="0.4",
        ),
        actor=physician,
        now=now,
    )
    for days in (2, 1, 0):
        slot = datetime.combine(start_day + timedelta(days=2 - days), time(8, 0), tzinfo=tz)
        if slot > now:
            continue
        dose = mar.DoseEntry(
            scheduled_at=slot.astimezone(now.tzinfo),
            given_at=(slot + timedelta(minutes=5)).astimezone(now.tzinfo),
            outcome=Outcome.GIVEN,
            dose="30",
            note="Demo history",
            witness_login=witness.login,
            witness_password=password,
        )
        mar.give_dose(session, order, dose, nurse=nurse, now=now, tz=tz)


def _verbal_order(
    session: Session, episode: Episode, nurse: User, physician: User, now: datetime
) -> None:
    mar.place_order(
        session,
        episode,
        mar.OrderEntry(
            drug="ondansetron",
            dose="4",
            unit="mg",
            route="oral",
            starts_at=now - timedelta(minutes=30),
            prn=True,
            prn_indication="Nausea or vomiting",
            prn_min_hours=8,
            max_daily="16",
            ordered_by_id=physician.id,
        ),
        actor=nurse,
        now=now,
    )

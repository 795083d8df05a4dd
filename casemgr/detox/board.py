"""The nurse's detox board: every client in detox with scores, trend, vitals, medication and
when the next assessment is due, overdue first.

Loaded in a fixed number of queries whatever the census (one for the clients, one windowed
query for the assessments, one for the active orders, one windowed query for the last doses),
so the board stays fast on a full unit. Clinical rules come from casemgr.domain.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..auth.models import User
from ..clients.models import Client
from ..domain import monitoring
from ..domain.board import (
    Sparkline,
    VitalReading,
    order_words,
    overdue_words,
    schedule_words,
    sparkline,
)
from ..domain.board import vital_readings as readings_of
from ..domain.care import days_between
from ..domain.medications import Outcome, from_milli, parse_times
from ..domain.vitals import Vitals
from ..domain.withdrawal import COWS, INSTRUMENTS, Band
from ..episodes.models import Episode
from ..mar.models import Drug, MedicationAdministration, MedicationOrder
from ..policy import scoped_detox_board
from . import settings
from .models import WithdrawalAssessment
from .services import VITAL_FIELDS

TREND_POINTS = 12
TREND_WINDOW = timedelta(hours=48)


@dataclass(frozen=True)
class Score:
    instrument: str  # "cows" or "ciwa_ar"
    total: int
    band: str
    assessed_at: datetime

    @property
    def instrument_label(self) -> str:
        return INSTRUMENTS[self.instrument].short

    @property
    def band_label(self) -> str:
        return Band(self.band).label


@dataclass(frozen=True)
class Dose:
    drug: str
    dose: Decimal
    unit: str
    given_at: datetime


@dataclass(frozen=True)
class BoardRow:
    client: Client
    episode: Episode
    days: int  # day in detox, counting the first as day 1
    last: Score | None
    trend: tuple[int, ...]  # the last instrument's totals in the trend window, oldest first
    trend_line: Sparkline | None
    vitals: tuple[VitalReading, ...]
    vitals_at: datetime | None
    medications: tuple[str, ...]
    last_dose: Dose | None
    due: monitoring.Due

    @property
    def overdue_text(self) -> str:
        return overdue_words(self.due, never_assessed=self.last is None)

    @property
    def vitals_alert(self) -> bool:
        return any(r.direction for r in self.vitals)


@dataclass(frozen=True)
class Board:
    rows: list[BoardRow]
    now: datetime
    schedule: str = schedule_words()

    @property
    def overdue(self) -> int:
        return sum(1 for r in self.rows if r.due.overdue)


def load_board(session: Session, user: User, now: datetime, today: date) -> Board:
    """Every client in detox that `user` may see, overdue first, then soonest due."""
    pairs = _episodes(session, user)
    ids = [episode.id for episode, _ in pairs]
    intervals, thresholds = settings.intervals(), settings.thresholds()
    if not ids:
        return Board([], now, schedule_words(intervals))
    assessments = _assessments(session, ids, now - TREND_WINDOW)
    orders = _orders(session, ids, now)
    doses = _last_doses(session, ids)
    rows = [
        _row(
            client,
            episode,
            today,
            now,
            assessments.get(episode.id, []),
            orders.get(episode.id, ()),
            doses.get(episode.id),
            intervals,
            thresholds,
        )
        for episode, client in pairs
    ]
    return Board(monitoring.board_order(rows, lambda r: r.due), now, schedule_words(intervals))


def _episodes(session: Session, user: User) -> list[tuple[Episode, Client]]:
    # Nurses, physicians and managers see every detox client at their site (the whole
    # network's for network-wide staff); the policy keeps the scope for any other role, so
    # a role granted the board later never sees past its caseload.
    stmt = (
        sa.select(Episode, Client)
        .join(Client, Client.id == Episode.client_id)
        .order_by(Client.search_name, Client.id)
    )
    return [(e, c) for e, c in session.execute(scoped_detox_board(stmt, user)).all()]


def _assessments(session: Session, ids: list[int], since: datetime) -> dict[int, list[sa.Row[Any]]]:
    """Per episode, newest first: the newest assessment of each instrument (the due time needs
    the last COWS total however old) and up to TREND_POINTS per instrument since `since`."""
    wa = WithdrawalAssessment
    ranked = (
        sa.select(
            wa.id,
            wa.episode_id,
            wa.instrument,
            wa.total,
            wa.band,
            wa.assessed_at,
            *(getattr(wa, name) for name in VITAL_FIELDS),
            sa.func.row_number()
            .over(
                partition_by=(wa.episode_id, wa.instrument),
                order_by=(wa.assessed_at.desc(), wa.id.desc()),
            )
            .label("rank"),
        )
        .where(wa.episode_id.in_(ids), wa.voided_at.is_(None))  # voided: entered in error
        .subquery()
    )
    recent = sa.and_(ranked.c.rank <= TREND_POINTS, ranked.c.assessed_at >= since)
    stmt = (
        sa.select(ranked)
        .where(sa.or_(ranked.c.rank == 1, recent))
        .order_by(ranked.c.episode_id, ranked.c.assessed_at.desc(), ranked.c.id.desc())
    )
    found: dict[int, list[sa.Row[Any]]] = defaultdict(list)
    for row in session.execute(stmt):
        found[row.episode_id].append(row)
    return found


def _orders(session: Session, ids: list[int], now: datetime) -> dict[int, tuple[str, ...]]:
    """Orders active at `now` (the SQL form of MedicationOrder.active_at), scheduled first."""
    mo = MedicationOrder
    stmt = (
        sa.select(mo.episode_id, Drug.name, mo.dose_milli, mo.unit, mo.times, mo.prn)
        .join(Drug, Drug.id == mo.drug_id)
        .where(
            mo.episode_id.in_(ids),
            mo.starts_at <= now,
            sa.or_(mo.stops_at.is_(None), mo.stops_at > now),
            sa.or_(mo.discontinued_at.is_(None), mo.discontinued_at > now),
        )
        .order_by(mo.episode_id, mo.prn, Drug.name, mo.id)
    )
    found: dict[int, list[str]] = defaultdict(list)
    for row in session.execute(stmt):
        dose = from_milli(row.dose_milli)
        times = parse_times(row.times)
        found[row.episode_id].append(order_words(row.name, dose, row.unit, times, row.prn))
    return {episode_id: tuple(words) for episode_id, words in found.items()}


def _last_doses(session: Session, ids: list[int]) -> dict[int, Dose]:
    ma = MedicationAdministration
    ranked = (
        sa.select(
            ma.episode_id,
            ma.order_id,
            ma.dose_milli,
            ma.given_at,
            sa.func.row_number()
            .over(partition_by=ma.episode_id, order_by=(ma.given_at.desc(), ma.id.desc()))
            .label("rank"),
        )
        .where(ma.episode_id.in_(ids), ma.outcome == Outcome.GIVEN, ma.voided_at.is_(None))
        .subquery()
    )
    stmt = (
        sa.select(ranked.c.episode_id, ranked.c.dose_milli, ranked.c.given_at)
        .add_columns(MedicationOrder.unit, Drug.name)
        .join(MedicationOrder, MedicationOrder.id == ranked.c.order_id)
        .join(Drug, Drug.id == MedicationOrder.drug_id)
        .where(ranked.c.rank == 1)
    )
    return {
        row.episode_id: Dose(row.name, from_milli(row.dose_milli), row.unit, row.given_at)
        for row in session.execute(stmt)
    }


def _row(  # noqa: PLR0913 (one board row gathers every part loaded for it)
    client, episode, today, now, assessments, medications, last_dose, intervals, thresholds
) -> BoardRow:
    newest = assessments[0] if assessments else None
    last_cows = next((a.total for a in assessments if a.instrument == COWS.key), None)
    with_vitals = next((a for a in assessments if _has_vitals(a)), None)
    trend = _trend(assessments, now)
    return BoardRow(
        client=client,
        episode=episode,
        days=days_between(episode.phase_started_on, today),
        last=_score(newest) if newest is not None else None,
        trend=trend,
        trend_line=_line(trend, newest.instrument) if newest is not None else None,
        vitals=tuple(readings_of(_vitals(with_vitals), thresholds)) if with_vitals else (),
        vitals_at=with_vitals.assessed_at if with_vitals is not None else None,
        medications=medications,
        last_dose=last_dose,
        due=monitoring.due(newest.assessed_at if newest else None, last_cows, now, intervals),
    )


def _score(row: sa.Row[Any]) -> Score:
    return Score(row.instrument, row.total, row.band, row.assessed_at)


def _trend(assessments: list[sa.Row[Any]], now: datetime) -> tuple[int, ...]:
    """The newest instrument's totals in the trend window, oldest first."""
    if not assessments:
        return ()
    since, instrument = now - TREND_WINDOW, assessments[0].instrument
    same = [a for a in assessments if a.instrument == instrument and a.assessed_at >= since]
    return tuple(a.total for a in reversed(same[:TREND_POINTS]))


def _line(trend: tuple[int, ...], instrument: str) -> Sparkline | None:
    # Scaled to the start of the top band: the line reaches its top only in severe withdrawal.
    return sparkline(trend, INSTRUMENTS[instrument].bands.bounds[-1][0])


def _has_vitals(row: sa.Row[Any]) -> bool:
    return any(getattr(row, name) is not None for name in VITAL_FIELDS)


def _vitals(row: sa.Row[Any]) -> Vitals:
    return Vitals(**{name: getattr(row, name) for name in VITAL_FIELDS})

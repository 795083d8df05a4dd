"""Recording withdrawal assessments and medical clearance, and reading a client's detox summary.

Services flush; the view commits. Totals and bands come from casemgr.domain.withdrawal, vital
checks from casemgr.domain.vitals and due times from casemgr.domain.monitoring: nothing here
re-implements a clinical rule. Importing this module registers the clearance guard on the
detox → rehab move.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..auth.models import User
from ..charts.trend import TrendPoint
from ..domain import monitoring
from ..domain import vitals as vital_signs
from ..domain.errors import DomainError
from ..domain.phases import Phase
from ..domain.withdrawal import COWS, INSTRUMENTS, Band, ItemError, score_ciwa_ar, score_cows
from ..episodes.models import Episode
from ..episodes.services import register_guard
from . import settings
from .models import MedicalClearance, WithdrawalAssessment

BACKDATE_GRACE = timedelta(hours=1)
FUTURE_GRACE = timedelta(minutes=5)
REASONS = (
    ("scheduled", "Scheduled"),
    ("pre_dose", "Before a dose"),
    ("post_dose", "After a dose"),
    ("symptomatic", "Symptoms reported"),
)
NOT_CLEARED = "Record medical clearance before moving this client to rehab."
# CIWA-Ar is banded by the facility's table (settings.CIWA_AR_BANDS); COWS bands are fixed.
_SCORERS = {
    "cows": score_cows,
    "ciwa_ar": lambda items: score_ciwa_ar(items, settings.ciwa_bands()),
}
VITAL_FIELDS = tuple(f.name for f in fields(vital_signs.Vitals))


@dataclass(frozen=True)
class AssessmentEntry:
    """What the nurse entered; the total is not part of it (the server computes it)."""

    instrument: str
    items: dict[str, int]
    assessed_at: datetime
    reason: str = "scheduled"
    backdate_reason: str = ""
    systolic: int | None = None
    diastolic: int | None = None
    heart_rate: int | None = None
    respiratory_rate: int | None = None
    temperature: float | None = None
    temperature_unit: str = "C"
    spo2: int | None = None
    pain: int | None = None


@dataclass(frozen=True)
class AssessmentRow:
    """An assessment as the summary shows it: band in words and the fields out of range."""

    assessment: WithdrawalAssessment
    instrument: str  # "COWS", "CIWA-Ar"
    band_label: str
    vitals: vital_signs.Vitals
    alerts: tuple[vital_signs.Alert, ...]

    @property
    def alert_fields(self) -> frozenset[str]:
        return frozenset(a.field for a in self.alerts)


def _check_time(entry: AssessmentEntry, now: datetime) -> None:
    if entry.assessed_at > now + FUTURE_GRACE:
        raise DomainError("An assessment cannot be dated in the future.", "assessed_at")
    if now - entry.assessed_at > BACKDATE_GRACE and not entry.backdate_reason.strip():
        raise DomainError(
            "Say why this assessment is recorded more than an hour late.", "backdate_reason"
        )


def _vitals(entry: AssessmentEntry) -> vital_signs.Vitals:
    return vital_signs.make_vitals(
        systolic=entry.systolic,
        diastolic=entry.diastolic,
        heart_rate=entry.heart_rate,
        respiratory_rate=entry.respiratory_rate,
        temperature=entry.temperature,
        temperature_unit=entry.temperature_unit,
        spo2=entry.spo2,
        pain=entry.pain,
    )


def _require_detox(episode: Episode, what: str) -> None:
    if not episode.is_open or episode.phase is not Phase.DETOX:
        raise DomainError(f"{what} is recorded only while the client is in detox.")


def record_assessment(
    session: Session, episode: Episode, entry: AssessmentEntry, *, nurse: User, now: datetime
) -> WithdrawalAssessment:
    """Score on the server, check the vitals and the time, and add the assessment."""
    _require_detox(episode, "A withdrawal assessment")
    scorer = _SCORERS.get(entry.instrument)
    if scorer is None:
        raise DomainError("Choose COWS or CIWA-Ar.", "instrument")
    if entry.reason not in dict(REASONS):
        raise DomainError("Choose a reason from the list.", "reason")
    try:
        score = scorer(entry.items)
    except ItemError as exc:
        raise DomainError(str(exc), exc.item) from None
    if not score.complete:
        missing = next(k for k in INSTRUMENTS[entry.instrument].keys if k not in entry.items)
        raise DomainError("Score every item; the total needs all of them.", missing)
    readings = _vitals(entry)  # VitalsError is a DomainError naming the vital
    _check_time(entry, now)
    assessment = WithdrawalAssessment(
        episode=episode,
        instrument=entry.instrument,
        items_json=json.dumps(entry.items, sort_keys=True, separators=(",", ":")),
        total=score.total,
        band=str(score.band),
        assessed_at=entry.assessed_at,
        recorded_at=now,
        nurse_id=nurse.id,
        reason=entry.reason,
        backdate_reason=entry.backdate_reason.strip(),
        **{name: getattr(readings, name) for name in VITAL_FIELDS},
    )
    session.add(assessment)
    session.flush()
    return assessment


def _latest_total(session: Session, episode_id: int, instrument: str) -> int | None:
    return session.scalar(
        sa.select(WithdrawalAssessment.total)
        .where(
            WithdrawalAssessment.episode_id == episode_id,
            WithdrawalAssessment.instrument == instrument,
            WithdrawalAssessment.voided_at.is_(None),
        )
        .order_by(WithdrawalAssessment.assessed_at.desc(), WithdrawalAssessment.id.desc())
        .limit(1)
    )


def record_clearance(
    session: Session, episode: Episode, note: str, *, by: User, now: datetime
) -> MedicalClearance:
    """Medically cleared to leave detox, with the latest scores copied for the record."""
    _require_detox(episode, "Medical clearance")
    clearance = MedicalClearance(
        episode=episode,
        cleared_at=now,
        by_id=by.id,
        note=note.strip(),
        last_cows_total=_latest_total(session, episode.id, "cows"),
        last_ciwa_total=_latest_total(session, episode.id, "ciwa_ar"),
    )
    session.add(clearance)
    session.flush()
    return clearance


def latest_clearance(session: Session, episode_id: int) -> MedicalClearance | None:
    return session.scalar(
        sa.select(MedicalClearance)
        .where(MedicalClearance.episode_id == episode_id)
        .options(joinedload(MedicalClearance.by))
        .order_by(MedicalClearance.id.desc())
        .limit(1)
    )


def is_cleared(episode: Episode) -> str | None:
    """The detox → rehab guard: None when cleared, otherwise why the move must wait."""
    session = sa.orm.object_session(episode)
    found = session.scalar(
        sa.select(MedicalClearance.id).where(MedicalClearance.episode_id == episode.id).limit(1)
    )
    return None if found is not None else NOT_CLEARED


register_guard(Phase.DETOX, Phase.REHAB, is_cleared)


def row(assessment: WithdrawalAssessment) -> AssessmentRow:
    readings = vital_signs.Vitals(**{name: getattr(assessment, name) for name in VITAL_FIELDS})
    return AssessmentRow(
        assessment,
        INSTRUMENTS[assessment.instrument].short,
        Band(assessment.band).label,
        readings,
        tuple(vital_signs.alerts(readings, settings.thresholds())),
    )


def assessments(session: Session, episode_id: int) -> list[WithdrawalAssessment]:
    """An episode's assessments, newest first, with the nurse loaded (one query). Voided ones
    are included: the list shows them, struck through; callers that compute skip them."""
    return list(
        session.scalars(
            sa.select(WithdrawalAssessment)
            .where(WithdrawalAssessment.episode_id == episode_id)
            .options(joinedload(WithdrawalAssessment.nurse))
            .order_by(WithdrawalAssessment.assessed_at.desc(), WithdrawalAssessment.id.desc())
        )
    )


def next_due(rows: list[AssessmentRow], now: datetime) -> monitoring.Due:
    """Due time from the newest assessment; the closer interval follows the last COWS total.
    Voided assessments (entered in error) count for nothing."""
    rows = [r for r in rows if not r.assessment.is_voided]
    last = rows[0].assessment if rows else None
    last_cows = next(
        (r.assessment.total for r in rows if r.assessment.instrument == COWS.key), None
    )
    return monitoring.due(last.assessed_at if last else None, last_cows, now, settings.intervals())


def summary(session: Session, episode: Episode, now: datetime) -> dict:
    """Everything the detox summary page shows. Voided assessments are listed (struck
    through) but left out of the trend and the next due time."""
    rows = [row(a) for a in assessments(session, episode.id)]
    return {
        "rows": rows,
        "trend": [
            TrendPoint(r.assessment.assessed_at, r.assessment.instrument, r.assessment.total)
            for r in reversed(rows)
            if not r.assessment.is_voided
        ],
        "due": next_due(rows, now) if episode.phase is Phase.DETOX else None,
        "clearance": latest_clearance(session, episode.id),
    }


def latest(session: Session, episode: Episode) -> AssessmentRow | None:
    """The newest assessment, for the chart while the client is in detox."""
    if episode.phase is not Phase.DETOX:
        return None
    found = session.scalar(
        sa.select(WithdrawalAssessment)
        .where(
            WithdrawalAssessment.episode_id == episode.id,
            WithdrawalAssessment.voided_at.is_(None),
        )
        .order_by(WithdrawalAssessment.assessed_at.desc(), WithdrawalAssessment.id.desc())
        .limit(1)
    )
    return row(found) if found is not None else None


def trend_points(session: Session, episode_id: int) -> list[TrendPoint]:
    """Every total of the episode, oldest first, for the trend chart."""
    wa = WithdrawalAssessment
    rows = session.execute(
        sa.select(wa.assessed_at, wa.instrument, wa.total)
        .where(wa.episode_id == episode_id, wa.voided_at.is_(None))
        .order_by(wa.assessed_at, wa.id)
    )
    return [TrendPoint(at, instrument, total) for at, instrument, total in rows]

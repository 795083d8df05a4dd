"""Withdrawal assessments (COWS, CIWA-Ar) with their vital signs, and medical clearance."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..extensions import db
from ..orm import TimestampMixin, Voidable, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode


class WithdrawalAssessment(Audited, Voidable, TimestampMixin, db.Model):
    """One scored withdrawal scale. Never edited: a correction is a new assessment."""

    __tablename__ = "withdrawal_assessments"
    __audit_values__ = frozenset({"instrument", "assessed_at", "reason"})
    __table_args__ = (
        sa.Index("ix_withdrawal_assessments_episode_assessed", "episode_id", "assessed_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # Indexed by the (episode_id, assessed_at) index above, which leads with it.
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"))
    instrument: Mapped[str] = mapped_column(sa.String(8))  # "cows" or "ciwa_ar"
    items_json: Mapped[str] = mapped_column(sa.Text)  # canonical JSON of the item scores
    total: Mapped[int]  # computed on the server, never taken from the form
    band: Mapped[str] = mapped_column(sa.String(20))
    assessed_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed for the nurse/physician chart scope (policy._detox_and_documented).
    nurse_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(16))
    backdate_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    systolic: Mapped[int | None]
    diastolic: Mapped[int | None]
    heart_rate: Mapped[int | None]
    respiratory_rate: Mapped[int | None]
    temperature_c: Mapped[float | None] = mapped_column(sa.Float)
    spo2: Mapped[int | None]
    pain: Mapped[int | None]

    episode: Mapped[Episode] = relationship()
    nurse: Mapped[User] = relationship(foreign_keys=[nurse_id])

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class MedicalClearance(Audited, db.Model):
    """A nurse or physician clears the client to leave detox: the guard for detox → rehab."""

    __tablename__ = "medical_clearances"
    __audit_values__ = frozenset({"cleared_at", "last_cows_total", "last_ciwa_total"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    cleared_at: Mapped[datetime]
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    last_cows_total: Mapped[int | None]
    last_ciwa_total: Mapped[int | None]

    episode: Mapped[Episode] = relationship()
    by: Mapped[User] = relationship()

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"

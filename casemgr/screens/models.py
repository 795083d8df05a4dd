"""Drug screens and their per-substance results."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.screens import Result
from ..extensions import db
from ..orm import TimestampMixin, Voidable

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode


class DrugScreen(Audited, Voidable, TimestampMixin, db.Model):
    __tablename__ = "drug_screens"
    __audit_values__ = frozenset({"collected_at", "refused"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    collected_at: Mapped[datetime] = mapped_column(index=True)
    # Indexed for the nurse/physician chart scope (policy._detox_and_documented).
    collector_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    specimen_type: Mapped[str] = mapped_column(sa.String(16), default="urine")
    observed: Mapped[bool] = mapped_column(default=False)
    temperature_in_range: Mapped[bool | None]
    adulterant_suspected: Mapped[bool] = mapped_column(default=False)
    refused: Mapped[bool] = mapped_column(default=False)
    action_taken: Mapped[str] = mapped_column(sa.String(500), default="")
    comments: Mapped[str] = mapped_column(sa.String(500), default="")

    episode: Mapped[Episode] = relationship()
    collector: Mapped[User] = relationship(foreign_keys=[collector_id])
    results: Mapped[list[DrugScreenResult]] = relationship(
        back_populates="screen", order_by="DrugScreenResult.id", cascade="all, delete-orphan"
    )

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class DrugScreenResult(Audited, db.Model):
    __tablename__ = "drug_screen_results"
    __audit_values__ = frozenset({"analyte", "result", "expected"})
    __table_args__ = (
        sa.UniqueConstraint("screen_id", "analyte", name="uq_drug_screen_results_analyte"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    screen_id: Mapped[int] = mapped_column(sa.ForeignKey("drug_screens.id"), index=True)
    analyte: Mapped[str] = mapped_column(sa.String(24))
    result: Mapped[Result] = mapped_column(
        sa.Enum(
            Result, native_enum=False, length=16, values_callable=lambda e: [m.value for m in e]
        )
    )
    expected: Mapped[bool] = mapped_column(default=False)  # explained by a prescription

    screen: Mapped[DrugScreen] = relationship(back_populates="results")

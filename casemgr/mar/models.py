"""Medication orders and the medication administration record (MAR).

Doses are stored as integer thousandths of the order's unit (`*_milli`) so that a day's total
is exact; casemgr.domain.medications converts to and from Decimal.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.medications import Outcome, from_milli, parse_times
from ..extensions import db
from ..orm import TimestampMixin, Voidable, str_enum, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode


class Drug(db.Model):
    """The formulary, seeded by the migration from casemgr.domain.medications.FORMULARY."""

    __tablename__ = "drugs"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(32), unique=True)
    name: Mapped[str] = mapped_column(sa.String(80))
    schedule: Mapped[str | None] = mapped_column(sa.String(4))  # DEA schedule, None if not
    orderable: Mapped[bool] = mapped_column(default=True)
    unit: Mapped[str] = mapped_column(sa.String(12))
    route: Mapped[str] = mapped_column(sa.String(16))
    category: Mapped[str] = mapped_column(sa.String(24))

    @property
    def controlled(self) -> bool:
        return self.schedule is not None


class MedicationOrder(Audited, TimestampMixin, db.Model):
    """A physician's order (or a nurse's entry of a verbal order, awaiting co-signature).

    Never deleted and never edited once given against: a change is a discontinuation and a
    new order.
    """

    __tablename__ = "medication_orders"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset(
        {
            "drug_id",
            "dose_milli",
            "unit",
            "route",
            "times",
            "prn",
            "max_daily_milli",
            "starts_at",
            "stops_at",
            "verbal",
            "cosigned_at",
            "discontinued_at",
        }
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    drug_id: Mapped[int] = mapped_column(sa.ForeignKey("drugs.id"))
    dose_milli: Mapped[int]
    unit: Mapped[str] = mapped_column(sa.String(12))
    route: Mapped[str] = mapped_column(sa.String(16))
    times: Mapped[str] = mapped_column(sa.String(120), default="")  # "08:00, 20:00", facility
    prn: Mapped[bool] = mapped_column(default=False)
    prn_indication: Mapped[str] = mapped_column(sa.String(200), default="")
    prn_min_hours: Mapped[int | None]  # least hours between as-needed doses
    max_daily_milli: Mapped[int | None]
    indication: Mapped[str] = mapped_column(sa.String(200), default="")
    starts_at: Mapped[datetime]
    stops_at: Mapped[datetime | None]
    # The physician; indexed for the prescriber's chart scope (policy._detox_and_documented).
    ordered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    entered_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    verbal: Mapped[bool] = mapped_column(default=False)
    cosigned_at: Mapped[datetime | None]
    # The chart scope looks up the orders still running (IS NULL) among every order ever written.
    discontinued_at: Mapped[datetime | None] = mapped_column(index=True)
    discontinued_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    discontinue_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    episode: Mapped[Episode] = relationship()
    drug: Mapped[Drug] = relationship(lazy="joined")
    ordered_by: Mapped[User] = relationship(foreign_keys=[ordered_by_id])
    entered_by: Mapped[User] = relationship(foreign_keys=[entered_by_id])
    discontinued_by: Mapped[User | None] = relationship(foreign_keys=[discontinued_by_id])

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    @property
    def dose(self) -> Decimal:
        return from_milli(self.dose_milli)

    @property
    def max_daily(self) -> Decimal | None:
        return None if self.max_daily_milli is None else from_milli(self.max_daily_milli)

    @property
    def schedule(self):
        return parse_times(self.times)

    @property
    def awaiting_cosign(self) -> bool:
        return self.verbal and self.cosigned_at is None

    @property
    def ends_at(self) -> datetime | None:
        """The planned stop or the discontinuation, whichever is sooner."""
        ends = [t for t in (self.stops_at, self.discontinued_at) if t is not None]
        return min(ends) if ends else None

    def active_at(self, at: datetime) -> bool:
        return self.starts_at <= at and (self.ends_at is None or at < self.ends_at)


class MedicationAdministration(Audited, Voidable, db.Model):
    """One line of the MAR: a scheduled or as-needed dose and what happened to it.

    Never edited or deleted. The nurse is the signed-in user; a controlled substance given
    carries a witness who confirmed with their own password.
    """

    __tablename__ = "medication_administrations"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset(
        {"order_id", "scheduled_at", "given_at", "dose_milli", "outcome", "witness_id"}
    )
    __table_args__ = (
        # One live record per scheduled dose; as-needed doses have no scheduled time (NULLs
        # differ). A voided record (entered in error) frees the slot for the correct one.
        sa.Index(
            "uq_administrations_order_slot",
            "order_id",
            "scheduled_at",
            unique=True,
            sqlite_where=sa.text("voided_at IS NULL"),
            postgresql_where=sa.text("voided_at IS NULL"),
        ),
        sa.Index("ix_administrations_episode_given", "episode_id", "given_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(sa.ForeignKey("medication_orders.id"), index=True)
    # Copied from the order so the board finds a client's last dose with one indexed query.
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"))
    scheduled_at: Mapped[datetime | None]
    given_at: Mapped[datetime]  # the actual time (for not-given outcomes: when recorded)
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    dose_milli: Mapped[int]  # 0 unless given
    outcome: Mapped[Outcome] = mapped_column(str_enum(Outcome))
    reason: Mapped[str] = mapped_column(sa.String(300), default="")  # why not given
    note: Mapped[str] = mapped_column(sa.String(500), default="")
    nurse_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    witness_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    override_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    override_physician_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    order: Mapped[MedicationOrder] = relationship()
    nurse: Mapped[User] = relationship(foreign_keys=[nurse_id])
    witness: Mapped[User | None] = relationship(foreign_keys=[witness_id])
    override_physician: Mapped[User | None] = relationship(foreign_keys=[override_physician_id])

    @property
    def client_id(self) -> int:
        return self.order.episode.client_id

    @property
    def dose(self) -> Decimal:
        return from_milli(self.dose_milli)

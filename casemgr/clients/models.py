"""The client's face sheet and the structured intake details reports rely on."""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.text import fold
from ..extensions import db
from ..orm import TimestampMixin

if TYPE_CHECKING:
    from ..episodes.models import Episode


class Client(Audited, TimestampMixin, db.Model):
    """A person in treatment. Never deleted; their episodes carry the history."""

    __tablename__ = "clients"
    __audit_client_attr__ = "id"
    __audit_values__ = frozenset({"mrn"})
    __audit_ignore__ = frozenset({"search_name"})

    id: Mapped[int] = mapped_column(primary_key=True)
    mrn: Mapped[str] = mapped_column(sa.String(16), unique=True)
    legal_first_name: Mapped[str] = mapped_column(sa.String(80))
    legal_last_name: Mapped[str] = mapped_column(sa.String(80))
    preferred_name: Mapped[str] = mapped_column(sa.String(80), default="")
    pronouns: Mapped[str] = mapped_column(sa.String(40), default="")
    date_of_birth: Mapped[date]
    sex: Mapped[str] = mapped_column(sa.String(16))
    gender_identity: Mapped[str] = mapped_column(sa.String(60), default="")
    phone: Mapped[str] = mapped_column(sa.String(40), default="")
    address: Mapped[str] = mapped_column(sa.String(200), default="")
    primary_language: Mapped[str] = mapped_column(sa.String(40), default="English")
    emergency_contact_name: Mapped[str] = mapped_column(sa.String(120), default="")
    emergency_contact_relationship: Mapped[str] = mapped_column(sa.String(60), default="")
    emergency_contact_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    guardian_name: Mapped[str] = mapped_column(sa.String(120), default="")
    guardian_relationship: Mapped[str] = mapped_column(sa.String(60), default="")
    guardian_phone: Mapped[str] = mapped_column(sa.String(40), default="")
    first_contact_on: Mapped[date]
    referral_source: Mapped[str] = mapped_column(sa.String(16))
    prior_treatment_episodes: Mapped[int] = mapped_column(default=0)
    overdoses_lifetime: Mapped[int] = mapped_column(default=0)
    last_overdose_on: Mapped[date | None]
    co_occurring: Mapped[str] = mapped_column(sa.String(255), default="")
    pregnant: Mapped[str] = mapped_column(sa.String(8), default="unknown")
    risk_flags: Mapped[str] = mapped_column(sa.String(255), default="")  # comma-separated codes
    search_name: Mapped[str] = mapped_column(sa.String(255), index=True, default="")
    created_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    funding: Mapped[list[ClientFunding]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="ClientFunding.id"
    )
    substances: Mapped[list[ClientSubstance]] = relationship(
        back_populates="client", cascade="all, delete-orphan", order_by="ClientSubstance.rank"
    )
    episodes: Mapped[list[Episode]] = relationship(
        back_populates="client", order_by="Episode.number"
    )

    @property
    def display_name(self) -> str:
        """Preferred name first when there is one, so staff address people as they ask."""
        first = self.preferred_name or self.legal_first_name
        return f"{first} {self.legal_last_name}"

    @property
    def legal_name(self) -> str:
        return f"{self.legal_last_name}, {self.legal_first_name}"

    @property
    def risk_flag_codes(self) -> list[str]:
        return [c for c in self.risk_flags.split(",") if c]

    def refresh_search_name(self) -> None:
        parts = (self.legal_first_name, self.legal_last_name, self.preferred_name)
        self.search_name = fold(" ".join(p for p in parts if p))[:255]


class ClientFunding(Audited, db.Model):
    __tablename__ = "client_funding"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"kind"})

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))
    payer: Mapped[str] = mapped_column(sa.String(120), default="")
    member_id: Mapped[str] = mapped_column(sa.String(60), default="")

    client: Mapped[Client] = relationship(back_populates="funding")


class ClientSubstance(Audited, db.Model):
    """Primary (rank 1), secondary (2) and tertiary (3) substance, as TEDS records them."""

    __tablename__ = "client_substances"
    __audit_client_attr__ = "client_id"
    __table_args__ = (sa.UniqueConstraint("client_id", "rank", name="uq_client_substances_rank"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    rank: Mapped[int]
    substance: Mapped[str] = mapped_column(sa.String(24))
    route: Mapped[str] = mapped_column(sa.String(16))
    frequency: Mapped[str] = mapped_column(sa.String(4))
    age_first_use: Mapped[int | None]

    client: Mapped[Client] = relationship(back_populates="substances")


class MrnSequence(db.Model):
    """One row: the last medical record number issued. It only ever goes up, so an MRN is
    never reused, even for a client entered by mistake."""

    __tablename__ = "mrn_sequence"

    id: Mapped[int] = mapped_column(primary_key=True, autoincrement=False)
    last_number: Mapped[int] = mapped_column(sa.BigInteger, default=0)

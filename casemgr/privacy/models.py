"""42 CFR Part 2: consents (§2.31), disclosures and their accounting (§2.25), medical
emergency access (§2.51), and clients restricted from named staff.

Consents and disclosures are never deleted: a consent is revoked (the revocation recorded
with its date) and what was disclosed before stays on the record.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..extensions import db
from ..orm import TimestampMixin, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..clients.models import Client


class Consent(Audited, TimestampMixin, db.Model):
    """A written consent with every element §2.31 requires as its own field."""

    __tablename__ = "consents"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset(
        {
            "kind",
            "recipient_kind",
            "purpose",
            "expiry_kind",
            "expires_on",
            "signed_on",
            "revoked_on",
        }
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    # general; counseling_notes and legal_proceedings may not be combined with anything else
    kind: Mapped[str] = mapped_column(sa.String(24))
    discloser: Mapped[str] = mapped_column(sa.String(300))  # who may use or disclose
    information: Mapped[str] = mapped_column(sa.String(400))  # categories, comma-separated
    information_detail: Mapped[str] = mapped_column(sa.String(1000), default="")
    recipient_kind: Mapped[str] = mapped_column(sa.String(16))  # "named" or "tpo"
    recipient_name: Mapped[str] = mapped_column(sa.String(200), default="")
    recipient_organisation: Mapped[str] = mapped_column(sa.String(200), default="")
    purpose: Mapped[str] = mapped_column(sa.String(300))
    expiry_kind: Mapped[str] = mapped_column(sa.String(8))  # date, event, none
    expires_on: Mapped[date | None]
    expiry_event: Mapped[str] = mapped_column(sa.String(200), default="")
    revocation_statement: Mapped[str] = mapped_column(sa.String(1000))
    signed_by: Mapped[str] = mapped_column(sa.String(16))  # client, representative
    representative_name: Mapped[str] = mapped_column(sa.String(200), default="")
    representative_authority: Mapped[str] = mapped_column(sa.String(200), default="")
    signature_method: Mapped[str] = mapped_column(sa.String(8))  # paper, app
    scan_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    scan_file: Mapped[str] = mapped_column(sa.String(200), default="")  # under the instance
    signed_on: Mapped[date]
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    revoked_on: Mapped[date | None]
    revocation_note: Mapped[str] = mapped_column(sa.String(1000), default="")
    revoked_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])


class Disclosure(Audited, db.Model):
    """Something of a client's record that left the facility: the accounting entry."""

    __tablename__ = "disclosures"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"kind", "consent_id", "recipient", "purpose", "sha256"})
    __table_args__ = (sa.Index("ix_disclosures_client_released", "client_id", "released_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"))
    kind: Mapped[str] = mapped_column(sa.String(12))  # consent, emergency
    consent_id: Mapped[int | None] = mapped_column(sa.ForeignKey("consents.id"))
    emergency_id: Mapped[int | None] = mapped_column(sa.ForeignKey("emergency_accesses.id"))
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recipient: Mapped[str] = mapped_column(sa.String(300))
    purpose: Mapped[str] = mapped_column(sa.String(300))
    information: Mapped[str] = mapped_column(sa.String(400))
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    file_format: Mapped[str] = mapped_column(sa.String(4), default="pdf")
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    printed_report_id: Mapped[int | None] = mapped_column(sa.ForeignKey("printed_reports.id"))

    consent: Mapped[Consent | None] = relationship()
    released_by: Mapped[User] = relationship()


class EmergencyAccess(Audited, db.Model):
    """Break-glass: a staff member opens a chart outside their scope in a bona fide medical
    emergency, for a limited time, loudly."""

    __tablename__ = "emergency_accesses"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"user_id", "started_at", "expires_at", "ended_at"})
    __table_args__ = (sa.Index("ix_emergency_accesses_user_expires", "user_id", "expires_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    receiving_personnel: Mapped[str] = mapped_column(sa.String(200))
    receiving_facility: Mapped[str] = mapped_column(sa.String(200))
    nature: Mapped[str] = mapped_column(sa.String(1000))
    confirmed_at: Mapped[datetime]  # the time the staff member confirmed
    started_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]  # a clinic manager saw the alert
    acknowledged_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    client: Mapped[Client] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ClientRestriction(Audited, db.Model):
    """A staff member who must never see this client's chart (deny wins over allow)."""

    __tablename__ = "client_restrictions"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"client_id", "user_id", "lifted_at"})
    __table_args__ = (sa.Index("ix_client_restrictions_user_client", "user_id", "client_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(300))
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    lifted_at: Mapped[datetime | None]
    lifted_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    user: Mapped[User] = relationship(foreign_keys=[user_id])

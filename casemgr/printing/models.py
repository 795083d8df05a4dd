"""What left the building: every generated PDF, and batch print jobs.

A PrintedReport is written in the same transaction as the audit event for the print, with
the SHA-256 of the exact bytes handed to the user. Re-rendering a report from its record
(same generated_at, same author, same period) from unchanged clinical records gives the same
bytes, so the hash proves later what was printed and that it was not altered.
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


class PrintedReport(Audited, db.Model):
    """One generated PDF (or CSV). Never edited or deleted."""

    __tablename__ = "printed_reports"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"kind", "period_start", "period_end", "sha256", "batch_id"})
    __table_args__ = (sa.Index("ix_printed_reports_generated_at", "generated_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(sa.String(24))  # progress, discharge, census, caseload, ...
    file_format: Mapped[str] = mapped_column(sa.String(4), default="pdf")  # pdf, csv, zip
    client_id: Mapped[int | None] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    episode_id: Mapped[int | None] = mapped_column(sa.ForeignKey("episodes.id"))
    period_start: Mapped[date | None]
    period_end: Mapped[date | None]
    parameters: Mapped[str] = mapped_column(sa.Text, default="{}")  # canonical JSON
    purpose: Mapped[str] = mapped_column(sa.String(200), default="")
    recipient: Mapped[str] = mapped_column(sa.String(200), default="")
    generated_at: Mapped[datetime]
    generated_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    # As printed: a later change of the facility's name or of the author's credentials must
    # not make an old print fail its hash check, so the renderers read these, not today's.
    generated_by_label: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    facility: Mapped[str] = mapped_column(sa.String(200), default="", server_default="")
    sha256: Mapped[str] = mapped_column(sa.String(64))
    pages: Mapped[int | None]
    size_bytes: Mapped[int]
    batch_id: Mapped[int | None] = mapped_column(sa.ForeignKey("report_batches.id"), index=True)

    generated_by: Mapped[User] = relationship()


class ReportBatch(Audited, TimestampMixin, db.Model):
    """A batch print job, run outside the request; its page survives a browser refresh.

    `request_key` is the one-time token of the form that asked for it, unique, so a double
    click or a resubmitted form finds the existing batch instead of starting a second one.
    """

    __tablename__ = "report_batches"
    __audit_values__ = frozenset({"status", "total", "output", "sha256"})

    id: Mapped[int] = mapped_column(primary_key=True)
    request_key: Mapped[str] = mapped_column(sa.String(64), unique=True)
    requested_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    filters: Mapped[str] = mapped_column(sa.Text, default="{}")  # canonical JSON
    output: Mapped[str] = mapped_column(sa.String(8))  # "combined" or "zip"
    purpose: Mapped[str] = mapped_column(sa.String(200), default="")
    recipient: Mapped[str] = mapped_column(sa.String(200), default="")
    status: Mapped[str] = mapped_column(sa.String(10), default="queued")  # running, done, failed
    total: Mapped[int] = mapped_column(default=0)
    done: Mapped[int] = mapped_column(default=0)
    file_name: Mapped[str] = mapped_column(sa.String(200), default="")
    sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    error: Mapped[str] = mapped_column(sa.String(500), default="")
    started_at: Mapped[datetime | None]
    finished_at: Mapped[datetime | None]

    requested_by: Mapped[User] = relationship()


class ReportBatchFile(db.Model):
    """The finished file of a batch, kept in the database rather than on one server's disk,
    so any app server behind the load balancer can hand it out. One row per batch, written
    once when the batch is done; the bytes are loaded only when downloaded."""

    __tablename__ = "report_batch_files"

    batch_id: Mapped[int] = mapped_column(
        sa.ForeignKey("report_batches.id", ondelete="CASCADE"), primary_key=True
    )
    content: Mapped[bytes] = mapped_column(sa.LargeBinary, deferred=True)
    size: Mapped[int]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

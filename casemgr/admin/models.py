"""Facility settings that an administrator edits in the app (not secrets, not PHI)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..audit.hooks import Audited
from ..extensions import db
from ..orm import TimestampMixin


class Setting(Audited, TimestampMixin, db.Model):
    __tablename__ = "settings"
    __audit_values__ = frozenset({"key", "value"})

    key: Mapped[str] = mapped_column(sa.String(64), primary_key=True)
    value: Mapped[str] = mapped_column(sa.String(255))

"""A site is one facility of the network. An install with no sites is a single facility:
every rule that looks at sites then lets everything through, as before sites existed."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column

from ..audit.hooks import Audited
from ..extensions import db
from ..orm import TimestampMixin


class Site(Audited, TimestampMixin, db.Model):
    """Never deleted (episodes and staff keep pointing at it), only deactivated: a closed
    site takes no new admissions and is offered to no new staff."""

    __tablename__ = "sites"
    __audit_values__ = frozenset({"code", "name", "active"})

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(sa.String(16), unique=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    active: Mapped[bool] = mapped_column(default=True)

    def __str__(self) -> str:
        return self.name

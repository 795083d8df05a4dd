"""Declarative base, naming convention, UTC datetimes and mixins (SQLite connection setup is
in sqlite_setup)."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    declared_attr,
    mapped_column,
    registry,
    relationship,
)

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(sa.TypeDecorator[datetime]):
    """Aware UTC datetimes on every database; naive values are refused, not guessed at."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: sa.Dialect) -> Any:
        if value is None:
            return None
        if value.tzinfo is None:
            raise TypeError("naive datetime: pass an aware datetime (UTC)")
        value = value.astimezone(UTC)
        # SQLite has no time zone type; store naive UTC text there.
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: sa.Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    # On the registry, not the class: Flask-SQLAlchemy 3.1 rejects a class-level
    # type_annotation_map (flask-sqlalchemy issue #1361).
    registry = registry(
        metadata=sa.MetaData(naming_convention=NAMING_CONVENTION),
        type_annotation_map={datetime: UTCDateTime()},
    )


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class Voidable:
    """A clinical record is never deleted: entered in error, it is voided with a reason and
    stays in the chart (struck through) and in the audit trail. Readers that count or chart
    these records must skip voided ones (`Model.voided_at.is_(None)`)."""

    voided_at: Mapped[datetime | None] = mapped_column(default=None)
    void_reason: Mapped[str] = mapped_column(sa.String(500), default="", server_default="")

    @declared_attr
    def voided_by_id(cls) -> Mapped[int | None]:  # noqa: N805 - declared_attr takes the class
        return mapped_column(sa.ForeignKey("users.id"), default=None)

    @declared_attr
    def voided_by(cls):  # noqa: N805 - loaded only when a voided record is shown
        return relationship("User", foreign_keys=f"{cls.__name__}.voided_by_id")

    @property
    def is_voided(self) -> bool:
        return self.voided_at is not None


def contains_pattern(text: str) -> str:
    """A LIKE pattern matching `text` literally anywhere (use with escape="\\\\")."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def str_enum(enum_cls: type, length: int = 16) -> sa.Enum:
    """A Python StrEnum stored as its values in a VARCHAR (no native enum type), the same on
    SQLite and PostgreSQL."""
    return sa.Enum(
        enum_cls, native_enum=False, length=length, values_callable=lambda e: [m.value for m in e]
    )

"""Recurring groups and their meetings. Each attendee's seat is a ClinicalSession with its own
note; the group summary is written once on the meeting and never copied into charts."""

from __future__ import annotations

from datetime import date, datetime, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..extensions import db
from ..orm import TimestampMixin, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode
    from ..notes.models import ClinicalSession

group_facilitators = sa.Table(
    "group_facilitators",
    db.metadata,
    sa.Column("group_id", sa.ForeignKey("groups.id"), primary_key=True),
    sa.Column("user_id", sa.ForeignKey("users.id"), primary_key=True),
    # The primary key leads with group_id; a facilitator's groups (the counselor's chart scope,
    # policy._facilitated_clients) are looked up by user.
    sa.Index("ix_group_facilitators_user_id", "user_id"),
)


class Group(Audited, TimestampMixin, db.Model):
    __tablename__ = "groups"
    __audit_values__ = frozenset({"name", "session_type", "active"})

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(120), unique=True)
    session_type: Mapped[str] = mapped_column(sa.String(24), default="group")
    weekday: Mapped[int | None]  # 0 = Monday
    default_start: Mapped[time | None]
    default_minutes: Mapped[int] = mapped_column(default=60)
    location: Mapped[str] = mapped_column(sa.String(80), default="")
    active: Mapped[bool] = mapped_column(default=True)

    facilitators: Mapped[list[User]] = relationship(
        secondary=group_facilitators, order_by="User.full_name"
    )
    enrollments: Mapped[list[GroupEnrollment]] = relationship(
        back_populates="group", order_by="GroupEnrollment.id"
    )
    meetings: Mapped[list[GroupMeeting]] = relationship(
        back_populates="group", order_by="GroupMeeting.meeting_date"
    )


class GroupEnrollment(Audited, db.Model):
    """A client's episode enrolled in a group, from a date until they leave it."""

    __tablename__ = "group_enrollments"
    __audit_values__ = frozenset({"group_id", "enrolled_on", "ended_on"})

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("groups.id"), index=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    enrolled_on: Mapped[date]
    ended_on: Mapped[date | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    group: Mapped[Group] = relationship(back_populates="enrollments")
    episode: Mapped[Episode] = relationship()

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class GroupMeeting(Audited, TimestampMixin, db.Model):
    __tablename__ = "group_meetings"
    __audit_values__ = frozenset({"group_id", "meeting_date"})

    id: Mapped[int] = mapped_column(primary_key=True)
    group_id: Mapped[int] = mapped_column(sa.ForeignKey("groups.id"), index=True)
    meeting_date: Mapped[date]
    start_time: Mapped[time]
    end_time: Mapped[time]
    topic: Mapped[str] = mapped_column(sa.String(200))
    summary: Mapped[str] = mapped_column(
        sa.Text, default=""
    )  # group-level, shown on the meeting only
    facilitator_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    group: Mapped[Group] = relationship(back_populates="meetings")
    facilitator: Mapped[User] = relationship(foreign_keys=[facilitator_id])
    seats: Mapped[list[ClinicalSession]] = relationship(back_populates="group_meeting")

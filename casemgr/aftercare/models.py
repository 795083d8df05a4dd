"""The aftercare year: continuing-care plans, check-ins, relapse events and closure.

Choices (programs, trigger categories, support kinds, responses, check-in kinds) are plain
strings validated by casemgr.domain.aftercare and casemgr.domain.continuing_care; the database keeps what the rules allowed.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.plans import PlanStatus
from ..extensions import db
from ..orm import TimestampMixin, Voidable, str_enum, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode


class ContinuingCarePlan(Audited, TimestampMixin, db.Model):
    """A continuing-care (aftercare) plan. Versions like a treatment plan: a signed version
    is never edited; a revision is a new draft that supersedes it when signed."""

    __tablename__ = "continuing_care_plans"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"number", "status", "program", "level_of_care"})
    __table_args__ = (
        sa.UniqueConstraint("episode_id", "number", name="uq_continuing_care_plans_episode_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    number: Mapped[int]
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.DRAFT)
    level_of_care: Mapped[str] = mapped_column(sa.String(8), default="")  # ASAM code, e.g. "1"
    program: Mapped[str] = mapped_column(sa.String(24), default="")  # outpatient, iop, ...
    session_schedule: Mapped[str] = mapped_column(sa.String(500), default="")
    moud: Mapped[str] = mapped_column(sa.String(32), default="")  # formulary code, "" for none
    moud_dose: Mapped[str] = mapped_column(sa.String(60), default="")
    moud_prescriber: Mapped[str] = mapped_column(sa.String(120), default="")
    emergency_plan: Mapped[str] = mapped_column(sa.String(2000), default="")
    reengagement_plan: Mapped[str] = mapped_column(sa.String(2000), default="")
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(sa.String(120), default="")
    signer_credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    content_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    supersedes_id: Mapped[int | None] = mapped_column(sa.ForeignKey("continuing_care_plans.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    episode: Mapped[Episode] = relationship()
    created_by: Mapped[User] = relationship(foreign_keys=[created_by_id])
    triggers: Mapped[list[PlanTrigger]] = relationship(
        back_populates="plan", order_by="PlanTrigger.position", cascade="all, delete-orphan"
    )
    supports: Mapped[list[SoberSupport]] = relationship(
        back_populates="plan", order_by="SoberSupport.position", cascade="all, delete-orphan"
    )
    life_changes: Mapped[list[LifeChange]] = relationship(
        back_populates="plan", order_by="LifeChange.position", cascade="all, delete-orphan"
    )

    @property
    def client_id(self) -> int:
        return self.episode.client_id


class PlanTrigger(Audited, db.Model):
    """A person, place, situation, emotion or time that puts the client at risk.

    `lineage` is shared by the same trigger across plan versions, so a relapse linked to a
    trigger of an earlier version still finds it in the current one."""

    __tablename__ = "plan_triggers"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("continuing_care_plans.id"), index=True)
    position: Mapped[int]
    category: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.String(500))
    risk: Mapped[int]  # 1 low, 2 moderate, 3 high
    coping: Mapped[str] = mapped_column(sa.String(1000), default="")
    lineage: Mapped[str] = mapped_column(sa.String(32), index=True)

    plan: Mapped[ContinuingCarePlan] = relationship(back_populates="triggers")


class SoberSupport(Audited, db.Model):
    """A person or group the client leans on. Contact details only with the client's consent."""

    __tablename__ = "sober_supports"
    __audit_redact__ = frozenset({"contact"})

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("continuing_care_plans.id"), index=True)
    position: Mapped[int]
    kind: Mapped[str] = mapped_column(sa.String(24))  # sponsor, family, ..., twelve_step, ...
    name: Mapped[str] = mapped_column(sa.String(200))
    frequency: Mapped[str] = mapped_column(sa.String(100), default="")
    contact_consent: Mapped[bool] = mapped_column(default=False)
    contact: Mapped[str] = mapped_column(sa.String(200), default="")

    plan: Mapped[ContinuingCarePlan] = relationship(back_populates="supports")


class LifeChange(Audited, db.Model):
    """A change the client is working on: housing, employment, education, legal."""

    __tablename__ = "life_changes"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("continuing_care_plans.id"), index=True)
    position: Mapped[int]
    area: Mapped[str] = mapped_column(sa.String(16))
    description: Mapped[str] = mapped_column(sa.String(500))
    status: Mapped[str] = mapped_column(sa.String(16), default="in_progress")

    plan: Mapped[ContinuingCarePlan] = relationship(back_populates="life_changes")


class CheckIn(Audited, Voidable, TimestampMixin, db.Model):
    """One scheduled aftercare contact or outcome follow-up, and what it found.

    `due_on` never changes: a reschedule sets `scheduled_on`, so the original due date and
    how late the contact came stay visible."""

    __tablename__ = "check_ins"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset(
        {"kind", "due_on", "scheduled_on", "status", "reached", "days_used_30", "drug_screen_done"}
    )
    __table_args__ = (
        # One live check-in per due date; voiding a wrongly recorded one lets it be redone.
        sa.Index(
            "uq_check_ins_episode_kind_due",
            "episode_id",
            "kind",
            "due_on",
            unique=True,
            sqlite_where=sa.text("voided_at IS NULL"),
            postgresql_where=sa.text("voided_at IS NULL"),
        ),
        sa.Index("ix_check_ins_status_due", "status", "due_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(16))  # "routine", "followup_30", ...
    due_on: Mapped[date]
    scheduled_on: Mapped[date | None]  # set by a reschedule
    reschedule_reason: Mapped[str] = mapped_column(sa.String(300), default="")
    status: Mapped[str] = mapped_column(sa.String(12), default="open")  # open, done, missed
    contacted_at: Mapped[datetime | None]
    reached: Mapped[bool | None]
    method: Mapped[str] = mapped_column(sa.String(16), default="")  # phone, in_person, video, ...
    days_used_30: Mapped[int | None]
    meetings_attended: Mapped[int | None]  # in the last 30 days
    employment: Mapped[str] = mapped_column(sa.String(24), default="")
    housing: Mapped[str] = mapped_column(sa.String(24), default="")
    craving: Mapped[int | None]  # 0-10
    drug_screen_done: Mapped[bool] = mapped_column(default=False)
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    recorded_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    episode: Mapped[Episode] = relationship()
    recorded_by: Mapped[User | None] = relationship(foreign_keys=[recorded_by_id])

    @property
    def client_id(self) -> int:
        return self.episode.client_id


class RelapseEvent(Audited, Voidable, db.Model):
    """A lapse or relapse. Never edited or deleted: a correction is a new event."""

    __tablename__ = "relapse_events"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"kind", "used_on", "substance", "response"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    kind: Mapped[str] = mapped_column(sa.String(8))  # lapse, relapse
    used_on: Mapped[date]  # the (last) day of use
    substance: Mapped[str] = mapped_column(sa.String(8))  # TEDS substance code
    circumstances: Mapped[str] = mapped_column(sa.String(2000), default="")
    trigger_lineage: Mapped[str | None] = mapped_column(sa.String(32))
    trigger_other: Mapped[str] = mapped_column(sa.String(300), default="")
    response: Mapped[str] = mapped_column(sa.String(24))
    recorded_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)

    episode: Mapped[Episode] = relationship()
    recorded_by: Mapped[User] = relationship(foreign_keys=[recorded_by_id])

    @property
    def client_id(self) -> int:
        return self.episode.client_id


class AftercareClosure(Audited, db.Model):
    """The counselor's summary when aftercare closes; the episode is discharged with it."""

    __tablename__ = "aftercare_closures"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"closed_on", "reason_code"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), unique=True)
    closed_on: Mapped[date]
    reason_code: Mapped[str] = mapped_column(sa.String(2))
    summary: Mapped[str] = mapped_column(sa.String(4000))
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    episode: Mapped[Episode] = relationship()
    by: Mapped[User] = relationship()

    @property
    def client_id(self) -> int:
        return self.episode.client_id

"""Treatment plans. Each review creates a new version; signed versions are never edited."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.plans import ObjectiveStatus, PlanStatus
from ..extensions import db
from ..orm import TimestampMixin, str_enum

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode


class TreatmentPlan(Audited, TimestampMixin, db.Model):
    __tablename__ = "treatment_plans"
    __audit_values__ = frozenset({"number", "status", "review_due_on"})
    __table_args__ = (
        sa.UniqueConstraint("episode_id", "number", name="uq_treatment_plans_episode_number"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    number: Mapped[int]  # version 1, 2, ... within the episode
    status: Mapped[PlanStatus] = mapped_column(str_enum(PlanStatus), default=PlanStatus.DRAFT)
    strengths: Mapped[str] = mapped_column(sa.String(1000), default="")
    review_due_on: Mapped[date | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(sa.String(120), default="")
    signer_credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    client_agreed: Mapped[bool] = mapped_column(default=False)
    client_agreed_on: Mapped[date | None]
    content_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    supersedes_id: Mapped[int | None] = mapped_column(sa.ForeignKey("treatment_plans.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    episode: Mapped[Episode] = relationship()
    problems: Mapped[list[PlanProblem]] = relationship(
        back_populates="plan", order_by="PlanProblem.position", cascade="all, delete-orphan"
    )

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class PlanProblem(Audited, db.Model):
    __tablename__ = "plan_problems"

    id: Mapped[int] = mapped_column(primary_key=True)
    plan_id: Mapped[int] = mapped_column(sa.ForeignKey("treatment_plans.id"), index=True)
    position: Mapped[int]
    statement: Mapped[str] = mapped_column(sa.String(1000))

    plan: Mapped[TreatmentPlan] = relationship(back_populates="problems")
    goals: Mapped[list[PlanGoal]] = relationship(
        back_populates="problem", order_by="PlanGoal.position", cascade="all, delete-orphan"
    )


class PlanGoal(Audited, db.Model):
    """A long-term goal."""

    __tablename__ = "plan_goals"

    id: Mapped[int] = mapped_column(primary_key=True)
    problem_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_problems.id"), index=True)
    position: Mapped[int]
    statement: Mapped[str] = mapped_column(sa.String(1000))

    problem: Mapped[PlanProblem] = relationship(back_populates="goals")
    objectives: Mapped[list[PlanObjective]] = relationship(
        back_populates="goal", order_by="PlanObjective.position", cascade="all, delete-orphan"
    )


class PlanObjective(Audited, db.Model):
    """A short-term, measurable objective. `lineage` is shared by the same objective across
    plan versions, so notes linked to an earlier version still follow it (the golden thread)."""

    __tablename__ = "plan_objectives"
    __audit_values__ = frozenset({"status", "target_date"})

    id: Mapped[int] = mapped_column(primary_key=True)
    goal_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_goals.id"), index=True)
    position: Mapped[int]
    statement: Mapped[str] = mapped_column(sa.String(1000))
    target_date: Mapped[date]
    status: Mapped[ObjectiveStatus] = mapped_column(
        str_enum(ObjectiveStatus), default=ObjectiveStatus.NOT_STARTED
    )
    lineage: Mapped[str] = mapped_column(sa.String(32), index=True)

    goal: Mapped[PlanGoal] = relationship(back_populates="objectives")
    interventions: Mapped[list[PlanIntervention]] = relationship(
        back_populates="objective",
        order_by="PlanIntervention.position",
        cascade="all, delete-orphan",
    )


class PlanIntervention(Audited, db.Model):
    __tablename__ = "plan_interventions"

    id: Mapped[int] = mapped_column(primary_key=True)
    objective_id: Mapped[int] = mapped_column(sa.ForeignKey("plan_objectives.id"), index=True)
    position: Mapped[int]
    modality: Mapped[str] = mapped_column(sa.String(200))
    frequency: Mapped[str] = mapped_column(sa.String(100))
    responsible_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))

    objective: Mapped[PlanObjective] = relationship(back_populates="interventions")
    responsible: Mapped[User | None] = relationship()

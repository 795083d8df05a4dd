"""Episodes and their history: phase changes, levels of care, caseload and discharge."""

from __future__ import annotations

from datetime import date, datetime
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.phases import Phase, check_transition
from ..extensions import db
from ..orm import TimestampMixin, str_enum, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..clients.models import Client
    from ..sites.models import Site


class Episode(Audited, TimestampMixin, db.Model):
    """One admission, from intake until discharge. Readmission opens a new episode."""

    __tablename__ = "episodes"
    __audit_client_attr__ = "client_id"
    __audit_values__ = frozenset({"phase", "primary_counselor_id", "number", "site_id"})
    __table_args__ = (
        sa.UniqueConstraint("client_id", "number", name="uq_episodes_client_number"),
        # At most one open episode per client, enforced by the database itself.
        sa.Index(
            "uq_episodes_one_open_per_client",
            "client_id",
            unique=True,
            sqlite_where=sa.text("phase != 'discharged'"),
            postgresql_where=sa.text("phase != 'discharged'"),
        ),
        # A site's detox board and census: its open episodes by phase.
        sa.Index("ix_episodes_site_phase", "site_id", "phase"),
        # A site manager's month flow: the site's admissions and discharges by date range
        # (by date alone, a network's month was read and filtered by site: 3.3 → 1.4 ms).
        sa.Index("ix_episodes_site_admitted_on", "site_id", "admitted_on"),
        sa.Index("ix_episodes_site_discharged_on", "site_id", "discharged_on"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    client_id: Mapped[int] = mapped_column(sa.ForeignKey("clients.id"), index=True)
    number: Mapped[int]
    # The manager home's month flow counts admissions and discharges by date range.
    admitted_on: Mapped[date] = mapped_column(index=True)
    phase: Mapped[Phase] = mapped_column(str_enum(Phase), default=Phase.INTAKE, index=True)
    phase_started_on: Mapped[date]
    primary_counselor_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"), index=True)
    discharged_on: Mapped[date | None] = mapped_column(index=True)
    # Where the episode is treated (None on an install without sites).
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}

    client: Mapped[Client] = relationship(back_populates="episodes")
    primary_counselor: Mapped[User | None] = relationship(foreign_keys=[primary_counselor_id])
    site: Mapped[Site | None] = relationship()
    phase_changes: Mapped[list[PhaseChange]] = relationship(
        back_populates="episode", order_by="PhaseChange.id", cascade="all"
    )
    levels_of_care: Mapped[list[LevelOfCareSpan]] = relationship(
        back_populates="episode", order_by="LevelOfCareSpan.id", cascade="all"
    )
    assignments: Mapped[list[CaseloadAssignment]] = relationship(
        back_populates="episode", order_by="CaseloadAssignment.id", cascade="all"
    )
    discharge: Mapped[Discharge | None] = relationship(back_populates="episode", cascade="all")
    site_changes: Mapped[list[SiteChange]] = relationship(
        back_populates="episode", order_by="SiteChange.id", cascade="all"
    )

    @property
    def is_open(self) -> bool:
        return self.phase is not Phase.DISCHARGED

    @property
    def current_level(self) -> LevelOfCareSpan | None:
        return next((s for s in reversed(self.levels_of_care) if s.ended_on is None), None)

    def move_to(
        self,
        target: Phase,
        *,
        by: User,
        at: datetime,
        on: date,
        reason: str,
        backdate_reason: str = "",
    ) -> PhaseChange:
        """The only writer of `phase`: checks the transition table and appends history."""
        check_transition(self.phase, target)
        change = PhaseChange(
            from_phase=self.phase,
            to_phase=target,
            by=by,
            effective_at=at,
            reason=reason,
            backdate_reason=backdate_reason,
        )
        self.phase_changes.append(change)
        self.phase, self.phase_started_on = target, on
        if target is Phase.DISCHARGED:
            self.discharged_on = on
        return change


class SiteChange(Audited, db.Model):
    """Append-only: an open episode moved from one of the network's sites to another (detox
    at one facility, residential rehab at the next), by whom, when and why."""

    __tablename__ = "episode_site_changes"
    __audit_values__ = frozenset({"from_site_id", "to_site_id", "at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    from_site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"))
    to_site_id: Mapped[int] = mapped_column(sa.ForeignKey("sites.id"))
    at: Mapped[datetime]
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(500))

    episode: Mapped[Episode] = relationship(back_populates="site_changes")
    from_site: Mapped[Site | None] = relationship(foreign_keys=[from_site_id])
    to_site: Mapped[Site] = relationship(foreign_keys=[to_site_id])
    by: Mapped[User] = relationship()

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class PhaseChange(Audited, db.Model):
    """Append-only: who moved the episode, from what, to what, when and why."""

    __tablename__ = "phase_changes"
    __audit_values__ = frozenset({"from_phase", "to_phase", "effective_at"})
    __table_args__ = (
        # An episode's phase on a day is its latest move effective by then (census._phase_on):
        # one index seek per episode, in order, with no sort. Also serves the foreign key.
        sa.Index("ix_phase_changes_episode_effective", "episode_id", "effective_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"))
    from_phase: Mapped[Phase | None] = mapped_column(str_enum(Phase))
    to_phase: Mapped[Phase] = mapped_column(str_enum(Phase))
    effective_at: Mapped[datetime]
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed for the nurse/physician chart scope (policy._detox_and_documented: who moved it).
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(sa.String(500))
    backdate_reason: Mapped[str] = mapped_column(sa.String(500), default="")

    episode: Mapped[Episode] = relationship(back_populates="phase_changes")
    by: Mapped[User] = relationship()

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class LevelOfCareSpan(Audited, db.Model):
    """A dated level of care: setting plus a code and the code system it comes from."""

    __tablename__ = "level_of_care_spans"
    __audit_values__ = frozenset({"setting", "code_system", "code", "started_on", "ended_on"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    setting: Mapped[str] = mapped_column(sa.String(32))
    code_system: Mapped[str] = mapped_column(sa.String(16))
    code: Mapped[str] = mapped_column(sa.String(16))
    started_on: Mapped[date]
    ended_on: Mapped[date | None]
    # Indexed for the nurse/physician chart scope (policy._detox_and_documented).
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    episode: Mapped[Episode] = relationship(back_populates="levels_of_care")

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class CaseloadAssignment(Audited, db.Model):
    """Who was the episode's primary counselor, from when to when. Kept when reassigned."""

    __tablename__ = "caseload_assignments"
    __audit_values__ = frozenset({"counselor_id", "started_at", "ended_at"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    counselor_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    reason: Mapped[str] = mapped_column(sa.String(300), default="")

    episode: Mapped[Episode] = relationship(back_populates="assignments")
    counselor: Mapped[User] = relationship(foreign_keys=[counselor_id])

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"


class Discharge(Audited, db.Model):
    """The TEDS discharge record: reason and the at-discharge measures."""

    __tablename__ = "discharges"
    __audit_values__ = frozenset({"reason_code", "discharged_on"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), unique=True)
    last_contact_on: Mapped[date]
    discharged_on: Mapped[date]
    reason_code: Mapped[str] = mapped_column(sa.String(2))
    left_at: Mapped[datetime | None]  # when a client left against advice
    note: Mapped[str] = mapped_column(sa.String(1000), default="")
    use_frequency: Mapped[str] = mapped_column(sa.String(4))
    employment: Mapped[str] = mapped_column(sa.String(24))
    living_arrangement: Mapped[str] = mapped_column(sa.String(16))
    arrests_30d: Mapped[int] = mapped_column(default=0)
    self_help: Mapped[str] = mapped_column(sa.String(4))
    by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    episode: Mapped[Episode] = relationship(back_populates="discharge")

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"

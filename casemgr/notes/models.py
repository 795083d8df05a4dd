"""Sessions and their notes. A signed note is frozen: the ORM refuses any change to it."""

from __future__ import annotations

import json
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.orm import Mapped, Session, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.notes import NoteFormat, NoteState, NoteStatus
from ..domain.sessions import duration_minutes
from ..extensions import db
from ..orm import TimestampMixin, str_enum, utcnow

if TYPE_CHECKING:
    from ..auth.models import User
    from ..episodes.models import Episode
    from ..groups.models import GroupMeeting
    from ..plans.models import PlanObjective


class ClinicalSession(Audited, TimestampMixin, db.Model):
    """One client's session: individual, family, nursing... or their seat in a group meeting."""

    __tablename__ = "clinical_sessions"
    __audit_values__ = frozenset({"session_type", "attendance", "session_date"})

    id: Mapped[int] = mapped_column(primary_key=True)
    episode_id: Mapped[int] = mapped_column(sa.ForeignKey("episodes.id"), index=True)
    group_meeting_id: Mapped[int | None] = mapped_column(
        sa.ForeignKey("group_meetings.id"), index=True
    )
    session_date: Mapped[date] = mapped_column(index=True)
    start_time: Mapped[time]
    end_time: Mapped[time]
    session_type: Mapped[str] = mapped_column(sa.String(24))
    alternative_kind: Mapped[str] = mapped_column(sa.String(16), default="")
    setting: Mapped[str] = mapped_column(sa.String(16), default="on_site")
    location: Mapped[str] = mapped_column(sa.String(80), default="")
    staff_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    attendance: Mapped[str] = mapped_column(sa.String(24), default="attended")
    minutes_attended: Mapped[int | None]
    created_by_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))

    episode: Mapped[Episode] = relationship()
    staff: Mapped[User] = relationship(foreign_keys=[staff_id])
    group_meeting: Mapped[GroupMeeting | None] = relationship(back_populates="seats")
    note: Mapped[Note | None] = relationship(back_populates="session", uselist=False)

    __table_args__ = (
        sa.UniqueConstraint(
            "group_meeting_id", "episode_id", name="uq_clinical_sessions_meeting_episode"
        ),
    )

    @property
    def client_id(self) -> int:
        return self.episode.client_id

    __audit_client_attr__ = "client_id"

    @property
    def duration(self) -> int:
        return duration_minutes(self.start_time, self.end_time)


note_objectives = sa.Table(
    "note_objectives",
    db.metadata,
    sa.Column("note_id", sa.ForeignKey("notes.id"), primary_key=True),
    sa.Column("objective_id", sa.ForeignKey("plan_objectives.id"), primary_key=True),
)


class Note(Audited, TimestampMixin, db.Model):
    """A progress note. Sections are stored as canonical JSON so the signed hash is stable."""

    __tablename__ = "notes"
    __audit_values__ = frozenset({"status", "format", "late_entry"})

    id: Mapped[int] = mapped_column(primary_key=True)
    session_id: Mapped[int] = mapped_column(sa.ForeignKey("clinical_sessions.id"), unique=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    format: Mapped[NoteFormat] = mapped_column(str_enum(NoteFormat))
    sections_json: Mapped[str] = mapped_column(sa.Text, default="{}")
    # SUD prompts (optional, structured so reports can count them).
    cravings: Mapped[int | None]
    use_since_last: Mapped[str] = mapped_column(sa.String(16), default="")
    triggers: Mapped[str] = mapped_column(sa.String(500), default="")
    screen_reviewed: Mapped[bool] = mapped_column(default=False)
    medication_adherence: Mapped[str] = mapped_column(sa.String(16), default="")
    sober_supports: Mapped[str] = mapped_column(sa.String(500), default="")
    meetings_attended: Mapped[int | None]
    safety_risk: Mapped[str] = mapped_column(sa.String(16), default="")
    status: Mapped[NoteStatus] = mapped_column(
        str_enum(NoteStatus), default=NoteStatus.DRAFT, index=True
    )
    late_entry: Mapped[bool] = mapped_column(default=False)
    needs_cosign: Mapped[bool] = mapped_column(default=False)
    signed_at: Mapped[datetime | None]
    signed_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    signer_name: Mapped[str] = mapped_column(sa.String(120), default="")
    signer_credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    content_sha256: Mapped[str] = mapped_column(sa.String(64), default="")
    cosigned_at: Mapped[datetime | None]
    cosigned_by_id: Mapped[int | None] = mapped_column(sa.ForeignKey("users.id"))
    cosigner_name: Mapped[str] = mapped_column(sa.String(120), default="")
    cosigner_credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    version: Mapped[int] = mapped_column(default=1)

    __mapper_args__ = {"version_id_col": version}
    __table_args__ = (
        # A user's own drafts (home pages' overdue drafts) by both columns: with the author
        # alone a counselor's thousand signed notes were read to find two drafts, and SQLite's
        # sampled statistics made `status` look as selective and read the network's drafts.
        # Also serves the foreign key (author_id leads).
        sa.Index("ix_notes_author_id_status", "author_id", "status"),
    )

    session: Mapped[ClinicalSession] = relationship(back_populates="note")
    author: Mapped[User] = relationship(foreign_keys=[author_id])
    objectives: Mapped[list[PlanObjective]] = relationship(secondary=note_objectives)
    addenda: Mapped[list[Addendum]] = relationship(back_populates="note", order_by="Addendum.id")
    reviews: Mapped[list[NoteReview]] = relationship(
        back_populates="note", order_by="NoteReview.id"
    )

    @property
    def client_id(self) -> int:
        return self.session.episode.client_id

    __audit_client_attr__ = "client_id"

    @property
    def sections(self) -> dict[str, str]:
        return json.loads(self.sections_json or "{}")

    @property
    def state(self) -> NoteState:
        return NoteState(self.status, self.needs_cosign)

    @property
    def is_locked(self) -> bool:
        return self.status is not NoteStatus.DRAFT


class NoteReview(Audited, db.Model):
    """A supervisor's decision on a note: approved (co-signed) or returned with comments."""

    __tablename__ = "note_reviews"
    __audit_values__ = frozenset({"action"})

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("notes.id"), index=True)
    reviewer_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(sa.String(16))  # approved | returned
    comments: Mapped[str] = mapped_column(sa.String(2000), default="")
    at: Mapped[datetime] = mapped_column(default=utcnow)

    note: Mapped[Note] = relationship(back_populates="reviews")
    reviewer: Mapped[User] = relationship()


class Addendum(Audited, db.Model):
    """A correction or late addition to a signed note; it never replaces the original."""

    __tablename__ = "note_addenda"
    __audit_values__ = frozenset({"note_id"})

    id: Mapped[int] = mapped_column(primary_key=True)
    note_id: Mapped[int] = mapped_column(sa.ForeignKey("notes.id"), index=True)
    author_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"))
    author_name: Mapped[str] = mapped_column(sa.String(120))
    author_credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    reason: Mapped[str] = mapped_column(sa.String(500))
    text: Mapped[str] = mapped_column(sa.Text)
    content_sha256: Mapped[str] = mapped_column(sa.String(64))

    note: Mapped[Note] = relationship(back_populates="addenda")


class SignedNoteImmutable(RuntimeError):
    """Raised on any attempt to change or delete a signed note (or an addendum) via the ORM."""


# After signing only two things may happen to the note row itself: a supervisor co-signs it,
# or returns it (a note awaiting co-signature goes back to draft, unsigned, for revision).
_COSIGN_FIELDS = frozenset(
    {
        "status",
        "cosigned_at",
        "cosigned_by_id",
        "cosigner_name",
        "cosigner_credentials",
        "version",
        "updated_at",
    }
)
_RETURN_FIELDS = frozenset(
    {
        "status",
        "signed_at",
        "signed_by_id",
        "signer_name",
        "signer_credentials",
        "content_sha256",
        "version",
        "updated_at",
    }
)


@event.listens_for(Session, "before_flush")
def _guard_signed_notes(session: Session, _ctx, _instances) -> None:
    for obj in session.deleted:
        if isinstance(obj, Addendum) or (
            isinstance(obj, Note) and _committed_status(obj) is not NoteStatus.DRAFT
        ):
            raise SignedNoteImmutable("Signed notes and addenda cannot be deleted.")
    for obj in session.dirty:
        if isinstance(obj, Addendum) and session.is_modified(obj):
            raise SignedNoteImmutable("Addenda cannot be changed.")
        if isinstance(obj, ClinicalSession) and session.is_modified(obj) and _has_signed_note(obj):
            raise SignedNoteImmutable("The session of a signed note cannot change.")
        if isinstance(obj, Note) and session.is_modified(obj):
            _check_note_change(obj)


def _has_signed_note(visit: ClinicalSession) -> bool:
    note = visit.note
    if note is None or sa.inspect(note).pending:
        return False
    return _committed_status(note) is not NoteStatus.DRAFT


def _committed_status(note: Note) -> NoteStatus:
    hist = sa.inspect(note).attrs.status.history
    before = hist.deleted[0] if hist.deleted else note.status
    return NoteStatus(before)


def _check_note_change(note: Note) -> None:
    before = _committed_status(note)
    if before is NoteStatus.DRAFT:
        return
    state = sa.inspect(note)
    changed = {a.key for a in state.mapper.column_attrs if state.attrs[a.key].history.has_changes()}
    if state.attrs.objectives.history.has_changes():
        changed.add("objectives")
    cosigning = before is NoteStatus.SIGNED and note.status is NoteStatus.COSIGNED
    returning = (
        before is NoteStatus.SIGNED and note.status is NoteStatus.DRAFT and note.needs_cosign
    )
    allowed = (cosigning and changed <= _COSIGN_FIELDS) or (returning and changed <= _RETURN_FIELDS)
    if changed and not allowed:
        raise SignedNoteImmutable(
            f"Note {note.id} is signed; its content cannot change ({', '.join(sorted(changed))})."
        )

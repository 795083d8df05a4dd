"""Logging sessions and the life of a note: draft, sign, co-sign or return, addenda.

Services flush and audit; the view commits once. Signing re-checks the author's password,
freezes signer, credentials and time, and stores a SHA-256 of the signed content.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, time, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import flag_modified

from ..audit.hooks import record
from ..auth import passwords
from ..auth.models import User
from ..domain import notes as rules
from ..domain.errors import DomainError
from ..domain.notes import NoteAction, NoteFormat, NoteStatus
from ..domain.sessions import (
    ADHERENCE,
    ALTERNATIVE_KINDS,
    ATTENDANCE,
    PRESENT,
    SAFETY_RISK,
    SESSION_TYPES,
    SETTINGS,
    USE_SINCE_LAST,
    duration_minutes,
)
from ..episodes.models import Episode
from ..orm import utcnow
from ..plans.models import PlanGoal, PlanObjective, PlanProblem, TreatmentPlan
from .models import Addendum, ClinicalSession, Note, NoteReview


@dataclass(frozen=True)
class SessionDetails:
    session_date: date
    start_time: time
    end_time: time
    session_type: str
    setting: str = "on_site"
    location: str = ""
    attendance: str = "attended"
    alternative_kind: str = ""
    minutes_attended: int | None = None


@dataclass(frozen=True)
class NoteContent:
    format: NoteFormat
    sections: dict[str, str]
    cravings: int | None = None
    use_since_last: str = ""
    triggers: str = ""
    screen_reviewed: bool = False
    medication_adherence: str = ""
    sober_supports: str = ""
    meetings_attended: int | None = None
    safety_risk: str = ""
    objective_ids: tuple[int, ...] = field(default=())


def check_session(episode: Episode, details: SessionDetails, *, today: date) -> int:
    """The session's facts against the episode and the clock; returns its length in minutes."""
    if not episode.is_open:
        raise DomainError("The episode is closed; sessions are logged on an open episode.")
    _check_codes(details)
    if details.session_date > today:
        raise DomainError("A session cannot be logged for a future date.", "session_date")
    if details.session_date < episode.admitted_on:
        raise DomainError("The session is before the admission date.", "session_date")
    try:
        length = duration_minutes(details.start_time, details.end_time)
    except ValueError as exc:
        raise DomainError(str(exc), "end_time") from exc
    minutes = details.minutes_attended
    if minutes is not None and not 0 <= minutes <= length:
        raise DomainError(f"Minutes attended must be between 0 and {length}.", "minutes_attended")
    return length


def _check_codes(details: SessionDetails) -> None:
    for name, codes in (
        ("session_type", SESSION_TYPES),
        ("setting", SETTINGS),
        ("attendance", ATTENDANCE),
    ):
        if getattr(details, name) not in dict(codes):
            raise DomainError("Choose one of the listed values.", name)
    if details.session_type == "alternative" and details.alternative_kind not in dict(
        ALTERNATIVE_KINDS
    ):
        raise DomainError("Choose the kind of alternative therapy.", "alternative_kind")


def _session_values(details: SessionDetails) -> dict[str, Any]:
    values = dict(details.__dict__)
    if details.session_type != "alternative":
        values["alternative_kind"] = ""
    if details.attendance not in PRESENT:
        values["minutes_attended"] = 0
    values["location"] = details.location.strip()
    return values


def log_session(
    session: Session,
    episode: Episode,
    details: SessionDetails,
    *,
    staff: User,
    actor: User,
    today: date,
    group_meeting_id: int | None = None,
) -> ClinicalSession:
    check_session(episode, details, today=today)
    row = ClinicalSession(
        episode=episode,
        staff_id=staff.id,
        created_by_id=actor.id,
        group_meeting_id=group_meeting_id,
        **_session_values(details),
    )
    session.add(row)
    session.flush()
    return row


def record_session(
    session: Session,
    episode: Episode,
    details: SessionDetails,
    content: NoteContent,
    *,
    actor: User,
    now: datetime,
    today: date,
    tz: tzinfo,
) -> Note:
    """Log a session the actor ran and write its note as a draft, in one step."""
    visit = log_session(session, episode, details, staff=actor, actor=actor, today=today)
    return write_note(session, visit, content, author=actor, now=now, tz=tz)


def write_note(
    session: Session,
    visit: ClinicalSession,
    content: NoteContent,
    *,
    author: User,
    now: datetime,
    tz: tzinfo,
) -> Note:
    """A new draft. Entered more than 24 hours after the session ended: a late entry."""
    if visit.note is not None:
        raise DomainError("This session already has a note.")
    note = Note(session=visit, author_id=author.id, format=content.format)
    with session.no_autoflush:  # the objectives query must not flush a half-built note
        _apply(session, note, content)
    note.late_entry = rules.is_late(session_end(visit, tz), now)
    session.add(note)
    session.flush()
    return note


def session_end(visit: ClinicalSession, tz: tzinfo) -> datetime:
    """When the session ended, as an aware datetime (its date and times are facility time)."""
    return datetime.combine(visit.session_date, visit.end_time, tzinfo=tz)


def edit_refusal(note: Note, actor: User) -> str | None:
    """Why `actor` may not edit this note now, or None when they may."""
    if (why := refusal(note, NoteAction.EDIT)) is not None:
        return why
    return None if note.author_id == actor.id else "Only the author can edit a draft note."


def refusal(note: Note, action: NoteAction) -> str | None:
    """Why the note's state does not allow `action` now, or None when it does."""
    review = action in (NoteAction.COSIGN, NoteAction.RETURN)
    if review and note.status is NoteStatus.SIGNED and not note.needs_cosign:
        return "This note does not need a co-signature."
    try:
        rules.check(note.state, action)
    except rules.NoteRuleError as exc:
        return str(exc)
    # A returned note is unsigned again, which would leave an addendum pointing at a signature
    # that no longer exists; while the supervisor decides, changes go through a return.
    if action is NoteAction.ADDENDUM and rules.awaiting_cosign(note.state):
        return "This note is waiting for co-signature; ask the supervisor to return it for changes."
    return None


def revise_draft(
    session: Session,
    note: Note,
    details: SessionDetails | None,
    content: NoteContent,
    *,
    actor: User,
    today: date,
    tz: tzinfo,
) -> None:
    """The author changes a draft: its note and, for a session they logged alone (not a group
    seat), the session's facts. A late entry is judged from when the note was first written."""
    if (why := edit_refusal(note, actor)) is not None:
        raise DomainError(why)
    visit = note.session
    if details is not None:
        if visit.group_meeting_id is not None:
            raise DomainError("A group seat's date and times belong to the group meeting.")
        check_session(visit.episode, details, today=today)
        for name, value in _session_values(details).items():
            setattr(visit, name, value)
        note.late_entry = rules.is_late(session_end(visit, tz), note.created_at)
    # Rewrite the note row even when only its session or objective links changed (or the clock
    # has not moved), so its version moves and an edit form opened before this is refused.
    note.updated_at = utcnow()
    flag_modified(note, "updated_at")
    update_draft(session, note, content, actor=actor)


def update_draft(session: Session, note: Note, content: NoteContent, *, actor: User) -> None:
    rules.check(note.state, NoteAction.EDIT)
    if note.author_id != actor.id:
        raise DomainError("Only the author can edit a draft note.")
    if content.format is not note.format:
        raise DomainError("The note's format cannot change; start a new note instead.", "format")
    _apply(session, note, content)
    session.flush()


def _apply(session: Session, note: Note, content: NoteContent) -> None:
    try:
        sections = rules.check_sections(content.format, content.sections)
    except rules.NoteRuleError as exc:
        raise DomainError(str(exc)) from exc
    if content.cravings is not None and not 0 <= content.cravings <= 10:
        raise DomainError("Cravings are rated 0 to 10.", "cravings")
    if content.meetings_attended is not None and content.meetings_attended < 0:
        raise DomainError("Meetings attended cannot be negative.", "meetings_attended")
    for name, codes in (
        ("use_since_last", USE_SINCE_LAST),
        ("medication_adherence", ADHERENCE),
        ("safety_risk", SAFETY_RISK),
    ):
        if getattr(content, name) not in ("", *dict(codes)):
            raise DomainError("Choose one of the listed values.", name)
    note.sections_json = json.dumps(sections, sort_keys=True, ensure_ascii=False)
    for name in rules.PROMPTS:
        value = getattr(content, name)
        setattr(note, name, value.strip() if isinstance(value, str) else value)
    note.objectives = _objectives(session, note.session.episode_id, content.objective_ids)


def _objectives(session: Session, episode_id: int, ids: tuple[int, ...]) -> list[PlanObjective]:
    """Only objectives of this episode's treatment plans can be linked (the golden thread)."""
    if not ids:
        return []
    rows = session.scalars(
        sa.select(PlanObjective)
        .join(PlanGoal)
        .join(PlanProblem)
        .join(TreatmentPlan)
        .where(PlanObjective.id.in_(ids), TreatmentPlan.episode_id == episode_id)
    ).all()
    if len(rows) != len(set(ids)):
        raise DomainError("Link only objectives from this client's treatment plan.", "objectives")
    return list(rows)


def _reauthenticate(user: User, password: str) -> None:
    if not passwords.verify_password(user.password_hash, password):
        raise DomainError("The password is not correct; the note was not signed.", "password")


def sign(session: Session, note: Note, password: str, *, actor: User, now: datetime) -> None:
    rules.check(note.state, NoteAction.SIGN)
    if note.author_id != actor.id:
        raise DomainError("Only the author can sign this note.")
    _reauthenticate(actor, password)
    # One flush for the whole signature: the row must never be stored signed without its hash.
    with session.no_autoflush:
        note.status = rules.next_status(note.state, NoteAction.SIGN)
        note.needs_cosign = actor.needs_supervision
        note.signed_at, note.signed_by_id = now, actor.id
        note.signer_name, note.signer_credentials = actor.full_name, actor.credentials
        note.content_sha256 = rules.content_hash(signed_content(note))
    session.flush()
    record(session, "note.signed", target=note, detail={"sha256": note.content_sha256})


def cosign(session: Session, note: Note, password: str, *, supervisor: User, now: datetime) -> None:
    rules.check(note.state, NoteAction.COSIGN)
    if note.author_id == supervisor.id:
        raise DomainError("A supervisor cannot co-sign their own note.")
    _reauthenticate(supervisor, password)
    note.status = rules.next_status(note.state, NoteAction.COSIGN)
    note.cosigned_at, note.cosigned_by_id = now, supervisor.id
    note.cosigner_name, note.cosigner_credentials = supervisor.full_name, supervisor.credentials
    session.add(NoteReview(note=note, reviewer_id=supervisor.id, action="approved", at=now))
    session.flush()


def return_to_author(
    session: Session, note: Note, comments: str, *, supervisor: User, now: datetime
) -> None:
    """Back to draft for revision; the comments stay on the note's review history."""
    rules.check(note.state, NoteAction.RETURN)
    if not comments.strip():
        raise DomainError("Say what needs revising.", "comments")
    note.status = rules.next_status(note.state, NoteAction.RETURN)
    note.signed_at = note.signed_by_id = None
    note.signer_name = note.signer_credentials = note.content_sha256 = ""
    session.add(
        NoteReview(
            note=note,
            reviewer_id=supervisor.id,
            action="returned",
            comments=comments.strip(),
            at=now,
        )
    )
    session.flush()


def add_addendum(
    session: Session, note: Note, *, author: User, reason: str, text: str, now: datetime
) -> Addendum:
    if (why := refusal(note, NoteAction.ADDENDUM)) is not None:
        raise DomainError(why)
    if note.author_id != author.id:
        raise DomainError("Only the note's author can add an addendum.")
    if not reason.strip():
        raise DomainError("Give the reason for the addendum.", "reason")
    if not text.strip():
        raise DomainError("Write the addendum.", "text")
    body = {
        "note_id": note.id,
        "author_id": author.id,
        "created_at": now,
        "reason": reason.strip(),
        "text": text.strip(),
        "note_sha256": note.content_sha256,
    }
    addendum = Addendum(
        note=note,
        author_id=author.id,
        author_name=author.full_name,
        author_credentials=author.credentials,
        created_at=now,
        reason=reason.strip(),
        text=text.strip(),
        content_sha256=rules.content_hash(body),
    )
    session.add(addendum)
    session.flush()
    return addendum


def signed_content(note: Note) -> dict:
    """Everything the signature covers, in a form that survives a database round trip."""
    visit = note.session
    return {
        "note_id": note.id,
        "client_id": visit.episode.client_id,
        "episode_id": visit.episode_id,
        "session": {
            "date": visit.session_date.isoformat(),
            "start": visit.start_time.strftime("%H:%M"),
            "end": visit.end_time.strftime("%H:%M"),
            "type": visit.session_type,
            "setting": visit.setting,
            "attendance": visit.attendance,
            "minutes_attended": visit.minutes_attended,
        },
        "author_id": note.author_id,
        "format": note.format.value,
        "sections": note.sections,
        "prompts": {name: getattr(note, name) for name in rules.PROMPTS},
        "objectives": sorted(o.lineage for o in note.objectives),
        "late_entry": note.late_entry,
        "signer": {
            "id": note.signed_by_id,
            "name": note.signer_name,
            "credentials": note.signer_credentials,
            "at": note.signed_at.isoformat(timespec="seconds") if note.signed_at else None,
        },
    }


def verify(note: Note) -> bool:
    """True when the stored hash still matches the note: False means it was altered."""
    if note.status is NoteStatus.DRAFT:
        return True
    return note.content_sha256 == rules.content_hash(signed_content(note))


def verify_addendum(addendum: Addendum) -> bool:
    body = {
        "note_id": addendum.note_id,
        "author_id": addendum.author_id,
        "created_at": addendum.created_at,
        "reason": addendum.reason,
        "text": addendum.text,
        "note_sha256": addendum.note.content_sha256,
    }
    return addendum.content_sha256 == rules.content_hash(body)

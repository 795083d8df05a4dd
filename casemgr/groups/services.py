"""Groups, enrolment, recording a meeting in one transaction, and signing its notes at once.

Each attendee's seat is their own ClinicalSession with their own short GROUP note, written
through the notes services. The group summary stays on the meeting: it is never copied into a
note. Services flush and audit; the view commits once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from ..audit.hooks import record
from ..auth.models import User
from ..clients.models import Client
from ..domain.errors import DomainError
from ..domain.notes import NoteFormat, NoteStatus
from ..domain.phases import Phase
from ..domain.sessions import (
    ALTERNATIVE_KINDS,
    ATTENDANCE,
    PRESENT,
    SESSION_TYPES,
    duration_minutes,
)
from ..episodes import services as episodes
from ..episodes.models import Episode
from ..notes import services as notes
from ..notes.models import ClinicalSession, Note
from ..policy import Perm, scoped
from .models import Group, GroupEnrollment, GroupMeeting

# The session types a recurring group can run as.
GROUP_SESSION_TYPES = ("group", "psychoeducation", "relapse_prevention", "family", "alternative")
GROUP_TYPE_CHOICES = tuple((c, t) for c, t in SESSION_TYPES if c in GROUP_SESSION_TYPES)
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
SEAT_NOTE_MAX = 2000  # an attendee's line is short; the shared content goes in the summary


@dataclass(frozen=True)
class GroupDetails:
    name: str
    session_type: str
    facilitator_ids: tuple[int, ...]
    weekday: int | None = None
    default_start: time | None = None
    default_minutes: int = 60
    location: str = ""
    active: bool = True


@dataclass(frozen=True)
class SeatEntry:
    """One enrolled client's line in a meeting."""

    episode_id: int
    attendance: str
    minutes_attended: int | None = None
    participation: str = ""
    progress: str = ""


@dataclass(frozen=True)
class MeetingDetails:
    meeting_date: date
    start_time: time
    end_time: time
    topic: str
    summary: str = ""
    seats: tuple[SeatEntry, ...] = ()
    alternative_kind: str = ""  # art, music, yoga...: for an alternative-therapy group


# --- groups -------------------------------------------------------------------------------


def facilitator_candidates(session: Session) -> list[User]:
    return episodes.counselors(session)


def create_group(session: Session, details: GroupDetails) -> Group:
    group = Group()
    _apply(session, group, details)
    session.add(group)
    session.flush()
    _record_facilitators(session, group)
    return group


def update_group(session: Session, group: Group, details: GroupDetails) -> None:
    before = {u.id for u in group.facilitators}
    _apply(session, group, details)
    session.flush()
    if before != {u.id for u in group.facilitators}:
        _record_facilitators(session, group)


def _record_facilitators(session: Session, group: Group) -> None:
    # Facilitators see their group's roster and write notes for it: an access change.
    ids = sorted(u.id for u in group.facilitators)
    record(session, "group.facilitators_set", target=group, detail={"user_ids": ids})


def _apply(session: Session, group: Group, d: GroupDetails) -> None:
    name = d.name.strip()
    if not name:
        raise DomainError("Give the group a name.", "name")
    same_name = sa.select(Group.id).where(sa.func.lower(Group.name) == name.lower())
    if group.id is not None:
        same_name = same_name.where(Group.id != group.id)
    if session.scalar(same_name) is not None:
        raise DomainError("Another group already has this name.", "name")
    if d.session_type not in GROUP_SESSION_TYPES:
        raise DomainError("Choose the kind of group.", "session_type")
    if d.weekday is not None and not 0 <= d.weekday <= 6:
        raise DomainError("Choose a day of the week.", "weekday")
    if not 15 <= d.default_minutes <= 480:
        raise DomainError("A group runs between 15 and 480 minutes.", "default_minutes")
    if d.default_start is not None:
        start = datetime.combine(date(2000, 1, 1), d.default_start)
        if (start + timedelta(minutes=d.default_minutes)).date() != start.date():
            raise DomainError("The group would run past midnight.", "default_minutes")
    group.name, group.session_type, group.weekday = name, d.session_type, d.weekday
    group.default_start, group.default_minutes = d.default_start, d.default_minutes
    group.location, group.active = d.location.strip(), d.active
    group.facilitators = _facilitators(session, d.facilitator_ids)


def _facilitators(session: Session, ids: tuple[int, ...]) -> list[User]:
    if not ids:
        raise DomainError("Choose at least one facilitator.", "facilitators")
    people = [u for u in facilitator_candidates(session) if u.id in set(ids)]
    if len(people) != len(set(ids)):
        raise DomainError("Facilitators must be active counselors.", "facilitators")
    return people


def groups_with_counts(session: Session) -> list[tuple[Group, int]]:
    """Every group, active first, with how many clients are enrolled now."""
    enrolled = (
        sa.select(GroupEnrollment.group_id, sa.func.count().label("n"))
        .join(Episode)
        .where(GroupEnrollment.ended_on.is_(None), Episode.phase != Phase.DISCHARGED)
        .group_by(GroupEnrollment.group_id)
        .subquery()
    )
    stmt = (
        sa.select(Group, sa.func.coalesce(enrolled.c.n, 0))
        .outerjoin(enrolled, enrolled.c.group_id == Group.id)
        .options(selectinload(Group.facilitators))
        .order_by(Group.active.desc(), Group.name)
    )
    return [(g, n) for g, n in session.execute(stmt)]


# --- enrolment ------------------------------------------------------------------------------


def roster(session: Session, group: Group) -> list[GroupEnrollment]:
    """Who is enrolled now (open episodes only), by client name."""
    stmt = (
        sa.select(GroupEnrollment)
        .join(GroupEnrollment.episode)
        .join(Episode.client)
        .where(
            GroupEnrollment.group_id == group.id,
            GroupEnrollment.ended_on.is_(None),
            Episode.phase != Phase.DISCHARGED,
        )
        .options(contains_eager(GroupEnrollment.episode).contains_eager(Episode.client))
        .order_by(Client.legal_last_name, Client.legal_first_name, Client.id)
    )
    return list(session.scalars(stmt))


def enrollable(session: Session, group: Group, user: User) -> list[Episode]:
    """Open episodes of clients the user may see that are not in the group already."""
    enrolled = sa.select(GroupEnrollment.episode_id).where(
        GroupEnrollment.group_id == group.id, GroupEnrollment.ended_on.is_(None)
    )
    stmt = (
        sa.select(Episode)
        .join(Episode.client)
        .where(Episode.phase != Phase.DISCHARGED, Episode.id.not_in(enrolled))
        .options(contains_eager(Episode.client))
        .order_by(Client.legal_last_name, Client.legal_first_name, Client.id)
    )
    return list(session.scalars(scoped(stmt, Perm.CLIENT_VIEW, user)))


def enrol(
    session: Session, group: Group, episode: Episode, *, enrolled_on: date, today: date
) -> GroupEnrollment:
    if not group.active:
        raise DomainError("This group is inactive; reactivate it before enrolling clients.")
    if not episode.is_open:
        raise DomainError("Only a client with an open episode can be enrolled.", "episode")
    if enrolled_on > today:
        raise DomainError("The enrolment date cannot be in the future.", "enrolled_on")
    if enrolled_on < episode.admitted_on:
        raise DomainError("The enrolment date is before the admission.", "enrolled_on")
    current = sa.select(GroupEnrollment.id).where(
        GroupEnrollment.group_id == group.id,
        GroupEnrollment.episode_id == episode.id,
        GroupEnrollment.ended_on.is_(None),
    )
    if session.scalar(current) is not None:
        raise DomainError("This client is already enrolled in the group.", "episode")
    row = GroupEnrollment(group=group, episode=episode, enrolled_on=enrolled_on)
    session.add(row)
    session.flush()
    return row


def unenrol(session: Session, enrollment: GroupEnrollment, *, today: date) -> None:
    if enrollment.ended_on is not None:
        raise DomainError("This client has already left the group.")
    enrollment.ended_on = max(today, enrollment.enrolled_on)
    session.flush()


def visible_client_ids(session: Session, client_ids: set[int], user: User) -> set[int]:
    """Which of these clients the user may see (their CLIENT_VIEW scope)."""
    if not client_ids:
        return set()
    stmt = sa.select(Client.id).where(Client.id.in_(client_ids))
    return set(session.scalars(scoped(stmt, Perm.CLIENT_VIEW, user)))


@dataclass(frozen=True)
class GroupPage:
    roster: list[GroupEnrollment]  # the rows this user may see, with names
    hidden: int  # enrolled clients in caseloads this user cannot see
    in_scope: set[int]  # clients whose chart the user may open (and take out of the group)
    meetings: list[GroupMeeting]


def group_page(session: Session, group: Group, user: User, *, runs_group: bool) -> GroupPage:
    """Facilitators see the whole roster (they run the room); others see the clients in
    their own scope and a count of the rest."""
    rows = roster(session, group)
    seen = visible_client_ids(session, {e.episode.client_id for e in rows}, user)
    shown = [e for e in rows if runs_group or e.episode.client_id in seen]
    meetings = session.scalars(
        sa.select(GroupMeeting)
        .where(GroupMeeting.group_id == group.id)
        .options(joinedload(GroupMeeting.facilitator))
        .order_by(GroupMeeting.meeting_date.desc(), GroupMeeting.start_time.desc())
        .limit(20)
    )
    return GroupPage(shown, len(rows) - len(shown), seen, list(meetings))


# --- meetings -------------------------------------------------------------------------------


def default_times(group: Group) -> tuple[time | None, time | None]:
    if group.default_start is None:
        return None, None
    start = datetime.combine(date(2000, 1, 1), group.default_start)
    return group.default_start, (start + timedelta(minutes=group.default_minutes)).time()


def record_meeting(
    session: Session,
    group: Group,
    details: MeetingDetails,
    *,
    facilitator: User,
    now: datetime,
    today: date,
    tz: tzinfo,
) -> GroupMeeting:
    """The meeting, then one session per enrolled client and a draft note for each line
    written: all in the caller's transaction, so the whole meeting is saved or none of it."""
    length = _check_meeting(session, group, details, facilitator=facilitator, today=today)
    enrolled = {e.episode_id: e.episode for e in roster(session, group)}
    submitted = [s.episode_id for s in details.seats]
    if sorted(submitted) != sorted(enrolled):
        raise DomainError("The group's roster changed while this page was open; reload it.")
    meeting = GroupMeeting(
        group=group,
        meeting_date=details.meeting_date,
        start_time=details.start_time,
        end_time=details.end_time,
        topic=details.topic.strip(),
        summary=details.summary.strip(),
        facilitator_id=facilitator.id,
        created_by_id=facilitator.id,
    )
    session.add(meeting)
    session.flush()
    for index, seat in enumerate(details.seats):
        _record_seat(
            session,
            meeting,
            enrolled[seat.episode_id],
            seat,
            length=length,
            kind=details.alternative_kind if group.session_type == "alternative" else "",
            field=f"seats-{index}-",
            facilitator=facilitator,
            today=today,
            now=now,
            tz=tz,
        )
    return meeting


def _check_meeting(
    session: Session, group: Group, d: MeetingDetails, *, facilitator: User, today: date
) -> int:
    if not group.active:
        raise DomainError("This group is inactive; reactivate it to record a meeting.")
    if facilitator.id not in {u.id for u in group.facilitators}:
        raise DomainError("Only a facilitator of the group can record its meetings.")
    if d.meeting_date > today:
        raise DomainError("A meeting cannot be recorded for a future date.", "meeting_date")
    try:
        length = duration_minutes(d.start_time, d.end_time)
    except ValueError as exc:
        raise DomainError(str(exc), "end_time") from exc
    if not d.topic.strip():
        raise DomainError("Give the meeting's topic.", "topic")
    if group.session_type == "alternative" and d.alternative_kind not in dict(ALTERNATIVE_KINDS):
        raise DomainError("Choose the kind of alternative therapy.", "alternative_kind")
    if not d.seats:
        raise DomainError("Nobody is enrolled in this group yet; enrol clients first.")
    same = sa.select(GroupMeeting.id).where(
        GroupMeeting.group_id == group.id,
        GroupMeeting.meeting_date == d.meeting_date,
        GroupMeeting.start_time == d.start_time,
    )
    if session.scalar(same) is not None:
        raise DomainError("This meeting is already recorded (same date and start).", "start_time")
    return length


def _record_seat(
    session: Session,
    meeting: GroupMeeting,
    episode: Episode,
    seat: SeatEntry,
    *,
    length: int,
    kind: str,
    field: str,
    facilitator: User,
    today: date,
    now: datetime,
    tz: tzinfo,
) -> ClinicalSession:
    if seat.attendance not in dict(ATTENDANCE):
        raise DomainError("Choose an attendance state.", field + "attendance")
    present = seat.attendance in PRESENT
    minutes = seat.minutes_attended
    if present and minutes is None:
        if seat.attendance != "attended":
            raise DomainError(
                "Enter the minutes this client was there.", field + "minutes_attended"
            )
        minutes = length
    sections = {"participation": seat.participation.strip(), "progress": seat.progress.strip()}
    if present and not any(sections.values()):
        raise DomainError(
            "Write a line on this client's participation or progress.", field + "participation"
        )
    for key, text in sections.items():
        if len(text) > SEAT_NOTE_MAX:
            raise DomainError(f"Keep this line under {SEAT_NOTE_MAX} characters.", field + key)
    group = meeting.group
    details = notes.SessionDetails(
        session_date=meeting.meeting_date,
        start_time=meeting.start_time,
        end_time=meeting.end_time,
        session_type=group.session_type,
        alternative_kind=kind,
        location=group.location,
        attendance=seat.attendance,
        minutes_attended=minutes,
    )
    try:
        visit = notes.log_session(
            session,
            episode,
            details,
            staff=facilitator,
            actor=facilitator,
            today=today,
            group_meeting_id=meeting.id,
        )
    except DomainError as exc:
        sub = "minutes_attended" if exc.field == "minutes_attended" else "attendance"
        raise DomainError(str(exc), field + sub) from exc
    if any(sections.values()):  # optional for an absent client (e.g. outreach after a no-show)
        content = notes.NoteContent(format=NoteFormat.GROUP, sections=sections)
        notes.write_note(session, visit, content, author=facilitator, now=now, tz=tz)
    return visit


def load_meeting(session: Session, meeting_id: int) -> GroupMeeting | None:
    """A meeting with everything its page shows, in a fixed number of queries."""
    stmt = (
        sa.select(GroupMeeting)
        .where(GroupMeeting.id == meeting_id)
        .options(
            joinedload(GroupMeeting.group).selectinload(Group.facilitators),
            joinedload(GroupMeeting.facilitator),
            selectinload(GroupMeeting.seats).options(
                joinedload(ClinicalSession.episode).joinedload(Episode.client),
                selectinload(ClinicalSession.note),
            ),
        )
    )
    return session.scalar(stmt)


@dataclass(frozen=True)
class MeetingPage:
    seats: list[ClinicalSession]  # the lines this user may see, by client name
    hidden: int  # attendees in caseloads this user cannot see
    show_summary: bool
    my_drafts: int  # the user's unsigned notes in this meeting


def meeting_page(
    session: Session, meeting: GroupMeeting, user: User, *, runs_group: bool
) -> MeetingPage:
    """Facilitators see every line and the summary; anyone else sees the lines of clients in
    their scope, and the summary only when they may see every attendee."""
    seats = meeting.seats
    seen = visible_client_ids(session, {s.episode.client_id for s in seats}, user)
    shown = [s for s in seats if runs_group or s.episode.client_id in seen]
    shown.sort(key=lambda s: (s.episode.client.legal_last_name, s.episode.client.legal_first_name))
    drafts = sum(1 for s in seats if _is_draft_by(s.note, user))
    hidden = len(seats) - len(shown)
    return MeetingPage(shown, hidden, runs_group or hidden == 0, drafts)


def record_view(session: Session, meeting: GroupMeeting, page: MeetingPage) -> None:
    """Reading attendees' lines is a disclosure: the event names whose lines were shown."""
    clients = sorted(s.episode.client_id for s in page.seats)
    record(session, "group_meeting.viewed", target=meeting, detail={"client_ids": clients})


def _is_draft_by(note: Note | None, user: User) -> bool:
    return note is not None and note.status is NoteStatus.DRAFT and note.author_id == user.id


def sign_all(
    session: Session, meeting: GroupMeeting, password: str, *, actor: User, now: datetime
) -> int:
    """Sign every draft the actor wrote for this meeting. A refusal on any note (a wrong
    password is refused on the first) raises, and the caller rolls the whole batch back."""
    drafts = [s.note for s in meeting.seats if _is_draft_by(s.note, actor)]
    if not drafts:
        raise DomainError("You have no unsigned notes in this meeting.")
    for note in drafts:
        notes.sign(session, note, password, actor=actor, now=now)
    record(session, "group_meeting.signed", target=meeting, detail={"notes": len(drafts)})
    return len(drafts)

"""Demo documentation: a signed plan, notes in every state, drug screens and a group meeting,
all written through the real services so the demo behaves like a working clinic."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from .auth.models import User
from .clients.models import Client
from .domain.notes import NoteFormat
from .domain.plans import ObjectiveStatus
from .domain.screens import PANEL, Result
from .episodes.models import Episode
from .groups import services as groups
from .notes import services as notes
from .plans import services as plans
from .screens import services as screens
from .timefmt import facility_tz


def load(
    session: Session, staff: dict[str, User], password: str, today: date, now: datetime
) -> None:
    episodes = {c.legal_first_name: c.episodes[-1] for c in session.scalars(sa.select(Client))}
    counselor = staff["demo-counselor"]
    objective_id = _plan(session, episodes["Emery"], counselor, password, today, now)
    _signed_note(
        session,
        episodes["Emery"],
        counselor,
        password,
        today - timedelta(days=1),
        now,
        objective_id,
    )
    _draft_note(session, episodes["Gray"], counselor, today - timedelta(days=3), now)
    staff["demo-counselor2"].needs_supervision = True  # pre-licensure: notes wait for co-signature
    _signed_note(
        session,
        episodes["Harper"],
        staff["demo-counselor2"],
        password,
        today - timedelta(days=1),
        now,
    )
    _screens(session, episodes, staff["demo-nurse"], now)
    _group(
        session, [episodes[n] for n in ("Emery", "Gray", "Harper")], counselor, password, today, now
    )


def _plan(
    session: Session, episode: Episode, counselor: User, password: str, today: date, now: datetime
) -> int:
    plan = plans.create_plan(session, episode, actor=counselor)
    problem = plans.add_part(
        session, plan, plans.ProblemDetails("Daily fentanyl use with two overdoses")
    )
    goal = plans.add_part(
        session, problem, plans.GoalDetails("Sustained recovery without opioid use")
    )
    objective = plans.add_part(
        session,
        goal,
        plans.ObjectiveDetails(
            "Attend relapse-prevention group three times a week for four weeks",
            today + timedelta(days=28),
            ObjectiveStatus.IN_PROGRESS,
        ),
    )
    plans.add_part(
        session,
        objective,
        plans.InterventionDetails("Relapse-prevention group", "3 times a week", counselor.id),
    )
    plans.sign(
        session,
        plan,
        plans.Signature(password, True, today),
        actor=counselor,
        now=now,
        today=today,
        intervals=current_app.config["PLAN_REVIEW_DAYS"],
    )
    return objective.id


def _visit(session: Session, episode: Episode, author: User, day: date, start: time, kind: str):
    details = notes.SessionDetails(day, start, time(start.hour, 50), kind)
    return notes.log_session(session, episode, details, staff=author, actor=author, today=day)


def _signed_note(
    session: Session,
    episode: Episode,
    author: User,
    password: str,
    day: date,
    now: datetime,
    objective_id: int | None = None,
) -> None:
    visit = _visit(session, episode, author, day, time(10, 0), "individual")
    content = notes.NoteContent(
        NoteFormat.DAP,
        {
            "data": "Reports cravings 5/10, strongest in the evenings; attended two NA meetings.",
            "assessment": "Engaged and insightful; evenings alone are the main trigger.",
            "plan": "Evening routine with sponsor check-in; review at next session.",
        },
        cravings=5,
        use_since_last="none",
        triggers="Evenings alone",
        meetings_attended=2,
        objective_ids=(objective_id,) if objective_id else (),
    )
    note = notes.write_note(
        session, visit, content, author=author, now=_at(day, 11), tz=facility_tz()
    )
    notes.sign(session, note, password, actor=author, now=_at(day, 11))


def _draft_note(session: Session, episode: Episode, author: User, day: date, now: datetime) -> None:
    visit = _visit(session, episode, author, day, time(15, 0), "individual")
    content = notes.NoteContent(
        NoteFormat.SOAP, {"subjective": "Says the first month of aftercare is harder."}
    )
    notes.write_note(session, visit, content, author=author, now=_at(day, 16), tz=facility_tz())


def _screens(session: Session, episodes: dict[str, Episode], nurse: User, now: datetime) -> None:
    def entry(
        positives: dict[str, bool], refused: bool = False, action: str = ""
    ) -> screens.ScreenEntry:
        results = tuple(
            screens.AnalyteResult(
                code,
                Result.NOT_TESTED
                if refused
                else (Result.POSITIVE if code in positives else Result.NEGATIVE),
                positives.get(code, False),
            )
            for code, _ in PANEL
        )
        return screens.ScreenEntry(
            now - timedelta(hours=3),
            results,
            observed=True,
            temperature_in_range=True,
            refused=refused,
            action_taken=action,
        )

    for name, screen in (
        (
            "Casey",
            entry(
                {"fentanyl": False},
                action="Reviewed with the physician; withdrawal plan unchanged.",
            ),
        ),
        ("Emery", entry({"buprenorphine": True})),
        ("Gray", entry({}, refused=True, action="Counselor to discuss at next check-in.")),
    ):
        screens.record_screen(
            session,
            episodes[name],
            screen,
            collector=nurse,
            now=now,
            local_date=lambda d: d.astimezone(facility_tz()).date(),
        )


def _group(
    session: Session,
    members: list[Episode],
    facilitator: User,
    password: str,
    today: date,
    now: datetime,
) -> None:
    group = groups.create_group(
        session,
        groups.GroupDetails(
            "Relapse Prevention (Tue/Thu)",
            "relapse_prevention",
            (facilitator.id,),
            weekday=1,
            default_start=time(14, 0),
            default_minutes=60,
            location="Room 2",
        ),
    )
    for episode in members:
        groups.enrol(
            session,
            group,
            episode,
            enrolled_on=max(episode.admitted_on, today - timedelta(days=7)),
            today=today,
        )
    day = today - timedelta(days=1)
    seats = tuple(
        groups.SeatEntry(
            e.id,
            "attended",
            None,
            "Shared a recent high-risk situation.",
            "Practising refusal skills.",
        )
        for e in members
    )
    meeting = groups.record_meeting(
        session,
        group,
        groups.MeetingDetails(
            day,
            time(14, 0),
            time(15, 0),
            "Refusal skills",
            "Role-played saying no to old friends.",
            seats,
        ),
        facilitator=facilitator,
        now=_at(day, 16),
        today=today,
        tz=facility_tz(),
    )
    groups.sign_all(session, meeting, password, actor=facilitator, now=_at(day, 16))


def _at(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour, 0), tzinfo=facility_tz()).astimezone(UTC)

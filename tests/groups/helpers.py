"""Building groups for tests, through the services."""

from __future__ import annotations

from datetime import date, time

import sqlalchemy as sa

from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.groups import services
from casemgr.groups.models import Group, GroupEnrollment, GroupMeeting
from tests.clients_helpers import TODAY
from tests.factories import Factories

SUMMARY = "Psychoeducation on the craving wave; HALT check-in; role-play of refusal skills."


def make_group(facilitators: list[User], name: str = "Relapse prevention", **overrides) -> Group:
    details = dict(
        name=name,
        session_type="relapse_prevention",
        facilitator_ids=tuple(u.id for u in facilitators),
        weekday=2,
        default_start=time(8, 30),
        default_minutes=90,
        location="Room B",
    )
    group = services.create_group(db.session, services.GroupDetails(**{**details, **overrides}))
    db.session.commit()
    return group


def enrol_all(group: Group, episodes) -> list[GroupEnrollment]:
    rows = [
        services.enrol(db.session, group, e, enrolled_on=date(2026, 11, 20), today=TODAY)
        for e in episodes
    ]
    db.session.commit()
    return rows


SWEEP_ARGS = frozenset({"group_id", "meeting_id", "enrollment_id"})


def sweep_rows(episode=None) -> dict[str, int]:
    """Real rows for the route sweeps: a group run by every active counselor (so a counselor
    signed in for the sweep is a facilitator), an enrolment and a meeting. Made once per test."""
    group = db.session.scalar(sa.select(Group).where(Group.name == "Sweep group"))
    if group is None:
        people = services.facilitator_candidates(db.session) or [Factories().user(Role.COUNSELOR)]
        group = make_group(people, name="Sweep group")
        if episode is not None:
            enrol_all(group, [episode])
        meeting = GroupMeeting(
            group=group,
            meeting_date=date(2026, 11, 18),
            start_time=time(8, 30),
            end_time=time(10, 0),
            topic="Sweep topic",
            facilitator_id=people[0].id,
            created_by_id=people[0].id,
        )
        db.session.add(meeting)
        db.session.commit()
    enrollment = group.enrollments[0].id if group.enrollments else 1
    return {"group_id": group.id, "meeting_id": group.meetings[0].id, "enrollment_id": enrollment}

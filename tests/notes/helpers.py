"""Building sessions and notes for tests, through the services."""

from __future__ import annotations

from datetime import date, time
from zoneinfo import ZoneInfo

from casemgr.domain.notes import NoteFormat
from casemgr.extensions import db
from casemgr.notes import services
from tests.clients_helpers import NOW

TZ = ZoneInfo("America/New_York")


def dap(**overrides) -> services.NoteContent:
    data = dict(
        format=NoteFormat.DAP,
        sections={
            "data": "Client reports cravings 6/10 after a family visit.",
            "assessment": "Engaged; identifies family conflict as a trigger.",
            "plan": "Practise urge surfing; next session Friday.",
        },
        cravings=6,
        use_since_last="none",
        triggers="Family conflict",
    )
    return services.NoteContent(**{**data, **overrides})


def session_with_note(episode, author, *, day: date = date(2026, 11, 25), content=None, now=NOW):
    visit = services.log_session(
        db.session,
        episode,
        services.SessionDetails(day, time(9, 0), time(9, 50), "individual"),
        staff=author,
        actor=author,
        today=day,
    )
    note = services.write_note(db.session, visit, content or dap(), author=author, now=now, tz=TZ)
    db.session.commit()
    return visit, note


def sweep_note(episode):
    """A draft note on `episode` by its primary counselor: a real row for the route sweeps."""
    _, note = session_with_note(episode, episode.primary_counselor)
    return note

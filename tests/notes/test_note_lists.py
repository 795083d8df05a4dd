"""Where notes show up: the chart's sessions list (group seats without other attendees), the
counselor's and nurse's unsigned-notes panel, and last contact on the caseload."""

from __future__ import annotations

import itertools
import re
from datetime import UTC, date, datetime, time

import pytest
import time_machine

from casemgr.domain.notes import NoteFormat
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.groups.models import Group, GroupMeeting
from casemgr.notes import services
from casemgr.notes.services import NoteContent, SessionDetails
from tests import databases
from tests.clients_helpers import NOW, admitted
from tests.factories import PASSWORD
from tests.notes.helpers import TZ, dap, session_with_note

FROZEN = datetime(2026, 11, 25, 15, tzinfo=UTC)  # 10:00 at the facility


def frozen():
    return time_machine.travel(FROZEN, tick=False)


def section(page: str, heading_id: str) -> str:
    match = re.search(rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, re.S)
    assert match, heading_id
    return match.group(0)


def note_links(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/notes/(\d+)"', html)]


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER)


@pytest.fixture
def counselor(make):
    return make.user(Role.COUNSELOR, full_name="Casey Counselor", credentials="LADC")


def visit(episode, author, day: date, start: time, end: time, attendance="attended", **kw):
    row = services.log_session(
        db.session,
        episode,
        SessionDetails(
            day, start, end, kw.pop("session_type", "individual"), attendance=attendance
        ),
        staff=author,
        actor=author,
        today=date(2026, 11, 25),
        **kw,
    )
    db.session.commit()
    return row


def note_for(row, author, *, now=NOW, content=None):
    note = services.write_note(db.session, row, content or dap(), author=author, now=now, tz=TZ)
    db.session.commit()
    return note


def group_meeting(facilitator, topic="Coping with cravings") -> GroupMeeting:
    group = Group(name=f"Relapse prevention {topic}", facilitators=[facilitator])
    meeting = GroupMeeting(
        group=group,
        meeting_date=date(2026, 11, 24),
        start_time=time(13),
        end_time=time(14, 30),
        topic=topic,
        summary="Shared group summary text",
        facilitator_id=facilitator.id,
        created_by_id=facilitator.id,
    )
    db.session.add(meeting)
    db.session.commit()
    return meeting


def group_seat(meeting, episode, facilitator, minutes=90, text="Shared a relapse story."):
    row = visit(
        episode,
        facilitator,
        meeting.meeting_date,
        meeting.start_time,
        meeting.end_time,
        session_type="group",
        group_meeting_id=meeting.id,
    )
    row.minutes_attended = minutes
    db.session.commit()
    content = NoteContent(NoteFormat.GROUP, {"participation": text, "progress": ""})
    return note_for(row, facilitator, content=content)


# --- The chart -------------------------------------------------------------------------------


def test_the_chart_lists_the_episodes_sessions_with_their_notes(client, auth, counselor, manager):
    _, episode = admitted(manager, counselor, Phase.REHAB)
    _, late = session_with_note(episode, counselor, day=date(2026, 11, 20))  # written on 11-25
    _, current = session_with_note(episode, counselor)
    services.sign(db.session, current, PASSWORD, actor=counselor, now=NOW)
    db.session.commit()
    no_show = visit(episode, counselor, date(2026, 11, 22), time(15), time(15, 45), "no_show")
    with frozen():
        auth.login(counselor)
        chart = section(client.get(f"/clients/{episode.client_id}").text, "notes-h")
    rows = chart.split("<tr>")[2:]
    assert [r.split("</td>")[0].split(">")[-1] for r in rows] == [
        "2026-11-25 09:00",
        "2026-11-22 15:00",
        "2026-11-20 09:00",
    ]
    assert "Individual counseling" in rows[0] and "Attended" in rows[0]
    assert '<td class="num">50</td>' in rows[0] and "Casey Counselor, LADC" in rows[0]
    assert f'href="/notes/{current.id}">DAP</a>' in rows[0] and "🔒</span> Signed" in rows[0]
    assert "No-show" in rows[1] and "No note" in rows[1] and no_show.note is None
    assert 'badge-warn">Draft</span>' in rows[2] and "Late entry</span>" in rows[2]
    assert late.late_entry and "Late entry" not in rows[0]


def test_a_group_seat_shows_the_topic_never_other_attendees(client, auth, make, manager):
    facilitator = make.user(Role.COUNSELOR, full_name="Fran Facilitator")
    alpha, alpha_ep = admitted(manager, facilitator, Phase.REHAB, legal_last_name="Alphaname")
    bravo, bravo_ep = admitted(manager, facilitator, Phase.REHAB, legal_last_name="Bravoname")
    meeting = group_meeting(facilitator)
    mine = group_seat(meeting, alpha_ep, facilitator, 80, "Alpha spoke about her sister.")
    group_seat(meeting, bravo_ep, facilitator, 90, "Bravo left early.")
    with frozen():
        auth.login(facilitator)
        chart = client.get(f"/clients/{alpha.id}").text
        note_page = client.get(f"/notes/{mine.id}").text
    notes = section(chart, "notes-h")
    assert "Group: <bdi>Coping with cravings</bdi>" in notes and '<td class="num">80</td>' in notes
    assert note_links(notes) == [mine.id]
    for page in (chart, note_page):
        assert "Bravoname" not in page and "Bravo left early." not in page
        assert "Shared group summary text" not in page
    assert "Alpha spoke about her sister." in note_page and "Coping with cravings" in note_page


def test_the_charts_notes_list_uses_a_constant_number_of_queries(
    client, auth, make, manager, counselor, count_queries
):
    _, episode = admitted(manager, counselor, Phase.REHAB)
    topics = itertools.count(1)

    def add(n: int) -> None:
        for i in range(n):
            author = make.user(Role.COUNSELOR)  # each note by its own author
            note_for(visit(episode, author, date(2026, 11, 10 + i), time(9), time(9, 50)), author)
            group_seat(group_meeting(author, topic=f"Topic {next(topics)}"), episode, author)

    add(1)
    url = f"/clients/{episode.client_id}"
    with frozen():
        auth.login(counselor)
        client.get(url)
        with count_queries() as few:
            assert client.get(url).status_code == 200
        add(6)
        client.get(url)
        with count_queries() as many:
            page = client.get(url).text
    assert many.count == few.count, "\n".join(many.statements)
    assert len(note_links(section(page, "notes-h"))) == 14


# --- Unsigned notes on the home page ---------------------------------------------------------


def test_the_counselor_home_lists_unsigned_notes_older_than_24_hours(
    client, auth, make, manager, counselor
):
    _, episode = admitted(manager, counselor, Phase.REHAB, legal_last_name="Mine")
    old = note_for(visit(episode, counselor, date(2026, 11, 24), time(9), time(9, 50)), counselor)
    recent = note_for(
        visit(episode, counselor, date(2026, 11, 24), time(10), time(10, 30)), counselor
    )
    older = note_for(visit(episode, counselor, date(2026, 11, 20), time(9), time(9, 50)), counselor)
    done = note_for(visit(episode, counselor, date(2026, 11, 19), time(9), time(9, 50)), counselor)
    services.sign(db.session, done, PASSWORD, actor=counselor, now=NOW)
    other = make.user(Role.COUNSELOR)
    _, theirs = admitted(manager, other, Phase.REHAB, legal_last_name="Theirs")
    note_for(visit(theirs, other, date(2026, 11, 20), time(9), time(9, 50)), other)
    db.session.commit()
    with frozen():
        auth.login(counselor)
        page = client.get("/home/counselor").text
    panel = section(page, "unsigned-notes-h")
    assert page.index("unsigned-notes-h") < page.index("my-overdue-h")  # at the top
    assert note_links(panel) == [older.id, old.id]  # oldest first
    assert recent.id not in note_links(panel) and done.id not in note_links(panel)
    assert "Unsigned notes older than 24 hours (2)" in panel and "Theirs" not in panel
    assert "panel-attention" in panel and "Overdue</span>" in panel


@pytest.mark.skipif(databases.backend() != "sqlite", reason="SQLite's planner statistics")
def test_overdue_drafts_are_found_by_author_and_status_together(counselor):
    """With the statistics a sampled ANALYZE leaves at network size (analysis_limit: both
    indexes look equally selective), the lookup must use both columns: by status alone it read
    every draft in the network, by author alone every note the user ever wrote."""
    from sqlalchemy import event

    from casemgr.auth.models import User
    from casemgr.notes.queries import overdue_drafts

    counselor_id = counselor.id
    db.session.commit()
    db.session.remove()
    with db.engine.begin() as conn:  # the bench database's figures at 50,000 clients
        conn.exec_driver_sql("ANALYZE")
        conn.exec_driver_sql("DELETE FROM sqlite_stat1 WHERE tbl = 'notes'")
        conn.exec_driver_sql(
            "INSERT INTO sqlite_stat1 VALUES ('notes', 'ix_notes_status', '1299408 401'),"
            " ('notes', 'ix_notes_author_id_status', '1083450 401 267'),"
            " ('notes', 'sqlite_autoindex_notes_1', '1350075 1')"
        )
    db.engine.dispose()  # statistics are read when a connection opens
    seen: list[tuple[str, tuple]] = []

    def record(conn, cursor, statement, parameters, context, executemany):
        if "FROM notes" in statement:
            seen.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        overdue_drafts(db.session, db.session.get(User, counselor_id), FROZEN, TZ)
    finally:
        event.remove(db.engine, "before_cursor_execute", record)
    statement, parameters = seen[-1]
    explain = db.session.connection().exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters)
    plan = explain.all()
    steps = [row[-1] for row in plan]
    assert "SEARCH notes USING INDEX ix_notes_author_id_status (author_id=? AND status=?)" in steps


def test_a_nurse_home_lists_their_own_unsigned_nursing_notes(client, auth, make, manager):
    nurse = make.user(Role.NURSE)
    _, episode = admitted(manager, make.user(Role.COUNSELOR), Phase.DETOX)
    nursing = NoteContent(NoteFormat.NURSING, {"note": "COWS 4."})
    row = visit(episode, nurse, date(2026, 11, 23), time(22), time(22, 15), session_type="nursing")
    mine = note_for(row, nurse, content=nursing)
    with frozen():
        auth.login(nurse)
        page = client.get("/home/nurse").text
        other = make.user(Role.NURSE)
        auth.logout()
        auth.login(other)
        theirs = client.get("/home/nurse").text
    assert note_links(section(page, "unsigned-notes-h")) == [mine.id]
    assert ">Nursing note</a>" in page
    assert "No unsigned notes older than 24 hours." in section(theirs, "unsigned-notes-h")


def test_own_drafts_follow_the_chart_scope(client, auth, make, manager, counselor):
    """A nurse's drafts stay listed after their client leaves detox (what she documented for
    stays in her scope) but not on a client she is restricted from; a counselor's drafts go
    with a reassigned client."""
    from casemgr.privacy.models import ClientRestriction

    nurse = make.user(Role.NURSE)
    nursing = NoteContent(NoteFormat.NURSING, {"note": "COWS 4."})
    day, start, end = date(2026, 11, 23), time(22), time(22, 15)
    _, moved_on = admitted(manager, counselor, Phase.DETOX, legal_last_name="Moved")
    hidden, kept_from = admitted(manager, counselor, Phase.DETOX, legal_last_name="Hidden")
    kept = note_for(
        visit(moved_on, nurse, day, start, end, session_type="nursing"), nurse, content=nursing
    )
    note_for(
        visit(kept_from, nurse, day, start, end, session_type="nursing"), nurse, content=nursing
    )
    mine = note_for(visit(moved_on, counselor, day, time(9), time(9, 50)), counselor)
    _, reassigned = admitted(manager, counselor, Phase.REHAB, legal_last_name="Reassigned")
    note_for(visit(reassigned, counselor, day, time(11), time(11, 50)), counselor)
    moved_on.phase = Phase.REHAB
    reassigned.primary_counselor_id = make.user(Role.COUNSELOR).id
    db.session.add(
        ClientRestriction(client_id=hidden.id, user_id=nurse.id, reason="Cousin", by_id=manager.id)
    )
    db.session.commit()
    with frozen():
        auth.login(nurse)
        nurse_panel = section(client.get("/home/nurse").text, "unsigned-notes-h")
        auth.logout()
        auth.login(counselor)
        counselor_panel = section(client.get("/home/counselor").text, "unsigned-notes-h")
    assert note_links(nurse_panel) == [kept.id] and "Hidden" not in nurse_panel
    assert note_links(counselor_panel) == [mine.id] and "Reassigned" not in counselor_panel


# --- Last contact on the caseload ------------------------------------------------------------


def test_last_contact_is_the_latest_attended_session_else_the_latest_phase_change(
    client, auth, manager, counselor
):
    seen, seen_ep = admitted(manager, counselor, Phase.REHAB, legal_last_name="Aaseen")
    missed, missed_ep = admitted(manager, counselor, Phase.REHAB, legal_last_name="Bbmissed")
    visit(seen_ep, counselor, date(2026, 11, 18), time(9), time(9, 50))
    visit(seen_ep, counselor, date(2026, 11, 24), time(16), time(16, 45), "late")
    visit(seen_ep, counselor, date(2026, 11, 25), time(8), time(8, 30), "cancelled_client")
    visit(missed_ep, counselor, date(2026, 11, 24), time(9), time(9, 50), "no_show")
    with frozen():
        auth.login(counselor)
        page = client.get("/home/counselor?sort=contact&dir=desc").text
        ascending = client.get("/home/counselor?sort=contact&dir=asc").text
    rows = section(page, "caseload").split("<tr>")[2:]
    assert seen.mrn in rows[0] and "2026-11-24 16:45" in rows[0]  # the late arrival counts
    assert missed.mrn in rows[1] and "2026-11-03 07:00" in rows[1]  # into rehab, 3 Nov 12:00 UTC
    asc = section(ascending, "caseload")
    assert asc.index(missed.mrn) < asc.index(seen.mrn)

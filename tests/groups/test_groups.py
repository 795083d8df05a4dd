"""Group sessions: groups and enrolment, a 12-client meeting in one POST, signing all notes at
once, and that no client's chart or note carries the group summary or another attendee."""

from datetime import UTC, datetime, time

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain.notes import NoteFormat, NoteStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.groups.models import Group, GroupEnrollment, GroupMeeting
from casemgr.notes import services as notes
from casemgr.notes.models import ClinicalSession, Note
from tests.clients_helpers import admitted
from tests.factories import PASSWORD
from tests.groups.helpers import SUMMARY, enrol_all, make_group

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 in New York
SURNAMES = (
    "Quillfeather",
    "Brandywine",
    "Copperkettle",
    "Dunmorrow",
    "Elderbrook",
    "Fernsby",
    "Gallowmere",
    "Hollowell",
    "Ironwood",
    "Juniperton",
    "Kestrelby",
    "Larkspurre",
)
# Attended unless listed: two arrive late, two do not come.
STATES = {3: ("late", 60), 7: ("late", 45), 5: ("no_show", None), 10: ("no_show", None)}


@pytest.fixture(autouse=True)
def frozen():
    """Time stands still from before the first sign-in to the end of each test."""
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(make):
    """A facilitator (also primary counselor of the first four clients), another counselor
    with the rest of the caseload, and a clinic manager."""
    return {
        "facilitator": make.user(Role.COUNSELOR, full_name="Fran Facil", credentials="LADC"),
        "other": make.user(Role.COUNSELOR, full_name="Otto Other"),
        "manager": make.user(Role.CLINIC_MANAGER, full_name="Mia Manager"),
    }


def clients(staff, n: int) -> list:
    """n clients with open episodes, the first four in the facilitator's caseload."""
    episodes = []
    for i, surname in enumerate(SURNAMES[:n]):
        counselor = staff["facilitator"] if i < 4 else staff["other"]
        _, episode = admitted(
            staff["manager"], counselor, legal_first_name=f"Pat{i}", legal_last_name=surname
        )
        episodes.append(episode)
    return episodes


@pytest.fixture
def running(staff):
    """A group with 12 enrolled clients, facilitated by `facilitator`."""
    group = make_group([staff["facilitator"]])
    episodes = clients(staff, 12)
    enrol_all(group, episodes)
    return group, episodes


def meeting_form(episodes, *, states=STATES, summary=SUMMARY, **overrides) -> dict:
    data = {
        "meeting_date": "2026-11-25",
        "start_time": "08:30",
        "end_time": "10:00",
        "topic": "Riding out a craving",
        "summary": summary,
    }
    for i, episode in enumerate(episodes):
        state, minutes = states.get(i, ("attended", None))
        name = episode.client.legal_last_name
        data |= {
            f"seats-{i}-episode_id": str(episode.id),
            f"seats-{i}-attendance": state,
            f"seats-{i}-minutes_attended": "" if minutes is None else str(minutes),
        }
        if state != "no_show":
            data |= {
                f"seats-{i}-participation": f"{name} named two personal triggers.",
                f"seats-{i}-progress": f"{name} is on track with their own coping objective.",
            }
    return data | overrides


def record(client, group, episodes, **overrides):
    return client.post(f"/groups/{group.id}/meetings/new", data=meeting_form(episodes, **overrides))


def seats_of(meeting_id: int) -> list[ClinicalSession]:
    db.session.expire_all()
    stmt = sa.select(ClinicalSession).where(ClinicalSession.group_meeting_id == meeting_id)
    return list(db.session.scalars(stmt))


# --- groups and enrolment ------------------------------------------------------------------


def test_a_counselor_creates_a_group_with_facilitators(client, auth, staff):
    auth.login(staff["other"])
    page = client.get("/groups/new")
    assert page.status_code == 200 and "Fran Facil" in page.text
    resp = client.post(
        "/groups/new",
        data={
            "name": "Mindful mornings",
            "session_type": "alternative",
            "facilitators": [str(staff["facilitator"].id), str(staff["other"].id)],
            "weekday": "0",
            "default_start": "09:00",
            "default_minutes": "60",
            "location": "Garden room",
            "active": "y",
        },
    )
    group = db.session.scalar(sa.select(Group).where(Group.name == "Mindful mornings"))
    assert resp.status_code == 302 and resp.headers["Location"] == f"/groups/{group.id}"
    assert {u.id for u in group.facilitators} == {staff["facilitator"].id, staff["other"].id}
    assert (group.weekday, group.default_start, group.session_type) == (
        0,
        time(9, 0),
        "alternative",
    )
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "group.facilitators_set")
    )
    assert event is not None and str(staff["facilitator"].id) in event.detail
    assert "Mindful mornings" in client.get("/groups/").text


def test_facilitators_are_active_counselors_and_names_are_unique(client, auth, staff, make):
    make_group([staff["facilitator"]], name="Anger management")
    nurse = make.user(Role.NURSE, full_name="Nina Nurse")
    auth.login(staff["other"])
    page = client.get("/groups/new").text
    assert "Fran Facil" in page and "Nina Nurse" not in page and "Mia Manager" not in page
    resp = client.post(
        "/groups/new",
        data={
            "name": "Seeking safety",
            "session_type": "group",
            "facilitators": [str(nurse.id)],
            "default_minutes": "60",
        },
    )
    assert resp.status_code == 200 and "Facilitators must be active counselors." in resp.text
    resp = client.post(
        "/groups/new",
        data={
            "name": "anger management",
            "session_type": "group",
            "facilitators": [str(staff["facilitator"].id)],
            "default_minutes": "60",
        },
    )
    assert "Another group already has this name." in resp.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Group)) == 1


def test_enrolment_offers_only_clients_the_user_can_see(client, auth, staff):
    group = make_group([staff["facilitator"]])
    mine, theirs = clients(staff, 5)[3:5]  # #3 is the facilitator's, #4 the other counselor's
    auth.login(staff["facilitator"])
    page = client.get(f"/groups/{group.id}/enrol").text
    assert "Dunmorrow" in page and "Elderbrook" not in page
    resp = client.post(f"/groups/{group.id}/enrol", data={"episode": str(theirs.id)})
    assert resp.status_code == 200 and "Choose one of the clients listed." in resp.text
    assert group.enrollments == []
    resp = client.post(
        f"/groups/{group.id}/enrol", data={"episode": str(mine.id), "enrolled_on": "2026-11-24"}
    )
    assert resp.status_code == 302
    db.session.expire_all()
    assert [(e.episode_id, str(e.enrolled_on)) for e in group.enrollments] == [
        (mine.id, "2026-11-24")
    ]
    again = client.post(f"/groups/{group.id}/enrol", data={"episode": str(mine.id)})
    assert "Choose one of the clients listed." in again.text  # already enrolled: no longer offered


def test_a_manager_enrols_anyone_and_takes_clients_out(client, auth, staff):
    group = make_group([staff["facilitator"]])
    (episode,) = clients(staff, 5)[4:5]
    auth.login(staff["manager"])
    assert (
        client.post(f"/groups/{group.id}/enrol", data={"episode": str(episode.id)}).status_code
        == 302
    )
    enrollment = db.session.scalar(sa.select(GroupEnrollment))
    resp = client.post(f"/groups/{group.id}/enrollments/{enrollment.id}/end")
    assert resp.status_code == 302
    db.session.expire_all()
    assert str(enrollment.ended_on) == "2026-11-25"
    assert "Nobody is enrolled yet." in client.get(f"/groups/{group.id}").text


def test_a_counselor_cannot_take_out_a_client_they_cannot_see(client, auth, staff, make):
    group = make_group([staff["facilitator"]])
    (episode,) = clients(staff, 5)[4:5]
    (enrollment,) = enrol_all(group, [episode])
    auth.login(make.user(Role.COUNSELOR))  # neither the facilitator nor the client's counselor
    page = client.get(f"/groups/{group.id}").text
    assert "Elderbrook" not in page and f"/enrollments/{enrollment.id}/end" not in page
    assert client.post(f"/groups/{group.id}/enrollments/{enrollment.id}/end").status_code == 404
    db.session.expire_all()
    assert enrollment.ended_on is None


def test_the_facilitator_sees_and_manages_the_members(client, auth, staff):
    """Facilitators run the room: members of their groups are in their scope."""
    group = make_group([staff["facilitator"]])
    (episode,) = clients(staff, 5)[4:5]
    (enrollment,) = enrol_all(group, [episode])
    auth.login(staff["facilitator"])
    page = client.get(f"/groups/{group.id}").text
    assert "Elderbrook" in page and f"/enrollments/{enrollment.id}/end" in page


def test_the_roster_shows_names_only_to_those_who_can_see_the_clients(
    client, auth, staff, make, running
):
    group, _ = running
    auth.login(make.user(Role.COUNSELOR))  # not a facilitator, no clients in the group
    page = client.get(f"/groups/{group.id}").text
    assert not any(name in page for name in SURNAMES)
    assert "12 more clients from other caseloads" in page
    assert "Record a meeting" not in page


# --- recording a meeting -------------------------------------------------------------------


def test_twelve_attendees_in_one_post(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    page = client.get(f"/groups/{group.id}/meetings/new").text
    assert 'value="08:30"' in page and 'value="10:00"' in page  # the group's usual time
    assert all(name in page for name in SURNAMES)
    resp = record(client, group, episodes)
    meeting = db.session.scalar(sa.select(GroupMeeting))
    assert resp.status_code == 302 and resp.headers["Location"] == f"/groups/meetings/{meeting.id}"
    assert meeting.summary == SUMMARY and meeting.facilitator_id == staff["facilitator"].id

    seats = seats_of(meeting.id)
    assert len(seats) == 12
    assert {(s.session_type, s.staff_id, str(s.session_date)) for s in seats} == {
        ("relapse_prevention", staff["facilitator"].id, "2026-11-25")
    }
    by_index = {episodes.index(s.episode): s for s in seats}
    assert by_index[0].minutes_attended == 90  # blank: the whole session
    assert (by_index[3].attendance, by_index[3].minutes_attended) == ("late", 60)
    assert (by_index[5].attendance, by_index[5].minutes_attended, by_index[5].note) == (
        "no_show",
        0,
        None,
    )
    written = [s.note for s in seats if s.note is not None]
    assert len(written) == 10  # one per client who was there
    for seat in seats:
        note = seat.note
        if note is None:
            continue
        assert note.format is NoteFormat.GROUP and note.status is NoteStatus.DRAFT
        assert note.author_id == staff["facilitator"].id and not note.late_entry
        own = seat.episode.client.legal_last_name
        assert set(note.sections) == {"participation", "progress"}
        assert own in note.sections["participation"]
        assert not any(name in note.sections_json for name in SURNAMES if name != own)
        assert "craving wave" not in note.sections_json and SUMMARY not in note.sections_json


def test_each_chart_shows_only_its_own_line(client, auth, staff, running):
    """Charts and note pages read by the manager (who sees everyone): each client's own seat,
    the topic and their own note, never the group summary nor another attendee."""
    group, episodes = running
    auth.login(staff["facilitator"])
    record(client, group, episodes)
    meeting = db.session.scalar(sa.select(GroupMeeting))
    note_of = {s.episode_id: s.note for s in seats_of(meeting.id)}
    auth.logout()
    auth.login(staff["manager"])
    for episode in episodes:
        own, note = episode.client.legal_last_name, note_of[episode.id]
        pages = [client.get(f"/clients/{episode.client_id}").text]
        if note is not None:
            pages.append(client.get(f"/notes/{note.id}").text)
            assert f'href="/notes/{note.id}"' in pages[0]
            assert f"{own} named two personal triggers." in pages[1]
        others = [n.id for eid, n in note_of.items() if n is not None and eid != episode.id]
        assert not any(f'href="/notes/{other}"' in pages[0] for other in others)
        for page in pages:
            assert own in page and "Riding out a craving" in page
            assert "craving wave" not in page and "HALT check-in" not in page
            assert not any(name in page for name in SURNAMES if name != own), own


def test_a_present_client_needs_a_line_and_nothing_is_saved_without_it(
    client, auth, staff, running
):
    group, episodes = running
    auth.login(staff["facilitator"])
    body = meeting_form(episodes)
    body["seats-8-participation"] = body["seats-8-progress"] = ""
    resp = client.post(f"/groups/{group.id}/meetings/new", data=body)
    assert resp.status_code == 200
    assert 'id="seats-8-participation-error"' in resp.text
    assert "Write a line on this client" in resp.text
    assert SUMMARY in resp.text and "Quillfeather named two personal triggers." in resp.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(ClinicalSession)) == 0
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GroupMeeting)) == 0


def test_late_arrivals_need_their_minutes(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    resp = record(client, group, episodes, states={2: ("late", None)})
    too_long = record(client, group, episodes, states={2: ("left_early", 200)})
    assert 'id="seats-2-minutes_attended-error"' in resp.text
    assert "Enter the minutes" in resp.text
    assert "Minutes attended must be between 0 and 90." in too_long.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GroupMeeting)) == 0


def test_a_roster_change_while_the_page_was_open_keeps_the_lines(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    body = {k: v for k, v in meeting_form(episodes).items() if not k.startswith("seats-11-")}
    resp = client.post(f"/groups/{group.id}/meetings/new", data=body)
    assert resp.status_code == 200 and "roster changed" in resp.text
    assert "Quillfeather named two personal triggers." in resp.text  # typed lines kept
    assert "Larkspurre" in resp.text  # and the missing client's line is back
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GroupMeeting)) == 0


def test_the_same_meeting_is_not_recorded_twice(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    assert record(client, group, episodes).status_code == 302
    again = record(client, group, episodes)
    assert "already recorded" in again.text
    assert db.session.scalar(sa.select(sa.func.count()).select_from(GroupMeeting)) == 1


def test_future_meetings_are_refused(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    resp = record(client, group, episodes, meeting_date="2026-11-26")
    assert 'id="meeting_date-error"' in resp.text


# --- signing ---------------------------------------------------------------------------------


@pytest.fixture
def recorded(client, auth, staff, running):
    group, episodes = running
    auth.login(staff["facilitator"])
    assert record(client, group, episodes).status_code == 302
    return db.session.scalar(sa.select(GroupMeeting))


def all_notes() -> list[Note]:
    db.session.expire_all()
    return list(db.session.scalars(sa.select(Note)))


def test_sign_all_with_a_wrong_password_signs_nothing(client, recorded):
    resp = client.post(
        f"/groups/meetings/{recorded.id}/sign", data={"password": "not my password at all"}
    )
    assert resp.status_code == 200 and "password is not correct" in resp.text
    assert 'id="password-error"' in resp.text
    assert {n.status for n in all_notes()} == {NoteStatus.DRAFT}


def test_sign_all_signs_every_note_and_each_hash_verifies(client, staff, recorded):
    page = client.get(f"/groups/meetings/{recorded.id}").text
    assert "Signs your 10 unsigned notes" in page
    resp = client.post(f"/groups/meetings/{recorded.id}/sign", data={"password": PASSWORD})
    assert resp.status_code == 302
    signed = all_notes()
    assert len(signed) == 10
    assert {n.status for n in signed} == {NoteStatus.SIGNED}
    assert {(n.signer_name, n.signer_credentials) for n in signed} == {("Fran Facil", "LADC")}
    assert all(notes.verify(n) for n in signed)
    actions = list(db.session.scalars(sa.select(AuditEvent.action)))
    assert actions.count("note.signed") == 10 and "group_meeting.signed" in actions
    page = client.get(f"/groups/meetings/{recorded.id}").text
    assert "Sign all my notes" not in page and page.count("Signed</span>") == 10


def test_a_counselor_who_does_not_facilitate_is_refused(client, auth, staff, recorded):
    auth.logout()
    auth.login(staff["other"])
    group_id = recorded.group_id
    assert client.get(f"/groups/{group_id}/meetings/new").status_code == 403
    assert client.post(f"/groups/{group_id}/meetings/new", data={}).status_code == 403
    resp = client.post(f"/groups/meetings/{recorded.id}/sign", data={"password": PASSWORD})
    assert resp.status_code == 403
    # The meeting page: only the other counselor's own clients, no group summary.
    page = client.get(f"/groups/meetings/{recorded.id}").text
    assert "Elderbrook" in page and "Quillfeather" not in page
    assert SUMMARY not in page and "4 more clients from other caseloads" in page
    assert {n.status for n in all_notes()} == {NoteStatus.DRAFT}


def test_a_manager_manages_groups_but_does_not_run_them(client, auth, staff, make, recorded):
    group_id = recorded.group_id
    auth.logout()
    auth.login(staff["manager"])
    assert client.get(f"/groups/{group_id}/edit").status_code == 200
    assert client.get(f"/groups/{group_id}/meetings/new").status_code == 403
    resp = client.post(f"/groups/meetings/{recorded.id}/sign", data={"password": PASSWORD})
    assert resp.status_code == 403
    page = client.get(f"/groups/meetings/{recorded.id}").text
    assert SUMMARY in page and all(name in page for name in SURNAMES)
    assert "Sign all my notes" not in page
    # A manager who is also a counselor can run a group they facilitate.
    both = make.user(Role.CLINIC_MANAGER, Role.COUNSELOR)
    group = make_group([both], name="Family program", session_type="family")
    auth.logout()
    auth.login(both)
    assert client.get(f"/groups/{group.id}/meetings/new").status_code == 200


def test_viewing_a_meeting_is_recorded_with_the_clients_shown(client, recorded):
    client.get(f"/groups/meetings/{recorded.id}")
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "group_meeting.viewed")
    )
    assert event.object_id == str(recorded.id)
    assert all(str(s.episode.client_id) in event.detail for s in seats_of(recorded.id))


def test_the_meeting_page_runs_a_fixed_number_of_queries(client, auth, staff, make, count_queries):
    def meeting_page_queries(n: int, name: str) -> int:
        group = make_group([staff["facilitator"]], name=name)
        episodes = clients(staff, n)
        enrol_all(group, episodes)
        record(client, group, episodes, states={})
        meeting = db.session.scalar(sa.select(GroupMeeting).where(GroupMeeting.group == group))
        db.session.expire_all()
        with count_queries() as q:
            assert client.get(f"/groups/meetings/{meeting.id}").status_code == 200
        return q.count

    auth.login(staff["facilitator"])
    assert meeting_page_queries(3, "Small group") == meeting_page_queries(12, "Large group")


def test_an_alternative_therapy_group_names_its_kind(client, auth, staff):
    group = make_group([staff["facilitator"]], name="Art studio", session_type="alternative")
    episodes = clients(staff, 2)
    enrol_all(group, episodes)
    auth.login(staff["facilitator"])
    assert 'id="alternative_kind"' in client.get(f"/groups/{group.id}/meetings/new").text
    resp = record(client, group, episodes, states={})
    assert 'id="alternative_kind-error"' in resp.text
    assert record(client, group, episodes, states={}, alternative_kind="art").status_code == 302
    meeting = db.session.scalar(sa.select(GroupMeeting))
    assert {(s.session_type, s.alternative_kind) for s in seats_of(meeting.id)} == {
        ("alternative", "art")
    }

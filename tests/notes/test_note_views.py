"""Sessions and notes through the web: log a session with its note, the format's sections,
errors next to fields, signing, immutability by every route, addenda, late entries,
permissions and hash verification."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time

import pytest
import sqlalchemy as sa
import time_machine
from markupsafe import escape

from casemgr.audit.models import AuditEvent
from casemgr.domain.notes import SECTIONS, NoteFormat, NoteStatus
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.notes import services
from casemgr.notes.models import ClinicalSession, Note, SignedNoteImmutable
from casemgr.plans.models import PlanGoal, PlanObjective, PlanProblem, TreatmentPlan
from tests.clients_helpers import NOW, admitted
from tests.conftest import version_on
from tests.factories import PASSWORD
from tests.notes.helpers import session_with_note

FROZEN = datetime(2026, 11, 25, 15, tzinfo=UTC)  # 10:00 at the facility


def frozen(at: datetime = FROZEN):
    return time_machine.travel(at, tick=False)


def dap_form(**overrides) -> dict:
    data = {
        "session_date": "2026-11-25",
        "start_time": "09:00",
        "end_time": "09:50",
        "session_type": "individual",
        "setting": "on_site",
        "location": "Room 4",
        "attendance": "attended",
        "section_data": "Reports cravings 6/10 after a family visit.",
        "section_assessment": "Engaged; names family conflict as a trigger.",
        "section_plan": "Practise urge surfing; next session Friday.",
        "cravings": "6",
        "use_since_last": "none",
        "triggers": "Family conflict",
        "screen_reviewed": "y",
        "medication_adherence": "adherent",
        "sober_supports": "Sister; AA sponsor",
        "meetings_attended": "3",
        "safety_risk": "low",
    }
    return {**data, **overrides}


def field_error(page: str, field: str) -> str:
    """The error shown next to a field, or "" when there is none."""
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, flags=re.S)
    return match.group(1) if match else ""


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER)


@pytest.fixture
def counselor(make):
    return make.user(Role.COUNSELOR, full_name="Casey Counselor", credentials="LADC")


@pytest.fixture
def episode(manager, counselor):
    _, episode = admitted(manager, counselor, Phase.REHAB)
    return episode


def draft(episode, author, **kw) -> Note:
    return session_with_note(episode, author, **kw)[1]


def signed(episode, author, **kw) -> Note:
    note = draft(episode, author, **kw)
    services.sign(db.session, note, PASSWORD, actor=author, now=NOW)
    db.session.commit()
    return note


# --- Logging a session with its note ---------------------------------------------------------


def test_counselor_logs_a_session_with_a_dap_note(client, auth, counselor, episode):
    with frozen():
        auth.login(counselor)
        chooser = client.get(f"/notes/new/{episode.id}")
        assert chooser.status_code == 200
        for label in ("SOAP", "DAP", "BIRP", "GIRP", "Case-management note"):
            assert label in chooser.text
        assert "Nursing note" not in chooser.text and 'name="section_' not in chooser.text

        resp = client.post(f"/notes/new/{episode.id}?format=dap", data=dap_form())
        assert resp.status_code == 302
        note = db.session.scalar(sa.select(Note))
        assert resp.headers["Location"] == f"/notes/{note.id}"
        page = client.get(resp.headers["Location"]).text

    visit = note.session
    assert (visit.session_date, visit.start_time, visit.end_time) == (
        date(2026, 11, 25),
        time(9),
        time(9, 50),
    )
    assert visit.duration == 50 and visit.staff_id == counselor.id and visit.location == "Room 4"
    assert note.format is NoteFormat.DAP and note.status is NoteStatus.DRAFT
    assert note.author_id == counselor.id and not note.late_entry
    assert note.sections["plan"] == "Practise urge surfing; next session Friday."
    assert (note.cravings, note.use_since_last, note.meetings_attended) == (6, "none", 3)
    assert note.screen_reviewed and note.safety_risk == "low"

    assert "Draft — not signed" in page and "🔒" not in page.split("<main", 1)[1].split("Draft")[0]
    assert "09:00–09:50 (50 minutes)" in page and "Individual counseling" in page
    assert "Reports cravings 6/10 after a family visit." in page
    assert "6 / 10" in page and "No use reported" in page
    assert f'href="/notes/{note.id}/edit"' in page and f'href="/notes/{note.id}/sign"' in page
    assert [e.object_id for e in events("note.viewed")] == [str(note.id)]


@pytest.mark.parametrize("fmt", ["soap", "dap", "birp", "girp", "case_management"])
def test_each_format_shows_its_own_sections_as_separate_fields(
    client, auth, counselor, episode, fmt
):
    with frozen():
        auth.login(counselor)
        page = client.get(f"/notes/new/{episode.id}?format={fmt}").text
    mine = [key for key, _, _ in SECTIONS[NoteFormat(fmt)]]
    shown = re.findall(r'<textarea[^>]*name="section_(\w+)"', page)
    assert shown == mine
    for key, label, prompt in SECTIONS[NoteFormat(fmt)]:
        assert f'<label for="section_{key}">{label}</label>' in page and escape(prompt) in page


def test_a_soap_note_stores_each_section_apart(client, auth, counselor, episode):
    form = dap_form(
        section_subjective="“I slept badly.”",
        section_objective="Tired, fidgety.",
        section_assessment="Early withdrawal from sleep meds?",
        section_plan="Refer to the nurse.",
    )
    for key in ("section_data",):
        form.pop(key)
    with frozen():
        auth.login(counselor)
        assert client.post(f"/notes/new/{episode.id}?format=soap", data=form).status_code == 302
    note = db.session.scalar(sa.select(Note))
    assert note.sections == {
        "subjective": "“I slept badly.”",
        "objective": "Tired, fidgety.",
        "assessment": "Early withdrawal from sleep meds?",
        "plan": "Refer to the nurse.",
    }


@pytest.mark.parametrize(
    "overrides, field, message",
    [
        ({"end_time": "08:30"}, "end_time", "The end time must be after the start time."),
        ({"cravings": "11"}, "cravings", "Rate cravings from 0 to 10."),
        ({"session_date": "2026-11-26"}, "session_date", "cannot be logged for a future date"),
        ({"session_date": "2026-10-01"}, "session_date", "before the admission date"),
        ({"session_type": "alternative"}, "alternative_kind", "kind of alternative therapy"),
        ({"start_time": "nine"}, "start_time", "Enter a start time."),
        ({"attendance": "asleep"}, "attendance", "Not a valid choice"),
    ],
)
def test_bad_input_is_refused_next_to_its_field(
    client, auth, counselor, episode, overrides, field, message
):
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/notes/new/{episode.id}?format=dap", data=dap_form(**overrides))
    assert resp.status_code == 200
    assert message in field_error(resp.text, field)
    assert "Family conflict" in resp.text  # nothing typed is lost
    assert count(ClinicalSession) == 0 and count(Note) == 0


def test_an_empty_note_is_refused(client, auth, counselor, episode):
    empty = dap_form(section_data="", section_assessment=" ", section_plan="")
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/notes/new/{episode.id}?format=dap", data=empty)
    assert "Write at least one section." in resp.text and count(Note) == 0


def test_an_unknown_format_is_refused(client, auth, counselor, episode):
    with frozen():
        auth.login(counselor)
        resp = client.get(f"/notes/new/{episode.id}?format=freeform")
        post = client.post(f"/notes/new/{episode.id}?format=freeform", data=dap_form())
    assert resp.status_code == 400 and post.status_code == 400
    assert "Choose one of the note formats you may write" in field_error(resp.text, "format")
    assert count(Note) == 0


def test_a_nurse_writes_nursing_notes_and_may_not_choose_soap(client, auth, make, manager):
    nurse = make.user(Role.NURSE, credentials="RN")
    _, episode = admitted(manager, make.user(Role.COUNSELOR), Phase.DETOX)
    with frozen():
        auth.login(nurse)
        direct = client.get(f"/notes/new/{episode.id}")  # one format: no chooser step
        refused = client.get(f"/notes/new/{episode.id}?format=soap")
        crafted = client.post(
            f"/notes/new/{episode.id}?format=soap",
            data=dap_form(section_subjective="x", session_type="nursing"),
        )
        ok = client.post(
            f"/notes/new/{episode.id}",
            data=dap_form(session_type="nursing", section_note="COWS 6; vitals stable."),
        )
    assert re.findall(r'name="section_(\w+)"', direct.text) == ["note"]
    assert re.search(r'<option selected value="nursing">', direct.text)  # follows the format
    assert refused.status_code == 400 and crafted.status_code == 400
    assert "you may write: Nursing note." in field_error(refused.text, "format")
    assert ok.status_code == 302
    note = db.session.scalar(sa.select(Note))
    assert note.format is NoteFormat.NURSING and note.sections == {"note": "COWS 6; vitals stable."}


# --- Treatment-plan objectives -----------------------------------------------------------------


def plan_with_objectives(episode, author, *statements: str, number: int = 1) -> list:
    plan = TreatmentPlan(episode=episode, number=number, created_by_id=author.id)
    problem = PlanProblem(position=1, statement="Opioid use disorder")
    goal = PlanGoal(position=1, statement="Sustained abstinence")
    goal.objectives = [
        PlanObjective(position=i, statement=s, target_date=date(2026, 12, 20), lineage=f"L{i}")
        for i, s in enumerate(statements, start=1)
    ]
    problem.goals = [goal]
    plan.problems = [problem]
    db.session.add(plan)
    db.session.commit()
    return goal.objectives


def test_a_note_links_objectives_of_the_latest_plan(client, auth, manager, counselor, episode):
    plan_with_objectives(episode, counselor, "Old objective")
    first, second = plan_with_objectives(
        episode, counselor, "Name three triggers", "Attend 3 meetings a week", number=2
    )
    _, other = admitted(manager, counselor, Phase.REHAB, legal_last_name="Other")
    (foreign,) = plan_with_objectives(other, counselor, "Someone else's objective")
    with frozen():
        auth.login(counselor)
        page = client.get(f"/notes/new/{episode.id}?format=dap").text
        crafted = client.post(
            f"/notes/new/{episode.id}?format=dap", data=dap_form(objectives=[foreign.id])
        )
        resp = client.post(
            f"/notes/new/{episode.id}?format=dap", data=dap_form(objectives=[second.id])
        )
        shown = client.get(resp.headers["Location"]).text
    assert "Name three triggers" in page and "Attend 3 meetings a week" in page
    assert "Old objective" not in page and "Someone else" not in page
    assert "not a valid choice" in field_error(crafted.text, "objectives")
    note = db.session.scalar(sa.select(Note))
    assert [o.id for o in note.objectives] == [second.id]
    assert "Attend 3 meetings a week" in shown and "(target 2026-12-20)" in shown


def test_without_a_plan_there_is_nothing_to_link(client, auth, counselor, episode):
    with frozen():
        auth.login(counselor)
        page = client.get(f"/notes/new/{episode.id}?format=dap").text
    assert "No treatment plan yet" in page and 'name="objectives"' not in page


# --- Editing a draft -----------------------------------------------------------------------------


def test_the_author_edits_a_draft(client, auth, counselor, episode):
    note = draft(episode, counselor, day=date(2026, 11, 24))
    with frozen():
        auth.login(counselor)
        form = client.get(f"/notes/{note.id}/edit").text
        assert "Client reports cravings 6/10 after a family visit." in form
        assert 'value="2026-11-24"' in form and 'value="09:50"' in form
        resp = client.post(
            f"/notes/{note.id}/edit",
            data=dap_form(
                session_date="2026-11-24",
                end_time="10:00",
                section_plan="Revised.",
                version=version_on(form),
            ),
        )
    assert resp.status_code == 302
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.sections["plan"] == "Revised." and note.session.duration == 60
    assert note.status is NoteStatus.DRAFT


def test_moving_a_drafts_session_earlier_makes_it_a_late_entry(client, auth, counselor, episode):
    with frozen():
        note = draft(episode, counselor, now=FROZEN)
        assert not note.late_entry  # written the day of the session
        auth.login(counselor)
        form = client.get(f"/notes/{note.id}/edit").text
        client.post(
            f"/notes/{note.id}/edit",
            data=dap_form(session_date="2026-11-23", version=version_on(form)),
        )
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.session.session_date == date(2026, 11, 23) and note.late_entry


def test_a_signed_note_cannot_be_edited_through_the_form(client, auth, counselor, episode):
    note = signed(episode, counselor)
    with frozen():
        auth.login(counselor)
        page = client.get(f"/notes/{note.id}").text
        resp = client.get(f"/notes/{note.id}/edit", follow_redirects=True)
    assert f'href="/notes/{note.id}/edit"' not in page  # no Edit button on a signed note
    assert "This note is signed and locked. Add an addendum to correct it." in resp.text


def test_a_crafted_post_to_edit_a_signed_note_changes_nothing(client, auth, counselor, episode):
    note = signed(episode, counselor)
    before = db.session.execute(sa.select(Note.__table__)).all()
    session_before = db.session.execute(sa.select(ClinicalSession.__table__)).all()
    with frozen():
        auth.login(counselor)
        resp = client.post(
            f"/notes/{note.id}/edit",
            data=dap_form(section_data="Rewritten after signing.", end_time="11:00"),
        )
        shown = client.get(resp.headers["Location"]).text
    assert resp.status_code == 302 and resp.headers["Location"] == f"/notes/{note.id}"
    assert "signed and locked" in shown
    db.session.expire_all()
    assert db.session.execute(sa.select(Note.__table__)).all() == before
    assert db.session.execute(sa.select(ClinicalSession.__table__)).all() == session_before
    assert services.verify(db.session.get(Note, note.id))


def test_the_orm_refuses_to_change_a_signed_note(counselor, episode):
    note = signed(episode, counselor)
    note.sections_json = '{"data": "rewritten"}'
    with pytest.raises(SignedNoteImmutable):
        db.session.flush()
    db.session.rollback()
    note.objectives = []
    note.cravings = 0
    with pytest.raises(SignedNoteImmutable):
        db.session.flush()
    db.session.rollback()


def test_only_the_author_edits_or_signs_a_draft(client, auth, make, manager, counselor):
    _, episode = admitted(manager, counselor, Phase.DETOX)  # a nurse may write notes here
    note = draft(episode, counselor)
    nurse = make.user(Role.NURSE)
    with frozen():
        auth.login(nurse)
        page = client.get(f"/notes/{note.id}").text
        edit = client.post(f"/notes/{note.id}/edit", data=dap_form(section_data="Not mine."))
        shown = client.get(edit.headers["Location"]).text
        sign = client.post(f"/notes/{note.id}/sign", data={"password": PASSWORD})
    assert "Edit draft" not in page and f'href="/notes/{note.id}/sign"' not in page
    assert edit.status_code == 302 and "Only the author can edit a draft note." in shown
    assert sign.status_code == 403
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.status is NoteStatus.DRAFT and "Not mine." not in note.sections_json


# --- Signing --------------------------------------------------------------------------------------


def test_signing_with_a_wrong_password_is_refused_and_changes_nothing(
    client, auth, counselor, episode
):
    note = draft(episode, counselor)
    before = db.session.execute(sa.select(Note.__table__)).all()
    with frozen():
        auth.login(counselor)
        form = client.get(f"/notes/{note.id}/sign")
        resp = client.post(f"/notes/{note.id}/sign", data={"password": "not my password"})
    assert form.status_code == 200 and '<label for="password">Your password</label>' in form.text
    assert resp.status_code == 200
    assert "The password is not correct; the note was not signed." in field_error(
        resp.text, "password"
    )
    db.session.expire_all()
    assert db.session.execute(sa.select(Note.__table__)).all() == before
    assert [e.object_id for e in events("note.sign_refused")] == [str(note.id)]


def test_signing_locks_the_note_and_shows_who_when_and_that_it_verifies(
    client, auth, counselor, episode
):
    note = draft(episode, counselor)
    with frozen():
        auth.login(counselor)
        resp = client.post(f"/notes/{note.id}/sign", data={"password": PASSWORD})
        page = client.get(resp.headers["Location"]).text
        again = client.get(f"/notes/{note.id}/sign", follow_redirects=True).text
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.status is NoteStatus.SIGNED and note.signed_at == FROZEN
    assert note.signer_name == "Casey Counselor" and note.signer_credentials == "LADC"
    assert "🔒</span> Signed</span>" in page and "Draft — not signed" not in page
    assert "by <bdi>Casey Counselor</bdi>, LADC on 2026-11-25 10:00" in page
    assert "Content verified" in page and "ALTERED" not in page
    assert f'href="/notes/{note.id}/addendum"' in page and "Edit draft" not in page
    assert "This note is already signed." in again


def test_a_direct_sql_change_shows_as_altered(client, auth, counselor, episode):
    note = signed(episode, counselor)
    db.session.execute(sa.update(Note).where(Note.id == note.id).values(cravings=0))
    db.session.commit()
    with frozen():
        auth.login(counselor)
        page = client.get(f"/notes/{note.id}").text
    assert "ALTERED — content hash mismatch" in page and "Content verified" not in page


# --- Addenda ------------------------------------------------------------------------------------


def test_an_addendum_sits_under_the_original(client, auth, counselor, episode):
    note = signed(episode, counselor)
    original = note.sections_json
    with frozen():
        auth.login(counselor)
        missing = client.post(f"/notes/{note.id}/addendum", data={"text": "Also: poor sleep."})
        resp = client.post(
            f"/notes/{note.id}/addendum",
            data={"reason": "Omission", "text": "Client also reported poor sleep."},
        )
        page = client.get(resp.headers["Location"]).text
    assert "Give the reason." in field_error(missing.text, "reason")
    assert resp.status_code == 302
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.sections_json == original and services.verify(note)
    (addendum,) = note.addenda
    assert addendum.author_id == counselor.id and addendum.created_at == FROZEN
    assert page.index("Client reports cravings") < page.index("Addendum 1")
    assert "Addendum 1 — <bdi>Casey Counselor</bdi>, LADC, 2026-11-25 10:00" in page
    assert (
        "<strong>Reason:</strong> Omission" in page and "Client also reported poor sleep." in page
    )
    assert page.count("Content verified") == 2


def test_addenda_are_for_signed_notes_by_their_author(client, auth, make, counselor, episode):
    note = draft(episode, counselor)
    with frozen():
        auth.login(counselor)
        resp = client.get(f"/notes/{note.id}/addendum", follow_redirects=True)
        crafted = client.post(
            f"/notes/{note.id}/addendum", data={"reason": "x", "text": "y"}, follow_redirects=True
        )
    assert "Addenda are for signed notes; edit the draft instead." in resp.text
    assert "Addenda are for signed notes" in crafted.text
    assert db.session.get(Note, note.id).addenda == []


# --- Late entries ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "end, late",
    [("09:50", True), ("10:30", False)],  # ended 24 h 10 min / 23 h 30 min before writing
)
def test_a_note_written_more_than_24_hours_after_the_session_is_a_late_entry(
    client, auth, counselor, episode, end, late
):
    with frozen():
        auth.login(counselor)
        resp = client.post(
            f"/notes/new/{episode.id}?format=dap",
            data=dap_form(session_date="2026-11-24", end_time=end),
        )
        page = client.get(resp.headers["Location"]).text
        chart = client.get(f"/clients/{episode.client_id}").text
    assert db.session.scalar(sa.select(Note.late_entry)) is late
    assert ("Late entry</span>" in page) is late
    assert ("Late entry</span>" in chart) is late


# --- Permissions per role -----------------------------------------------------------------------


def test_another_counselors_client_is_not_found(client, auth, make, counselor, episode):
    note = draft(episode, counselor)
    other = make.user(Role.COUNSELOR)
    with frozen():
        auth.login(other)
        for url in (
            f"/notes/{note.id}",
            f"/notes/new/{episode.id}",
            f"/notes/{note.id}/edit",
            f"/notes/{note.id}/sign",
        ):
            assert client.get(url).status_code == 404, url
    denied = events("authz.denied")
    assert len(denied) == 4 and all(e.client_id == episode.client_id for e in denied)
    assert events("note.viewed") == []


def test_a_manager_reads_notes_but_writes_and_signs_nothing(
    client, auth, manager, counselor, episode
):
    note = draft(episode, counselor)
    with frozen():
        auth.login(manager)
        page = client.get(f"/notes/{note.id}")
        assert page.status_code == 200 and "Client reports cravings" in page.text
        assert "Edit draft" not in page.text
        for url in (f"/notes/new/{episode.id}", f"/notes/{note.id}/edit", f"/notes/{note.id}/sign"):
            assert client.get(url).status_code == 403, url
        assert client.post(f"/notes/{note.id}/sign", data={"password": PASSWORD}).status_code == 403
        chart = client.get(f"/clients/{episode.client_id}").text
    assert f'href="/notes/new/{episode.id}"' not in chart
    assert db.session.get(Note, note.id).status is NoteStatus.DRAFT


def test_an_administrator_cannot_read_notes(client, auth, counselor, episode):
    note = draft(episode, counselor)
    with frozen():
        auth.login(Role.ADMIN)
        assert client.get(f"/notes/{note.id}").status_code == 403
    assert events("note.viewed") == []


def test_the_chart_offers_log_session_to_those_who_may_write(client, auth, counselor, episode):
    with frozen():
        auth.login(counselor)
        chart = client.get(f"/clients/{episode.client_id}").text
    assert f'href="/notes/new/{episode.id}">Log session</a>' in chart


def test_a_missing_note_is_not_found(client, auth, counselor):
    with frozen():
        auth.login(counselor)
        assert client.get("/notes/999999").status_code == 404


def test_notes_of_a_closed_episode_stay_readable_but_no_new_session(
    client, auth, counselor, episode
):
    note = signed(episode, counselor)
    episode.phase = Phase.DISCHARGED  # closed (directly: the discharge flow is not under test)
    db.session.commit()
    with frozen():
        auth.login(counselor)
        assert client.get(f"/notes/{note.id}").status_code == 200
        assert client.get(f"/notes/new/{episode.id}").status_code == 403

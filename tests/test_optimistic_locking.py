"""Optimistic locking (issue 8, data integrity): an edit form carries the version of the record
it was opened on, and saving it after someone else changed the record is refused with their
name and the time, nothing written and the typed text still in the form."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from flask_wtf import FlaskForm

from casemgr.aftercare.models import ContinuingCarePlan
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from casemgr.forms import VersionField
from casemgr.notes.models import Note
from casemgr.plans.models import TreatmentPlan
from tests.ccplan.helpers import draft_plan as draft_ccplan
from tests.clients_helpers import admitted, intake_form
from tests.conftest import Auth, version_on
from tests.notes.helpers import session_with_note
from tests.plans.helpers import draft_plan

# 14:32 at the facility (America/New_York), the time the refusals name.
FROZEN = datetime(2026, 11, 25, 19, 32, tzinfo=UTC)
STALE_TAIL = "Reload to see their changes; nothing was saved."
UNKNOWN = "did not say which version of the record you opened"


def changes() -> int:
    """Audit events that created, changed or deleted a row (not page views)."""
    verbs = sa.or_(*(AuditEvent.action.like(f"%.{v}") for v in ("created", "updated", "deleted")))
    return db.session.scalar(sa.select(sa.func.count()).select_from(AuditEvent).where(verbs))


@dataclass
class Case:
    """One edit form: A opens it, B saves a change in between, A saves last."""

    url: str
    a: User
    b: User
    a_data: dict
    b_data: dict
    read: Callable[[], object]  # the edited value, as the database holds it now
    a_value: object
    b_value: object
    typed: str  # text A typed, which must still be in A's form after a refusal

    def values(self, data: dict, page: str) -> dict:
        return {**data, "version": version_on(page)}


def _reload(model, pk):
    db.session.expire_all()
    return db.session.get(model, pk)


def face_sheet(make) -> Case:
    manager = make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager")
    counselor = make.user(Role.COUNSELOR, full_name="Jordan Counselor")
    person, _ = admitted(manager, counselor)
    db.session.commit()
    return Case(
        url=f"/clients/{person.id}/edit",
        a=counselor,
        b=manager,
        a_data=intake_form(address="12 Typed Street", phone="555-0111"),
        b_data=intake_form(phone="555-0199"),
        read=lambda: _reload(Client, person.id).phone,
        a_value="555-0111",
        b_value="555-0199",
        typed="12 Typed Street",
    )


def staff_account(make) -> Case:
    first = make.user(Role.ADMIN, full_name="Alex Admin")
    second = make.user(Role.ADMIN, full_name="Blair Admin")
    target = make.user(Role.NURSE, full_name="Terry Target", email="terry@example.org")
    db.session.commit()

    def details(full_name: str, credentials: str = "") -> dict:
        return {
            "full_name": full_name,
            "credentials": credentials,
            "email": "terry@example.org",
            "roles": ["nurse"],
        }

    return Case(
        url=f"/admin/staff/{target.id}/edit",
        a=first,
        b=second,
        a_data=details("Terry Typed", "RN-typed"),
        b_data=details("Terry Brown"),
        read=lambda: _reload(User, target.id).full_name,
        a_value="Terry Typed",
        b_value="Terry Brown",
        typed="RN-typed",
    )


def counselor_assignment(make) -> Case:
    first = make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager")
    second = make.user(Role.CLINIC_MANAGER, full_name="Riley Manager")
    now, b_pick, a_pick = (make.user(Role.COUNSELOR) for _ in range(3))
    _, episode = admitted(first, now)
    db.session.commit()
    return Case(
        url=f"/episodes/{episode.id}/assign",
        a=first,
        b=second,
        a_data={"counselor": str(a_pick.id), "reason": "Typed by the first manager"},
        b_data={"counselor": str(b_pick.id), "reason": "Caseload balancing"},
        read=lambda: _reload(Episode, episode.id).primary_counselor_id,
        a_value=a_pick.id,
        b_value=b_pick.id,
        typed="Typed by the first manager",
    )


def _author_in_rehab(make):
    manager = make.user(Role.CLINIC_MANAGER)
    counselor = make.user(Role.COUNSELOR, full_name="Casey Counselor", credentials="LADC")
    _, episode = admitted(manager, counselor, Phase.REHAB)
    return counselor, episode


def dap(**overrides) -> dict:
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
        "section_plan": "Practise urge surfing.",
    }
    return {**data, **overrides}


def note_draft(make) -> Case:
    """Only the author edits a draft: the other save comes from their second window."""
    counselor, episode = _author_in_rehab(make)
    _, note = session_with_note(episode, counselor)
    return Case(
        url=f"/notes/{note.id}/edit",
        a=counselor,
        b=counselor,
        a_data=dap(section_plan="Typed in the first window"),
        b_data=dap(section_plan="Saved from the second window"),
        read=lambda: _reload(Note, note.id).sections["plan"],
        a_value="Typed in the first window",
        b_value="Saved from the second window",
        typed="Typed in the first window",
    )


def treatment_plan(make) -> Case:
    counselor, episode = _author_in_rehab(make)
    plan = draft_plan(episode, counselor)
    return Case(
        url=f"/plans/{plan.id}/edit",
        a=counselor,
        b=counselor,
        a_data={"strengths": "Typed in the first window"},
        b_data={"strengths": "Saved from the second window"},
        read=lambda: _reload(TreatmentPlan, plan.id).strengths,
        a_value="Typed in the first window",
        b_value="Saved from the second window",
        typed="Typed in the first window",
    )


CCPLAN_FORM = {
    "level_of_care": "1",
    "program": "group_therapy",
    "session_schedule": "Relapse-prevention group, Tuesdays 6 pm",
    "moud": "naltrexone",
    "moud_dose": "380 mg IM monthly",
    "moud_prescriber": "Dr. Pat Reyes",
    "emergency_plan": "Call Sam, then the clinic line.",
    "reengagement_plan": "Same-week appointment after any lapse.",
}


def continuing_care_plan(make) -> Case:
    counselor, episode = _author_in_rehab(make)
    plan = draft_ccplan(episode, counselor)
    return Case(
        url=f"/aftercare/plans/{plan.id}/edit",
        a=counselor,
        b=counselor,
        a_data={**CCPLAN_FORM, "session_schedule": "Typed in the first window"},
        b_data={**CCPLAN_FORM, "session_schedule": "Saved from the second window"},
        read=lambda: _reload(ContinuingCarePlan, plan.id).session_schedule,
        a_value="Typed in the first window",
        b_value="Saved from the second window",
        typed="Typed in the first window",
    )


CASES = {
    "clients.edit": face_sheet,
    "admin.staff_edit": staff_account,
    "episodes.assign": counselor_assignment,
    "notes.edit": note_draft,
    "plans.edit": treatment_plan,
    "ccplan.edit": continuing_care_plan,
}


@pytest.fixture
def frozen():
    with time_machine.travel(FROZEN, tick=False):
        yield


@pytest.fixture
def second_window(app, make):
    """B's browser: its own test client and sign-in."""
    return Auth(app.test_client(), make)


@pytest.fixture(params=sorted(CASES))
def case(request, frozen, make) -> Case:
    return CASES[request.param](make)


def test_a_save_after_someone_elses_is_refused_with_their_name_and_time(
    client, auth, second_window, case
):
    auth.login(case.a)
    opened = client.get(case.url).text
    second_window.login(case.b)
    b_page = second_window.client.get(case.url).text
    saved = second_window.client.post(case.url, data=case.values(case.b_data, b_page))
    assert saved.status_code == 302, saved.text
    before = changes()

    resp = client.post(case.url, data=case.values(case.a_data, opened))

    assert resp.status_code == 200
    if case.a is case.b:
        who = "You changed this record at 14:32 (facility time), after this page was opened."
    else:
        who = (
            f"{case.b.full_name} changed this record at 14:32 (facility time) after you opened it."
        )
        assert STALE_TAIL in resp.text
    assert who in resp.text
    assert case.typed in resp.text  # what A typed is still in the form
    assert case.read() == case.b_value  # B's save stands
    assert changes() == before  # and nothing of A's was written

    again = client.post(case.url, data=case.values(case.a_data, resp.text))
    assert again.status_code == 200 and case.read() == case.b_value  # until A reloads
    reloaded = client.get(case.url).text
    resp = client.post(case.url, data=case.values(case.a_data, reloaded))
    assert resp.status_code == 302 and case.read() == case.a_value


def test_a_single_users_edit_saves(client, auth, case):
    auth.login(case.a)
    page = client.get(case.url).text
    resp = client.post(case.url, data=case.values(case.a_data, page))
    assert resp.status_code == 302, resp.text
    assert case.read() == case.a_value


@pytest.mark.parametrize("posted", [None, "", "garbage", "99999@0", "0x1@1", "１@1", "9" * 5000])
def test_a_missing_or_made_up_version_is_refused(client, auth, case, posted):
    auth.login(case.a)
    page = client.get(case.url).text
    before = (case.read(), changes())
    data = case.values(case.a_data, page)
    if posted is None:
        del data["version"]
    else:
        data["version"] = posted
    resp = client.post(case.url, data=data)
    assert resp.status_code == 200 and UNKNOWN in resp.text
    assert case.typed in resp.text
    assert (case.read(), changes()) == before


def test_posting_an_old_version_again_is_refused(client, auth, case):
    """The back button, or a version copied from an earlier page: it is out of date."""
    auth.login(case.a)
    first = client.get(case.url).text
    assert client.post(case.url, data=case.values(case.b_data, first)).status_code == 302
    resp = client.post(case.url, data=case.values(case.a_data, first))
    assert resp.status_code == 200
    assert "You changed this record at 14:32 (facility time)" in resp.text
    assert case.read() == case.b_value


def test_the_version_field_takes_nothing_from_the_record(app):
    """Only the page's posted value counts: a version filled in from the record (obj=, data=)
    would make every save look current."""

    class Form(FlaskForm):
        version = VersionField()

    with app.test_request_context("/", method="POST", data={"other": "x"}):
        form = Form(obj=SimpleNamespace(version=7), data={"version": "7@1"})
        assert not form.version.data


# --- Changes to the rows a form edits along with its record ----------------------------------


def test_a_face_sheet_change_to_funding_alone_is_caught(client, auth, second_window, frozen, make):
    manager = make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager")
    counselor = make.user(Role.COUNSELOR, full_name="Jordan Counselor")
    auth.login(counselor)
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    person = db.session.scalar(sa.select(Client))
    url = f"/clients/{person.id}/edit"
    opened = client.get(url).text
    second_window.login(manager)
    b_page = second_window.client.get(url).text
    funding = ["medicaid", "private", "self_pay"]
    more = intake_form(funding=funding, version=version_on(b_page))
    assert second_window.client.post(url, data=more).status_code == 302

    resp = client.post(url, data=intake_form(phone="555-0111", version=version_on(opened)))

    assert "Morgan Manager changed this record at 14:32 (facility time)" in resp.text
    person = _reload(Client, person.id)
    assert person.phone == "" and sorted(f.kind for f in person.funding) == funding


def test_a_notes_session_change_alone_moves_its_version(client, auth, second_window, frozen, make):
    case = note_draft(make)
    auth.login(case.a)
    opened = client.get(case.url).text
    second_window.login(case.b)
    b_page = second_window.client.get(case.url).text
    later = {**case.values(dap(), b_page), "end_time": "10:05"}
    assert second_window.client.post(case.url, data=later).status_code == 302

    resp = client.post(case.url, data=case.values(case.a_data, opened))

    assert "You changed this record at 14:32 (facility time)" in resp.text
    note = _reload(Note, int(case.url.split("/")[2]))
    assert note.session.duration == 65 and note.sections["plan"] == "Practise urge surfing."


def test_a_new_problem_on_the_plan_refuses_a_strengths_edit(
    client, auth, second_window, frozen, make
):
    """A part added to the plan moves the plan's version, and the refusal names who added it
    from the part's audit event (here the same counselor, in another window)."""
    case = treatment_plan(make)
    plan_id = int(case.url.split("/")[2])
    auth.login(case.a)
    opened = client.get(case.url).text
    second_window.login(case.b)
    added = second_window.client.post(
        f"/plans/{plan_id}/problems/new", data={"statement": "Housing instability"}
    )
    assert added.status_code == 302

    resp = client.post(case.url, data=case.values(case.a_data, opened))

    assert resp.status_code == 200
    assert case.a is case.b  # only the primary counselor writes the plan
    assert "You changed this record at 14:32 (facility time), after this page was opened." in (
        resp.text
    )
    assert case.typed in resp.text
    assert _reload(TreatmentPlan, plan_id).strengths == "Motivated; supportive sister."

"""Mass assignment (security matrix Z-04; ASVS 5.0 15.3.3): fields a form does not have, posted
next to the real ones (`author_id`, `nurse_id`, `status=signed`, `role=admin`, `version`,
`id`, `client_id`, `sha256`, ...), change nothing. The stored row keeps what the server
decided: the signed-in user as author, nurse, collector or signer; the URL's client and
episode; the computed totals and hashes; the statuses of the workflow.

Each form family posts a valid body, so the save goes through and the assertions read the row
it wrote. A name the form really has (the administrator's `roles` checkboxes, an objective's
`status`) is left to the form: only names the rendered form lacks are forged.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict
from datetime import UTC, date, datetime
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.aftercare.models import CheckIn, ContinuingCarePlan, RelapseEvent
from casemgr.auth.models import User
from casemgr.clients.models import Client
from casemgr.detox.models import WithdrawalAssessment
from casemgr.domain.notes import NoteStatus
from casemgr.domain.plans import PlanStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.groups.models import GroupMeeting
from casemgr.mar.models import MedicationAdministration, MedicationOrder
from casemgr.notes.models import Addendum, Note
from casemgr.plans.models import TreatmentPlan
from casemgr.printing.models import PrintedReport, ReportBatch
from casemgr.privacy.models import Consent, Disclosure
from casemgr.screens.models import DrugScreen
from tests.ccplan.helpers import FIELDS
from tests.clients_helpers import intake_form
from tests.factories import PASSWORD
from tests.notes.helpers import session_with_note
from tests.test_isolation import (
    NOW,
    build_clinic,
    check_in_form,
    consent_form,
    cows_form,
    dap_form,
    disclose_form,
    dose_form,
    hidden_fields,
    order_form,
    recorded_consent,
    relapse_form,
    screen_form,
)

FORGED_STATUS = "signed"


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def w(clock, make) -> SimpleNamespace:
    w = build_clinic(make)
    w.supervisor = make.user(Role.SUPERVISOR, full_name="Sam Supervisor")
    db.session.commit()
    return w


def forged(w: SimpleNamespace, page: str = "", **more) -> dict[str, str]:
    """Fields no form here has, naming another staff member, another client and episode,
    and states only the server sets; minus any name the rendered `page` really has, plus the
    page's hidden fields as it gave them."""
    intruder, other = str(w.theirs.id), str(w.bravo.id)
    fields = {
        "id": "999999",
        "version": "999",
        "status": FORGED_STATUS,
        "role": "admin",
        "roles": "admin",
        "is_admin": "1",
        "active": "0",
        "author_id": intruder,
        "nurse_id": intruder,
        "collector_id": intruder,
        "created_by_id": intruder,
        "recorded_by_id": intruder,
        "generated_by_id": intruder,
        "requested_by_id": intruder,
        "released_by_id": intruder,
        "signed_by_id": intruder,
        "cosigned_by_id": intruder,
        "witness_id": intruder,
        "ordered_by_id": intruder,
        "entered_by_id": intruder,
        "facilitator_id": intruder,
        "override_physician_id": intruder,
        "client_id": other,
        "episode_id": str(w.b_episode.id),
        "signed_at": "2020-01-01T00:00:00",
        "cosigned_at": "2020-01-01T00:00:00",
        "sha256": "0" * 64,
        "content_sha256": "0" * 64,
        "total": "0",
        **more,
    }
    real = set(re.findall(r'name="([^"]+)"', page))
    # The page's own hidden fields go back as the browser sends them (the record's version).
    return hidden_fields(page) | {k: v for k, v in fields.items() if k not in real}


def latest(model):
    db.session.expire_all()
    return db.session.scalars(sa.select(model).order_by(model.id.desc())).first()


def page_of(client, url: str) -> str:
    resp = client.get(url)
    assert resp.status_code == 200, url
    return resp.text


# ---------------------------------------------------------------------------------------------
# Staff


def test_z04_staff_edit_keeps_login_state_and_secrets(client, auth, w):
    auth.login(w.admin)
    target = w.nurse
    kept = (target.login, target.password_hash, target.totp_secret, target.must_change_password)
    url = f"/admin/staff/{target.id}/edit"
    page = page_of(client, url)
    body = {"full_name": "Nora N. Nurse", "credentials": "RN", "roles": ["nurse"]}
    extra = forged(
        w,
        page,
        login="admin",
        password_hash="x",
        totp_secret="JBSWY3DPEHPK3PXP",
        must_change_password="y",
        failed_attempts="0",
        locked_until="",
    )
    assert "roles" not in extra and "role" in extra  # the checkboxes are the form's own
    resp = client.post(url, data=body | extra)
    assert resp.status_code == 302, resp.text
    db.session.expire_all()
    user = db.session.get(User, target.id)
    assert user.full_name == "Nora N. Nurse" and user.roles == {Role.NURSE}
    assert (user.login, user.password_hash, user.totp_secret, user.must_change_password) == kept
    assert user.active and db.session.get(User, 999999) is None


def test_z04_a_new_account_gets_the_servers_defaults(client, auth, w):
    auth.login(w.admin)
    page = page_of(client, "/admin/staff/new")
    body = {
        "login": "newnurse",
        "full_name": "Nia New",
        "roles": ["nurse"],
        "password": "a brand new temporary passphrase",
        "confirm": "a brand new temporary passphrase",
    }
    extra = forged(w, page, must_change_password="", totp_secret="JBSWY3DPEHPK3PXP")
    assert client.post("/admin/staff/new", data=body | extra).status_code == 302
    user = db.session.scalar(sa.select(User).where(User.login == "newnurse"))
    assert user.id != 999999 and user.roles == {Role.NURSE} and user.active
    assert user.must_change_password and user.totp_secret is None


@pytest.mark.parametrize("who", ["mine", "nurse", "manager"])
def test_z04_no_one_makes_themselves_an_administrator(client, auth, w, who):
    """The only forms a non-administrator has about themselves: password and two-factor."""
    user = auth.login(getattr(w, who))
    roles = set(user.roles)
    extra = forged(w, roles=["admin", "clinic_manager"], role="admin", user_id=str(w.admin.id))
    new = "another long and memorable passphrase"
    resp = client.post(
        "/account/password",
        data={"current_password": PASSWORD, "new_password": new, "confirm": new} | extra,
    )
    assert resp.status_code in (200, 302)
    client.post("/account/two-factor", data={"password": PASSWORD} | extra)
    db.session.expire_all()
    assert db.session.get(User, user.id).roles == roles
    assert db.session.get(User, w.admin.id).roles == {Role.ADMIN}


# ---------------------------------------------------------------------------------------------
# Clients


def test_z04_intake_and_face_sheet_keep_the_servers_identifiers(client, auth, w):
    auth.login(w.mine)
    page = page_of(client, "/clients/new")
    extra = forged(w, page, mrn="C0000001", restricted="1", search_name="x")
    resp = client.post(
        "/clients/new", data=intake_form(counselor=str(w.mine.id), legal_last_name="Lane") | extra
    )
    assert resp.status_code == 302, resp.text
    person = latest(Client)
    assert person.legal_last_name == "Lane" and person.id != 999999
    assert person.mrn not in ("C0000001", w.bravo.mrn)
    assert [e.primary_counselor_id for e in person.episodes] == [w.mine.id]
    mrn, episodes = person.mrn, [(e.id, e.phase) for e in person.episodes]
    url = f"/clients/{w.alpha.id}/edit"
    page = page_of(client, url)
    resp = client.post(url, data=intake_form(phone="555-0100") | forged(w, page, mrn="C0000001"))
    assert resp.status_code == 302, resp.text
    db.session.expire_all()
    alpha = db.session.get(Client, w.alpha.id)
    assert alpha.phone == "555-0100" and alpha.mrn != "C0000001"
    assert db.session.get(Client, w.bravo.id).phone != "555-0100"
    assert [(e.id, e.phase) for e in db.session.get(Client, person.id).episodes] == episodes
    assert db.session.get(Client, person.id).mrn == mrn


# ---------------------------------------------------------------------------------------------
# Notes


def test_z04_a_new_note_is_a_draft_by_its_writer_on_the_urls_episode(client, auth, w):
    auth.login(w.mine)
    url = f"/notes/new/{w.a_episode.id}?format=dap"
    extra = forged(w, page_of(client, url), session_id=str(w.b_note.session_id))
    resp = client.post(url, data=dap_form() | extra)
    assert resp.status_code == 302, resp.text
    note = latest(Note)
    assert note.id != 999999 and note.author_id == w.mine.id
    assert note.session.episode_id == w.a_episode.id and note.session.staff_id == w.mine.id
    assert note.status is NoteStatus.DRAFT and note.signed_at is None
    assert (note.signed_by_id, note.cosigned_by_id, note.content_sha256) == (None, None, "")
    assert note.version == 1


def test_z04_editing_signing_and_adding_to_a_note_keep_the_signer(client, auth, w):
    _, draft = session_with_note(w.a_episode, w.mine, day=date(2026, 11, 23))
    auth.login(w.mine)
    url = f"/notes/{draft.id}/edit"
    resp = client.post(
        url, data=dap_form(session_date="2026-11-23") | forged(w, page_of(client, url))
    )
    assert resp.status_code == 302, resp.text
    note = latest(Note)
    assert (note.author_id, note.status, note.signed_at) == (w.mine.id, NoteStatus.DRAFT, None)
    assert note.session.episode_id == w.a_episode.id
    url = f"/notes/{draft.id}/sign"
    resp = client.post(url, data={"password": PASSWORD} | forged(w, page_of(client, url)))
    assert resp.status_code == 302, resp.text
    note = latest(Note)
    assert (note.status, note.signed_by_id, note.author_id) == (
        NoteStatus.SIGNED,
        w.mine.id,
        w.mine.id,
    )
    assert note.cosigned_by_id is None and note.signed_at.year == 2026
    assert note.content_sha256 != "0" * 64
    url = f"/notes/{draft.id}/addendum"
    body = {"reason": "Late entry", "text": "Client called after the session."}
    resp = client.post(url, data=body | forged(w, page_of(client, url), author_name="Someone"))
    assert resp.status_code == 302, resp.text
    added = latest(Addendum)
    assert (added.note_id, added.author_id, added.author_name) == (
        draft.id,
        w.mine.id,
        "Casey Mine",
    )


def test_z04_a_cosignature_is_the_supervisors_own(client, auth, w, make):
    trainee = make.user(Role.COUNSELOR, full_name="Tia Trainee", needs_supervision=True)
    w.a_episode.primary_counselor_id = trainee.id
    db.session.commit()
    _, draft = session_with_note(w.a_episode, trainee, day=date(2026, 11, 23))
    from casemgr.notes import services as notes

    notes.sign(db.session, draft, PASSWORD, actor=trainee, now=NOW)
    db.session.commit()
    auth.login(w.supervisor)
    extra = forged(w, page_of(client, f"/notes/{draft.id}"))
    resp = client.post(f"/notes/{draft.id}/cosign", data={"password": PASSWORD} | extra)
    assert resp.status_code == 302, resp.text
    note = latest(Note)
    assert (note.cosigned_by_id, note.signed_by_id, note.author_id) == (
        w.supervisor.id,
        trainee.id,
        trainee.id,
    )


# ---------------------------------------------------------------------------------------------
# Treatment and continuing-care plans


def test_z04_a_treatment_plan_keeps_its_workflow_and_signer(client, auth, w):
    auth.login(w.mine)
    plan = w.a_plan
    url = f"/plans/{plan.id}/edit"
    extra = forged(w, page_of(client, url), number="7", supersedes_id=str(w.b_plan.id))
    resp = client.post(url, data={"strengths": "Resilient; supportive sister."} | extra)
    assert resp.status_code == 302, resp.text
    row = latest(TreatmentPlan)
    assert row.id == plan.id and row.strengths == "Resilient; supportive sister."
    assert (row.status, row.number, row.supersedes_id, row.episode_id) == (
        PlanStatus.DRAFT,
        1,
        None,
        w.a_episode.id,
    )
    assert row.version != 999
    url = f"/plans/{plan.id}/sign"
    body = {"password": PASSWORD, "client_agreed": "y", "client_agreed_on": "2026-11-25"}
    resp = client.post(url, data=body | forged(w, page_of(client, url)))
    assert resp.status_code == 302, resp.text
    row = latest(TreatmentPlan)
    assert (row.status, row.signed_by_id, row.episode_id) == (
        PlanStatus.SIGNED,
        w.mine.id,
        w.a_episode.id,
    )


def test_z04_a_continuing_care_plan_keeps_its_workflow_and_signer(client, auth, w):
    auth.login(w.mine)
    plan = w.e_plan
    url = f"/aftercare/plans/{plan.id}/edit"
    page = page_of(client, url)
    body = asdict(FIELDS) | {"session_schedule": "IOP Monday and Wednesday"}
    resp = client.post(url, data=body | forged(w, page, number="7"))
    assert resp.status_code == 302, resp.text
    row = db.session.get(ContinuingCarePlan, plan.id)
    db.session.refresh(row)
    assert (row.status, row.number, row.episode_id, row.created_by_id) == (
        PlanStatus.DRAFT,
        1,
        w.e_episode.id,
        w.mine.id,
    )
    url = f"/aftercare/plans/{plan.id}/sign"
    resp = client.post(url, data={"password": PASSWORD} | forged(w, page_of(client, url)))
    assert resp.status_code == 302, resp.text
    db.session.refresh(row)
    assert (row.status, row.signed_by_id) == (PlanStatus.SIGNED, w.mine.id)


# ---------------------------------------------------------------------------------------------
# Consents and disclosures


def test_z04_a_consent_belongs_to_the_urls_client_and_its_recorder(client, auth, w):
    auth.login(w.mine)
    url = f"/consents/clients/{w.alpha.id}/new"
    extra = forged(
        w,
        page_of(client, url),
        recorded_by_id=str(w.theirs.id),
        revoked_on="2026-11-25",
        revoked_by_id=str(w.theirs.id),
        revocation_note="forged",
        scan_file="../../../etc/passwd",
        scan_sha256="0" * 64,
    )
    resp = client.post(url, data=consent_form() | extra)
    assert resp.status_code == 302, resp.text
    consent = latest(Consent)
    assert consent.id != 999999 and consent.client_id == w.alpha.id
    assert (consent.recorded_by_id, consent.revoked_on, consent.revoked_by_id) == (
        w.mine.id,
        None,
        None,
    )
    assert (consent.scan_file, consent.scan_sha256, consent.revocation_note) == ("", "", "")


def test_z04_a_disclosure_records_what_the_server_released(client, auth, w):
    recorded_consent(w.alpha, w.mine)
    auth.login(w.mine)
    url = f"/consents/clients/{w.alpha.id}/disclose"
    extra = forged(
        w,
        page_of(client, url),
        consent_id=str(w.b_consent.id),
        printed_report_id=str(w.b_report.id),
        kind="emergency",
    )
    resp = client.post(url, data=disclose_form() | extra)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf", resp.text[:500]
    disclosure = latest(Disclosure)
    assert (disclosure.client_id, disclosure.kind, disclosure.released_by_id) == (
        w.alpha.id,
        "consent",
        w.mine.id,
    )
    assert disclosure.consent_id != w.b_consent.id
    assert disclosure.sha256 == hashlib.sha256(resp.data).hexdigest()
    report = db.session.get(PrintedReport, disclosure.printed_report_id)
    assert (report.client_id, report.generated_by_id) == (w.alpha.id, w.mine.id)


# ---------------------------------------------------------------------------------------------
# Medication orders and doses


def test_z04_a_physicians_order_is_in_their_own_name(client, auth, w):
    auth.login(w.physician)
    url = f"/mar/{w.d_episode.id}/orders/new"
    extra = forged(
        w,
        page_of(client, url),
        verbal="y",
        discontinued_at="2026-11-25T10:00",
        discontinued_by_id=str(w.theirs.id),
        drug_id="1",
    )
    resp = client.post(url, data=order_form() | extra)
    assert resp.status_code == 302, resp.text
    order = latest(MedicationOrder)
    assert order.id != 999999 and order.episode_id == w.d_episode.id
    assert (order.ordered_by_id, order.entered_by_id, order.verbal) == (
        w.physician.id,
        w.physician.id,
        False,
    )
    assert (order.cosigned_at, order.discontinued_at, order.drug.code) == (None, None, "clonidine")


def test_z04_a_nurses_verbal_order_waits_for_the_physician(client, auth, w):
    auth.login(w.nurse)
    url = f"/mar/{w.d_episode.id}/orders/new"
    extra = forged(w, page_of(client, url), verbal="")
    assert "ordered_by" not in extra  # the form's own field names the physician
    resp = client.post(url, data=order_form(ordered_by=str(w.physician.id)) | extra)
    assert resp.status_code == 302, resp.text
    order = latest(MedicationOrder)
    assert (order.ordered_by_id, order.entered_by_id, order.verbal) == (
        w.physician.id,
        w.nurse.id,
        True,
    )
    assert order.cosigned_at is None and order.awaiting_cosign


def test_z04_a_dose_is_given_by_the_signed_in_nurse_with_no_forged_witness(client, auth, w):
    """Ondansetron is not controlled: no witness is asked for, and a posted witness_id (or
    nurse_id, override physician, episode, order) is not stored."""
    from casemgr.mar import services as mar

    auth.login(w.outsider_nurse)
    slot = mar.slot_arg(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    url = f"/mar/orders/{w.a_order.id}/give?slot={slot}"
    extra = forged(
        w,
        page_of(client, url),
        order_id=str(w.b_order.id),
        recorded_at="2020-01-01T00:00",
        dose_milli="1",
    )
    resp = client.post(url, data=dose_form() | extra)
    assert resp.status_code == 302, resp.text
    dose = latest(MedicationAdministration)
    assert (dose.nurse_id, dose.witness_id, dose.override_physician_id) == (
        w.outsider_nurse.id,
        None,
        None,
    )
    assert (dose.order_id, dose.episode_id, dose.dose_milli) == (
        w.a_order.id,
        w.d_episode.id,
        4000,
    )
    assert dose.recorded_at == NOW


# ---------------------------------------------------------------------------------------------
# Withdrawal assessments and drug screens


def test_z04_an_assessment_is_scored_by_the_server_for_the_signed_in_nurse(client, auth, w):
    auth.login(w.outsider_nurse)
    url = f"/detox/{w.d_episode.id}/cows"
    extra = forged(w, page_of(client, url), band="mild", items_json="{}", instrument="ciwa_ar")
    resp = client.post(url, data=cows_form() | extra)
    assert resp.status_code == 302, resp.text
    row = latest(WithdrawalAssessment)
    assert (row.episode_id, row.nurse_id, row.instrument) == (
        w.d_episode.id,
        w.outsider_nurse.id,
        "cows",
    )
    assert (row.total, row.band) == (20, "moderate")


def test_z04_a_drug_screen_is_collected_by_the_signed_in_staff(client, auth, w):
    auth.login(w.mine)
    url = f"/screens/new/{w.a_episode.id}"
    resp = client.post(url, data=screen_form() | forged(w, page_of(client, url)))
    assert resp.status_code == 302, resp.text
    screen = latest(DrugScreen)
    assert (screen.episode_id, screen.collector_id, screen.id) != (None, None, 999999)
    assert (screen.episode_id, screen.collector_id) == (w.a_episode.id, w.mine.id)


# ---------------------------------------------------------------------------------------------
# Aftercare: check-ins and relapse events


def test_z04_a_check_in_keeps_its_schedule_and_records_its_writer(client, auth, w):
    auth.login(w.mine)
    row = w.e_check_in
    due, kind = row.due_on, row.kind
    url = f"/aftercare/check-ins/{row.id}"
    extra = forged(w, page_of(client, url), due_on="2030-01-01", kind="followup_30")
    resp = client.post(url, data=check_in_form() | extra)
    assert resp.status_code == 302, resp.text
    db.session.expire_all()
    row = db.session.get(CheckIn, row.id)
    assert (row.status, row.recorded_by_id, row.episode_id) == ("done", w.mine.id, w.e_episode.id)
    assert (row.due_on, row.kind) == (due, kind) and row.version != 999


def test_z04_a_relapse_is_recorded_by_the_signed_in_counselor(client, auth, w):
    auth.login(w.mine)
    url = f"/aftercare/{w.e_episode.id}/relapse"
    extra = forged(
        w,
        page_of(client, url),
        recorded_at="2020-01-01T00:00",
        trigger_lineage=w.c_trigger.lineage,
    )
    resp = client.post(url, data=relapse_form() | extra)
    assert resp.status_code == 302, resp.text
    event = latest(RelapseEvent)
    assert (event.episode_id, event.recorded_by_id, event.trigger_lineage) == (
        w.e_episode.id,
        w.mine.id,
        None,
    )
    assert event.recorded_at.year == 2026


# ---------------------------------------------------------------------------------------------
# Printing: a client's report and a batch


def test_z04_a_progress_report_is_recorded_as_printed(client, auth, w):
    auth.login(w.mine)
    url = f"/print/clients/{w.alpha.id}/progress"
    extra = forged(w, page_of(client, url), recipient="Forged Recipient", kind="discharge")
    body = {"purpose": "Court review", "start": "2026-11-01", "end": "2026-11-25"}
    resp = client.post(url, data=body | extra)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf", resp.text[:500]
    report = latest(PrintedReport)
    assert (report.client_id, report.generated_by_id, report.kind) == (
        w.alpha.id,
        w.mine.id,
        "progress",
    )
    assert report.recipient == "" and report.batch_id is None
    assert report.sha256 == hashlib.sha256(resp.data).hexdigest()


def test_z04_a_batch_is_requested_and_printed_by_the_signed_in_manager(
    app, client, auth, w, monkeypatch
):
    from casemgr.printing import record
    from tests.printing.batch_helpers import batch_id_of, fake_progress, request_key

    monkeypatch.setitem(app.config, "BATCH_RUNNER", "inline")
    monkeypatch.setitem(app.config, "BATCH_SQLITE_PAUSE_MS", 0)
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)
    auth.login(w.manager)
    page = page_of(client, "/print/batches/new")
    body = {
        "request_key": request_key(page),
        "scope": "all",
        "output": "combined",
        "purpose": "Payer review",
    }
    extra = forged(
        w, page, recipient="Forged Recipient", file_name="../../evil.pdf", done="99", status="done"
    )
    batch_id = batch_id_of(client.post("/print/batches/new", data=body | extra))
    batch = db.session.get(ReportBatch, batch_id)
    db.session.refresh(batch)
    assert (batch.requested_by_id, batch.recipient, batch.status) == (w.manager.id, "", "done")
    assert batch.file_name != "../../evil.pdf" and "/" not in batch.file_name
    download = client.get(f"/print/batches/{batch_id}/download")
    assert download.status_code == 200
    assert batch.sha256 == hashlib.sha256(download.data).hexdigest()
    printed = db.session.scalars(
        sa.select(PrintedReport).where(PrintedReport.batch_id == batch_id)
    ).all()
    assert len(printed) == 5 and {p.generated_by_id for p in printed} == {w.manager.id}


# ---------------------------------------------------------------------------------------------
# Groups and episodes


def test_z04_a_group_meeting_is_the_facilitators_own(client, auth, w):
    auth.login(w.mine)
    url = f"/groups/{w.a_group.id}/meetings/new"
    body = {
        "meeting_date": "2026-11-25",
        "start_time": "08:30",
        "end_time": "10:00",
        "topic": "Riding out a craving",
        "seats-0-episode_id": str(w.a_episode.id),
        "seats-0-attendance": "attended",
        "seats-0-participation": "Named two triggers.",
    }
    extra = forged(w, page_of(client, url), group_id=str(w.b_group.id))
    resp = client.post(url, data=body | extra)
    assert resp.status_code == 302, resp.text
    meeting = latest(GroupMeeting)
    assert (meeting.group_id, meeting.facilitator_id, meeting.created_by_id) == (
        w.a_group.id,
        w.mine.id,
        w.mine.id,
    )
    [seat] = meeting.seats
    assert (seat.episode_id, seat.note.author_id, seat.note.status) == (
        w.a_episode.id,
        w.mine.id,
        NoteStatus.DRAFT,
    )


def test_z04_a_phase_move_keeps_the_caseload(client, auth, w):
    auth.login(w.mine)
    url = f"/episodes/{w.a_episode.id}/phase"
    body = {"target": "aftercare", "effective_at": "2026-11-25T10:00", "reason": "Stepped down"}
    extra = forged(
        w, page_of(client, url), primary_counselor_id=str(w.theirs.id), by_id=str(w.theirs.id)
    )
    resp = client.post(url, data=body | extra)
    assert resp.status_code == 302, resp.text
    db.session.expire_all()
    episode = db.session.get(type(w.a_episode), w.a_episode.id)
    assert episode.primary_counselor_id == w.mine.id and episode.client_id == w.alpha.id
    assert episode.phase_changes[-1].by_id == w.mine.id

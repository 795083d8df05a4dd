"""Consents (42 CFR Part 2 §2.31) and disclosures under them, with their accounting (§2.25):
recording, the signed scan, revocation, printing, the one disclosure path and who may use it
(security matrix X-01, P-02, I-08, Z-02).

The clock is frozen before anyone signs in.
"""

from __future__ import annotations

import io
import os
import stat
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain import consent as rules
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import record
from casemgr.printing.models import PrintedReport
from casemgr.printing.pdf import sha256
from casemgr.privacy import consents
from casemgr.privacy.models import Consent, Disclosure
from tests.clients_helpers import NOW, TODAY
from tests.printing.helpers import assert_framed, frozen, page_texts, rehab_client, staff, text

JUDGE, COURT, PURPOSE = "Judge Ana Ortiz", "County Drug Court", "Drug court compliance review"
PDF_SCAN = b"%PDF-1.4\n% a signed consent, scanned\n%%EOF\n"


@pytest.fixture
def team(make):
    return staff(make)


@pytest.fixture
def clock():
    with frozen():
        yield


@pytest.fixture
def person(team, clock):
    return rehab_client(team)[0]


def consent_form(**overrides) -> dict:
    data = {
        "kind": "general",
        "discloser": "Test Recovery Center",
        "information": sorted(rules.PROGRESS_REPORT),
        "information_detail": "Records from admission to the date of release.",
        "recipient_kind": "named",
        "recipient_name": JUDGE,
        "recipient_organisation": COURT,
        "purpose": PURPOSE,
        "expiry_kind": "date",
        "expires_on": "2027-05-20",
        "expiry_event": "",
        "revocation_statement": rules.DEFAULT_REVOCATION_STATEMENT,
        "signed_by": "client",
        "representative_name": "",
        "representative_authority": "",
        "signature_method": "paper",
        "signed_on": "2026-11-25",
        "typed_signature": "",
        "record": "Record the signed consent",
    }
    return {**data, **overrides}


def with_scan(data: bytes = PDF_SCAN, name: str = "signed.pdf", **overrides) -> dict:
    return {**consent_form(**overrides), "scan": (io.BytesIO(data), name)}


def recorded(person, by, **overrides) -> Consent:
    """A consent signed in the app, recorded through the service as the view does."""
    fields = consent_form(**overrides)
    terms = rules.Terms(
        kind=fields["kind"],
        discloser=fields["discloser"],
        information=frozenset(fields["information"]),
        information_detail=fields["information_detail"],
        recipient_kind=fields["recipient_kind"],
        recipient_name=fields["recipient_name"],
        recipient_organisation=fields["recipient_organisation"],
        purpose=fields["purpose"],
        expiry_kind=fields["expiry_kind"],
        expires_on=date.fromisoformat(fields["expires_on"]) if fields["expires_on"] else None,
        expiry_event=fields["expiry_event"],
        revocation_statement=fields["revocation_statement"],
        signed_by=fields["signed_by"],
    )
    signing = rules.Signing(
        rules.APP, date.fromisoformat(fields["signed_on"]), False, "Dana Rivers"
    )
    consent = consents.record_consent(
        db.session, person, terms, signing, scan=None, by=by, today=TODAY, instance_path="unused"
    )
    db.session.commit()
    return consent


def disclose_form(**overrides) -> dict:
    data = {
        "recipient": JUDGE,
        "purpose": PURPOSE,
        "information": sorted(rules.PROGRESS_REPORT),
        "start": "2026-11-01",
        "end": "2026-11-25",
    }
    return {**data, **overrides}


def rows(model) -> list:
    return list(db.session.scalars(sa.select(model).order_by(model.id)))


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def scans(app) -> list[Path]:
    folder = Path(app.instance_path) / "consents"
    return sorted(folder.iterdir()) if folder.exists() else []


# ---------------------------------------------------------------------------------------------
# Recording a consent


def test_the_form_shows_every_element_and_the_configured_revocation_statement(
    app, client, auth, team, person
):
    auth.login(team.manager)
    page = client.get(f"/consents/clients/{person.id}/new")
    assert page.status_code == 200, page.headers.get("Location")
    assert page.headers["Cache-Control"] == "no-store"
    for label in (
        "Kind of consent",
        "Who may disclose",
        "Information to be disclosed",
        "Description of the information",
        "Recipient&#39;s name",
        "Recipient&#39;s organisation",
        "Purpose of the disclosure",
        "Expires",
        "Statement of the right to revoke",
        "Signed by",
        "Representative&#39;s authority",
        "Date signed",
        "Scan of the signed consent",
    ):
        assert label in page.text, label
    assert "except to the extent that action has been taken in reliance on it" in page.text
    assert 'value="Test Recovery Center"' in page.text
    app.config["CONSENT_REVOCATION_STATEMENT"] = "I may revoke this consent in writing, Room 2."
    assert (
        "I may revoke this consent in writing, Room 2."
        in client.get(f"/consents/clients/{person.id}/new").text
    )


def test_a_paper_consent_is_recorded_with_its_scan_kept_privately(app, client, auth, team, person):
    auth.login(team.manager)
    resp = client.post(f"/consents/clients/{person.id}/new", data=with_scan())
    assert resp.status_code == 302, resp.text
    (consent,) = rows(Consent)
    assert resp.headers["Location"] == f"/consents/{consent.id}"
    assert (consent.client_id, consent.kind, consent.recipient_name) == (
        person.id,
        "general",
        JUDGE,
    )
    assert consent.information == (
        "attendance,drug_screens,treatment_plan_progress,diagnosis,medications"
    )
    assert (consent.signature_method, consent.signed_on) == ("paper", TODAY)
    assert consent.expires_on == date(2027, 5, 20) and consent.recorded_by_id == team.manager.id
    (stored,) = scans(app)
    assert stored.name == consent.scan_file and stored.name.endswith(".bin")
    assert "signed" not in stored.name
    assert stat.S_IMODE(os.stat(stored).st_mode) == 0o600
    assert consent.scan_sha256 == sha256(PDF_SCAN) == sha256(stored.read_bytes())

    page = client.get(f"/consents/{consent.id}")
    assert page.status_code == 200 and JUDGE in page.text and consent.scan_sha256 in page.text
    download = client.get(f"/consents/{consent.id}/scan")
    assert download.status_code == 200 and download.data == PDF_SCAN
    assert download.mimetype == "application/pdf"
    assert download.headers["Content-Disposition"].startswith("attachment;")
    assert download.headers["Cache-Control"] == "no-store"
    assert download.headers["Content-Security-Policy"] == "sandbox"
    assert {"consents.created", "consent.viewed", "consent.scan_downloaded"} <= set(actions())


def test_a_png_or_jpeg_scan_is_accepted_and_served_as_such(client, auth, team, person):
    auth.login(team.manager)
    for data, mimetype in (
        (b"\x89PNG\r\n\x1a\n" + b"\0" * 64, "image/png"),
        (b"\xff\xd8\xff\xe0" + b"\0" * 64, "image/jpeg"),
    ):
        resp = client.post(f"/consents/clients/{person.id}/new", data=with_scan(data, "scan.bin"))
        assert resp.status_code == 302
        assert client.get(resp.headers["Location"] + "/scan").mimetype == mimetype


@pytest.mark.parametrize(
    ("data", "name", "message"),
    [
        (b"<html><script>alert(1)</script></html>", "consent.pdf", "PDF, PNG or JPEG"),
        (b"<svg xmlns='http://www.w3.org/2000/svg'/>", "../../casemgr.sqlite3", "PDF, PNG or JPEG"),
        (b"%PDF-" + b"0" * (5 * 1024 * 1024), "big.pdf", "larger than 5 MB"),
    ],
    ids=["html-named-pdf", "svg-with-a-path", "over-5-MB"],
)
def test_a_bad_scan_is_refused_next_to_the_field(
    app, client, auth, team, person, data, name, message
):
    auth.login(team.manager)
    resp = client.post(f"/consents/clients/{person.id}/new", data=with_scan(data, name))
    assert resp.status_code == 200 and message in resp.text
    assert 'id="scan-error"' in resp.text
    assert rows(Consent) == [] and scans(app) == []


def test_a_request_far_over_the_limit_is_refused_before_it_is_read(app, client, auth, team, person):
    auth.login(team.manager)
    huge = b"%PDF-" + b"0" * (6 * 1024 * 1024)
    resp = client.post(f"/consents/clients/{person.id}/new", data=with_scan(huge))
    assert resp.status_code == 413
    assert rows(Consent) == [] and scans(app) == []


def test_a_paper_signature_needs_the_scan_and_an_app_signature_the_signers_name(
    client, auth, team, person
):
    auth.login(team.manager)
    url = f"/consents/clients/{person.id}/new"
    resp = client.post(url, data=consent_form())
    assert resp.status_code == 200 and "Attach the scan of the signed consent" in resp.text
    resp = client.post(url, data=consent_form(signature_method="app", typed_signature="Someone"))
    assert "does not match the signer" in resp.text and rows(Consent) == []
    resp = client.post(
        url, data=consent_form(signature_method="app", typed_signature="dana rivers")
    )
    assert resp.status_code == 302
    (consent,) = rows(Consent)
    assert consent.signature_method == "app" and consent.scan_file == ""


def test_every_missing_element_is_shown_next_to_its_field(client, auth, team, person):
    auth.login(team.manager)
    resp = client.post(
        f"/consents/clients/{person.id}/new",
        data=with_scan(
            discloser="",
            information=[],
            recipient_name="",
            recipient_organisation="",
            purpose="",
            expires_on="",
            revocation_statement="",
            signed_by="representative",
        ),
    )
    assert resp.status_code == 200 and rows(Consent) == []
    for field in (
        "discloser",
        "information",
        "recipient_name",
        "purpose",
        "expires_on",
        "revocation_statement",
        "representative_name",
        "representative_authority",
    ):
        assert f'id="{field}-error"' in resp.text, field


@pytest.mark.parametrize(
    ("kind", "information", "message"),
    [
        ("general", ["attendance", "counseling_notes"], "need a consent of their own"),
        (
            "counseling_notes",
            ["attendance", "counseling_notes"],
            "covers SUD counseling notes only",
        ),
    ],
)
def test_counseling_notes_are_a_separate_kind(
    client, auth, team, person, kind, information, message
):
    auth.login(team.manager)
    resp = client.post(
        f"/consents/clients/{person.id}/new", data=with_scan(kind=kind, information=information)
    )
    assert (
        resp.status_code == 200 and message in resp.text and 'id="information-error"' in resp.text
    )
    assert rows(Consent) == []


def test_no_expiry_is_only_for_a_tpo_consent(client, auth, team, person):
    auth.login(team.manager)
    url = f"/consents/clients/{person.id}/new"
    resp = client.post(url, data=with_scan(expiry_kind="none"))
    assert "Only a TPO consent may have no expiry" in resp.text and rows(Consent) == []
    resp = client.post(
        url, data=with_scan(expiry_kind="none", recipient_kind="tpo", purpose=rules.TPO_PURPOSE)
    )
    assert resp.status_code == 302
    (consent,) = rows(Consent)
    assert consent.recipient_name == "" and consent.expires_on is None


# ---------------------------------------------------------------------------------------------
# Revoking and printing


def test_a_revocation_is_recorded_and_disclosures_before_it_stay(client, auth, team, person):
    consent = recorded(person, team.manager)
    auth.login(team.manager)
    assert (
        client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form()).status_code
        == 200
    )
    page = client.get(f"/consents/{consent.id}/revoke")
    assert page.status_code == 200 and 'value="2026-11-25"' in page.text
    resp = client.post(
        f"/consents/{consent.id}/revoke", data={"revoked_on": "2026-11-26", "note": "Letter"}
    )
    assert resp.status_code == 200 and "cannot be dated after today" in resp.text
    resp = client.post(
        f"/consents/{consent.id}/revoke",
        data={"revoked_on": "2026-11-25", "note": "Signed letter from the client, 2026-11-25."},
    )
    assert resp.status_code == 302
    db.session.refresh(consent)
    assert consent.revoked_on == TODAY and consent.revoked_by_id == team.manager.id
    assert consent.revocation_note.startswith("Signed letter")
    assert len(rows(Disclosure)) == 1  # what was disclosed before stays recorded
    index = client.get(f"/consents/clients/{person.id}")
    assert "Revoked" in index.text and JUDGE in index.text
    again = client.post(
        f"/consents/{consent.id}/revoke", data={"revoked_on": "2026-11-25", "note": "x"}
    )
    assert again.status_code == 200 and "was revoked on 2026-11-25" in again.text
    updated = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "consents.updated")
    ).all()
    assert len(updated) == 1 and "revoked_on" in updated[0].detail


def test_the_consent_prints_for_signature_with_every_element(client, auth, team, person):
    consent = recorded(person, team.manager, information_detail="From admission to release.")
    auth.login(team.manager)
    resp = client.get(f"/consents/{consent.id}/print")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    pages = assert_framed(resp.data)
    body = " ".join(pages)
    for element in (
        "Dana Rivers",
        person.mrn,
        "Test Recovery Center",
        "Attendance",
        "Drug screen results",
        "From admission to release.",
        f"{JUDGE}, {COURT}",
        PURPOSE,
        "expires on 2027-05-20",
        "except to the extent that action has been taken in reliance on it",
        "Signature of the client",
        "Date signed",
        "In the app, on 2026-11-25",
    ):
        assert element in body, element
    (row,) = rows(PrintedReport)
    assert (row.kind, row.client_id, row.sha256) == ("consent", person.id, sha256(resp.data))
    # The print is recorded as it was: revoking later does not change what re-renders.
    consents.revoke(db.session, consent, on=TODAY, note="Letter", by=team.manager, today=TODAY)
    db.session.commit()
    assert record.check(db.session, row)


def test_a_consent_is_printed_from_the_form_before_it_is_signed(client, auth, team, person):
    auth.login(team.manager)
    data = consent_form(signed_by="representative", representative_name="Lee Rivers")
    data["representative_authority"] = "Parent and legal guardian of a minor"
    data["print_blank"] = "Print for signature"
    del data["record"]
    url = f"/consents/clients/{person.id}/new"
    early = client.post(url, data={**data, "expires_on": "2026-11-25"})  # signed today at best
    assert early.mimetype == "text/html" and 'id="expires_on-error"' in early.text
    resp = client.post(url, data=data)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    body = " ".join(assert_framed(resp.data))
    assert "Signature of the authorised representative" in body and "Lee Rivers" in body
    assert "Parent and legal guardian of a minor" in body and "As recorded" not in body
    assert rows(Consent) == []
    (row,) = rows(PrintedReport)
    assert row.kind == "consent" and row.sha256 == sha256(resp.data)


def test_a_tpo_consent_prints_the_redisclosure_statement(client, auth, team, person):
    consent = recorded(
        person, team.manager, recipient_kind="tpo", purpose=rules.TPO_PURPOSE, expiry_kind="none"
    )
    auth.login(team.manager)
    body = text(client.get(f"/consents/{consent.id}/print").data)
    assert "treating providers, health plans, third-party payers" in body
    assert "as the HIPAA rules permit" in body and "does not expire" in body


# ---------------------------------------------------------------------------------------------
# Disclosing


def refused(client, person, message: str, **fields):
    resp = client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form(**fields))
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert message in resp.text, resp.text
    assert rows(PrintedReport) == [] and rows(Disclosure) == []
    return resp


def test_no_consent_refuses(client, auth, team, person):
    auth.login(team.manager)
    refused(client, person, "There is no consent on file for this client")
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "disclosure.refused")
    )
    assert event.client_id == person.id and '"reason":"none"' in event.detail


def test_an_expired_consent_refuses(client, auth, team, person):
    recorded(person, team.manager, expires_on="2026-11-30")
    with frozen(datetime(2026, 12, 1, 15, tzinfo=UTC)):
        auth.login(team.manager)
        refused(client, person, "expired on 2026-11-30")


def test_a_revoked_consent_refuses(client, auth, team, person):
    consent = recorded(person, team.manager)
    consents.revoke(db.session, consent, on=TODAY, note="Letter", by=team.manager, today=TODAY)
    db.session.commit()
    auth.login(team.manager)
    refused(client, person, "was revoked on 2026-11-25")


def test_a_consent_for_another_recipient_refuses(client, auth, team, person):
    recorded(person, team.manager)
    auth.login(team.manager)
    resp = refused(client, person, "not “County Probation”", recipient="County Probation")
    assert 'id="recipient-error"' in resp.text


def test_a_consent_for_another_purpose_refuses(client, auth, team, person):
    recorded(person, team.manager)
    auth.login(team.manager)
    resp = refused(client, person, "not “Employment screening”", purpose="Employment screening")
    assert 'id="purpose-error"' in resp.text


def test_information_the_consent_does_not_cover_refuses(client, auth, team, person):
    recorded(person, team.manager, information=["attendance", "drug_screens"])
    auth.login(team.manager)
    resp = refused(
        client, person, "does not cover: Treatment plan and progress, Diagnosis, Medications"
    )
    assert 'id="information-error"' in resp.text


def test_releasing_less_than_the_report_contains_is_refused(client, auth, team, person):
    recorded(person, team.manager)
    auth.login(team.manager)
    refused(
        client,
        person,
        "also contains Medications",
        information=["attendance", "drug_screens", "treatment_plan_progress", "diagnosis"],
    )


def test_use_in_legal_proceedings_needs_its_own_consent(client, auth, team, person):
    recorded(person, team.manager)
    auth.login(team.manager)
    refused(client, person, "needs a separate legal-proceedings consent", legal_proceeding="y")


def test_a_valid_consent_releases_the_report_and_records_the_disclosure(client, auth, team, person):
    consent = recorded(person, team.manager)
    auth.login(team.manager)
    page = client.get(f"/consents/clients/{person.id}/disclose")
    assert page.status_code == 200 and f'<option value="{JUDGE}">' in page.text
    resp = client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form())
    assert resp.status_code == 200 and resp.mimetype == "application/pdf", resp.text
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="disclosure-{person.mrn}-2026-11-25.pdf"'
    )
    pages = page_texts(resp.data)
    assert len(pages) > 1
    for number, page_text in enumerate(pages, start=1):
        assert "42 CFR part 2" in page_text, number
    assert JUDGE in pages[0] and PURPOSE in pages[0]
    (report,) = rows(PrintedReport)
    (disclosure,) = rows(Disclosure)
    assert report.kind == "progress" and report.recipient == JUDGE and report.purpose == PURPOSE
    assert disclosure.sha256 == report.sha256 == sha256(resp.data)
    assert (disclosure.kind, disclosure.consent_id, disclosure.printed_report_id) == (
        "consent",
        consent.id,
        report.id,
    )
    assert (disclosure.client_id, disclosure.released_by_id, disclosure.released_at) == (
        person.id,
        team.manager.id,
        NOW,
    )
    assert (disclosure.period_start, disclosure.period_end) == (date(2026, 11, 1), TODAY)
    assert disclosure.information == consent.information
    assert {"report.printed", "disclosures.created"} <= set(actions())
    # Which consent matched is shown on the next page.
    index = client.get(f"/consents/clients/{person.id}")
    assert f"under the consent signed 2026-11-25 (consent {consent.id})" in index.text
    assert "Accounting of disclosures" in index.text and report.sha256[:12] in index.text


def test_the_accounting_lists_disclosures_of_three_years_and_prints(client, auth, team, person):
    consent = recorded(person, team.manager, purpose="Court review", signed_on="2026-11-02")
    old = Disclosure(
        client_id=person.id,
        kind="consent",
        consent_id=consent.id,
        released_at=datetime(2023, 11, 20, tzinfo=UTC),  # more than three years ago
        released_by_id=team.manager.id,
        recipient="Old Recipient",
        purpose="Court review",
        information="attendance",
    )
    emergency = Disclosure(
        client_id=person.id,
        kind="emergency",
        released_at=datetime(2026, 11, 10, 3, tzinfo=UTC),
        released_by_id=team.nurse.id,
        recipient="Dr. Reyes, St. Mary's Emergency Department",
        purpose="Medical emergency",
        information="medications",
    )
    db.session.add_all([old, emergency])
    db.session.commit()
    auth.login(team.manager)
    client.post(
        f"/consents/clients/{person.id}/disclose", data=disclose_form(purpose="Court review")
    )
    listed = consents.accounting(db.session, person.id, NOW)
    assert [d.recipient for d in listed] == [JUDGE, emergency.recipient]
    resp = client.get(f"/consents/clients/{person.id}/accounting.pdf")
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Cache-Control"] == "no-store"
    body = " ".join(assert_framed(resp.data))
    assert JUDGE in body and "St. Mary" in body and "Medical emergency (§2.51)" in body
    assert "Old Recipient" not in body and "Dana Rivers" in body
    printed = rows(PrintedReport)[-1]
    assert printed.kind == "accounting" and printed.sha256 == sha256(resp.data)
    assert record.check(db.session, printed)


# ---------------------------------------------------------------------------------------------
# Who may do what


def test_the_primary_counselor_manages_consents_for_their_caseload_only(
    client, auth, team, person, make
):
    auth.login(team.counselor)
    resp = client.post(f"/consents/clients/{person.id}/new", data=with_scan())
    assert resp.status_code == 302
    (consent,) = rows(Consent)
    assert client.get(f"/consents/{consent.id}/print").status_code == 200
    assert (
        client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form()).status_code
        == 200
    )
    assert len(rows(Disclosure)) == 1
    auth.logout()
    auth.login(make.user(Role.COUNSELOR))  # not this client's counselor: out of scope
    for url in (
        f"/consents/clients/{person.id}",
        f"/consents/{consent.id}",
        f"/consents/{consent.id}/print",
        f"/consents/{consent.id}/scan",
        f"/consents/clients/{person.id}/accounting.pdf",
    ):
        assert client.get(url).status_code == 404, url
    resp = client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form())
    assert resp.status_code == 404 and len(rows(Disclosure)) == 1


def test_a_nurse_reads_consents_but_may_not_write_print_or_disclose(client, auth, team, person):
    consent = recorded(person, team.manager)  # the nurse screened this client: in scope
    auth.login(team.nurse)
    assert client.get(f"/consents/clients/{person.id}").status_code == 200
    assert client.get(f"/consents/{consent.id}").status_code == 200
    for method, url, data in (
        ("POST", f"/consents/clients/{person.id}/new", with_scan()),
        ("POST", f"/consents/{consent.id}/revoke", {"revoked_on": "2026-11-25", "note": "x"}),
        ("GET", f"/consents/{consent.id}/print", None),
        ("GET", f"/consents/{consent.id}/scan", None),
        ("POST", f"/consents/clients/{person.id}/disclose", disclose_form()),
        ("GET", f"/consents/clients/{person.id}/accounting.pdf", None),
    ):
        assert client.open(url, method=method, data=data).status_code == 403, url
    assert len(rows(Consent)) == 1 and rows(Disclosure) == [] and rows(PrintedReport) == []
    page = client.get(f"/consents/clients/{person.id}")
    assert "Record a consent" not in page.text and "Disclose records" not in page.text


def test_a_manager_manages_any_client(client, auth, team, person):
    consent = recorded(person, team.counselor)
    auth.login(team.manager)
    assert client.get(f"/consents/{consent.id}/print").status_code == 200
    assert client.get(f"/consents/clients/{person.id}/accounting.pdf").status_code == 200


def test_a_missing_consent_is_not_found(client, auth, team, person):
    auth.login(team.manager)
    assert client.get("/consents/999").status_code == 404
    assert client.get("/consents/999/print").status_code == 404


def test_an_altered_scan_is_not_served(app, client, auth, team, person):
    auth.login(team.manager)
    client.post(f"/consents/clients/{person.id}/new", data=with_scan())
    (consent,) = rows(Consent)
    (stored,) = scans(app)
    stored.write_bytes(PDF_SCAN + b"tampered")
    assert client.get(f"/consents/{consent.id}/scan").status_code == 404
    assert "consent.scan_unavailable" in actions()


def test_a_disclosed_report_ends_with_the_consent_it_was_released_under(client, auth, team, person):
    consent = recorded(person, team.manager)
    auth.login(team.manager)

    resp = client.post(f"/consents/clients/{person.id}/disclose", data=disclose_form())

    pages = page_texts(resp.data)
    last = " ".join(" ".join(p.split()) for p in pages[-1:])
    assert "Consent under which this was released" in last
    assert all("Consent under which this was released" not in p for p in pages[:-1])
    for element in (
        f"{person.legal_first_name} {person.legal_last_name} · MRN {person.mrn}",  # client
        f"Consent number {consent.id}",
        "Who may disclose Test Recovery Center",  # who may disclose
        "Attendance, Drug screen results, Treatment plan and progress, Diagnosis, Medications",
        f"Recipient {JUDGE}, {COURT}",
        f"Purpose {PURPOSE}",
        "This consent expires on 2027-05-20.",
        "Signed The client, on 2026-11-25",
        "I understand that I may revoke this consent at any time",
        "Notice (42 CFR §2.32)",
    ):
        assert element in last, element
    # The record keeps the consent as released: a later revocation leaves the file provable.
    (report,) = rows(PrintedReport)
    consents.revoke(db.session, consent, on=TODAY, note="Letter", by=team.manager, today=TODAY)
    db.session.commit()
    assert record.check(db.session, report)


def test_a_report_printed_for_use_within_the_program_has_no_consent_page(
    client, auth, team, person
):
    auth.login(team.manager)

    resp = client.post(
        f"/print/clients/{person.id}/progress",
        data={"purpose": "Team review", "start": "2026-11-01", "end": "2026-11-25"},
    )

    assert resp.mimetype == "application/pdf", resp.text
    assert "Consent under which" not in text(resp.data)

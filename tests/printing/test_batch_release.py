"""Batch printing and issue 8: the selection leaves out clients a restriction keeps from the
manager, and a batch released outside goes through the one consent path for every client
(queued only if each has a covering consent; each report closes with its consent and is
recorded in the accounting of disclosures).
"""

import json
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain import consent as rules
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import batch, client_report, record
from casemgr.printing.models import PrintedReport, ReportBatch
from casemgr.printing.pdf import sha256
from casemgr.privacy import consents, restrictions
from casemgr.privacy.models import Disclosure
from tests.clients_helpers import NOW, TODAY
from tests.printing.batch_helpers import (
    batch_id_of,
    clients,
    fake_progress,
    pdf_pages_text,
    reports_of,
    request_key,
    submit,
)
from tests.printing.facility_helpers import PAYER, RELEASE_PURPOSE, consent_for

RELEASE = {"use": "release", "recipient": PAYER, "purpose": RELEASE_PURPOSE}


@pytest.fixture
def app(app_factory):
    app = app_factory(BATCH_RUNNER="inline", BATCH_SQLITE_PAUSE_MS=0)
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture(autouse=True)
def renderer(monkeypatch):
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)


@pytest.fixture
def clinic(make):
    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        yield SimpleNamespace(manager=manager, counselor=counselor)


def covered(people, by, **overrides):
    return {c.id: consent_for(c, by, information=rules.PROGRESS_REPORT, **overrides)
            for c, _ in people}  # fmt: skip


def rows(model) -> list:
    return list(db.session.scalars(sa.select(model).order_by(model.id)))


def refusals() -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == "disclosure.refused")
    return list(db.session.scalars(stmt.order_by(AuditEvent.seq)))


def test_the_selection_leaves_out_a_client_restricted_from_the_manager(
    app, client, auth, clinic, make
):
    people = clients(clinic.manager, clinic.counselor, 3)
    hidden = people[1][0]
    other = make.user(Role.CLINIC_MANAGER)
    restrictions.restrict(db.session, hidden, clinic.manager, "Relative", by=other, now=NOW)
    db.session.commit()

    chosen = batch.select_clients(db.session, batch.BatchFilter(), clinic.manager)
    auth.login(clinic.manager)
    job_id = batch_id_of(submit(client))

    assert hidden.id not in {s.client_id for s in chosen} and len(chosen) == 2
    assert hidden.id not in {r.client_id for r in reports_of(job_id)}
    assert db.session.get(ReportBatch, job_id).total == 2


def test_a_released_batch_goes_through_the_consent_path_for_every_client(
    app, client, auth, clinic, monkeypatch
):
    monkeypatch.setitem(record.RENDERERS, "progress", client_report.render_progress)
    people = clients(clinic.manager, clinic.counselor, 2, phase=Phase.REHAB)
    used = covered(people, clinic.manager)
    auth.login(clinic.manager)

    job = db.session.get(ReportBatch, batch_id_of(submit(client, output="combined", **RELEASE)))

    assert job.status == "done", job.error
    assert (job.recipient, job.purpose) == (PAYER, RELEASE_PURPOSE)
    reports = reports_of(job.id)
    found = {d.client_id: d for d in rows(Disclosure)}
    assert set(found) == {c.id for c, _ in people} == {r.client_id for r in reports}
    for report in reports:
        d = found[report.client_id]
        assert (d.consent_id, d.printed_report_id, d.sha256) == (
            used[report.client_id].id, report.id, report.sha256)  # fmt: skip
        assert (d.recipient, d.purpose, report.recipient) == (PAYER, RELEASE_PURPOSE, PAYER)
        pages = pdf_pages_text(client_report.render_progress(db.session, report)[0])
        assert PAYER in " ".join(pages[0].split())
        assert "Consent under which this was released" in pages[-1]
        assert f"Consent number {used[report.client_id].id}" in " ".join(pages[-1].split())
        assert record.check(db.session, report)
        assert sha256(client_report.render_progress(db.session, report)[0]) == d.sha256
    assert refusals() == []


@pytest.mark.parametrize("case", ["missing", "recipient", "revoked"])
def test_a_release_with_a_client_lacking_consent_is_not_queued(app, client, auth, clinic, case):
    people = clients(clinic.manager, clinic.counselor, 3)
    lacking = people[2][0]
    covered(people[:2], clinic.manager)
    if case == "recipient":
        consent_for(lacking, clinic.manager, information=rules.PROGRESS_REPORT,
                    recipient_organisation="Green Hills Insurance")  # fmt: skip
    elif case == "revoked":
        consent = covered(people[2:], clinic.manager)[lacking.id]
        consents.revoke(db.session, consent, on=TODAY, note="Letter", by=clinic.manager,
                        today=TODAY)  # fmt: skip
        db.session.commit()
    auth.login(clinic.manager)

    resp = submit(client, **RELEASE)

    assert resp.status_code == 200, resp.headers.get("Location")
    assert "Not queued: 1 selected client without a consent" in resp.text
    reason = resp.text.split(f"MRN {lacking.mrn}: ")[1].split("</p>")[0]
    assert {"missing": "no consent on file", "recipient": "not “", "revoked": "revoked on"}[
        case
    ] in reason
    for other, _ in people[:2]:
        assert f"MRN {other.mrn}" not in resp.text
    assert rows(ReportBatch) == [] and rows(PrintedReport) == [] and rows(Disclosure) == []
    [event] = refusals()
    assert event.client_id == lacking.id and json.loads(event.detail)["what"] == "batch"


def test_a_release_needs_a_recipient(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)

    resp = submit(client, use="release", recipient="")

    assert 'id="recipient-error"' in resp.text and "Name the recipient" in resp.text
    assert rows(ReportBatch) == []


def test_a_consent_revoked_before_the_run_stops_the_batch_before_anything_is_printed(app, clinic):
    people = clients(clinic.manager, clinic.counselor, 2)
    used = covered(people, clinic.manager)
    job, created = batch.request_batch(
        db.session, "k" * 32, batch.BatchFilter(), "zip", RELEASE_PURPOSE, PAYER,
        by=clinic.manager, now=NOW,
    )  # fmt: skip
    db.session.commit()
    assert created
    job_id, mrn = job.id, people[0][0].mrn
    consents.revoke(db.session, used[people[0][0].id], on=TODAY, note="Letter",
                    by=clinic.manager, today=TODAY)  # fmt: skip
    db.session.commit()  # and leave the session idle: SQLite's write lock is free for the run

    with time_machine.travel(NOW, tick=False):
        batch.run_batch(app, job_id)

    job = db.session.get(ReportBatch, job_id)
    assert job.status == "failed"
    assert f"no consent covers it any more for MRN {mrn}" in job.error
    assert rows(PrintedReport) == [] and rows(Disclosure) == []


def test_the_form_offers_the_use_and_the_recipient(app, client, auth, clinic):
    auth.login(clinic.manager)

    page = client.get("/print/batches/new").text

    assert 'checked id="use-0" name="use" type="radio" value="internal"' in page
    assert 'value="release"' in page and 'name="recipient"' in page and request_key(page)

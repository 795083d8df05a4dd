"""Batch printing: one click prints many clients' progress reports outside the request, into a
zip or one combined PDF, recorded per client; never twice; refresh-safe; failures leave no
half-written file; clinic managers only."""

import csv
import hashlib
import io
import threading
import time
import zipfile
from datetime import timedelta
from pathlib import Path
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from pypdf import PdfReader
from reportlab.pdfgen.canvas import Canvas

from casemgr.audit.models import AuditEvent
from casemgr.domain.care import Setting
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.printing import batch, record
from casemgr.printing.models import PrintedReport, ReportBatch, ReportBatchFile
from tests.clients_helpers import NOW, TODAY
from tests.printing.batch_helpers import (
    batch_id_of,
    clients,
    failing_at,
    fake_progress,
    latest_batch,
    pdf_pages_text,
    reports_of,
    request_key,
    submit,
    wait_until_idle,
)


@pytest.fixture
def app(app_factory):
    app = app_factory(BATCH_RUNNER="inline", BATCH_SQLITE_PAUSE_MS=0)
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture(autouse=True)
def renderer(monkeypatch):
    """The stand-in progress report (restored after the test)."""
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def clinic(make, frozen):
    manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    return SimpleNamespace(manager=manager, counselor=counselor)


def stored(batch_id: int) -> bytes:
    """The batch file as the database holds it."""
    table = ReportBatchFile.__table__
    return db.session.scalar(sa.select(table.c.content).where(table.c.batch_id == batch_id))


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


def test_a_batch_of_20_clients_gives_a_zip_of_20_recorded_pdfs_and_a_manifest(
    app, client, auth, clinic
):
    people = clients(clinic.manager, clinic.counselor, 20)
    auth.login(clinic.manager)
    resp = submit(client, output="zip", purpose="Payer review", recipient="Blue Plan")  # ignored
    job = db.session.get(ReportBatch, batch_id_of(resp))
    assert (job.status, job.done, job.total, job.output) == ("done", 20, 20, "zip")
    rows = reports_of(job.id)
    assert len(rows) == 20
    assert {r.client_id for r in rows} == {c.id for c, _ in people}
    assert all(r.kind == "progress" and r.generated_at == NOW for r in rows)
    # A batch is internal: a posted recipient is no field of it (disclosure needs a consent).
    assert all((r.purpose, r.recipient) == ("Payer review", "") for r in rows)
    assert all((r.period_start.isoformat(), r.period_end) == ("2026-11-01", TODAY) for r in rows)

    data = stored(job.id)
    assert job.file_name == f"batch-{job.id}.zip"
    assert hashlib.sha256(data).hexdigest() == job.sha256
    assert db.session.get(ReportBatchFile, job.id).size == len(data)
    assert not (Path(app.instance_path) / "reports").exists()  # nothing on this server's disk
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        assert len(names) == 21 and names[-1] == "manifest.csv"
        manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
        by_id = {r.id: r for r in rows}
        for line in manifest:
            data = archive.read(line["file"])
            assert line["file"] == f"progress-{line['mrn']}.pdf"
            assert hashlib.sha256(data).hexdigest() == line["sha256"]
            assert by_id[int(line["print_record"])].sha256 == line["sha256"]
            assert len(pdf_pages_text(data)) == by_id[int(line["print_record"])].pages
    assert len(manifest) == 20

    printed = count(AuditEvent, AuditEvent.action == "report.printed")
    assert printed == 20
    actors = set(
        db.session.scalars(
            sa.select(AuditEvent.actor_login).where(AuditEvent.action == "report.printed")
        )
    )
    assert actors == {clinic.manager.login}  # the run is attributed to who asked for it


def test_the_combined_pdf_holds_every_clients_recorded_pages_in_order(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 20)
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client, output="combined")))
    assert job.status == "done" and job.file_name == f"batch-{job.id}.pdf"
    combined = pdf_pages_text(stored(job.id))
    rows = reports_of(job.id)
    assert len(combined) >= 20 and len(combined) == sum(r.pages for r in rows)
    # Each client's pages are exactly the pages recorded (and hashed) for that client.
    expected = []
    for row in sorted(rows, key=lambda r: r.id):
        data, _ = fake_progress(db.session, row)
        assert hashlib.sha256(data).hexdigest() == row.sha256
        expected += pdf_pages_text(data)
    assert combined == expected
    assert "Client001" in combined[0] and "Client020" in combined[-1]


def test_download_streams_the_file_as_an_attachment_and_is_audited(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 2)
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client, output="combined")))
    resp = client.get(f"/print/batches/{job.id}/download")
    assert resp.status_code == 200
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        f"attachment; filename=progress-reports-batch-{job.id}.pdf"
    )
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["Content-Security-Policy"].startswith("sandbox")
    assert hashlib.sha256(resp.data).hexdigest() == job.sha256
    resp.close()
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "report.batch_downloaded")
    )
    assert event.object_id == str(job.id) and event.actor_login == clinic.manager.login


def test_a_download_of_an_altered_file_is_refused(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client)))
    table = ReportBatchFile.__table__
    db.session.execute(
        sa.update(table).where(table.c.batch_id == job.id).values(content=stored(job.id) + b"x")
    )
    db.session.commit()
    assert client.get(f"/print/batches/{job.id}/download").status_code == 409
    db.session.execute(sa.delete(table).where(table.c.batch_id == job.id))
    db.session.commit()
    assert client.get(f"/print/batches/{job.id}/download").status_code == 404
    assert "no longer on the server" in client.get(f"/print/batches/{job.id}").text


def test_downloads_of_missing_or_unfinished_batches_answer_404(app, client, auth, clinic):
    auth.login(clinic.manager)
    assert client.get("/print/batches/999/download").status_code == 404
    assert client.get("/print/batches/999").status_code == 404
    queued = ReportBatch(
        request_key="k" * 32, requested_by_id=clinic.manager.id, output="zip", total=3
    )
    db.session.add(queued)
    db.session.commit()
    assert client.get(f"/print/batches/{queued.id}/download").status_code == 404


def test_the_same_form_sent_twice_starts_one_batch(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 3)
    auth.login(clinic.manager)
    key = request_key(client.get("/print/batches/new").text)
    first = batch_id_of(submit(client, key))
    again = submit(client, key, output="combined")  # a double click, a refresh, a back-button
    assert batch_id_of(again) == first
    assert "already sent" in client.get(again.headers["Location"]).text
    assert count(ReportBatch) == 1
    assert count(PrintedReport) == 3
    # A fresh form is a fresh key: a second batch.
    assert batch_id_of(submit(client)) != first


def test_a_concurrent_request_with_the_same_key_finds_the_committed_batch(app, clinic, monkeypatch):
    """Two requests both looked the key up, found nothing, and inserted: the unique constraint
    refuses the second, which then reads the first one's batch (the race, replayed)."""
    clients(clinic.manager, clinic.counselor, 1)
    first, _ = batch.request_batch(
        db.session, "c" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    db.session.commit()
    lookups, by_key = [], batch._by_key

    def missed_once(*args):
        lookups.append(args[1])
        return None if len(lookups) == 1 else by_key(*args)

    monkeypatch.setattr(batch, "_by_key", missed_once)
    again, created = batch.request_batch(
        db.session, "c" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    db.session.commit()  # the outer transaction survived the refused insert
    assert (again.id, created, len(lookups)) == (first.id, False, 2)
    assert count(ReportBatch) == 1


def test_the_same_key_from_another_manager_is_refused(app, client, auth, clinic, make):
    clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)
    key = request_key(client.get("/print/batches/new").text)
    batch_id_of(submit(client, key))
    auth.logout()
    auth.login(make.user(Role.CLINIC_MANAGER))
    resp = submit(client, key)
    assert resp.status_code == 200 and "already used" in resp.text
    assert count(ReportBatch) == 1


def test_a_batch_is_never_run_twice(app, clinic):
    clients(clinic.manager, clinic.counselor, 2)
    app.config["BATCH_RUNNER"] = "thread"
    gate, calls = threading.Event(), []

    def slow(session, row):
        calls.append(row.client_id)
        assert gate.wait(10)
        return fake_progress(session, row)

    record.RENDERERS["progress"] = slow  # restored by the renderer fixture
    job, created = batch.request_batch(
        db.session, "r" * 32, batch.BatchFilter(), "zip", "Audit", "", by=clinic.manager, now=NOW
    )
    job_id = job.id
    db.session.commit()  # and leave the session idle: SQLite's write lock is free for the run
    assert created
    assert batch.start(app, job_id) is True
    assert batch.start(app, job_id) is False  # still running in this process
    gate.set()
    wait_until_idle(job_id)
    # Once finished, starting it again finds nothing to claim: the status is no longer queued.
    assert batch.start(app, job_id) is True
    wait_until_idle(job_id)
    batch.run_batch(app, job_id)
    assert len(calls) == 2 and len(reports_of(job_id)) == 2
    assert latest_batch().status == "done"


def test_a_real_thread_runs_the_batch_and_the_status_page_follows_it(
    app, client, auth, clinic, monkeypatch
):
    clients(clinic.manager, clinic.counselor, 3)
    app.config["BATCH_RUNNER"] = "thread"
    gate, claim = threading.Event(), batch._claim

    def gated_claim(*args):  # hold the thread before its first transaction
        assert gate.wait(10)
        return claim(*args)

    monkeypatch.setattr(batch, "_claim", gated_claim)
    auth.login(clinic.manager)
    batch_id = batch_id_of(submit(client))
    db.session.rollback()  # the shared test session must not hold SQLite's write lock
    page = client.get(f"/print/batches/{batch_id}")
    db.session.rollback()
    assert batch.is_running_here(batch_id)
    assert page.headers["Refresh"] == "2"
    assert '<meta http-equiv="refresh" content="2">' in page.text
    assert '<progress value="0" max="3">' in page.text and "0 of 3" in page.text
    gate.set()
    for _ in range(400):  # poll the status page, as the browser does
        page = client.get(f"/print/batches/{batch_id}")
        db.session.rollback()
        if "Download" in page.text:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the batch did not finish")
    wait_until_idle(batch_id)
    assert "3 of 3" in page.text and "Refresh" not in page.headers
    assert 'http-equiv="refresh"' not in page.text
    assert len(reports_of(batch_id)) == 3


def test_the_status_page_shows_progress_and_survives_a_refresh(app, client, auth, clinic):
    job = ReportBatch(
        request_key="s" * 32,
        requested_by_id=clinic.manager.id,
        output="combined",
        purpose="Court",
        status="running",
        total=200,
        done=37,
        started_at=NOW,
    )
    db.session.add(job)
    db.session.commit()
    auth.login(clinic.manager)
    for _ in range(2):  # a refresh changes nothing and starts nothing
        page = client.get(f"/print/batches/{job.id}")
        assert page.status_code == 200
        assert "37 of 200" in page.text
        assert '<progress value="37" max="200">' in page.text
        assert page.headers["Refresh"] == "2"
        assert "Download" not in page.text
    db.session.expire_all()
    assert count(ReportBatch) == 1 and (job.status, job.done) == ("running", 37)


def test_a_batch_cut_off_by_a_restart_is_marked_failed(app, client, auth, clinic):
    job = ReportBatch(
        request_key="t" * 32,
        requested_by_id=clinic.manager.id,
        output="zip",
        status="running",
        total=10,
        done=4,
        started_at=NOW - timedelta(minutes=30),
        updated_at=NOW - timedelta(minutes=20),
    )
    db.session.add(job)
    db.session.commit()
    auth.login(clinic.manager)
    page = client.get(f"/print/batches/{job.id}")
    assert "Interrupted" in page.text and "Refresh" not in page.headers
    db.session.expire_all()
    assert job.status == "failed" and count(ReportBatchFile) == 0


def test_a_failure_marks_the_batch_failed_and_leaves_no_partial_file(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 5)
    auth.login(clinic.manager)
    for output in ("zip", "combined"):
        record.RENDERERS["progress"] = failing_at(3)
        job = db.session.get(ReportBatch, batch_id_of(submit(client, output=output)))
        assert job.status == "failed" and job.file_name == "" and job.sha256 == ""
        assert job.error.startswith("Stopped at client 3 of 5 (MRN ")
        assert "renderer broke" not in job.error  # internals stay in the server log
        # The two reports produced before the failure stay recorded, under the failed batch.
        assert len(reports_of(job.id)) == 2
        page = client.get(f"/print/batches/{job.id}").text
        assert "Stopped at client 3 of 5" in page and "Download" not in page
    assert count(ReportBatchFile) == 0  # a failed batch stores no file
    assert not (Path(app.instance_path) / "reports").exists()
    statuses = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "report_batches.updated")
    ).all()
    assert sum('"failed"' in d for d in statuses) == 2


def test_an_unavailable_progress_report_fails_the_batch_with_a_reason(
    app, client, auth, clinic, monkeypatch
):
    clients(clinic.manager, clinic.counselor, 1)
    monkeypatch.delitem(record.RENDERERS, "progress")
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client)))
    assert job.status == "failed" and "not available" in job.error


def test_the_form_checks_its_input_and_keeps_its_key(app, client, auth, clinic):
    clients(clinic.manager, clinic.counselor, 1, phase=Phase.DETOX)
    auth.login(clinic.manager)
    key = request_key(client.get("/print/batches/new").text)
    resp = submit(client, key, purpose="")
    assert resp.status_code == 200 and "Say why these reports are printed." in resp.text
    assert request_key(resp.text) == key  # the same form, the same one-time key
    resp = submit(client, key, scope="phase")
    assert 'id="phase-error">Choose one from the list.' in resp.text
    resp = submit(client, key, scope="phase", phase="rehab")
    assert "No active client matches this selection." in resp.text
    resp = submit(client, key, scope="phase", phase="discharged")
    assert 'id="phase-error"' in resp.text
    resp = submit(client, key, request_key="../../etc/passwd")
    assert resp.status_code == 200 and count(ReportBatch) == 0
    assert batch_id_of(submit(client, key, scope="phase", phase="detox"))


def test_the_selection_by_phase_counselor_and_level(app, clinic, make):
    other = make.user(Role.COUNSELOR)
    detox = clients(clinic.manager, clinic.counselor, 2, phase=Phase.DETOX)
    rehab = clients(clinic.manager, other, 1, phase=Phase.REHAB, first=3)
    gone = clients(clinic.manager, other, 1, first=4)
    episodes.set_level_of_care(
        db.session,
        rehab[0][1],
        setting=Setting.RESIDENTIAL,
        code_system="ASAM3",
        code="3.5",
        started_on=TODAY,
        actor=clinic.manager,
        today=TODAY,
    )
    details = episodes.DischargeDetails(
        last_contact_on=TODAY,
        discharged_on=TODAY,
        reason_code="1",
        use_frequency="1",
        employment="unknown",
        living_arrangement="unknown",
        arrests_30d=0,
        self_help="1",
    )
    episodes.discharge(db.session, gone[0][1], details, actor=clinic.manager, now=NOW, today=TODAY)
    db.session.commit()

    def chosen(scope, value=""):
        rows = batch.select_clients(db.session, batch.BatchFilter(scope, value), clinic.manager)
        return {r.client_id for r in rows}

    ids = lambda group: {c.id for c, _ in group}  # noqa: E731
    assert chosen("phase", "detox") == ids(detox)
    assert chosen("counselor", str(other.id)) == ids(rehab)  # the discharged one is not active
    assert chosen("level", "3.5") == ids(rehab)
    assert chosen("all") == ids(detox) | ids(rehab)
    # Outside the manager's scope nothing is chosen (defence in depth: only managers print).
    assert batch.select_clients(db.session, batch.BatchFilter(), make.user(Role.ADMIN)) == []


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.ADMIN, Role.SUPERVISOR])
def test_only_clinic_managers_reach_batches(app, client, auth, clinic, role):
    clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)
    job_id = batch_id_of(submit(client))
    auth.logout()
    auth.login(role)
    for url in (
        "/print/batches/new",
        f"/print/batches/{job_id}",
        f"/print/batches/{job_id}/download",
    ):
        assert client.get(url).status_code == 403, url
    assert submit(client, "x" * 32).status_code == 403
    assert count(ReportBatch) == 1


def test_any_clinic_manager_sees_and_downloads_a_colleagues_batch(app, client, auth, clinic, make):
    clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)
    job_id = batch_id_of(submit(client))
    auth.logout()
    auth.login(make.user(Role.CLINIC_MANAGER))
    assert "1 of 1" in client.get(f"/print/batches/{job_id}").text
    resp = client.get(f"/print/batches/{job_id}/download")
    assert resp.status_code == 200
    resp.close()


def test_a_batch_with_the_real_progress_report(app, client, auth, clinic, monkeypatch):
    client_report = pytest.importorskip("casemgr.printing.client_report")
    monkeypatch.setitem(record.RENDERERS, "progress", client_report.render_progress)
    clients(clinic.manager, clinic.counselor, 3, phase=Phase.REHAB)
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client, output="combined")))
    assert job.status == "done", job.error
    pages = pdf_pages_text(stored(job.id))
    assert len(pages) == sum(r.pages for r in reports_of(job.id)) >= 3
    assert all("42 CFR part 2" in text for text in pages)
    expected = []
    for row in reports_of(job.id):
        assert record.check(db.session, row)  # re-renders to the same bytes
        expected += pdf_pages_text(client_report.render_progress(db.session, row)[0])
    assert pages == expected  # the combined file is the recorded reports, page for page


def test_the_pdf_joiner_renumbers_references_but_not_text_and_refuses_other_layouts():
    def made(label: str) -> bytes:
        out = io.BytesIO()
        canvas = Canvas(out, invariant=1)
        canvas.drawString(72, 720, label)
        canvas.linkURL(f"https://example.org/{label}", (72, 700, 300, 720))
        canvas.showPage()
        canvas.drawString(72, 720, label + " page 2")
        canvas.save()
        return out.getvalue()

    labels = ["(7 0 R) /AAAAAA+x", "a\\) 3 0 R"]
    out = io.BytesIO()
    joined = batch._PdfJoin(out)
    for label in labels:
        joined.add(None, None, made(label))
    joined.close("Batch 1", NOW)
    reader = PdfReader(io.BytesIO(out.getvalue()), strict=True)
    assert len(reader.pages) == 4
    assert [p.extract_text().strip() for p in reader.pages[::2]] == labels
    uris = [p["/Annots"][0].get_object()["/A"]["/URI"] for p in reader.pages[::2]]
    assert uris == [f"https://example.org/{label}" for label in labels]
    with pytest.raises(ValueError):
        batch._PdfJoin(io.BytesIO()).add(None, None, b"%PDF-1.4 not really\nstartxref\n0\n")


def test_the_status_page_and_the_form_never_load_the_file_bytes(
    app, client, auth, clinic, count_queries
):
    clients(clinic.manager, clinic.counselor, 2)
    auth.login(clinic.manager)
    job_id = batch_id_of(submit(client, output="combined"))
    with count_queries() as queries:
        assert "Download the combined PDF" in client.get(f"/print/batches/{job_id}").text
        assert client.get("/print/batches/new").status_code == 200
    reads = [s for s in queries.statements if "report_batch_files" in s]
    assert reads and not any("content" in s for s in reads)


def test_a_failure_while_storing_the_file_leaves_no_file_and_no_done_batch(
    app, client, auth, clinic, monkeypatch
):
    clients(clinic.manager, clinic.counselor, 2)
    store = batch._store

    def store_then_fail(*args):
        store(*args)
        db.session.flush()  # the file row was written in this transaction...
        raise OSError("disk gone")  # ...which then fails before its commit

    monkeypatch.setattr(batch, "_store", store_then_fail)
    auth.login(clinic.manager)
    job = db.session.get(ReportBatch, batch_id_of(submit(client)))
    assert (job.status, job.sha256, job.file_name) == ("failed", "", "")
    assert "could not be written" in job.error
    assert count(ReportBatchFile) == 0
    assert client.get(f"/print/batches/{job.id}/download").status_code == 404

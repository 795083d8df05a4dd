"""Batch printing tests: clients, signed notes, a stand-in progress renderer and form posts.

The stand-in renders a small real PDF through the engine from the same inputs as the real
report (the print record, the client, the signed notes of the period), so batch and log tests
do not depend on the progress report's layout, only on the contract of record.RENDERERS.
"""

from __future__ import annotations

import io
import re
import time
from datetime import date

import sqlalchemy as sa
from flask import current_app
from pypdf import PdfReader

from casemgr.clients.models import Client
from casemgr.extensions import db
from casemgr.notes import services as notes
from casemgr.notes.models import ClinicalSession, Note
from casemgr.printing import batch, pdf
from casemgr.printing.models import PrintedReport, ReportBatch
from tests.clients_helpers import NOW, admitted
from tests.factories import PASSWORD
from tests.notes.helpers import dap, session_with_note


def fake_progress(session, row: PrintedReport) -> tuple[bytes, int]:
    client = session.get(Client, row.client_id)
    signed = session.scalars(
        sa.select(Note)
        .join(ClinicalSession)
        .where(
            ClinicalSession.episode_id == row.episode_id,
            Note.signed_at.is_not(None),
            ClinicalSession.session_date.between(row.period_start, row.period_end),
        )
        .order_by(Note.id)
    )
    story = [pdf.heading(f"Progress report: {client.display_name}"), pdf.para(client.mrn)]
    story += [pdf.para(n.sections.get("assessment", "")) for n in signed]
    meta = pdf.Meta(
        title="Progress report",
        facility=current_app.config["FACILITY_NAME"],
        generated_at=row.generated_at,
        key=f"progress|{row.client_id}|{row.period_start}|{row.period_end}",
        client_label=f"{client.display_name} · {client.mrn}",
    )
    return pdf.render(story, meta)


def failing_at(n: int):
    """A renderer that fails on its n-th call."""
    calls = []

    def render(session, row):
        calls.append(row.client_id)
        if len(calls) == n:
            raise RuntimeError("renderer broke")
        return fake_progress(session, row)

    return render


def clients(manager, counselor, n: int, phase=None, first: int = 1):
    """n clients with an open episode (admitted 1 November), named Client001..."""
    kwargs = {"phase": phase} if phase else {}
    return [
        admitted(manager, counselor, legal_first_name=f"Client{i:03d}", **kwargs)
        for i in range(first, first + n)
    ]


def signed_note(episode, author, day: date, assessment: str) -> Note:
    _, note = session_with_note(
        episode,
        author,
        day=day,
        content=dap(sections={"data": "d", "assessment": assessment, "plan": "p"}),
    )
    notes.sign(db.session, note, PASSWORD, actor=author, now=NOW)
    db.session.commit()
    return note


def request_key(html: str) -> str:
    match = re.search(r'name="request_key"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="request_key"', html
    )
    assert match, "no request key in the form"
    return match.group(1)


def submit(client, key: str | None = None, **fields):
    """Post the batch form (a fresh form's key unless one is given), as the browser does."""
    key = key or request_key(client.get("/print/batches/new").text)
    data = {"request_key": key, "scope": "all", "output": "zip", "purpose": "Payer review"}
    return client.post("/print/batches/new", data={**data, **fields})


def batch_id_of(resp) -> int:
    assert resp.status_code == 302, resp.text
    return int(re.search(r"/print/batches/(\d+)$", resp.headers["Location"]).group(1))


def latest_batch() -> ReportBatch:
    db.session.expire_all()
    return db.session.scalars(sa.select(ReportBatch).order_by(ReportBatch.id.desc())).first()


def reports_of(batch_id: int) -> list[PrintedReport]:
    stmt = sa.select(PrintedReport).where(PrintedReport.batch_id == batch_id)
    return list(db.session.scalars(stmt.order_by(PrintedReport.id)))


def wait_until_idle(batch_id: int, timeout: float = 20.0) -> None:
    """Wait for a batch's thread in this process to end (polls; never hangs a run)."""
    for _ in range(int(timeout / 0.05)):
        if not batch.is_running_here(batch_id):
            return
        time.sleep(0.05)
    raise AssertionError(f"batch {batch_id} still running after {timeout} s")


def pdf_pages_text(data: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(data), strict=True).pages]

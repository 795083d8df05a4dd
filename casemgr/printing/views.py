"""Printing a client's progress report or discharge summary: a form, then the PDF download.

Each print is recorded with its SHA-256 and audited in the same transaction (record.produce).
If rendering or saving fails, everything is rolled back, the error is logged and the form says
so: never a 500, and no record of a report nobody received.
"""

from __future__ import annotations

import logging
import re
from datetime import date

from flask import Blueprint, Response, abort, render_template

from ..audit.hooks import record as audit
from ..auth.web import me
from ..clients.access import load_client
from ..episodes.models import Episode
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, authorize, requires
from ..timefmt import today
from . import client_report, record
from .forms import DisclosureForm, ProgressForm
from .models import PrintedReport

bp = Blueprint("printing", __name__)
log = logging.getLogger("casemgr")

FAILED = (
    "The report could not be produced. Nothing was printed or recorded, and the error has "
    "been logged. Try again; if it happens again, tell your administrator."
)


@bp.route("/clients/<int:client_id>/progress", methods=["GET", "POST"])
@requires(Perm.REPORT_CLIENT)
def progress(client_id: int):
    client = load_client(client_id)  # out of scope: 404, and the attempt is audited
    authorize(Perm.REPORT_CLIENT, client)
    episode = client_report.latest_episode(client)
    default = client_report.default_period(episode, utcnow())
    form = ProgressForm(today=today(), start=default.start, end=default.end)
    if form.validate_on_submit():
        period = (form.start.data, form.end.data)
        row = _draft(client_report.PROGRESS, form, client.id, episode, period)
        response = _deliver(row, _file_name("progress", client.mrn, form.end.data))
        if response is not None:
            return response
        form.form_errors.append(FAILED)
    return render_template(
        "printing/progress.html", client=client, episode=episode, form=form, default=default
    )


@bp.route("/episodes/<int:episode_id>/discharge", methods=["GET", "POST"])
@requires(Perm.REPORT_CLIENT)
def discharge(episode_id: int):
    episode = db.session.get(Episode, episode_id)
    if episode is None:
        abort(404)
    client = load_client(episode.client_id)
    authorize(Perm.REPORT_CLIENT, client)
    if episode.is_open or episode.discharge is None:
        page = render_template("printing/discharge.html", client=client, episode=episode)
        return page, 409
    form = DisclosureForm()
    if form.validate_on_submit():
        period = (episode.admitted_on, episode.discharged_on)
        row = _draft(client_report.DISCHARGE, form, client.id, episode, period)
        response = _deliver(row, _file_name("discharge", client.mrn, episode.discharged_on))
        if response is not None:
            return response
        form.form_errors.append(FAILED)
    return render_template("printing/discharge.html", client=client, episode=episode, form=form)


def _draft(
    kind: str,
    form: DisclosureForm,
    client_id: int,
    episode: Episode | None,
    period: tuple[date | None, date | None],
) -> PrintedReport:
    """The print record: whole seconds, so the time printed is the time stored."""
    return record.draft(
        kind=kind,
        generated_at=utcnow().replace(microsecond=0),
        by=me(),
        client_id=client_id,
        episode_id=episode.id if episode else None,
        period=period,
        purpose=form.purpose.data,
    )


def _deliver(row: PrintedReport, file_name: str) -> Response | None:
    """Render, record and commit; the PDF as a download, or None when anything failed."""
    try:
        data = record.produce(db.session, row)
        db.session.commit()
    except Exception:  # any failure: nothing is kept, the user gets a message
        db.session.rollback()
        log.exception("printing a %s report for client %s failed", row.kind, row.client_id)
        _audit_failure(row)
        return None
    response = Response(data, mimetype="application/pdf")
    response.headers["Content-Disposition"] = f'attachment; filename="{file_name}"'
    response.headers["Cache-Control"] = "no-store"
    return response


def _audit_failure(row: PrintedReport) -> None:
    try:
        audit(
            db.session,
            "report.failed",
            object_type="clients",
            object_id=row.client_id,
            client_id=row.client_id,
            detail={"kind": row.kind},
        )
        db.session.commit()
    except Exception:  # the database itself may be what failed; the log has the error
        db.session.rollback()


def _file_name(kind: str, mrn: str, end: date | None) -> str:
    safe = re.sub(r"[^A-Za-z0-9_-]", "", mrn) or "client"
    return f"{kind}-{safe}-{end.isoformat() if end else 'undated'}.pdf"

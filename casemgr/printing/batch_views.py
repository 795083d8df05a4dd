"""Batch printing and the record of what was printed. Clinic managers only.

A batch runs outside the request (see printing/batch.py); its status page reloads itself
every 2 seconds while it runs and survives a refresh. The log lists every print record and
re-renders one on request to show whether the records behind it changed since.
"""

from __future__ import annotations

import hashlib
import io
import logging
import secrets

import sqlalchemy as sa
from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    send_file,
    url_for,
)

from ..audit.hooks import record as audit
from ..auth.web import me
from ..clients.models import Client
from ..episodes.services import counselors
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, requires, scoped
from ..privacy import consents
from . import batch as services
from . import record
from .batch_forms import BatchForm, LogFilterForm
from .models import PrintedReport, ReportBatch

bp = Blueprint("batches", __name__)
logger = logging.getLogger("casemgr")

LOG_ARGS = ("kind", "since", "until", "page")
UNCHANGED = "unchanged: the report re-renders to the same SHA-256"
CHANGED = "changed since printed: the records behind it were edited or added to"


@bp.route("/batches/new", methods=["GET", "POST"])
@requires(Perm.REPORT_BATCH)
def new():
    form = BatchForm(counselors=counselors(db.session))
    if not form.is_submitted():
        form.request_key.data = secrets.token_urlsafe(32)
    elif form.validate():
        ok, result = attempt(form, lambda: _request(form), "scope")
        if ok:
            batch_id, created = result  # plain values: the session is committed and idle
            if created:
                services.start(current_app._get_current_object(), batch_id)
            else:
                flash("This form was already sent; here is the batch it started.", "info")
            return redirect(url_for("batches.show", batch_id=batch_id))
        _audit_refusals(form)
    if services.expire_stale(db.session, now=utcnow()):
        db.session.commit()
    return render_template("batches/new.html", form=form, recent=services.recent(db.session))


def _request(form: BatchForm) -> tuple[int, bool]:
    try:
        batch, created = services.request_batch(
            db.session,
            form.request_key.data,
            form.selection(),
            form.output.data,
            form.purpose.data,
            form.release_to(),  # a release: queued only if every client's consent covers it
            by=me(),
            now=utcnow(),
        )
    except services.BatchRefused as exc:  # each client by MRN above the form
        form.form_errors.extend(exc.reasons)
        form.refused = exc.refused
        raise
    return batch.id, created


def _audit_refusals(form: BatchForm) -> None:
    """Each client a release was refused for, for the privacy officer: after the rollback of
    the refused request, in a transaction of its own."""
    refused = getattr(form, "refused", [])
    for client, why in refused:
        consents.audit_refusal(db.session, client, why.code, what="batch")
    if refused:
        db.session.commit()


def _batch(batch_id: int) -> ReportBatch:
    """A batch, unless it printed a client the user may not see (a restriction names them:
    deny wins over the manager's view of everyone, as on the chart): absent or hidden, 404."""
    batch = db.get_or_404(ReportBatch, batch_id)
    printed = (
        sa.select(sa.func.count())
        .select_from(PrintedReport)
        .join(Client, Client.id == PrintedReport.client_id)
        .where(PrintedReport.batch_id == batch.id)
    )
    if db.session.scalar(printed) != db.session.scalar(scoped(printed, Perm.CLIENT_VIEW)):
        abort(404)
    return batch


@bp.get("/batches/<int:batch_id>")
@requires(Perm.REPORT_BATCH)
def show(batch_id: int):
    batch = _batch(batch_id)
    if services.expire_stale(db.session, now=utcnow(), batch_id=batch_id):
        db.session.commit()
    running = batch.status in services.ACTIVE
    response = make_response(
        render_template(
            "batches/show.html",
            batch=batch,
            running=running,
            ready=services.batch_file(db.session, batch) is not None,
            selection=services.describe(db.session, services.BatchFilter.from_json(batch.filters)),
        )
    )
    if running:
        response.headers["Refresh"] = "2"
    return response


@bp.get("/batches/<int:batch_id>/download")
@requires(Perm.REPORT_BATCH)
def download(batch_id: int):
    """The finished file from the database (any app server can serve it), checked against
    the SHA-256 recorded when the batch finished."""
    batch = _batch(batch_id)
    stored = services.batch_file(db.session, batch)
    if stored is None:
        abort(404)
    content = stored.content
    if hashlib.sha256(content).hexdigest() != batch.sha256:
        logger.error("report batch %s: the file no longer matches its SHA-256", batch.id)
        abort(409)
    audit(db.session, "report.batch_downloaded", target=batch, detail={"sha256": batch.sha256})
    db.session.commit()
    response = send_file(
        io.BytesIO(content),
        mimetype=services.MIMETYPES[batch.output],
        as_attachment=True,
        download_name=services.file_name(batch),
        conditional=False,
        etag=False,
        max_age=0,
    )
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    return response


@bp.get("/log")
@requires(Perm.REPORT_LOG)
def log():
    form = LogFilterForm(request.args, kinds=services.printed_kinds(db.session))
    if not form.validate():
        return render_template("batches/log.html", form=form, lines=[], page=1, args={}), 400
    page = form.page.data or 1
    flt = services.LogFilter(form.kind.data or "", form.since.data, form.until.data)
    lines, has_more = services.printed(db.session, flt, page, me())
    return render_template(
        "batches/log.html",
        form=form,
        lines=lines,
        page=page,
        has_more=has_more,
        args=_log_args(request.args, keep_page=False),
        here=_log_args(request.args),
    )


@bp.post("/log/<int:report_id>/verify")
@requires(Perm.REPORT_LOG)
def verify(report_id: int):
    row = services.load_printed(db.session, report_id, me())
    if row is None:
        abort(404)
    back = url_for("batches.log", **_log_args(request.args)) + f"#print-{row.id}"
    if row.kind not in record.RENDERERS:
        flash(f"Print record {row.id} cannot be re-rendered here ({row.kind}).", "warning")
        return redirect(back)
    same = record.check(db.session, row)
    db.session.commit()
    if same:
        flash(f"Print record {row.id} is {UNCHANGED}.", "success")
    else:
        flash(f"Print record {row.id} has {CHANGED}.", "warning")
    return redirect(back)


def _log_args(source, *, keep_page: bool = True) -> dict[str, str]:
    keys = LOG_ARGS if keep_page else LOG_ARGS[:-1]
    return {k: source[k] for k in keys if source.get(k)}

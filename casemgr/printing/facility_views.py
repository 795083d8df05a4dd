"""Facility reports: the census on a date, the caseloads, and the outcome figures, as PDF or
CSV. Clinic managers only.

Each download is recorded (what, when, by whom, why, the file's SHA-256) and audited in the
same transaction; invalid choices go back to the page with the messages next to their fields
and record nothing; a report that fails to render is logged, rolled back and not recorded.
A census or caseload released outside goes through facility_release: refused (each client
without a covering consent named by MRN next to the form, each refusal audited, nothing else
written) or printed with one accounting entry per client.
"""

from __future__ import annotations

import logging
from datetime import date, datetime

from flask import Blueprint, Response, g, render_template, request

from ..auth.web import me
from ..domain.errors import DomainError
from ..extensions import db
from ..orm import utcnow
from ..outcomes import queries as outcome_queries
from ..policy import Perm, requires
from ..timefmt import local_date, today
from . import facility, facility_release, record  # noqa: F401  (facility registers renderers)
from .facility_forms import CaseloadReportForm, CensusReportForm, OutcomesReportForm

bp = Blueprint("facility_reports", __name__)
log = logging.getLogger("casemgr")

MIMETYPES = {"pdf": "application/pdf", "csv": "text/csv"}
FAILED = (
    "The report could not be produced. The error has been logged and nothing was recorded; "
    "try again, and if it repeats, tell your administrator."
)


def _outcomes_form(formdata) -> OutcomesReportForm:
    return OutcomesReportForm(
        formdata,
        levels=outcome_queries.level_codes(db.session),
        counselors=outcome_queries.counselors(db.session),
        today=today(),
    )


def _page(error: str = "", code: int = 200, **forms) -> tuple[str, int]:
    """The reports page; `forms` replaces a report's blank form with the one just refused."""
    blank = {
        "census": CensusReportForm(None),
        "caseload": CaseloadReportForm(None),
        "outcomes": _outcomes_form(None),
    }
    return render_template("facility_reports/index.html", error=error, **(blank | forms)), code


@bp.get("")
@requires(Perm.REPORT_FACILITY)
def index():
    return _page()


@bp.post("/census")
@requires(Perm.REPORT_FACILITY)
def census():
    form = CensusReportForm()
    if not form.validate():
        return _page(census=form)
    on = date.fromisoformat(form.parameters()["on"])
    return _deliver("census", form, f"census-{on.isoformat()}", (on, on))


@bp.post("/caseload")
@requires(Perm.REPORT_FACILITY)
def caseload():
    form = CaseloadReportForm()
    if not form.validate():
        return _page(caseload=form)
    at = utcnow().replace(microsecond=0)
    day = local_date(at)  # the caseloads as they stand now: the report's date
    return _deliver("caseload", form, f"caseload-{day.isoformat()}", (day, day), at)


@bp.get("/outcomes")
@requires(Perm.REPORT_FACILITY)
def outcomes():
    form = _outcomes_form(request.args)
    if not form.validate():
        return _page(outcomes=form)
    period = form.selection().period
    name = f"outcomes-{period.start.isoformat()}-to-{period.end.isoformat()}"
    return _deliver("outcomes", form, name, (period.start, period.end))


def _deliver(kind: str, form, name: str, period: tuple[date, date], at: datetime | None = None):
    """Render the report (released outside under consents when the form says so), record and
    audit it, and hand the file over."""
    try:
        row, data = _produce(kind, form, period, at or utcnow().replace(microsecond=0))
    except DomainError as exc:
        db.session.rollback()
        _refused(kind, form, exc)
        return _page(**{kind: form})
    except Exception:
        db.session.rollback()
        log.exception("facility report %s failed (request %s)", kind, g.get("request_id"))
        return _page(FAILED, 500, **{kind: form})
    file_format = row.file_format  # read before the commit expires the row
    db.session.commit()
    return _attachment(data, f"{name}.{file_format}", file_format)


def _produce(kind: str, form, period: tuple[date, date], at: datetime):
    if getattr(form, "releases", False):
        return facility_release.release(
            db.session,
            kind,
            params=form.parameters(),
            file_format=form.format.data,
            recipient=form.recipient.data,
            purpose=form.purpose.data,
            period=period,
            by=me(),
            now=at,
            today=today(),
        )
    row = record.draft(
        kind=kind,
        generated_at=at,
        by=me(),
        period=period,
        parameters=form.parameters(),
        purpose=form.purpose.data,
        file_format=form.format.data,
    )
    return row, record.produce(db.session, row)


def _refused(kind: str, form, exc: DomainError) -> None:
    """Each client without a covering consent by MRN above the form, each refusal audited."""
    form.form_errors.append(str(exc))
    if isinstance(exc, facility_release.ListRefused):
        form.form_errors.extend(exc.reasons)
        facility_release.audit_refusals(db.session, exc, kind)
        db.session.commit()


def _attachment(data: bytes, filename: str, file_format: str) -> Response:
    response = Response(data, mimetype=MIMETYPES[file_format])
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response

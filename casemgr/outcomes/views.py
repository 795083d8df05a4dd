"""The clinic's outcome figures, with denominators, charts and CSV. Clinic managers only.

The page, its two chart images and its CSV take the same GET parameters (start, end, level,
counselor). The page shows invalid input next to its field and uses the defaults; the chart
and CSV, which the page links with the selection it actually showed, refuse it (400).
"""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request

from ..charts.views import SVG_CSP
from ..extensions import db
from ..policy import Perm, requires
from ..timefmt import facility_tz, today
from . import queries, services
from .forms import OutcomesForm

bp = Blueprint("outcomes", __name__)


def _form() -> OutcomesForm:
    return OutcomesForm(
        request.args,
        levels=queries.level_codes(db.session),
        counselors=queries.counselors(db.session),
        today=today(),
    )


def _outcomes(form: OutcomesForm) -> services.Outcomes:
    return services.outcomes(db.session, form.selection(), as_of=today(), tz=facility_tz())


@bp.get("")
@requires(Perm.OUTCOMES_VIEW)
def index():
    form = _form()
    form.validate()  # errors show next to their fields; the defaults stand in
    page = _outcomes(form)
    services.record_view(db.session, page)
    db.session.commit()
    return render_template(
        "outcomes/index.html",
        form=form,
        page=page,
        result=services.result_text,
        definitions=services.definitions(),
        summaries={name: services.chart_summary(page, name) for name in services.CHARTS},
    )


@bp.get("/<any(discharges, engagement):figure>.svg")
@requires(Perm.OUTCOMES_VIEW)
def chart(figure: str) -> Response:
    form = _form()
    if not form.validate():
        abort(400)
    response = Response(services.chart_svg(_outcomes(form), figure), mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response


@bp.get("/export.csv")
@requires(Perm.OUTCOMES_VIEW)
def export() -> Response:
    form = _form()
    if not form.validate():
        abort(400)
    page = _outcomes(form)
    body = services.export_csv(db.session, page)
    db.session.commit()  # the audit event
    disposition = f'attachment; filename="{services.csv_filename(page)}"'
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})

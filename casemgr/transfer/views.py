from flask import (
    Blueprint,
    Response,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..auth.web import me
from ..domain.client_import import COLUMNS, MAX_ROWS
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import today
from . import services
from .forms import CensusForm, ConfirmForm, UploadForm

bp = Blueprint("transfer", __name__)


def _import_page(form: UploadForm) -> str:
    return render_template(
        "transfer/import.html",
        form=form,
        columns=COLUMNS,
        max_rows=MAX_ROWS,
        mrn_prefix=current_app.config["MRN_PREFIX"],
    )


@bp.route("/import", methods=["GET", "POST"])
@requires(Perm.CLIENT_IMPORT)
def import_clients():
    """Step 1, the dry run: check the whole file and show what would be created."""
    form = UploadForm()
    if not form.validate_on_submit():
        return _import_page(form)
    data = form.file.data.read()
    report = services.dry_run(db.session, data, today=today())
    db.session.rollback()  # a dry run writes nothing
    confirm = ConfirmForm(formdata=None, digest=services.sign(data, me().id)) if report.ok else None
    return render_template("transfer/report.html", report=report, confirm=confirm)


@bp.post("/import/confirm")
@requires(Perm.CLIENT_IMPORT)
def import_confirm():
    """Step 2: the checked file again; every row is imported in one transaction, or none."""
    form = ConfirmForm()
    if not form.validate_on_submit():
        if form.digest.errors:
            abort(400)
        return render_template("transfer/report.html", report=None, confirm=form)
    data = form.file.data.read()
    if not services.signature_matches(data, me().id, form.digest.data):
        abort(400)  # not the file that was checked, or a forged digest
    try:
        created, admitted = services.import_clients(
            db.session, data, actor=me(), today=today(), now=utcnow()
        )
    except services.ImportRefused as exc:
        db.session.rollback()
        return render_template("transfer/report.html", report=exc.report, confirm=None)
    db.session.commit()
    flash(f"Imported {len(created)} clients; {admitted} admitted to intake.", "success")
    return redirect(url_for("clients.index"))


def _census_date(form: CensusForm):
    form.on.data = form.on.data or today()
    return form.on.data


@bp.get("/census")
@requires(Perm.CENSUS_VIEW)
def census():
    form = CensusForm(request.args)
    if not form.validate():
        return render_template("transfer/census.html", form=form, on=None, lines=[]), 400
    on = _census_date(form)
    lines, totals = services.census(db.session, on)
    return render_template("transfer/census.html", form=form, on=on, lines=lines, totals=totals)


@bp.get("/census.csv")
@requires(Perm.CENSUS_VIEW)
def census_csv():
    form = CensusForm(request.args)
    if not form.validate():
        abort(400)
    on = _census_date(form)
    body, _ = services.census_csv(db.session, on)
    db.session.commit()  # the audit event
    disposition = f'attachment; filename="census-{on.isoformat()}.csv"'
    return Response(body, mimetype="text/csv", headers={"Content-Disposition": disposition})

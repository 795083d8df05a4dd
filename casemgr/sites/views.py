"""The administrator's screens for the network's sites."""

from flask import Blueprint, flash, redirect, render_template, url_for

from ..admin.forms import ConfirmForm
from ..extensions import db
from ..forms import attempt, open_version, stale
from ..policy import Perm, requires
from . import services
from .forms import SiteEditForm, SiteForm
from .models import Site

bp = Blueprint("sites", __name__)


@bp.get("")
@requires(Perm.SITE_MANAGE)
def index():
    return render_template("sites/list.html", rows=services.list_sites(db.session))


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.SITE_MANAGE)
def new():
    form = SiteForm()
    if form.validate_on_submit():
        saved, site = attempt(
            form, lambda: services.create_site(db.session, form.code.data, form.name.data)
        )
        if saved:
            flash(f"Site {site.name} ({site.code}) added.", "success")
            return redirect(url_for("sites.index"))
    return render_template("sites/form.html", form=form, site=None, row=None)


@bp.route("/<int:site_id>/edit", methods=["GET", "POST"])
@requires(Perm.SITE_MANAGE)
def edit(site_id: int):
    site = db.get_or_404(Site, site_id)
    form = SiteEditForm(obj=site)
    if not form.is_submitted():
        open_version(form, site)
    if form.validate_on_submit() and not stale(form, site):
        saved, _ = attempt(
            form, lambda: services.update_site(db.session, site, form.code.data, form.name.data)
        )
        if saved:
            flash("Changes saved.", "success")
            return redirect(url_for("sites.index"))
    row = services.counts(db.session, site)
    return render_template("sites/form.html", form=form, site=site, row=row)


def _act(site_id: int, action, message: str):
    site, form = db.get_or_404(Site, site_id), ConfirmForm()
    if not form.validate_on_submit():
        flash("The form expired; try again.", "error")
    elif attempt(form, lambda: action(db.session, site))[0]:
        flash(message.format(site=site.name), "success")
    else:
        flash(" ".join(form.form_errors), "error")
    return redirect(url_for("sites.edit", site_id=site_id))


@bp.post("/<int:site_id>/deactivate")
@requires(Perm.SITE_MANAGE)
def deactivate(site_id: int):
    return _act(
        site_id,
        services.deactivate,
        "{site} deactivated. Its staff keep it as their site until you change their accounts.",
    )


@bp.post("/<int:site_id>/reactivate")
@requires(Perm.SITE_MANAGE)
def reactivate(site_id: int):
    return _act(site_id, services.reactivate, "{site} reactivated.")

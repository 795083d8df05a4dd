"""Restricted clients: a clinic manager names staff who must never see a chart."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from ..auth.models import User
from ..auth.web import me
from ..clients.access import load_client
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, requires
from . import restrictions
from .emergency_forms import ActionForm, RestrictionForm
from .models import ClientRestriction

bp = Blueprint("restrictions", __name__)


def _to_index(client_id: int):
    return redirect(url_for("restrictions.index", client_id=client_id))


@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@requires(Perm.CLIENT_RESTRICT)
def index(client_id: int):
    client = load_client(client_id)
    form = RestrictionForm()
    staff = restrictions.restrictable_staff(db.session, client, me())
    form.user.choices = [SelectChoice(u.id, f"{u.full_name} ({u.login})") for u in staff]
    if form.validate_on_submit():
        user = db.session.get(User, form.user.data)
        ok, _ = attempt(
            form,
            lambda: restrictions.restrict(
                db.session, client, user, form.reason.data, by=me(), now=utcnow()
            ),
        )
        if ok:
            _flash_restricted(client, user)
            return _to_index(client.id)
    return _index_page(client, form), 400 if form.is_submitted() else 200


def _flash_restricted(client, user: User) -> None:
    flash(f"{user.full_name} can no longer see this chart.", "success")
    if restrictions.counsels(client, user):
        flash(
            f"{user.full_name} is the primary counselor of this client's open episode: "
            "reassign the caseload.",
            "warning",
        )


def _index_page(client, form: RestrictionForm) -> str:
    rows = restrictions.for_client(db.session, client)
    return render_template(
        "restrictions/index.html",
        client=client,
        form=form,
        rows=rows,
        counselling={
            r.user_id for r in rows if r.lifted_at is None and restrictions.counsels(client, r.user)
        },
        open_episode=next((e for e in client.episodes if e.is_open), None),
    )


@bp.post("/clients/<int:client_id>/<int:restriction_id>/lift")
@requires(Perm.CLIENT_RESTRICT)
def lift(client_id: int, restriction_id: int):
    client = load_client(client_id)
    restriction = db.session.get(ClientRestriction, restriction_id)
    if restriction is None or restriction.client_id != client.id:
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form, lambda: restrictions.lift(db.session, restriction, by=me(), now=utcnow())
        )
        if ok:
            flash(
                f"{restriction.user.full_name} may see this chart again if their work allows.",
                "success",
            )
        else:
            flash(" ".join(form.form_errors), "info")
    return _to_index(client.id)

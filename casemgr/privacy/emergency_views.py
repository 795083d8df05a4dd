"""Break-glass (42 CFR §2.51): find a client by MRN, record the emergency, open the chart;
end it early; a clinic manager acknowledges the alert."""

from __future__ import annotations

import sqlalchemy as sa
from flask import Blueprint, abort, current_app, flash, redirect, render_template, url_for

from ..auth.web import me
from ..clients.models import Client
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, can, requires, scoped
from ..timefmt import format_datetime, from_local, local
from . import emergency
from .emergency_forms import ActionForm, EmergencyAccessForm, MrnLookupForm
from .models import EmergencyAccess

bp = Blueprint("emergency", __name__)
bp.record_once(lambda state: emergency.init_app(state.app))


def _visible(client: Client) -> bool:
    stmt = scoped(sa.select(Client.id).where(Client.id == client.id), Perm.CLIENT_VIEW)
    return db.session.scalar(stmt) is not None


def _breakable(client_id: int) -> Client:
    """The client, unless it does not exist or the user is restricted from it: both 404, so
    a restricted staff member learns nothing."""
    client = db.session.get(Client, client_id)
    if client is None or not can(me(), Perm.EMERGENCY_ACCESS, client):
        abort(404)
    return client


@bp.route("/", defaults={"client_id": None}, methods=["GET", "POST"])
@bp.route("/clients/<int:client_id>", methods=["GET", "POST"])
@requires(Perm.EMERGENCY_ACCESS)
def start(client_id: int | None):
    if client_id is None:
        return _lookup()
    client = _breakable(client_id)
    if _visible(client):
        flash("You can already see this chart.", "info")
        return redirect(url_for("clients.show", client_id=client.id))
    form = EmergencyAccessForm()
    if not form.is_submitted():
        form.confirmed_at.data = local(utcnow()).replace(tzinfo=None, second=0, microsecond=0)
        emergency.record_lookup(db.session, client)
        db.session.commit()
    elif form.validate():
        minutes = int(current_app.config.get("EMERGENCY_ACCESS_MINUTES", 60))
        ok, access = attempt(
            form,
            lambda: emergency.open_access(
                db.session, client, me(), form.emergency(from_local), now=utcnow(), minutes=minutes
            ),
        )
        if ok:
            until = format_datetime(access.expires_at, "%H:%M")
            flash(
                f"Emergency access open until {until}. Every page you open is recorded.", "warning"
            )
            return redirect(url_for("clients.show", client_id=client.id))
    status = 400 if form.is_submitted() else 200
    return render_template("emergency/confirm.html", client=client, form=form), status


def _lookup():
    # Posted, not a query string: an MRN looked up in an emergency stays out of proxy logs,
    # browser history and Referer headers.
    form = MrnLookupForm()
    if form.validate_on_submit():
        client = emergency.find_by_mrn(db.session, form.mrn.data)
        if client is not None and can(me(), Perm.EMERGENCY_ACCESS, client):
            return redirect(url_for("emergency.start", client_id=client.id))
        form.mrn.errors.append("No client has this MRN.")
    mine = emergency.open_for(db.session, me(), now=utcnow())
    status = 400 if form.errors else 200
    return render_template("emergency/lookup.html", form=form, mine=mine), status


@bp.post("/<int:access_id>/end")
@requires(Perm.EMERGENCY_ACCESS)
def end(access_id: int):
    access = db.session.get(EmergencyAccess, access_id)
    if access is None or access.user_id != me().id:
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        ok, _ = attempt(form, lambda: emergency.end_access(db.session, access, now=utcnow()))
        flash("Emergency access ended." if ok else " ".join(form.form_errors), "info")
    return redirect(url_for("emergency.start"))


@bp.post("/<int:access_id>/acknowledge")
@requires(Perm.EMERGENCY_REVIEW)
def acknowledge(access_id: int):
    access = db.session.get(EmergencyAccess, access_id)
    if access is None or not _visible(access.client):  # restricted managers: another reviews
        abort(404)
    form = ActionForm()
    if form.validate_on_submit():
        ok, _ = attempt(form, lambda: emergency.acknowledge(db.session, access, me(), now=utcnow()))
        flash("Emergency access acknowledged." if ok else " ".join(form.form_errors), "info")
    return redirect(url_for("home.index"))

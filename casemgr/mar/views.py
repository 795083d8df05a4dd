"""The medication administration record: orders, co-signature, doses and the day grid.

Orders and doses are clinical records: there is no edit or delete route. A changed order is
a discontinuation and a new order; a dose recorded in error is voided with a reason, stays on
the MAR struck through, and no longer counts (daily maximum, PRN interval, last dose).
"""

from datetime import UTC, date, datetime

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_login import current_user

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_episode
from ..domain.medications import Outcome, format_dose
from ..domain.voiding import RecordKind
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, authorize, can, requires
from ..timefmt import facility_tz, format_datetime, from_local, local, local_date, today
from ..voids import void_page
from . import services
from .forms import CosignForm, DiscontinueForm, DoseForm, OrderForm
from .models import MedicationAdministration, MedicationOrder

bp = Blueprint("mar", __name__)

# A ?day= outside these is a typing error (and year 9999 would overflow the day's end): today.
FIRST_DAY, LAST_DAY = date(2000, 1, 1), date(2099, 12, 31)


def _order(order_id: int, episode_perm: Perm = Perm.CLIENT_VIEW) -> MedicationOrder:
    """An order through its client's scope: absent or out of scope is a 404 (audited)."""
    order = db.get_or_404(MedicationOrder, order_id)
    load_episode(order.episode_id, episode_perm)
    return order


def _day() -> date:
    try:
        day = date.fromisoformat(request.args.get("day", ""))
    except ValueError:
        return today()
    return day if FIRST_DAY <= day <= LAST_DAY else today()


def _slot() -> datetime | None:
    """The scheduled dose named by ?slot= (absent for an as-needed dose); not a time: 404."""
    raw = request.args.get("slot")
    if raw is None:
        return None
    try:
        at = datetime.fromisoformat(raw)
    except ValueError:
        abort(404)
    if at.tzinfo is None:
        abort(404)
    return at.astimezone(UTC)


def _now_local() -> datetime:
    return local(utcnow()).replace(tzinfo=None, second=0, microsecond=0)


def _to_chart(order: MedicationOrder, at: datetime | None = None):
    day = local_date(at) if at is not None else None
    return redirect(url_for("mar.chart", episode_id=order.episode_id, day=day and day.isoformat()))


def _order_text(order: MedicationOrder) -> str:
    return f"{order.drug.name} {format_dose(order.dose, order.unit)} {order.route}"


def _dose_text(done: MedicationAdministration) -> str:
    if done.outcome is Outcome.GIVEN:
        return f"{done.order.drug.name} {format_dose(done.dose, done.order.unit)} given."
    return f"{done.order.drug.name} recorded as {done.outcome.value}."


def _record_witness_refusal(form: DoseForm, order: MedicationOrder, login: str) -> None:
    """A refused witness password is kept although the dose was rolled back: it is audited and
    counts toward that account's lockout (someone may be guessing)."""
    if form.witness_password.errors:
        services.witness_refused(db.session, order, login, now=utcnow())
        db.session.commit()


@bp.get("/<int:episode_id>")
@requires(Perm.CLIENT_VIEW)
def chart(episode_id: int):
    episode = load_episode(episode_id, Perm.CLIENT_VIEW)
    day = _day()
    detail = {"day": day.isoformat()}
    record(db.session, "mar.viewed", target=episode, client_id=episode.client_id, detail=detail)
    db.session.commit()  # before the queries: a commit would expire the rows they load
    return render_template(
        "mar/chart.html",
        episode=episode,
        client=episode.client,
        **services.chart(db.session, episode, day, tz=facility_tz(), now=utcnow()),
    )


@bp.route("/<int:episode_id>/orders/new", methods=["GET", "POST"])
@requires(Perm.MED_ORDER)
def new_order(episode_id: int):
    episode = load_episode(episode_id, Perm.MED_ORDER)
    verbal = not can(current_user, Perm.MED_PRESCRIBE)
    people = services.physicians(db.session) if verbal else []
    form = OrderForm(services.orderable_drugs(db.session), people)
    if not form.is_submitted():
        form.starts_at.data = _now_local()
    if form.validate_on_submit():
        ok, order = attempt(
            form,
            lambda: services.place_order(
                db.session, episode, form.entry(from_local), actor=me(), now=utcnow()
            ),
        )
        if ok:
            waits = " It waits for the physician's co-signature." if order.verbal else ""
            flash(f"Order saved: {_order_text(order)}.{waits}", "success")
            return _to_chart(order)
    return render_template(
        "mar/order_form.html", episode=episode, client=episode.client, form=form, verbal=verbal
    )


@bp.route("/orders/<int:order_id>/cosign", methods=["GET", "POST"])
@requires(Perm.MED_COSIGN)
def cosign(order_id: int):
    order = _order(order_id)
    authorize(Perm.MED_COSIGN, order)
    form = CosignForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form,
            lambda: services.cosign_order(
                db.session, order, form.password.data, physician=me(), now=utcnow()
            ),
        )
        if ok:
            flash(f"Verbal order co-signed: {_order_text(order)}.", "success")
            return _to_chart(order)
        if form.password.errors:  # a wrong password is part of the record (someone may guess)
            record(db.session, "mar.cosign_refused", target=order, detail={"reason": "password"})
            db.session.commit()
    return render_template("mar/cosign.html", order=order, client=order.episode.client, form=form)


@bp.route("/orders/<int:order_id>/discontinue", methods=["GET", "POST"])
@requires(Perm.MED_DISCONTINUE)
def discontinue(order_id: int):
    order = _order(order_id)
    authorize(Perm.MED_DISCONTINUE, order)
    form = DiscontinueForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form,
            lambda: services.discontinue(
                db.session, order, form.reason.data, by=me(), now=utcnow()
            ),
        )
        if ok:
            flash(f"Order discontinued: {_order_text(order)}.", "success")
            return _to_chart(order)
    return render_template(
        "mar/discontinue.html", order=order, client=order.episode.client, form=form
    )


@bp.route("/orders/<int:order_id>/give", methods=["GET", "POST"])
@requires(Perm.MED_GIVE)
def give(order_id: int):
    order = _order(order_id, Perm.MED_GIVE)  # the rule: the episode is open
    slot, form = _slot(), DoseForm(services.physicians(db.session))
    if not form.is_submitted():
        form.fill(order, _now_local())
    if form.validate_on_submit():
        entry = form.entry(from_local, slot)
        ok, done = attempt(
            form,
            lambda: services.give_dose(
                db.session, order, entry, nurse=me(), now=utcnow(), tz=facility_tz()
            ),
            conflict=services.ALREADY_RECORDED,
        )
        if ok:
            flash(_dose_text(done), "success")
            return _to_chart(order, slot or done.given_at)
        _record_witness_refusal(form, order, entry.witness_login)
    return render_template(
        "mar/give.html",
        order=order,
        client=order.episode.client,
        form=form,
        slot=slot,
        refusal=services.slot_refusal(order, slot, facility_tz()),
    )


@bp.route("/doses/<int:dose_id>/void", methods=["GET", "POST"])
@requires(Perm.RECORD_VOID)
def void_dose(dose_id: int):
    """Void a dose record entered in error: it stays on the MAR, struck through, its slot
    open again for the correct record, and out of the daily total and PRN interval."""
    dose = db.get_or_404(MedicationAdministration, dose_id)
    order = _order(dose.order_id)  # out of scope: 404, audited
    episode = order.episode
    what = (
        format_dose(dose.dose, order.unit) + " given"
        if dose.outcome is Outcome.GIVEN
        else f"recorded as {dose.outcome.value}"
    )
    day = local_date(dose.scheduled_at or dose.given_at)
    return void_page(
        dose,
        RecordKind.DOSE,
        client=episode.client,
        episode=episode,
        back=url_for("mar.chart", episode_id=episode.id, day=day.isoformat()),
        facts=[
            ("Order", _order_text(order)),
            ("Scheduled", format_datetime(dose.scheduled_at) if dose.scheduled_at else "as needed"),
            ("Dose", f"{what}, {format_datetime(dose.given_at)}"),
            ("Recorded by", dose.nurse.display_name),
        ],
        done=f"Dose record voided: {order.drug.name} {what}. It stays on the MAR, struck "
        "through" + ("; the scheduled dose can be recorded again." if dose.scheduled_at else "."),
    )

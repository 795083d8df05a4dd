"""The aftercare year on one page: plan, check-ins, relapse events, sobriety date, closure.

Check-ins and relapse events are clinical records: there is no edit or delete route. A wrong
relapse event is corrected by a new one; a check-in or event entered in error is voided with a
reason and stays listed, struck through (a voided check-in is due again as a fresh row).
"""

from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_episode
from ..domain.aftercare import offered_move
from ..domain.voiding import RecordKind
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import format_datetime, from_local, local, today
from ..voids import void_page
from . import services
from .forms import CheckInForm, CloseForm, RelapseForm, RescheduleForm, move_offer_form
from .models import CheckIn, RelapseEvent

bp = Blueprint("aftercare", __name__)


def _now_local():
    return local(utcnow()).replace(tzinfo=None)  # form default: now, facility time


def _to_overview(episode_id: int, anchor: str, **args):
    return redirect(url_for("aftercare.show", episode_id=episode_id, _anchor=anchor, **args))


def _check_in(check_in_id: int) -> CheckIn:
    row = db.get_or_404(CheckIn, check_in_id)
    load_episode(row.episode_id, Perm.AFTERCARE_WRITE)  # out of scope: 404, audited
    return row


def _check_in_page(template: str, row: CheckIn, form):
    shown = services.check_in_row(row, today(), services.status_rules())
    episode = row.episode
    return render_template(template, episode=episode, client=episode.client, row=shown, form=form)


def _move_offer(found: services.Overview, relapse_id: int | None):
    """The phase move a just-recorded relapse calls for, as a filled-in episodes form."""
    row = found.relapse(relapse_id)
    target = offered_move(row.event.response, found.episode.phase) if row else None
    if target is None:
        return None
    return move_offer_form(found.episode.phase, target, row.event.used_on, _now_local())


@bp.get("/<int:episode_id>")
@requires(Perm.CLIENT_VIEW)
def show(episode_id: int):
    episode = load_episode(episode_id, Perm.CLIENT_VIEW)
    record(db.session, "aftercare.viewed", target=episode, client_id=episode.client_id)
    db.session.commit()  # before the queries: a commit would expire the rows they load
    found = services.overview(db.session, episode, today(), services.status_rules())
    return render_template(
        "aftercare/show.html",
        episode=episode,
        client=episode.client,
        overview=found,
        move_form=_move_offer(found, request.args.get("relapse", type=int)),
    )


@bp.route("/check-ins/<int:check_in_id>", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def record_check_in(check_in_id: int):
    row = _check_in(check_in_id)
    form = CheckInForm()
    if not form.is_submitted():
        form.contacted_at.data = _now_local()
    if form.validate_on_submit():
        entry = form.entry(from_local)
        ok, _ = attempt(
            form,
            lambda: services.record_check_in(db.session, row, entry, actor=me(), now=utcnow()),
        )
        if ok:
            flash("Check-in recorded: " + ("done." if entry.reached else "missed."), "success")
            return _to_overview(row.episode_id, "check-ins")
    return _check_in_page("aftercare/check_in.html", row, form)


@bp.route("/check-ins/<int:check_in_id>/reschedule", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def reschedule(check_in_id: int):
    row = _check_in(check_in_id)
    form = RescheduleForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form,
            lambda: services.reschedule_check_in(
                db.session,
                row,
                form.rescheduled_to.data,
                form.reason.data,
                today=today(),
                rules_=services.status_rules(),
            ),
        )
        if ok:
            flash("Check-in rescheduled; its original due date is kept.", "success")
            return _to_overview(row.episode_id, "check-ins")
    return _check_in_page("aftercare/reschedule.html", row, form)


@bp.route("/<int:episode_id>/relapse", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def relapse(episode_id: int):
    episode = load_episode(episode_id, Perm.AFTERCARE_WRITE)
    plan = services.current_plan(db.session, episode.id)
    triggers = list(plan.triggers) if plan else []
    form = RelapseForm(triggers)
    if form.validate_on_submit():
        ok, event = attempt(
            form,
            lambda: services.record_relapse(
                db.session, episode, form.entry(), actor=me(), today=today(), triggers=triggers
            ),
        )
        if ok:
            flash(f"{event.kind.capitalize()} on {event.used_on.isoformat()} recorded.", "success")
            if offered_move(event.response, episode.phase):
                return _to_overview(episode.id, "move", relapse=event.id)
            return _to_overview(episode.id, "relapses")
    return render_template(
        "aftercare/relapse.html", episode=episode, client=episode.client, form=form, plan=plan
    )


@bp.route("/<int:episode_id>/close", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def close(episode_id: int):
    episode = load_episode(episode_id, Perm.AFTERCARE_WRITE)
    form = CloseForm()
    if form.validate_on_submit():
        summary, details = form.summary.data, form.details()
        ok, _ = attempt(
            form,
            lambda: services.close_aftercare(
                db.session, episode, summary, details, actor=me(), now=utcnow(), today=today()
            ),
        )
        if ok:
            flash("Aftercare closed and the episode discharged.", "success")
            return redirect(url_for("clients.show", client_id=episode.client_id))
    return _close_page(episode, form)


def _close_page(episode, form):
    started_on = services.aftercare_start(episode)
    return render_template(
        "aftercare/close.html",
        episode=episode,
        client=episode.client,
        form=form,
        started_on=started_on,
        completion_from=services.completion_from(started_on),
    )


@bp.route("/check-ins/<int:check_in_id>/void", methods=["GET", "POST"])
@requires(Perm.RECORD_VOID)
def void_check_in(check_in_id: int):
    """Void a check-in recorded in error: it stays listed, out of the outcome figures, and the
    contact shows as due again (a fresh row for the same due date)."""
    row = db.get_or_404(CheckIn, check_in_id)
    episode = load_episode(row.episode_id, Perm.CLIENT_VIEW)  # out of scope: 404, audited
    return void_page(
        row,
        RecordKind.CHECK_IN,
        client=episode.client,
        episode=episode,
        back=url_for("aftercare.show", episode_id=episode.id, _anchor="check-ins"),
        facts=_check_in_facts(row),
        done=f"Check-in due {row.due_on.isoformat()} voided; it stays listed, struck through, "
        "and is due again.",
        recorded=row.status != services.OPEN,
        after=services.reopen_check_in,
        versioned=True,
    )


def _check_in_facts(row: CheckIn) -> list[tuple[str, str]]:
    """What the void page shows of the check-in being voided."""
    shown = services.check_in_row(row, today(), services.status_rules())
    contact = (
        f"{'reached' if row.reached else 'not reached'}, {format_datetime(row.contacted_at)}"
        if row.contacted_at
        else "—"
    )
    return [
        ("Check-in", shown.kind_label),
        ("Due", row.due_on.isoformat()),
        ("Status", shown.status_label),
        ("Contact", contact),
        ("Recorded by", row.recorded_by.display_name if row.recorded_by else "—"),
    ]


@bp.route("/relapses/<int:relapse_id>/void", methods=["GET", "POST"])
@requires(Perm.RECORD_VOID)
def void_relapse(relapse_id: int):
    """Void a lapse or relapse entered in error: it stays listed but no longer sets the
    sobriety date or counts in reports."""
    event = db.get_or_404(RelapseEvent, relapse_id)
    episode = load_episode(event.episode_id, Perm.CLIENT_VIEW)  # out of scope: 404, audited
    return void_page(
        event,
        RecordKind.RELAPSE,
        client=episode.client,
        episode=episode,
        back=url_for("aftercare.show", episode_id=episode.id, _anchor="relapses"),
        facts=[
            ("Kind", event.kind.capitalize()),
            ("Date of use", event.used_on.isoformat()),
            ("Recorded", f"{format_datetime(event.recorded_at)}, {event.recorded_by.display_name}"),
        ],
        done=f"{event.kind.capitalize()} of {event.used_on.isoformat()} voided; it stays listed, "
        "struck through, and no longer sets the sobriety date.",
    )

"""Detox: record COWS and CIWA-Ar assessments with vitals, read the summary, clear for rehab.

Assessments are clinical records: there is no edit or delete route. A correction is a new
assessment; one entered in error is voided with a reason and stays listed, struck through.
"""

from flask import Blueprint, Response, flash, redirect, render_template, url_for

from ..audit.hooks import record
from ..auth.web import me
from ..charts.trend import trend_summary, trend_svg
from ..charts.views import SVG_CSP
from ..clients.access import load_episode
from ..domain.voiding import RecordKind
from ..domain.withdrawal import CIWA_AR, COWS, Instrument
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import facility_tz, format_datetime, from_local, local, today
from ..voids import void_page
from . import board as detox_board
from . import services
from .forms import ClearanceForm, assessment_form
from .models import WithdrawalAssessment

bp = Blueprint("detox", __name__)

# The domain names the stored vital; the nurse typed it into the field in their own unit.
FORM_FIELD = {"temperature_c": "temperature"}


def _field(form, name: str | None):
    """The form field a rule names (attempt() puts the message next to it)."""
    return getattr(form, FORM_FIELD.get(name, name), None) if name else None


def _assess(episode_id: int, instrument: Instrument):
    episode = load_episode(episode_id, Perm.ASSESSMENT_WRITE)
    form = assessment_form(instrument)
    if not form.is_submitted():
        form.assessed_at.data = local(utcnow()).replace(tzinfo=None)  # default: now, facility time
    if form.validate_on_submit():
        entry = form.entry(from_local)
        ok, done = attempt(
            form,
            lambda: services.record_assessment(
                db.session, episode, entry, nurse=me(), now=utcnow()
            ),
            find_field=_field,
        )
        if ok:
            flash(
                f"{instrument.short} recorded: {done.total} ({services.row(done).band_label.lower()}).",
                "success",
            )
            return redirect(url_for("detox.summary", episode_id=episode.id))
    return render_template(
        "detox/assess.html",
        episode=episode,
        client=episode.client,
        form=form,
        instrument=instrument,
    )


@bp.route("/<int:episode_id>/cows", methods=["GET", "POST"])
@requires(Perm.ASSESSMENT_WRITE)
def cows(episode_id: int):
    return _assess(episode_id, COWS)


@bp.route("/<int:episode_id>/ciwa", methods=["GET", "POST"])
@requires(Perm.ASSESSMENT_WRITE)
def ciwa(episode_id: int):
    return _assess(episode_id, CIWA_AR)


@bp.get("/<int:episode_id>")
@requires(Perm.CLIENT_VIEW)
def summary(episode_id: int):
    episode = load_episode(episode_id, Perm.CLIENT_VIEW)
    record(db.session, "detox.viewed", target=episode, client_id=episode.client_id)
    db.session.commit()  # before the queries: a commit would expire the rows they load
    found = services.summary(db.session, episode, utcnow())
    return render_template(
        "detox/summary.html",
        episode=episode,
        client=episode.client,
        trend_text=trend_summary(found["trend"], facility_tz()),
        **found,
    )


@bp.get("/<int:episode_id>/trend.svg")
@requires(Perm.CLIENT_VIEW)
def trend(episode_id: int) -> Response:
    episode = load_episode(episode_id, Perm.CLIENT_VIEW)  # out of scope: 404, audited
    svg = trend_svg(services.trend_points(db.session, episode.id), facility_tz())
    response = Response(svg, mimetype="image/svg+xml")
    response.headers["Content-Security-Policy"] = SVG_CSP
    return response


@bp.get("/board")
@requires(Perm.DETOX_BOARD)
def board():
    found = detox_board.load_board(db.session, me(), utcnow(), today())
    page = render_template("detox/board.html", board=found)
    # Audited after rendering: a commit first would expire every row the page reads. The
    # page is only sent once the audit row is committed.
    record(db.session, "detox.board_viewed", detail={"clients": len(found.rows)})
    db.session.commit()
    return page


@bp.route("/<int:episode_id>/clearance", methods=["GET", "POST"])
@requires(Perm.CLEARANCE_WRITE)
def clearance(episode_id: int):
    episode = load_episode(episode_id, Perm.CLEARANCE_WRITE)
    form = ClearanceForm()
    if form.validate_on_submit():
        ok, _ = attempt(
            form,
            lambda: services.record_clearance(
                db.session, episode, form.note.data, by=me(), now=utcnow()
            ),
            find_field=_field,
        )
        if ok:
            flash("Medical clearance recorded: the client may move to rehab.", "success")
            return redirect(url_for("detox.summary", episode_id=episode.id))
    return render_template(
        "detox/clearance.html",
        episode=episode,
        client=episode.client,
        form=form,
        latest=services.latest_clearance(db.session, episode.id),
    )


@bp.route("/assessments/<int:assessment_id>/void", methods=["GET", "POST"])
@requires(Perm.RECORD_VOID)
def void_assessment(assessment_id: int):
    """Void an assessment entered in error: it stays listed, out of every score and due time."""
    assessment = db.get_or_404(WithdrawalAssessment, assessment_id)
    episode = load_episode(assessment.episode_id, Perm.CLIENT_VIEW)  # out of scope: 404
    shown = services.row(assessment)
    return void_page(
        assessment,
        RecordKind.ASSESSMENT,
        client=episode.client,
        episode=episode,
        back=url_for("detox.summary", episode_id=episode.id),
        facts=[
            ("Scale", shown.instrument),
            ("Assessed", format_datetime(assessment.assessed_at)),
            ("Total", f"{assessment.total} ({shown.band_label.lower()})"),
            ("Recorded by", assessment.nurse.display_name),
        ],
        done=f"{shown.instrument} of {format_datetime(assessment.assessed_at)} voided; "
        "it stays listed, struck through.",
    )

"""Drug screens: record one, read one, list a client's history.

There is deliberately no edit or delete route: a screen is a clinical record. A correction is
recorded as a new screen whose comments say what it corrects; a screen entered in error (the
wrong client, a duplicate) is voided with a reason and stays listed, struck through.
"""

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_client, load_episode
from ..domain.errors import DomainError
from ..domain.voiding import RecordKind
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import format_datetime, from_local, local, local_date
from ..voids import void_page
from . import services
from .forms import screen_form

bp = Blueprint("screens", __name__)

MAX_PAGE = 100_000


def _save(form, action) -> object | None:
    """Run the service and commit; a broken rule goes next to the field it names."""
    try:
        result = action()
        db.session.commit()
    except DomainError as exc:
        db.session.rollback()
        field = getattr(form, exc.field or "", None)
        (field.errors if field is not None else form.form_errors).append(str(exc))
        return None
    return result


@bp.route("/new/<int:episode_id>", methods=["GET", "POST"])
@requires(Perm.SCREEN_WRITE)
def new(episode_id: int):
    episode = load_episode(episode_id, Perm.SCREEN_WRITE)
    form = screen_form()
    if not form.is_submitted():
        form.collected_at.data = local(utcnow()).replace(tzinfo=None)  # default: now, facility time
    if form.validate_on_submit():
        entry = form.entry(from_local)
        screen = _save(
            form,
            lambda: services.record_screen(
                db.session, episode, entry, collector=me(), now=utcnow(), local_date=local_date
            ),
        )
        if screen is not None:
            flash(f"Drug screen recorded: {services.screen_summary(screen)}.", "success")
            return redirect(url_for("clients.show", client_id=episode.client_id))
    return render_template("screens/new.html", episode=episode, client=episode.client, form=form)


@bp.get("/<int:screen_id>")
@requires(Perm.CLIENT_VIEW)
def show(screen_id: int):
    screen = services.load(db.session, screen_id)
    if screen is None:
        abort(404)
    client = load_client(screen.episode.client_id)
    record(db.session, "drug_screen.viewed", target=screen)
    db.session.commit()
    return render_template(
        "screens/show.html", client=client, screen=screen, row=services.row(screen)
    )


@bp.get("/client/<int:client_id>")
@requires(Perm.CLIENT_VIEW)
def history(client_id: int):
    client = load_client(client_id)
    page = min(max(request.args.get("page", 1, type=int), 1), MAX_PAGE)
    record(db.session, "drug_screen.history_viewed", target=client, detail={"page": page})
    db.session.commit()  # before the query: a commit would expire the rows it loaded
    rows, has_more = services.history(db.session, client.id, page)
    return render_template(
        "screens/history.html", client=client, rows=rows, page=page, has_more=has_more
    )


@bp.route("/<int:screen_id>/void", methods=["GET", "POST"])
@requires(Perm.RECORD_VOID)
def void(screen_id: int):
    """Void a screen entered in error: it stays listed, out of sobriety dates and reports."""
    screen = services.load(db.session, screen_id)
    if screen is None:
        abort(404)
    client = load_client(screen.episode.client_id)  # out of scope: 404, audited
    shown = services.row(screen)
    when = format_datetime(screen.collected_at)
    return void_page(
        screen,
        RecordKind.SCREEN,
        client=client,
        episode=screen.episode,
        back=url_for("screens.show", screen_id=screen.id),
        facts=[
            ("Collected", when),
            ("Summary", shown.summary),
            ("Specimen", shown.specimen),
            ("Collected by", screen.collector.display_name),
        ],
        done=f"Drug screen of {when} voided; it stays listed, struck through.",
    )

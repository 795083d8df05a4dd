from flask import Blueprint, flash, redirect, render_template, url_for
from flask_login import current_user

from ..auth.models import User
from ..auth.web import me
from ..domain.errors import DomainError
from ..episodes import services as episodes
from ..episodes.forms import counselor_choices
from ..episodes.views import to_chart
from ..extensions import db
from ..forms import open_version, stale, version_of
from ..orm import utcnow
from ..policy import Perm, authorize, can, requires
from ..sqlite_setup import reads_only
from ..timefmt import day_start, today
from . import search, services
from .access import load_client, with_episode_history
from .forms import FaceSheetEditForm, IntakeForm
from .search_forms import ClientSearchForm

bp = Blueprint("clients", __name__)


@bp.route("/", methods=["GET", "POST"])
@reads_only  # the search is posted (no name in a URL) but only reads
@requires(Perm.CLIENT_VIEW)
def index():
    form = ClientSearchForm()
    if form.is_submitted() and not form.validate():
        return render_template(
            "clients/index.html", form=form, rows=[], more=False, today=today()
        ), 400
    rows, more = search.find(
        db.session,
        q=form.q.data or "",
        sort=form.sort.data or "name",
        descending=form.direction.data == "desc",
        page=form.page.data or 1,
    )
    return render_template("clients/index.html", form=form, rows=rows, more=more, today=today())


def _field_error(form, exc: DomainError) -> None:
    """Show a rule violation next to the field it names (or above the form)."""
    field = getattr(form, exc.field or "", None)
    if field is not None and hasattr(field, "form"):  # a substance sub-form: its first select
        field = field.form.substance
    (field.errors if field is not None else form.form_errors).append(str(exc))


def _intake_form() -> IntakeForm:
    form = IntakeForm()
    people = episodes.counselors(db.session)
    form.counselor.choices = counselor_choices(people)
    form.offer_sites(episodes.active_sites(db.session), me().site)
    if not form.is_submitted() and me().id in [p.id for p in people]:
        form.counselor.data = me().id  # a counselor doing intake usually keeps the client
    return form


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.CLIENT_REGISTER)
def new():
    form = _intake_form()
    if form.validate_on_submit():
        try:
            client = services.register(db.session, form.sheet(), actor=me(), today=today())
            counselor = db.session.get(User, form.counselor.data)
            episodes.admit(
                db.session,
                client,
                actor=me(),
                admitted_on=form.admitted_on.data,
                counselor=counselor,
                now=utcnow(),
                admitted_at=day_start(form.admitted_on.data),
                site=form.chosen_site,
            )
        except DomainError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash(f"{client.display_name} admitted as {client.mrn}.", "success")
            return to_chart(client)
    return render_template("clients/intake.html", form=form)


@bp.get("/<int:client_id>")
@requires(Perm.CLIENT_VIEW)
def show(client_id: int):
    client = load_client(client_id)
    services.record_view(db.session, client)
    db.session.commit()
    client = with_episode_history(client)
    return render_template(
        "clients/show.html",
        client=client,
        site_move=_can_move_site(client),
        **services.chart_summary(client, today()),
    )


def _can_move_site(client) -> bool:
    """Whether the chart offers "Change site": the user may, and another site is open."""
    episode = client.episodes[-1] if client.episodes else None
    if episode is None or not can(current_user, Perm.EPISODE_SITE, episode):
        return False
    return any(s.id != episode.site_id for s in episodes.active_sites(db.session))


# The face sheet form edits the client's funding and substance rows too: they are part of its
# version, and a change to one of them is a change to the face sheet.
FACE_SHEET_ROWS = ("client_funding", "client_substances")


def _face_sheet_version(client) -> str:
    return version_of(client, *client.funding, *client.substances)


@bp.route("/<int:client_id>/edit", methods=["GET", "POST"])
@requires(Perm.CLIENT_EDIT)
def edit(client_id: int):
    client = load_client(client_id)
    authorize(Perm.CLIENT_EDIT, client)
    form = FaceSheetEditForm()
    if not form.is_submitted():
        form.fill_from(client)
        open_version(form, client, _face_sheet_version)
    if form.validate_on_submit() and not stale(
        form, client, _face_sheet_version, client_types=FACE_SHEET_ROWS
    ):
        try:
            services.update(db.session, client, form.sheet(), today=today())
        except DomainError as exc:
            db.session.rollback()
            _field_error(form, exc)
        else:
            db.session.commit()
            flash("Face sheet saved.", "success")
            return redirect(url_for("clients.show", client_id=client.id))
    return render_template("clients/edit.html", form=form, client=client)

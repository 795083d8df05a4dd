import sqlalchemy as sa
from flask import Blueprint, flash, redirect, render_template, url_for

from ..auth.models import User
from ..auth.web import me
from ..clients.access import load_client, load_episode
from ..clients.models import Client
from ..domain.care import Setting
from ..extensions import db
from ..forms import attempt, open_version, stale
from ..orm import utcnow
from ..policy import Perm, requires, scoped
from ..timefmt import day_start, from_local, local, local_date, today
from . import services
from .forms import (
    AssignForm,
    DischargeForm,
    LevelOfCareForm,
    PhaseMoveForm,
    ReadmitForm,
    SiteTransferForm,
    counselor_choices,
)

bp = Blueprint("episodes", __name__)

CONFLICT = "Someone else changed this episode a moment ago. Reload the page and try again."


def _to_chart(client_id: int):
    return redirect(url_for("clients.show", client_id=client_id))


def to_chart(client: Client):
    """Back to the chart after an admission or a site change; to the home page instead when
    that took the client out of the user's sight (an episode at a site they do not work at,
    or on another counselor's caseload)."""
    visible = scoped(sa.select(Client.id).where(Client.id == client.id), Perm.CLIENT_VIEW)
    if db.session.scalar(visible) is not None:
        return _to_chart(client.id)
    site = client.episodes[-1].site
    where = f"with the staff of {site.name}" if site else "not on your caseload"
    flash(f"{client.display_name}'s chart is now {where}, so it does not open for you.", "info")
    return redirect(url_for("home.index"))


def _attempt(form, action, default_field: str = "") -> tuple[bool, object]:
    return attempt(form, action, default_field, conflict=CONFLICT)


@bp.route("/<int:episode_id>/phase", methods=["GET", "POST"])
@requires(Perm.EPISODE_MOVE)
def change_phase(episode_id: int):
    episode = load_episode(episode_id, Perm.EPISODE_MOVE)
    form = PhaseMoveForm(episode.phase)
    if not form.is_submitted():
        form.effective_at.data = local(utcnow()).replace(tzinfo=None)  # default: now, facility time
    if form.validate_on_submit():
        move = services.Move(
            form.target_phase,
            from_local(form.effective_at.data),
            form.reason.data,
            form.backdate_reason.data or "",
        )
        ok, warnings = _attempt(
            form,
            lambda: services.move(
                db.session, episode, move, actor=me(), now=utcnow(), local_date=local_date
            ),
            "target",
        )
        if ok:
            for warning in warnings:
                flash(warning.message, "warning")
            flash(f"Moved to {move.target.label.lower()}.", "success")
            return _to_chart(episode.client_id)
    return render_template(
        "episodes/change_phase.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/discharge", methods=["GET", "POST"])
@requires(Perm.EPISODE_DISCHARGE)
def discharge(episode_id: int):
    episode = load_episode(episode_id, Perm.EPISODE_DISCHARGE)
    form = DischargeForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.discharge(
                db.session,
                episode,
                form.details(from_local),
                actor=me(),
                now=utcnow(),
                today=today(),
            ),
        )
        if ok:
            flash("Episode discharged.", "success")
            return _to_chart(episode.client_id)
    return render_template(
        "episodes/discharge.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/level-of-care", methods=["GET", "POST"])
@requires(Perm.LEVEL_OF_CARE_SET)
def level_of_care(episode_id: int):
    episode = load_episode(episode_id, Perm.LEVEL_OF_CARE_SET)
    form = LevelOfCareForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.set_level_of_care(
                db.session,
                episode,
                setting=Setting(form.setting.data),
                code_system=form.code_system,
                code=form.code.data,
                started_on=form.started_on.data,
                actor=me(),
                today=today(),
            ),
        )
        if ok:
            flash("Level of care recorded.", "success")
            return _to_chart(episode.client_id)
    return render_template(
        "episodes/level_of_care.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/assign", methods=["GET", "POST"])
@requires(Perm.CASELOAD_ASSIGN)
def assign(episode_id: int):
    episode = load_episode(episode_id, Perm.CASELOAD_ASSIGN)
    form = AssignForm()
    form.counselor.choices = counselor_choices(services.counselors(db.session))
    if not form.is_submitted():
        open_version(form, episode)
    if form.validate_on_submit() and not stale(form, episode):
        counselor = db.session.get(User, form.counselor.data)
        ok, _ = _attempt(
            form,
            lambda: services.assign_counselor(
                db.session,
                episode,
                counselor,
                actor=me(),
                now=utcnow(),
                reason=form.reason.data or "",
            ),
        )
        if ok:
            flash(f"Primary counselor is now {counselor.full_name}.", "success")
            return _to_chart(episode.client_id)
    return render_template(
        "episodes/assign.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/readmit/<int:client_id>", methods=["GET", "POST"])
@requires(Perm.EPISODE_READMIT)
def readmit(client_id: int):
    client = load_client(client_id)
    form = ReadmitForm()
    form.counselor.choices = counselor_choices(services.counselors(db.session))
    previous = client.episodes[-1].site if client.episodes else None
    form.offer_sites(services.active_sites(db.session), me().site, previous)
    if form.validate_on_submit():
        counselor = db.session.get(User, form.counselor.data)
        ok, _ = _attempt(
            form,
            lambda: services.admit(
                db.session,
                client,
                actor=me(),
                admitted_on=form.admitted_on.data,
                counselor=counselor,
                now=utcnow(),
                admitted_at=day_start(form.admitted_on.data),
                site=form.chosen_site,
            ),
        )
        if ok:
            flash(
                f"{client.display_name} readmitted: episode {len(client.episodes)} opened.",
                "success",
            )
            return to_chart(client)
    return render_template("episodes/readmit.html", client=client, form=form)


@bp.route("/<int:episode_id>/site", methods=["GET", "POST"])
@requires(Perm.EPISODE_SITE)
def change_site(episode_id: int):
    episode = load_episode(episode_id, Perm.EPISODE_SITE)
    form = SiteTransferForm()
    form.offer_sites([s for s in services.active_sites(db.session) if s.id != episode.site_id])
    form.offer_counselors(services.counselors(db.session), episode.primary_counselor)
    if not form.is_submitted():
        open_version(form, episode)
    if form.validate_on_submit() and not stale(form, episode):
        to_site = form.chosen_site
        ok, _ = _attempt(
            form,
            lambda: services.transfer_site(
                db.session,
                episode,
                to_site,
                actor=me(),
                reason=form.reason.data,
                now=utcnow(),
                counselor=form.chosen_counselor,
            ),
        )
        if ok:
            flash(f"{episode.client.display_name} moved to {to_site.name}.", "success")
            return to_chart(episode.client)
    return render_template(
        "episodes/change_site.html", episode=episode, client=episode.client, form=form
    )

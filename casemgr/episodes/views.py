from flask import Blueprint, flash, redirect, render_template, url_for
from sqlalchemy.orm.exc import StaleDataError

from ..auth.models import User
from ..auth.web import me
from ..clients.access import load_client, load_episode
from ..domain.care import Setting
from ..domain.errors import DomainError
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import from_local, local, local_date, today
from . import services
from .forms import (
    AssignForm,
    DischargeForm,
    LevelOfCareForm,
    PhaseMoveForm,
    ReadmitForm,
    counselor_choices,
)

bp = Blueprint("episodes", __name__)


def _to_chart(episode):
    return redirect(url_for("clients.show", client_id=episode.client_id))


def _error(form, exc: DomainError) -> None:
    field = getattr(form, exc.field or "", None)
    (field.errors if field is not None else form.form_errors).append(str(exc))


def _commit_or_conflict(form) -> bool:
    """Two staff saving the same episode at once: the second is told, nothing is overwritten."""
    try:
        db.session.commit()
    except StaleDataError:
        db.session.rollback()
        form.form_errors.append(
            "Someone else changed this episode a moment ago. Reload and try again."
        )
        return False
    return True


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
        try:
            warnings = services.move(
                db.session, episode, move, actor=me(), now=utcnow(), local_date=local_date
            )
        except (DomainError, ValueError) as exc:
            db.session.rollback()
            _error(form, exc if isinstance(exc, DomainError) else DomainError(str(exc), "target"))
        else:
            if _commit_or_conflict(form):
                for w in warnings:
                    flash(w.message, "warning")
                flash(f"Moved to {episode.phase.label.lower()}.", "success")
                return _to_chart(episode)
    return render_template(
        "episodes/change_phase.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/discharge", methods=["GET", "POST"])
@requires(Perm.EPISODE_DISCHARGE)
def discharge(episode_id: int):
    episode = load_episode(episode_id, Perm.EPISODE_DISCHARGE)
    form = DischargeForm()
    if form.validate_on_submit():
        details = services.DischargeDetails(
            last_contact_on=form.last_contact_on.data,
            discharged_on=form.discharged_on.data,
            reason_code=form.reason_code.data,
            use_frequency=form.use_frequency.data,
            employment=form.employment.data,
            living_arrangement=form.living_arrangement.data,
            arrests_30d=form.arrests_30d.data or 0,
            self_help=form.self_help.data,
            note=form.note.data or "",
            left_at=from_local(form.left_at.data) if form.left_at.data else None,
        )
        try:
            services.discharge(
                db.session, episode, details, actor=me(), now=utcnow(), today=today()
            )
        except (DomainError, ValueError) as exc:
            db.session.rollback()
            _error(form, exc if isinstance(exc, DomainError) else DomainError(str(exc)))
        else:
            if _commit_or_conflict(form):
                flash("Episode discharged.", "success")
                return _to_chart(episode)
    return render_template(
        "episodes/discharge.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/level-of-care", methods=["GET", "POST"])
@requires(Perm.LEVEL_OF_CARE_SET)
def level_of_care(episode_id: int):
    episode = load_episode(episode_id, Perm.LEVEL_OF_CARE_SET)
    form = LevelOfCareForm()
    if form.validate_on_submit():
        try:
            services.set_level_of_care(
                db.session,
                episode,
                setting=Setting(form.setting.data),
                code_system=form.code_system,
                code=form.code.data,
                started_on=form.started_on.data,
                actor=me(),
                today=today(),
            )
        except DomainError as exc:
            db.session.rollback()
            _error(form, exc)
        else:
            if _commit_or_conflict(form):
                flash("Level of care recorded.", "success")
                return _to_chart(episode)
    return render_template(
        "episodes/level_of_care.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/<int:episode_id>/assign", methods=["GET", "POST"])
@requires(Perm.CASELOAD_ASSIGN)
def assign(episode_id: int):
    episode = load_episode(episode_id, Perm.CASELOAD_ASSIGN)
    form = AssignForm()
    form.counselor.choices = counselor_choices(services.counselors(db.session))
    if form.validate_on_submit():
        try:
            services.assign_counselor(
                db.session,
                episode,
                db.session.get(User, form.counselor.data),
                actor=me(),
                now=utcnow(),
                reason=form.reason.data or "",
            )
        except DomainError as exc:
            db.session.rollback()
            _error(form, exc)
        else:
            if _commit_or_conflict(form):
                flash(f"Primary counselor is now {episode.primary_counselor.full_name}.", "success")
                return _to_chart(episode)
    return render_template(
        "episodes/assign.html", episode=episode, client=episode.client, form=form
    )


@bp.route("/readmit/<int:client_id>", methods=["GET", "POST"])
@requires(Perm.EPISODE_READMIT)
def readmit(client_id: int):
    client = load_client(client_id)
    form = ReadmitForm()
    form.counselor.choices = counselor_choices(services.counselors(db.session))
    if form.validate_on_submit():
        try:
            services.admit(
                db.session,
                client,
                actor=me(),
                admitted_on=form.admitted_on.data,
                counselor=db.session.get(User, form.counselor.data),
                now=utcnow(),
            )
        except DomainError as exc:
            db.session.rollback()
            _error(form, exc)
        else:
            db.session.commit()
            flash(
                f"{client.display_name} readmitted: episode {len(client.episodes)} opened.",
                "success",
            )
            return redirect(url_for("clients.show", client_id=client.id))
    return render_template("episodes/readmit.html", client=client, form=form)

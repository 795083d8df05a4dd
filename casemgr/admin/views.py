from flask import Blueprint, flash, redirect, render_template, request, url_for

from ..auth.models import User, UserSession
from ..auth.web import me
from ..domain.errors import DomainError
from ..domain.roles import Role
from ..extensions import db
from ..forms import open_version, stale, version_of
from ..orm import utcnow
from ..policy import Perm, requires
from ..sites import services as site_services
from . import services, settings
from .forms import (
    ConfirmForm,
    ResetPasswordForm,
    SettingsForm,
    StaffCreateForm,
    StaffDetailsForm,
    StaffEditForm,
    StaffFilterForm,
)

bp = Blueprint("admin", __name__)


def _details(form: StaffDetailsForm) -> services.StaffDetails:
    return services.StaffDetails(
        full_name=form.full_name.data,
        credentials=form.credentials.data or "",
        email=form.email.data or "",
        roles=form.role_set,
        needs_supervision=bool(form.needs_supervision.data),
        site_id=form.chosen_site_id,
    )


def _offer_sites(form: StaffDetailsForm, user: User | None) -> None:
    """Open sites (and the person's current one, even closed); no field without sites."""
    sites = site_services.all_sites(db.session)
    if sites:
        form.site_id.choices = site_services.staff_choices(sites, user.site_id if user else None)
        form.site_id.data = form.site_id.data or site_services.NETWORK
    else:
        del form.site_id


def _field_error(form, exc: DomainError, default: str) -> None:
    field = getattr(form, exc.field or "", None) or getattr(form, default, None)
    if field is None:
        form.form_errors.append(str(exc))
    else:
        field.errors.append(str(exc))


@bp.get("/staff")
@requires(Perm.STAFF_MANAGE)
def staff_list():
    form = StaffFilterForm(request.args)
    if not form.validate():
        return render_template("admin/staff_list.html", form=form, staff=[]), 400
    role = Role(form.role.data) if form.role.data else None
    staff = services.list_staff(
        db.session, status=form.status.data, role=role, query=form.q.data or ""
    )
    return render_template(
        "admin/staff_list.html",
        form=form,
        staff=staff,
        now=utcnow(),
        show_sites=site_services.any_site(db.session),
    )


@bp.route("/staff/new", methods=["GET", "POST"])
@requires(Perm.STAFF_MANAGE)
def staff_new():
    form = StaffCreateForm()
    _offer_sites(form, None)
    if form.validate_on_submit():
        try:
            user = services.create_staff(
                db.session,
                form.login.data,
                _details(form),
                form.password.data,
                facility=settings.facility_name(db.session),
            )
        except DomainError as exc:
            _field_error(form, exc, "password")
        else:
            db.session.commit()
            flash(
                f"Account {user.login} created. Give the temporary password to {user.full_name} in person.",
                "success",
            )
            return redirect(url_for("admin.staff_show", user_id=user.id))
    return render_template("admin/staff_form.html", form=form, user=None)


@bp.get("/staff/<int:user_id>")
@requires(Perm.STAFF_MANAGE)
def staff_show(user_id: int):
    user = db.get_or_404(User, user_id)
    open_sessions = db.session.scalars(
        db.select(UserSession)
        .where(UserSession.user_id == user.id, UserSession.ended_at.is_(None))
        .order_by(UserSession.last_seen_at.desc())
    ).all()
    return render_template(
        "admin/staff_show.html",
        user=user,
        sessions=open_sessions,
        confirm=ConfirmForm(),
        now=utcnow(),
        show_sites=site_services.any_site(db.session),
    )


def _account_version(user: User) -> str:
    return version_of(user, *user.role_rows)  # accounts have no version counter: a digest


@bp.route("/staff/<int:user_id>/edit", methods=["GET", "POST"])
@requires(Perm.STAFF_MANAGE)
def staff_edit(user_id: int):
    user = db.get_or_404(User, user_id)
    form = StaffEditForm(
        obj=user, data=None if request.method == "POST" else {"roles": list(user.roles)}
    )
    _offer_sites(form, user)
    if not form.is_submitted():
        open_version(form, user, _account_version)
    if form.validate_on_submit() and not stale(
        form, user, _account_version, related=user.role_rows
    ):
        try:
            services.update_staff(db.session, user, _details(form), actor=me())
        except DomainError as exc:
            _field_error(form, exc, "roles")
        else:
            db.session.commit()
            flash("Changes saved.", "success")
            return redirect(url_for("admin.staff_show", user_id=user.id))
    return render_template("admin/staff_form.html", form=form, user=user)


@bp.route("/staff/<int:user_id>/password", methods=["GET", "POST"])
@requires(Perm.STAFF_MANAGE)
def staff_password(user_id: int):
    user = db.get_or_404(User, user_id)
    form = ResetPasswordForm()
    if form.validate_on_submit():
        try:
            services.reset_password(
                db.session,
                user,
                form.password.data,
                facility=settings.facility_name(db.session),
                now=utcnow(),
            )
        except DomainError as exc:
            _field_error(form, exc, "password")
        else:
            db.session.commit()
            flash(f"Temporary password set; {user.full_name}'s sessions were ended.", "success")
            return redirect(url_for("admin.staff_show", user_id=user.id))
    return render_template("admin/staff_password.html", form=form, user=user)


_ACTIONS = {
    "deactivate": (
        lambda u: services.deactivate(db.session, u, actor=me(), now=utcnow()),
        "Account deactivated; its sessions have ended.",
    ),
    "reactivate": (lambda u: services.reactivate(db.session, u), "Account reactivated."),
    "unlock": (lambda u: services.unlock(db.session, u), "Account unlocked."),
    "end-sessions": (
        lambda u: services.end_sessions(db.session, u, now=utcnow()),
        "Sessions ended.",
    ),
}


@bp.post("/staff/<int:user_id>/<any(deactivate, reactivate, unlock, 'end-sessions'):action>")
@requires(Perm.STAFF_MANAGE)
def staff_action(user_id: int, action: str):
    user = db.get_or_404(User, user_id)
    if not ConfirmForm().validate_on_submit():
        flash("The form expired; try again.", "error")
        return redirect(url_for("admin.staff_show", user_id=user.id))
    run, message = _ACTIONS[action]
    try:
        run(user)
    except DomainError as exc:
        db.session.rollback()
        flash(str(exc), "error")
    else:
        db.session.commit()
        flash(message, "success")
    return redirect(url_for("admin.staff_show", user_id=user.id))


@bp.route("/settings", methods=["GET", "POST"])
@requires(Perm.SETTINGS_MANAGE)
def settings_edit():
    form = SettingsForm(
        data=None
        if request.method == "POST"
        else {"facility_name": settings.facility_name(db.session)}
    )
    if form.validate_on_submit():
        settings.put(db.session, settings.FACILITY_NAME, form.facility_name.data.strip())
        db.session.commit()
        flash("Settings saved.", "success")
        return redirect(url_for("admin.settings_edit"))
    return render_template("admin/settings.html", form=form)

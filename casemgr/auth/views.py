from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from ..admin import settings
from ..domain.errors import DomainError
from ..domain.redirects import safe_next
from ..extensions import db
from ..orm import utcnow
from ..policy import Perm, public, requires
from . import services
from .forms import ChangePasswordForm, LoginForm
from .web import establish, me

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("home.index"))
    form = LoginForm()
    if form.validate_on_submit():
        try:
            result = services.sign_in(
                db.session,
                form.login.data,
                form.password.data,
                now=utcnow(),
                remote_addr=request.remote_addr or "",
                user_agent=request.user_agent.string,
            )
        except services.SignInFailed as exc:
            db.session.commit()  # keep the failed-attempt count and its audit event
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            establish(result.user, result.token)
            _flash_earlier_failures(result.earlier_failures)
            return redirect(safe_next(request.args.get("next")) or url_for("home.index"))
    return render_template("auth/login.html", form=form)


def _flash_earlier_failures(count: int) -> None:
    if count:
        flash(
            f"There were {count} failed sign-in attempts on your account since your last "
            "sign-in. If that was not you, tell an administrator.",
            "warning",
        )


@bp.post("/logout")
@requires(Perm.ACCOUNT_SELF)
def logout():
    services.sign_out(db.session, me(), g.get("user_session"), now=utcnow())
    db.session.commit()
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    response = redirect(url_for("auth.login"))
    response.headers["Clear-Site-Data"] = '"cache"'
    return response


@bp.route("/account/password", methods=["GET", "POST"])
@requires(Perm.ACCOUNT_SELF)
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            services.change_password(
                db.session,
                me(),
                form.current_password.data,
                form.new_password.data,
                now=utcnow(),
                facility=settings.facility_name(db.session),
                keep=g.get("user_session"),
            )
        except DomainError as exc:
            getattr(form, exc.field or "new_password").errors.append(str(exc))
        else:
            db.session.commit()
            flash("Password changed. Your other sessions were signed out.", "success")
            return redirect(url_for("home.index"))
    return render_template("auth/change_password.html", form=form)

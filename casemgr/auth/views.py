from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from flask_login import current_user, logout_user

from ..admin import settings
from ..domain.errors import DomainError
from ..domain.redirects import safe_next
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, public, requires
from . import services, totp, two_factor
from .forms import (
    ChangePasswordForm,
    CodeForm,
    EnrolAtSignInForm,
    LoginForm,
    PasswordOnlyForm,
    SetUpTwoFactorForm,
)
from .web import PENDING_FAILURES, PENDING_NEXT, establish, establish_pending, me

bp = Blueprint("auth", __name__)

# The sealed seed of an authenticator being set up, kept until its first code confirms it.
CANDIDATE = "totp_candidate"


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
        except services.Throttled as exc:
            db.session.commit()  # keep the audit event
            form.form_errors.append(str(exc))
            return _too_many(render_template("auth/login.html", form=form), exc)
        except services.SignInFailed as exc:
            db.session.commit()  # keep the failed-attempt count and its audit event
            form.form_errors.append(str(exc))
        else:
            db.session.commit()
            return _password_accepted(result)
    return render_template("auth/login.html", form=form)


def _password_accepted(result: services.SignIn) -> Any:
    """On to the second factor (a pending session), or signed in where none is required."""
    next_url = safe_next(request.args.get("next"))
    if result.awaiting_second_factor:
        establish_pending(result.token, next_url=next_url, earlier_failures=result.earlier_failures)
        return redirect(url_for("auth.second_factor"))
    establish(result.user, result.token)
    _flash_earlier_failures(result.earlier_failures)
    return redirect(next_url or url_for("home.index"))


def _too_many(page: str, exc: services.Throttled) -> Any:
    return page, 429, {"Retry-After": str(exc.retry_after)}


@bp.route("/login/code", methods=["GET", "POST"])
@public
def second_factor():
    """The second step of signing in; reached only with a session waiting for it (the
    gate in web.py sends such a session nowhere else). Someone without an authenticator
    sets one up here, right after their password, and is signed in by its first code."""
    pending = g.get("pending_session")
    if pending is None:
        return redirect(
            url_for("home.index") if current_user.is_authenticated else url_for("auth.login")
        )
    enrolling = not two_factor.enabled(pending.user)
    seed = _candidate_seed() if enrolling else None
    form = EnrolAtSignInForm() if enrolling else CodeForm()
    result, throttled = (
        _check_code(form, pending, seed) if form.validate_on_submit() else (None, None)
    )
    if result is not None:
        return _signed_in(result)
    page = render_template(
        "auth/second_factor.html",
        form=form,
        enrolling=enrolling,
        setup=_setup(pending.user, seed) if seed else None,
    )
    return _too_many(page, throttled) if throttled else page


def _check_code(
    form: Any, pending: Any, seed: str | None
) -> tuple[services.SecondFactor | None, services.Throttled | None]:
    """The code's verdict, committed whatever it is: a refusal keeps its throttle count and
    its audit event. Errors go on the form."""
    try:
        result = services.pass_second_factor(
            db.session,
            pending,
            form.code.data,
            now=utcnow(),
            remote_addr=request.remote_addr or "",
            enrol_seed=seed,
        )
    except services.Throttled as exc:
        db.session.commit()
        form.form_errors.append(str(exc))
        return None, exc
    except two_factor.CodeRefused as exc:
        db.session.commit()
        form.code.errors.append(str(exc))
        return None, None
    db.session.commit()
    return result, None


def _signed_in(result: services.SecondFactor) -> Any:
    next_url = session.get(PENDING_NEXT)
    failures = session.get(PENDING_FAILURES, 0)
    establish(result.user, result.token)  # a new cookie session: nothing pending survives
    _flash_earlier_failures(failures)
    if result.recovery_codes:
        return render_template(
            "auth/recovery_codes.html",
            codes=result.recovery_codes,
            continue_url=next_url or url_for("home.index"),
            enrolled=True,
        )
    if result.recovery_codes_left is not None:
        flash(
            f"You signed in with a recovery code; {result.recovery_codes_left} left. "
            "If your phone is lost, set up the app again under Two-factor sign-in.",
            "warning",
        )
    return redirect(next_url or url_for("home.index"))


def _candidate_seed() -> str:
    sealed = session.get(CANDIDATE)
    if sealed:
        try:
            return totp.unseal(sealed)
        except totp.SeedUnreadable:
            pass
    seed = totp.new_seed()
    session[CANDIDATE] = totp.seal(seed)
    return seed


def _setup(user: Any, seed: str) -> dict[str, Any]:
    """What an authenticator app needs: the QR code, or the key typed by hand."""
    issuer = two_factor.issuer(db.session)
    uri = totp.provisioning_uri(seed, login=user.login, issuer=issuer)
    return {
        "qr": totp.qr_svg(uri, label=f"QR code to add {user.login} at {issuer} to an app"),
        "key": " ".join(seed[i : i + 4] for i in range(0, len(seed), 4)),
        "uri": uri,
        "issuer": issuer,
    }


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


@bp.route("/account/two-factor", methods=["GET", "POST"], endpoint="two_factor")
@requires(Perm.ACCOUNT_SELF)
def two_factor_settings():
    """Set up or move the authenticator, make new recovery codes, or (where two-factor
    sign-in is optional) turn it off. Each needs the current password."""
    user = me()
    forms = {
        "setup": SetUpTwoFactorForm(prefix="setup"),
        "codes": PasswordOnlyForm(prefix="codes"),
        "off": PasswordOnlyForm(prefix="off"),
    }
    seed = _candidate_seed()
    action = request.form.get("action") if request.method == "POST" else None
    form = forms.get(action or "")
    if action == "off" and two_factor.required():
        flash("Two-factor sign-in is required here; it cannot be turned off.", "error")
        form = None
    if form is not None and form.validate():
        done = _account_change(action, form, user, seed)
        if done is not None:
            return done
    return render_template(
        "auth/two_factor.html",
        forms=forms,
        enabled=two_factor.enabled(user),
        required=two_factor.required(),
        codes_left=two_factor.recovery_codes_left(db.session, user),
        since=user.totp_enabled_at,
        setup=_setup(user, seed),
    )


_DONE = {
    "setup": "Two-factor sign-in is set up. Your other sessions were signed out.",
    "codes": "New recovery codes made; the old ones no longer work.",
    "off": "Two-factor sign-in is off. Your other sessions were signed out.",
}


def _account_change(action: str, form: Any, user: Any, seed: str) -> Any:
    """Run one change from the account page; None when the form shows an error instead."""
    now, keep = utcnow(), g.get("user_session")
    password = form.password.data
    calls = {
        "setup": lambda: services.set_up_two_factor(
            db.session, user, password, seed, form.code.data, now=now, keep=keep
        ),
        "codes": lambda: services.replace_recovery_codes(db.session, user, password, now=now),
        "off": lambda: services.turn_off_two_factor(db.session, user, password, now=now, keep=keep),
    }
    ok, codes = attempt(form, calls[action])
    if not ok:
        return None
    if action == "off":
        flash(_DONE[action], "success")
        return redirect(url_for("auth.two_factor"))
    if action == "setup":
        session.pop(CANDIDATE, None)  # the next move to a new phone gets a new key
    return _show_codes(codes, _DONE[action])


def _show_codes(codes: list[str], message: str) -> str:
    flash(message, "success")
    return render_template(
        "auth/recovery_codes.html",
        codes=codes,
        continue_url=url_for("auth.two_factor"),
        enrolled=False,
    )

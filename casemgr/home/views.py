from collections.abc import Callable
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, url_for
from flask_login import current_user

from ..aftercare import services as aftercare
from ..audit import services as audit_services
from ..auth.web import me
from ..domain.roles import Role
from ..extensions import db
from ..notes import queries as notes
from ..orm import utcnow
from ..policy import Perm, authorize, requires
from ..privacy import emergency
from ..timefmt import facility_tz, today
from . import services
from .forms import ListForm

bp = Blueprint("home", __name__)


@bp.get("/")
@requires(Perm.HOME_VIEW)
def index():
    role = current_user.primary_role
    if role is None:
        abort(403)
    return redirect(url_for("home.role_home", role=role.value))


@bp.get("/home/<role>")
@requires(Perm.HOME_VIEW)
def role_home(role: str):
    try:
        role_ = Role(role)
    except ValueError:
        abort(404)
    authorize(Perm.ROLE_HOME, role_)
    panels, data = _PANELS.get(role_, ((), _nothing))
    return render_template(
        "home/index.html",
        role=role_,
        panels=(*panels, "on_shift", "account"),
        **data(),
        **_common(),
    )


def _common() -> dict[str, Any]:
    idle = int(current_app.config["SESSION_IDLE_MINUTES"])
    return {
        "on_shift": services.signed_in_staff(db.session, utcnow(), idle),
        "my_sign_ins": services.my_recent_sign_ins(db.session, me()),
        "my_roles": sorted(current_user.roles),
    }


def _nothing() -> dict[str, Any]:
    return {}


def _admin() -> dict[str, Any]:
    return {
        "locked": services.locked_accounts(db.session, utcnow()),
        "pending": services.pending_password_change(db.session),
        "counts": services.staff_counts(db.session),
        "failed": services.recent_failed_sign_ins(db.session),
        "head": audit_services.head(db.session),
    }


def _manager() -> dict[str, Any]:
    on = today()
    user = me()
    return {
        "roster": services.roster(db.session, user),
        "counts": services.staff_counts(db.session, user),
        "failed": services.recent_failed_sign_ins(db.session),
        "census": services.census_figures(db.session, user, on, facility_tz()),
        "flow": services.month_flow(db.session, user, on),
        "past_planned": services.overdue(db.session, user, on),
        "unassigned": services.unassigned(db.session, user, on),
        "emergency_alerts": emergency.active_and_unacknowledged(db.session, viewer=user),
        "today": on,
    }


def _list_form(sorts: tuple[str, ...], default_sort: str, default_dir: str) -> ListForm:
    """The sort and page of a work list, from the query string; anything else is refused."""
    form = ListForm(sorts, default_sort, default_dir)
    if not form.validate():
        abort(400)
    return form


def _counselor() -> dict[str, Any]:
    form = _list_form(services.CASELOAD_SORTS, "name", "asc")
    on, user = today(), me()
    return {
        "unsigned_notes": notes.overdue_drafts(db.session, user, utcnow(), facility_tz()),
        "check_ins_due": aftercare.due_check_ins(db.session, user, on),
        "my_overdue": services.overdue(db.session, user, on, counselor=user),
        "plan_reviews": services.plan_reviews(db.session, user, on, counselor=user),
        "caseload": services.caseload(db.session, user, on, form.query()),
        "today": on,
    }


def _detox() -> dict[str, Any]:
    form = _list_form(services.DETOX_SORTS, "days", "desc")
    on = today()
    return {
        "unsigned_notes": notes.overdue_drafts(db.session, me(), utcnow(), facility_tz()),
        "detox": services.detox_board(db.session, me(), on, form.query()),
        "today": on,
    }


def _physician() -> dict[str, Any]:
    from ..mar import services as mar

    return {**_detox(), "cosign_orders": mar.awaiting_cosign(db.session, me())}


REVIEW_PANEL_SIZE = 10  # the full queue has its own page


def _supervisor() -> dict[str, Any]:
    on = today()
    return {
        "review_queue": notes.review_queue(db.session, me(), size=REVIEW_PANEL_SIZE),
        "loads": services.counselor_caseloads(db.session, me(), on),
        "today": on,
    }


# Each role's panels, in page order (work that is due or overdue first), and their data.
_PANELS: dict[Role, tuple[tuple[str, ...], Callable[[], dict[str, Any]]]] = {
    Role.ADMIN: (("accounts_attention", "staff_counts", "failed_sign_ins", "audit_head"), _admin),
    Role.CLINIC_MANAGER: (
        (
            "emergency_alerts",  # break-glass is loud: first on the manager's page
            "past_planned",
            "unassigned",
            "census",
            "month_flow",
            "roster",
            "staff_counts",
            "failed_sign_ins",
        ),
        _manager,
    ),
    Role.COUNSELOR: (
        ("unsigned_notes", "check_ins_due", "my_overdue", "plan_reviews", "caseload"),
        _counselor,
    ),
    Role.NURSE: (("unsigned_notes", "detox_board"), _detox),
    Role.PHYSICIAN: (("cosign_orders", "unsigned_notes", "detox_board"), _physician),
    Role.SUPERVISOR: (("review_queue", "counselor_caseloads"), _supervisor),
}

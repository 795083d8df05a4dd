from datetime import datetime, time, timedelta

from flask import Blueprint, render_template, request

from ..extensions import db
from ..policy import Perm, requires
from ..timefmt import facility_tz
from . import services
from .forms import AuditFilterForm

bp = Blueprint("audit", __name__)


def _day_start(day) -> datetime | None:
    return datetime.combine(day, time.min, tzinfo=facility_tz()) if day else None


def _filter(form: AuditFilterForm) -> services.AuditFilter:
    until = _day_start(form.until.data + timedelta(days=1)) if form.until.data else None
    return services.AuditFilter(
        since=_day_start(form.since.data),
        until=until,
        actor_login=(form.actor.data or "").strip(),
        action=form.action.data or "",
        object_type=(form.object_type.data or "").strip(),
        client_id=form.client_id.data,
    )


@bp.get("/")
@requires(Perm.AUDIT_VIEW)
def index():
    form = AuditFilterForm(request.args)
    if not form.validate():
        return render_template(
            "audit/index.html", form=form, events=[], has_more=False, page=1
        ), 400
    page = form.page.data or 1
    events, has_more = services.search(db.session, _filter(form), page)
    args = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template(
        "audit/index.html",
        form=form,
        events=events,
        has_more=has_more,
        page=page,
        args=args,
        head=services.head(db.session),
    )


@bp.get("/verify")
@requires(Perm.AUDIT_VIEW)
def verify():
    report = services.verify(db.session)
    return render_template("audit/verify.html", report=report, head=services.head(db.session))

"""Continuing-care plans: write, revise and sign.

The plan page is also the draft's editor: its three add forms post to `add_item`, which
re-renders the page with the errors next to the field when the item is refused.
"""

from dataclasses import asdict

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_episode
from ..domain import continuing_care as cc
from ..domain.plans import PlanStatus
from ..extensions import db
from ..forms import attempt, open_version, stale
from ..orm import utcnow
from ..policy import Perm, requires
from . import plans
from .models import ContinuingCarePlan
from .plan_forms import LABELS, ConfirmForm, PlanForm, SignForm, item_form, item_forms

bp = Blueprint("ccplan", __name__)

CONFLICT = "Someone else changed this plan a moment ago. Reload the page and try again."
KINDS = "any(trigger, support, life_change)"


def _attempt(form, action, default_field: str = "") -> tuple[bool, object]:
    return attempt(form, action, default_field, conflict=CONFLICT)


def _plan(plan_id: int, perm: Perm) -> ContinuingCarePlan:
    """The plan, if its client is in scope (404 otherwise) and `perm` allows on its episode."""
    plan = db.get_or_404(ContinuingCarePlan, plan_id)
    load_episode(plan.episode_id, perm)
    return plan


def _draft(plan_id: int):
    """The draft to write in, or a redirect to the locked version it is not."""
    plan = _plan(plan_id, Perm.AFTERCARE_WRITE)
    if plan.status is PlanStatus.DRAFT:
        return plan, None
    flash(f"Version {plan.number} is signed and locked; start a revision to change it.", "warning")
    return plan, _to_plan(plan)


def _to_plan(plan: ContinuingCarePlan, anchor: str | None = None):
    return redirect(url_for("ccplan.show", plan_id=plan.id, _anchor=anchor))


def _render_show(plan: ContinuingCarePlan, posted=None):
    page = plans.plan_page(db.session, plan)
    html = render_template(
        "ccplan/show.html",
        page=page,
        plan=page.plan,
        episode=page.plan.episode,
        client=page.plan.episode.client,
        forms=item_forms(posted),
        cc=cc,
    )
    return _viewed(page.plan, html)


def _viewed(plan: ContinuingCarePlan, html: str) -> str:
    """Every page showing a plan's content is an audited read of the chart."""
    record(db.session, "ccplan.viewed", target=plan, detail={"number": plan.number})
    db.session.commit()
    return html


@bp.route("/new/<int:episode_id>", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def new(episode_id: int):
    episode = load_episode(episode_id, Perm.AFTERCARE_WRITE)
    existing = plans.versions(db.session, episode.id)
    if (draft := plans.draft_of(existing)) is not None:
        flash(f"Version {draft.number} is already a draft; continue it here.", "info")
        return _to_plan(draft)
    form, refusal = ConfirmForm(), cc.start_refusal(episode.phase)
    if refusal is None and form.validate_on_submit():
        ok, plan = _attempt(form, lambda: plans.start_plan(db.session, episode, actor=me()))
        if ok:
            flash(f"Version {plan.number} of the continuing-care plan started.", "success")
            return redirect(
                url_for("ccplan.show" if plan.supersedes_id else "ccplan.edit", plan_id=plan.id)
            )
    signed = plans.latest_signed(existing)
    return render_template(
        "ccplan/new.html",
        form=form,
        episode=episode,
        client=episode.client,
        refusal=refusal,
        signed=signed,
    )


@bp.get("/<int:plan_id>")
@requires(Perm.CLIENT_VIEW)
def show(plan_id: int):
    return _render_show(_plan(plan_id, Perm.CLIENT_VIEW))


def _items(plan: ContinuingCarePlan) -> list:
    """Its triggers, supports and life changes: their changes move the plan's version too, and a
    refusal names whoever changed one of them."""
    return [*plan.triggers, *plan.supports, *plan.life_changes]


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def edit(plan_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    form = PlanForm(data=None if request.method == "POST" else asdict(plans.plan_fields(plan)))
    if not form.is_submitted():
        open_version(form, plan)
    if form.validate_on_submit() and not stale(form, plan, related=_items(plan)):
        ok, _ = _attempt(form, lambda: plans.update_fields(db.session, plan, form.values()))
        if ok:
            flash("The plan was saved.", "success")
            return _to_plan(plan)
    html = render_template(
        "ccplan/edit.html", form=form, plan=plan, episode=plan.episode, client=plan.episode.client
    )
    return _viewed(plan, html)


@bp.post(f"/<int:plan_id>/<{KINDS}:kind>")
@requires(Perm.AFTERCARE_WRITE)
def add_item(plan_id: int, kind: str):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    form = item_form(kind)
    if form.validate_on_submit():
        ok, item = _attempt(form, lambda: plans.add_item(db.session, plan, form.details()))
        if ok:
            flash(f"The {LABELS[kind]} was added.", "success")
            return _to_plan(plan, f"{kind}-{item.id}")
    return _render_show(plan, (kind, form))


@bp.post(f"/<int:plan_id>/<{KINDS}:kind>/<int:item_id>/remove")
@requires(Perm.AFTERCARE_WRITE)
def remove_item(plan_id: int, kind: str, item_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    item = plans.find_item(db.session, plan, kind, item_id) or abort(404)
    form = ConfirmForm()
    if form.validate_on_submit():
        ok, _ = _attempt(form, lambda: plans.remove_item(db.session, plan, item))
        if ok:
            flash(f"The {LABELS[kind]} was removed.", "success")
            return _to_plan(plan, f"{kind}s")
    flash(" ".join(form.form_errors) or "The form expired; try again.", "error")
    return _to_plan(plan)


@bp.route("/<int:plan_id>/sign", methods=["GET", "POST"])
@requires(Perm.AFTERCARE_WRITE)
def sign(plan_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    form = SignForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: plans.sign(db.session, plan, form.password.data, actor=me(), now=utcnow()),
        )
        if ok:
            flash(f"Version {plan.number} signed and locked.", "success")
            return _to_plan(plan)
    page = plans.plan_page(db.session, plan)
    html = render_template(
        "ccplan/sign.html", form=form, page=page, plan=page.plan, client=plan.episode.client, cc=cc
    )
    return _viewed(page.plan, html)

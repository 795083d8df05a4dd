from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_episode
from ..domain.plans import PlanStatus
from ..extensions import db
from ..forms import attempt, open_version, stale
from ..orm import utcnow
from ..policy import Perm, requires
from ..timefmt import today
from . import queries, services
from .forms import (
    FORMS,
    LABELS,
    ConfirmForm,
    InterventionForm,
    SignPlanForm,
    StrengthsForm,
    initial_data,
)
from .models import TreatmentPlan

bp = Blueprint("plans", __name__)

CONFLICT = "Someone else changed this plan a moment ago. Reload the page and try again."
PARTS = "any(problem, goal, objective, intervention)"
PARENTS = "any(problem, goal, objective)"


def _attempt(form, action, default_field: str = "") -> tuple[bool, object]:
    return attempt(form, action, default_field, conflict=CONFLICT)


def _plan(plan_id: int, perm: Perm) -> TreatmentPlan:
    """The plan, if its client is in scope (404 otherwise) and `perm` allows on its episode."""
    plan = db.get_or_404(TreatmentPlan, plan_id)
    load_episode(plan.episode_id, perm)
    return plan


def _draft(plan_id: int):
    """The draft to write in, or a redirect to the locked version it is not."""
    plan = _plan(plan_id, Perm.PLAN_WRITE)
    if plan.status is PlanStatus.DRAFT:
        return plan, None
    flash(f"Version {plan.number} is signed and locked; start a review to change it.", "warning")
    return plan, redirect(url_for("plans.version", plan_id=plan.id))


def _part(plan: TreatmentPlan, kind: str, part_id: int) -> queries.Part:
    part = queries.find_part(db.session, plan, kind, part_id)
    if part is None:
        abort(404)
    return part


def _form(kind: str, **kwargs):
    if kind == "intervention":
        return InterventionForm(queries.staff_choices(db.session), **kwargs)
    return FORMS[kind](**kwargs)


def _to_editor(plan: TreatmentPlan, anchor: str | None = None):
    return redirect(url_for("plans.edit", plan_id=plan.id, _anchor=anchor))


def _render_plan(episode, shown: TreatmentPlan | None):
    page = queries.plan_page(db.session, episode, today(), shown)
    html = render_template(
        "plans/show.html", page=page, plan=page.plan, episode=episode, client=episode.client
    )
    if page.plan is not None:
        record(db.session, "plan.viewed", target=page.plan, detail={"number": page.plan.number})
        db.session.commit()
    return html


@bp.get("/episode/<int:episode_id>")
@requires(Perm.CLIENT_VIEW)
def show(episode_id: int):
    return _render_plan(load_episode(episode_id, Perm.CLIENT_VIEW), None)


@bp.get("/<int:plan_id>")
@requires(Perm.CLIENT_VIEW)
def version(plan_id: int):
    plan = _plan(plan_id, Perm.CLIENT_VIEW)
    return _render_plan(plan.episode, plan)


@bp.post("/episode/<int:episode_id>/new")
@requires(Perm.PLAN_WRITE)
def create(episode_id: int):
    episode = load_episode(episode_id, Perm.PLAN_WRITE)
    form = ConfirmForm()
    if form.validate_on_submit():
        ok, plan = _attempt(form, lambda: services.create_plan(db.session, episode, actor=me()))
        if ok:
            flash("Draft treatment plan started. Add the client's problems.", "success")
            return _to_editor(plan)
    flash(" ".join(form.form_errors) or "The form expired; try again.", "error")
    return redirect(url_for("plans.show", episode_id=episode.id))


def _parts(plan: TreatmentPlan) -> list:
    """Its problems, goals, objectives and interventions: their changes move the plan's version
    too, and a refusal names whoever changed one of them."""
    goals = [g for p in plan.problems for g in p.goals]
    objectives = [o for g in goals for o in g.objectives]
    return [*plan.problems, *goals, *objectives, *(i for o in objectives for i in o.interventions)]


@bp.route("/<int:plan_id>/edit", methods=["GET", "POST"])
@requires(Perm.PLAN_WRITE)
def edit(plan_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    form = StrengthsForm(data=None if request.method == "POST" else {"strengths": plan.strengths})
    if not form.is_submitted():
        open_version(form, plan)
    if form.validate_on_submit() and not stale(form, plan, related=_parts(plan)):
        ok, _ = _attempt(
            form, lambda: services.update_strengths(db.session, plan, form.strengths.data or "")
        )
        if ok:
            flash("Strengths saved.", "success")
            return _to_editor(plan)
    plan = queries.with_content(db.session, plan)
    html = render_template(
        "plans/edit.html", plan=plan, episode=plan.episode, client=plan.episode.client, form=form
    )
    record(db.session, "plan.viewed", target=plan, detail={"number": plan.number})
    db.session.commit()
    return html


@bp.route("/<int:plan_id>/problems/new", methods=["GET", "POST"])
@requires(Perm.PLAN_WRITE)
def add_problem(plan_id: int):
    plan, locked = _draft(plan_id)
    return locked or _add(plan, plan, "problem")


@bp.route(f"/<int:plan_id>/<{PARENTS}:kind>/<int:part_id>/add", methods=["GET", "POST"])
@requires(Perm.PLAN_WRITE)
def add_child(plan_id: int, kind: str, part_id: int):
    plan, locked = _draft(plan_id)
    return locked or _add(plan, _part(plan, kind, part_id), services.CHILD_KIND[kind])


def _add(plan: TreatmentPlan, parent, kind: str):
    form = _form(kind)
    if form.validate_on_submit():
        ok, part = _attempt(form, lambda: services.add_part(db.session, parent, form.details()))
        if ok:
            flash(f"The {LABELS[kind]} was added.", "success")
            return _to_editor(plan, f"{kind}-{part.id}")
    return render_template(
        "plans/part_form.html",
        form=form,
        plan=plan,
        parent=None if parent is plan else parent,
        title=f"Add a {LABELS[kind]}",
        client=plan.episode.client,
    )


@bp.route(f"/<int:plan_id>/<{PARTS}:kind>/<int:part_id>/edit", methods=["GET", "POST"])
@requires(Perm.PLAN_WRITE)
def edit_item(plan_id: int, kind: str, part_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    part = _part(plan, kind, part_id)
    form = _form(kind, data=None if request.method == "POST" else initial_data(part))
    if form.validate_on_submit():
        ok, _ = _attempt(form, lambda: services.update_part(db.session, part, form.details()))
        if ok:
            flash(f"The {LABELS[kind]} was saved.", "success")
            return _to_editor(plan, f"{kind}-{part.id}")
    return render_template(
        "plans/part_form.html",
        form=form,
        plan=plan,
        parent=None,
        title=f"Edit the {LABELS[kind]}",
        client=plan.episode.client,
    )


@bp.post(f"/<int:plan_id>/<{PARTS}:kind>/<int:part_id>/remove")
@requires(Perm.PLAN_WRITE)
def remove_item(plan_id: int, kind: str, part_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    part, form = _part(plan, kind, part_id), ConfirmForm()
    if form.validate_on_submit():
        ok, _ = _attempt(form, lambda: services.remove_part(db.session, part))
        if ok:
            flash(f"The {LABELS[kind]} was removed.", "success")
            return _to_editor(plan)
    flash(" ".join(form.form_errors) or "The form expired; try again.", "error")
    return _to_editor(plan, f"{kind}-{part_id}")


@bp.route("/<int:plan_id>/sign", methods=["GET", "POST"])
@requires(Perm.PLAN_WRITE)
def sign(plan_id: int):
    plan, locked = _draft(plan_id)
    if locked:
        return locked
    form = SignPlanForm()
    if form.validate_on_submit():
        intervals = current_app.config["PLAN_REVIEW_DAYS"]
        ok, _ = _attempt(
            form,
            lambda: services.sign(
                db.session,
                plan,
                form.signature(),
                actor=me(),
                now=utcnow(),
                today=today(),
                intervals=intervals,
            ),
        )
        if ok:
            flash(f"Version {plan.number} signed; review due {plan.review_due_on}.", "success")
            return redirect(url_for("plans.show", episode_id=plan.episode_id))
    plan = queries.with_content(db.session, plan)
    return render_template(
        "plans/sign.html", plan=plan, episode=plan.episode, client=plan.episode.client, form=form
    )


@bp.post("/<int:plan_id>/review")
@requires(Perm.PLAN_WRITE)
def start_review(plan_id: int):
    plan = _plan(plan_id, Perm.PLAN_WRITE)
    form = ConfirmForm()
    if form.validate_on_submit():
        ok, draft = _attempt(form, lambda: services.start_review(db.session, plan, actor=me()))
        if ok:
            flash(f"Review started: version {draft.number} is a draft copy to update.", "success")
            return _to_editor(draft)
    flash(" ".join(form.form_errors) or "The form expired; try again.", "error")
    return redirect(url_for("plans.version", plan_id=plan.id))

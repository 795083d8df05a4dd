from flask import Blueprint, abort, flash, redirect, render_template, url_for
from wtforms.fields.choices import SelectChoice

from ..auth.web import me
from ..clients.access import load_client, load_episode
from ..domain.sessions import ATTENDANCE, SESSION_TYPES
from ..extensions import db
from ..forms import attempt
from ..orm import utcnow
from ..policy import Perm, authorize, can, requires
from ..timefmt import facility_tz, today
from . import services
from .forms import EnrolForm, GroupForm, MeetingForm, SignAllForm, episode_choices
from .models import Group, GroupEnrollment

bp = Blueprint("groups", __name__)

CONFLICT = "Someone else saved a change here a moment ago. Reload the page and try again."
LABELS = {
    "attendance": dict(ATTENDANCE),
    "session_type": dict(SESSION_TYPES),
    "weekday": dict(enumerate(services.WEEKDAYS)),
}


def _attempt(form, action) -> tuple[bool, object]:
    """Errors may name one attendee's field (`seats-3-progress`)."""
    return attempt(form, action, conflict=CONFLICT, find_field=_field)


def _field(form, path: str | None):
    name, _, rest = (path or "").partition("-")
    field = form._fields.get(name)
    if field is None or not rest:
        return field
    index, _, sub = rest.partition("-")
    return field.entries[int(index)].form._fields.get(sub)


def _group(group_id: int) -> Group:
    return db.get_or_404(Group, group_id)


def _group_form() -> GroupForm:
    form = GroupForm()
    form.facilitators.choices = [
        SelectChoice(u.id, u.display_name) for u in services.facilitator_candidates(db.session)
    ]
    return form


@bp.get("/")
@requires(Perm.GROUP_MANAGE)
def index():
    rows = services.groups_with_counts(db.session)
    return render_template("groups/index.html", rows=rows, labels=LABELS)


@bp.route("/new", methods=["GET", "POST"])
@requires(Perm.GROUP_MANAGE)
def new():
    form = _group_form()
    if form.validate_on_submit():
        ok, group = _attempt(form, lambda: services.create_group(db.session, form.details()))
        if ok:
            flash(f"Group “{group.name}” created. Enrol its clients next.", "success")
            return redirect(url_for("groups.show", group_id=group.id))
    return render_template("groups/form.html", form=form, group=None)


@bp.get("/<int:group_id>")
@requires(Perm.GROUP_MANAGE)
def show(group_id: int):
    group = _group(group_id)
    runs = can(me(), Perm.GROUP_RUN, group)
    page = services.group_page(db.session, group, me(), runs_group=runs)
    return render_template("groups/show.html", group=group, page=page, labels=LABELS)


@bp.route("/<int:group_id>/edit", methods=["GET", "POST"])
@requires(Perm.GROUP_MANAGE)
def edit(group_id: int):
    group = _group(group_id)
    form = _group_form()
    if not form.is_submitted():
        form.fill_from(group)
    if form.validate_on_submit():
        ok, _ = _attempt(form, lambda: services.update_group(db.session, group, form.details()))
        if ok:
            flash("Group saved.", "success")
            return redirect(url_for("groups.show", group_id=group.id))
    return render_template("groups/form.html", form=form, group=group)


@bp.route("/<int:group_id>/enrol", methods=["GET", "POST"])
@requires(Perm.GROUP_MANAGE)
def enrol(group_id: int):
    group = _group(group_id)
    form = EnrolForm()
    form.episode.choices = episode_choices(services.enrollable(db.session, group, me()))
    if form.validate_on_submit():
        episode = load_episode(form.episode.data, Perm.GROUP_MANAGE)  # the scope, again
        ok, _ = _attempt(
            form,
            lambda: services.enrol(
                db.session, group, episode, enrolled_on=form.enrolled_on.data, today=today()
            ),
        )
        if ok:
            flash(f"{episode.client.display_name} enrolled in {group.name}.", "success")
            return redirect(url_for("groups.show", group_id=group.id))
    return render_template("groups/enrol.html", form=form, group=group)


@bp.post("/<int:group_id>/enrollments/<int:enrollment_id>/end")
@requires(Perm.GROUP_MANAGE)
def unenrol(group_id: int, enrollment_id: int):
    enrollment = db.get_or_404(GroupEnrollment, enrollment_id)
    if enrollment.group_id != group_id:
        abort(404)
    client = load_client(enrollment.episode.client_id)
    try:
        services.unenrol(db.session, enrollment, today=today())
        db.session.commit()
    except ValueError as exc:
        db.session.rollback()
        flash(str(exc), "warning")
    else:
        flash(f"{client.display_name} has left {enrollment.group.name}.", "success")
    return redirect(url_for("groups.show", group_id=group_id))


@bp.route("/<int:group_id>/meetings/new", methods=["GET", "POST"])
@requires(Perm.GROUP_RUN)
def record_meeting(group_id: int):
    group = _group(group_id)
    authorize(Perm.GROUP_RUN, group)
    roster = services.roster(db.session, group)
    people = {e.episode_id: e.episode.client for e in roster}
    form = MeetingForm()
    if not form.is_submitted():
        form.start(group, roster)
    if form.validate_on_submit() and form.sync_roster([e.episode_id for e in roster]):
        ok, meeting = _attempt(form, lambda: _record(group, form))
        if ok:
            flash("Meeting recorded. Review the notes, then sign them all at once.", "success")
            return redirect(url_for("groups.show_meeting", meeting_id=meeting.id))
    return render_template("groups/record_meeting.html", group=group, form=form, people=people)


def _record(group: Group, form: MeetingForm):
    return services.record_meeting(
        db.session,
        group,
        form.details(),
        facilitator=me(),
        now=utcnow(),
        today=today(),
        tz=facility_tz(),
    )


def _load_meeting(meeting_id: int):
    return services.load_meeting(db.session, meeting_id) or abort(404)


@bp.get("/meetings/<int:meeting_id>")
@requires(Perm.GROUP_MANAGE)
def show_meeting(meeting_id: int):
    return _meeting_page(_load_meeting(meeting_id), SignAllForm(formdata=None))


def _meeting_page(meeting, sign_form: SignAllForm):
    runs = can(me(), Perm.GROUP_RUN, meeting.group)
    page = services.meeting_page(db.session, meeting, me(), runs_group=runs)
    services.record_view(db.session, meeting, page)
    html = render_template(
        "groups/meeting.html", meeting=meeting, page=page, form=sign_form, labels=LABELS
    )
    db.session.commit()  # after rendering: a commit expires what the page reads
    return html


@bp.post("/meetings/<int:meeting_id>/sign")
@requires(Perm.GROUP_RUN)
def sign_meeting(meeting_id: int):
    meeting = _load_meeting(meeting_id)
    authorize(Perm.GROUP_RUN, meeting.group)
    form = SignAllForm()
    if form.validate_on_submit():
        ok, count = _attempt(
            form,
            lambda: services.sign_all(
                db.session, meeting, form.password.data, actor=me(), now=utcnow()
            ),
        )
        if ok:
            flash(f"{count} notes signed.", "success")
            return redirect(url_for("groups.show_meeting", meeting_id=meeting.id))
    return _meeting_page(_load_meeting(meeting_id), form)

"""Sessions and notes: log a session with its note, read, edit a draft, sign, co-sign or
return, add an addendum, and the supervisor's co-signature queue.

A note is reached through its client (load_client), so a note outside the user's caseload
answers 404 like any other chart page, and the attempt is audited."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from ..audit.hooks import record
from ..auth.web import me
from ..clients.access import load_client, load_episode
from ..clients.models import Client
from ..domain import codes
from ..domain import sessions as session_codes
from ..domain.notes import SECTIONS, NoteAction, NoteFormat
from ..extensions import db
from ..forms import attempt, open_version, stale
from ..orm import utcnow
from ..policy import Perm, authorize, can, note_formats_for, requires
from ..timefmt import facility_tz, today
from . import queries, services
from .forms import (
    AddendumForm,
    CosignForm,
    FormatForm,
    PageForm,
    ReturnForm,
    SignForm,
    note_form,
)
from .models import Note

bp = Blueprint("notes", __name__)

CONFLICT = "Someone else changed this note a moment ago. Reload the page and try again."


@bp.app_template_global()
def session_code(list_name: str, code: str) -> str:
    """The label of a session code (SESSION_TYPES, ATTENDANCE, ...), for templates."""
    return codes.label(getattr(session_codes, list_name), code) if code else ""


@bp.app_template_filter()
def note_title(fmt: NoteFormat) -> str:
    """ "DAP note", "Nursing note": the format's label as the name of a note."""
    return fmt.label if fmt.label.endswith("note") else f"{fmt.label} note"


def _attempt(form, action, default_field: str = "") -> tuple[bool, object]:
    return attempt(form, action, default_field, conflict=CONFLICT)


def _load(note_id: int) -> tuple[Note, Client]:
    note = queries.load(db.session, note_id)
    if note is None:
        abort(404)
    return note, load_client(note.session.episode.client_id)


def _to_note(note: Note):
    return redirect(url_for("notes.show", note_id=note.id))


def _refused(note: Note, why: str | None):
    """Send the user back to the note with the reason, when the note's state forbids the action."""
    if why is None:
        return None
    flash(why, "error")
    return _to_note(note)


def _actions(note: Note) -> frozenset[NoteAction]:
    """What the signed-in user may do to this note now: the policy's answer and the note's
    state must both allow it."""
    user = me()
    allowed = {
        NoteAction.EDIT: can(user, Perm.NOTE_WRITE, note.session.episode)
        and can(user, Perm.NOTE_SIGN, note),  # the author, while they may still write here
        NoteAction.SIGN: can(user, Perm.NOTE_SIGN, note),
        NoteAction.ADDENDUM: can(user, Perm.NOTE_ADDENDUM, note),
        NoteAction.COSIGN: can(user, Perm.NOTE_COSIGN, note),
        NoteAction.RETURN: can(user, Perm.NOTE_COSIGN, note),
    }
    return frozenset(a for a, ok in allowed.items() if ok and services.refusal(note, a) is None)


def _show(note: Note, client: Client, status: int = 200, **forms):
    record(db.session, "note.viewed", target=note)
    db.session.commit()
    return render_template(
        "notes/show.html",
        note=note,
        client=client,
        visit=note.session,
        sections=SECTIONS[note.format],
        verified=services.verify(note),
        addenda=[(a, services.verify_addendum(a)) for a in note.addenda],
        actions=_actions(note),
        cosign_form=forms.get("cosign_form") or CosignForm(formdata=None),
        return_form=forms.get("return_form") or ReturnForm(formdata=None),
    ), status


def _format_choice() -> FormatForm:
    """Step one of a new note: its format, from ?format=. Someone who writes only one format
    skips the step."""
    form = FormatForm(note_formats_for(me()), formdata=request.args)
    if form.format.data is None and len(form.allowed) == 1:
        form.format.data = form.allowed[0]
    return form


@bp.route("/new/<int:episode_id>", methods=["GET", "POST"])
@requires(Perm.NOTE_WRITE)
def new(episode_id: int):
    episode = load_episode(episode_id, Perm.NOTE_WRITE)
    chooser = _format_choice()
    if chooser.format.data is None or not chooser.validate():
        return render_template(
            "notes/choose_format.html", episode=episode, client=episode.client, form=chooser
        ), 400 if chooser.format.errors else 200
    form = note_form(chooser.chosen, queries.plan_objectives(db.session, episode.id))
    if form.validate_on_submit():
        ok, note = _attempt(
            form,
            lambda: services.record_session(
                db.session,
                episode,
                form.details(),
                form.content(),
                actor=me(),
                now=utcnow(),
                today=today(),
                tz=facility_tz(),
            ),
        )
        if ok:
            flash("Session logged and the note saved as a draft. Sign it when complete.", "success")
            return _to_note(note)
    return render_template(
        "notes/form.html", episode=episode, client=episode.client, form=form, note=None
    )


@bp.get("/<int:note_id>")
@requires(Perm.CLIENT_VIEW)
def show(note_id: int):
    note, client = _load(note_id)
    return _show(note, client)


@bp.route("/<int:note_id>/edit", methods=["GET", "POST"])
@requires(Perm.NOTE_WRITE)
def edit(note_id: int):
    note, client = _load(note_id)
    authorize(Perm.NOTE_WRITE, note.session.episode)
    if refused := _refused(note, services.edit_refusal(note, me())):
        return refused
    visit = note.session
    form = _edit_form(note)
    if form.validate_on_submit() and not stale(form, note, related=[visit]):
        details = form.details() if form.with_session else None
        ok, _ = _attempt(
            form,
            lambda: services.revise_draft(
                db.session,
                note,
                details,
                form.content(),
                actor=me(),
                today=today(),
                tz=facility_tz(),
            ),
        )
        if ok:
            flash("Draft saved.", "success")
            return _to_note(note)
    return render_template(
        "notes/form.html", episode=visit.episode, client=client, form=form, note=note
    )


def _edit_form(note: Note):
    """The draft's form: its format, the plan objectives it may link to (the current plan's,
    and any of an older plan it already links to), filled from the draft on first view."""
    visit = note.session
    objectives = queries.plan_objectives(db.session, visit.episode_id)
    objectives += [o for o in note.objectives if o not in objectives]
    form = note_form(
        note.format, objectives, with_session=visit.group_meeting_id is None, versioned=True
    )
    if not form.is_submitted():
        form.fill_from(note)
        if form.with_session:
            form.fill_session(visit)
        open_version(form, note)
    return form


@bp.route("/<int:note_id>/sign", methods=["GET", "POST"])
@requires(Perm.NOTE_SIGN)
def sign(note_id: int):
    note, client = _load(note_id)
    authorize(Perm.NOTE_SIGN, note)
    if refused := _refused(note, services.refusal(note, NoteAction.SIGN)):
        return refused
    form = SignForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.sign(db.session, note, form.password.data, actor=me(), now=utcnow()),
        )
        if ok:
            waits = " It now waits for your supervisor's co-signature." if note.needs_cosign else ""
            flash(f"Note signed and locked.{waits}", "success")
            return _to_note(note)
        _record_refusal(note, form, "note.sign_refused")
    return render_template(
        "notes/sign.html", note=note, client=client, visit=note.session, form=form
    )


def _record_refusal(note: Note, form, action: str) -> None:
    """A wrong password at signing is part of the record (someone may be guessing)."""
    if form.password.errors:
        record(db.session, action, target=note, detail={"reason": "password"})
        db.session.commit()


@bp.post("/<int:note_id>/cosign")
@requires(Perm.NOTE_COSIGN)
def cosign(note_id: int):
    note, client = _load(note_id)
    authorize(Perm.NOTE_COSIGN, note)
    if refused := _refused(note, services.refusal(note, NoteAction.COSIGN)):
        return refused
    form = CosignForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.cosign(
                db.session, note, form.password.data, supervisor=me(), now=utcnow()
            ),
        )
        if ok:
            flash("Note co-signed.", "success")
            return redirect(url_for("notes.review"))
        _record_refusal(note, form, "note.cosign_refused")
    return _show(note, client, 400, cosign_form=form)


@bp.post("/<int:note_id>/return")
@requires(Perm.NOTE_COSIGN)
def return_to_author(note_id: int):
    note, client = _load(note_id)
    authorize(Perm.NOTE_COSIGN, note)
    if refused := _refused(note, services.refusal(note, NoteAction.RETURN)):
        return refused
    form = ReturnForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.return_to_author(
                db.session, note, form.comments.data, supervisor=me(), now=utcnow()
            ),
        )
        if ok:
            flash("Note returned to its author for revision.", "success")
            return redirect(url_for("notes.review"))
    return _show(note, client, 400, return_form=form)


@bp.route("/<int:note_id>/addendum", methods=["GET", "POST"])
@requires(Perm.NOTE_ADDENDUM)
def addendum(note_id: int):
    note, client = _load(note_id)
    authorize(Perm.NOTE_ADDENDUM, note)
    if refused := _refused(note, services.refusal(note, NoteAction.ADDENDUM)):
        return refused
    form = AddendumForm()
    if form.validate_on_submit():
        ok, _ = _attempt(
            form,
            lambda: services.add_addendum(
                db.session,
                note,
                author=me(),
                reason=form.reason.data,
                text=form.text.data,
                now=utcnow(),
            ),
        )
        if ok:
            flash("Addendum added under the original note.", "success")
            return _to_note(note)
    return render_template(
        "notes/addendum.html", note=note, client=client, visit=note.session, form=form
    )


@bp.get("/review")
@requires(Perm.NOTE_COSIGN)
def review():
    form = PageForm(request.args)
    if not form.validate():
        abort(400)
    queue = queries.review_queue(db.session, me(), form.page.data or 1)
    return render_template("notes/review.html", queue=queue)

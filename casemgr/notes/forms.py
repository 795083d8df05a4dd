"""Forms for sessions and notes. They check shape; the note services check the rules."""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    IntegerField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    TimeField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional, ValidationError

from ..choices import choices
from ..domain import sessions as codes
from ..domain.notes import PROMPTS, SECTION_MAX, SECTIONS, NoteFormat
from ..forms import VersionField, no_control_chars
from ..timefmt import today as facility_today
from .models import ClinicalSession, Note
from .services import NoteContent, SessionDetails

# Group seats are logged from the group meeting, never one by one.
SESSION_TYPE_CHOICES = [c for c in codes.SESSION_TYPES if c[0] != "group"]
# The session a format is usually written for, as the form's default.
DEFAULT_TYPE = {
    NoteFormat.NURSING: "nursing",
    NoteFormat.CASE_MANAGEMENT: "case_management",
}


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class FormatForm(FlaskForm):
    """Step one of a new note: which format. Read from the query string; it changes nothing."""

    class Meta:
        csrf = False

    format = SelectField("Note format", validate_choice=False)

    def __init__(self, allowed: Sequence[str], **kwargs):
        super().__init__(**kwargs)
        self.allowed = list(allowed)
        self.format.choices = [SelectChoice(f, NoteFormat(f).label) for f in self.allowed]

    def validate_format(self, field) -> None:
        if field.data not in self.allowed:
            names = ", ".join(NoteFormat(f).label for f in self.allowed)
            raise ValidationError(f"Choose one of the note formats you may write: {names}.")

    @property
    def chosen(self) -> NoteFormat:
        return NoteFormat(self.format.data)


def _text(label: str, max_len: int, **kw) -> StringField:
    return StringField(label, validators=[Optional(), Length(max=max_len), no_control_chars], **kw)


class NoteForm(FlaskForm):
    """A note's content: the format's sections (added by `note_form()`), the SUD prompts and
    the treatment-plan objectives it addresses."""

    cravings = IntegerField(
        "Cravings (0–10)",
        validators=[Optional(), NumberRange(0, 10, message="Rate cravings from 0 to 10.")],
    )
    use_since_last = SelectField(
        "Use since last contact",
        choices=choices(codes.USE_SINCE_LAST, blank="— not asked —"),
        default="",
    )
    triggers = _text("Triggers", 500)
    screen_reviewed = BooleanField("Drug-screen results reviewed with the client")
    medication_adherence = SelectField(
        "Medication adherence",
        choices=choices(codes.ADHERENCE, blank="— not asked —"),
        default="",
    )
    sober_supports = _text("Sober supports", 500)
    meetings_attended = IntegerField(
        "Mutual-help meetings attended since last contact",
        validators=[Optional(), NumberRange(0, 99, message="Enter a number from 0 to 99.")],
    )
    safety_risk = SelectField(
        "Safety risk",
        choices=choices(codes.SAFETY_RISK, blank="— not assessed —"),
        default="",
    )
    objectives = MultiCheckboxField(
        "Treatment-plan objectives addressed", coerce=int, validate_choice=True
    )

    note_format: NoteFormat = NoteFormat.DAP  # set by note_form()
    with_session = False

    def sections(self) -> list:
        return [self[f"section_{key}"] for key, _, _ in SECTIONS[self.note_format]]

    def content(self) -> NoteContent:
        return NoteContent(
            format=self.note_format,
            sections={
                key: self[f"section_{key}"].data or "" for key, _, _ in SECTIONS[self.note_format]
            },
            cravings=self.cravings.data,
            use_since_last=self.use_since_last.data or "",
            triggers=self.triggers.data or "",
            screen_reviewed=bool(self.screen_reviewed.data),
            medication_adherence=self.medication_adherence.data or "",
            sober_supports=self.sober_supports.data or "",
            meetings_attended=self.meetings_attended.data,
            safety_risk=self.safety_risk.data or "",
            objective_ids=tuple(self.objectives.data or ()),
        )

    def fill_from(self, note: Note) -> None:
        for key, text in note.sections.items():
            if f"section_{key}" in self:
                self[f"section_{key}"].data = text
        for name in PROMPTS:
            self[name].data = getattr(note, name)
        self.objectives.data = [o.id for o in note.objectives]


class SessionNoteForm(NoteForm):
    """A session and its note in one form."""

    session_date = DateField(
        "Session date",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    start_time = TimeField("Start", validators=[DataRequired(message="Enter a start time.")])
    end_time = TimeField("End", validators=[DataRequired(message="Enter an end time.")])
    session_type = SelectField("Session type", choices=choices(SESSION_TYPE_CHOICES))
    alternative_kind = SelectField(
        "Kind of alternative therapy",
        choices=choices(codes.ALTERNATIVE_KINDS, blank="— choose —"),
        default="",
        description="Only for alternative therapy.",
    )
    setting = SelectField("Setting", choices=choices(codes.SETTINGS))
    location = _text("Location", 80, description="Room, or where the client joined from.")
    attendance = SelectField("Attendance", choices=choices(codes.ATTENDANCE))

    with_session = True

    def validate_alternative_kind(self, field) -> None:
        if self.session_type.data == "alternative" and not field.data:
            raise ValidationError("Choose the kind of alternative therapy.")

    @property
    def duration(self) -> int | None:
        start, end = self.start_time.data, self.end_time.data
        if start and end and end > start:
            return codes.duration_minutes(start, end)
        return None

    def details(self) -> SessionDetails:
        return SessionDetails(
            session_date=self.session_date.data,
            start_time=self.start_time.data,
            end_time=self.end_time.data,
            session_type=self.session_type.data,
            setting=self.setting.data,
            location=self.location.data or "",
            attendance=self.attendance.data,
            alternative_kind=self.alternative_kind.data or "",
        )

    def fill_session(self, visit: ClinicalSession) -> None:
        for name in (
            "session_date",
            "start_time",
            "end_time",
            "session_type",
            "alternative_kind",
            "setting",
            "location",
            "attendance",
        ):
            self[name].data = getattr(visit, name)


def note_form(
    fmt: NoteFormat,
    objectives: Sequence,
    *,
    with_session: bool = True,
    versioned: bool = False,
    **kwargs,
) -> NoteForm:
    """The form for one format: each of its sections is its own text area, so a DAP note shows
    Data, Assessment and Plan and nothing else. The edit form (`versioned`) carries the note's
    version."""
    fields: dict[str, object] = {"note_format": fmt}
    if versioned:
        fields["version"] = VersionField()
    for key, label, prompt in SECTIONS[fmt]:
        fields[f"section_{key}"] = TextAreaField(
            label,
            validators=[Optional(), Length(max=SECTION_MAX), no_control_chars],
            description=prompt,
        )
    base = SessionNoteForm if with_session else NoteForm
    form = type(f"{fmt.name.title()}NoteForm", (base,), fields)(**kwargs)
    form.objectives.choices = [
        SelectChoice(o.id, f"{o.statement} (target {o.target_date.isoformat()})")
        for o in objectives
    ]
    if with_session and not form.is_submitted():
        form.session_type.data = DEFAULT_TYPE.get(fmt, "individual")
    return form


class SignForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password to sign.")],
        description="Signing locks the note. Later corrections are added as addenda.",
    )


class CosignForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired(message="Enter your password to co-sign.")]
    )


class ReturnForm(FlaskForm):
    comments = TextAreaField(
        "What needs revising",
        validators=[
            DataRequired(message="Say what needs revising."),
            Length(max=2000),
            no_control_chars,
        ],
        description="The author sees this on the note; it stays in the note's review history.",
    )


class AddendumForm(FlaskForm):
    reason = StringField(
        "Reason for the addendum",
        validators=[DataRequired(message="Give the reason."), Length(max=500), no_control_chars],
        description="e.g. correction, late information, clarification",
    )
    text = TextAreaField(
        "Addendum",
        validators=[DataRequired(message="Write the addendum."), no_control_chars],
    )


class PageForm(FlaskForm):
    class Meta:
        csrf = False

    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=10000)])

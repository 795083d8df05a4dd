from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    FieldList,
    Form,
    FormField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
    TimeField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional
from wtforms.widgets import HiddenInput

from ..admin.forms import MultiCheckboxField
from ..choices import choices
from ..domain.sessions import ALTERNATIVE_KINDS, ATTENDANCE
from ..forms import no_control_chars, no_format_chars
from ..timefmt import today as facility_today
from .services import (
    GROUP_TYPE_CHOICES,
    SEAT_NOTE_MAX,
    WEEKDAYS,
    GroupDetails,
    MeetingDetails,
    SeatEntry,
    default_times,
)


def _day_or_none(value):
    return None if value in (None, "", "None") else int(value)


class GroupForm(FlaskForm):
    name = StringField("Name", validators=[DataRequired(), Length(max=120), no_format_chars])
    session_type = SelectField("Kind of group", choices=choices(GROUP_TYPE_CHOICES))
    # Checked by the service, which says what is wrong: "must be active counselors".
    facilitators = MultiCheckboxField("Facilitators", coerce=int, validate_choice=False)
    weekday = SelectField(
        "Usual day",
        coerce=_day_or_none,
        choices=[SelectChoice("", "No fixed day")]
        + [SelectChoice(str(i), day) for i, day in enumerate(WEEKDAYS)],
    )
    default_start = TimeField("Usual start", validators=[Optional()])
    default_minutes = IntegerField(
        "Length (minutes)",
        default=60,
        validators=[InputRequired(message="Enter the length in minutes."), NumberRange(15, 480)],
    )
    location = StringField("Location", validators=[Optional(), Length(max=80), no_control_chars])
    active = BooleanField("Active (meets and takes enrolments)", default=True)

    def fill_from(self, group) -> None:
        self.name.data, self.session_type.data = group.name, group.session_type
        self.facilitators.data = [u.id for u in group.facilitators]
        self.weekday.data, self.default_start.data = group.weekday, group.default_start
        self.default_minutes.data, self.location.data = group.default_minutes, group.location
        self.active.data = group.active

    def details(self) -> GroupDetails:
        return GroupDetails(
            name=self.name.data,
            session_type=self.session_type.data,
            facilitator_ids=tuple(self.facilitators.data or ()),
            weekday=self.weekday.data,
            default_start=self.default_start.data,
            default_minutes=self.default_minutes.data,
            location=self.location.data or "",
            active=self.active.data,
        )


class EnrolForm(FlaskForm):
    episode = SelectField(
        "Client",
        coerce=int,
        validators=[InputRequired(message="Choose a client.")],
        invalid_choice_message="Choose one of the clients listed.",
    )
    enrolled_on = DateField(
        "Enrolled from",
        default=facility_today,
        validators=[DataRequired(message="Enter a valid date.")],
    )


def episode_choices(episodes) -> list[SelectChoice]:
    return [SelectChoice(e.id, f"{e.client.legal_name} ({e.client.mrn})") for e in episodes]


class SeatForm(Form):
    """One enrolled client's line; the client is fixed by the page, not chosen."""

    episode_id = IntegerField(widget=HiddenInput(), validators=[InputRequired()])
    attendance = SelectField("Attendance", choices=choices(ATTENDANCE), default="attended")
    minutes_attended = IntegerField(
        "Minutes attended",
        validators=[Optional(), NumberRange(0, 1440)],
        description="Blank means the whole session.",
    )
    participation = TextAreaField(
        "Participation",
        validators=[Optional(), Length(max=SEAT_NOTE_MAX), no_control_chars],
        description="This client's participation and response.",
    )
    progress = TextAreaField(
        "Progress",
        validators=[Optional(), Length(max=SEAT_NOTE_MAX), no_control_chars],
        description="Progress toward this client's own plan goals; next steps.",
    )


class MeetingForm(FlaskForm):
    meeting_date = DateField(
        "Date", default=facility_today, validators=[DataRequired(message="Enter a valid date.")]
    )
    start_time = TimeField("Start", validators=[DataRequired(message="Enter a time.")])
    end_time = TimeField("End", validators=[DataRequired(message="Enter a time.")])
    topic = StringField("Topic", validators=[DataRequired(), Length(max=200), no_control_chars])
    alternative_kind = SelectField(
        "Kind of therapy", choices=choices(ALTERNATIVE_KINDS, blank="— choose —"), default=""
    )
    summary = TextAreaField(
        "Group summary",
        validators=[Optional(), Length(max=10000), no_control_chars],
        description="What the group covered, written once. It stays on this meeting and is "
        "never copied into a client's note or chart.",
    )
    seats = FieldList(FormField(SeatForm))

    def start(self, group, roster) -> None:
        """A new meeting: the group's usual times and one line per enrolled client."""
        self.start_time.data, self.end_time.data = default_times(group)
        for enrollment in roster:
            self.seats.append_entry({"episode_id": enrollment.episode_id})

    def sync_roster(self, episode_ids: list[int]) -> bool:
        """If clients joined or left the group while the page was open, keep the lines
        already written, add blank lines for newcomers and ask to check and save again."""
        wanted, seen, keep = set(episode_ids), set(), []
        for entry in self.seats.entries:
            eid = entry.form.episode_id.data
            if eid in wanted and eid not in seen:
                keep.append(entry)
                seen.add(eid)
        if len(keep) == len(self.seats.entries) and seen == wanted:
            return True
        self.seats.entries = keep
        for eid in episode_ids:
            if eid not in seen:
                self.seats.append_entry({"episode_id": eid})
        self.form_errors.append(
            "The group's roster changed while this page was open. Check the lines below and "
            "save again."
        )
        return False

    def details(self) -> MeetingDetails:
        return MeetingDetails(
            meeting_date=self.meeting_date.data,
            start_time=self.start_time.data,
            end_time=self.end_time.data,
            topic=self.topic.data,
            summary=self.summary.data or "",
            alternative_kind=self.alternative_kind.data or "",
            seats=tuple(
                SeatEntry(
                    episode_id=s.episode_id.data,
                    attendance=s.attendance.data,
                    minutes_attended=s.minutes_attended.data,
                    participation=s.participation.data or "",
                    progress=s.progress.data or "",
                )
                for s in (entry.form for entry in self.seats.entries)
            ),
        )


class SignAllForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password to sign.")],
        description="Signing locks the notes; corrections are then made as addenda.",
    )

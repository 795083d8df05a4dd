"""Forms check shape only: dates, ranges and choices; the rules are the service's and domain's."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateField,
    DateTimeLocalField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..choices import choices
from ..domain import codes
from ..domain.aftercare import RELAPSE_KINDS, RELAPSE_RESPONSES
from ..domain.phases import Phase
from ..episodes.forms import DischargeForm, PhaseMoveForm
from ..episodes.services import DischargeDetails
from ..forms import no_control_chars, plausible_time
from ..timefmt import today as facility_today
from .models import PlanTrigger
from .services import METHODS, OTHER_TRIGGER, RANGES, CheckInEntry, RelapseEntry

WHEN = "%Y-%m-%dT%H:%M"
YES_NO = (("yes", "Yes"), ("no", "No"))


def _count(name: str) -> IntegerField:
    low, high, what = RANGES[name]
    return IntegerField(
        what,
        validators=[Optional(), NumberRange(low, high, message=f"Enter {low} to {high}.")],
    )


class CheckInForm(FlaskForm):
    reached = SelectField(
        "Was the client reached?",
        choices=choices(YES_NO, blank="— choose —"),
        validators=[DataRequired(message="Say whether the client was reached.")],
    )
    method = SelectField(
        "By what means",
        choices=choices(METHODS, blank="— choose —"),
        validators=[DataRequired(message="Choose how the client was contacted.")],
    )
    contacted_at = DateTimeLocalField(
        "Contacted (or tried) at",
        format=WHEN,
        validators=[DataRequired(message="Enter a date and time."), plausible_time],
    )
    days_used_30 = _count("days_used_30")
    meetings_attended = _count("meetings_attended")
    # Not sent is "not asked"; a value off the list is refused by the service, by name.
    employment = SelectField(
        "Employment status",
        choices=choices(codes.EMPLOYMENT, blank="— not asked —"),
        validate_choice=False,
    )
    housing = SelectField(
        "Housing status",
        choices=choices(codes.LIVING_ARRANGEMENTS, blank="— not asked —"),
        validate_choice=False,
    )
    craving = _count("craving")
    drug_screen_done = BooleanField("Drug screen done")
    note = TextAreaField("Note", validators=[Optional(), Length(max=1000), no_control_chars])

    def entry(self, from_local: Callable[[datetime], datetime]) -> CheckInEntry:
        return CheckInEntry(
            reached=self.reached.data == "yes",
            method=self.method.data,
            contacted_at=from_local(self.contacted_at.data),
            days_used_30=self.days_used_30.data,
            meetings_attended=self.meetings_attended.data,
            employment=self.employment.data or "",
            housing=self.housing.data or "",
            craving=self.craving.data,
            drug_screen_done=bool(self.drug_screen_done.data),
            note=self.note.data or "",
        )


class RescheduleForm(FlaskForm):
    rescheduled_to = DateField("New date", validators=[DataRequired(message="Enter a valid date.")])
    reason = StringField(
        "Reason",
        validators=[
            DataRequired(message="Say why the check-in moves."),
            Length(max=300),
            no_control_chars,
        ],
        description="e.g. client at work that day, asked for an evening call",
    )


class RelapseForm(FlaskForm):
    kind = SelectField(
        "Kind",
        choices=choices(RELAPSE_KINDS, blank="— choose —"),
        validators=[DataRequired(message="Choose lapse or relapse.")],
    )
    used_on = DateField(
        "Date of use",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
        description="The last day of use, if it went on for several days.",
    )
    substance = SelectField(
        "Substance",
        choices=choices(codes.SUBSTANCES, blank="— choose —"),
        validators=[DataRequired(message="Choose the substance used.")],
    )
    circumstances = TextAreaField(
        "Circumstances", validators=[Optional(), Length(max=2000), no_control_chars]
    )
    trigger = SelectField("Trigger", validate_choice=False)
    trigger_other = StringField(
        "Other trigger",
        validators=[Optional(), Length(max=300), no_control_chars],
        description="When the trigger is not on the plan.",
    )
    response = SelectField(
        "Response",
        choices=choices(RELAPSE_RESPONSES, blank="— choose —"),
        validators=[DataRequired(message="Choose a response.")],
        description="Return to detox or rehab offers the phase move once this is saved.",
    )

    def __init__(self, triggers: list[PlanTrigger], **kwargs):
        super().__init__(**kwargs)
        # The service checks the lineage against the plan again on submit.
        self.trigger.choices = [
            SelectChoice("", "None identified / not known"),
            *(SelectChoice(t.lineage, t.description) for t in triggers),
            SelectChoice(OTHER_TRIGGER, "Other (describe below)"),
        ]

    def entry(self) -> RelapseEntry:
        return RelapseEntry(
            kind=self.kind.data,
            used_on=self.used_on.data,
            substance=self.substance.data,
            response=self.response.data,
            circumstances=self.circumstances.data or "",
            trigger=self.trigger.data or "",
            trigger_other=self.trigger_other.data or "",
        )


class CloseForm(DischargeForm):
    """The TEDS discharge fields plus the closing summary. No "time the client left": that is
    for leaving a detox unit against advice."""

    left_at = None
    summary = TextAreaField(
        "Closing summary",
        validators=[
            DataRequired(message="Write a closing summary."),
            Length(max=4000),
            no_control_chars,
        ],
        description="Progress over the aftercare year, the state at closing and what comes next.",
    )

    def details(self, from_local=None) -> DischargeDetails:
        return DischargeDetails(
            last_contact_on=self.last_contact_on.data,
            discharged_on=self.discharged_on.data,
            reason_code=self.reason_code.data,
            use_frequency=self.use_frequency.data,
            employment=self.employment.data,
            living_arrangement=self.living_arrangement.data,
            arrests_30d=self.arrests_30d.data or 0,
            self_help=self.self_help.data,
            note=self.note.data or "",
        )


def move_offer_form(current: Phase, target: Phase, used_on: date, now_local: datetime):
    """The episodes move form, filled in for the move a relapse calls for; it posts to the
    episodes feature, whose rules and guards decide."""
    form = PhaseMoveForm(current, formdata=None)
    form.target.data = target.value
    form.effective_at.data = now_local
    form.reason.data = f"Relapse on {used_on.isoformat()}"
    return form

"""Forms check shape only: doses, schedules, slots, witnesses and maxima are the service's job.

Doses stay text here so the domain's parser gives the message (a float field would round
0.1 mg steps and accept "nan").
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    IntegerField,
    PasswordField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..auth.models import User
from ..choices import choices
from ..domain.medications import ROUTES, UNITS, Outcome
from ..forms import no_control_chars, no_format_chars, plausible_time
from .models import Drug, MedicationOrder
from .services import DoseEntry, OrderEntry

WHEN = "%Y-%m-%dT%H:%M"
ToUtc = Callable[[datetime], datetime]


def _when(label: str, required: bool = True) -> DateTimeLocalField:
    first = DataRequired(message="Enter a date and time.") if required else Optional()
    return DateTimeLocalField(label, format=WHEN, validators=[first, plausible_time])


def _id(value: object) -> int | None:
    """A posted user id, or None; an id that is not a physician is refused by the service."""
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) < 10 else None


def _people(users: Sequence[User], blank: str) -> list[SelectChoice]:
    return [SelectChoice("", blank), *(SelectChoice(str(u.id), u.display_name) for u in users)]


def _text(label: str, max_length: int, **kwargs) -> StringField:
    return StringField(
        label, validators=[Optional(), Length(max=max_length), no_control_chars], **kwargs
    )


def _note(label: str, max_length: int, **kwargs) -> TextAreaField:
    return TextAreaField(
        label, validators=[Optional(), Length(max=max_length), no_control_chars], **kwargs
    )


class OrderForm(FlaskForm):
    # A posted historical code goes to the service; NUL is refused here as on PostgreSQL.
    drug = SelectField("Drug", validate_choice=False, validators=[no_control_chars])
    dose = StringField("Dose", validators=[DataRequired(message="Enter the dose."), Length(max=20)])
    unit = SelectField("Unit", choices=[SelectChoice(u, u) for u in UNITS], default="mg")
    route = SelectField("Route", choices=choices(ROUTES), default="oral")
    times = _text(
        "Scheduled times",
        120,
        description="24-hour facility time, separated by commas, e.g. 08:00, 20:00.",
    )
    prn = BooleanField("As needed (PRN) instead of scheduled")
    prn_indication = _text("PRN indication", 200, description="What the as-needed dose is for.")
    prn_min_hours = IntegerField(
        "Least hours between PRN doses",
        validators=[Optional(), NumberRange(min=1, max=72, message="Between 1 and 72 hours.")],
    )
    max_daily = _text(
        "Maximum daily dose", 20, description="Optional, in the order's unit; blank for none."
    )
    indication = _text("Indication", 200)
    starts_at = _when("Start")
    stops_at = _when("Stop", required=False)
    ordered_by = SelectField(
        "Ordering physician",
        coerce=_id,
        validate_choice=False,
        description="A verbal order waits for this physician's co-signature.",
    )

    def __init__(self, drugs: Sequence[Drug], prescribers: Sequence[User], **kwargs):
        super().__init__(**kwargs)
        # Only orderable drugs are offered; LAAM is history, never a choice.
        self.drug.choices = [SelectChoice("", "Choose a drug")] + [
            SelectChoice(d.code, d.name + (f" (C-{d.schedule})" if d.schedule else ""))
            for d in drugs
        ]
        self.ordered_by.choices = _people(prescribers, "Choose the physician")

    def entry(self, to_utc: ToUtc) -> OrderEntry:
        return OrderEntry(
            drug=self.drug.data or "",
            dose=self.dose.data or "",
            unit=self.unit.data,
            route=self.route.data,
            starts_at=to_utc(self.starts_at.data),
            prn=bool(self.prn.data),
            times=self.times.data or "",
            prn_indication=self.prn_indication.data or "",
            prn_min_hours=self.prn_min_hours.data,
            max_daily=self.max_daily.data or "",
            indication=self.indication.data or "",
            stops_at=to_utc(self.stops_at.data) if self.stops_at.data else None,
            ordered_by_id=self.ordered_by.data,
        )


class DoseForm(FlaskForm):
    given_at = _when("Time given")
    outcome = SelectField(
        "Outcome",
        choices=[SelectChoice(o.value, o.label) for o in Outcome],
        default=Outcome.GIVEN.value,
    )
    dose = StringField("Dose given", validators=[Optional(), Length(max=20)])
    reason = _note("Reason not given", 300, description="Required when held, refused or missed.")
    note = _note(
        "Note", 500, description="Required when recorded more than an hour after the time given."
    )
    witness_login = StringField(
        "Witness login name", validators=[Optional(), Length(max=64), no_format_chars]
    )
    witness_password = PasswordField("Witness password", validators=[Optional(), Length(max=200)])
    override_reason = _note("Reason for going over the daily maximum", 300)
    override_physician = SelectField("Authorising physician", coerce=_id, validate_choice=False)

    def __init__(self, prescribers: Sequence[User], **kwargs):
        super().__init__(**kwargs)
        self.override_physician.choices = _people(prescribers, "No override")

    def fill(self, order: MedicationOrder, now_local: datetime) -> None:
        """Defaults: now on the facility clock, and the ordered dose."""
        self.given_at.data = now_local.replace(tzinfo=None, second=0, microsecond=0)
        self.dose.data = format(order.dose, "f")

    def entry(self, to_utc: ToUtc, scheduled_at: datetime | None) -> DoseEntry:
        return DoseEntry(
            scheduled_at=scheduled_at,
            given_at=to_utc(self.given_at.data),
            outcome=Outcome(self.outcome.data),
            dose=self.dose.data or "",
            reason=self.reason.data or "",
            note=self.note.data or "",
            witness_login=self.witness_login.data or "",
            witness_password=self.witness_password.data or "",
            override_reason=self.override_reason.data or "",
            override_physician_id=self.override_physician.data,
        )


class CosignForm(FlaskForm):
    password = PasswordField(
        "Your password", validators=[DataRequired(message="Enter your password to co-sign.")]
    )


class DiscontinueForm(FlaskForm):
    reason = TextAreaField(
        "Reason",
        validators=[
            DataRequired(message="Say why the order is discontinued."),
            Length(max=300),
            no_control_chars,
        ],
    )

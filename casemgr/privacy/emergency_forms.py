"""Forms for break-glass access (42 CFR §2.51) and for restricting staff from a chart."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length, Regexp

from ..forms import no_control_chars, no_format_chars, plausible_time
from .emergency import Emergency

WHEN = "%Y-%m-%dT%H:%M"


class MrnLookupForm(FlaskForm):
    """Posted (never in the address); it changes nothing and shows no name."""

    mrn = StringField(
        "Medical record number (MRN)",
        validators=[
            DataRequired(message="Enter the client's MRN."),
            Length(max=16),
            Regexp(r"^\s*[A-Za-z0-9]+\s*$", message="An MRN has letters and digits only."),
        ],
        description="The exact MRN, e.g. from the client's wristband or the referral.",
    )


class EmergencyAccessForm(FlaskForm):
    receiving_personnel = StringField(
        "Receiving medical personnel",
        validators=[DataRequired(), Length(max=120), no_format_chars],
        description="The name of the clinician receiving the information.",
    )
    receiving_facility = StringField(
        "Their facility",
        validators=[DataRequired(), Length(max=160), no_format_chars],
        description="Hospital, EMS service or practice they work for.",
    )
    nature = TextAreaField(
        "Nature of the emergency",
        validators=[
            DataRequired(),
            Length(min=20, max=1000, message="Describe the emergency in 20 to 1000 characters."),
            no_control_chars,
        ],
    )
    confirmed_at = DateTimeLocalField(
        "Time confirmed (facility time)",
        format=WHEN,
        validators=[DataRequired(message="Enter a date and time."), plausible_time],
        description="Now, or up to an hour ago.",
    )
    confirm = BooleanField(
        "I confirm this is a bona fide medical emergency, the client's consent cannot be "
        "obtained, and I will disclose only what the emergency requires.",
        validators=[DataRequired(message="Tick the box to confirm the emergency.")],
    )

    def emergency(self, from_local) -> Emergency:
        return Emergency(
            receiving_personnel=self.receiving_personnel.data,
            receiving_facility=self.receiving_facility.data,
            nature=self.nature.data,
            confirmed_at=from_local(self.confirmed_at.data),
        )


class ActionForm(FlaskForm):
    """A button that changes something: the CSRF token, nothing else."""


class RestrictionForm(FlaskForm):
    user = SelectField("Staff member", coerce=int, validate_choice=True)
    reason = StringField(
        "Reason",
        validators=[DataRequired(), Length(max=300), no_control_chars],
        description="For example: a relative of the client; the client is a colleague.",
    )

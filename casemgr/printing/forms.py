"""What a clinic manager or counselor says about a report before printing it: the period
(progress report only), why it is disclosed and to whom."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, StringField
from wtforms.validators import DataRequired, Length, ValidationError

from ..forms import no_control_chars, plausible_time

DATE_MESSAGE = "Enter a date as YYYY-MM-DD, e.g. 2026-01-31."


class DisclosureForm(FlaskForm):
    purpose = StringField(
        "Purpose",
        validators=[
            DataRequired("Say why the report is printed."),
            Length(max=200),
            no_control_chars,
        ],
        description="Why the report leaves the program, e.g. Court review, Payer "
        "authorization, Referral. It is printed on the report and kept in the print log.",
    )


class ProgressForm(DisclosureForm):
    start = DateField(
        "Period from",
        validators=[DataRequired(DATE_MESSAGE), plausible_time],
        invalid_value_message=DATE_MESSAGE,
    )
    end = DateField(
        "Period to (inclusive)",
        validators=[DataRequired(DATE_MESSAGE), plausible_time],
        invalid_value_message=DATE_MESSAGE,
    )

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_end(self, field) -> None:
        if field.data and field.data > self.today:
            raise ValidationError(f"The period cannot end after today ({self.today.isoformat()}).")
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end of the period is before its start.")

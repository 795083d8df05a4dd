"""Forms check shape only: the scores, the vitals and the time are checked by the service."""

from __future__ import annotations

import re
from dataclasses import dataclass

from flask_wtf import FlaskForm
from wtforms import DateTimeLocalField, Field, FloatField, IntegerField, SelectField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, NumberRange, Optional

from ..choices import choices
from ..domain.vitals import TemperatureUnit
from ..domain.withdrawal import Instrument
from ..forms import no_control_chars, plausible_time
from .services import REASONS, AssessmentEntry

WHEN = "%Y-%m-%dT%H:%M"
_WHOLE = re.compile(r"-?\d{1,9}")
UNITS = ((TemperatureUnit.CELSIUS.value, "°C"), (TemperatureUnit.FAHRENHEIT.value, "°F"))


def _score(value: object) -> object:
    """A posted score as an int when it is one; anything else goes on to the domain check,
    which refuses it with a message naming the item."""
    if isinstance(value, int) or value is None:
        return value
    text = str(value).strip()
    if text == "":
        return None
    return int(text) if _WHOLE.fullmatch(text) else text[:40]


def _vital(label: str) -> IntegerField:
    # Only shape here; physiological bounds are casemgr.domain.vitals' job.
    return IntegerField(label, validators=[Optional(), NumberRange(-(10**6), 10**6)])


@dataclass(frozen=True)
class ItemRow:
    key: str
    field: Field
    prompt: str


class AssessmentForm(FlaskForm):
    """The fixed part; `assessment_form()` adds one select per item of the instrument."""

    assessed_at = DateTimeLocalField(
        "Assessed at",
        format=WHEN,
        validators=[DataRequired(message="Enter a date and time."), plausible_time],
    )
    reason = SelectField("Reason", choices=choices(REASONS), default="scheduled")
    backdate_reason = TextAreaField(
        "Reason for late entry",
        validators=[Optional(), Length(max=300), no_control_chars],
        description="Required when the assessment was more than an hour ago.",
    )
    systolic = _vital("Systolic (mmHg)")
    diastolic = _vital("Diastolic (mmHg)")
    heart_rate = _vital("Heart rate, raw pulse (/min)")
    respiratory_rate = _vital("Respiratory rate (/min)")
    temperature = FloatField("Temperature", validators=[Optional()])
    temperature_unit = SelectField("Unit", choices=choices(UNITS), default="C")
    spo2 = _vital("SpO₂ (%)")
    pain = _vital("Pain (0–10)")

    instrument: Instrument  # set by assessment_form()

    def items(self) -> list[ItemRow]:
        return [ItemRow(i.key, self[i.key], i.prompt) for i in self.instrument.items]

    def entry(self, from_local) -> AssessmentEntry:
        return AssessmentEntry(
            instrument=self.instrument.key,
            items={r.key: r.field.data for r in self.items() if r.field.data is not None},
            assessed_at=from_local(self.assessed_at.data),
            reason=self.reason.data,
            backdate_reason=self.backdate_reason.data or "",
            systolic=self.systolic.data,
            diastolic=self.diastolic.data,
            heart_rate=self.heart_rate.data,
            respiratory_rate=self.respiratory_rate.data,
            temperature=self.temperature.data,
            temperature_unit=self.temperature_unit.data,
            spo2=self.spo2.data,
            pain=self.pain.data,
        )


def _option_label(value: int, description: str) -> str:
    return f"{value} — {description}" if description else str(value)


def assessment_form(instrument: Instrument, **kwargs) -> AssessmentForm:
    """An AssessmentForm with one select per item, built from the domain's item table. A value
    outside the item's allowed set is not rejected here (validate_choice=False) but by the
    domain, whose message names the item."""
    fields: dict[str, object] = {"instrument": instrument}
    for item in instrument.items:
        fields[item.key] = SelectField(
            item.label,
            choices=[SelectChoice("", "Choose a score")]
            + [SelectChoice(o.value, _option_label(o.value, o.description)) for o in item.options],
            coerce=_score,
            validate_choice=False,
            description=item.prompt,
        )
    return type("AssessmentForm", (AssessmentForm,), fields)(**kwargs)


class ClearanceForm(FlaskForm):
    note = TextAreaField(
        "Clinical note",
        validators=[
            DataRequired(message="Say why the client is medically cleared."),
            Length(max=1000),
            no_control_chars,
        ],
    )

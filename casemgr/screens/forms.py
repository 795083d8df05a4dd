from __future__ import annotations

from dataclasses import dataclass

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, Field, SelectField, TextAreaField
from wtforms.validators import DataRequired, Length, Optional

from ..choices import choices
from ..domain import screens as panel
from ..domain.screens import Result
from ..forms import no_control_chars, plausible_time
from .services import AnalyteResult, ScreenEntry

WHEN = "%Y-%m-%dT%H:%M"

RESULTS = (
    (Result.NOT_TESTED.value, "Not tested"),
    (Result.NEGATIVE.value, "Negative"),
    (Result.POSITIVE.value, "Positive"),
    (Result.INVALID.value, "Invalid"),
)
TEMPERATURE = (
    ("not_checked", "Not checked"),
    ("yes", "In range (32–38 °C / 90–100 °F)"),
    ("no", "Out of range"),
)
_TEMPERATURE_VALUES = {"not_checked": None, "yes": True, "no": False}


@dataclass(frozen=True)
class PanelRow:
    code: str
    result: Field
    expected: Field
    offers_expected: bool  # a prescribed medication, or a flag someone posted anyway


class ScreenForm(FlaskForm):
    """The fixed part of a screen; `screen_form()` adds one result row per panel analyte."""

    collected_at = DateTimeLocalField(
        "Specimen collected",
        format=WHEN,
        validators=[DataRequired(message="Enter a date and time."), plausible_time],
    )
    specimen_type = SelectField(
        "Specimen type", choices=choices(panel.SPECIMEN_TYPES), default="urine"
    )
    observed = BooleanField("Collection was observed")
    temperature = SelectField("Temperature", choices=choices(TEMPERATURE), default="not_checked")
    adulterant_suspected = BooleanField("Adulteration or substitution suspected")
    refused = BooleanField(
        "Client refused the screen",
        description="Leave every result as not tested; a refusal counts as positive.",
    )
    action_taken = TextAreaField(
        "Action taken",
        validators=[Optional(), Length(max=500), no_control_chars],
        description="Required for an unexpected positive, an invalid result or a refusal.",
    )
    comments = TextAreaField(
        "Comments",
        validators=[Optional(), Length(max=500), no_control_chars],
        description="Screens are not edited: to correct one, record a new screen and say so here.",
    )

    analytes: panel.Codes = ()  # set by screen_form()

    def rows(self) -> list[PanelRow]:
        return [
            PanelRow(
                code,
                self[f"result_{code}"],
                expected := self[f"expected_{code}"],
                code in panel.MEDICATION_ANALYTES or bool(expected.data or expected.errors),
            )
            for code, _ in self.analytes
        ]

    def entry(self, from_local) -> ScreenEntry:
        return ScreenEntry(
            collected_at=from_local(self.collected_at.data),
            results=tuple(
                AnalyteResult(r.code, Result(r.result.data), bool(r.expected.data))
                for r in self.rows()
            ),
            specimen_type=self.specimen_type.data,
            observed=self.observed.data,
            temperature_in_range=_TEMPERATURE_VALUES[self.temperature.data],
            adulterant_suspected=self.adulterant_suspected.data,
            refused=self.refused.data,
            action_taken=self.action_taken.data or "",
            comments=self.comments.data or "",
        )


def screen_form(**kwargs) -> ScreenForm:
    """A ScreenForm with a result and an expected flag for each analyte of today's PANEL, so a
    panel change needs no code change."""
    fields: dict[str, object] = {"analytes": panel.PANEL}
    for code, label in panel.PANEL:
        fields[f"result_{code}"] = SelectField(
            label, choices=choices(RESULTS), default="not_tested"
        )
        fields[f"expected_{code}"] = BooleanField(f"{label} expected (prescribed)")
    return type("ScreenForm", (ScreenForm,), fields)(**kwargs)

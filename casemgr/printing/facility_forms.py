"""The forms of the facility reports page: each report's own choices, plus the file format and
the purpose recorded with the print. GET forms: they only read (the print is recorded by the
view), so no CSRF token.

The three forms share one page, so their shared fields get ids of their own ("census-format").
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from ..outcomes.forms import OutcomesForm
from ..timefmt import today
from ..transfer.forms import CensusForm

FORMATS = [SelectChoice("pdf", "PDF"), SelectChoice("csv", "CSV (spreadsheet)")]


def _format(report: str) -> SelectField:
    return SelectField("Format", choices=FORMATS, default="pdf", id=f"{report}-format")


def _purpose(report: str) -> StringField:
    return StringField(
        "Purpose",
        validators=[Length(max=200)],
        id=f"{report}-purpose",
        filters=[lambda v: v.strip() if v else ""],
        description="Why it is printed, e.g. “monthly staff meeting”: recorded with the file. "
        "Required for a PDF.",
    )


class _Output:
    """Format and purpose: a PDF must say why it is printed."""

    format: SelectField
    purpose: StringField

    def validate_purpose(self, field) -> None:
        if self.format.data == "pdf" and not field.data:
            raise ValidationError("Say why this PDF is printed; it is recorded with the file.")

    def parameters(self) -> dict[str, Any]:
        return {}


class CensusReportForm(_Output, CensusForm):
    """The census date (today when left empty); the date rules are the census page's."""

    format = _format("census")
    purpose = _purpose("census")

    def parameters(self) -> dict[str, Any]:
        return {"on": (self.on.data or today()).isoformat()}


class CaseloadReportForm(_Output, FlaskForm):
    """No choices: the caseloads as they stand when the report is generated."""

    class Meta:
        csrf = False

    format = _format("caseload")
    purpose = _purpose("caseload")


class OutcomesReportForm(_Output, OutcomesForm):
    """The outcomes page's range and filters, refused here when invalid (the page falls back
    to its defaults instead)."""

    format = _format("outcomes")
    purpose = _purpose("outcomes")

    def parameters(self) -> dict[str, Any]:
        chosen = self.selection()
        return {
            "start": chosen.period.start.isoformat(),
            "end": chosen.period.end.isoformat(),
            "level": chosen.level_of_care,
            "counselor": chosen.counselor_id,
        }

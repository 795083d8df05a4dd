"""The forms of the facility reports page: each report's own choices, plus the file format and
the purpose recorded with the print.

The census and caseload name clients, so they also ask what the file is for: use within the
program (the default) or a release outside the facility, to a recipient, under each listed
client's consent. A release writes the accounting of disclosures, so those two are POST forms
with a CSRF token; the outcomes report (aggregate, internal) stays a GET form.

The three forms share one page, so their shared fields get ids of their own ("census-format").
"""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Length, ValidationError

from ..forms import no_control_chars
from ..outcomes.forms import OutcomesForm
from ..timefmt import today
from ..transfer.forms import CensusForm
from .facility import INTERNAL, RELEASE

FORMATS = [SelectChoice("pdf", "PDF"), SelectChoice("csv", "CSV (spreadsheet)")]
USES = [
    SelectChoice(INTERNAL, "Internal use within the program"),
    SelectChoice(RELEASE, "Release outside the facility"),
]


def _format(report: str) -> SelectField:
    return SelectField("Format", choices=FORMATS, default="pdf", id=f"{report}-format")


def _purpose(report: str) -> StringField:
    return StringField(
        "Purpose",
        validators=[Length(max=200), no_control_chars],
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


def _use(report: str) -> RadioField:
    return RadioField(
        "Use",
        choices=USES,
        default=INTERNAL,
        id=f"{report}-use",
        description="Within the program the file is marked “internal use only”. A release "
        "needs every listed client's written consent naming this recipient and purpose.",
    )


def _recipient(report: str) -> StringField:
    return StringField(
        "Recipient",
        validators=[Length(max=200), no_control_chars],
        id=f"{report}-recipient",
        filters=[lambda v: v.strip() if v else ""],
        description="For a release: the person or organisation, as the consents name them.",
    )


class _ClientList(_Output):
    """A list that names clients: for use within the program, or released to a recipient for
    a purpose (both then required)."""

    use: RadioField
    recipient: StringField

    @property
    def releases(self) -> bool:
        return self.use.data == RELEASE

    def validate_recipient(self, field) -> None:
        if self.releases and not field.data:
            raise ValidationError("Name the recipient the clients' consents name.")

    def validate_purpose(self, field) -> None:
        if self.releases and not field.data:
            raise ValidationError("Say what it is released for, as the consents state it.")
        super().validate_purpose(field)


class CensusReportForm(_ClientList, CensusForm):
    """The census date (today when left empty); the date rules are the census page's."""

    # CensusForm (the census page's GET filter) has no token of its own; this POST is still
    # checked by the app-wide CSRF protection, which reads the token the page sends.

    format = _format("census")
    use = _use("census")
    recipient = _recipient("census")
    purpose = _purpose("census")

    def parameters(self) -> dict[str, Any]:
        return {"on": (self.on.data or today()).isoformat()}


class CaseloadReportForm(_ClientList, FlaskForm):
    """No choices: the caseloads as they stand when the report is generated."""

    format = _format("caseload")
    use = _use("caseload")
    recipient = _recipient("caseload")
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

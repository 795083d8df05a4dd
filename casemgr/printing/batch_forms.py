"""Forms of batch printing and of the record of what was printed."""

from __future__ import annotations

from collections.abc import Sequence

from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, IntegerField, RadioField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import (
    DataRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    ValidationError,
)

from ..auth.models import User
from ..domain.care import CODE_SYSTEMS, DEFAULT_CODE_SYSTEM
from ..domain.phases import OPEN_PHASES, ordered
from ..forms import no_control_chars
from .batch import BatchFilter

SCOPE_CHOICES = [
    SelectChoice("all", "All active clients"),
    SelectChoice("phase", "Clients in one phase"),
    SelectChoice("counselor", "One counselor's caseload"),
    SelectChoice("level", "Clients at one level of care"),
]
INTERNAL, RELEASE = "internal", "release"
USE_CHOICES = [
    SelectChoice(INTERNAL, "Internal use within the program"),
    SelectChoice(RELEASE, "Release outside the facility, under each client's consent"),
]
OUTPUT_CHOICES = [
    SelectChoice("combined", "One combined PDF"),
    SelectChoice("zip", "A zip file: one PDF per client and a manifest with each file's SHA-256"),
]


class BatchForm(FlaskForm):
    # Made when the page is rendered and kept through re-displays: one form, one batch.
    request_key = HiddenField(validators=[DataRequired(), Regexp(r"^[A-Za-z0-9_-]{32,64}$")])
    scope = RadioField("Which clients", choices=SCOPE_CHOICES, default="all")
    phase = SelectField("Phase", choices=[], validate_choice=False)
    counselor = SelectField("Primary counselor", choices=[], validate_choice=False)
    level = SelectField("Current level of care", choices=[], validate_choice=False)
    output = RadioField("Output", choices=OUTPUT_CHOICES, default="combined")
    purpose = StringField(
        "Purpose",
        validators=[
            DataRequired("Say why these reports are printed."),
            Length(max=200),
            no_control_chars,
        ],
        description="Recorded with every report, e.g. quarterly payer review. For a release, "
        "as the clients' consents state it.",
    )
    use = RadioField("Use", choices=USE_CHOICES, default=INTERNAL)
    recipient = StringField(
        "Recipient",
        validators=[Length(max=200), no_control_chars],
        filters=[lambda v: v.strip() if v else ""],
        description="For a release: the person or organisation, as every selected client's "
        "consent names them.",
    )

    def __init__(self, *args, counselors: Sequence[User] = (), **kwargs):
        super().__init__(*args, **kwargs)
        blank = SelectChoice("", "— choose —")
        self.phase.choices = [blank] + [
            SelectChoice(p.value, p.label) for p in ordered(OPEN_PHASES)
        ]
        self.counselor.choices = [blank] + [
            SelectChoice(str(u.id), u.full_name) for u in counselors
        ]
        codes = CODE_SYSTEMS[DEFAULT_CODE_SYSTEM].codes
        self.level.choices = [blank] + [SelectChoice(c, f"{c} — {n}") for c, n in codes.items()]

    def _needed_for(self, scope: str, field) -> None:
        if self.scope.data != scope:
            return
        if not field.data or field.data not in {c.value for c in field.choices}:
            raise ValidationError("Choose one from the list.")

    def validate_phase(self, field) -> None:
        self._needed_for("phase", field)

    def validate_counselor(self, field) -> None:
        self._needed_for("counselor", field)

    def validate_level(self, field) -> None:
        self._needed_for("level", field)

    def validate_recipient(self, field) -> None:
        if self.use.data == RELEASE and not field.data:
            raise ValidationError("Name the recipient the clients' consents name.")

    def release_to(self) -> str:
        """The recipient of a release; empty for use within the program."""
        return self.recipient.data if self.use.data == RELEASE else ""

    def selection(self) -> BatchFilter:
        scope = self.scope.data
        value = getattr(self, scope).data if scope != "all" else ""
        return BatchFilter(scope, value)


class LogFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET filter; it changes nothing

    kind = SelectField("Report", choices=[], validate_choice=False)
    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)], default=1)

    def __init__(self, formdata, *, kinds: Sequence[str]):
        super().__init__(formdata)
        self.kind.choices = [SelectChoice("", "All reports")] + [
            SelectChoice(k, k.replace("_", " ").capitalize()) for k in kinds
        ]

    def validate_kind(self, field) -> None:
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("Choose a report from the list.")

    def validate_until(self, field) -> None:
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")

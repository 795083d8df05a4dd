"""Forms for consents and disclosures. They check shape only (lengths, dates, choices); the
§2.31 rules are in `domain.consent` and come back next to the field they concern."""

from __future__ import annotations

from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from wtforms import (
    BooleanField,
    DateField,
    SelectField,
    SelectMultipleField,
    StringField,
    SubmitField,
    TextAreaField,
    widgets,
)
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..choices import choices
from ..domain import consent as rules
from ..forms import no_control_chars, plausible_time

DATE_MESSAGE = "Enter a date as YYYY-MM-DD, e.g. 2026-01-31."


class CheckboxesField(SelectMultipleField):
    """Rendered as a fieldset of checkboxes by the `field` macro (it knows this name)."""

    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


def text(label: str, max_len: int, *, area: bool = False, **kw) -> StringField:
    kind = TextAreaField if area else StringField
    return kind(label, validators=[Optional(), Length(max=max_len), no_control_chars], **kw)


def day(label: str, *, required: bool = False, **kw) -> DateField:
    first = DataRequired(DATE_MESSAGE) if required else Optional()
    return DateField(
        label, validators=[first, plausible_time], invalid_value_message=DATE_MESSAGE, **kw
    )


class ConsentForm(FlaskForm):
    """Every element of a §2.31 consent as its own field."""

    kind = SelectField(
        "Kind of consent",
        choices=choices(rules.KINDS),
        default=rules.GENERAL,
        description="SUD counseling notes and use in legal proceedings against the client each "
        "need a separate consent that covers nothing else.",
    )
    discloser = text(
        "Who may disclose (program or person)",
        300,
        description="The name of the program, or the person, permitted to disclose.",
    )
    information = CheckboxesField("Information to be disclosed", choices=choices(rules.INFORMATION))
    information_detail = text(
        "Description of the information",
        1000,
        area=True,
        description="Describe it specifically, e.g. Attendance and drug screen results from "
        "admission to discharge. Required when “Other” is ticked.",
    )
    recipient_kind = SelectField(
        "Recipient",
        choices=choices(rules.RECIPIENT_KINDS),
        default=rules.NAMED,
        description=f"TPO: “{rules.TPO_RECIPIENT}”.",
    )
    recipient_name = text(
        "Recipient's name",
        200,
        description="The person who may receive it (not needed for a TPO consent).",
    )
    recipient_organisation = text(
        "Recipient's organisation",
        200,
        description="Their organisation, or the organisation alone if no person is named.",
    )
    purpose = text(
        "Purpose of the disclosure",
        200,
        description="Why it is disclosed, e.g. Drug court compliance review, or for TPO "
        f"“{rules.TPO_PURPOSE}”.",
    )
    expiry_kind = SelectField("Expires", choices=choices(rules.EXPIRY_KINDS), default=rules.BY_DATE)
    expires_on = day("Expiry date", description="After the day it is signed.")
    expiry_event = text(
        "Expiry event",
        200,
        description=f"e.g. “{rules.END_OF_TREATMENT}” (checked: it lapses at discharge).",
    )
    revocation_statement = text(
        "Statement of the right to revoke",
        1000,
        area=True,
        description="Printed on the consent as it stands here.",
    )
    signed_by = SelectField("Signed by", choices=choices(rules.SIGNERS), default=rules.CLIENT)
    representative_name = text("Representative's name", 200)
    representative_authority = text(
        "Representative's authority",
        200,
        description="e.g. Parent and legal guardian of a minor; Court-appointed guardian.",
    )
    signature_method = SelectField(
        "How it was signed", choices=choices(rules.SIGNATURE_METHODS), default=rules.PAPER
    )
    signed_on = day("Date signed")
    scan = FileField(
        "Scan of the signed consent",
        description="Paper signatures: a PDF, PNG or JPEG file of at most 5 MB.",
    )
    typed_signature = text(
        "Signature typed by the signer",
        200,
        description="Signed in the app: the client (or representative) types their full name.",
    )
    record = SubmitField("Record the signed consent")
    print_blank = SubmitField("Print for signature")

    def terms(self) -> rules.Terms:
        return rules.Terms(
            kind=self.kind.data,
            discloser=self.discloser.data or "",
            information=frozenset(self.information.data or ()),
            information_detail=self.information_detail.data or "",
            recipient_kind=self.recipient_kind.data,
            recipient_name=self.recipient_name.data or "",
            recipient_organisation=self.recipient_organisation.data or "",
            purpose=self.purpose.data or "",
            expiry_kind=self.expiry_kind.data,
            expires_on=self.expires_on.data,
            expiry_event=self.expiry_event.data or "",
            revocation_statement=self.revocation_statement.data or "",
            signed_by=self.signed_by.data,
            representative_name=self.representative_name.data or "",
            representative_authority=self.representative_authority.data or "",
        )

    def signing(self) -> rules.Signing:
        return rules.Signing(
            method=self.signature_method.data,
            signed_on=self.signed_on.data,
            scanned=False,  # the service knows whether a scan came with it
            typed_name=self.typed_signature.data or "",
        )

    def show_problems(self, problems: dict[str, str]) -> None:
        for name, message in problems.items():
            field = getattr(self, name, None)
            (field.errors if field is not None else self.form_errors).append(message)


class RevokeForm(FlaskForm):
    revoked_on = day("Date the written revocation was received", required=True)
    note = TextAreaField(
        "How it was revoked",
        validators=[
            DataRequired("Say how the revocation was received."),
            Length(max=1000),
            no_control_chars,
        ],
        description="e.g. Signed letter from the client dated 2026-11-24, scanned to the chart.",
    )


class DiscloseForm(FlaskForm):
    recipient = StringField(
        "Recipient",
        validators=[DataRequired("Name the recipient."), Length(max=200), no_control_chars],
        description="As the consent names them: the person, or the organisation.",
    )
    purpose = StringField(
        "Purpose",
        validators=[DataRequired("Say why it is disclosed."), Length(max=200), no_control_chars],
        description="As the consent states it.",
    )
    information = CheckboxesField(
        "Information released",
        choices=choices(rules.INFORMATION),
        default=sorted(rules.PROGRESS_REPORT),
        description="The progress report contains attendance, drug screen results, the "
        "treatment plan and progress, diagnosis and medications: the consent must cover all.",
    )
    legal_proceeding = BooleanField(
        "For use in a legal proceeding against the client (civil, criminal, administrative or "
        "legislative): needs a separate legal-proceedings consent"
    )
    start = day("Period from", required=True)
    end = day("Period to (inclusive)", required=True)

    def __init__(self, *args, today: date, **kwargs):
        super().__init__(*args, **kwargs)
        self.today = today

    def validate_end(self, field) -> None:
        if field.data and field.data > self.today:
            raise ValidationError(f"The period cannot end after today ({self.today.isoformat()}).")
        if field.data and self.start.data and field.data < self.start.data:
            raise ValidationError("The end of the period is before its start.")

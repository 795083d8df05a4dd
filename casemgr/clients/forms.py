from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    FormField,
    IntegerField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.validators import DataRequired, Length, NumberRange, Optional, Regexp

from ..choices import choices
from ..domain import codes
from ..domain.face_sheet import TEXT_FIELDS, FaceSheet, Funding, SubstanceUse
from ..episodes.forms import SiteChoice
from ..forms import VersionField, no_format_chars
from ..timefmt import today as facility_today

PHONE = Regexp(r"^[0-9+()\-. x]*$", message="Use digits, spaces and + ( ) - . x only.")


def text(label: str, max_len: int, *, required: bool = False, **kw) -> StringField:
    first = DataRequired() if required else Optional()
    return StringField(label, validators=[first, Length(max=max_len), no_format_chars], **kw)


class CheckboxesField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class SubstanceForm(FlaskForm):
    class Meta:
        csrf = False

    substance = SelectField(
        "Substance", choices=choices(codes.SUBSTANCES, blank="— none —"), default=""
    )
    route = SelectField("Route", choices=choices(codes.ROUTES, blank="— choose —"), default="")
    frequency = SelectField(
        "Use in the last 30 days",
        choices=choices(codes.FREQUENCIES, blank="— choose —"),
        default="",
    )
    age_first_use = IntegerField(
        "Age at first use", validators=[Optional(), NumberRange(min=1, max=120)]
    )

    def use(self) -> SubstanceUse | None:
        if not self.substance.data:
            return None
        return SubstanceUse(
            self.substance.data, self.route.data, self.frequency.data, self.age_first_use.data
        )

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        if self.substance.data:
            for field in (self.route, self.frequency):
                if not field.data:
                    field.errors.append(
                        f"Choose the {field.label.text.lower()} for this substance."
                    )
                    ok = False
        return ok


class FaceSheetForm(FlaskForm):
    legal_first_name = text("Legal first name", 80, required=True)
    legal_last_name = text("Legal last name", 80, required=True)
    preferred_name = text("Preferred name", 80)
    pronouns = text("Pronouns", 40, description="e.g. she/her, he/him, they/them")
    date_of_birth = DateField(
        "Date of birth", validators=[DataRequired(message="Enter a valid date.")]
    )
    sex = SelectField("Sex", choices=choices(codes.SEXES))
    gender_identity = text("Gender identity", 60)
    phone = StringField("Phone", validators=[Optional(), Length(max=40), PHONE])
    address = text("Address", 200)
    primary_language = text("Primary language", 40, required=True, default="English")
    emergency_contact_name = text("Emergency contact", 120)
    emergency_contact_relationship = text("Relationship", 60)
    emergency_contact_phone = StringField(
        "Emergency contact phone", validators=[Optional(), Length(max=40), PHONE]
    )
    guardian_name = text("Guardian", 120, description="Required for a client under 18.")
    guardian_relationship = text("Guardian's relationship", 60)
    guardian_phone = StringField("Guardian's phone", validators=[Optional(), Length(max=40), PHONE])
    first_contact_on = DateField(
        "Date of first contact",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    referral_source = SelectField("Referral source", choices=choices(codes.REFERRAL_SOURCES))
    funding = CheckboxesField("Funding sources", choices=choices(codes.FUNDING_KINDS))
    medicaid_id = text("Medicaid member id", 60)
    medicare_id = text("Medicare member id", 60)
    private_payer = text("Private insurance payer", 120)
    private_member_id = text("Private insurance member id", 60)
    employer_payer = text("Employer plan", 120)
    employer_member_id = text("Employer plan member id", 60)
    substance_1 = FormField(SubstanceForm, label="Primary substance")
    substance_2 = FormField(SubstanceForm, label="Secondary substance")
    substance_3 = FormField(SubstanceForm, label="Tertiary substance")
    prior_treatment_episodes = IntegerField(
        "Prior treatment episodes", validators=[Optional(), NumberRange(0, 99)], default=0
    )
    overdoses_lifetime = IntegerField(
        "Overdoses (lifetime)", validators=[Optional(), NumberRange(0, 99)], default=0
    )
    last_overdose_on = DateField("Most recent overdose", validators=[Optional()])
    co_occurring = text(
        "Co-occurring conditions", 255, description="Short: diagnoses go in the assessment."
    )
    pregnant = SelectField("Pregnant", choices=choices(codes.PREGNANCY), default="unknown")
    risk_flags = CheckboxesField("Risk flags", choices=choices(codes.RISK_FLAGS))

    _MEMBER_FIELDS = {
        "medicaid": ("", "medicaid_id"),
        "medicare": ("", "medicare_id"),
        "private": ("private_payer", "private_member_id"),
        "employer": ("employer_payer", "employer_member_id"),
    }

    def validate(self, extra_validators=None) -> bool:
        ok = super().validate(extra_validators)
        primary = self.substance_1.form.substance
        if not primary.data:  # FormField takes no in-line validators, so check it here
            primary.errors = [*primary.errors, "Record the primary substance."]
            ok = False
        if "private" in (self.funding.data or []) and not (self.private_payer.data or "").strip():
            self.private_payer.errors = [*self.private_payer.errors, "Name the insurance payer."]
            ok = False
        return ok

    def sheet(self) -> FaceSheet:
        uses = [f.form.use() for f in (self.substance_1, self.substance_2, self.substance_3)]
        return FaceSheet(
            **{name: (getattr(self, name).data or "").strip() for name in TEXT_FIELDS},
            date_of_birth=self.date_of_birth.data,
            sex=self.sex.data,
            first_contact_on=self.first_contact_on.data,
            referral_source=self.referral_source.data,
            prior_treatment_episodes=self.prior_treatment_episodes.data or 0,
            overdoses_lifetime=self.overdoses_lifetime.data or 0,
            last_overdose_on=self.last_overdose_on.data,
            pregnant=self.pregnant.data,
            risk_flags=tuple(self.risk_flags.data or ()),
            funding=self._funding(),
            substances=tuple(u for u in uses if u is not None),
        )

    def _funding(self) -> tuple[Funding, ...]:
        rows = []
        for kind in self.funding.data or []:
            payer_field, member_field = self._MEMBER_FIELDS.get(kind, ("", ""))
            payer = getattr(self, payer_field).data if payer_field else ""
            member = getattr(self, member_field).data if member_field else ""
            rows.append(Funding(kind, payer or "", member or ""))
        return tuple(rows)

    def fill_from(self, client) -> None:
        """Prefill an edit form from the stored record (GET only)."""
        for name in FaceSheet.__dataclass_fields__:
            if hasattr(self, name) and name not in ("funding", "substances", "risk_flags"):
                getattr(self, name).data = getattr(client, name)
        self.risk_flags.data = client.risk_flag_codes
        self.funding.data = [f.kind for f in client.funding]
        for f in client.funding:
            payer_field, member_field = self._MEMBER_FIELDS.get(f.kind, ("", ""))
            if payer_field:
                getattr(self, payer_field).data = f.payer
            if member_field:
                getattr(self, member_field).data = f.member_id
        for use in client.substances:
            sub = getattr(self, f"substance_{use.rank}").form
            sub.substance.data, sub.route.data = use.substance, use.route
            sub.frequency.data, sub.age_first_use.data = use.frequency, use.age_first_use


class FaceSheetEditForm(FaceSheetForm):
    version = VersionField()


class IntakeForm(SiteChoice, FaceSheetForm):
    admitted_on = DateField(
        "Admission date",
        validators=[DataRequired(message="Enter a valid date.")],
        default=facility_today,
    )
    counselor = SelectField("Primary counselor", coerce=int, validate_choice=True)

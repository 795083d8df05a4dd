from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    PasswordField,
    SelectField,
    SelectMultipleField,
    StringField,
    widgets,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, EqualTo, Length, Optional, Regexp

from ..domain.passwords import MAX_LENGTH
from ..domain.roles import Role
from ..forms import VersionField, no_control_chars, no_format_chars

ROLE_CHOICES = [SelectChoice(r.value, r.label) for r in Role]


class MultiCheckboxField(SelectMultipleField):
    widget = widgets.ListWidget(prefix_label=False)
    option_widget = widgets.CheckboxInput()


class StaffDetailsForm(FlaskForm):
    full_name = StringField(
        "Full name", validators=[DataRequired(), Length(max=120), no_format_chars]
    )
    credentials = StringField(
        "Credentials / licence",
        validators=[Optional(), Length(max=60), no_format_chars],
        description="As printed after the name on signed notes, e.g. LADC, RN, MD.",
    )
    email = StringField(
        "Email",
        validators=[
            Optional(),
            Length(max=254),
            Regexp(
                r"^[^@\s]+@[^@\s]+\.[^@\s]+$",
                message="Enter an email address like name@example.org.",
            ),
        ],
    )
    roles = MultiCheckboxField("Roles", choices=ROLE_CHOICES)
    needs_supervision = BooleanField(
        "Needs supervision",
        description="An unlicensed or pre-licensure clinician: their signed notes wait for a "
        "supervisor's co-signature.",
    )
    # Choices come from the view (sites.services.staff_choices); the field is removed on an
    # install without sites. Its data is the chosen site's id as text, "" for the network.
    site_id = SelectField(
        "Site",
        coerce=str,
        default="",
        description="Where this person works: their detox board and census show that site. "
        "Whole network: every site.",
    )

    @property
    def role_set(self) -> frozenset[Role]:
        return frozenset(Role(r) for r in self.roles.data or [])

    @property
    def chosen_site_id(self) -> int | None:
        """None for the whole network, and on an install without sites (no field)."""
        return int(self.site_id.data) if self.site_id and self.site_id.data else None


class StaffEditForm(StaffDetailsForm):
    version = VersionField()


class NewPasswordMixin:
    password = PasswordField(
        "Temporary password",
        validators=[DataRequired(), Length(max=MAX_LENGTH), no_control_chars],
        description="At least 15 characters. The person must choose their own at first sign-in.",
    )
    confirm = PasswordField(
        "Temporary password again",
        validators=[DataRequired(), EqualTo("password", message="The two passwords differ.")],
    )


class StaffCreateForm(StaffDetailsForm, NewPasswordMixin):
    login = StringField(
        "Login name",
        validators=[DataRequired(), Length(max=64), no_format_chars],
        description="Lowercase letters, digits, dots, dashes or underscores. Cannot be changed later.",
    )


class ResetPasswordForm(FlaskForm, NewPasswordMixin):
    pass


class ConfirmForm(FlaskForm):
    """A POST button: carries only the CSRF token."""


class StaffFilterForm(FlaskForm):
    class Meta:
        csrf = False

    status = SelectField(
        "Status",
        choices=[
            SelectChoice("active", "Active"),
            SelectChoice("inactive", "Deactivated"),
            SelectChoice("all", "All"),
        ],
        default="active",
    )
    role = SelectField("Role", choices=[SelectChoice("", "Any role"), *ROLE_CHOICES], default="")
    q = StringField("Name or login", validators=[Optional(), Length(max=120), no_control_chars])


class SettingsForm(FlaskForm):
    facility_name = StringField(
        "Facility name",
        validators=[DataRequired(), Length(max=120), no_format_chars],
        description="Shown on every page and printed on reports.",
    )

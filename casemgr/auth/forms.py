from flask_wtf import FlaskForm
from wtforms import PasswordField, StringField
from wtforms.validators import DataRequired, EqualTo, Length

from ..domain.passwords import MAX_LENGTH
from ..forms import no_control_chars


class LoginForm(FlaskForm):
    login = StringField("Login name", validators=[DataRequired(), Length(max=64), no_control_chars])
    password = PasswordField("Password", validators=[DataRequired(), Length(max=MAX_LENGTH)])


class ChangePasswordForm(FlaskForm):
    current_password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)]
    )
    new_password = PasswordField(
        "New password",
        validators=[DataRequired(), Length(max=MAX_LENGTH), no_control_chars],
        description="At least 15 characters. A phrase of several words is easy to remember.",
    )
    confirm = PasswordField(
        "New password again",
        validators=[
            DataRequired(),
            EqualTo("new_password", message="The two new passwords differ."),
        ],
    )


class CodeForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=40), no_control_chars],
        description="The 6-digit code from your authenticator app, or one of your recovery codes.",
    )


class EnrolAtSignInForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(), Length(max=40), no_control_chars],
        description="After adding the account, type the 6-digit code the app shows.",
    )


class SetUpTwoFactorForm(FlaskForm):
    code = StringField(
        "Code from the app",
        validators=[DataRequired(), Length(max=40), no_control_chars],
        description="The 6-digit code the app shows for the account you just added.",
    )
    password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)]
    )


class PasswordOnlyForm(FlaskForm):
    password = PasswordField(
        "Current password", validators=[DataRequired(), Length(max=MAX_LENGTH)]
    )

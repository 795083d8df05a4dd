from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, StringField
from wtforms.validators import Length, NumberRange, Optional, Regexp, ValidationError

from ..forms import no_control_chars


class AuditFilterForm(FlaskForm):
    class Meta:
        csrf = False  # a GET search form; it changes nothing

    since = DateField("From", validators=[Optional()])
    until = DateField("To (inclusive)", validators=[Optional()])
    actor = StringField("Staff login", validators=[Optional(), Length(max=64), no_control_chars])
    action = StringField(
        "Action starts with",
        validators=[
            Optional(),
            Length(max=64),
            Regexp(r"^[a-z_.]*$", message="Letters, dots and underscores only."),
        ],
        description="e.g. auth. or users.updated",
    )
    object_type = StringField(
        "Record type", validators=[Optional(), Length(max=64), no_control_chars]
    )
    client_id = IntegerField("Client id", validators=[Optional(), NumberRange(min=1)])
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=100000)], default=1)

    def validate_until(self, field):
        if field.data and self.since.data and field.data < self.since.data:
            raise ValidationError("The end date is before the start date.")

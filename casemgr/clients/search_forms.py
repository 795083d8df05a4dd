from flask_wtf import FlaskForm
from wtforms import HiddenField, IntegerField, SelectField, StringField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import AnyOf, Length, NumberRange, Optional

from ..forms import no_control_chars
from .search import SORT_KEYS


class ClientSearchForm(FlaskForm):
    """Posted, not put in the URL: names and birth dates stay out of logs and history."""

    q = StringField(
        "Name, MRN or date of birth", validators=[Optional(), Length(max=100), no_control_chars]
    )
    sort = SelectField(
        "Sort by",
        choices=[SelectChoice(k, k) for k in SORT_KEYS],
        default="name",
        validators=[Optional()],
    )
    direction = HiddenField(default="asc", validators=[Optional(), AnyOf(["asc", "desc"])])
    page = IntegerField(default=1, validators=[Optional(), NumberRange(min=1, max=10000)])

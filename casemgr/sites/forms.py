from flask_wtf import FlaskForm
from wtforms import StringField
from wtforms.validators import DataRequired, Length

from ..forms import VersionField, no_format_chars


class SiteForm(FlaskForm):
    code = StringField(
        "Code",
        validators=[DataRequired(), Length(max=16), no_format_chars],
        description="2–16 letters, digits or hyphens, stored in capitals (e.g. NORTH). "
        "Shown where space is short and used by the command line.",
    )
    name = StringField(
        "Name",
        validators=[DataRequired(), Length(max=120), no_format_chars],
        description="The facility's name as staff say it, e.g. Northside Detox Unit.",
    )


class SiteEditForm(SiteForm):
    version = VersionField()

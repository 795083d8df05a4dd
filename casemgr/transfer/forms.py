from datetime import date

from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import DateField, HiddenField
from wtforms.validators import DataRequired, Optional, Regexp, ValidationError

from ..domain.client_import import MAX_ROWS
from ..timefmt import today

FILE_HELP = f"A UTF-8 CSV file of at most 2 MiB and {MAX_ROWS} client rows, with the columns below."


class UploadForm(FlaskForm):
    file = FileField(
        "CSV file",
        validators=[FileRequired("Choose the CSV file to check.")],
        description=FILE_HELP,
    )


class ConfirmForm(FlaskForm):
    """Re-upload of the checked file; `digest` proves it is byte for byte the one checked."""

    file = FileField(
        "The same CSV file again",
        validators=[FileRequired("Choose the same file again to confirm the import.")],
        description="Nothing is kept between the check and the import: choose the checked file again.",
    )
    digest = HiddenField(validators=[DataRequired(), Regexp(r"^[0-9a-f]{64}$")])


class CensusForm(FlaskForm):
    class Meta:
        csrf = False

    on = DateField("Census date", validators=[Optional()])

    def validate_on(self, field):
        if field.data and not date(1900, 1, 1) <= field.data <= today():
            raise ValidationError("Choose a date between 1900-01-01 and today.")

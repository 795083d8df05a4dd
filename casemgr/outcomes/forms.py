from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from flask_wtf import FlaskForm
from wtforms import DateField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import Optional, ValidationError

from ..auth.models import User
from ..domain.care import DEFAULT_CODE_SYSTEM, level_name
from ..domain.errors import DomainError
from ..domain.outcomes import Period
from .services import Selection, default_period

EARLIEST = date(1900, 1, 1)
DATE_MESSAGE = "Enter a date as YYYY-MM-DD, e.g. 2026-01-31."


class OutcomesForm(FlaskForm):
    """The date range and filters of the outcomes page. Invalid input is reported next to its
    field and the default stands in for it, so the page always shows figures."""

    class Meta:
        csrf = False  # a GET form; it changes nothing

    start = DateField("From", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    end = DateField("To (inclusive)", validators=[Optional()], invalid_value_message=DATE_MESSAGE)
    level = SelectField(
        "Level of care at admission",
        validate_choice=False,
        description="The episode's first recorded level of care (ASAM).",
    )
    counselor = SelectField(
        "Primary counselor",
        validate_choice=False,
        description="The episode's primary counselor, or the last one once discharged.",
    )

    def __init__(self, formdata, *, levels: Sequence[str], counselors: Sequence[User], today: date):
        self.today, self.default = today, default_period(today)
        super().__init__(formdata, start=self.default.start, end=self.default.end)
        self.level.choices = [SelectChoice("", "All levels of care")] + [
            SelectChoice(code, f"{code} — {level_name(DEFAULT_CODE_SYSTEM, code)}")
            for code in levels
        ]
        self.names = {u.id: u.full_name for u in counselors}
        self.counselor.choices = [SelectChoice("", "All counselors")] + [
            SelectChoice(str(u.id), u.full_name if u.active else f"{u.full_name} (deactivated)")
            for u in counselors
        ]

    def _check_day(self, day: date | None) -> None:
        if day is not None and not EARLIEST <= day <= self.today:
            raise ValidationError(
                f"Choose a date between {EARLIEST.isoformat()} and today ({self.today.isoformat()})."
            )

    def validate_start(self, field) -> None:
        self._check_day(field.data)

    def validate_end(self, field) -> None:
        self._check_day(field.data)

    def validate_level(self, field) -> None:
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("Choose a level of care from the list.")

    def validate_counselor(self, field) -> None:
        if field.data and field.data not in {c.value for c in field.choices}:
            raise ValidationError("Choose a counselor from the list.")

    def validate(self, extra_validators=None) -> bool:
        valid = super().validate(extra_validators)
        if not (self.start.errors or self.end.errors):
            try:
                self._period()
            except DomainError as exc:  # the end is before the start
                if self.end.raw_data and self.end.raw_data[0]:
                    self.end.errors.append(str(exc))
                else:
                    self.start.errors.append(
                        f"The start is after the default end ({self.default.end.isoformat()}, "
                        "yesterday): choose an end date too."
                    )
                valid = False
        return valid

    def _period(self) -> Period:
        return Period(self.start.data or self.default.start, self.end.data or self.default.end)

    def selection(self) -> Selection:
        """The figures to show, once validated: what was asked, with the default range or
        "all" standing in for whatever was left empty or is invalid."""
        dates_ok = not (self.start.errors or self.end.errors)
        period = self._period() if dates_ok else self.default
        level = None if self.level.errors else self.level.data or None
        counselor = (
            None if self.counselor.errors or not self.counselor.data else int(self.counselor.data)
        )
        return Selection(period, level, counselor, self.names.get(counselor, ""))

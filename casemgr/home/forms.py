"""Sorting and paging the home page work lists. Query parameters: they carry no PHI."""

from __future__ import annotations

from collections.abc import Sequence

from flask import request
from flask_wtf import FlaskForm
from wtforms import IntegerField, SelectField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional

from .services import ListQuery


class ListForm(FlaskForm):
    class Meta:
        csrf = False  # read by GET links; it changes nothing

    sort = SelectField("Sort by", choices=[], validators=[Optional()])
    dir = SelectField(
        "Order",
        choices=[SelectChoice("asc", "Ascending"), SelectChoice("desc", "Descending")],
        validators=[Optional()],
    )
    page = IntegerField("Page", validators=[Optional(), NumberRange(min=1, max=10000)])

    def __init__(self, sorts: Sequence[str], default_sort: str, default_dir: str = "asc"):
        super().__init__(request.args)
        self.sort.choices = [SelectChoice(key, key) for key in sorts]
        if not self.sort.data:  # the list's own order; a chosen column starts ascending
            self.sort.data, self.dir.data = default_sort, self.dir.data or default_dir
        self.dir.data = self.dir.data or "asc"

    def query(self) -> ListQuery:
        return ListQuery(
            sort=self.sort.data, descending=self.dir.data == "desc", page=self.page.data or 1
        )

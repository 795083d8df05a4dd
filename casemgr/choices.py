"""WTForms choices built from the domain's code lists."""

from __future__ import annotations

from wtforms.fields.choices import SelectChoice

from .domain.codes import Codes


def choices(codes: Codes, *, blank: str | None = None) -> list[SelectChoice]:
    items = [SelectChoice(code, text) for code, text in codes]
    return [SelectChoice("", blank), *items] if blank is not None else items

"""Continuing-care plan forms: the plan's own fields, one small form per kind of item, signing.

The item forms carry a prefix (`trigger-description`), because all three sit on the plan
page at once and their fields would otherwise share ids.
"""

from __future__ import annotations

from dataclasses import fields

from flask_wtf import FlaskForm
from wtforms import BooleanField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..domain import continuing_care as cc
from ..domain.codes import Codes
from ..domain.passwords import MAX_LENGTH
from ..forms import VersionField, no_control_chars


def _options(codes: Codes, first: str = "— choose —") -> list[SelectChoice]:
    """A select's options: the empty `first` entry, then the codes with their words."""
    return [SelectChoice("", first)] + [SelectChoice(code, words) for code, words in codes]


def _choice(label: str, codes: Codes, message: str) -> SelectField:
    return SelectField(label, choices=_options(codes), validators=[DataRequired(message=message)])


NO_RISK = 0  # the "choose" entry of the risk list: the domain rule refuses it by name


def _text(label: str, limit: int, description: str = "", *, required: str = "") -> StringField:
    checks = [DataRequired(message=required)] if required else [Optional()]
    return StringField(
        label, validators=[*checks, Length(max=limit), no_control_chars], description=description
    )


def _area(label: str, limit: int, description: str = "", *, required: str = "") -> TextAreaField:
    checks = [DataRequired(message=required)] if required else [Optional()]
    return TextAreaField(
        label, validators=[*checks, Length(max=limit), no_control_chars], description=description
    )


class ConfirmForm(FlaskForm):
    """A POST button: carries only the CSRF token."""


class PlanForm(FlaskForm):
    level_of_care = _choice("Level of care (ASAM)", cc.LEVELS_OF_CARE, "Choose a level of care.")
    program = _choice("Program", cc.PROGRAMS, "Choose a program.")
    session_schedule = _area(
        "Session schedule",
        500,
        "E.g. IOP Monday, Wednesday and Thursday 6–9 pm for 8 weeks, then weekly group.",
        required="Say when the client attends.",
    )
    moud = SelectField(
        "Medication for opioid use disorder", choices=_options(cc.MOUD, "None"), default=""
    )
    moud_dose = _text("Dose", 60, "E.g. 16 mg daily.")
    moud_prescriber = _text("Prescriber", 120, "Who continues the prescription after discharge.")
    emergency_plan = _area(
        "Emergency plan", 2000, "Whom the client calls in a crisis or when a craving is strong."
    )
    reengagement_plan = _area(
        "Re-engagement plan", 2000, "How the client comes back into treatment after a lapse."
    )
    version = VersionField()

    def values(self) -> cc.PlanFields:
        return cc.PlanFields(**{f.name: self[f.name].data or "" for f in fields(cc.PlanFields)})


class TriggerForm(FlaskForm):
    category = _choice("Category", cc.TRIGGER_CATEGORIES, "Choose a category.")
    description = _area(
        "Trigger", 500, "The person, place, situation, feeling or time.", required="Describe it."
    )
    risk = SelectField(
        "Risk",
        coerce=int,
        choices=[SelectChoice(NO_RISK, "— choose —")]
        + [SelectChoice(n, f"{n} — {word}") for n, word in cc.RISK_LEVELS.items()],
        default=NO_RISK,
    )
    coping = _area("Coping strategies", 1000, "What the client will do instead.")

    def details(self) -> cc.Trigger:
        return cc.Trigger(
            self.category.data, self.description.data, self.risk.data, self.coping.data or ""
        )


class SupportForm(FlaskForm):
    kind = _choice("Kind", cc.SUPPORT_KINDS, "Choose a kind of support.")
    name = _text("Name", 200, "A person's name or the group's.", required="Name the support.")
    frequency = _text("How often", 100, "E.g. daily call, NA twice a week.")
    contact_consent = BooleanField("The client consents to recording the contact details")
    contact = _text("Contact details", 200, "Kept only with the client's consent.")

    def details(self) -> cc.Support:
        return cc.Support(
            self.kind.data,
            self.name.data,
            self.frequency.data or "",
            bool(self.contact_consent.data),
            self.contact.data or "",
        )


class LifeChangeForm(FlaskForm):
    area = _choice("Area", cc.LIFE_CHANGE_AREAS, "Choose an area.")
    description = _area(
        "Change", 500, "E.g. moved away from the old neighbourhood.", required="Describe it."
    )
    status = SelectField(
        "Status",
        choices=[SelectChoice(code, words) for code, words in cc.LIFE_CHANGE_STATUSES],
        default="in_progress",
    )

    def details(self) -> cc.LifeChange:
        return cc.LifeChange(self.area.data, self.description.data, self.status.data)


class SignForm(FlaskForm):
    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password to sign."), Length(max=MAX_LENGTH)],
        description="Signing locks this version; changes afterwards need a revision.",
    )


ITEM_FORMS: dict[str, type[FlaskForm]] = {
    "trigger": TriggerForm,
    "support": SupportForm,
    "life_change": LifeChangeForm,
}
LABELS = {"trigger": "trigger", "support": "sober support", "life_change": "life change"}


def item_form(kind: str, **kwargs) -> FlaskForm:
    return ITEM_FORMS[kind](prefix=kind, **kwargs)


def item_forms(posted: tuple[str, FlaskForm] | None = None) -> dict[str, FlaskForm]:
    """The three add forms of the plan page, blank except the one just posted (with its
    errors)."""
    forms = {kind: item_form(kind, formdata=None) for kind in ITEM_FORMS}
    if posted is not None:
        forms[posted[0]] = posted[1]
    return forms

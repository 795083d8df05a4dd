"""Treatment-plan forms: one small form per part of the plan, the strengths, and signing."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateField, PasswordField, SelectField, StringField, TextAreaField
from wtforms.fields.choices import SelectChoice
from wtforms.validators import DataRequired, Length, Optional

from ..domain.passwords import MAX_LENGTH
from ..domain.plans import ObjectiveStatus
from ..forms import VersionField, no_control_chars
from ..timefmt import today as facility_today
from .models import PlanIntervention, PlanObjective
from .services import (
    GoalDetails,
    InterventionDetails,
    ObjectiveDetails,
    ProblemDetails,
    Signature,
)

NOBODY = 0  # the "not assigned" choice of an intervention's responsible staff


def _statement(label: str, description: str) -> TextAreaField:
    return TextAreaField(
        label,
        validators=[
            DataRequired(message="Write the statement."),
            Length(max=1000),
            no_control_chars,
        ],
        description=description,
    )


class ConfirmForm(FlaskForm):
    """A POST button: carries only the CSRF token."""


class StrengthsForm(FlaskForm):
    strengths = TextAreaField(
        "Strengths and resources",
        validators=[Optional(), Length(max=1000), no_control_chars],
        description="What the client brings: supports, skills, motivation, housing, work.",
    )
    version = VersionField()


class ProblemForm(FlaskForm):
    statement = _statement("Problem", "As found in the assessment, in the client's terms.")

    def details(self) -> ProblemDetails:
        return ProblemDetails(self.statement.data)


class GoalForm(FlaskForm):
    statement = _statement("Long-term goal", "What the client wants to reach.")

    def details(self) -> GoalDetails:
        return GoalDetails(self.statement.data)


class ObjectiveForm(FlaskForm):
    statement = _statement(
        "Objective", "Short-term and measurable: who will do what, how often, by when."
    )
    target_date = DateField("Target date", validators=[DataRequired(message="Enter a date.")])
    status = SelectField(
        "Status",
        choices=[SelectChoice(s.value, s.label) for s in ObjectiveStatus],
        default=ObjectiveStatus.NOT_STARTED.value,
    )

    def details(self) -> ObjectiveDetails:
        return ObjectiveDetails(
            self.statement.data, self.target_date.data, ObjectiveStatus(self.status.data)
        )


class InterventionForm(FlaskForm):
    modality = StringField(
        "Modality",
        validators=[
            DataRequired(message="Name the intervention."),
            Length(max=200),
            no_control_chars,
        ],
        description="E.g. individual CBT, relapse-prevention group, MOUD, case management.",
    )
    frequency = StringField(
        "Frequency",
        validators=[DataRequired(message="Say how often."), Length(max=100), no_control_chars],
        description="E.g. weekly, 3 times a week, daily.",
    )
    responsible = SelectField("Responsible staff", coerce=int, default=NOBODY)

    def __init__(self, staff, **kwargs):
        super().__init__(**kwargs)
        self.responsible.choices = [SelectChoice(NOBODY, "— not assigned —")] + [
            SelectChoice(u.id, u.display_name) for u in staff
        ]

    def details(self) -> InterventionDetails:
        chosen = self.responsible.data
        return InterventionDetails(self.modality.data, self.frequency.data, chosen or None)


class SignPlanForm(FlaskForm):
    client_agreed = BooleanField("The client took part in this plan and agrees with it")
    client_agreed_on = DateField(
        "Date the client agreed", validators=[Optional()], default=facility_today
    )
    password = PasswordField(
        "Your password",
        validators=[DataRequired(message="Enter your password to sign."), Length(max=MAX_LENGTH)],
        description="Signing locks this version; changes afterwards need a review.",
    )

    def signature(self) -> Signature:
        return Signature(self.password.data, self.client_agreed.data, self.client_agreed_on.data)


def initial_data(part) -> dict:
    """A part's stored values, to fill its edit form."""
    if isinstance(part, PlanIntervention):
        return {
            "modality": part.modality,
            "frequency": part.frequency,
            "responsible": part.responsible_id or NOBODY,
        }
    if isinstance(part, PlanObjective):
        return {
            "statement": part.statement,
            "target_date": part.target_date,
            "status": ObjectiveStatus(part.status).value,
        }
    return {"statement": part.statement}


# The form for each kind of part, and what a part is called on the page.
FORMS = {
    "problem": ProblemForm,
    "goal": GoalForm,
    "objective": ObjectiveForm,
    "intervention": InterventionForm,
}
LABELS = {
    "problem": "problem",
    "goal": "long-term goal",
    "objective": "objective",
    "intervention": "intervention",
}

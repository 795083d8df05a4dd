"""Continuing-care plans: the choices a plan is written from and the rules its content follows.

Pure Python: no Flask, no database. Every `check_*` returns the cleaned value (text stripped,
codes checked) or raises a DomainError naming the form field it belongs to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from .care import ASAM3
from .codes import Codes, codes_of
from .errors import DomainError
from .medications import FORMULARY
from .phases import Phase

# Aftercare steps down from residential care: the ambulatory ASAM levels only.
LEVELS_OF_CARE: Codes = tuple(
    (code, f"{code} — {ASAM3.codes[code]}") for code in ("0.5", "1", "2.1", "2.5", "OTP")
)
PROGRAMS: Codes = (
    ("outpatient", "Outpatient"),
    ("iop", "Intensive outpatient (IOP)"),
    ("group_therapy", "Group therapy"),
    ("individual_counseling", "Individual counseling"),
)
# Medications for opioid use disorder a plan can continue: the orderable MOUD and naltrexone.
MOUD: Codes = tuple(
    (d.code, d.name)
    for d in FORMULARY
    if d.orderable and d.category in ("moud", "relapse_prevention")
)
TRIGGER_CATEGORIES: Codes = (
    ("people", "People"),
    ("places", "Places"),
    ("situations", "Situations"),
    ("emotions", "Emotions"),
    ("times", "Times"),
)
RISK_LEVELS: dict[int, str] = {1: "low", 2: "moderate", 3: "high"}
SUPPORT_KINDS: Codes = (
    ("sponsor", "Sponsor"),
    ("family", "Family member"),
    ("friend", "Friend"),
    ("peer", "Peer in recovery"),
    ("twelve_step", "12-step group (NA/AA)"),
    ("smart_recovery", "SMART Recovery"),
    ("church", "Church or faith group"),
    ("sports_hobby", "Sports or hobby group"),
    ("community_service", "Community service"),
    ("other", "Other"),
)
LIFE_CHANGE_AREAS: Codes = (
    ("housing", "Housing"),
    ("employment", "Employment"),
    ("education", "Education"),
    ("legal", "Legal obligations"),
)
LIFE_CHANGE_STATUSES: Codes = (
    ("planned", "Planned"),
    ("in_progress", "In progress"),
    ("done", "Done"),
)

# A plan is written when rehab prepares the discharge to aftercare, and revised in aftercare.
START_PHASES = frozenset({Phase.REHAB, Phase.AFTERCARE})


def label(codes: Codes, code: str) -> str:
    """The words for a stored code; the code itself when it is unknown (never an error)."""
    return dict(codes).get(code, code)


def risk_label(risk: int) -> str:
    return RISK_LEVELS.get(risk, str(risk))


def start_refusal(phase: Phase) -> str | None:
    """Why a continuing-care plan cannot be started in this phase, or None when it can."""
    phase = Phase(phase)
    if phase in START_PHASES:
        return None
    if phase is Phase.DISCHARGED:
        return "The episode is closed; a continuing-care plan is written for an open one."
    return (
        f"The client is in {phase.label.lower()}. A continuing-care plan is written "
        "from rehab, when discharge to aftercare is being prepared, or during aftercare."
    )


def _text(value: str | None, field: str, limit: int, *, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise DomainError("Write something here.", field)
    if len(text) > limit:
        raise DomainError(f"Keep this under {limit} characters.", field)
    return text


def _code(value: str | None, codes: Codes, field: str, message: str) -> str:
    if value not in codes_of(codes):
        raise DomainError(message, field)
    return value  # type: ignore[return-value]  # checked against the codes just above


@dataclass(frozen=True)
class PlanFields:
    """The plan's own fields (the lists are items of their own)."""

    level_of_care: str
    program: str
    session_schedule: str
    moud: str = ""  # formulary code; "" when no medication is continued
    moud_dose: str = ""
    moud_prescriber: str = ""
    emergency_plan: str = ""
    reengagement_plan: str = ""


def check_fields(fields: PlanFields) -> PlanFields:
    """Level of care, program and schedule are required; a medication needs its dose and
    prescriber, and a dose or prescriber without a medication is refused rather than dropped
    (it is more likely a medication not chosen than one not meant)."""
    moud = fields.moud or ""
    if moud and moud not in codes_of(MOUD):
        raise DomainError("Choose a medication from the list, or none.", "moud")
    dose = _text(fields.moud_dose, "moud_dose", 60)
    prescriber = _text(fields.moud_prescriber, "moud_prescriber", 120)
    if moud and not dose:
        raise DomainError("Enter the dose, e.g. 16 mg daily.", "moud_dose")
    if moud and not prescriber:
        raise DomainError("Name the prescriber who continues the medication.", "moud_prescriber")
    if not moud and (dose or prescriber):
        raise DomainError("Choose the medication this dose and prescriber are for.", "moud")
    return PlanFields(
        level_of_care=_code(
            fields.level_of_care, LEVELS_OF_CARE, "level_of_care", "Choose a level of care."
        ),
        program=_code(fields.program, PROGRAMS, "program", "Choose a program."),
        session_schedule=_text(fields.session_schedule, "session_schedule", 500, required=True),
        moud=moud,
        moud_dose=dose,
        moud_prescriber=prescriber,
        emergency_plan=_text(fields.emergency_plan, "emergency_plan", 2000),
        reengagement_plan=_text(fields.reengagement_plan, "reengagement_plan", 2000),
    )


@dataclass(frozen=True)
class Trigger:
    category: str
    description: str
    risk: int
    coping: str = ""


def check_trigger(trigger: Trigger) -> Trigger:
    if isinstance(trigger.risk, bool) or trigger.risk not in RISK_LEVELS:
        raise DomainError("Risk must be 1 (low), 2 (moderate) or 3 (high).", "risk")
    return Trigger(
        category=_code(trigger.category, TRIGGER_CATEGORIES, "category", "Choose a category."),
        description=_text(trigger.description, "description", 500, required=True),
        risk=trigger.risk,
        coping=_text(trigger.coping, "coping", 1000),
    )


@dataclass(frozen=True)
class Support:
    kind: str
    name: str
    frequency: str = ""
    contact_consent: bool = False
    contact: str = ""


def check_support(support: Support) -> Support:
    """Contact details are kept only when the client consents to them being recorded
    (42 CFR Part 2): without consent they are dropped, whatever was typed."""
    consent = support.contact_consent is True
    return Support(
        kind=_code(support.kind, SUPPORT_KINDS, "kind", "Choose a kind of support."),
        name=_text(support.name, "name", 200, required=True),
        frequency=_text(support.frequency, "frequency", 100),
        contact_consent=consent,
        contact=_text(support.contact, "contact", 200) if consent else "",
    )


@dataclass(frozen=True)
class LifeChange:
    area: str
    description: str
    status: str = "in_progress"


def check_life_change(change: LifeChange) -> LifeChange:
    return replace(
        change,
        area=_code(change.area, LIFE_CHANGE_AREAS, "area", "Choose an area."),
        description=_text(change.description, "description", 500, required=True),
        status=_code(change.status, LIFE_CHANGE_STATUSES, "status", "Choose a status."),
    )


def missing_for_signature(
    fields: PlanFields, triggers: Sequence[Trigger], supports: Sequence[Support]
) -> list[str]:
    """What still stops the plan from being signed, in the words the page shows; empty when
    it can be signed."""
    missing = []
    if not (fields.level_of_care and fields.program and fields.session_schedule.strip()):
        missing.append("the level of care, program and session schedule")
    if not any(t.coping.strip() for t in triggers):
        missing.append("at least one trigger with its coping strategies")
    if not supports:
        missing.append("at least one sober support")
    if not fields.emergency_plan.strip():
        missing.append("the emergency plan (whom to call)")
    if not fields.reengagement_plan.strip():
        missing.append("the re-engagement plan (how to come back after a lapse)")
    return missing


def check_ready_to_sign(
    fields: PlanFields, triggers: Sequence[Trigger], supports: Sequence[Support]
) -> None:
    missing = missing_for_signature(fields, triggers, supports)
    if missing:
        raise DomainError("Before signing, add " + "; ".join(missing) + ".")

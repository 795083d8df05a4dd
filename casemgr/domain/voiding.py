"""Voiding a clinical record entered in error. Pure rules: no Flask, no database.

A clinical record (a withdrawal assessment, a drug screen, a dose on the MAR, an aftercare
check-in, a relapse event) is never deleted. One entered in error is *voided*: it stays in
the chart, struck through and labelled with who voided it, when and why, and in the audit
trail; it no longer counts in anything computed from the records (scores, due times, daily
maximum dose, sobriety date, outcome figures, progress reports).

Who may void (decided here, applied by casemgr.policy's object rule for RECORD_VOID):

* the staff member who recorded it: the nurse who scored the assessment or recorded the
  dose, the collector of the screen, the counselor who recorded the check-in or relapse;
* a clinic manager, for any record of a client they can see (chart corrections are part of
  keeping the record; the manager records nothing else clinical);
* a physician, for withdrawal assessments and doses: they oversee the detox unit and the MAR
  and are the ones who notice a score or a dose on the wrong client.

Nobody else: a colleague who thinks a record is wrong asks the person who recorded it (or
the manager), so every void has an accountable author who knew the record.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum

from . import text as text_rules
from .errors import DomainError
from .roles import Role

REASON_MIN = 10
REASON_MAX = 500

REASON_REQUIRED = "Say why this record is voided."
REASON_TOO_SHORT = (
    f"Give a reason of at least {REASON_MIN} characters, e.g. “entered on the wrong client”."
)
ALREADY_VOIDED = "This record was already voided; it stays in the chart as it is."
NOT_RECORDED = "Only a recorded check-in can be voided; this one has not been recorded yet."


class RecordKind(StrEnum):
    """The record types that can be voided; the value names the audit event (`<kind>.voided`)."""

    ASSESSMENT = "withdrawal_assessment"
    SCREEN = "drug_screen"
    DOSE = "medication_administration"
    CHECK_IN = "check_in"
    RELAPSE = "relapse_event"

    @property
    def label(self) -> str:
        return LABELS[self]

    @property
    def audit_action(self) -> str:
        return f"{self.value}.voided"


LABELS: dict[RecordKind, str] = {
    RecordKind.ASSESSMENT: "withdrawal assessment",
    RecordKind.SCREEN: "drug screen",
    RecordKind.DOSE: "dose record",
    RecordKind.CHECK_IN: "check-in",
    RecordKind.RELAPSE: "relapse event",
}

# Beyond the person who recorded it and a clinic manager: who else may void each kind.
MEDICAL_OVERSIGHT: frozenset[RecordKind] = frozenset({RecordKind.ASSESSMENT, RecordKind.DOSE})


def clean_reason(text: str | None) -> str:
    """The reason as stored: stripped, required, REASON_MIN..REASON_MAX characters, no
    control characters (tabs and line breaks allowed). Raises DomainError on "reason"."""
    return text_rules.clean_reason(
        text,
        minimum=REASON_MIN,
        maximum=REASON_MAX,
        required=REASON_REQUIRED,
        too_short=REASON_TOO_SHORT,
    )


def may_void(
    kind: RecordKind, *, user_id: int, roles: Iterable[Role], recorded_by_id: int | None
) -> bool:
    """Whether this person may void a record of `kind` recorded by `recorded_by_id`."""
    held = frozenset(roles)
    if Role.CLINIC_MANAGER in held:
        return True
    if kind in MEDICAL_OVERSIGHT and Role.PHYSICIAN in held:
        return True
    return recorded_by_id is not None and recorded_by_id == user_id


def check_void(
    kind: RecordKind, reason: str | None, *, already_voided: bool, recorded: bool = True
) -> str:
    """Every rule of one void, in the order a person would fix them; the cleaned reason.

    `recorded` is False for a check-in still waiting to be done: there is nothing to void."""
    if already_voided:
        raise DomainError(ALREADY_VOIDED)
    if not recorded:
        raise DomainError(NOT_RECORDED)
    return clean_reason(reason)

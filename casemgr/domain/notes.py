"""Progress notes: formats and their sections, the note's life, and its content hash."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any


class NoteFormat(StrEnum):
    SOAP = "soap"
    DAP = "dap"
    BIRP = "birp"
    GIRP = "girp"
    NURSING = "nursing"
    CASE_MANAGEMENT = "case_management"
    GROUP = "group"  # one attendee's line in a group session

    @property
    def label(self) -> str:
        return FORMAT_LABELS[self]


FORMAT_LABELS = {
    NoteFormat.SOAP: "SOAP",
    NoteFormat.DAP: "DAP",
    NoteFormat.BIRP: "BIRP",
    NoteFormat.GIRP: "GIRP",
    NoteFormat.NURSING: "Nursing note",
    NoteFormat.CASE_MANAGEMENT: "Case-management note",
    NoteFormat.GROUP: "Group participation",
}

# The structured prompts every individual note may answer besides its sections (cravings,
# use since last session...): one list for the form, the service, the signed content and the
# synthetic data, so a new prompt cannot be left out of the content hash.
PROMPTS = (
    "cravings",
    "use_since_last",
    "triggers",
    "screen_reviewed",
    "medication_adherence",
    "sober_supports",
    "meetings_attended",
    "safety_risk",
)

# Each format's sections, in order: (key, label, prompt).
SECTIONS: dict[NoteFormat, tuple[tuple[str, str, str], ...]] = {
    NoteFormat.SOAP: (
        ("subjective", "Subjective", "The client's report, in their words."),
        ("objective", "Objective", "Observed appearance, affect, behaviour; results."),
        ("assessment", "Assessment", "Clinical interpretation, progress, risk."),
        ("plan", "Plan", "Next steps, interventions, next session."),
    ),
    NoteFormat.DAP: (
        ("data", "Data", "What the client said and what you observed."),
        ("assessment", "Assessment", "Clinical interpretation, progress, risk."),
        ("plan", "Plan", "Next steps, interventions, next session."),
    ),
    NoteFormat.BIRP: (
        ("behavior", "Behavior", "Presentation and observed behaviour."),
        ("intervention", "Intervention", "Technique or approach used."),
        ("response", "Response", "How the client responded."),
        ("plan", "Plan", "Next steps."),
    ),
    NoteFormat.GIRP: (
        ("goal", "Goal", "Treatment-plan goal or objective addressed."),
        ("intervention", "Intervention", "Technique or approach used."),
        ("response", "Response", "Progress toward the goal."),
        ("plan", "Plan", "Next steps."),
    ),
    NoteFormat.NURSING: (("note", "Nursing note", "Observations, care given, response."),),
    NoteFormat.CASE_MANAGEMENT: (
        ("note", "Case-management note", "Contacts, referrals, resources, follow-up."),
    ),
    NoteFormat.GROUP: (
        ("participation", "Participation", "This client's participation and response."),
        ("progress", "Progress", "Progress toward this client's own plan goals; next steps."),
    ),
}

# The section that carries the clinical assessment/response, for reports' narrative.
ASSESSMENT_SECTION = {
    NoteFormat.SOAP: "assessment",
    NoteFormat.DAP: "assessment",
    NoteFormat.BIRP: "response",
    NoteFormat.GIRP: "response",
    NoteFormat.NURSING: "note",
    NoteFormat.CASE_MANAGEMENT: "note",
    NoteFormat.GROUP: "progress",
}

SECTION_MAX = 10000


class NoteStatus(StrEnum):
    DRAFT = "draft"
    SIGNED = "signed"
    COSIGNED = "cosigned"


class NoteAction(StrEnum):
    EDIT = "edit"
    SIGN = "sign"
    COSIGN = "cosign"
    RETURN = "return"
    ADDENDUM = "addendum"


class NoteRuleError(ValueError):
    pass


@dataclass(frozen=True)
class NoteState:
    status: NoteStatus
    needs_cosign: bool  # frozen at signing from the author's supervision flag


def allowed(state: NoteState, action: NoteAction) -> bool:
    """The note's life as a table: draft → signed → (co-signed); returned notes go back to draft."""
    s = state.status
    if action in (NoteAction.EDIT, NoteAction.SIGN):
        return s is NoteStatus.DRAFT
    if action in (NoteAction.COSIGN, NoteAction.RETURN):
        return s is NoteStatus.SIGNED and state.needs_cosign
    if action is NoteAction.ADDENDUM:
        return s in (NoteStatus.SIGNED, NoteStatus.COSIGNED)
    return False


def check(state: NoteState, action: NoteAction) -> None:
    if not allowed(state, action):
        raise NoteRuleError(
            _REFUSALS.get((state.status, action), f"A {state.status} note cannot be {action}ed.")
        )


_REFUSALS = {
    (
        NoteStatus.SIGNED,
        NoteAction.EDIT,
    ): "This note is signed and locked. Add an addendum to correct it.",
    (
        NoteStatus.COSIGNED,
        NoteAction.EDIT,
    ): "This note is signed and locked. Add an addendum to correct it.",
    (NoteStatus.SIGNED, NoteAction.SIGN): "This note is already signed.",
    (NoteStatus.COSIGNED, NoteAction.SIGN): "This note is already signed.",
    (
        NoteStatus.DRAFT,
        NoteAction.ADDENDUM,
    ): "Addenda are for signed notes; edit the draft instead.",
    (NoteStatus.DRAFT, NoteAction.COSIGN): "The note must be signed by its author first.",
    (NoteStatus.COSIGNED, NoteAction.COSIGN): "This note is already co-signed.",
}


def next_status(state: NoteState, action: NoteAction) -> NoteStatus:
    check(state, action)
    return {
        NoteAction.EDIT: NoteStatus.DRAFT,
        NoteAction.SIGN: NoteStatus.SIGNED,
        NoteAction.COSIGN: NoteStatus.COSIGNED,
        NoteAction.RETURN: NoteStatus.DRAFT,
        NoteAction.ADDENDUM: state.status,
    }[action]


def awaiting_cosign(state: NoteState) -> bool:
    return state.status is NoteStatus.SIGNED and state.needs_cosign


LATE_AFTER = timedelta(hours=24)


def is_late(session_end: datetime, entered_at: datetime) -> bool:
    """A note entered more than 24 hours after the session ended is a late entry."""
    return entered_at - session_end > LATE_AFTER


def check_sections(fmt: NoteFormat, sections: Mapping[str, str]) -> dict[str, str]:
    """Keep exactly the format's sections; at least one must say something."""
    keys = [key for key, _, _ in SECTIONS[fmt]]
    unknown = set(sections) - set(keys)
    if unknown:
        raise NoteRuleError(f"Unknown section for {fmt.label}: {', '.join(sorted(unknown))}")
    clean = {key: (sections.get(key) or "").strip() for key in keys}
    if not any(clean.values()):
        raise NoteRuleError("Write at least one section.")
    for key, text in clean.items():
        if len(text) > SECTION_MAX:
            raise NoteRuleError(f"The {key} section is longer than {SECTION_MAX} characters.")
    return clean


def canonical(content: Mapping[str, Any]) -> bytes:
    def default(value: Any) -> Any:
        if isinstance(value, datetime):
            return value.isoformat(timespec="seconds")
        return str(value)

    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=default
    ).encode()


def content_hash(content: Mapping[str, Any]) -> str:
    """SHA-256 over the signed content in canonical form: a later change shows as a mismatch."""
    return hashlib.sha256(canonical(content)).hexdigest()

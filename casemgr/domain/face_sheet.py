"""The client's face sheet as plain data: what intake, edits and imports hand to the service."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date


@dataclass(frozen=True)
class SubstanceUse:
    substance: str
    route: str
    frequency: str
    age_first_use: int | None


@dataclass(frozen=True)
class Funding:
    kind: str
    payer: str = ""
    member_id: str = ""


@dataclass(frozen=True)
class FaceSheet:
    """Everything the intake form collects about the person (not the episode)."""

    legal_first_name: str
    legal_last_name: str
    date_of_birth: date
    sex: str
    first_contact_on: date
    referral_source: str
    preferred_name: str = ""
    pronouns: str = ""
    gender_identity: str = ""
    phone: str = ""
    address: str = ""
    primary_language: str = "English"
    emergency_contact_name: str = ""
    emergency_contact_relationship: str = ""
    emergency_contact_phone: str = ""
    guardian_name: str = ""
    guardian_relationship: str = ""
    guardian_phone: str = ""
    prior_treatment_episodes: int = 0
    overdoses_lifetime: int = 0
    last_overdose_on: date | None = None
    co_occurring: str = ""
    pregnant: str = "unknown"
    risk_flags: tuple[str, ...] = ()
    funding: tuple[Funding, ...] = ()
    substances: tuple[SubstanceUse, ...] = field(default=())


# Face-sheet fields stored as they are, one column each.
SCALAR_FIELDS = (
    "legal_first_name",
    "legal_last_name",
    "preferred_name",
    "pronouns",
    "date_of_birth",
    "sex",
    "gender_identity",
    "phone",
    "address",
    "primary_language",
    "emergency_contact_name",
    "emergency_contact_relationship",
    "emergency_contact_phone",
    "guardian_name",
    "guardian_relationship",
    "guardian_phone",
    "first_contact_on",
    "referral_source",
    "prior_treatment_episodes",
    "overdoses_lifetime",
    "last_overdose_on",
    "co_occurring",
    "pregnant",
)

# The free-text ones (trimmed; empty means not recorded).
TEXT_FIELDS = tuple(
    name
    for name in SCALAR_FIELDS
    if name
    not in (
        "date_of_birth",
        "sex",
        "first_contact_on",
        "referral_source",
        "prior_treatment_episodes",
        "overdoses_lifetime",
        "last_overdose_on",
        "pregnant",
    )
)

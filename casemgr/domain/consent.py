"""42 CFR Part 2 consents (§2.31): what a consent must say, and whether it covers a disclosure.

Pure Python: no Flask, no database. `check_terms` and `check_signing` return the cleaned
elements or raise InvalidConsent naming every field that is wrong; `covers` says why a consent
does not cover a disclosure (None when it does) and `find_covering` picks the consent to use.

Decisions the rule leaves to the program:
- "No expiry" is allowed only for a single TPO consent (the rule names "none" for TPO); any
  other consent expires on a date after the day it is signed, or on an event.
- The event "End of treatment" is checked: the consent lapses once the client has no open
  episode. Other events cannot be known by the app; staff see the event on the consent.
- SUD counseling notes and use in legal proceedings against the client each need a consent of
  their own kind, which covers nothing else.
- Recipients and purposes are compared as words (case, accents of punctuation and spacing
  aside): a consent naming a person covers that person (with or without the organisation),
  one naming only an organisation covers the organisation. A TPO consent covers the TPO class
  for treatment, payment or health care operations, never use in legal proceedings.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date

from .codes import Codes
from .errors import DomainError

GENERAL, COUNSELING_NOTES, LEGAL_PROCEEDINGS = "general", "counseling_notes", "legal_proceedings"
KINDS: Codes = (
    (GENERAL, "General consent"),
    (COUNSELING_NOTES, "SUD counseling notes (a separate consent)"),
    (LEGAL_PROCEEDINGS, "Use in legal proceedings against the client (a separate consent)"),
)
INFORMATION: Codes = (
    ("attendance", "Attendance"),
    ("drug_screens", "Drug screen results"),
    ("treatment_plan_progress", "Treatment plan and progress"),
    ("diagnosis", "Diagnosis"),
    ("medications", "Medications"),
    ("discharge_summary", "Discharge summary"),
    (COUNSELING_NOTES, "SUD counseling notes"),
    ("other", "Other (described below)"),
)
NAMED, TPO = "named", "tpo"
RECIPIENT_KINDS: Codes = (
    (NAMED, "A named person or organisation"),
    (TPO, "Treating providers, health plans, payers and program operations (TPO)"),
)
BY_DATE, BY_EVENT, NO_EXPIRY = "date", "event", "none"
EXPIRY_KINDS: Codes = (
    (BY_DATE, "On a date"),
    (BY_EVENT, "On an event"),
    (NO_EXPIRY, "No expiry (TPO consents only)"),
)
CLIENT, REPRESENTATIVE = "client", "representative"
SIGNERS: Codes = (
    (CLIENT, "The client"),
    (REPRESENTATIVE, "An authorised representative (e.g. a guardian for a minor)"),
)
PAPER, APP = "paper", "app"
SIGNATURE_METHODS: Codes = (
    (PAPER, "On paper: attach the scan of the signed form"),
    (APP, "In the app: the signer types their name"),
)

# §2.31(a)(4): the recipient class a single TPO consent may name.
TPO_RECIPIENT = (
    "My treating providers, health plans, third-party payers, and people helping to operate "
    "this program"
)
TPO_PURPOSE = "Treatment, payment, and health care operations"
END_OF_TREATMENT = "End of treatment"
DEFAULT_REVOCATION_STATEMENT = (
    "I understand that I may revoke this consent at any time, except to the extent that action "
    "has been taken in reliance on it. To revoke it, I give or send a signed, written "
    "revocation to the program's privacy officer. Revoking it does not undo disclosures made "
    "before the program received my revocation."
)
# What a client progress report contains, whatever its period: a consent must cover all of it.
PROGRESS_REPORT = frozenset(
    {"attendance", "drug_screens", "treatment_plan_progress", "diagnosis", "medications"}
)
# What a line of a facility list released outside contains. The census names the client and
# their enrolment (phase, level of care, counselor, days in phase): attendance. The caseload
# adds plan reviews, overdue session notes and aftercare check-ins: the plan and progress too.
CENSUS_LIST = frozenset({"attendance"})
CASELOAD_LIST = frozenset({"attendance", "treatment_plan_progress"})

ACTIVE, EXPIRED, REVOKED = "active", "expired", "revoked"

_LABELS = dict(INFORMATION)


def information_label(code: str) -> str:
    return _LABELS.get(code, code)


def information_labels(codes: Iterable[str]) -> str:
    ordered = join_information(codes)
    return ", ".join(information_label(c) for c in ordered.split(",")) if ordered else ""


def parse_information(value: str) -> frozenset[str]:
    """The categories of a stored comma-separated list."""
    return frozenset(part.strip() for part in value.split(",") if part.strip())


def join_information(codes: Iterable[str]) -> str:
    """Stored in the order of the list (a code not in it, from older data, last)."""
    order = [c for c, _ in INFORMATION]
    return ",".join(
        sorted(set(codes), key=lambda c: (c not in order, order.index(c) if c in order else 0, c))
    )


# ---------------------------------------------------------------------------------------------
# The elements of a consent and their rules


@dataclass(frozen=True)
class Terms:
    """Every element of §2.31(a) except the signature and its date."""

    kind: str
    discloser: str
    information: frozenset[str]
    information_detail: str
    recipient_kind: str
    recipient_name: str
    recipient_organisation: str
    purpose: str
    expiry_kind: str
    expires_on: date | None
    expiry_event: str
    revocation_statement: str
    signed_by: str
    representative_name: str = ""
    representative_authority: str = ""

    @property
    def recipient(self) -> str:
        return recipient_text(self.recipient_kind, self.recipient_name, self.recipient_organisation)


@dataclass(frozen=True)
class Signing:
    method: str
    signed_on: date | None
    scanned: bool  # the scan of the signed paper is attached
    typed_name: str = ""  # signed in the app: the name the signer typed


class InvalidConsent(DomainError):
    """Every problem with a consent at once, by form field; the first is the message."""

    def __init__(self, problems: dict[str, str]):
        field, message = next(iter(problems.items()))
        super().__init__(message, field)
        self.problems = problems


def recipient_text(kind: str, name: str, organisation: str) -> str:
    if kind == TPO:
        return TPO_RECIPIENT
    return ", ".join(part for part in (name.strip(), organisation.strip()) if part)


def check_terms(terms: Terms, *, signed_on: date | None) -> Terms:
    """The elements cleaned (text stripped, what the choices make irrelevant emptied), or
    InvalidConsent. `signed_on` None: not signed yet (printing a form for signature)."""
    t = _cleaned(terms)
    problems: dict[str, str] = {}
    _check_choices(t, problems)
    _check_information(t, problems)
    _check_recipient(t, problems)
    _check_expiry(t, signed_on, problems)
    _check_signer(t, problems)
    if not t.discloser:
        problems["discloser"] = "Name the program or person who may disclose the records."
    if not t.purpose:
        problems["purpose"] = "Say what the information is disclosed for."
    if "revoke" not in t.revocation_statement.casefold():
        problems["revocation_statement"] = (
            "The consent must state the right to revoke it, how, and the reliance exception."
        )
    if problems:
        raise InvalidConsent(problems)
    return t


def _cleaned(t: Terms) -> Terms:
    strip = {
        name: getattr(t, name).strip()
        for name in (
            "discloser",
            "information_detail",
            "recipient_name",
            "recipient_organisation",
            "purpose",
            "expiry_event",
            "revocation_statement",
            "representative_name",
            "representative_authority",
        )
    }
    t = replace(t, **strip)
    if t.recipient_kind == TPO:
        t = replace(t, recipient_name="", recipient_organisation="")
    if t.expiry_kind != BY_DATE:
        t = replace(t, expires_on=None)
    if t.expiry_kind != BY_EVENT:
        t = replace(t, expiry_event="")
    if t.signed_by != REPRESENTATIVE:
        t = replace(t, representative_name="", representative_authority="")
    return t


def _check_choices(t: Terms, problems: dict[str, str]) -> None:
    for field, value, codes in (
        ("kind", t.kind, KINDS),
        ("recipient_kind", t.recipient_kind, RECIPIENT_KINDS),
        ("expiry_kind", t.expiry_kind, EXPIRY_KINDS),
        ("signed_by", t.signed_by, SIGNERS),
    ):
        if value not in dict(codes):
            problems[field] = "Choose one of the options."


def _check_information(t: Terms, problems: dict[str, str]) -> None:
    info = t.information
    if not info:
        problems["information"] = "Choose the information this consent covers."
    elif info - set(_LABELS):
        problems["information"] = "Choose categories from the list."
    elif t.kind == COUNSELING_NOTES and info != {COUNSELING_NOTES}:
        problems["information"] = (
            "A counseling-notes consent covers SUD counseling notes only: record the other "
            "information on a separate consent."
        )
    elif COUNSELING_NOTES in info and t.kind != COUNSELING_NOTES:
        problems["information"] = (
            "SUD counseling notes need a consent of their own: choose the kind "
            "“SUD counseling notes” and record the other information on a separate consent."
        )
    if "other" in info and not t.information_detail:
        problems["information_detail"] = "Describe the other information, specifically."


def _check_recipient(t: Terms, problems: dict[str, str]) -> None:
    if t.recipient_kind == NAMED and not (t.recipient_name or t.recipient_organisation):
        problems["recipient_name"] = "Name the person or organisation who may receive it."
    if t.recipient_kind == TPO and t.kind == LEGAL_PROCEEDINGS:
        problems["recipient_kind"] = (
            "A consent for legal proceedings names its recipient; it cannot be a TPO consent."
        )


def _check_expiry(t: Terms, signed_on: date | None, problems: dict[str, str]) -> None:
    if t.expiry_kind == BY_DATE:
        if t.expires_on is None:
            problems["expires_on"] = "Give the date the consent expires."
        elif signed_on is not None and t.expires_on <= signed_on:
            problems["expires_on"] = "The expiry date must be after the day the consent is signed."
    elif t.expiry_kind == BY_EVENT and not t.expiry_event:
        problems["expiry_event"] = "Describe the event, e.g. End of treatment."
    elif t.expiry_kind == NO_EXPIRY and t.recipient_kind != TPO:
        problems["expiry_kind"] = "Only a TPO consent may have no expiry: give a date or an event."


def _check_signer(t: Terms, problems: dict[str, str]) -> None:
    if t.signed_by != REPRESENTATIVE:
        return
    if not t.representative_name:
        problems["representative_name"] = "Name the representative who signs."
    if not t.representative_authority:
        problems["representative_authority"] = (
            "Say what authorises them to sign, e.g. Parent and legal guardian of a minor."
        )


def check_signing(signing: Signing, *, today: date, signer_names: Iterable[str]) -> Signing:
    """How and when it was signed. `signer_names`: the names the signer may type."""
    problems: dict[str, str] = {}
    if signing.signed_on is None:
        problems["signed_on"] = "Give the date the consent was signed."
    elif signing.signed_on > today:
        problems["signed_on"] = "The consent cannot be signed after today."
    if signing.method == PAPER and not signing.scanned:
        problems["scan"] = "Attach the scan of the signed consent (PDF, PNG or JPEG)."
    elif signing.method == APP:
        typed = _words(signing.typed_name)
        if not typed:
            problems["typed_signature"] = "The signer types their full name to sign."
        elif all(sorted(typed.split()) != sorted(_words(n).split()) for n in signer_names):
            problems["typed_signature"] = "The typed name does not match the signer's name."
    elif signing.method not in (PAPER, APP):
        problems["signature_method"] = "Choose how the consent was signed."
    if problems:
        raise InvalidConsent(problems)
    return replace(signing, typed_name=signing.typed_name.strip())


# ---------------------------------------------------------------------------------------------
# Does a consent cover a disclosure?


@dataclass(frozen=True)
class ConsentFacts:
    """A recorded consent, as the coverage rules read it."""

    id: int | None
    kind: str
    information: frozenset[str]
    recipient_kind: str
    recipient_name: str
    recipient_organisation: str
    purpose: str
    expiry_kind: str
    expires_on: date | None
    expiry_event: str
    signed_on: date
    revoked_on: date | None = None

    @property
    def recipient(self) -> str:
        return recipient_text(self.recipient_kind, self.recipient_name, self.recipient_organisation)


class Refusal(str):
    """Why a consent does not cover a disclosure: the message, a code and the form field it
    belongs to (None: about the consent itself)."""

    code: str
    field: str | None

    def __new__(cls, code: str, message: str, field: str | None = None) -> Refusal:
        refusal = super().__new__(cls, message)
        refusal.code, refusal.field = code, field
        return refusal


# The order the checks run in; a consent failing a later check is closer to covering.
CHECKS = ("recipient", "purpose", "kind", "information", "revoked", "expired")
NO_CONSENT = (
    "There is no consent on file for this client: record the client's written consent before "
    "anything is disclosed."
)
_TPO_PURPOSES = {"treatment", "payment", "health care operations"}


def _words(value: str) -> str:
    """Text compared as words: case, punctuation, Unicode forms and spacing aside."""
    text = unicodedata.normalize("NFKC", value).casefold()
    return " ".join(re.sub(r"[\W_]+", " ", text).split())


def _names_recipient(consent: ConsentFacts, recipient: str) -> bool:
    if consent.recipient_kind == TPO:
        return bool(_words(recipient))
    name, org, asked = (
        _words(consent.recipient_name),
        _words(consent.recipient_organisation),
        _words(recipient),
    )
    if not asked:
        return False
    if name:  # a named person: that person, with or without their organisation
        return asked in {name, f"{name} {org}".strip(), f"{org} {name}".strip()}
    return asked == org


def _serves_purpose(consent: ConsentFacts, purpose: str) -> bool:
    asked = _words(purpose)
    if not asked:
        return False
    if asked == _words(consent.purpose):
        return True
    return (
        consent.recipient_kind == TPO
        and _words(consent.purpose) == _words(TPO_PURPOSE)
        and asked in _TPO_PURPOSES
    )


def expired_on(consent: ConsentFacts, treatment_ended_on: date | None = None) -> date | None:
    """The last day the consent was in force, if it has an end that is known."""
    if consent.expiry_kind == BY_DATE:
        return consent.expires_on
    if consent.expiry_kind == BY_EVENT and _words(consent.expiry_event) == _words(END_OF_TREATMENT):
        return treatment_ended_on
    return None


def status(consent: ConsentFacts, on: date, treatment_ended_on: date | None = None) -> str:
    if consent.revoked_on is not None and consent.revoked_on <= on:
        return REVOKED
    last = expired_on(consent, treatment_ended_on)
    return EXPIRED if last is not None and on > last else ACTIVE


def covers(
    consent: ConsentFacts | None,
    recipient: str,
    purpose: str,
    information: set[str] | frozenset[str],
    on: date,
    *,
    legal_proceeding: bool = False,
    treatment_ended_on: date | None = None,
) -> Refusal | None:
    """None when `consent` covers disclosing `information` to `recipient` for `purpose` on the
    day `on`; otherwise why not."""
    if consent is None:
        return Refusal("none", NO_CONSENT)
    signed = f"The consent signed {consent.signed_on.isoformat()}"
    if not _names_recipient(consent, recipient):
        return Refusal(
            "recipient", f"{signed} names {consent.recipient}, not “{recipient}”.", "recipient"
        )
    if not _serves_purpose(consent, purpose):
        return Refusal(
            "purpose", f"{signed} is for “{consent.purpose}”, not “{purpose}”.", "purpose"
        )
    wrong_kind = _wrong_kind(consent, information, legal_proceeding)
    if wrong_kind:
        return Refusal("kind", f"{signed} {wrong_kind[0]}", wrong_kind[1])
    missing = set(information) - consent.information
    if missing:
        return Refusal(
            "information",
            f"{signed} does not cover: {information_labels(missing)}.",
            "information",
        )
    if consent.revoked_on is not None and consent.revoked_on <= on:
        return Refusal("revoked", f"{signed} was revoked on {consent.revoked_on.isoformat()}.")
    last = expired_on(consent, treatment_ended_on)
    if last is not None and on > last:
        why = "at the end of treatment, " if consent.expiry_kind == BY_EVENT else ""
        return Refusal("expired", f"{signed} expired {why}on {last.isoformat()}.")
    return None


def _wrong_kind(
    consent: ConsentFacts, information: set[str] | frozenset[str], legal_proceeding: bool
) -> tuple[str, str] | None:
    if legal_proceeding and consent.kind != LEGAL_PROCEEDINGS:
        return (
            "is not a consent for legal proceedings: use in a proceeding against the client "
            "needs a separate legal-proceedings consent.",
            "legal_proceeding",
        )
    if not legal_proceeding and consent.kind == LEGAL_PROCEEDINGS:
        return ("covers use in legal proceedings only.", "legal_proceeding")
    if COUNSELING_NOTES in information and consent.kind != COUNSELING_NOTES:
        return (
            "is not a counseling-notes consent: SUD counseling notes need a consent of their own.",
            "information",
        )
    if consent.kind == COUNSELING_NOTES and set(information) - {COUNSELING_NOTES}:
        return ("covers SUD counseling notes only.", "information")
    return None


def find_covering(
    consents: Iterable[ConsentFacts],
    recipient: str,
    purpose: str,
    information: set[str] | frozenset[str],
    on: date,
    *,
    legal_proceeding: bool = False,
    treatment_ended_on: date | None = None,
) -> tuple[ConsentFacts | None, Refusal | None]:
    """The consent to disclose under (the latest signed of those that cover), or None and the
    reason given by the consent that came closest."""
    best: tuple[int, date, Refusal] | None = None
    covering: list[ConsentFacts] = []
    for consent in consents:
        refusal = covers(
            consent,
            recipient,
            purpose,
            information,
            on,
            legal_proceeding=legal_proceeding,
            treatment_ended_on=treatment_ended_on,
        )
        if refusal is None:
            covering.append(consent)
            continue
        rank = (CHECKS.index(refusal.code), consent.signed_on)
        if best is None or rank > best[:2]:
            best = (*rank, refusal)
    if covering:
        return max(covering, key=lambda c: (c.signed_on, c.id or 0)), None
    return None, best[2] if best else Refusal("none", NO_CONSENT)

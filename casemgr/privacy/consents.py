"""Consents (42 CFR Part 2 §2.31), disclosures made under them and their accounting (§2.25).

Services flush and audit; the view commits once. The rules live in `domain.consent`.

One path takes a client's record out of the building: `disclose` finds a consent that covers
the recipient, purpose and information, or refuses with the reason and writes nothing else;
then it prints the progress report (the §2.32 notice on every page, the recipient and purpose
in its header), records the print, and writes the accounting entry with the file's SHA-256.
`decide` is the one function that says whether a consent covers a release: the progress
report here, a batch of them (printing.batch) and a facility list released outside
(printing.facility_release) all ask it, for each client. A disclosed file carries a summary of
the consent it was released under (§2.32: the notice and a copy or explanation of the consent).

A paper consent's signed scan is kept under the instance folder, `consents/<random>.bin`, owner
access only, named by the server (never by the uploader) and checked against its SHA-256 when
read back. PDF, PNG and JPEG only, recognised by their first bytes, at most 5 MB.
"""

from __future__ import annotations

import hashlib
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session, selectinload

from ..audit.hooks import record as audit
from ..auth.models import User
from ..clients.models import Client
from ..domain import consent as rules
from ..domain.errors import DomainError
from ..printing import client_report, record
from ..printing.models import PrintedReport
from . import consent_pdf
from .models import Consent, Disclosure

MAX_SCAN_BYTES = 5 * 1024 * 1024
# First bytes of each accepted file type -> (MIME type, file extension).
SCAN_TYPES: dict[bytes, tuple[str, str]] = {
    b"%PDF-": ("application/pdf", "pdf"),
    b"\x89PNG\r\n\x1a\n": ("image/png", "png"),
    b"\xff\xd8\xff": ("image/jpeg", "jpg"),
}
SCAN_FOLDER = "consents"
_SCAN_NAME = re.compile(r"^[0-9a-f]{32}\.bin$")
ACCOUNTING_YEARS = 3


# ---------------------------------------------------------------------------------------------
# Reading


def get(session: Session, consent_id: int) -> Consent | None:
    return session.get(Consent, consent_id)


def consents_of(session: Session, client_id: int) -> list[Consent]:
    """The client's consents, newest signature first."""
    return list(
        session.scalars(
            sa.select(Consent)
            .where(Consent.client_id == client_id)
            .order_by(Consent.signed_on.desc(), Consent.id.desc())
        )
    )


def facts(consent: Consent) -> rules.ConsentFacts:
    return rules.ConsentFacts(
        id=consent.id,
        kind=consent.kind,
        information=rules.parse_information(consent.information),
        recipient_kind=consent.recipient_kind,
        recipient_name=consent.recipient_name,
        recipient_organisation=consent.recipient_organisation,
        purpose=consent.purpose,
        expiry_kind=consent.expiry_kind,
        expires_on=consent.expires_on,
        expiry_event=consent.expiry_event,
        signed_on=consent.signed_on,
        revoked_on=consent.revoked_on,
    )


def treatment_ended_on(client: Client) -> date | None:
    """The day treatment ended (the last discharge), or None while an episode is open."""
    if not client.episodes or any(e.is_open for e in client.episodes):
        return None
    return max((e.discharged_on for e in client.episodes if e.discharged_on), default=None)


def status(consent: Consent, client: Client, today: date) -> str:
    return rules.status(facts(consent), today, treatment_ended_on(client))


def disclosures_under(session: Session, consent_id: int) -> list[Disclosure]:
    return list(
        session.scalars(
            sa.select(Disclosure)
            .where(Disclosure.consent_id == consent_id)
            .order_by(Disclosure.released_at.desc(), Disclosure.id.desc())
        )
    )


def accounting_since(now: datetime) -> datetime:
    """The start of the accounting period: the same moment three years earlier."""
    try:
        return now.replace(year=now.year - ACCOUNTING_YEARS)
    except ValueError:  # 29 February
        return now.replace(year=now.year - ACCOUNTING_YEARS, day=28)


def accounting(session: Session, client_id: int, now: datetime) -> list[Disclosure]:
    """Every disclosure of the client's records (with consent and in emergencies) in the
    three years up to `now`, newest first."""
    return consent_pdf.disclosures_between(session, client_id, accounting_since(now), now)


# ---------------------------------------------------------------------------------------------
# Recording and revoking


def record_consent(
    session: Session,
    client: Client,
    terms: rules.Terms,
    signing: rules.Signing,
    *,
    scan: bytes | None,
    by: User,
    today: date,
    instance_path: str,
) -> Consent:
    """Check every element and the signature, keep the scan of a paper signature, and add
    the consent. InvalidConsent names every field that is wrong."""
    problems: dict[str, str] = {}
    signing = replace(signing, scanned=scan is not None)
    terms = _collect(problems, lambda: rules.check_terms(terms, signed_on=signing.signed_on))
    signer = (
        [terms.representative_name]
        if terms and terms.signed_by == rules.REPRESENTATIVE
        else [f"{client.legal_first_name} {client.legal_last_name}"]
    )
    signing = _collect(
        problems,
        lambda: rules.check_signing(signing, today=today, signer_names=signer),
    )
    paper = signing is not None and signing.method == rules.PAPER
    if paper and scan is not None and "scan" not in problems:
        _collect(problems, lambda: check_scan(scan))
    if problems or terms is None or signing is None:
        raise rules.InvalidConsent(problems)
    consent = Consent(
        client_id=client.id,
        kind=terms.kind,
        discloser=terms.discloser,
        information=rules.join_information(terms.information),
        information_detail=terms.information_detail,
        recipient_kind=terms.recipient_kind,
        recipient_name=terms.recipient_name,
        recipient_organisation=terms.recipient_organisation,
        purpose=terms.purpose,
        expiry_kind=terms.expiry_kind,
        expires_on=terms.expires_on,
        expiry_event=terms.expiry_event,
        revocation_statement=terms.revocation_statement,
        signed_by=terms.signed_by,
        representative_name=terms.representative_name,
        representative_authority=terms.representative_authority,
        signature_method=signing.method,
        signed_on=signing.signed_on,
        recorded_by_id=by.id,
    )
    if paper and scan is not None:
        consent.scan_file, consent.scan_sha256 = store_scan(instance_path, scan)
    session.add(consent)
    session.flush()
    return consent


def _collect(problems: dict[str, str], check: Any) -> Any:
    try:
        return check()
    except rules.InvalidConsent as exc:
        problems.update(exc.problems)
    except DomainError as exc:
        problems[exc.field or "scan"] = str(exc)
    return None


def revoke(
    session: Session, consent: Consent, *, on: date | None, note: str, by: User, today: date
) -> Consent:
    """Record the client's written revocation. What was disclosed before it stays recorded."""
    if consent.revoked_on is not None:
        raise DomainError(f"This consent was already revoked on {consent.revoked_on.isoformat()}.")
    if on is None:
        raise DomainError("Give the date the written revocation was received.", "revoked_on")
    if on > today:
        raise DomainError("The revocation cannot be dated after today.", "revoked_on")
    if on < consent.signed_on:
        raise DomainError(
            f"The consent was signed on {consent.signed_on.isoformat()}; the revocation cannot "
            "be earlier.",
            "revoked_on",
        )
    if not note.strip():
        raise DomainError("Say how the revocation was received, e.g. Letter dated …", "note")
    consent.revoked_on, consent.revocation_note, consent.revoked_by_id = on, note.strip(), by.id
    session.flush()
    return consent


# ---------------------------------------------------------------------------------------------
# The signed scan


def scan_type(data: bytes) -> tuple[str, str] | None:
    return next((kind for magic, kind in SCAN_TYPES.items() if data.startswith(magic)), None)


def check_scan(data: bytes) -> None:
    if not data:
        raise DomainError("The file is empty.", "scan")
    if len(data) > MAX_SCAN_BYTES:
        raise DomainError("The file is larger than 5 MB: scan at a lower resolution.", "scan")
    if scan_type(data) is None:
        raise DomainError("Attach a PDF, PNG or JPEG file.", "scan")


def store_scan(instance_path: str, data: bytes) -> tuple[str, str]:
    """Write the scan under a random name, owner-only; its name and SHA-256."""
    folder = Path(instance_path) / SCAN_FOLDER
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    name = f"{secrets.token_hex(16)}.bin"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
    fd = os.open(folder / name, flags, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return name, hashlib.sha256(data).hexdigest()


class ScanUnavailable(Exception):
    """The stored scan is missing or no longer matches the SHA-256 recorded with it."""


def read_scan(instance_path: str, consent: Consent) -> tuple[bytes, str, str]:
    """The scan's bytes, MIME type and extension, checked against the recorded SHA-256."""
    if not _SCAN_NAME.match(consent.scan_file or ""):
        raise ScanUnavailable("no scan recorded")
    try:
        data = (Path(instance_path) / SCAN_FOLDER / consent.scan_file).read_bytes()
    except OSError as exc:
        raise ScanUnavailable("scan file missing") from exc
    kind = scan_type(data)
    if hashlib.sha256(data).hexdigest() != consent.scan_sha256 or kind is None:
        raise ScanUnavailable("scan file altered")
    return data, *kind


# ---------------------------------------------------------------------------------------------
# Disclosing


class Refused(DomainError):
    """No consent covers the disclosure; `code` says which check failed."""

    def __init__(self, refusal: rules.Refusal):
        super().__init__(str(refusal), refusal.field)
        self.code = refusal.code


def audit_refusal(session: Session, client: Client, code: str, what: str = "") -> None:
    """The refused attempt, for the privacy officer (the reason's code, never the text)."""
    detail = {"reason": code} | ({"what": what} if what else {})
    audit(session, "disclosure.refused", target=client, detail=detail)


def decide(
    client: Client,
    candidates: Iterable[Consent],
    *,
    recipient: str,
    purpose: str,
    information: set[str] | frozenset[str],
    today: date,
    legal_proceeding: bool = False,
) -> Consent:
    """The consent of `candidates` (the client's) under which `information` may go to
    `recipient` for `purpose` today: active, unexpired, unrevoked and covering all of it.
    Refused, with the reason of the consent that came closest, when none does."""
    by_id = {c.id: c for c in candidates}
    found, refusal = rules.find_covering(
        [facts(c) for c in by_id.values()],
        recipient.strip(),
        purpose.strip(),
        information,
        today,
        legal_proceeding=legal_proceeding,
        treatment_ended_on=treatment_ended_on(client),
    )
    if found is None or found.id is None:
        raise Refused(refusal or rules.Refusal("none", rules.NO_CONSENT))
    return by_id[found.id]


def covering_each(
    session: Session,
    clients: Iterable[Client],
    *,
    recipient: str,
    purpose: str,
    information: set[str] | frozenset[str],
    today: date,
) -> dict[int, Consent | Refused]:
    """`decide` for every client of a list: their consents and episodes in two queries,
    whatever the length of the list. Client id -> the consent, or why there is none."""
    clients = list(clients)
    ids = [c.id for c in clients]
    if not ids:
        return {}
    session.scalars(
        sa.select(Client).where(Client.id.in_(ids)).options(selectinload(Client.episodes))
    ).all()
    grouped: dict[int, list[Consent]] = defaultdict(list)
    stmt = (
        sa.select(Consent)
        .where(Consent.client_id.in_(ids))
        .options(selectinload(Consent.recorded_by))  # the snapshot printed with a release
    )
    for consent in session.scalars(stmt):
        grouped[consent.client_id].append(consent)
    found: dict[int, Consent | Refused] = {}
    for client in clients:
        try:
            found[client.id] = decide(
                client,
                grouped[client.id],
                recipient=recipient,
                purpose=purpose,
                information=information,
                today=today,
            )
        except Refused as refusal:
            found[client.id] = refusal
    return found


@dataclass(frozen=True)
class Release:
    consent: Consent
    disclosure: Disclosure
    report: PrintedReport
    data: bytes


def disclose(
    session: Session,
    client: Client,
    *,
    recipient: str,
    purpose: str,
    information: set[str] | frozenset[str],
    period: tuple[date, date],
    by: User,
    now: datetime,
    today: date,
    legal_proceeding: bool = False,
    batch_id: int | None = None,
) -> Release:
    """Release the client's progress report under a covering consent. Refused (a DomainError
    naming the field it concerns) when no consent covers it, before anything is written."""
    recipient, purpose = recipient.strip(), purpose.strip()
    _check_release(information)
    consent = decide(
        client,
        consents_of(session, client.id),
        recipient=recipient,
        purpose=purpose,
        information=information,
        today=today,
        legal_proceeding=legal_proceeding,
    )
    episode = client_report.latest_episode(client)
    row = record.draft(
        kind=client_report.PROGRESS,
        generated_at=now,
        by=by,
        client_id=client.id,
        episode_id=episode.id if episode else None,
        period=period,
        # The consent as it stood when released: its summary page prints from this.
        parameters={client_report.CONSENT: consent_pdf.snapshot(consent)},
        purpose=purpose,
        recipient=recipient,
        batch_id=batch_id,
    )
    data = record.produce(session, row)
    disclosure = log_disclosure(session, client.id, consent, row, information, by=by, now=now)
    return Release(consent, disclosure, row, data)


def log_disclosure(
    session: Session,
    client_id: int,
    consent: Consent,
    row: PrintedReport,
    information: Iterable[str],
    *,
    by: User,
    now: datetime,
) -> Disclosure:
    """The accounting entry (§2.25) of what `row` released of one client under `consent`.
    `information`: the categories, plus (for a line of a facility list) what was released,
    as a further entry the accounting prints as it is."""
    disclosure = Disclosure(
        client_id=client_id,
        kind="consent",
        consent_id=consent.id,
        released_at=now,
        released_by_id=by.id,
        recipient=row.recipient,
        purpose=row.purpose,
        information=rules.join_information(information),
        period_start=row.period_start,
        period_end=row.period_end,
        file_format=row.file_format,
        sha256=row.sha256,
        printed_report_id=row.id,
    )
    session.add(disclosure)
    session.flush()
    return disclosure


def _check_release(information: set[str] | frozenset[str]) -> None:
    if not information or set(information) - {code for code, _ in rules.INFORMATION}:
        raise DomainError("Choose the information released, from the list.", "information")
    missing = rules.PROGRESS_REPORT - set(information)
    if missing:
        raise DomainError(
            "The progress report also contains "
            f"{rules.information_labels(missing)}: all of it is released, so tick it and "
            "use a consent that covers it.",
            "information",
        )


# ---------------------------------------------------------------------------------------------
# Printing: the consent for signature, and the accounting for the client


def print_consent(session: Session, consent: Consent, *, by: User, now: datetime) -> bytes:
    """A recorded consent, with its signature lines and how it was signed."""
    row = _draft(consent_pdf.CONSENT, consent.client_id, by, now, consent_pdf.snapshot(consent))
    return record.produce(session, row)


def print_blank(
    session: Session, client: Client, terms: rules.Terms, *, by: User, now: datetime, today: date
) -> bytes:
    """A consent not yet recorded, printed from the form for the client to sign on paper
    (today at the earliest, so an expiry date must be later than today)."""
    terms = rules.check_terms(terms, signed_on=today)
    row = _draft(consent_pdf.CONSENT, client.id, by, now, consent_pdf.blank(terms))
    return record.produce(session, row)


def print_accounting(session: Session, client: Client, *, by: User, now: datetime) -> bytes:
    since = accounting_since(now)
    row = _draft(consent_pdf.ACCOUNTING, client.id, by, now, {"since": since.isoformat()})
    row.period_start, row.period_end = since.date(), now.date()
    return record.produce(session, row)


def _draft(
    kind: str, client_id: int, by: User, now: datetime, parameters: dict[str, Any]
) -> PrintedReport:
    return record.draft(
        kind=kind, generated_at=now, by=by, client_id=client_id, parameters=parameters
    )

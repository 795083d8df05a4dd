"""Releasing the census or the caseload outside the facility: the facility lists' way through
the one disclosure path (casemgr.privacy.consents).

Every client the list names needs a written consent that is in force and covers the
recipient, the purpose and what a line of the list says (`rules.CENSUS_LIST`,
`rules.CASELOAD_LIST`), found by `consents.decide`, the same function the progress report's
disclosure uses. If any client has none, nothing is printed or recorded: ListRefused names
each such client by MRN with the reason, and the view audits each refusal. Otherwise the file
is printed with each consent kept in the record's parameters (so the list names only those
clients, now and when re-rendered, and closes with their consents), and one accounting entry
per client records it with the file's SHA-256.

Services flush; the view commits.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from ..auth.models import User
from ..clients.models import Client
from ..domain import consent as rules
from ..domain.errors import DomainError
from ..privacy import consent_pdf, consents
from ..timefmt import facility_tz
from . import facility, record
from .models import PrintedReport

INFORMATION = {"census": rules.CENSUS_LIST, "caseload": rules.CASELOAD_LIST}
# What the accounting says was released, besides the categories: no commas (the field is a
# comma-separated list, and the accounting prints an entry it does not know as it is).
WHAT = {
    "census": "Census list: this client's line",
    "caseload": "Caseload list: this client's lines",
}
EMPTY = "The list names no client, so there is nothing to release."


class ListRefused(DomainError):
    """Some listed clients have no consent that covers the release: (client, why) each."""

    def __init__(self, refused: list[tuple[Client, consents.Refused]]):
        self.reasons = [f"MRN {c.mrn}: {why}" for c, why in refused]
        self.codes = [(c, why.code) for c, why in refused]
        count = len(refused)
        super().__init__(
            f"Not released: {count} listed client{'s' if count != 1 else ''} "
            "without a consent that covers it. Nothing was printed or recorded."
        )


def listed_clients(
    session: Session, kind: str, params: dict[str, Any], *, by: User, at: datetime
) -> list[Client]:
    """The clients the report would name for `by` (restricted clients left out)."""
    listed, tz = facility.listed_for(by), facility_tz()
    if kind == "census":
        on = date.fromisoformat(params["on"])
        return [line.row.client for line in facility.census(session, on, tz, listed, by)[0]]
    return facility.caseloads(session, now=at, tz=tz, listed=listed, site_id=by.site_id).clients()


def release(
    session: Session,
    kind: str,
    *,
    params: dict[str, Any],
    file_format: str,
    recipient: str,
    purpose: str,
    period: tuple[date, date],
    by: User,
    now: datetime,
    today: date,
) -> tuple[PrintedReport, bytes]:
    """Print the list for `recipient` and record one disclosure per client, or ListRefused
    before anything is written."""
    clients = listed_clients(session, kind, params, by=by, at=now)
    if not clients:
        raise DomainError(EMPTY, "recipient")
    info = INFORMATION[kind]
    found = consents.covering_each(
        session, clients, recipient=recipient, purpose=purpose, information=info, today=today
    )
    refused = [(c, why) for c in clients if isinstance(why := found[c.id], consents.Refused)]
    if refused:
        raise ListRefused(refused)
    used = {c.id: found[c.id] for c in clients}
    row = record.draft(
        kind=kind,
        generated_at=now,
        by=by,
        period=period,
        parameters={
            **params,
            facility.CONSENTS: {str(cid): consent_pdf.snapshot(c) for cid, c in used.items()},
        },
        purpose=purpose,
        recipient=recipient,
        file_format=file_format,
    )
    data = record.produce(session, row)
    for client_id, consent in used.items():
        what = {*info, WHAT[kind]}
        consents.log_disclosure(session, client_id, consent, row, what, by=by, now=now)
    return row, data


def audit_refusals(session: Session, refused: ListRefused, kind: str) -> None:
    for client, code in refused.codes:
        consents.audit_refusal(session, client, code, what=kind)

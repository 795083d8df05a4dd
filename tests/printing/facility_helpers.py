"""Reading facility reports back (PDF text per page, CSV rows, print records) and building
caseloads with one of each kind of work, through the services as the views do."""

from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import date
from types import SimpleNamespace

import pypdf
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain import consent as rules
from casemgr.domain.phases import Phase
from casemgr.extensions import db
from casemgr.printing.models import PrintedReport
from casemgr.privacy import consents
from casemgr.privacy.models import Consent
from tests.clients_helpers import TODAY, admitted
from tests.notes.helpers import session_with_note
from tests.plans.helpers import draft_plan, sign

NOTICE = "42 CFR part 2 prohibits unauthorized use or disclosure of these records."
PAYER, RELEASE_PURPOSE = "Blue Valley Health Plan", "Utilization review"


def pdf_pages(data: bytes) -> list[str]:
    """The text of each page, whitespace collapsed."""
    reader = pypdf.PdfReader(io.BytesIO(data))
    return [" ".join(page.extract_text().split()) for page in reader.pages]


def csv_notice(data: bytes) -> list[str]:
    """The notice lines a client list's CSV starts with (one cell each, starting with #)."""
    rows = list(csv.reader(io.StringIO(data.decode("utf-8").removeprefix("\ufeff"))))
    return [r[0] for r in rows if r and r[0].startswith("#")]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    text = data.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.removeprefix("\ufeff").splitlines(keepends=True)
    body = "".join(line for line in lines if not line.lstrip('"').startswith("#"))
    return list(csv.DictReader(io.StringIO(body)))


def printed() -> list[PrintedReport]:
    return list(db.session.scalars(sa.select(PrintedReport).order_by(PrintedReport.id)))


def events(action: str) -> list[AuditEvent]:
    stmt = sa.select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
    return list(db.session.scalars(stmt))


def caseload_of(manager, counselor, tag: str) -> SimpleNamespace:
    """Two clients of `counselor` (last names R<tag> and A<tag>), with one of each kind of work
    on 25 November 2026:

    - R<tag>, in rehab since 3 November (day 23): plan signed 10 November with a 14-day review
      (due 24 November: overdue), and a draft note of a session on 20 November (overdue);
    - A<tag>, in aftercare since 4 November (day 22), no signed plan (missing); its weekly
      check-ins fall on 18 November (overdue), 25 November (due) and 2 December (upcoming,
      within the week), the one of 11 November having been missed.
    """
    rehab_client, rehab = admitted(manager, counselor, Phase.REHAB, legal_last_name=f"R{tag}")
    sign(draft_plan(rehab, counselor), counselor, today=date(2026, 11, 10),
         intervals={"default": 14})  # fmt: skip
    session_with_note(rehab, counselor, day=date(2026, 11, 20))
    after_client, after = admitted(manager, counselor, Phase.AFTERCARE, legal_last_name=f"A{tag}")
    db.session.commit()
    return SimpleNamespace(rehab=rehab_client, aftercare=after_client)


def consent_for(client, by, **overrides) -> Consent:
    """A consent signed in the app on 20 November, naming the payer, through the service."""
    terms = rules.Terms(
        kind=rules.GENERAL,
        discloser="Test Recovery Center",
        information=frozenset({"attendance", "treatment_plan_progress"}),
        information_detail="",
        recipient_kind=rules.NAMED,
        recipient_name="",
        recipient_organisation=PAYER,
        purpose=RELEASE_PURPOSE,
        expiry_kind=rules.BY_DATE,
        expires_on=date(2027, 5, 20),
        expiry_event="",
        revocation_statement=rules.DEFAULT_REVOCATION_STATEMENT,
        signed_by=rules.CLIENT,
    )
    signed = f"{client.legal_first_name} {client.legal_last_name}"
    signing = rules.Signing(rules.APP, date(2026, 11, 20), False, signed)
    consent = consents.record_consent(
        db.session,
        client,
        replace(terms, **overrides),
        signing,
        scan=None,
        by=by,
        today=TODAY,
        instance_path="unused",
    )
    db.session.commit()
    return consent

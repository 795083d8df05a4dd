"""Registering clients and keeping the face sheet current. Services flush; callers commit."""

# FaceSheet, Funding and SubstanceUse live in domain/face_sheet.py; they are re-exported here
# because callers build them next to the service calls.

from __future__ import annotations

from datetime import date

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..auth.models import User
from ..domain.care import ADULT_AGE, age_on, check_birth_date
from ..domain.codes import FUNDING_WITH_MEMBER_ID
from ..domain.errors import DomainError
from ..domain.face_sheet import SCALAR_FIELDS, FaceSheet, Funding, SubstanceUse
from ..domain.text import format_mrn
from .models import Client, ClientFunding, ClientSubstance, MrnSequence


def validate(sheet: FaceSheet, today: date) -> None:
    """Rules that span fields; raises DomainError naming the field to fix."""
    check_birth_date(sheet.date_of_birth, today)
    if age_on(sheet.date_of_birth, today) < ADULT_AGE and not sheet.guardian_name.strip():
        raise DomainError("A guardian is required for a client under 18.", "guardian_name")
    if sheet.first_contact_on > today:
        raise DomainError("First contact cannot be in the future.", "first_contact_on")
    if sheet.first_contact_on < sheet.date_of_birth:
        raise DomainError("First contact cannot be before the date of birth.", "first_contact_on")
    if sheet.last_overdose_on and not (sheet.date_of_birth <= sheet.last_overdose_on <= today):
        raise DomainError(
            "The last overdose date must be between birth and today.", "last_overdose_on"
        )
    if not sheet.substances:
        raise DomainError("Record at least the primary substance.", "substance_1")
    for use in sheet.substances:
        if use.age_first_use is not None and use.age_first_use > age_on(sheet.date_of_birth, today):
            raise DomainError("Age of first use is older than the client.", "substance_1")
    if not sheet.funding:
        raise DomainError("Choose at least one funding source (self-pay if none).", "funding")


def next_mrn(session: Session) -> str:
    """Atomically take the next number; the row lock serialises concurrent intakes."""
    table = MrnSequence.__table__
    number = session.execute(
        sa.update(table)
        .where(table.c.id == 1)
        .values(last_number=table.c.last_number + 1)
        .returning(table.c.last_number)
    ).scalar_one_or_none()
    if number is None:  # first client ever on a database built without the seed row
        session.execute(sa.insert(table).values(id=1, last_number=1))
        number = 1
    return format_mrn(current_app.config["MRN_PREFIX"], number)


def register(session: Session, sheet: FaceSheet, *, actor: User, today: date) -> Client:
    validate(sheet, today)
    client = Client(mrn=next_mrn(session), created_by_id=actor.id)
    _apply(client, sheet)
    session.add(client)
    session.flush()
    return client


def update(session: Session, client: Client, sheet: FaceSheet, *, today: date) -> None:
    validate(sheet, today)
    _apply(client, sheet)
    session.flush()


def _apply(client: Client, sheet: FaceSheet) -> None:
    for name in SCALAR_FIELDS:
        value = getattr(sheet, name)
        setattr(client, name, value.strip() if isinstance(value, str) else value)
    client.risk_flags = ",".join(sorted(set(sheet.risk_flags)))
    client.refresh_search_name()
    _replace_funding(client, sheet.funding)
    _replace_substances(client, sheet.substances)


def _replace_funding(client: Client, funding: tuple[Funding, ...]) -> None:
    wanted = {
        (
            f.kind,
            f.payer.strip() if f.kind in FUNDING_WITH_MEMBER_ID else "",
            f.member_id.strip() if f.kind in FUNDING_WITH_MEMBER_ID else "",
        )
        for f in funding
    }
    current = {(f.kind, f.payer, f.member_id): f for f in client.funding}
    client.funding = [
        current.get(key) or ClientFunding(kind=key[0], payer=key[1], member_id=key[2])
        for key in sorted(wanted)
    ]


def _replace_substances(client: Client, uses: tuple[SubstanceUse, ...]) -> None:
    by_rank = {s.rank: s for s in client.substances}
    rows = []
    for rank, use in enumerate(uses, start=1):
        row = by_rank.get(rank) or ClientSubstance(rank=rank)
        row.substance, row.route, row.frequency, row.age_first_use = (
            use.substance,
            use.route,
            use.frequency,
            use.age_first_use,
        )
        rows.append(row)
    client.substances = rows


def record_view(session: Session, client: Client) -> None:
    """Opening a chart is itself part of the record (HIPAA §164.312(b), 42 CFR Part 2)."""
    record(session, "client.viewed", target=client)


def chart_summary(client: Client, today: date) -> dict:
    """What the chart header computes: warnings and the planned end of the current phase."""
    from ..detox.services import latest as latest_assessment
    from ..domain.care import phase_warnings, planned_end
    from ..notes.queries import chart_sessions
    from ..plans.queries import summary as plan_summary
    from ..screens.services import on_chart

    screens = on_chart(sa.orm.object_session(client), client.id)
    current = client.episodes[-1] if client.episodes else None
    plan = plan_summary(sa.orm.object_session(client), current, today) if current else None
    sessions = chart_sessions(sa.orm.object_session(client), current.id) if current else None
    detox = latest_assessment(sa.orm.object_session(client), current) if current else None
    if current is None or not current.is_open:
        return {
            "today": today,
            "warnings": [],
            "planned_end": None,
            "screens": screens,
            "plan": plan,
            "sessions": sessions,
            "detox": detox,
        }
    return {
        "today": today,
        "warnings": phase_warnings(current.phase, current.phase_started_on, today),
        "planned_end": planned_end(current.phase, current.phase_started_on),
        "screens": screens,
        "plan": plan,
        "sessions": sessions,
        "detox": detox,
    }

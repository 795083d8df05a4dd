"""Building clients for tests: through the services, as the views do."""

from __future__ import annotations

from datetime import UTC, date, datetime

from casemgr.auth.models import User
from casemgr.clients import services as clients
from casemgr.detox import services as detox
from casemgr.domain.face_sheet import FaceSheet, Funding, SubstanceUse
from casemgr.domain.phases import Phase
from casemgr.episodes import services as episodes
from casemgr.extensions import db

TODAY = date(2026, 11, 25)
NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


def sheet(**overrides) -> FaceSheet:
    data = dict(
        legal_first_name="Dana",
        legal_last_name="Rivers",
        date_of_birth=date(1990, 4, 2),
        sex="female",
        first_contact_on=date(2026, 11, 20),
        referral_source="self",
        funding=(Funding("medicaid", "", "MCD123"),),
        substances=(SubstanceUse("heroin", "injection", "5", 19),),
    )
    return FaceSheet(**{**data, **overrides})


def intake_form(**overrides) -> dict:
    """A valid intake POST body."""
    data = {
        "legal_first_name": "José",
        "legal_last_name": "Álvarez",
        "preferred_name": "Pepe",
        "date_of_birth": "1988-06-15",
        "sex": "male",
        "primary_language": "Spanish",
        "first_contact_on": "2026-11-20",
        "referral_source": "court",
        "funding": ["medicaid", "private"],
        "medicaid_id": "MCD-1",
        "private_payer": "Blue Plan",
        "private_member_id": "BP-9",
        "substance_1-substance": "heroin",
        "substance_1-route": "injection",
        "substance_1-frequency": "5",
        "substance_1-age_first_use": "17",
        "substance_2-substance": "alcohol",
        "substance_2-route": "oral",
        "substance_2-frequency": "3",
        "prior_treatment_episodes": "2",
        "overdoses_lifetime": "1",
        "pregnant": "unknown",
        "risk_flags": ["iv_use"],
        "admitted_on": "2026-11-25",
    }
    return {**data, **overrides}


def admitted(actor: User, counselor: User | None = None, phase: Phase = Phase.INTAKE, **overrides):
    """A client with one open episode in `phase`, moved there through the services."""
    client = clients.register(db.session, sheet(**overrides), actor=actor, today=TODAY)
    episode = episodes.admit(
        db.session,
        client,
        actor=actor,
        admitted_on=date(2026, 11, 1),
        counselor=counselor,
        now=datetime(2026, 11, 1, 12, tzinfo=UTC),
    )
    path = {
        Phase.INTAKE: [],
        Phase.DETOX: [Phase.DETOX],
        Phase.REHAB: [Phase.DETOX, Phase.REHAB],
        Phase.AFTERCARE: [Phase.DETOX, Phase.REHAB, Phase.AFTERCARE],
    }[phase]
    for step, target in enumerate(path, start=2):
        at = datetime(2026, 11, step, 12, tzinfo=UTC)
        if target is Phase.REHAB:  # the detox → rehab guard needs a medical clearance
            detox.record_clearance(db.session, episode, "Cleared in test", by=actor, now=at)
        episodes.move(
            db.session,
            episode,
            episodes.Move(target, at, "test path", "late entry in test"),
            actor=actor,
            now=NOW,
            local_date=lambda d: d.date(),
        )
    db.session.commit()
    return client, episode

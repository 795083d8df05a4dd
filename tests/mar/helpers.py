"""Building medication orders and doses for tests, through the services (explicit clock)."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from html import unescape as html_unescape
from types import SimpleNamespace
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from casemgr.domain.medications import Outcome
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.mar import services
from casemgr.mar.models import MedicationAdministration, MedicationOrder
from tests.clients_helpers import NOW, TODAY
from tests.factories import PASSWORD, Factories

TZ = ZoneInfo("America/New_York")
MIDNIGHT = datetime(2026, 11, 25, 5, 0, tzinfo=UTC)  # 2026-11-25 00:00 at the facility


def at(hour: int, minute: int = 0, day: date = TODAY) -> datetime:
    """A facility wall-clock time as an aware UTC datetime."""
    return datetime.combine(day, time(hour, minute), tzinfo=TZ).astimezone(UTC)


def slot_arg(hour: int, minute: int = 0, day: date = TODAY) -> str:
    return services.slot_arg(at(hour, minute, day))


def order(episode, by, *, drug="methadone", dose="30", times="08:00", **fields):
    """An order placed by `by` (a physician; anyone else must pass ordered_by_id)."""
    prn = fields.pop("prn", False)
    entry = services.OrderEntry(
        drug=drug,
        dose=dose,
        unit=fields.pop("unit", "mg"),
        route=fields.pop("route", "oral"),
        starts_at=fields.pop("starts_at", MIDNIGHT),
        prn=prn,
        times="" if prn else times,
        **fields,
    )
    placed = services.place_order(db.session, episode, entry, actor=by, now=NOW)
    db.session.commit()
    return placed


def recorded(placed, nurse, *, hour=None, given_at=None, witness=None, **fields):
    """A dose record made through the service; `hour` names the scheduled slot."""
    slot = at(hour) if hour is not None else None
    entry = services.DoseEntry(
        scheduled_at=slot,
        given_at=given_at or slot or NOW,
        outcome=fields.pop("outcome", Outcome.GIVEN),
        dose=fields.pop("dose", format(placed.dose, "f")),
        note=fields.pop("note", "Recorded late in the test."),
        witness_login=witness.login if witness else "",
        witness_password=PASSWORD if witness else "",
        **fields,
    )
    done = services.give_dose(db.session, placed, entry, nurse=nurse, now=NOW, tz=TZ)
    db.session.commit()
    return done


def counts() -> tuple[int, int]:
    """(orders, administrations): a refused POST must leave both unchanged."""
    return (
        db.session.scalar(sa.select(sa.func.count()).select_from(MedicationOrder)),
        db.session.scalar(sa.select(sa.func.count()).select_from(MedicationAdministration)),
    )


def sweep_order(physician=None):
    """A real order for the route sweeps: a nurse's verbal order naming `physician` (when the
    sweep signs in as a physician, so they may co-sign it) or another physician. It belongs
    to a client of its own, in detox: an order widens who may see its client, and the sweep's
    main client must stay out of the nurses' scope."""
    from casemgr.domain.phases import Phase
    from tests.clients_helpers import admitted

    make = Factories()
    if physician is None or Role.PHYSICIAN not in physician.roles:
        physician = make.user(Role.PHYSICIAN)
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), None, Phase.DETOX, legal_first_name="Sam")
    return order(episode, make.user(Role.NURSE), ordered_by_id=physician.id)


def ward_of(make):
    """A counselor's client in detox and the staff around them, with the clock frozen at NOW
    before anyone signs in (sessions are timed)."""
    import time_machine

    from casemgr.domain.phases import Phase
    from tests.clients_helpers import admitted

    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        person, episode = admitted(manager, counselor, Phase.DETOX)
        yield SimpleNamespace(
            manager=manager,
            counselor=counselor,
            nurse=make.user(Role.NURSE, full_name="Nora Nurse"),
            witness=make.user(Role.NURSE, full_name="Wes Witness"),
            physician=make.user(Role.PHYSICIAN, full_name="Dr Pat Physician"),
            other_physician=make.user(Role.PHYSICIAN, full_name="Dr Olive Other"),
            person=person,
            episode=episode,
        )


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return html_unescape(match.group(1))

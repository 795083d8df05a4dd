"""Medication orders, their co-signature and discontinuation, doses given, and the MAR day grid.

Services flush and audit; the view commits once. The dose and schedule rules live in
casemgr.domain.medications; this module applies them to stored orders and doses. The nurse
is always the signed-in user, passed in by the view, never a form value.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from decimal import Decimal

import sqlalchemy as sa
from sqlalchemy.orm import Session, joinedload

from ..audit.hooks import record
from ..auth import passwords
from ..auth.models import User, UserRole
from ..auth.services import count_failure, find_by_login
from ..clients.models import Client
from ..domain import medications as rules
from ..domain.errors import DomainError
from ..domain.medications import Outcome, format_dose, from_milli, to_milli
from ..domain.passwords import normalize_login
from ..domain.roles import Role
from ..episodes.models import Episode
from ..orm import utcnow
from ..policy import Perm, can, scoped
from .models import Drug, MedicationAdministration, MedicationOrder

FUTURE_GRACE = timedelta(minutes=5)  # clocks on shared workstations drift a little
LATE_ENTRY = timedelta(hours=1)  # as for withdrawal assessments
DUE_WINDOW = timedelta(hours=1)  # a scheduled dose is on time within an hour either side
ALREADY_RECORDED = (
    "Someone already recorded this dose a moment ago. Reload the MAR to see what was recorded."
)
# One message whatever went wrong, so the form never tells anyone which logins exist.
WITNESS_FAILED = (
    "The witness could not be confirmed. Check the witness's login name and password; after "
    "repeated failures their account is locked for a while."
)


@dataclass(frozen=True)
class OrderEntry:
    """What the orderer typed; doses and times are still text, parsed by the rules."""

    drug: str  # the formulary code
    dose: str
    unit: str
    route: str
    starts_at: datetime
    prn: bool = False
    times: str = ""
    prn_indication: str = ""
    prn_min_hours: int | None = None
    max_daily: str = ""
    indication: str = ""
    stops_at: datetime | None = None
    ordered_by_id: int | None = None  # the physician of a verbal order


@dataclass(frozen=True)
class DoseEntry:
    """One line of the MAR as entered. `scheduled_at` is None for an as-needed dose."""

    scheduled_at: datetime | None
    given_at: datetime
    outcome: Outcome
    dose: str = ""
    reason: str = ""
    note: str = ""
    witness_login: str = ""
    witness_password: str = field(default="", repr=False)
    override_reason: str = ""
    override_physician_id: int | None = None


@dataclass(frozen=True)
class Cell:
    """One scheduled dose in the day grid: what was recorded, or whether it is due."""

    slot: datetime
    record: MedicationAdministration | None  # the live record; a voided one is never it
    status: str  # "recorded", "upcoming", "due" or "overdue"
    voided: tuple[MedicationAdministration, ...] = ()  # records of this slot voided in error

    @property
    def slot_arg(self) -> str:
        return slot_arg(self.slot)


@dataclass(frozen=True)
class GridRow:
    order: MedicationOrder
    cells: dict[time, Cell]  # by wall-clock time of day, for a scheduled order
    prn_doses: list[MedicationAdministration]


# Orders -------------------------------------------------------------------------------------


def orderable_drugs(session: Session) -> list[Drug]:
    """The formulary offered on the order form: historical codes (LAAM) are never offered."""
    return list(session.scalars(sa.select(Drug).where(Drug.orderable).order_by(Drug.name)))


def physicians(session: Session) -> list[User]:
    """Active physicians, for naming who gave a verbal order or authorised an override."""
    return list(
        session.scalars(
            sa.select(User)
            .join(UserRole)
            .where(UserRole.role == Role.PHYSICIAN, User.active)
            .order_by(User.full_name, User.id)
        )
    )


def _physician(session: Session, user_id: int | None, message: str, name: str) -> User:
    user = session.get(User, user_id) if user_id is not None else None
    if user is None or not can(user, Perm.MED_PRESCRIBE):
        raise DomainError(message, name)
    return user


def _parse_order(entry: OrderEntry) -> tuple[Decimal, Decimal | None, tuple]:
    dose = rules.parse_dose(entry.dose, "dose")
    max_daily = rules.parse_dose(entry.max_daily, "max_daily") if entry.max_daily.strip() else None
    if entry.unit not in rules.UNITS:
        raise DomainError("Choose a unit from the list.", "unit")
    if entry.route not in dict(rules.ROUTES):
        raise DomainError("Choose a route from the list.", "route")
    if entry.prn:
        if entry.times.strip():
            raise DomainError("An as-needed order has no scheduled times; clear them.", "times")
        if entry.prn_min_hours is None or not 1 <= entry.prn_min_hours <= 72:
            raise DomainError(
                "Give the least number of hours between as-needed doses (1 to 72).",
                "prn_min_hours",
            )
        return dose, max_daily, ()
    return dose, max_daily, rules.parse_times(entry.times)


def place_order(
    session: Session, episode: Episode, entry: OrderEntry, *, actor: User, now: datetime
) -> MedicationOrder:
    """A physician orders in their own name; anyone else enters a physician's verbal order,
    which then waits for that physician's co-signature."""
    if not episode.is_open:
        raise DomainError("The episode is closed; medications are ordered on an open episode.")
    drug = session.scalar(sa.select(Drug).where(Drug.code == entry.drug))
    if drug is None:
        raise DomainError("Choose a drug from the list.", "drug")
    dose, max_daily, times = _parse_order(entry)
    rules.check_order(
        drug=_domain_drug(drug),
        dose=dose,
        max_daily=max_daily,
        prn=entry.prn,
        prn_indication=entry.prn_indication,
        times=times,
        starts_at=entry.starts_at,
        stops_at=entry.stops_at,
    )
    if entry.stops_at is not None and entry.stops_at <= now:
        raise DomainError("The stop time has already passed.", "stops_at")
    verbal = not can(actor, Perm.MED_PRESCRIBE)
    prescriber = actor
    if verbal:
        prescriber = _physician(
            session,
            entry.ordered_by_id,
            "Choose the physician who gave this verbal order.",
            "ordered_by",
        )
    order = MedicationOrder(
        episode=episode,
        drug=drug,
        dose_milli=to_milli(dose),
        unit=entry.unit,
        route=entry.route,
        times=rules.format_times(times),
        prn=entry.prn,
        prn_indication=entry.prn_indication.strip() if entry.prn else "",
        prn_min_hours=entry.prn_min_hours if entry.prn else None,
        max_daily_milli=None if max_daily is None else to_milli(max_daily),
        indication=entry.indication.strip(),
        starts_at=entry.starts_at,
        stops_at=entry.stops_at,
        ordered_by_id=prescriber.id,
        entered_by_id=actor.id,
        verbal=verbal,
    )
    session.add(order)
    session.flush()
    return order


def _domain_drug(drug: Drug) -> rules.Drug:
    """The stored row decides (a code later marked historical is refused at once)."""
    return rules.Drug(
        drug.code, drug.name, drug.schedule, drug.orderable, drug.unit, drug.route, drug.category
    )


def cosign_order(
    session: Session, order: MedicationOrder, password: str, *, physician: User, now: datetime
) -> None:
    """The named physician confirms a verbal order with their password."""
    if not order.awaiting_cosign:
        raise DomainError("This order is not waiting for a co-signature.")
    if order.ordered_by_id != physician.id:
        raise DomainError("Only the physician named on the verbal order can co-sign it.")
    if not passwords.verify_password(physician.password_hash, password):
        raise DomainError("The password is not correct; the order was not co-signed.", "password")
    order.cosigned_at = now
    session.flush()


def discontinue(
    session: Session, order: MedicationOrder, reason: str, *, by: User, now: datetime
) -> None:
    """Stop an order from now on. The order and its doses stay on the record."""
    if order.discontinued_at is not None:
        raise DomainError("This order is already discontinued.")
    if not reason.strip():
        raise DomainError("Say why the order is discontinued.", "reason")
    order.discontinued_at, order.discontinued_by_id = now, by.id
    order.discontinue_reason = reason.strip()
    session.flush()


def awaiting_cosign(session: Session, physician: User) -> list[MedicationOrder]:
    """Verbal orders naming `physician` that wait for their co-signature, oldest first, for
    clients the physician may see."""
    stmt = (
        sa.select(MedicationOrder)
        .join(Episode, MedicationOrder.episode_id == Episode.id)
        .join(Client, Episode.client_id == Client.id)
        .where(
            MedicationOrder.verbal,
            MedicationOrder.cosigned_at.is_(None),
            MedicationOrder.ordered_by_id == physician.id,
        )
        .options(
            joinedload(MedicationOrder.episode).joinedload(Episode.client),
            *_people(MedicationOrder.entered_by),
        )
        .order_by(MedicationOrder.created_at, MedicationOrder.id)
    )
    return list(session.scalars(scoped(stmt, Perm.CLIENT_VIEW, physician)).unique())


def _people(*paths) -> list:
    # Names only: a person's roles load if something asks (User.role_rows is eager by default).
    return [joinedload(p).lazyload(User.role_rows) for p in paths]


def _with_people(stmt: sa.Select) -> sa.Select:
    return stmt.options(
        *_people(
            MedicationOrder.ordered_by, MedicationOrder.entered_by, MedicationOrder.discontinued_by
        )
    )


def _is_current(order: MedicationOrder, now: datetime) -> bool:
    return order.ends_at is None or order.ends_at > now


def current_orders(
    session: Session, episode_ids: Iterable[int], *, now: datetime | None = None
) -> dict[int, list[MedicationOrder]]:
    """Orders not stopped or discontinued, by episode (one query), in order of start."""
    now = now or utcnow()
    ids = list(episode_ids)
    found: dict[int, list[MedicationOrder]] = {i: [] for i in ids}
    if not ids:
        return found
    rows = session.scalars(
        _with_people(sa.select(MedicationOrder))
        .where(
            MedicationOrder.episode_id.in_(ids),
            MedicationOrder.discontinued_at.is_(None),
            sa.or_(MedicationOrder.stops_at.is_(None), MedicationOrder.stops_at > now),
        )
        .order_by(MedicationOrder.starts_at, MedicationOrder.id)
    )
    for order in rows:
        found[order.episode_id].append(order)
    return found


# Doses --------------------------------------------------------------------------------------


def slot_arg(slot: datetime) -> str:
    """A scheduled time as the MAR links carry it: ISO 8601 in UTC, minute precision."""
    return slot.astimezone(UTC).strftime("%Y-%m-%dT%H:%MZ")


def _check_slot(order: MedicationOrder, slot: datetime | None, tz: tzinfo) -> None:
    if order.prn:
        if slot is not None:
            raise DomainError("An as-needed order has no scheduled time.")
        return
    if slot is None:
        raise DomainError("Choose the scheduled dose to record from the MAR.")
    day = slot.astimezone(tz).date()
    midnight = rules.day_bounds(day, tz)[0]  # every time of the day; activity comes next
    real = rules.slots_for_day(order.schedule, day, tz, midnight, None)
    if slot.astimezone(UTC) not in {s.astimezone(UTC) for s in real}:
        raise DomainError("That is not a scheduled time of this order.")
    if not order.active_at(slot):
        raise DomainError(
            "The order was not active at that time (not started, stopped or discontinued)."
        )


def slot_refusal(order: MedicationOrder, slot: datetime | None, tz: tzinfo) -> str | None:
    """Why this dose cannot be recorded at all, shown before the nurse fills the form."""
    try:
        _check_slot(order, slot, tz)
    except DomainError as exc:
        return str(exc)
    return None


def _check_time(entry: DoseEntry, now: datetime) -> None:
    if entry.given_at > now + FUTURE_GRACE:
        raise DomainError("A dose cannot be recorded in the future.", "given_at")
    if now - entry.given_at > LATE_ENTRY and not entry.note.strip():
        raise DomainError(
            "Say in the note why this is recorded more than an hour after the time given.",
            "note",
        )


def _check_prn_interval(session: Session, order: MedicationOrder, at: datetime, tz: tzinfo) -> None:
    """As-needed doses at least `prn_min_hours` apart, either side (a late entry counts too)."""
    if not order.prn or not order.prn_min_hours:
        return
    gap = timedelta(hours=order.prn_min_hours)
    near = session.scalar(
        sa.select(MedicationAdministration.given_at)
        .where(
            MedicationAdministration.order_id == order.id,
            MedicationAdministration.outcome == Outcome.GIVEN,
            MedicationAdministration.given_at > at - gap,
            MedicationAdministration.given_at < at + gap,
            MedicationAdministration.voided_at.is_(None),  # entered in error: never given
        )
        .order_by(MedicationAdministration.given_at.desc())
        .limit(1)
    )
    if near is not None:
        raise DomainError(
            f"A dose of this order was given at {near.astimezone(tz):%Y-%m-%d %H:%M}; it allows "
            f"one every {order.prn_min_hours} hours, so the next may be given from "
            f"{(near + gap).astimezone(tz):%Y-%m-%d %H:%M}.",
            "given_at",
        )


def _given_on_day(
    session: Session, order: MedicationOrder, at: datetime, tz: tzinfo
) -> list[Decimal]:
    start, end = rules.day_bounds(at.astimezone(tz).date(), tz)
    rows = session.scalars(
        sa.select(MedicationAdministration.dose_milli).where(
            MedicationAdministration.order_id == order.id,
            MedicationAdministration.outcome == Outcome.GIVEN,
            MedicationAdministration.given_at >= start,
            MedicationAdministration.given_at < end,
            MedicationAdministration.voided_at.is_(None),  # entered in error: never given
        )
    )
    return [from_milli(m) for m in rows]


def _check_daily_max(
    session: Session, order: MedicationOrder, entry: DoseEntry, dose: Decimal, tz: tzinfo
) -> User | None:
    """Over the order's daily maximum only with a reason and an authorising physician; returns
    that physician, or None when the dose stays within the maximum."""
    total = rules.exceeds_daily_max(
        _given_on_day(session, order, entry.given_at, tz), dose, order.max_daily
    )
    if total is None:
        return None
    if not entry.override_reason.strip() and entry.override_physician_id is None:
        raise DomainError(
            f"This dose would bring the day's total to {format_dose(total, order.unit)}, over "
            f"the daily maximum of {format_dose(order.max_daily, order.unit)}. To give it, "
            "record a physician's override below.",
            "dose",
        )
    if not entry.override_reason.strip():
        raise DomainError("Give the reason for going over the daily maximum.", "override_reason")
    return _physician(
        session,
        entry.override_physician_id,
        "Choose the physician who authorised going over the daily maximum.",
        "override_physician",
    )


def _witness(
    session: Session, order: MedicationOrder, entry: DoseEntry, *, nurse: User, now: datetime
) -> User | None:
    """The second staff member who confirmed a controlled dose with their own password.

    Unknown, inactive and locked logins fail exactly like a wrong password (same message, same
    time spent), so the form reveals nothing about who works here.
    """
    if entry.outcome is not Outcome.GIVEN or not order.drug.controlled:
        return None
    if not entry.witness_login.strip():
        return None  # check_administration asks for one
    user = find_by_login(session, entry.witness_login)
    if user is not None and user.id == nurse.id:
        return user  # check_administration explains that it must be someone else
    if user is None or not user.active or user.is_locked(now):
        passwords.burn_a_verify()
        raise DomainError(WITNESS_FAILED, "witness_password")
    if not passwords.verify_password(user.password_hash, entry.witness_password):
        raise DomainError(WITNESS_FAILED, "witness_password")
    if not can(user, Perm.MED_GIVE, order.episode):
        raise DomainError("The witness must be a nurse or physician.", "witness_login")
    return user


def give_dose(
    session: Session,
    order: MedicationOrder,
    entry: DoseEntry,
    *,
    nurse: User,
    now: datetime,
    tz: tzinfo,
) -> MedicationAdministration:
    """Record one dose: given (with witness for a controlled drug), held, refused or missed.

    A second record of the same scheduled dose is refused by the unique constraint at flush.
    """
    if not order.episode.is_open:
        raise DomainError("The episode is closed; doses are recorded on an open episode.")
    _check_slot(order, entry.scheduled_at, tz)
    _check_time(entry, now)
    given = entry.outcome is Outcome.GIVEN
    dose, physician = Decimal(0), None
    if given:
        dose = rules.parse_dose(entry.dose, "dose")
        _check_prn_interval(session, order, entry.given_at, tz)
        physician = _check_daily_max(session, order, entry, dose, tz)
    # Last, so a password is only checked (and a failure counted) on an otherwise good entry.
    witness = _witness(session, order, entry, nurse=nurse, now=now)
    rules.check_administration(
        outcome=entry.outcome,
        not_given_reason=entry.reason,
        controlled=order.drug.controlled,
        nurse_id=nurse.id,
        witness_id=witness.id if witness else None,
    )
    dose_row = MedicationAdministration(
        order=order,
        episode_id=order.episode_id,
        scheduled_at=entry.scheduled_at,
        given_at=entry.given_at,
        recorded_at=now,
        dose_milli=to_milli(dose),
        outcome=entry.outcome,
        reason="" if given else entry.reason.strip(),
        note=entry.note.strip(),
        nurse_id=nurse.id,
        witness_id=witness.id if witness else None,
        override_reason=entry.override_reason.strip() if physician else "",
        override_physician_id=physician.id if physician else None,
    )
    session.add(dose_row)
    session.flush()
    return dose_row


def witness_refused(session: Session, order: MedicationOrder, login: str, *, now: datetime) -> None:
    """After a refused witness (the dose itself was rolled back): audit the attempt, and count
    a wrong password toward that account's lockout as a failed sign-in would."""
    user = find_by_login(session, login)
    if user is None:
        reason = "unknown_login"
    elif not user.active:
        reason = "inactive"
    elif user.is_locked(now):
        reason = "locked"
    else:
        reason = "bad_password"
        count_failure(session, user, now)
    record(
        session,
        "mar.witness_failed",
        target=order,
        detail={
            "witness_login": normalize_login(login)[:64],
            "witness_id": user.id if user else None,
            "reason": reason,
        },
    )


# The MAR page -------------------------------------------------------------------------------


def _orders(session: Session, episode_id: int) -> list[MedicationOrder]:
    return list(
        session.scalars(
            _with_people(sa.select(MedicationOrder))
            .where(MedicationOrder.episode_id == episode_id)
            .order_by(MedicationOrder.starts_at, MedicationOrder.id)
        ).unique()
    )


def _day_doses(
    session: Session, episode_id: int, start: datetime, end: datetime
) -> list[MedicationAdministration]:
    """The day's records: scheduled for the day, or as-needed doses given on it (one query).
    Voided records are included, to be shown struck through; they fill no slot."""
    return list(
        session.scalars(
            sa.select(MedicationAdministration)
            .where(
                MedicationAdministration.episode_id == episode_id,
                sa.or_(
                    sa.and_(
                        MedicationAdministration.scheduled_at >= start,
                        MedicationAdministration.scheduled_at < end,
                    ),
                    sa.and_(
                        MedicationAdministration.scheduled_at.is_(None),
                        MedicationAdministration.given_at >= start,
                        MedicationAdministration.given_at < end,
                    ),
                ),
            )
            .options(
                *_people(
                    MedicationAdministration.nurse,
                    MedicationAdministration.witness,
                    MedicationAdministration.override_physician,
                    MedicationAdministration.voided_by,
                )
            )
            .order_by(MedicationAdministration.given_at, MedicationAdministration.id)
        ).unique()
    )


def _status(slot: datetime, now: datetime) -> str:
    if now > slot + DUE_WINDOW:
        return "overdue"
    return "due" if now >= slot - DUE_WINDOW else "upcoming"


def _row(
    order: MedicationOrder,
    day: date,
    tz: tzinfo,
    now: datetime,
    by_slot: dict[tuple[int, datetime], MedicationAdministration],
    prn_doses: dict[int, list[MedicationAdministration]],
    voided: dict[tuple[int, datetime], list[MedicationAdministration]],
) -> GridRow:
    if order.prn:
        return GridRow(order, {}, prn_doses.get(order.id, []))
    cells = {}
    for slot in rules.slots_for_day(order.schedule, day, tz, order.starts_at, order.ends_at):
        utc = slot.astimezone(UTC)  # arithmetic in the facility zone is wall-clock, not elapsed
        done = by_slot.get((order.id, utc))
        status = "recorded" if done else _status(utc, now)
        cells[slot.time()] = Cell(utc, done, status, tuple(voided.get((order.id, utc), ())))
    return GridRow(order, cells, [])


def chart(session: Session, episode: Episode, day: date, *, tz: tzinfo, now: datetime) -> dict:
    """Everything the MAR page shows for one facility day, in two queries."""
    start, end = rules.day_bounds(day, tz)
    orders = _orders(session, episode.id)
    by_slot, prn_doses, voided = {}, {}, {}
    for dose in _day_doses(session, episode.id, start, end):
        if dose.scheduled_at is None:
            prn_doses.setdefault(dose.order_id, []).append(dose)  # voided ones struck through
        elif dose.is_voided:  # the slot stays open for the correct record
            voided.setdefault((dose.order_id, dose.scheduled_at), []).append(dose)
        else:
            by_slot[(dose.order_id, dose.scheduled_at)] = dose
    on_day = [o for o in orders if o.starts_at < end and (o.ends_at is None or o.ends_at > start)]
    rows = [_row(o, day, tz, now, by_slot, prn_doses, voided) for o in on_day]
    columns = sorted({t for r in rows for t in r.cells})
    current = [o for o in orders if _is_current(o, now)]
    ended = sorted(
        (o for o in orders if not _is_current(o, now)), key=lambda o: o.ends_at, reverse=True
    )
    return {
        "day": day,
        "previous_day": day - timedelta(days=1),
        "next_day": day + timedelta(days=1),
        "orders": current + ended,
        "current_ids": {o.id for o in current},
        "rows": rows,
        "columns": columns,
        "now": now,
    }

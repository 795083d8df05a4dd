"""The fictitious demo facility: staff of every role, labelled as demo everywhere."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .admin import settings
from .auth import passwords, totp
from .auth.models import User
from .domain.care import Setting
from .domain.errors import DomainError
from .domain.face_sheet import FaceSheet, Funding, SubstanceUse
from .domain.phases import Phase
from .domain.roles import Role

DEMO_FACILITY = "Riverbend Recovery Center (fictitious demo)"
DEMO_PREFIX = "demo-"


@dataclass(frozen=True)
class DemoStaff:
    login: str
    full_name: str
    credentials: str
    roles: tuple[Role, ...]


STAFF: tuple[DemoStaff, ...] = (
    DemoStaff("demo-admin", "Alex Morgan", "", (Role.ADMIN,)),
    DemoStaff("demo-manager", "Priya Nair", "MSW", (Role.CLINIC_MANAGER,)),
    DemoStaff("demo-counselor", "Jordan Ellis", "LADC", (Role.COUNSELOR,)),
    DemoStaff("demo-counselor2", "Sam Whitfield", "CADC", (Role.COUNSELOR,)),
    DemoStaff("demo-nurse", "Maria Lopez", "RN", (Role.NURSE,)),
    DemoStaff("demo-nurse2", "Dev Patel", "LPN", (Role.NURSE,)),
    DemoStaff("demo-physician", "Helen Cho", "MD", (Role.PHYSICIAN,)),
    DemoStaff("demo-supervisor", "Chris Okafor", "LCSW", (Role.SUPERVISOR,)),
)


class RealDataPresent(DomainError):
    pass


def generate_password() -> str:
    return "-".join(secrets.token_hex(3) for _ in range(4))  # 27 characters


def holds_real_data(session: Session) -> bool:
    """Any account that is not a demo account means a real facility uses this database."""
    return (
        session.scalar(sa.select(sa.func.count(User.id)).where(~User.login.startswith(DEMO_PREFIX)))
        > 0
    )


def load(session: Session, password: str, totp_seed: str | None = None) -> list[User]:
    """Create the demo facility in the current transaction. Refuses on real data.

    With `totp_seed`, every demo staff member has two-factor sign-in set up on that one seed
    (so a demo or an automated check can sign in); without it they set it up at first sign-in.
    """
    if holds_real_data(session):
        raise RealDataPresent(
            "This database holds real staff accounts; the demo will not be loaded here."
        )
    if settings.is_demo(session):
        raise DomainError("The demo facility is already loaded.")
    passwords.validate_new_password(password, login=STAFF[0].login, facility=DEMO_FACILITY)
    if totp_seed is not None and (problem := totp.seed_problem(totp_seed)):
        raise DomainError(problem)
    settings.put(session, settings.FACILITY_NAME, DEMO_FACILITY)
    settings.put(session, settings.DEMO, "1")
    hashed = passwords.hash_password(password)
    users = [_staff(s, hashed) for s in STAFF]
    if totp_seed is not None:
        enrolled_at = datetime.now(UTC)
        for user in users:
            user.totp_secret, user.totp_enabled_at = totp.seal(totp_seed), enrolled_at
    session.add_all(users)
    session.flush()
    staff = {u.login: u for u in users}
    _clients(session, staff)
    from . import demo_documentation
    from .timefmt import today as facility_today

    demo_documentation.load(session, staff, password, facility_today(), datetime.now(UTC))
    from . import demo_detox

    demo_detox.load(session, staff, password, datetime.now(UTC))
    return users


def _staff(spec: DemoStaff, password_hash: str) -> User:
    user = User(
        login=spec.login,
        full_name=spec.full_name,
        credentials=spec.credentials,
        email=f"{spec.login}@example.org",
        password_hash=password_hash,
    )
    user.set_roles(set(spec.roles))
    return user


@dataclass(frozen=True)
class DemoClient:
    first: str
    last: str
    born: date
    sex: str
    counselor: str | None
    path: tuple[tuple[Phase, int], ...]  # (phase, days ago it began), after intake
    admitted_days_ago: int
    level: tuple[str, str] | None = None  # (setting, ASAM code) for the current phase
    discharge: str | None = None  # TEDS reason code
    substance: str = "heroin"


CLIENTS: tuple[DemoClient, ...] = (
    DemoClient("Avery", "Demo-Lindqvist", date(1991, 3, 14), "female", "demo-counselor", (), 1),
    DemoClient("Blake", "Demo-Okonkwo", date(1985, 7, 2), "male", None, (), 0),
    DemoClient(
        "Casey",
        "Demo-Marchetti",
        date(1998, 11, 23),
        "female",
        "demo-counselor",
        ((Phase.DETOX, 3),),
        4,
        ("inpatient", "3.7-WM"),
        substance="fentanyl",
    ),
    DemoClient(
        "Drew",
        "Demo-Nakamura",
        date(1979, 1, 9),
        "male",
        "demo-counselor2",
        ((Phase.DETOX, 12),),
        13,
        ("inpatient", "3.7-WM"),
    ),
    DemoClient(
        "Emery",
        "Demo-Castellanos",
        date(1993, 5, 30),
        "nonbinary",
        "demo-counselor",
        ((Phase.DETOX, 40), (Phase.REHAB, 33)),
        41,
        ("residential", "3.5"),
    ),
    DemoClient(
        "Finley",
        "Demo-Abernathy",
        date(1988, 9, 17),
        "female",
        "demo-counselor2",
        ((Phase.DETOX, 200), (Phase.REHAB, 190)),
        201,
        ("residential", "3.5"),
    ),
    DemoClient(
        "Gray",
        "Demo-Ivanova",
        date(1975, 12, 1),
        "male",
        "demo-counselor",
        ((Phase.DETOX, 150), (Phase.REHAB, 143), (Phase.AFTERCARE, 40)),
        151,
        ("outpatient", "1"),
    ),
    DemoClient(
        "Harper",
        "Demo-Delacroix",
        date(2008, 4, 4),
        "female",
        "demo-counselor2",
        ((Phase.REHAB, 20),),
        21,
        ("outpatient", "2.1"),
    ),
    DemoClient(
        "Indigo",
        "Demo-Szabo",
        date(1982, 6, 21),
        "male",
        "demo-counselor",
        ((Phase.DETOX, 30), (Phase.REHAB, 25)),
        31,
        ("residential", "3.5"),
        discharge="1",
    ),
    DemoClient(
        "Jules",
        "Demo-Fairweather",
        date(1996, 2, 11),
        "female",
        "demo-counselor2",
        ((Phase.DETOX, 9),),
        10,
        ("inpatient", "3.7-WM"),
        discharge="2",
    ),
)


def _clients(session: Session, staff: dict[str, User]) -> None:
    """Fictitious clients in every phase, moved there through the real services so their
    history, levels of care and audit trail look like a clinic's."""
    from .timefmt import today as facility_today

    today, now = facility_today(), datetime.now(UTC)
    for spec in CLIENTS:
        _one_client(session, spec, staff, today, now)


def admit_demo_client(
    session: Session, spec: DemoClient, staff: dict[str, User], today: date, now: datetime
) -> None:
    """Register one demo client and take them through `spec`'s phases with the real services,
    as the demo does for each of its own; `staff` maps logins to users and must hold
    `demo-manager` and the roles the phases need. For tools that add demo-style clients (the
    load test's preparation)."""
    _one_client(session, spec, staff, today, now)


def _one_client(
    session: Session, spec: DemoClient, staff: dict[str, User], today: date, now: datetime
) -> None:
    from .clients import services as clients
    from .detox import services as detox
    from .episodes import services as episodes

    actor = staff["demo-manager"]
    sheet = FaceSheet(
        legal_first_name=spec.first,
        legal_last_name=spec.last,
        date_of_birth=spec.born,
        sex=_sex(spec.sex),
        gender_identity="Nonbinary" if spec.sex == "nonbinary" else "",
        first_contact_on=today - timedelta(days=spec.admitted_days_ago + 3),
        referral_source="self",
        guardian_name="Demo Guardian" if today.year - spec.born.year < 19 else "",
        funding=(Funding("medicaid", "", "DEMO-000"),),
        substances=(SubstanceUse(spec.substance, "injection", "5", 15),),
        phone="555-0100",
        primary_language="English",
    )
    client = clients.register(session, sheet, actor=actor, today=today)
    counselor = staff.get(spec.counselor) if spec.counselor else None
    admitted_on = today - timedelta(days=spec.admitted_days_ago)
    episode = episodes.admit(
        session,
        client,
        actor=actor,
        admitted_on=admitted_on,
        counselor=counselor,
        now=_at(admitted_on),
    )
    for phase, days_ago in spec.path:
        move = episodes.Move(
            phase, _at(today - timedelta(days=days_ago)), "Demo history", "Demo data"
        )
        if phase is Phase.REHAB and episode.phase is Phase.DETOX:  # needs a clearance
            detox.record_clearance(session, episode, "Demo data", by=actor, now=move.effective_at)
        episodes.move(session, episode, move, actor=actor, now=now, local_date=lambda d: d.date())
    if spec.level:
        episodes.set_level_of_care(
            session,
            episode,
            setting=Setting(spec.level[0]),
            code_system="ASAM3",
            code=spec.level[1],
            started_on=episode.phase_started_on,
            actor=actor,
            today=today,
        )
    if spec.discharge:
        episodes.discharge(
            session,
            episode,
            episodes.DischargeDetails(
                last_contact_on=today - timedelta(days=1),
                discharged_on=today - timedelta(days=1),
                reason_code=spec.discharge,
                use_frequency="1",
                employment="part_time",
                living_arrangement="independent",
                arrests_30d=0,
                self_help="3",
                left_at=_at(today - timedelta(days=1)) if spec.discharge == "2" else None,
                note="Demo discharge",
            ),
            actor=actor,
            now=now,
            today=today,
        )


def _sex(value: str) -> str:
    return value if value in ("female", "male") else "unknown"


def _at(day: date) -> datetime:
    return datetime.combine(day, time(14, 0), tzinfo=UTC)

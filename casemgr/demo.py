"""The fictitious demo facility: staff of every role, labelled as demo everywhere."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .admin import settings
from .auth import passwords
from .auth.models import User
from .domain.errors import DomainError
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


def load(session: Session, password: str) -> list[User]:
    """Create the demo facility in the current transaction. Refuses on real data."""
    if holds_real_data(session):
        raise RealDataPresent(
            "This database holds real staff accounts; the demo will not be loaded here."
        )
    if settings.is_demo(session):
        raise DomainError("The demo facility is already loaded.")
    passwords.validate_new_password(password, login=STAFF[0].login, facility=DEMO_FACILITY)
    settings.put(session, settings.FACILITY_NAME, DEMO_FACILITY)
    settings.put(session, settings.DEMO, "1")
    hashed = passwords.hash_password(password)
    users = [_staff(s, hashed) for s in STAFF]
    session.add_all(users)
    session.flush()
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

"""Prepare a database for the load test: migrate, load the demo facility, then add load
staff (`demo-load-<role>-NN`, on the demo's password and TOTP seed) and a client for each
load counselor (every other one in detox with an as-needed order, the rest in rehab), all
through the app's own services so the audit trail is real.

Run with the same CASEMGR_* environment as the app server:
    python -m bench.load.prepare --staff 50 --password ... --totp-seed ... [--migrate]
It prints the staff as JSON: [{"login": ..., "role": ...}, ...].
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, date, datetime, time, timedelta

from casemgr import create_app, demo
from casemgr.audit.hooks import acting_as
from casemgr.auth import passwords, totp
from casemgr.auth.models import User
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.mar import services as mar
from casemgr.timefmt import facility_tz
from casemgr.timefmt import today as facility_today

# Of every ten staff: four nurses, four counselors, a physician, a clinic manager.
ROLE_CYCLE = (
    Role.NURSE,
    Role.COUNSELOR,
    Role.NURSE,
    Role.COUNSELOR,
    Role.PHYSICIAN,
    Role.NURSE,
    Role.COUNSELOR,
    Role.CLINIC_MANAGER,
    Role.NURSE,
    Role.COUNSELOR,
)
FIRST_NAMES = ("Robin", "Quinn", "Rowan", "Sage", "Parker", "Reese", "Tatum", "Noel", "Marlow")


def staff_plan(count: int) -> list[tuple[str, Role]]:
    plan = []
    for n in range(count):
        role = ROLE_CYCLE[n % len(ROLE_CYCLE)]
        plan.append((f"demo-load-{role.value.replace('_', '-')}-{n + 1:02d}", role))
    return plan


def add_staff(session, count: int, password: str, seed: str) -> list[User]:
    hashed, sealed = passwords.hash_password(password), totp.seal(seed)
    users = []
    for login, role in staff_plan(count):
        user = User(
            login=login,
            full_name=f"Load {role.label} {login.rsplit('-', 1)[1]}",
            credentials="RN" if role is Role.NURSE else "",
            email=f"{login}@example.org",
            password_hash=hashed,
        )
        user.set_roles({role})
        user.totp_secret, user.totp_enabled_at = sealed, datetime.now(UTC)
        users.append(user)
    session.add_all(users)
    session.flush()
    return users


def add_caseloads(session, users: list[User], staff: dict[str, User]) -> None:
    """Each load counselor gets a client: every other one in detox (with an as-needed
    clonidine order, so nurses have doses to record), the rest in rehab."""
    today, now = facility_today(), datetime.now(UTC)
    counselors = [u for u in users if Role.COUNSELOR in u.roles]
    everyone = {**staff, **{u.login: u for u in users}}
    for i, counselor in enumerate(counselors):
        first = FIRST_NAMES[i % len(FIRST_NAMES)]
        born = date(1970 + i % 30, 1 + i % 12, 1 + i % 27)
        if i % 2 == 0:
            spec = demo.DemoClient(first, f"Demo-Load{_letters(i)}-Detox", born, "female",
                                   counselor.login, ((Phase.DETOX, 1),), 2,
                                   ("inpatient", "3.7-WM"))  # fmt: skip
        else:
            spec = demo.DemoClient(first, f"Demo-Load{_letters(i)}-Rehab", born, "male",
                                   counselor.login, ((Phase.DETOX, 20), (Phase.REHAB, 14)), 21,
                                   ("residential", "3.5"))  # fmt: skip
        demo.admit_demo_client(session, spec, everyone, today, now)
    session.flush()
    _orders(session, staff["demo-physician"], now)


def _letters(n: int) -> str:
    return chr(ord("A") + n // 26 % 26) + chr(ord("a") + n % 26)


def _orders(session, physician: User, now: datetime) -> None:
    from casemgr.clients.models import Client

    tz = facility_tz()
    starts = datetime.combine(now.astimezone(tz).date() - timedelta(days=1), time(7), tzinfo=tz)
    clients = session.scalars(
        db.select(Client).where(Client.legal_last_name.like("Demo-Load%-Detox"))
    )
    for client in clients:
        episode = client.episodes[-1]
        if episode.is_open and episode.phase is Phase.DETOX:
            entry = mar.OrderEntry(
                drug="clonidine",
                dose="0.1",
                unit="mg",
                route="oral",
                starts_at=starts,
                prn=True,
                prn_indication="Restlessness, sweating or anxiety (COWS 13 or more)",
                prn_min_hours=6,
                max_daily="0.4",
            )
            mar.place_order(session, episode, entry, actor=physician, now=now)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--staff", type=int, default=50)
    parser.add_argument("--password", required=True)
    parser.add_argument("--totp-seed", required=True)
    parser.add_argument("--migrate", action="store_true")
    args = parser.parse_args()
    app = create_app()
    with app.app_context():
        if args.migrate:
            from flask_migrate import upgrade

            upgrade()
        with acting_as(None, "cli:loadtest-prepare"):
            users = demo.load(db.session, args.password, totp_seed=args.totp_seed)
            staff = {u.login: u for u in users}
            added = add_staff(db.session, args.staff, args.password, args.totp_seed)
            add_caseloads(db.session, added, staff)
            db.session.commit()
        out = [{"login": u.login, "role": next(iter(u.roles)).value} for u in added]
        db.session.remove()
        db.engine.dispose()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

"""Small checks for the Makefile: `python -m casemgr.ops is-empty | demo-logins`."""

from __future__ import annotations

import sys
from pathlib import Path

import sqlalchemy as sa

from . import create_app, demo
from .auth.models import User
from .extensions import db


def _user_count() -> int:
    return db.session.scalar(sa.select(sa.func.count(User.id))) or 0


def main(argv: list[str]) -> int:
    app = create_app()
    with app.app_context():
        if argv == ["is-empty"]:
            return 0 if _user_count() == 0 else 1
        if argv == ["demo-logins"]:
            return _print_demo_logins(Path(app.instance_path) / "demo_password")
    print("usage: python -m casemgr.ops is-empty | demo-logins", file=sys.stderr)
    return 2


def _print_demo_logins(password_file: Path) -> int:
    if not demo.holds_real_data(db.session) and password_file.exists():
        print(f"{demo.DEMO_FACILITY}. Demo logins (password: {password_file.read_text().strip()}):")
        seed = password_file.with_name("demo_totp_seed")
        if seed.exists():
            print(
                f"Two-factor: add this setup key to an authenticator app: {seed.read_text().strip()}"
            )
        for staff in demo.STAFF:
            print(f"  {staff.login:<18} {', '.join(r.label for r in staff.roles)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

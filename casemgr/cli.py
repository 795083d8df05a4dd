"""Command line: `flask --app casemgr create-admin | demo | audit verify | worker` (or
`casemgr ...`)."""

from __future__ import annotations

import getpass
import os
import sys
from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup

from . import demo, queue
from .admin import services as staff_services
from .admin import settings
from .audit import services as audit_services
from .audit.hooks import acting_as
from .auth import totp
from .benchdata.cli import bench_data_command
from .domain.errors import DomainError
from .domain.roles import Role
from .extensions import db
from .sites.cli import sites_group


def init_app(app: Flask) -> None:
    app.cli.add_command(create_admin)
    app.cli.add_command(demo_command)
    app.cli.add_command(audit_group)
    app.cli.add_command(queue.worker_command)
    app.cli.add_command(bench_data_command)
    app.cli.add_command(sites_group)


def _operator() -> str:
    return f"cli:{getpass.getuser()}"[:64]


def _read_password() -> str:
    """From a hidden prompt at a terminal, else the first line of stdin; never from argv."""
    if sys.stdin.isatty():
        return click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return sys.stdin.readline().rstrip("\r\n")


@click.command("create-admin")
@click.argument("login")
@click.option("--full-name", required=True, help="The administrator's name as shown to staff.")
@click.option("--email", default="")
@click.option("--credentials", default="")
def create_admin(login: str, full_name: str, email: str, credentials: str) -> None:
    """Create an administrator account. The password is read from a prompt or stdin."""
    password = _read_password()
    details = staff_services.StaffDetails(full_name, credentials, email, frozenset({Role.ADMIN}))
    with acting_as(None, _operator()):
        try:
            user = staff_services.create_staff(
                db.session, login, details, password, facility=settings.facility_name(db.session)
            )
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        user.must_change_password = False  # they chose this password themselves
        db.session.commit()
    click.echo(f"Administrator {user.login} created.")


@click.command("demo")
@click.option(
    "--password", help="One password for every demo login (default: generated and printed once)."
)
@click.option(
    "--totp-seed",
    help="One base32 TOTP seed (26-32 characters) set up for every demo login's two-factor "
    "sign-in (default: generated and printed once).",
)
def demo_command(password: str | None, totp_seed: str | None) -> None:
    """Load the fictitious demo facility into an empty database."""
    generated = password is None
    password = password or demo.generate_password()
    seed_generated = totp_seed is None
    seed = totp.new_seed() if totp_seed is None else totp_seed.replace(" ", "").upper()
    with acting_as(None, _operator()):
        try:
            demo.load(db.session, password, totp_seed=seed)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
    if generated:
        _remember_demo_secret("demo_password", password)
    if seed_generated:
        _remember_demo_secret("demo_totp_seed", seed)
    click.echo(f"Loaded {demo.DEMO_FACILITY}. Demo logins (password: {password}):")
    for staff in demo.STAFF:
        click.echo(f"  {staff.login:<18} {', '.join(r.label for r in staff.roles)}")
    click.echo(
        f"Two-factor sign-in: add the setup key {seed} (time-based, 6 digits) to an "
        "authenticator app; it serves every demo login."
    )


def _remember_demo_secret(name: str, value: str) -> None:
    """`make run` prints the demo logins on every start; keep the generated password and
    TOTP seed, which open only fictitious accounts, readable by the owner alone."""
    path = Path(current_app.instance_path) / name
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")


@click.group("audit")
def audit_group() -> None:
    """The audit trail."""


@audit_group.command("verify")
def audit_verify() -> None:
    """Recompute the hash chain; print 'ok' or the first broken link (exit status 1)."""
    report = audit_services.verify(db.session)
    db.session.rollback()
    click.echo(str(report))
    if not report.ok:
        sys.exit(1)


@audit_group.command("head")
def audit_head() -> None:
    """Print the chain head (seq and hash) to record somewhere outside this database."""
    head = audit_services.head(db.session)
    click.echo(f"{head.last_seq} {head.last_hash}" if head else "0 (empty trail)")


def main() -> None:
    from . import create_app

    FlaskGroup(create_app=create_app)(prog_name="casemgr")

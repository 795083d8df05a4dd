"""`flask --app casemgr sites adopt CODE`: an install becoming a network places its
episodes at its first site."""

from __future__ import annotations

import getpass

import click

from ..audit.hooks import acting_as
from ..domain.errors import DomainError
from ..extensions import db
from . import services


@click.group("sites")
def sites_group() -> None:
    """The network's sites (facilities)."""


@sites_group.command("adopt")
@click.argument("code")
def adopt_command(code: str) -> None:
    """Place every episode that has no site at the site CODE."""
    site = services.find_by_code(db.session, code)
    if site is None:
        db.session.rollback()
        raise click.ClickException(f"No site has the code {code.strip().upper()!r}.")
    with acting_as(None, f"cli:{getpass.getuser()}"[:64]):
        try:
            assigned = services.adopt(db.session, site)
        except DomainError as exc:
            db.session.rollback()
            raise click.ClickException(str(exc)) from exc
        db.session.commit()
    episodes = "episode" if assigned == 1 else "episodes"
    click.echo(f"Assigned {assigned} {episodes} to {site.name} ({site.code}).")

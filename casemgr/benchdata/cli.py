"""`flask bench-data --clients N`: a fictitious facility network at scale, for benchmarks."""

from __future__ import annotations

import time

import click

from ..audit.hooks import acting_as
from ..auth import passwords, totp
from ..demo import generate_password
from ..domain.errors import DomainError
from ..extensions import db
from ..orm import utcnow
from . import build as bench
from . import network as staffing

DEFAULT_SEED = 20261126


@click.command("bench-data")
@click.option("--clients", type=click.IntRange(min=1), required=True, help="How many clients.")
@click.option("--seed", type=int, default=DEFAULT_SEED, show_default=True,
              help="Random seed: the same seed gives the same network.")  # fmt: skip
@click.option("--password", help="One password for every bench login (default: generated).")
@click.option(
    "--totp-seed", help="One base32 TOTP seed for every bench login (default: generated)."
)
def bench_data_command(
    clients: int, seed: int, password: str | None, totp_seed: str | None
) -> None:
    """Fill an empty database with fictitious clients, staff and records for benchmarks."""
    password = password or generate_password()
    seed_text = totp.new_seed() if totp_seed is None else totp_seed.replace(" ", "").upper()
    try:
        options = _options(clients, seed, password, seed_text)
        started = time.perf_counter()
        with (
            acting_as(None, "cli:bench-data"),
            click.progressbar(length=clients, label="Clients") as bar,
        ):
            outcome = bench.build(db.session, options, bar.update)
    except DomainError as exc:
        db.session.rollback()
        raise click.ClickException(str(exc)) from exc
    _report(outcome, time.perf_counter() - started, password, seed_text)


def _options(clients: int, seed: int, password: str, seed_text: str) -> bench.Options:
    if (why := bench.refusal(db.session)) is not None:
        raise bench.NotEmpty(why)
    passwords.validate_new_password(password, login="bench-admin-0001", facility=bench.FACILITY)
    if problem := totp.seed_problem(seed_text):
        raise DomainError(problem)
    # Hashed and sealed once: argon2 per user would take longer than the whole load.
    return bench.Options(clients, seed, passwords.hash_password(password), totp.seal(seed_text),
                         utcnow().replace(microsecond=0))  # fmt: skip


def _report(outcome: bench.Outcome, seconds: float, password: str, seed_text: str) -> None:
    mix = outcome.mix
    click.echo(
        f"Loaded {sum(outcome.counts.values()):,} rows in {seconds:.1f} s: "
        f"{mix.detox:,} in detox, {mix.rehab:,} in rehab, {mix.aftercare:,} in aftercare, "
        f"{mix.discharged:,} discharged."
    )
    for table, count in sorted(outcome.counts.items()):
        click.echo(f"  {table:<28} {count:>10,}")
    sites = outcome.network.sites
    click.echo(
        f"{len(sites):,} sites ({sites[0].code} {sites[0].name}"
        + (f" … {sites[-1].code} {sites[-1].name}" if len(sites) > 1 else "")
        + f"), about {round((mix.open + mix.discharged) / len(sites)):,} clients each; "
        "every login works at one site except those marked network-wide."
    )
    click.echo(f"Logins (password: {password}):")
    for kind, members in outcome.network.staff.items():
        click.echo(f"  {kind:<11} {len(members):>5}  {_logins(members)}")
    first = sites[0]
    click.echo(
        f"Site {first.code}: nurse {first.of('nurse')[0].login}, manager "
        f"{first.of('manager')[0].login}, counselor {first.of('counselor')[0].login}."
    )
    click.echo(f"Two-factor sign-in for every bench login: TOTP seed {seed_text}")


def _logins(members: list[staffing.StaffMember]) -> str:
    """The logins of one kind: the network-wide ones, then the sites' (each site's staff
    have consecutive numbers, site by site)."""
    parts = []
    wide = [m for m in members if m.site_id is None]
    sited = [m for m in members if m.site_id is not None]
    for group, where in ((wide, "network-wide"), (sited, "at the sites")):
        if group:
            span = group[0].login + (f" … {group[-1].login}" if len(group) > 1 else "")
            parts.append(f"{span} ({where})")
    return "; ".join(parts)

"""Fill an empty, migrated database with a bench network: staff and groups first, then
clients in batches (generate, write, commit), then one audit event that says what was loaded."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.orm import Session

from ..admin import settings
from ..audit.hooks import record
from ..auth.models import User
from ..clients.models import Client, MrnSequence
from ..domain.errors import DomainError
from ..mar.models import Drug
from . import network as staffing
from .generate import ClientBuilder, client_states
from .load import Writer, advance_sequences, analyze, load_pragmas, next_ids
from .rows import Ids, Rows
from .timeline import Context

FACILITY = "Bench Recovery Network (fictitious bench data)"
BATCH = 1000  # clients generated and written per transaction


class NotEmpty(DomainError):
    pass


@dataclass(frozen=True)
class Options:
    clients: int
    seed: int
    password_hash: str
    sealed_totp: str  # one sealed seed shared by every bench login
    now: datetime


@dataclass(frozen=True)
class Outcome:
    counts: dict[str, int]
    network: staffing.Network
    mix: staffing.Mix


def refusal(session: Session) -> str | None:
    """Bench data goes only into a database with no staff and no clients: it must never mix
    with a facility's records, so there is no --force."""
    users = session.scalar(sa.select(sa.func.count(User.id)))
    clients = session.scalar(sa.select(sa.func.count(Client.id)))
    if users or clients:
        return (
            f"This database already holds {users} staff accounts and {clients} clients; "
            "bench data is loaded only into an empty database (run `flask db upgrade` on a "
            "new one)."
        )
    return None


def build(
    session: Session, options: Options, progress: Callable[[int], None] = lambda n: None
) -> Outcome:
    """Load the network, commit batch by batch, and record `bench.data_loaded`."""
    if (why := refusal(session)) is not None:
        raise NotEmpty(why)
    session.rollback()  # the load runs on its own connection; release this one's snapshot
    rng = random.Random(options.seed)  # noqa: S311 - reproducible fiction, not secrets
    mix = staffing.Mix.for_clients(options.clients)
    states = client_states(rng, mix)
    sites = staffing.deal_sites(states, staffing.site_count(options.clients))
    with db_connection(session) as conn, load_pragmas(conn):
        writer = Writer(conn)
        ctx = _context(conn, rng, site_mixes(states, sites), options, writer)
        _clients(conn, rng, ctx, states, sites, writer, progress)
        advance_sequences(conn)
        conn.commit()
        analyze(conn)
    _finish(session, options, writer.counts)
    return Outcome(dict(writer.counts), ctx.network, mix)


def db_connection(session: Session):
    return session.get_bind().connect()


def site_mixes(states: list[str], sites: list[int]) -> list[staffing.Mix]:
    """Each site's clients by state, in site order."""
    per_site: list[list[str]] = [[] for _ in range(max(sites, default=0) + 1)]
    for state, site in zip(states, sites, strict=True):
        per_site[site].append(state)
    return [staffing.Mix.of_states(s) for s in per_site]


def _context(conn, rng, mixes, options: Options, writer: Writer) -> Context:
    ids, rows = Ids(next_ids(conn)), Rows()
    now = options.now
    network = staffing.build_staff(
        rng, mixes, ids, rows, options.password_hash, options.sealed_totp, now
    )
    tz = ZoneInfo(current_app.config["TIMEZONE"])
    today = now.astimezone(tz).date()
    staffing.build_groups(rng, network, ids, rows, today, now)
    writer.write(rows)
    conn.commit()
    drugs = dict(conn.execute(sa.select(Drug.code, Drug.id)).all())
    return Context(today, now, tz, current_app.config["MRN_PREFIX"], network, ids, drugs)


def _clients(conn, rng, ctx: Context, states, sites, writer: Writer, progress) -> None:
    rows = Rows()
    builder = ClientBuilder(ctx, rows)
    network_sites = ctx.network.sites
    for start in range(0, len(states), BATCH):
        chunk = states[start : start + BATCH]
        for n, state in enumerate(chunk, start=start):
            builder.add(rng, n + 1, state, network_sites[sites[n]])
        writer.write(rows)
        conn.commit()
        progress(len(chunk))


def _finish(session: Session, options: Options, counts) -> None:
    """Later intakes continue the MRN sequence; the facility name says what this is; the
    trail gets one event for the whole load (Core inserts bypass the per-row audit hooks)."""
    table = MrnSequence.__table__
    updated = session.execute(
        sa.update(table).where(table.c.id == 1).values(last_number=options.clients)
    ).rowcount
    if not updated:
        session.execute(sa.insert(table).values(id=1, last_number=options.clients))
    settings.put(session, settings.FACILITY_NAME, FACILITY)
    detail = {
        "clients": options.clients,
        "sites": counts.get("sites", 0),
        "seed": options.seed,
        "rows": dict(sorted(counts.items())),
    }
    record(session, "bench.data_loaded", detail=detail)
    session.commit()

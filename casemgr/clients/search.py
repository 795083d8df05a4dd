"""Finding clients: by name (case- and accent-insensitive, partial), MRN or date of birth,
always inside the user's scope, with a whitelist of sort orders and one query per page."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, aliased

from ..auth.models import User
from ..domain.text import fold
from ..episodes.models import Episode
from ..orm import contains_pattern
from ..policy import Perm, scoped
from .models import Client

PAGE_SIZE = 25


@dataclass(frozen=True)
class Row:
    client: Client
    episode: Episode | None
    counselor: User | None


def is_latest(ep: type[Episode]) -> sa.ColumnElement[bool]:
    """`ep` is its client's latest episode: no later one exists. Checked per row found, by
    the (client_id, number) unique index; a GROUP BY over every episode in the network, as
    this once was, cost more than the rest of the search at 50,000 clients."""
    later = aliased(Episode)
    return ~sa.exists().where(later.client_id == ep.client_id, later.number > ep.number)


def _sorts(ep, counselor) -> dict[str, sa.ColumnElement]:
    return {
        "name": Client.search_name,
        "mrn": Client.mrn,
        "dob": Client.date_of_birth,
        "phase": ep.phase,
        "since": ep.phase_started_on,
        "counselor": counselor.full_name,
    }


SORT_KEYS = ("name", "mrn", "dob", "phase", "since", "counselor")


def _parse_date(text: str) -> date | None:
    for fmt in ("%Y-%m-%d", "%m/%d/%Y"):
        try:
            return datetime.strptime(text, fmt).date()
        except ValueError:
            continue
    return None


def _matches(q: str) -> sa.ColumnElement[bool]:
    q = q.strip()
    born = _parse_date(q)
    if born is not None:
        return Client.date_of_birth == born
    if re.fullmatch(r"[A-Za-z]{0,3}\d{3,}", q):
        return Client.mrn.ilike(contains_pattern(q.upper()), escape="\\")
    terms = [t for t in fold(q).split() if t]
    return sa.and_(*(Client.search_name.like(contains_pattern(t), escape="\\") for t in terms))


def find(
    session: Session, *, q: str = "", sort: str = "name", descending: bool = False, page: int = 1
) -> tuple[list[Row], bool]:
    """One page of clients the current user may see; returns the rows and whether more exist."""
    ep = aliased(Episode)
    counselor = aliased(User)
    stmt = (
        sa.select(Client, ep, counselor)
        .select_from(Client)
        .outerjoin(ep, sa.and_(ep.client_id == Client.id, is_latest(ep)))
        .outerjoin(counselor, counselor.id == ep.primary_counselor_id)
    )
    stmt = scoped(stmt, Perm.CLIENT_VIEW)
    if q.strip():
        stmt = stmt.where(_matches(q))
    column = _sorts(ep, counselor).get(sort, Client.search_name)
    order = column.desc() if descending else column.asc()
    stmt = (
        stmt.order_by(order.nulls_last(), Client.id)
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    rows = [Row(*r) for r in session.execute(stmt).all()]
    return rows[:PAGE_SIZE], len(rows) > PAGE_SIZE

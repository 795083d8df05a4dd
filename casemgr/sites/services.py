"""Managing the network's sites. A site is never deleted, only deactivated, and only once
no open episode is treated there."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..auth.models import User
from ..domain.errors import DomainError
from ..domain.phases import Phase
from ..episodes.models import Episode
from .models import Site

CODE_PATTERN = re.compile(r"[A-Z0-9-]{2,16}")
# Control, format, private-use and unassigned characters, and line or paragraph breaks.
UNPRINTABLE = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
NETWORK = ""  # the staff form's choice value for "Whole network (no site)"


@dataclass(frozen=True)
class SiteRow:
    site: Site
    staff: int
    open_episodes: int


def _staff_count(site_id: sa.ColumnElement[int]) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count(User.id))
        .where(User.site_id == site_id, User.active.is_(True))
        .scalar_subquery()
    )


def _open_count(site_id: sa.ColumnElement[int]) -> sa.ScalarSelect[int]:
    return (
        sa.select(sa.func.count(Episode.id))
        .where(Episode.site_id == site_id, Episode.phase != Phase.DISCHARGED)
        .scalar_subquery()
    )


def list_sites(session: Session) -> list[SiteRow]:
    """Every site with its active staff and open episodes, in one query: open sites first."""
    stmt = sa.select(Site, _staff_count(Site.id), _open_count(Site.id)).order_by(
        Site.active.desc(), Site.name, Site.id
    )
    return [SiteRow(site, staff, episodes) for site, staff, episodes in session.execute(stmt)]


def counts(session: Session, site: Site) -> SiteRow:
    staff, episodes = session.execute(
        sa.select(_staff_count(sa.literal(site.id)), _open_count(sa.literal(site.id)))
    ).one()
    return SiteRow(site, staff, episodes)


def all_sites(session: Session) -> list[Site]:
    return list(session.scalars(sa.select(Site).order_by(Site.name, Site.id)))


def any_site(session: Session) -> bool:
    """Whether the install is a network: until the first site exists nobody sees sites."""
    return session.scalar(sa.select(Site.id).limit(1)) is not None


def staff_choices(sites: list[Site], keep: int | None) -> list[tuple[str, str]]:
    """The staff form's Site choices: the open sites, and `keep` (the person's current
    site) even when it has closed, so saving other changes does not move them."""
    offered = [s for s in sites if s.active or s.id == keep]
    return [(NETWORK, "Whole network (no site)")] + [
        (str(s.id), s.name if s.active else f"{s.name} (closed)") for s in offered
    ]


def create_site(session: Session, code: str, name: str) -> Site:
    site = Site()
    _apply(session, site, code, name)
    session.add(site)
    session.flush()
    return site


def update_site(session: Session, site: Site, code: str, name: str) -> None:
    _apply(session, site, code, name)
    session.flush()


def deactivate(session: Session, site: Site) -> None:
    """Close a site. Refused while episodes are open there; its staff keep it as their site
    until an administrator moves them."""
    if not site.active:
        return
    open_episodes = counts(session, site).open_episodes
    if open_episodes:
        episodes = "episode" if open_episodes == 1 else "episodes"
        raise DomainError(
            f"{site.name} still has {open_episodes} open {episodes}. Discharge them or move "
            "them to another site before deactivating it."
        )
    site.active = False
    session.flush()
    record(session, "site.deactivated", target=site)


def reactivate(session: Session, site: Site) -> None:
    if not site.active:
        site.active = True
        session.flush()
        record(session, "site.reactivated", target=site)


def find_by_code(session: Session, code: str) -> Site | None:
    return session.scalar(sa.select(Site).where(Site.code == code.strip().upper()))


def adopt(session: Session, site: Site) -> int:
    """An install turning into a network: every episode without a site is placed at `site`.
    One audit event with the count stands for the bulk update."""
    if not site.active:
        raise DomainError(f"Site {site.code} is deactivated; reactivate it or choose another.")
    result = session.execute(
        sa.update(Episode)
        .where(Episode.site_id.is_(None))
        .values(site_id=site.id, version=Episode.version + 1)
        .execution_options(synchronize_session="fetch")
    )
    assigned = result.rowcount or 0
    record(session, "site.adopted", target=site, detail={"episodes": assigned})
    return assigned


def _apply(session: Session, site: Site, code: str, name: str) -> None:
    code, name = _valid_code(code), _valid_name(name)
    others = session.execute(sa.select(Site.code, Site.name).where(Site.id != site.id)).all()
    if any(other_code == code for other_code, _ in others):
        raise DomainError("Another site already has this code.", "code")
    if any(other_name.casefold() == name.casefold() for _, other_name in others):
        raise DomainError("Another site already has this name.", "name")
    site.code, site.name = code, name


def _valid_code(code: str) -> str:
    code = (code or "").strip().upper()
    if not CODE_PATTERN.fullmatch(code):
        raise DomainError("Use 2–16 letters, digits or hyphens, e.g. NORTH or SITE-2.", "code")
    return code


def _valid_name(name: str) -> str:
    name = (name or "").strip()
    if not 2 <= len(name) <= 120:
        raise DomainError("Enter a name of 2 to 120 characters.", "name")
    if any(unicodedata.category(ch) in UNPRINTABLE for ch in name):
        raise DomainError("Remove invisible or control characters from the name.", "name")
    return name

"""Loading clients and episodes through the caseload scope: out of scope looks like absent."""

from __future__ import annotations

import sqlalchemy as sa
from flask import abort, request
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import ORMOption

from ..audit.hooks import record
from ..episodes.models import CaseloadAssignment, Episode, PhaseChange, SiteChange
from ..extensions import db
from ..policy import Perm, authorize, scoped
from .models import Client


def load_client(client_id: int) -> Client:
    """404 for a client that does not exist or is outside the user's scope; the attempt on a
    real chart is audited, so a counselor browsing other caseloads by URL is visible."""
    client = db.session.scalar(
        scoped(sa.select(Client).where(Client.id == client_id), Perm.CLIENT_VIEW)
    )
    if client is None:
        _deny(client_id)
    return client


def load_episode(episode_id: int, perm: Perm) -> Episode:
    episode = db.session.get(Episode, episode_id)
    if episode is None:
        abort(404)
    load_client(episode.client_id)
    authorize(perm, episode)
    return episode


def with_episode_history(client: Client) -> Client:
    """The client (already loaded and checked in scope) with what the chart shows of every
    episode, a relationship at a time for all the episodes together: a client back for the
    fifth time costs the chart no more queries. Loaded after the view is recorded, whose
    commit would expire it all."""
    query = sa.select(Client).where(Client.id == client.id).options(*_episode_history())
    return db.session.scalars(query).one()


def _episode_history() -> tuple[ORMOption, ...]:
    episodes = selectinload(Client.episodes)
    return (
        episodes.joinedload(Episode.site),
        episodes.joinedload(Episode.discharge),
        episodes.selectinload(Episode.levels_of_care),
        episodes.selectinload(Episode.phase_changes).joinedload(PhaseChange.by),
        episodes.selectinload(Episode.assignments).joinedload(CaseloadAssignment.counselor),
        episodes.selectinload(Episode.site_changes).options(
            joinedload(SiteChange.from_site),
            joinedload(SiteChange.to_site),
            joinedload(SiteChange.by),
        ),
    )


def _deny(client_id: int) -> None:
    if db.session.get(Client, client_id) is not None:
        db.session.rollback()
        record(
            db.session,
            "authz.denied",
            object_type="clients",
            object_id=client_id,
            client_id=client_id,
            detail={"endpoint": request.endpoint, "reason": "out_of_scope"},
        )
        db.session.commit()
    abort(404)

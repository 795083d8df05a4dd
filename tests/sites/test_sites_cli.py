"""`flask sites adopt CODE`: an install becoming a network places its episodes at a site."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain.roles import Role
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from tests.clients_helpers import admitted

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen_clock():
    with time_machine.travel(NOW, tick=False):
        yield


def episodes(make, n: int, site=None) -> list[Episode]:
    manager = make.user(Role.CLINIC_MANAGER)
    made = []
    for i in range(n):
        _, episode = admitted(manager, legal_last_name=f"Adopt{i}")
        episode.site_id = site.id if site else None
        made.append(episode)
    db.session.commit()
    return made


def adopted_events() -> list[AuditEvent]:
    return list(
        db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == "site.adopted"))
    )


def test_adopt_places_every_episode_without_a_site(app, runner, make):
    north, south = make.site("Northside", "NORTH"), make.site("Southside", "SOUTH")
    unplaced = episodes(make, 3)
    (elsewhere,) = episodes(make, 1, site=south)
    versions = [e.version for e in unplaced]
    result = runner.invoke(args=["sites", "adopt", "north"])
    assert result.exit_code == 0, result.output
    assert "Assigned 3 episodes to Northside (NORTH)." in result.output
    db.session.expire_all()
    assert [e.site_id for e in unplaced] == [north.id] * 3
    assert [e.version for e in unplaced] == [v + 1 for v in versions]  # open forms go stale
    assert elsewhere.site_id == south.id
    (event,) = adopted_events()
    assert event.detail == '{"episodes":3}' and event.object_id == str(north.id)
    assert event.actor_login.startswith("cli:")

    again = runner.invoke(args=["sites", "adopt", "NORTH"])
    assert again.exit_code == 0 and "Assigned 0 episodes" in again.output


@pytest.mark.parametrize(
    ("code", "message"), [("NOWHERE", "No site has the code 'NOWHERE'."), ("EAST", "deactivated")]
)
def test_adopt_refuses_unknown_and_closed_sites(app, runner, make, code, message):
    make.site("Eastside", "EAST", active=False)
    (episode,) = episodes(make, 1)
    result = runner.invoke(args=["sites", "adopt", code])
    assert result.exit_code == 1 and message in result.output
    db.session.expire_all()
    assert episode.site_id is None and not adopted_events()

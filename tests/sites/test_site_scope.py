"""Sites: each site's staff run their own detox board, census and lists; network-wide staff
(no site) and installs without sites see everything, as before (casemgr/policy.py)."""

from __future__ import annotations

import csv
import io
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes.census import census, tally
from casemgr.extensions import db
from casemgr.policy import Perm, can, scoped
from casemgr.timefmt import facility_tz
from tests.clients_helpers import NOW, TODAY, admitted
from tests.conftest import Auth

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def net(make):
    """Two sites, each with a detox client, a rehab client and its own staff; a network-wide
    manager and nurse."""
    north, south = make.site("North House", "NORTH"), make.site("South House", "SOUTH")
    manager = make.user(Role.CLINIC_MANAGER)
    counselor = make.user(Role.COUNSELOR)
    people = SimpleNamespace(north=north, south=south, manager=manager, counselor=counselor)
    for site in (north, south):
        tag = site.code.title()
        detox = _at(site, admitted(manager, counselor, Phase.DETOX, legal_first_name=f"{tag}Detox"))
        rehab = _at(site, admitted(manager, counselor, Phase.REHAB, legal_first_name=f"{tag}Rehab"))
        setattr(people, f"{site.code.lower()}_detox", detox)
        setattr(people, f"{site.code.lower()}_rehab", rehab)
        for role in (Role.NURSE, Role.CLINIC_MANAGER, Role.SUPERVISOR):
            setattr(people, f"{site.code.lower()}_{role.value}", make.user(role, site=site))
    people.network_nurse = make.user(Role.NURSE)
    db.session.commit()
    return people


def _at(site, client_and_episode):
    client, episode = client_and_episode
    episode.site = site
    db.session.flush()
    return client


def names(user, perm=Perm.CLIENT_VIEW) -> set[str]:
    stmt = scoped(sa.select(Client.legal_first_name), perm, user)
    return set(db.session.scalars(stmt))


def test_site_staff_see_their_sites_clients_and_network_staff_see_all(net):
    assert names(net.north_nurse) == {"NorthDetox"}
    assert names(net.south_nurse) == {"SouthDetox"}
    assert names(net.network_nurse) == {"NorthDetox", "SouthDetox"}
    assert names(net.north_clinic_manager) == {"NorthDetox", "NorthRehab"}
    assert names(net.south_supervisor) == {"SouthDetox", "SouthRehab"}
    assert names(net.manager) == {"NorthDetox", "NorthRehab", "SouthDetox", "SouthRehab"}
    # A counselor's caseload is theirs wherever the clients are treated.
    assert names(net.counselor) == {"NorthDetox", "NorthRehab", "SouthDetox", "SouthRehab"}


def test_a_transferred_episode_belongs_to_its_new_site(net):
    """The site of an episode is where it is treated now: after a transfer the first site's
    census and scope let it go (a discharged episode stays with the site that treated it)."""
    episode = net.north_rehab.episodes[-1]
    episode.site = net.south
    db.session.commit()
    assert "NorthRehab" in names(net.south_clinic_manager)
    assert "NorthRehab" not in names(net.north_clinic_manager)
    rows = census(db.session, TODAY, facility_tz(), net.north_clinic_manager)
    assert {r.client.legal_first_name for r in rows} == {"NorthDetox"}


def test_the_census_and_its_tally_count_the_viewers_site(net):
    tz = facility_tz()
    for viewer, expected in (
        (net.north_clinic_manager, {"NorthDetox", "NorthRehab"}),
        (net.south_clinic_manager, {"SouthDetox", "SouthRehab"}),
        (net.manager, {"NorthDetox", "NorthRehab", "SouthDetox", "SouthRehab"}),
    ):
        rows = census(db.session, TODAY, tz, viewer)
        assert {r.client.legal_first_name for r in rows} == expected
        assert sum(t.n for t in tally(db.session, TODAY, tz, viewer)) == len(expected)


def signed_in(client, user):
    Auth(client, None).login(user)
    return client


def test_the_detox_board_lists_the_nurses_site(client, net):
    page = signed_in(client, net.north_nurse).get("/detox/board").text
    assert "NorthDetox" in page and "SouthDetox" not in page


def test_a_network_nurse_sees_every_sites_board(client, net):
    page = signed_in(client, net.network_nurse).get("/detox/board").text
    assert "NorthDetox" in page and "SouthDetox" in page


def test_another_sites_chart_is_not_found_for_site_staff(client, net):
    signed_in(client, net.north_nurse)
    assert client.get(f"/clients/{net.south_detox.id}").status_code == 404
    assert client.get(f"/clients/{net.north_detox.id}").status_code == 200


def test_the_managers_home_counts_their_site(client, net):
    page = signed_in(client, net.south_clinic_manager).get("/home/clinic_manager").text
    assert "NorthDetox" not in page and "NorthRehab" not in page


def test_a_nurse_scores_only_her_sites_detox_clients(net):
    """Having documented for a client keeps it in a nurse's scope; it does not let her score
    the client once it is another site's."""
    south_episode = net.south_detox.episodes[-1]
    north_episode = net.north_detox.episodes[-1]
    assert can(net.north_nurse, Perm.ASSESSMENT_WRITE, north_episode)
    assert not can(net.north_nurse, Perm.ASSESSMENT_WRITE, south_episode)
    assert can(net.network_nurse, Perm.ASSESSMENT_WRITE, south_episode)
    assert not can(net.north_clinic_manager, Perm.EPISODE_DISCHARGE, south_episode)
    assert can(net.manager, Perm.EPISODE_DISCHARGE, south_episode)


def test_the_census_report_lists_the_authors_site(client, net):
    signed_in(client, net.north_clinic_manager)
    resp = client.post("/print/facility/census", data={"format": "csv", "on": "2026-11-25"})
    assert resp.status_code == 200
    text = resp.data.decode("utf-8").removeprefix("\ufeff")
    body = [line for line in text.splitlines() if not line.lstrip('"').startswith("#")]
    listed = {row["first_name"] for row in csv.DictReader(io.StringIO("\n".join(body)))}
    assert listed == {"NorthDetox", "NorthRehab"}


def test_without_sites_everyone_sees_as_before(make):
    manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
    nurse = make.user(Role.NURSE)
    admitted(manager, counselor, Phase.DETOX, legal_first_name="Solo")
    db.session.commit()
    assert names(nurse) == {"Solo"} and names(manager) == {"Solo"}


def test_a_site_managers_roster_and_staff_counts_are_her_sites(net):
    from casemgr.home import services

    north = {net.north_nurse.id, net.north_clinic_manager.id, net.north_supervisor.id}
    assert {u.id for u in services.roster(db.session, net.north_clinic_manager)} == north
    assert services.staff_counts(db.session, net.north_clinic_manager) == {
        "nurse": 1,
        "clinic_manager": 1,
        "supervisor": 1,
    }
    everyone = {u.id for u in services.roster(db.session, net.manager)}
    assert north | {net.manager.id, net.counselor.id, net.network_nurse.id} <= everyone

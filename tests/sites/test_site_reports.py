"""Printed reports in a network name the site: the one treating the episode a client's
report covers, or, for a list printed by staff of one site, theirs. The name is kept as
printed, so a later move does not change what a printed report verifies against."""

from __future__ import annotations

import sqlalchemy as sa

from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.printing import client_report, record
from casemgr.printing.models import PrintedReport
from tests.clients_helpers import NOW, admitted
from tests.printing.helpers import PURPOSE, frozen, page_texts, print_report

NETWORK = "Test Recovery Center"


def treated_at(site, manager):
    """A client in detox at `site`, admitted by `manager`."""
    person, episode = admitted(manager, None, Phase.DETOX)
    episode.site = site
    db.session.commit()
    return person, episode


def test_a_clients_report_names_the_site_that_treats_the_episode(make):
    manager = make.user(Role.CLINIC_MANAGER)
    person, _ = treated_at(make.site("North Detox", "NOR"), manager)
    with frozen():
        row, data = print_report(client_report.PROGRESS, person, manager)
    assert row.facility == f"{NETWORK} — North Detox"
    assert f"Program {NETWORK} — North Detox" in page_texts(data)[0]


def test_the_site_stays_as_printed_when_the_client_moves_on(make):
    north, south = make.site("North Detox", "NOR"), make.site("South Residential", "SOU")
    manager = make.user(Role.CLINIC_MANAGER)
    person, episode = treated_at(north, manager)
    with frozen():
        first, _ = print_report(client_report.PROGRESS, person, manager)
        episodes.transfer_site(
            db.session, episode, south, actor=manager, reason="A bed came free", now=NOW
        )
        db.session.commit()
        assert record.check(db.session, first)  # the printed report still verifies
        later, data = print_report(client_report.PROGRESS, person, manager)
    assert later.facility == f"{NETWORK} — South Residential"
    assert "South Residential" in page_texts(data)[0]


def test_without_sites_a_report_names_the_facility_alone(make):
    manager = make.user(Role.CLINIC_MANAGER)
    person, _ = admitted(manager, None, Phase.DETOX)
    with frozen():
        row, data = print_report(client_report.PROGRESS, person, manager)
    assert row.facility == NETWORK
    assert f"Program {NETWORK} Client" in page_texts(data)[0]


def test_a_site_managers_census_names_their_site_and_a_network_managers_does_not(
    client, auth, make
):
    north = make.site("North Detox", "NOR")
    for user in (make.user(Role.CLINIC_MANAGER, site=north), make.user(Role.CLINIC_MANAGER)):
        with frozen():
            auth.login(user)
            resp = client.post("/print/facility/census", data={"purpose": PURPOSE})
            assert resp.status_code == 200, resp.text
            auth.logout()
    names = db.session.scalars(sa.select(PrintedReport.facility).order_by(PrintedReport.id))
    assert list(names) == [f"{NETWORK} — North Detox", NETWORK]

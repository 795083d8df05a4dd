"""The episode's site in the clinical flows: intake, readmission, moving an open episode to
another site, and the chart header."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.clients.models import Client
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from tests.clients_helpers import admitted, intake_form
from tests.conftest import version_on
from tests.factories import Factories
from tests.test_episodes import discharge_form

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def north(make):
    return make.site("North Detox", "NOR")


@pytest.fixture
def south(make):
    return make.site("South Residential", "SOU")


@pytest.fixture
def casey(make):
    """A counselor to assign (intake and readmission name one)."""
    return make.user(Role.COUNSELOR, full_name="Casey Counselor")


def at(site, phase=Phase.DETOX, counselor=None, **face_sheet):
    """An open episode of a new client, treated at `site` (placed there after admission, as
    an install that gained sites does)."""
    _, episode = admitted(counselor or _manager(), counselor, phase, **face_sheet)
    episode.site = site
    db.session.commit()
    return episode


def _manager():
    return Factories().user(Role.CLINIC_MANAGER)


def site_events(episode) -> list[dict]:
    rows = db.session.scalars(
        sa.select(AuditEvent.detail).where(
            AuditEvent.action == "episode.site_changed", AuditEvent.object_id == str(episode.id)
        )
    )
    return [json.loads(row) for row in rows]


def clients_named(last_name: str) -> int:
    return db.session.scalar(
        sa.select(sa.func.count()).select_from(Client).where(Client.legal_last_name == last_name)
    )


# Intake


def test_intake_without_sites_has_no_site_field_and_admits_with_no_site(client, auth, casey):
    auth.login(Role.CLINIC_MANAGER)
    assert 'name="site"' not in client.get("/clients/new").text
    resp = client.post("/clients/new", data=intake_form(counselor=str(casey.id)))
    assert resp.status_code == 302
    assert db.session.scalar(sa.select(Episode)).site_id is None


def test_intake_offers_the_open_sites_and_defaults_to_the_users(client, auth, make, north, south):
    make.site("Old Annex", "OLD", active=False)
    auth.login(make.user(Role.CLINIC_MANAGER, site=south))
    page = client.get("/clients/new").text
    assert 'name="site"' in page and "North Detox" in page and "Old Annex" not in page
    assert f'<option selected value="{south.id}">' in page


def test_intake_of_a_network_wide_user_preselects_no_site(client, auth, north):
    auth.login(Role.CLINIC_MANAGER)
    page = client.get("/clients/new").text
    assert '<option selected value="">' in page


def test_intake_admits_at_the_chosen_site(client, auth, casey, north, south):
    auth.login(Role.CLINIC_MANAGER)
    resp = client.post(
        "/clients/new", data=intake_form(site=str(north.id), counselor=str(casey.id))
    )
    assert resp.status_code == 302
    episode = db.session.scalar(sa.select(Episode))
    assert episode.site_id == north.id
    assert "North Detox" in client.get(resp.headers["Location"]).text


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "Choose the site where the client is treated."),
        ("999999", "Choose a site from the list."),
        ("north", "Choose a site from the list."),
    ],
)
def test_intake_without_a_valid_site_is_refused_next_to_the_field(
    client, auth, casey, north, value, message
):
    auth.login(Role.CLINIC_MANAGER)
    resp = client.post("/clients/new", data=intake_form(site=value, counselor=str(casey.id)))
    assert resp.status_code == 200 and 'id="site-error"' in resp.text and message in resp.text
    assert clients_named("Álvarez") == 0


def test_intake_at_a_closed_site_is_refused(client, auth, casey, north, make):
    closed = make.site("Old Annex", "OLD", active=False)
    auth.login(Role.CLINIC_MANAGER)
    resp = client.post(
        "/clients/new", data=intake_form(site=str(closed.id), counselor=str(casey.id))
    )
    assert resp.status_code == 200 and 'id="site-error"' in resp.text
    assert clients_named("Álvarez") == 0
    with pytest.raises(DomainError) as refused:
        services.admit(
            db.session,
            discharged(None).client,
            actor=_manager(),
            admitted_on=NOW.date(),
            counselor=None,
            now=NOW,
            site=closed,
        )
    assert refused.value.field == "site"


def test_an_intake_at_another_site_lands_on_the_home_page(client, auth, make, casey, north, south):
    """The manager of North admits a client to South: the chart is South's now."""
    auth.login(make.user(Role.CLINIC_MANAGER, site=north))
    resp = client.post(
        "/clients/new", data=intake_form(site=str(south.id), counselor=str(casey.id))
    )
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert db.session.scalar(sa.select(Episode)).site_id == south.id


# Readmission


def discharged(site, counselor=None):
    return closed(at(site, Phase.REHAB, counselor))


def closed(episode):
    services.discharge(
        db.session,
        episode,
        services.DischargeDetails(
            last_contact_on=NOW.date(),
            discharged_on=NOW.date(),
            reason_code="1",
            use_frequency="1",
            employment="full_time",
            living_arrangement="independent",
            arrests_30d=0,
            self_help="3",
        ),
        actor=_manager(),
        now=NOW,
        today=NOW.date(),
    )
    db.session.commit()
    return episode


def test_readmission_defaults_to_the_users_site(client, auth, make, north, south):
    """A South counselor readmits their client last treated at North: South comes first."""
    counselor = make.user(Role.COUNSELOR, site=south)
    previous = discharged(north, counselor)
    auth.login(counselor)
    page = client.get(f"/episodes/readmit/{previous.client_id}")
    assert page.status_code == 200
    assert f'<option selected value="{south.id}">' in page.text


def test_readmission_defaults_to_the_previous_site_and_opens_there(
    client, auth, casey, north, south
):
    previous = discharged(north)
    auth.login(Role.CLINIC_MANAGER)
    url = f"/episodes/readmit/{previous.client_id}"
    assert f'<option selected value="{north.id}">' in client.get(url).text
    data = {"admitted_on": "2026-11-25", "counselor": str(casey.id), "site": str(south.id)}
    resp = client.post(url, data=data)
    assert resp.status_code == 302
    episodes = db.session.scalars(
        sa.select(Episode).where(Episode.client_id == previous.client_id).order_by(Episode.number)
    ).all()
    assert [e.site_id for e in episodes] == [north.id, south.id]


def test_readmission_skips_a_previous_site_that_has_closed(client, auth, casey, north, south):
    previous = discharged(north)
    north.active = False
    db.session.commit()
    auth.login(Role.CLINIC_MANAGER)
    url = f"/episodes/readmit/{previous.client_id}"
    options = client.get(url).text.split('name="site"')[1].split("</select>")[0]
    assert '<option selected value="">' in options and "North Detox" not in options
    data = {"admitted_on": "2026-11-25", "counselor": str(casey.id), "site": str(north.id)}
    resp = client.post(url, data=data)
    assert resp.status_code == 200 and 'id="site-error"' in resp.text
    assert len(db.session.get(Client, previous.client_id).episodes) == 1


def test_readmission_without_sites_is_unchanged(client, auth, casey):
    previous = discharged(None)
    auth.login(Role.CLINIC_MANAGER)
    url = f"/episodes/readmit/{previous.client_id}"
    assert 'name="site"' not in client.get(url).text
    data = {"admitted_on": "2026-11-25", "counselor": str(casey.id)}
    assert client.post(url, data=data).status_code == 302
    assert [e.site_id for e in db.session.get(Client, previous.client_id).episodes] == [None, None]


# Moving an open episode to another site


def transfer(
    client, episode, site, reason="Continues in residential rehab", version=None, counselor=None
):
    url = f"/episodes/{episode.id}/site"
    version = version or version_on(client.get(url).text)
    data = {"site": str(site.id) if site else "", "reason": reason, "version": version}
    return client.post(url, data={**data, "counselor": str(counselor.id) if counselor else ""})


def test_a_manager_moves_an_episode_to_another_site(client, auth, north, south):
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    chart = client.get(f"/clients/{episode.client_id}").text
    assert f"/episodes/{episode.id}/site" in chart
    resp = transfer(client, episode, south)
    assert resp.status_code == 302
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == south.id
    assert site_events(episode) == [{"from_site_id": north.id, "to_site_id": south.id}]
    chart = client.get(resp.headers["Location"]).text
    assert "moved to South Residential" in chart


def test_the_move_is_kept_in_the_site_history_with_its_reason(client, auth, north, south):
    episode = at(north)
    manager = auth.login(Role.CLINIC_MANAGER)
    assert transfer(client, episode, south, reason="Zebra-striped reason").status_code == 302
    db.session.expire_all()
    (moved,) = db.session.get(Episode, episode.id).site_changes
    assert (moved.from_site_id, moved.to_site_id, moved.by_id) == (north.id, south.id, manager.id)
    assert moved.reason == "Zebra-striped reason"
    history = client.get(f"/clients/{episode.client_id}").text
    assert "Site changes" in history and "Zebra-striped reason" in history
    # The reason stays on the row: the trail holds no free text.
    details = db.session.scalars(sa.select(AuditEvent.detail)).all()
    assert not any("Zebra" in d for d in details)


def test_a_site_manager_moving_a_client_away_lands_on_the_home_page(
    client, auth, make, north, south
):
    episode = at(north)
    auth.login(make.user(Role.CLINIC_MANAGER, site=north))
    resp = transfer(client, episode, south)
    assert resp.status_code == 302 and resp.headers["Location"] == "/"
    assert client.get(f"/clients/{episode.client_id}").status_code == 404


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN, Role.SUPERVISOR])
def test_only_managers_move_episodes_between_sites(client, auth, make, north, south, role):
    user = make.user(role, site=north)
    episode = at(north, counselor=user if role is Role.COUNSELOR else None)
    auth.login(user)
    assert client.get(f"/episodes/{episode.id}/site").status_code == 403
    resp = client.post(f"/episodes/{episode.id}/site", data={"site": str(south.id)})
    assert resp.status_code == 403
    assert f"/episodes/{episode.id}/site" not in client.get(f"/clients/{episode.client_id}").text
    assert db.session.get(Episode, episode.id).site_id == north.id


def test_the_manager_of_another_site_cannot_see_or_move_the_episode(
    client, auth, make, north, south
):
    episode = at(north)
    auth.login(make.user(Role.CLINIC_MANAGER, site=south))
    assert client.get(f"/episodes/{episode.id}/site").status_code == 404
    assert transfer(client, episode, south, version="1@0").status_code == 404
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == north.id


def test_a_manager_who_sees_the_client_but_not_at_their_site_is_refused(
    client, auth, make, north, south
):
    """South's manager sees a client treated at South before, now at North: 403 to move."""
    first = discharged(south)
    actor = _manager()
    episode = services.admit(
        db.session,
        first.client,
        actor=actor,
        admitted_on=NOW.date(),
        counselor=None,
        now=NOW,
        site=north,
    )
    db.session.commit()
    auth.login(make.user(Role.CLINIC_MANAGER, site=south))
    assert client.get(f"/clients/{first.client_id}").status_code == 200
    assert client.get(f"/episodes/{episode.id}/site").status_code == 403


@pytest.mark.parametrize("target", ["same", "closed", "blank"])
def test_moving_to_the_same_or_a_closed_site_is_refused(client, auth, make, north, south, target):
    closed = make.site("Old Annex", "OLD", active=False)
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    page = client.get(f"/episodes/{episode.id}/site").text
    options = page.split('name="site"')[1].split("</select>")[0]
    assert "South Residential" in options
    assert "North Detox" not in options and "Old Annex" not in options
    site = {"same": north, "closed": closed, "blank": None}[target]
    resp = transfer(client, episode, site)
    assert resp.status_code == 200 and 'id="site-error"' in resp.text
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == north.id
    assert site_events(episode) == []


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        ("", "Say why the client moves"),
        ("  ok  ", "at least 5 characters"),
        ("x" * 501, "500 characters"),
        ("bad\x00reason", "control characters"),
    ],
)
def test_a_move_needs_a_reason(client, auth, north, south, reason, message):
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    resp = transfer(client, episode, south, reason=reason)
    assert resp.status_code == 200 and 'id="reason-error"' in resp.text and message in resp.text
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == north.id


def test_a_move_over_a_later_change_is_refused(client, auth, make, north, south):
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    url = f"/episodes/{episode.id}/site"
    opened = version_on(client.get(url).text)
    assign = f"/episodes/{episode.id}/assign"
    counselor = make.user(Role.COUNSELOR)
    db.session.commit()
    moved = client.post(
        assign,
        data={"counselor": str(counselor.id), "version": version_on(client.get(assign).text)},
    )
    assert moved.status_code == 302
    resp = transfer(client, episode, south, version=opened)
    assert resp.status_code == 200 and "changed this record" in resp.text
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == north.id


def test_a_closed_episode_cannot_be_moved(client, auth, north, south):
    episode = discharged(north)
    auth.login(Role.CLINIC_MANAGER)
    assert client.get(f"/episodes/{episode.id}/site").status_code == 403
    with pytest.raises(DomainError, match="closed"):
        services.transfer_site(
            db.session, episode, south, actor=_manager(), reason="Moving on", now=NOW
        )


def test_the_service_refuses_same_and_closed_sites_by_field(make, north, south):
    episode = at(north)
    actor = _manager()
    with pytest.raises(DomainError) as same:
        services.transfer_site(db.session, episode, north, actor=actor, reason="Moving", now=NOW)
    south.active = False
    with pytest.raises(DomainError) as closed:
        services.transfer_site(db.session, episode, south, actor=actor, reason="Moving", now=NOW)
    assert (same.value.field, closed.value.field) == ("site", "site")
    assert "already at North Detox" in str(same.value)


def test_without_another_open_site_the_chart_offers_no_move(client, auth, north):
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    assert f"/episodes/{episode.id}/site" not in client.get(f"/clients/{episode.client_id}").text
    page = client.get(f"/episodes/{episode.id}/site").text
    assert "No other site is open" in page and 'name="reason"' not in page


# The chart


def test_the_chart_header_names_the_site(client, auth, north):
    episode = at(north)
    auth.login(Role.CLINIC_MANAGER)
    page = client.get(f"/clients/{episode.client_id}").text
    header = page.split('class="client-header"')[1].split("</section>")[0]
    assert "<dt>Site</dt><dd>North Detox</dd>" in header


def test_the_chart_of_an_install_without_sites_has_no_site(client, auth):
    episode = at(None)
    auth.login(Role.CLINIC_MANAGER)
    assert "<dt>Site</dt>" not in client.get(f"/clients/{episode.client_id}").text


def test_discharge_form_still_works_at_a_site(client, auth, north):
    """A site changes nothing else of the episode's flows."""
    episode = at(north, Phase.REHAB)
    auth.login(Role.CLINIC_MANAGER)
    resp = client.post(f"/episodes/{episode.id}/discharge", data=discharge_form())
    assert resp.status_code == 302


def test_the_chart_reads_its_episode_history_in_a_fixed_number_of_queries(
    client, auth, count_queries, casey, north, south
):
    """Each episode shows its site, phases, levels, site moves, counselors and discharge:
    a client back for the third time costs the chart no more queries than a first-timer."""
    first = discharged(north, casey)
    manager = auth.login(Role.CLINIC_MANAGER)
    chart = f"/clients/{first.client_id}"
    client.get(chart)
    with count_queries() as one:
        assert client.get(chart).status_code == 200
    person = db.session.get(Client, first.client_id)
    for again in (True, False):
        episode = services.admit(
            db.session, person, actor=manager, admitted_on=NOW.date(), counselor=casey,
            now=NOW, site=north,
        )  # fmt: skip
        services.transfer_site(
            db.session, episode, south, actor=manager, reason="A bed came free", now=NOW
        )
        db.session.commit()
        if again:
            closed(episode)
    client.get(chart)
    with count_queries() as three:
        page = client.get(chart)
    assert page.text.count("A bed came free") == 2 and "Episode 3" in page.text
    assert three.count <= one.count, three.statements


# The counselor on a move


def test_a_move_can_hand_the_client_to_a_counselor_of_the_new_site(
    client, auth, make, casey, north, south
):
    episode = at(north, counselor=casey)
    southern = make.user(Role.COUNSELOR, full_name="Sam South", site=south)
    manager = auth.login(Role.CLINIC_MANAGER)
    form = client.get(f"/episodes/{episode.id}/site").text
    assert "Keep Casey Counselor" in form
    # Grouped by site; each option names its site for the page's script to filter on.
    assert '<optgroup label="South Residential">' in form
    assert f'<option data-site="{south.id}" value="{southern.id}">Sam South</option>' in form
    url = f"/episodes/{episode.id}/site"
    resp = client.post(
        url,
        data={"site": str(south.id), "counselor": str(southern.id), "reason": "Residential bed",
              "version": version_on(form)},
    )  # fmt: skip
    assert resp.status_code == 302
    db.session.expire_all()
    moved = db.session.get(Episode, episode.id)
    assert (moved.site_id, moved.primary_counselor_id) == (south.id, southern.id)
    before, after = moved.assignments
    assert before.counselor_id == casey.id and before.ended_at is not None
    assert (after.counselor_id, after.by_id, after.reason) == (
        southern.id, manager.id, "Moved to South Residential",
    )  # fmt: skip


def test_a_move_keeps_the_counselor_unless_another_is_chosen(client, auth, casey, north, south):
    episode = at(north, counselor=casey)
    auth.login(Role.CLINIC_MANAGER)
    assert transfer(client, episode, south).status_code == 302
    db.session.expire_all()
    moved = db.session.get(Episode, episode.id)
    assert moved.primary_counselor_id == casey.id and len(moved.assignments) == 1


def test_a_counselor_of_a_third_site_is_refused_next_to_the_field(
    client, auth, make, casey, north, south
):
    east = make.site("East Outpatient", "EAS")
    eastern = make.user(Role.COUNSELOR, full_name="Eve East", site=east)
    episode = at(north, counselor=casey)
    auth.login(Role.CLINIC_MANAGER)
    resp = transfer(client, episode, south, counselor=eastern)
    assert resp.status_code == 200
    assert "Eve East works at another site; choose a counselor of South Residential." in resp.text
    db.session.expire_all()
    unchanged = db.session.get(Episode, episode.id)
    assert (unchanged.site_id, unchanged.primary_counselor_id) == (north.id, casey.id)
    assert unchanged.site_changes == [] and len(unchanged.assignments) == 1


def test_a_counselor_who_is_not_offered_is_refused(client, auth, make, casey, north, south):
    nurse = make.user(Role.NURSE, site=south)
    episode = at(north, counselor=casey)
    auth.login(Role.CLINIC_MANAGER)
    resp = transfer(client, episode, south, counselor=nurse)
    assert resp.status_code == 200 and "Not a valid choice" in resp.text
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).site_id == north.id

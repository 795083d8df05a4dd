"""Caseload scoping for every role (security matrix Z-02, Z-05; 42 CFR Part 2 need to know)."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from tests.clients_helpers import admitted

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def world(make):
    """Two counselors with one client each; a third client in detox; a fourth unassigned."""
    with time_machine.travel(NOW, tick=False):
        manager = make.user(Role.CLINIC_MANAGER)
        mine, theirs = make.user(Role.COUNSELOR), make.user(Role.COUNSELOR)
        a, _ = admitted(manager, mine, Phase.REHAB, legal_last_name="Alpha")
        b, _ = admitted(manager, theirs, Phase.REHAB, legal_last_name="Bravo")
        c, _ = admitted(manager, theirs, Phase.DETOX, legal_last_name="Charlie")
        d, _ = admitted(manager, None, Phase.INTAKE, legal_last_name="Delta")
        yield {"manager": manager, "mine": mine, "theirs": theirs, "a": a, "b": b, "c": c, "d": d}


def visible(client) -> set[str]:
    page = client.get("/clients/").text
    return {name for name in ("Alpha", "Bravo", "Charlie", "Delta") if f"<bdi>{name}," in page}


def test_counselor_sees_only_their_caseload(client, auth, world):
    auth.login(world["mine"])
    assert visible(client) == {"Alpha"}
    assert client.get(f"/clients/{world['a'].id}").status_code == 200


def test_another_counselors_client_by_url_is_404_and_audited(client, auth, world):
    auth.login(world["mine"])
    target = world["b"]
    for url in (
        f"/clients/{target.id}",
        f"/clients/{target.id}/edit",
        f"/episodes/{target.episodes[0].id}/phase",
        f"/episodes/{target.episodes[0].id}/discharge",
        f"/episodes/readmit/{target.id}",
    ):
        assert client.get(url).status_code == 404, url
    denied = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "authz.denied", AuditEvent.client_id == target.id
        )
    ).all()
    assert len(denied) == 5
    assert "Bravo" not in client.post("/clients/", data={"q": "bravo"}).text


def test_unknown_client_is_404_without_an_audit_of_a_client(client, auth, world):
    auth.login(world["mine"])
    assert client.get("/clients/99999").status_code == 404


def test_nurse_sees_clients_in_detox_and_those_they_documented(client, auth, world):
    nurse = auth.login(Role.NURSE)
    assert visible(client) == {"Charlie"}
    assert client.get(f"/clients/{world['a'].id}").status_code == 404
    # The nurse moves Charlie on to rehab; having documented for Charlie, the chart stays visible.
    client.post(f"/detox/{world['c'].episodes[0].id}/clearance", data={"note": "Cleared"})
    resp = client.post(
        f"/episodes/{world['c'].episodes[0].id}/phase",
        data={"target": "rehab", "effective_at": "2026-11-25T10:00", "reason": "Cleared"},
    )
    assert resp.status_code == 302
    assert visible(client) == {"Charlie"}
    assert nurse.id in {c.by_id for c in world["c"].episodes[0].phase_changes}


def test_nurse_may_act_only_while_the_episode_is_in_detox(client, auth, world):
    auth.login(Role.NURSE)
    episode = world["c"].episodes[0]
    client.post(f"/detox/{episode.id}/clearance", data={"note": "Cleared"})
    client.post(
        f"/episodes/{episode.id}/phase",
        data={"target": "rehab", "effective_at": "2026-11-25T10:00", "reason": "Cleared"},
    )
    assert client.get(f"/episodes/{episode.id}/phase").status_code == 403


@pytest.mark.parametrize("role", [Role.CLINIC_MANAGER, Role.SUPERVISOR])
def test_managers_and_supervisors_see_everyone(client, auth, world, role):
    auth.login(role)
    assert visible(client) == {"Alpha", "Bravo", "Charlie", "Delta"}


def test_supervisor_reads_but_does_not_change(client, auth, world):
    auth.login(Role.SUPERVISOR)
    assert client.get(f"/clients/{world['b'].id}").status_code == 200
    assert client.get(f"/episodes/{world['b'].episodes[0].id}/phase").status_code == 403
    assert client.get("/clients/new").status_code == 403


def test_admins_do_not_read_clinical_records(client, auth, world):
    auth.login(Role.ADMIN)
    assert client.get("/clients/").status_code == 403
    assert client.get(f"/clients/{world['a'].id}").status_code == 403


def test_physician_sees_detox_like_a_nurse(client, auth, world):
    auth.login(Role.PHYSICIAN)
    assert visible(client) == {"Charlie"}


def test_multi_role_staff_see_the_union(client, auth, world, make):
    both = make.user(Role.COUNSELOR, Role.NURSE)
    world["a"].episodes[0].primary_counselor_id = both.id
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        auth.login(both)
        assert visible(client) == {"Alpha", "Charlie"}


def test_reassignment_takes_effect_on_the_next_request(client, auth, world):
    with time_machine.travel(NOW, tick=False):
        auth.login(world["mine"])
        assert client.get(f"/clients/{world['a'].id}").status_code == 200
        db.session.execute(
            sa.update(Episode)
            .where(Episode.client_id == world["a"].id)
            .values(primary_counselor_id=world["theirs"].id)
        )
        db.session.commit()
        assert client.get(f"/clients/{world['a'].id}").status_code == 404


def test_the_counselor_who_discharged_keeps_read_access(client, auth, world):
    with time_machine.travel(NOW, tick=False):
        auth.login(world["mine"])
        episode = world["a"].episodes[0]
        resp = client.post(
            f"/episodes/{episode.id}/discharge",
            data={
                "reason_code": "1",
                "discharged_on": "2026-11-25",
                "last_contact_on": "2026-11-25",
                "use_frequency": "1",
                "employment": "full_time",
                "living_arrangement": "independent",
                "arrests_30d": "0",
                "self_help": "2",
            },
        )
        assert resp.status_code == 302
        assert client.get(f"/clients/{world['a'].id}").status_code == 200
        assert client.get(f"/clients/{world['a'].id}/edit").status_code == 403  # closed: read only


def test_counselor_cannot_assign_caseloads(client, auth, world):
    auth.login(world["mine"])
    assert client.get(f"/episodes/{world['a'].episodes[0].id}/assign").status_code == 403


def test_a_group_facilitator_sees_the_members_of_their_group(client, auth, world, make):
    from datetime import date

    from casemgr.groups.models import Group, GroupEnrollment

    facilitator = make.user(Role.COUNSELOR)
    group = Group(name="Relapse prevention", facilitators=[facilitator])
    db.session.add(group)
    db.session.add(
        GroupEnrollment(group=group, episode=world["b"].episodes[0], enrolled_on=date(2026, 11, 20))
    )
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        auth.login(facilitator)
        assert visible(client) == {"Bravo"}


def test_discharge_ends_group_enrolments(world):
    from datetime import date

    from casemgr.episodes import services
    from casemgr.groups.models import Group, GroupEnrollment

    episode = world["b"].episodes[0]
    enrollment = GroupEnrollment(
        group=Group(name="Process group"), episode=episode, enrolled_on=date(2026, 11, 20)
    )
    db.session.add(enrollment)
    db.session.commit()
    services.discharge(
        db.session,
        episode,
        services.DischargeDetails(
            last_contact_on=date(2026, 11, 24),
            discharged_on=date(2026, 11, 25),
            reason_code="1",
            use_frequency="1",
            employment="unknown",
            living_arrangement="unknown",
            arrests_30d=0,
            self_help="1",
        ),
        actor=world["manager"],
        now=NOW,
        today=date(2026, 11, 25),
    )
    db.session.commit()
    assert enrollment.ended_on == date(2026, 11, 25)


def test_a_nurse_keeps_seeing_a_client_they_screened_after_detox(client, auth, world, make):
    from casemgr.screens.models import DrugScreen

    nurse = make.user(Role.NURSE)
    episode = world["b"].episodes[0]  # in rehab: not on the detox board
    db.session.add(
        DrugScreen(
            episode=episode,
            collected_at=NOW,
            collector_id=nurse.id,
            refused=True,
            action_taken="Discussed with counselor",
        )
    )
    db.session.commit()
    with time_machine.travel(NOW, tick=False):
        auth.login(nurse)
        assert visible(client) == {"Bravo", "Charlie"}

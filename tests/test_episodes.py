"""Phase moves, discharge, readmission, levels of care and caseload assignment, over HTTP."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.detox import services as detox
from casemgr.domain.codes import DISCHARGE_REASONS
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services
from casemgr.episodes.models import Episode, PhaseChange
from casemgr.extensions import db
from tests.clients_helpers import admitted
from tests.conftest import version_on

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 in New York
LOCAL_NOW = "2026-11-25T10:00"


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(frozen, auth):
    return auth.login(Role.CLINIC_MANAGER)


def move(client, episode, target, when=LOCAL_NOW, reason="clinical decision", late=""):
    return client.post(
        f"/episodes/{episode.id}/phase",
        data={"target": target, "effective_at": when, "reason": reason, "backdate_reason": late},
    )


def discharge_form(**overrides):
    data = {
        "reason_code": "1",
        "discharged_on": "2026-11-25",
        "last_contact_on": "2026-11-24",
        "use_frequency": "1",
        "employment": "full_time",
        "living_arrangement": "independent",
        "arrests_30d": "0",
        "self_help": "3",
        "note": "Completed the program.",
    }
    return {**data, **overrides}


def actions() -> list[str]:
    return list(db.session.scalars(sa.select(AuditEvent.action).order_by(AuditEvent.seq)))


def test_full_journey_through_every_phase_then_readmission(client, manager, make):
    counselor = make.user(Role.COUNSELOR)
    person, episode = admitted(manager, counselor)
    for target in ("detox", "rehab", "aftercare"):
        if target == "rehab":  # leaving detox needs a medical clearance
            detox.record_clearance(db.session, episode, "Cleared", by=manager, now=NOW)
            db.session.commit()
        resp = move(client, episode, target)
        assert resp.status_code == 302, resp.text
    db.session.refresh(episode)
    assert episode.phase is Phase.AFTERCARE
    assert [c.to_phase for c in episode.phase_changes] == [
        Phase.INTAKE,
        Phase.DETOX,
        Phase.REHAB,
        Phase.AFTERCARE,
    ]
    assert all(c.by_id == manager.id for c in episode.phase_changes[1:])
    assert (
        client.post(f"/episodes/{episode.id}/discharge", data=discharge_form()).status_code == 302
    )
    db.session.refresh(episode)
    assert episode.phase is Phase.DISCHARGED and episode.discharge.reason_code == "1"
    resp = client.post(
        f"/episodes/readmit/{person.id}",
        data={"admitted_on": "2026-11-25", "counselor": str(counselor.id)},
    )
    assert resp.status_code == 302
    db.session.refresh(person)
    assert [e.number for e in person.episodes] == [1, 2] and person.episodes[
        1
    ].phase is Phase.INTAKE
    page = client.get(f"/clients/{person.id}").text
    assert "Episode 2 (current)" in page and "Episode 1:" in page
    assert {"phase_changes.created", "discharges.created", "episode.admitted"} <= set(actions())


def test_detox_may_be_skipped_with_a_reason(client, manager):
    _, episode = admitted(manager, None)
    assert move(client, episode, "rehab", reason="No withdrawal risk at intake").status_code == 302
    db.session.refresh(episode)
    assert episode.phase is Phase.REHAB


def test_moves_need_a_reason(client, manager):
    _, episode = admitted(manager, None)
    resp = move(client, episode, "detox", reason="")
    assert resp.status_code == 200 and 'id="reason-error"' in resp.text
    db.session.refresh(episode)
    assert episode.phase is Phase.INTAKE


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (Phase.INTAKE, "aftercare"),
        (Phase.DETOX, "aftercare"),
        (Phase.DETOX, "detox"),
        (Phase.INTAKE, "intake"),
        (Phase.DETOX, "discharged"),
        (Phase.REHAB, "nonsense"),
    ],
)
def test_refused_moves_change_nothing(client, manager, start, target):
    _, episode = admitted(manager, None, start)
    before = len(episode.phase_changes)
    resp = move(client, episode, target)
    assert resp.status_code == 200 and 'id="target-error"' in resp.text
    db.session.refresh(episode)
    assert episode.phase is start and len(episode.phase_changes) == before


def test_the_form_offers_only_legal_moves(client, manager):
    _, episode = admitted(manager, None, Phase.DETOX)
    page = client.get(f"/episodes/{episode.id}/phase").text
    assert (
        'value="rehab"' in page and 'value="aftercare"' not in page and 'value="intake"' not in page
    )


def test_relapse_back_edges(client, manager):
    _, episode = admitted(manager, None, Phase.AFTERCARE)
    assert (
        move(client, episode, "detox", reason="Relapse; needs withdrawal management").status_code
        == 302
    )
    assert move(client, episode, "rehab").status_code == 302
    db.session.refresh(episode)
    assert episode.phase is Phase.REHAB


def test_future_dated_moves_are_refused(client, manager):
    _, episode = admitted(manager, None)
    resp = move(client, episode, "detox", when="2026-11-25T12:00")
    assert resp.status_code == 200 and "future" in resp.text


def test_back_dated_moves_need_a_reason_and_are_flagged(client, manager):
    _, episode = admitted(manager, None)
    resp = move(client, episode, "detox", when="2026-11-24T22:00")
    assert resp.status_code == 200 and 'id="backdate_reason-error"' in resp.text
    resp = move(
        client, episode, "detox", when="2026-11-24T22:00", late="Night shift, charted next morning"
    )
    assert resp.status_code == 302
    change = db.session.scalar(sa.select(PhaseChange).where(PhaseChange.to_phase == Phase.DETOX))
    assert change.effective_at == datetime(2026, 11, 25, 3, 0, tzinfo=UTC)  # 22:00 EST
    assert (
        change.recorded_at == NOW
        and "late entry" in client.get(f"/clients/{episode.client_id}").text
    )


def test_moves_cannot_be_dated_before_the_previous_move(client, manager):
    _, episode = admitted(manager, None, Phase.DETOX)  # moved to detox on 2026-11-02
    resp = move(client, episode, "rehab", when="2026-11-01T08:00", late="typo")
    assert resp.status_code == 200 and "previous move" in resp.text


def test_leaving_rehab_early_warns_but_is_allowed(client, manager):
    _, episode = admitted(manager, None, Phase.REHAB)  # rehab from 2026-11-03
    resp = move(client, episode, "aftercare")
    assert resp.status_code == 302
    assert "Only 23 days in rehab" in client.get(resp.headers["Location"]).text


def test_rehab_past_180_days_is_flagged_on_the_chart(client, make):
    with time_machine.travel(NOW, tick=False):
        manager = make.user(Role.CLINIC_MANAGER)
        person, _ = admitted(manager, None, Phase.REHAB)
    later = datetime(2027, 6, 1, 15, tzinfo=UTC)
    with time_machine.travel(later, tick=False):
        client.post(
            "/login",
            data={"login": manager.login, "password": "a long and memorable test passphrase"},
        )
        page = client.get(f"/clients/{person.id}").text
        assert "Overdue" in page and "past the 180-day target" in page


def test_registered_guards_can_block_a_move(client, manager, monkeypatch):
    """The hook the detox issue uses for medical clearance."""
    monkeypatch.setitem(
        services.TRANSITION_GUARDS,
        (Phase.DETOX, Phase.REHAB),
        [lambda episode: "Not medically cleared yet."],
    )
    _, episode = admitted(manager, None, Phase.DETOX)
    resp = move(client, episode, "rehab")
    assert resp.status_code == 200 and "Not medically cleared yet." in resp.text
    db.session.refresh(episode)
    assert episode.phase is Phase.DETOX


@pytest.mark.parametrize("code", [c for c, _ in DISCHARGE_REASONS])
def test_discharge_with_each_teds_reason(client, manager, code):
    _, episode = admitted(manager, None, Phase.REHAB)
    resp = client.post(f"/episodes/{episode.id}/discharge", data=discharge_form(reason_code=code))
    assert resp.status_code == 302
    db.session.refresh(episode)
    assert episode.phase is Phase.DISCHARGED and episode.discharge.reason_code == code
    assert episode.discharged_on.isoformat() == "2026-11-25"
    page = client.get(f"/clients/{episode.client_id}").text
    assert f"TEDS {code} — " in page


def test_leaving_detox_against_advice_needs_the_time(client, manager):
    _, episode = admitted(manager, None, Phase.DETOX)
    resp = client.post(f"/episodes/{episode.id}/discharge", data=discharge_form(reason_code="2"))
    assert resp.status_code == 200 and 'id="left_at-error"' in resp.text
    resp = client.post(
        f"/episodes/{episode.id}/discharge",
        data=discharge_form(reason_code="2", left_at="2026-11-25T03:30"),
    )
    assert resp.status_code == 302
    db.session.refresh(episode)
    assert episode.discharge.left_at == datetime(2026, 11, 25, 8, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"discharged_on": "2026-12-01"}, "discharged_on"),
        ({"discharged_on": "2026-10-01"}, "discharged_on"),
        ({"last_contact_on": "2026-11-26", "discharged_on": "2026-11-25"}, "last_contact_on"),
        ({"reason_code": "9"}, "reason_code"),
        ({"reason_code": ""}, "reason_code"),
        ({"arrests_30d": "-1"}, "arrests_30d"),
        ({"employment": "astronaut"}, "employment"),
    ],
)
def test_bad_discharges_are_refused(client, manager, overrides, field):
    _, episode = admitted(manager, None, Phase.REHAB)
    resp = client.post(f"/episodes/{episode.id}/discharge", data=discharge_form(**overrides))
    assert resp.status_code == 200 and f'id="{field}-error"' in resp.text
    db.session.refresh(episode)
    assert episode.phase is Phase.REHAB and episode.discharge is None


def test_nothing_moves_out_of_discharged(client, manager):
    _, episode = admitted(manager, None, Phase.REHAB)
    client.post(f"/episodes/{episode.id}/discharge", data=discharge_form())
    assert move(client, episode, "rehab").status_code == 200
    resp = client.post(f"/episodes/{episode.id}/discharge", data=discharge_form())
    assert resp.status_code == 200 and "closed" in resp.text


def test_readmission_is_refused_while_an_episode_is_open(client, manager, make):
    counselor = make.user(Role.COUNSELOR)
    person, _ = admitted(manager, counselor)
    resp = client.post(
        f"/episodes/readmit/{person.id}",
        data={"admitted_on": "2026-11-25", "counselor": str(counselor.id)},
    )
    assert resp.status_code == 200 and "already has an open episode" in resp.text
    assert db.session.scalar(sa.select(sa.func.count(Episode.id))) == 1


def test_the_database_refuses_two_open_episodes(manager, make):
    person, _ = admitted(manager, None)
    db.session.add(
        Episode(
            client_id=person.id,
            number=2,
            admitted_on=NOW.date(),
            phase=Phase.INTAKE,
            phase_started_on=NOW.date(),
        )
    )
    with pytest.raises(sa.exc.IntegrityError):
        db.session.flush()
    db.session.rollback()


def test_reassigning_keeps_the_history(client, manager, make):
    first, second = (
        make.user(Role.COUNSELOR, full_name="First One"),
        make.user(Role.COUNSELOR, full_name="Second Two"),
    )
    _, episode = admitted(manager, first)
    url = f"/episodes/{episode.id}/assign"
    page = client.get(url).text
    resp = client.post(
        url, data={"counselor": str(second.id), "reason": "balance", "version": version_on(page)}
    )
    assert resp.status_code == 302
    db.session.refresh(episode)
    assert episode.primary_counselor_id == second.id
    assert [(a.counselor_id, a.ended_at is not None) for a in episode.assignments] == [
        (first.id, True),
        (second.id, False),
    ]
    page = client.get(url).text
    again = client.post(url, data={"counselor": str(second.id), "version": version_on(page)})
    assert "already the primary counselor" in again.text


def test_only_active_counselors_can_be_assigned(client, manager, make):
    nurse = make.user(Role.NURSE)
    _, episode = admitted(manager, None)
    resp = client.post(f"/episodes/{episode.id}/assign", data={"counselor": str(nurse.id)})
    assert resp.status_code == 200 and 'id="counselor-error"' in resp.text


def test_levels_of_care_form_a_dated_history(client, manager):
    _, episode = admitted(manager, None, Phase.DETOX)
    client.post(
        f"/episodes/{episode.id}/level-of-care",
        data={"setting": "inpatient", "code": "3.7-WM", "started_on": "2026-11-02"},
    )
    resp = client.post(
        f"/episodes/{episode.id}/level-of-care",
        data={"setting": "residential", "code": "3.5", "started_on": "2026-11-10"},
    )
    assert resp.status_code == 302
    db.session.refresh(episode)
    spans = [
        (s.code, s.code_system, s.started_on.isoformat(), s.ended_on and s.ended_on.isoformat())
        for s in episode.levels_of_care
    ]
    assert spans == [
        ("3.7-WM", "ASAM3", "2026-11-02", "2026-11-10"),
        ("3.5", "ASAM3", "2026-11-10", None),
    ]
    assert (
        "Clinically Managed High-Intensity Residential"
        in client.get(f"/clients/{episode.client_id}").text
    )


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"setting": "residential", "code": "9.9", "started_on": "2026-11-10"}, "code"),
        ({"setting": "spaceship", "code": "3.5", "started_on": "2026-11-10"}, "setting"),
        ({"setting": "residential", "code": "3.5", "started_on": "2026-12-10"}, "started_on"),
        ({"setting": "residential", "code": "3.5", "started_on": "2026-10-10"}, "started_on"),
    ],
)
def test_bad_levels_of_care_are_refused(client, manager, data, field):
    _, episode = admitted(manager, None)
    resp = client.post(f"/episodes/{episode.id}/level-of-care", data=data)
    assert resp.status_code == 200 and f'id="{field}-error"' in resp.text
    db.session.refresh(episode)
    assert episode.levels_of_care == []


def test_a_save_that_lost_a_race_is_refused_not_overwritten(client, manager, monkeypatch):
    """Another user's save lands between loading the episode and saving it (row D-01)."""
    _, episode = admitted(manager, None)
    real_move = services.move

    def racing_move(session, ep, move_, **kwargs):
        table = Episode.__table__
        session.execute(
            sa.update(table).where(table.c.id == ep.id).values(version=table.c.version + 1)
        )
        return real_move(session, ep, move_, **kwargs)

    monkeypatch.setattr(services, "move", racing_move)
    resp = move(client, episode, "detox")
    assert resp.status_code == 200 and "Someone else changed this episode" in resp.text
    db.session.expire_all()
    assert db.session.get(Episode, episode.id).phase is Phase.INTAKE


def test_an_admission_entered_late_accepts_moves_dated_back_to_its_days(client, manager, make):
    """Intake typed in on the 25th for an admission on the 23rd: detox on the 24th is valid."""
    counselor = make.user(Role.COUNSELOR)
    from tests.clients_helpers import intake_form

    resp = client.post(
        "/clients/new", data=intake_form(admitted_on="2026-11-23", counselor=str(counselor.id))
    )
    assert resp.status_code == 302
    episode = db.session.scalar(sa.select(Episode))
    resp = move(client, episode, "detox", when="2026-11-24T09:00", late="Entered after the fact")
    assert resp.status_code == 302, resp.text


def test_a_move_in_the_same_minute_as_admission_is_accepted(client, manager, make):
    from tests.clients_helpers import intake_form

    client.post("/clients/new", data=intake_form(counselor=str(make.user(Role.COUNSELOR).id)))
    episode = db.session.scalar(sa.select(Episode))
    assert move(client, episode, "detox", when=LOCAL_NOW).status_code == 302
    db.session.refresh(episode)
    first, second = episode.phase_changes
    assert second.effective_at >= first.effective_at

"""Recording, reading and listing drug screens through the web, per role."""

import re
from datetime import timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain import screens as panel
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.screens import Result
from casemgr.extensions import db
from casemgr.screens import services
from casemgr.screens.models import DrugScreen
from tests.clients_helpers import NOW, admitted
from tests.screens.helpers import recorded


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def care(make):
    """A counselor's client in rehab, another counselor's client in detox, and the staff."""
    manager, counselor, other = (
        make.user(Role.CLINIC_MANAGER),
        make.user(Role.COUNSELOR),
        make.user(Role.COUNSELOR),
    )
    nurse = make.user(Role.NURSE)
    mine, my_episode = admitted(manager, counselor, Phase.REHAB)
    theirs, their_episode = admitted(manager, other, Phase.DETOX, legal_first_name="Kim")
    return SimpleNamespace(
        manager=manager,
        counselor=counselor,
        other=other,
        nurse=nurse,
        mine=mine,
        my_episode=my_episode,
        theirs=theirs,
        their_episode=their_episode,
    )


def form(results=None, expected=(), **overrides) -> dict:
    """A screen POST body: every analyte negative unless `results` says otherwise."""
    given = results or {}
    data = {
        "collected_at": "2026-11-25T09:30",  # facility time; NOW is 10:00 there
        "specimen_type": "urine",
        "observed": "y",
        "temperature": "yes",
        "action_taken": "",
        "comments": "",
    }
    data |= {f"result_{code}": given.get(code, "negative") for code, _ in panel.PANEL}
    data |= {f"expected_{code}": "y" for code in expected}
    return {**data, **overrides}


def screens() -> list[DrugScreen]:
    return list(db.session.scalars(sa.select(DrugScreen).order_by(DrugScreen.id)))


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{field}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return match.group(1)


def test_expected_methadone_positive_reads_negative_with_the_marker(client, auth, care, frozen):
    auth.login(care.counselor)
    resp = client.post(
        f"/screens/new/{care.my_episode.id}",
        data=form({"methadone": "positive"}, expected={"methadone"}),
    )
    assert resp.status_code == 302
    assert resp.headers["Location"] == f"/clients/{care.mine.id}"
    (screen,) = screens()
    assert services.screen_summary(screen) == "negative"
    assert screen.collector_id == care.counselor.id and screen.observed
    assert screen.temperature_in_range is True
    assert screen.collected_at == NOW - timedelta(minutes=30)
    assert [r.analyte for r in screen.results] == [code for code, _ in panel.PANEL]
    methadone = next(r for r in screen.results if r.analyte == "methadone")
    assert methadone.result is Result.POSITIVE and methadone.expected
    page = client.get(f"/clients/{care.mine.id}").text
    assert ">negative</span>" in page and "Methadone (expected)" in page


def test_unexpected_fentanyl_positive_needs_the_action_taken(client, auth, care, frozen):
    auth.login(care.counselor)
    url = f"/screens/new/{care.my_episode.id}"
    resp = client.post(url, data=form({"fentanyl": "positive"}))
    assert resp.status_code == 200
    assert "unexpected positive" in error_of(resp.text, "action_taken")
    assert screens() == []
    resp = client.post(
        url, data=form({"fentanyl": "positive"}, action_taken="Safety plan; naloxone given.")
    )
    assert resp.status_code == 302
    (screen,) = screens()
    assert services.screen_summary(screen) == "positive"
    assert screen.action_taken == "Safety plan; naloxone given."


def test_a_refusal_is_recorded_with_nothing_tested_and_counts_as_positive(
    client, auth, care, frozen
):
    auth.login(care.nurse)
    url = f"/screens/new/{care.their_episode.id}"
    nothing = {code: "not_tested" for code, _ in panel.PANEL}
    resp = client.post(url, data=form(nothing, refused="y"))
    assert "refusal" in error_of(resp.text, "action_taken")
    resp = client.post(url, data=form(refused="y", action_taken="Counselor informed."))
    assert "not tested" in error_of(resp.text, "refused")  # results entered: contradiction
    assert screens() == []
    resp = client.post(url, data=form(nothing, refused="y", action_taken="Counselor informed."))
    assert resp.status_code == 302
    (screen,) = screens()
    assert screen.refused and {r.result for r in screen.results} == {Result.NOT_TESTED}
    assert panel.counts_as_positive(services.screen_summary(screen))
    assert ">refused</span>" in client.get(f"/clients/{care.theirs.id}").text


def test_expected_flag_on_a_non_medication_is_refused_next_to_it(client, auth, care, frozen):
    auth.login(care.counselor)
    resp = client.post(
        f"/screens/new/{care.my_episode.id}",
        data=form({"fentanyl": "positive"}, expected={"fentanyl"}, action_taken="x"),
    )
    assert resp.status_code == 200
    assert "(Buprenorphine or Methadone)" in error_of(resp.text, "expected_fentanyl")
    assert screens() == []


def test_expected_flag_needs_a_positive_result(client, auth, care, frozen):
    auth.login(care.counselor)
    resp = client.post(f"/screens/new/{care.my_episode.id}", data=form(expected={"methadone"}))
    assert "positive" in error_of(resp.text, "expected_methadone")
    assert screens() == []


def test_future_collection_time_is_refused_but_back_dating_is_allowed(client, auth, care, frozen):
    auth.login(care.counselor)
    url = f"/screens/new/{care.my_episode.id}"
    resp = client.post(url, data=form(collected_at="2026-11-25T10:05"))
    assert "future" in error_of(resp.text, "collected_at")
    assert screens() == []
    assert client.post(url, data=form(collected_at="2026-11-20T08:00")).status_code == 302
    assert screens()[0].collected_at.isoformat() == "2026-11-20T13:00:00+00:00"


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"result_cocaine": "maybe"}, "result_cocaine"),
        ({"specimen_type": "hair"}, "specimen_type"),
        ({"temperature": "warm"}, "temperature"),
        ({"collected_at": "yesterday"}, "collected_at"),
    ],
)
def test_bad_values_are_refused_next_to_their_field(client, auth, care, frozen, overrides, field):
    auth.login(care.counselor)
    resp = client.post(f"/screens/new/{care.my_episode.id}", data=form(**overrides))
    assert resp.status_code == 200
    error_of(resp.text, field)
    assert screens() == []


def test_the_form_defaults_to_now_and_offers_the_expected_flag_only_for_medications(
    client, auth, care, frozen
):
    auth.login(care.counselor)
    page = client.get(f"/screens/new/{care.my_episode.id}").text
    assert 'value="2026-11-25T10:00"' in page
    assert 'name="expected_methadone"' in page and 'name="expected_buprenorphine"' in page
    assert 'name="expected_fentanyl"' not in page
    for code, label in panel.PANEL:
        assert f'name="result_{code}"' in page and label in page


def test_adding_an_analyte_to_the_panel_needs_no_other_change(
    client, auth, care, frozen, monkeypatch
):
    monkeypatch.setattr(panel, "PANEL", (*panel.PANEL, ("xylazine", "Xylazine")))
    auth.login(care.counselor)
    url = f"/screens/new/{care.my_episode.id}"
    page = client.get(url).text
    assert 'name="result_xylazine"' in page and ">Xylazine</label>" in page
    resp = client.post(url, data=form({"xylazine": "positive"}, action_taken="Told physician."))
    assert resp.status_code == 302
    (screen,) = screens()
    assert screen.results[-1].analyte == "xylazine"
    assert "Xylazine" in client.get(f"/clients/{care.mine.id}").text


def test_nurse_and_counselor_record_for_clients_in_their_care(client, auth, care, frozen):
    auth.login(care.nurse)
    assert client.post(f"/screens/new/{care.their_episode.id}", data=form()).status_code == 302
    assert client.get(f"/screens/new/{care.my_episode.id}").status_code == 404  # not in detox
    auth.logout()
    auth.login(care.counselor)
    assert client.post(f"/screens/new/{care.my_episode.id}", data=form()).status_code == 302
    assert [s.collector_id for s in screens()] == [care.nurse.id, care.counselor.id]


def test_counselor_gets_404_for_another_counselors_client(client, auth, care, frozen):
    screen = recorded(care.their_episode, care.nurse)
    auth.login(care.counselor)
    for url in (
        f"/screens/new/{care.their_episode.id}",
        f"/screens/{screen.id}",
        f"/screens/client/{care.theirs.id}",
    ):
        assert client.get(url).status_code == 404, url
    assert client.post(f"/screens/new/{care.their_episode.id}", data=form()).status_code == 404
    assert len(screens()) == 1
    denied = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "authz.denied")
    ).all()
    assert {e.client_id for e in denied} == {care.theirs.id}


def test_manager_reads_but_cannot_record(client, auth, care, frozen):
    screen = recorded(care.my_episode, care.counselor)
    auth.login(care.manager)
    assert client.get(f"/screens/new/{care.my_episode.id}").status_code == 403
    assert client.post(f"/screens/new/{care.my_episode.id}", data=form()).status_code == 403
    assert client.get(f"/screens/{screen.id}").status_code == 200
    assert client.get(f"/screens/client/{care.mine.id}").status_code == 200
    page = client.get(f"/clients/{care.mine.id}").text
    assert "All screens" in page and "Record a screen" not in page
    assert len(screens()) == 1


def test_admin_cannot_read_screens(client, auth, care, frozen):
    screen = recorded(care.my_episode, care.counselor)
    auth.login(Role.ADMIN)
    assert client.get(f"/screens/{screen.id}").status_code == 403
    assert client.get(f"/screens/client/{care.mine.id}").status_code == 403


def test_no_screen_is_recorded_on_a_closed_episode(client, auth, care, frozen):
    from casemgr.episodes.models import Episode

    db.session.get(Episode, care.my_episode.id).phase = Phase.DISCHARGED
    db.session.commit()
    auth.login(care.counselor)
    assert client.get(f"/screens/new/{care.my_episode.id}").status_code == 403


def test_reading_a_screen_is_a_view_event(client, auth, care, frozen):
    screen = recorded(
        care.my_episode, care.counselor, results={"cocaine": "invalid"}, action_taken="Recollect."
    )
    auth.login(care.manager)
    page = client.get(f"/screens/{screen.id}").text
    assert ">invalid</span>" in page and "Recollect." in page and "Cocaine" in page
    assert "not edited" in page  # corrections are new screens
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "drug_screen.viewed")
    )
    assert event.object_id == str(screen.id) and event.client_id == care.mine.id
    assert event.actor_id == care.manager.id


def test_unknown_screen_is_404(client, auth, care, frozen):
    auth.login(care.manager)
    assert client.get("/screens/999999").status_code == 404


def test_client_page_shows_the_five_latest_screens(client, auth, care, frozen):
    made = [
        recorded(care.my_episode, care.counselor, collected_at=NOW - timedelta(days=6 - i))
        for i in range(5)
    ]
    latest = recorded(
        care.my_episode,
        care.counselor,
        results={"methadone": "positive", "fentanyl": "positive"},
        expected={"methadone"},
        action_taken="Discussed.",
    )
    auth.login(care.manager)
    page = client.get(f"/clients/{care.mine.id}").text
    shown = [int(i) for i in re.findall(r'href="/screens/(\d+)"', page)]
    assert shown == [latest.id, *[s.id for s in reversed(made[1:])]]
    assert ">positive</span>" in page and "Fentanyl, Methadone (expected)" in page
    assert "badge-danger" in page and "badge-ok" in page  # colour as well as the word
    assert f'href="/screens/client/{care.mine.id}"' in page


def test_client_page_without_screens_says_so(client, auth, care, frozen):
    auth.login(care.counselor)
    page = client.get(f"/clients/{care.mine.id}").text
    assert "No drug screens recorded." in page
    assert f'href="/screens/new/{care.my_episode.id}"' in page


def test_history_is_paginated_newest_first(client, auth, care, frozen):
    made = [
        recorded(care.my_episode, care.counselor, collected_at=NOW - timedelta(hours=i))
        for i in range(services.PAGE_SIZE + 1)
    ]
    auth.login(care.manager)
    first = client.get(f"/screens/client/{care.mine.id}").text
    ids = [int(i) for i in re.findall(r'href="/screens/(\d+)"', first)]
    assert ids == [s.id for s in made[: services.PAGE_SIZE]] and "Older" in first
    second = client.get(f"/screens/client/{care.mine.id}?page=2").text
    assert [int(i) for i in re.findall(r'href="/screens/(\d+)"', second)] == [made[-1].id]
    assert "Newer" in second and "Older" not in second
    assert client.get(f"/screens/client/{care.mine.id}?page=-3").status_code == 200
    assert client.get(f"/screens/client/{care.mine.id}?page=99999999999999").status_code == 200


def test_history_and_chart_query_counts_do_not_grow(client, auth, care, frozen, count_queries):
    recorded(care.my_episode, care.counselor)
    auth.login(care.manager)
    urls = (f"/screens/client/{care.mine.id}", f"/clients/{care.mine.id}")
    for url in urls:
        client.get(url)
    with count_queries() as few_history:
        client.get(urls[0])
    with count_queries() as few_chart:
        client.get(urls[1])
    for i in range(services.PAGE_SIZE + 5):
        recorded(
            care.my_episode,
            care.nurse if i % 2 else care.counselor,
            results={"cocaine": "positive"},
            action_taken="Discussed.",
            collected_at=NOW - timedelta(hours=i + 1),
        )
    client.get(urls[0])  # the commits above expired the signed-in user; reload it first
    with count_queries() as many_history:
        client.get(urls[0])
    with count_queries() as many_chart:
        client.get(urls[1])
    assert many_history.count == few_history.count
    assert many_chart.count == few_chart.count

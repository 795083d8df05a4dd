"""Printing from the browser: the form, the download, who may print what, and a failure that
leaves nothing behind."""

import logging
from datetime import date

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import record
from casemgr.printing.models import PrintedReport
from casemgr.printing.pdf import sha256
from tests.printing.helpers import (
    PURPOSE,
    assert_framed,
    client_in,
    discharged_client,
    frozen,
    rehab_client,
    staff,
)


@pytest.fixture
def team(make):
    return staff(make)


@pytest.fixture
def clock():
    with frozen():
        yield


def progress_url(person) -> str:
    return f"/print/clients/{person.id}/progress"


def printed() -> list[PrintedReport]:
    return list(db.session.scalars(sa.select(PrintedReport).order_by(PrintedReport.id)))


def post_progress(client, person, **fields):
    data = {"start": "2026-11-01", "end": "2026-11-25", "purpose": PURPOSE, **fields}
    return client.post(progress_url(person), data=data)


def test_the_form_offers_the_episode_to_date(client, auth, team, clock):
    person, _ = rehab_client(team)
    auth.login(team.manager)
    page = client.get(progress_url(person))
    assert page.status_code == 200
    assert 'value="2026-11-01"' in page.text and 'value="2026-11-25"' in page.text
    assert "Purpose" in page.text and "Disclose" in page.text  # outside: through a consent
    assert person.mrn in page.text


def test_a_manager_downloads_a_recorded_and_audited_pdf(client, auth, team, clock):
    person, episode = rehab_client(team)
    auth.login(team.manager)
    resp = post_progress(client, person, recipient="County Drug Court")  # not a field: ignored
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="progress-{person.mrn}-2026-11-25.pdf"'
    )
    assert resp.headers["Cache-Control"] == "no-store"
    pages = assert_framed(resp.data)
    assert "County Drug Court" not in pages[0] and "Morgan Manager, MSW" in pages[0]
    (row,) = printed()
    assert row.sha256 == sha256(resp.data) and row.kind == "progress"
    assert (row.client_id, row.episode_id, row.generated_by_id) == (
        person.id,
        episode.id,
        team.manager.id,
    )
    assert (row.period_start, row.period_end) == (date(2026, 11, 1), date(2026, 11, 25))
    assert row.generated_at.microsecond == 0
    assert record.check(db.session, row)  # the stored record renders the same bytes
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.client_id == person.id)
    ).all()
    assert "report.printed" in actions


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"purpose": ""}, "Say why the report is printed."),
        ({"end": "2026-11-26"}, "The period cannot end after today (2026-11-25)."),
        (
            {"start": "2026-11-20", "end": "2026-11-10"},
            "The end of the period is before its start.",
        ),
        ({"start": "25/11/2026"}, "Enter a date as YYYY-MM-DD"),
    ],
)
def test_invalid_choices_are_shown_next_to_their_field(client, auth, team, clock, fields, message):
    person, _ = client_in(team, Phase.INTAKE)
    auth.login(team.manager)
    resp = post_progress(client, person, **fields)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert message in resp.text
    assert printed() == []


def test_a_counselor_prints_for_their_own_caseload_only(client, auth, team, make, clock):
    mine, _ = client_in(team, Phase.REHAB, legal_first_name="Mine")
    other_counselor = make.user(Role.COUNSELOR)
    with frozen():
        from tests.clients_helpers import admitted

        theirs, _ = admitted(team.manager, other_counselor, Phase.REHAB, legal_first_name="Theirs")
    auth.login(team.counselor)
    assert post_progress(client, mine).mimetype == "application/pdf"
    assert client.get(progress_url(theirs)).status_code == 404  # out of scope looks absent
    assert post_progress(client, theirs).status_code == 404
    assert [r.client_id for r in printed()] == [mine.id]


def test_nurses_may_not_print_reports(client, auth, team, clock):
    person, episode = client_in(team, Phase.DETOX)  # in detox: the nurse can see the chart
    auth.login(team.nurse)
    assert client.get(progress_url(person)).status_code == 403
    assert post_progress(client, person).status_code == 403
    assert client.get(f"/print/episodes/{episode.id}/discharge").status_code == 403
    assert printed() == []


def test_a_failed_rendering_keeps_nothing_and_says_so(
    client, auth, team, clock, monkeypatch, caplog
):
    person, _ = rehab_client(team)

    def broken(session, row):
        raise RuntimeError("font went missing")

    monkeypatch.setitem(record.RENDERERS, "progress", broken)
    auth.login(team.manager)
    with caplog.at_level(logging.ERROR, logger="casemgr"):
        resp = post_progress(client, person)
    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "The report could not be produced. Nothing was printed or recorded" in resp.text
    assert printed() == []
    assert "font went missing" in caplog.text
    actions = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.client_id == person.id)
    ).all()
    assert "report.failed" in actions and "report.printed" not in actions


def test_the_discharge_summary_of_a_discharged_episode(client, auth, team, clock):
    person, episode = discharged_client(team)
    auth.login(team.counselor)  # the counselor who had the episode
    url = f"/print/episodes/{episode.id}/discharge"
    assert client.get(url).status_code == 200
    resp = client.post(url, data={"purpose": "Referral to County IOP"})
    assert resp.mimetype == "application/pdf"
    assert resp.headers["Content-Disposition"] == (
        f'attachment; filename="discharge-{person.mrn}-2026-11-25.pdf"'
    )
    pages = assert_framed(resp.data)
    assert pages[0].startswith("Discharge summary") and "Treatment completed" in pages[0]
    (row,) = printed()
    assert row.kind == "discharge" and row.episode_id == episode.id
    assert (row.period_start, row.period_end) == (date(2026, 11, 1), date(2026, 11, 25))


def test_an_open_episode_has_no_discharge_summary(client, auth, team, clock):
    _, episode = client_in(team, Phase.REHAB)
    auth.login(team.manager)
    url = f"/print/episodes/{episode.id}/discharge"
    for resp in (client.get(url), client.post(url, data={"purpose": PURPOSE})):
        assert resp.status_code == 409
        assert "is not discharged" in resp.text
    assert printed() == []


def test_unknown_client_or_episode_is_404(client, auth, team, clock):
    auth.login(team.manager)
    assert client.get("/print/clients/999/progress").status_code == 404
    assert client.get("/print/episodes/999/discharge").status_code == 404

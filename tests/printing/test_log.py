"""The record of what was printed: the log of print records (who, when, which client, period,
purpose, recipient, SHA-256, batch) and the re-check that re-renders a record and compares
hashes. Clinic managers only; every re-check is audited."""

import json
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import batch, record
from casemgr.printing.batch_views import CHANGED, UNCHANGED
from casemgr.printing.models import PrintedReport
from tests.clients_helpers import NOW, TODAY
from tests.notes.helpers import session_with_note
from tests.printing.batch_helpers import (
    batch_id_of,
    clients,
    fake_progress,
    reports_of,
    signed_note,
    submit,
)


@pytest.fixture
def app(app_factory):
    app = app_factory(BATCH_RUNNER="inline", BATCH_SQLITE_PAUSE_MS=0)
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture(autouse=True)
def renderer(monkeypatch):
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)
    monkeypatch.setitem(record.RENDERERS, "census", fake_census)


def fake_census(session, row):
    return b"%PDF-census " + row.generated_at.isoformat().encode(), 1


@pytest.fixture
def clinic(make):
    with time_machine.travel(NOW, tick=False):
        manager, counselor = make.user(Role.CLINIC_MANAGER), make.user(Role.COUNSELOR)
        yield SimpleNamespace(manager=manager, counselor=counselor)


def print_one(by, person=None, episode=None, *, kind="progress", at=NOW, purpose="Review"):
    """One print outside any batch, as the single-client print page records it."""
    row = record.draft(
        kind=kind,
        generated_at=at,
        by=by,
        client_id=person.id if person else None,
        episode_id=episode.id if episode else None,
        period=(date(2026, 11, 1), TODAY) if person else (None, None),
        purpose=purpose,
        recipient="County court" if person else "",
    )
    record.produce(db.session, row)
    db.session.commit()
    return row


def test_the_log_lists_every_print_with_its_client_period_and_hash(client, auth, clinic):
    people = clients(clinic.manager, clinic.counselor, 2)
    auth.login(clinic.manager)
    batch_id = batch_id_of(submit(client, purpose="Payer review", recipient="Blue Plan"))
    single = print_one(clinic.manager, *people[0])
    census = print_one(clinic.manager, kind="census", purpose="Board meeting")
    page = client.get("/print/log")
    assert page.status_code == 200
    text = page.text
    for row in [*reports_of(batch_id), single]:
        person = db.session.get(type(people[0][0]), row.client_id)
        assert f'id="print-{row.id}"' in text
        assert f"{person.display_name} · {person.mrn}" in text
        assert f'<code title="{row.sha256}">{row.sha256[:12]}…</code>' in text
    assert text.count(f'href="/print/batches/{batch_id}"') == 2
    assert "Payer review" in text and "County court" in text  # a recorded disclosure's recipient
    assert "2026-11-01 – 2026-11-25" in text
    assert clinic.manager.display_name in text
    assert f'<code title="{census.sha256}">' in text and "Board meeting" in text
    # Newest first: the census printed last is listed first.
    assert text.index(f'id="print-{census.id}"') < text.index(f'id="print-{single.id}"')


def test_the_log_page_runs_a_fixed_number_of_queries(client, auth, clinic, make, count_queries):
    people = clients(clinic.manager, clinic.counselor, 12)
    print_one(clinic.manager, *people[0])
    auth.login(clinic.manager)
    client.get("/print/log")  # warm up
    with count_queries() as few:
        assert client.get("/print/log").status_code == 200
    for person, episode in people[1:]:
        print_one(make.user(Role.CLINIC_MANAGER), person, episode)
    print_one(clinic.manager, kind="census")
    client.get("/print/log")  # the signed-in user, expired by those commits, is loaded again
    with count_queries() as many:
        page = client.get("/print/log")
    assert page.text.count('id="print-') == 13
    assert many.count == few.count, many.statements


def test_the_log_filters_by_report_and_date(client, auth, clinic):
    ((person, episode),) = clients(clinic.manager, clinic.counselor, 1)
    old = print_one(clinic.manager, person, episode, at=NOW - timedelta(days=10))
    new = print_one(clinic.manager, person, episode)
    census = print_one(clinic.manager, kind="census")
    auth.login(clinic.manager)

    def listed(**args):
        page = client.get("/print/log", query_string=args)
        assert page.status_code == 200
        return {r.id for r in (old, new, census) if f'id="print-{r.id}"' in page.text}

    assert listed() == {old.id, new.id, census.id}
    assert listed(kind="progress") == {old.id, new.id}
    assert listed(kind="census") == {census.id}
    assert listed(since="2026-11-20") == {new.id, census.id}
    assert listed(until="2026-11-15") == {old.id}
    assert listed(since="2026-11-25", until="2026-11-25", kind="progress") == {new.id}
    assert client.get("/print/log?since=2026-11-20&until=2026-11-01").status_code == 400
    assert client.get("/print/log?kind=nonsense").status_code == 400


def test_the_log_is_paged(client, auth, clinic):
    for i in range(batch.LOG_PAGE_SIZE + 1):
        print_one(clinic.manager, kind="census", at=NOW - timedelta(minutes=i))
    auth.login(clinic.manager)
    first = client.get("/print/log?kind=census").text
    assert first.count('id="print-') == batch.LOG_PAGE_SIZE and "Older" in first
    assert "/print/log?page=2&amp;kind=census" in first
    second = client.get("/print/log?kind=census&page=2").text
    assert second.count('id="print-') == 1 and "Newer" in second


def test_the_log_shows_only_clients_in_the_users_scope(clinic, make):
    mine = clients(clinic.manager, clinic.counselor, 1)
    theirs = clients(clinic.manager, make.user(Role.COUNSELOR), 1, first=2)
    rows = [print_one(clinic.manager, *pair) for pair in mine + theirs]
    everyone, _ = batch.printed(db.session, batch.LogFilter(), 1, clinic.manager)
    assert [line.report.id for line in everyone] == [rows[1].id, rows[0].id]
    own, _ = batch.printed(db.session, batch.LogFilter(), 1, clinic.counselor)
    assert [line.report.id for line in own] == [rows[0].id]
    assert batch.load_printed(db.session, rows[1].id, clinic.counselor) is None


def verified_events() -> list[dict]:
    stmt = sa.select(AuditEvent.detail).where(AuditEvent.action == "report.verified")
    return [json.loads(d) for d in db.session.scalars(stmt.order_by(AuditEvent.seq))]


def test_a_recheck_reports_unchanged_then_changed_after_a_signed_note(client, auth, clinic):
    ((person, episode),) = clients(clinic.manager, clinic.counselor, 1)
    signed_note(episode, clinic.counselor, date(2026, 11, 10), "Engaged in group work.")
    row = print_one(clinic.manager, person, episode)
    auth.login(clinic.manager)
    page = client.post(f"/print/log/{row.id}/verify?kind=progress", follow_redirects=True)
    assert page.status_code == 200
    assert f"Print record {row.id} is {UNCHANGED}" in page.text
    assert UNCHANGED == "unchanged: the report re-renders to the same SHA-256"
    assert page.request.path == "/print/log" and page.request.args["kind"] == "progress"
    # A note signed later for a session inside the period changes what the report shows.
    signed_note(episode, clinic.counselor, date(2026, 11, 20), "Relapse risk discussed.")
    page = client.post(f"/print/log/{row.id}/verify", follow_redirects=True)
    assert f"Print record {row.id} has {CHANGED}" in page.text
    assert CHANGED == "changed since printed: the records behind it were edited or added to"
    assert verified_events() == [
        {"kind": "progress", "unchanged": True},
        {"kind": "progress", "unchanged": False},
    ]
    actors = db.session.scalars(
        sa.select(AuditEvent.actor_login).where(AuditEvent.action == "report.verified")
    ).all()
    assert actors == [clinic.manager.login] * 2
    db.session.expire_all()
    assert db.session.get(PrintedReport, row.id).sha256 == row.sha256  # the record is untouched


def test_a_recheck_of_a_batch_print_after_a_draft_note_is_unchanged(client, auth, clinic):
    ((_, episode),) = clients(clinic.manager, clinic.counselor, 1)
    auth.login(clinic.manager)
    (row,) = reports_of(batch_id_of(submit(client)))
    session_with_note(episode, clinic.counselor, day=date(2026, 11, 12))  # a draft
    page = client.post(f"/print/log/{row.id}/verify", follow_redirects=True)
    assert f"is {UNCHANGED}" in page.text


def test_a_recheck_of_a_missing_record_or_one_without_a_renderer(client, auth, clinic, monkeypatch):
    row = print_one(clinic.manager, kind="census")
    auth.login(clinic.manager)
    assert client.post("/print/log/999/verify").status_code == 404
    monkeypatch.delitem(record.RENDERERS, "census")
    page = client.post(f"/print/log/{row.id}/verify", follow_redirects=True)
    assert "cannot be re-rendered here" in page.text
    assert verified_events() == []


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.ADMIN, Role.SUPERVISOR])
def test_only_clinic_managers_read_the_log_or_recheck(client, auth, clinic, role):
    row = print_one(clinic.manager, kind="census")
    auth.login(role)
    assert client.get("/print/log").status_code == 403
    assert client.post(f"/print/log/{row.id}/verify").status_code == 403
    assert verified_events() == []

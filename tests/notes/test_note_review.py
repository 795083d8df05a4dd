"""Supervision: a supervised clinician's signed note waits for co-signature; the supervisor
approves it or returns it with comments; the queue page and the supervisor's home panel."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.domain.notes import NoteStatus
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.notes import services
from casemgr.notes.models import Note, NoteReview
from tests.clients_helpers import NOW, admitted
from tests.conftest import version_on
from tests.factories import PASSWORD
from tests.notes.helpers import session_with_note

FROZEN = datetime(2026, 11, 25, 15, tzinfo=UTC)  # 10:00 at the facility


def frozen():
    return time_machine.travel(FROZEN, tick=False)


def field_error(page: str, field: str) -> str:
    match = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', page, flags=re.S)
    return match.group(1) if match else ""


def note_links(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/notes/(\d+)"', html)]


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER)


@pytest.fixture
def trainee(make):
    return make.user(
        Role.COUNSELOR, full_name="Tess Trainee", credentials="CADC-T", needs_supervision=True
    )


@pytest.fixture
def supervisor(make):
    return make.user(Role.SUPERVISOR, full_name="Sam Supervisor", credentials="LCADC")


def signed_by(author, manager, *, at: datetime = NOW, **client) -> Note:
    _, episode = admitted(manager, author, Phase.REHAB, **client)
    _, note = session_with_note(episode, author)
    services.sign(db.session, note, PASSWORD, actor=author, now=at)
    db.session.commit()
    return note


def test_a_supervised_clinicians_note_waits_for_cosignature(trainee, manager):
    note = signed_by(trainee, manager)
    assert note.status is NoteStatus.SIGNED and note.needs_cosign


def test_supervisor_approves_with_their_password(client, auth, trainee, manager, supervisor):
    note = signed_by(trainee, manager)
    with frozen():
        auth.login(supervisor)
        page = client.get(f"/notes/{note.id}").text
        wrong = client.post(f"/notes/{note.id}/cosign", data={"password": "not it"})
        db.session.expire_all()
        assert db.session.get(Note, note.id).status is NoteStatus.SIGNED
        resp = client.post(f"/notes/{note.id}/cosign", data={"password": PASSWORD})
        shown = client.get(f"/notes/{note.id}").text
        queue = client.get("/notes/review").text
    assert "Awaiting a supervisor's co-signature." in page
    assert "Approve and co-sign" in page and "Return to author" in page
    assert wrong.status_code == 400
    assert "The password is not correct" in field_error(wrong.text, "password")
    assert resp.status_code == 302 and resp.headers["Location"] == "/notes/review"
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.status is NoteStatus.COSIGNED and note.cosigned_at == FROZEN
    assert (note.cosigner_name, note.cosigner_credentials) == ("Sam Supervisor", "LCADC")
    assert services.verify(note)  # co-signing changes nothing the signature covers
    assert [r.action for r in note.reviews] == ["approved"]
    assert "Co-signed by <bdi>Sam Supervisor</bdi>, LCADC on 2026-11-25 10:00" in shown
    assert "Content verified" in shown and "Approve and co-sign" not in shown
    assert "No notes are waiting for co-signature." in queue
    refused = db.session.scalars(
        sa.select(AuditEvent.action).where(AuditEvent.action == "note.cosign_refused")
    ).all()
    assert refused == ["note.cosign_refused"]


def test_supervisor_returns_a_note_and_the_author_revises_and_resigns(
    client, auth, trainee, manager, supervisor
):
    note = signed_by(trainee, manager)
    with frozen():
        auth.login(supervisor)
        empty = client.post(f"/notes/{note.id}/return", data={"comments": "  "})
        resp = client.post(
            f"/notes/{note.id}/return", data={"comments": "Assessment does not follow the data."}
        )
    assert empty.status_code == 400
    assert "Say what needs revising." in field_error(empty.text, "comments")
    assert resp.status_code == 302
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.status is NoteStatus.DRAFT and note.needs_cosign
    assert note.signed_at is None and note.content_sha256 == "" and note.signer_name == ""
    (review,) = note.reviews
    assert (review.action, review.comments) == ("returned", "Assessment does not follow the data.")

    with frozen():
        auth.logout()
        auth.login(trainee)
        page = client.get(f"/notes/{note.id}").text
        form = client.get(f"/notes/{note.id}/edit").text
        client.post(
            f"/notes/{note.id}/edit",
            data={
                "session_date": "2026-11-25",
                "start_time": "09:00",
                "end_time": "09:50",
                "session_type": "individual",
                "setting": "on_site",
                "attendance": "attended",
                "section_data": "Reports cravings 6/10.",
                "section_assessment": "Cravings follow family contact.",
                "section_plan": "Urge surfing.",
                "version": version_on(form),
            },
        )
        client.post(f"/notes/{note.id}/sign", data={"password": PASSWORD})
    assert "Draft — not signed" in page and "Review history" in page
    assert "returned it for revision: " in page and "Assessment does not follow the data." in page
    assert "Returned for revision" in form and "Assessment does not follow the data." in form
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert note.status is NoteStatus.SIGNED and note.needs_cosign and services.verify(note)
    assert note.sections["assessment"] == "Cravings follow family contact."
    assert [r.action for r in note.reviews] == ["returned"]  # the comments are kept


def test_notes_not_needing_cosignature_cannot_be_cosigned(client, auth, make, manager, supervisor):
    licensed = make.user(Role.COUNSELOR)
    note = signed_by(licensed, manager)
    with frozen():
        auth.login(supervisor)
        page = client.get(f"/notes/{note.id}").text
        crafted = client.post(f"/notes/{note.id}/cosign", data={"password": PASSWORD})
        shown = client.get(crafted.headers["Location"]).text
    assert "Approve and co-sign" not in page and "Supervisor review" not in page
    assert crafted.status_code == 302 and "This note does not need a co-signature." in shown
    db.session.expire_all()
    assert db.session.get(Note, note.id).status is NoteStatus.SIGNED
    assert db.session.scalar(sa.select(sa.func.count()).select_from(NoteReview)) == 0


def test_nobody_cosigns_their_own_note(client, auth, make, manager):
    both = make.user(Role.COUNSELOR, Role.SUPERVISOR, needs_supervision=True)
    note = signed_by(both, manager)
    with frozen():
        auth.login(both)
        queue = client.get("/notes/review").text
        assert (
            client.post(f"/notes/{note.id}/cosign", data={"password": PASSWORD}).status_code == 403
        )
    assert f"/notes/{note.id}" not in queue


def test_the_author_cannot_cosign_or_return(client, auth, trainee, manager):
    note = signed_by(trainee, manager)
    with frozen():
        auth.login(trainee)
        assert (
            client.post(f"/notes/{note.id}/cosign", data={"password": PASSWORD}).status_code == 403
        )
        assert client.post(f"/notes/{note.id}/return", data={"comments": "x"}).status_code == 403


def test_no_addendum_while_waiting_for_cosignature(client, auth, trainee, manager):
    note = signed_by(trainee, manager)
    with frozen():
        auth.login(trainee)
        page = client.get(f"/notes/{note.id}").text
        resp = client.post(
            f"/notes/{note.id}/addendum", data={"reason": "x", "text": "y"}, follow_redirects=True
        )
    assert "Add addendum" not in page
    assert "waiting for co-signature; ask the supervisor to return it" in resp.text
    assert db.session.get(Note, note.id).addenda == []


def test_the_queue_lists_the_longest_waiting_first(client, auth, make, manager, supervisor):
    trainee = make.user(Role.COUNSELOR, needs_supervision=True)
    newer = signed_by(trainee, manager, at=NOW, legal_last_name="Newer")
    older = signed_by(trainee, manager, at=NOW - timedelta(days=2), legal_last_name="Older")
    licensed = signed_by(make.user(Role.COUNSELOR), manager, legal_last_name="Licensed")
    with frozen():
        auth.login(supervisor)
        queue = client.get("/notes/review")
        home = client.get("/home/supervisor").text
        assert client.get("/notes/review?page=0").status_code == 400
        later = client.get("/notes/review?page=2").text
    assert queue.status_code == 200
    assert note_links(queue.text) == [older.id, newer.id]
    assert licensed.id not in note_links(queue.text)
    panel = re.search(r'<section[^>]*aria-labelledby="review-queue-h".*?</section>', home, re.S)
    assert "Notes waiting for co-signature (2)" in panel.group(0)
    assert note_links(panel.group(0)) == [older.id, newer.id]
    assert home.index("review-queue-h") < home.index("loads-h")  # work first
    assert "No more notes on this page." in later


@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.CLINIC_MANAGER, Role.ADMIN])
def test_only_supervisors_see_the_queue(client, auth, role):
    with frozen():
        auth.login(role)
        assert client.get("/notes/review").status_code == 403


def test_the_review_queue_uses_a_constant_number_of_queries(
    client, auth, make, manager, supervisor, count_queries
):
    def add(n: int, start: int) -> None:
        for i in range(start, start + n):
            author = make.user(Role.COUNSELOR, needs_supervision=True)
            signed_by(author, manager, at=NOW - timedelta(hours=i), legal_last_name=f"P{i:03d}")

    add(2, 0)
    with frozen():
        auth.login(supervisor)
        for url in ("/notes/review", "/home/supervisor"):
            client.get(url)
            with count_queries() as few:
                assert client.get(url).status_code == 200
            add(10, 100 if url.endswith("review") else 200)
            client.get(url)
            with count_queries() as many:
                page = client.get(url).text
            assert many.count == few.count, url
            assert len(note_links(page)) >= 10


def test_an_admin_flags_a_counselor_as_needing_supervision(client, auth, make):
    counselor = make.user(Role.COUNSELOR, full_name="Nia New")
    with frozen():
        auth.login(Role.ADMIN)
        form = client.get(f"/admin/staff/{counselor.id}/edit").text
        resp = client.post(
            f"/admin/staff/{counselor.id}/edit",
            data={
                "full_name": "Nia New",
                "roles": ["counselor"],
                "needs_supervision": "y",
                "version": version_on(form),
            },
        )
        again = client.get(f"/admin/staff/{counselor.id}/edit").text
        client.post(
            f"/admin/staff/{counselor.id}/edit",
            data={"full_name": "Nia New", "roles": ["counselor"], "version": version_on(again)},
        )
    assert '<label for="needs_supervision">Needs supervision</label>' in form
    assert resp.status_code == 302
    assert re.search(r'<input[^>]* checked id="needs_supervision"', again)
    db.session.expire_all()
    assert db.session.get(type(counselor), counselor.id).needs_supervision is False
    flagged = db.session.scalars(
        sa.select(AuditEvent.detail).where(AuditEvent.action == "users.updated")
    ).all()
    assert any('"needs_supervision":true' in d for d in flagged)

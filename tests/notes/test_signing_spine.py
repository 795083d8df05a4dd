"""Signing freezes a note: hash verifies, the ORM refuses changes, addenda stay separate."""

import pytest
import sqlalchemy as sa

from casemgr.domain.errors import DomainError
from casemgr.domain.notes import NoteStatus
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.notes import services
from casemgr.notes.models import Note, SignedNoteImmutable
from tests.clients_helpers import NOW, admitted
from tests.factories import PASSWORD
from tests.notes.helpers import session_with_note


@pytest.fixture
def signed(make):
    counselor = make.user(Role.COUNSELOR, credentials="LADC")
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), counselor)
    _, note = session_with_note(episode, counselor)
    services.sign(db.session, note, PASSWORD, actor=counselor, now=NOW)
    db.session.commit()
    return note, counselor


def test_signing_freezes_signer_and_stores_a_verifiable_hash(signed):
    note, counselor = signed
    assert note.status is NoteStatus.SIGNED and note.signer_credentials == "LADC"
    db.session.expire_all()
    note = db.session.get(Note, note.id)
    assert len(note.content_sha256) == 64 and services.verify(note)


def test_wrong_password_refuses_and_changes_nothing(make):
    counselor = make.user(Role.COUNSELOR)
    _, episode = admitted(make.user(Role.CLINIC_MANAGER), counselor)
    _, note = session_with_note(episode, counselor)
    with pytest.raises(DomainError, match="password"):
        services.sign(db.session, note, "not my password at all", actor=counselor, now=NOW)
    db.session.rollback()
    assert db.session.get(Note, note.id).status is NoteStatus.DRAFT


def test_the_orm_refuses_to_change_a_signed_note(signed):
    note, _ = signed
    note.sections_json = '{"data": "rewritten"}'
    with pytest.raises(SignedNoteImmutable):
        db.session.flush()
    db.session.rollback()


def test_a_direct_sql_change_is_detected_by_the_hash(signed):
    note, _ = signed
    db.session.execute(
        sa.update(Note).where(Note.id == note.id).values(triggers="edited behind the app")
    )
    db.session.commit()
    db.session.expire_all()
    assert not services.verify(db.session.get(Note, note.id))


def test_addenda_keep_the_original(signed):
    note, counselor = signed
    addendum = services.add_addendum(
        db.session,
        note,
        author=counselor,
        reason="Omission",
        text="Client also reported poor sleep.",
        now=NOW,
    )
    db.session.commit()
    assert services.verify(note) and services.verify_addendum(addendum)
    addendum.text = "changed"
    with pytest.raises(SignedNoteImmutable):
        db.session.flush()
    db.session.rollback()


def test_the_session_of_a_signed_note_cannot_change(signed):
    note, _ = signed
    note.session.start_time = note.session.start_time.replace(hour=7)
    with pytest.raises(SignedNoteImmutable):
        db.session.flush()
    db.session.rollback()

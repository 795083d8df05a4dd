"""The life of a note as a pure unit: every (status, needs co-signature, action), allowed or
refused, plus late entries, sections and the content hash. No Flask, no database."""

from datetime import UTC, datetime, timedelta
from itertools import product

import pytest

from casemgr.domain.notes import (
    SECTIONS,
    NoteAction,
    NoteFormat,
    NoteRuleError,
    NoteState,
    NoteStatus,
    allowed,
    awaiting_cosign,
    check,
    check_sections,
    content_hash,
    is_late,
    next_status,
)

D, S, C = NoteStatus.DRAFT, NoteStatus.SIGNED, NoteStatus.COSIGNED
A = NoteAction

# The reviewed table: for each state, the actions allowed and the status each leads to.
# Everything not listed is refused.
TABLE: dict[tuple[NoteStatus, bool], dict[NoteAction, NoteStatus]] = {
    (D, False): {A.EDIT: D, A.SIGN: S},
    (D, True): {A.EDIT: D, A.SIGN: S},  # a returned note keeps its flag until re-signed
    (S, False): {A.ADDENDUM: S},
    (S, True): {A.COSIGN: C, A.RETURN: D, A.ADDENDUM: S},
    (C, False): {A.ADDENDUM: C},
    (C, True): {A.ADDENDUM: C},
}

EVERY = list(product(NoteStatus, (False, True), NoteAction))


def test_the_table_covers_every_state():
    assert set(TABLE) == set(product(NoteStatus, (False, True)))


@pytest.mark.parametrize(
    "status, needs_cosign, action",
    [c for c in EVERY if c[2] in TABLE[c[:2]]],
    ids=lambda v: str(v),
)
def test_allowed_transitions(status, needs_cosign, action):
    state = NoteState(status, needs_cosign)
    assert allowed(state, action)
    check(state, action)  # does not raise
    assert next_status(state, action) is TABLE[(status, needs_cosign)][action]


@pytest.mark.parametrize(
    "status, needs_cosign, action",
    [c for c in EVERY if c[2] not in TABLE[c[:2]]],
    ids=lambda v: str(v),
)
def test_refused_transitions(status, needs_cosign, action):
    state = NoteState(status, needs_cosign)
    assert not allowed(state, action)
    with pytest.raises(NoteRuleError):
        check(state, action)
    with pytest.raises(NoteRuleError):
        next_status(state, action)


@pytest.mark.parametrize(
    "status, action, words",
    [
        (S, A.EDIT, "signed and locked. Add an addendum"),
        (C, A.EDIT, "signed and locked. Add an addendum"),
        (S, A.SIGN, "already signed"),
        (D, A.ADDENDUM, "Addenda are for signed notes"),
        (D, A.COSIGN, "must be signed by its author first"),
        (C, A.COSIGN, "already co-signed"),
    ],
)
def test_refusals_say_why_in_plain_words(status, action, words):
    with pytest.raises(NoteRuleError, match=words):
        check(NoteState(status, True), action)


@pytest.mark.parametrize(
    "status, needs_cosign, waiting",
    [(D, True, False), (S, False, False), (S, True, True), (C, True, False)],
)
def test_awaiting_cosign(status, needs_cosign, waiting):
    assert awaiting_cosign(NoteState(status, needs_cosign)) is waiting


END = datetime(2026, 11, 24, 14, 50, tzinfo=UTC)


@pytest.mark.parametrize(
    "after, late",
    [
        (timedelta(0), False),
        (timedelta(hours=24), False),  # exactly 24 hours is still on time
        (timedelta(hours=24, seconds=1), True),
        (timedelta(days=3), True),
    ],
)
def test_late_entry_is_more_than_24_hours_after_the_session_ended(after, late):
    assert is_late(END, END + after) is late


@pytest.mark.parametrize("fmt", list(NoteFormat))
def test_each_format_keeps_exactly_its_own_sections(fmt):
    keys = [key for key, _, _ in SECTIONS[fmt]]
    clean = check_sections(fmt, {keys[0]: "  said something  "})
    assert list(clean) == keys and clean[keys[0]] == "said something"
    foreign = next(k for f in NoteFormat for k, _, _ in SECTIONS[f] if k not in keys)
    with pytest.raises(NoteRuleError, match="Unknown section"):
        check_sections(fmt, {keys[0]: "x", foreign: "y"})


def test_a_note_must_say_something():
    with pytest.raises(NoteRuleError, match="at least one section"):
        check_sections(NoteFormat.DAP, {"data": "  ", "assessment": "", "plan": ""})


def test_the_hash_is_stable_and_changes_with_any_content():
    content = {"sections": {"data": "Café"}, "at": datetime(2026, 11, 25, 15, tzinfo=UTC)}
    same = {"at": datetime(2026, 11, 25, 15, tzinfo=UTC), "sections": {"data": "Café"}}
    assert content_hash(content) == content_hash(same)  # key order does not matter
    assert len(content_hash(content)) == 64
    assert content_hash(content) != content_hash({**content, "sections": {"data": "Cafe"}})

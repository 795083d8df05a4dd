"""Voiding rules: the reason, a record voided once, and who may void which record."""

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.roles import Role
from casemgr.domain.voiding import (
    ALREADY_VOIDED,
    NOT_RECORDED,
    REASON_MAX,
    REASON_MIN,
    RecordKind,
    check_void,
    clean_reason,
    may_void,
)


def refused(reason) -> DomainError:
    with pytest.raises(DomainError) as caught:
        clean_reason(reason)
    assert caught.value.field == "reason"
    return caught.value


@pytest.mark.parametrize("reason", [None, "", "   ", "\n\t "])
def test_a_reason_is_required(reason):
    assert "Say why" in str(refused(reason))


@pytest.mark.parametrize("reason", ["x", "wrong", "  typo  ", "a" * (REASON_MIN - 1)])
def test_a_reason_too_short_to_explain_anything_is_refused(reason):
    assert f"at least {REASON_MIN}" in str(refused(reason))


def test_the_reason_is_stripped_and_its_length_counted_after_stripping():
    assert clean_reason("  Entered on the wrong client \n") == "Entered on the wrong client"
    assert clean_reason("a" * REASON_MIN) == "a" * REASON_MIN
    assert "at least" in str(refused("   " + "a" * (REASON_MIN - 1) + "   "))


def test_the_reason_has_a_maximum_length():
    assert clean_reason("a" * REASON_MAX) == "a" * REASON_MAX
    assert f"{REASON_MAX} characters" in str(refused("a" * (REASON_MAX + 1)))


@pytest.mark.parametrize("bad", ["\x00", "\x07", "\x1b", "\x7f"])
def test_control_characters_are_refused_but_line_breaks_and_tabs_are_kept(bad):
    assert "control characters" in str(refused(f"Wrong client{bad} entered"))
    assert clean_reason("Wrong client,\r\n\tduplicate") == "Wrong client,\r\n\tduplicate"


def test_garbled_text_is_refused():
    assert "could not be read" in str(refused("Wrong client \ufffd entered"))


def test_a_record_is_voided_once():
    with pytest.raises(DomainError, match="already voided") as caught:
        check_void(RecordKind.DOSE, "Entered on the wrong client", already_voided=True)
    assert str(caught.value) == ALREADY_VOIDED and caught.value.field is None


def test_already_voided_is_said_before_a_bad_reason():
    with pytest.raises(DomainError, match="already voided"):
        check_void(RecordKind.SCREEN, "", already_voided=True)


def test_a_check_in_not_yet_recorded_has_nothing_to_void():
    with pytest.raises(DomainError) as caught:
        check_void(RecordKind.CHECK_IN, "Wrong client", already_voided=False, recorded=False)
    assert str(caught.value) == NOT_RECORDED


def test_check_void_returns_the_cleaned_reason():
    got = check_void(RecordKind.RELAPSE, "  Duplicate entry  ", already_voided=False)
    assert got == "Duplicate entry"


ME, SOMEONE = 7, 8


@pytest.mark.parametrize("kind", list(RecordKind))
@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN])
def test_the_person_who_recorded_it_may_void_it(kind, role):
    assert may_void(kind, user_id=ME, roles={role}, recorded_by_id=ME)


@pytest.mark.parametrize("kind", list(RecordKind))
def test_a_clinic_manager_may_void_any_record(kind):
    assert may_void(kind, user_id=ME, roles={Role.CLINIC_MANAGER}, recorded_by_id=SOMEONE)


@pytest.mark.parametrize("kind", [RecordKind.ASSESSMENT, RecordKind.DOSE])
def test_a_physician_may_void_assessments_and_doses_of_others(kind):
    assert may_void(kind, user_id=ME, roles={Role.PHYSICIAN}, recorded_by_id=SOMEONE)


@pytest.mark.parametrize("kind", [RecordKind.SCREEN, RecordKind.CHECK_IN, RecordKind.RELAPSE])
def test_a_physician_may_not_void_others_screens_check_ins_or_relapses(kind):
    assert not may_void(kind, user_id=ME, roles={Role.PHYSICIAN}, recorded_by_id=SOMEONE)


@pytest.mark.parametrize("kind", list(RecordKind))
@pytest.mark.parametrize("role", [Role.COUNSELOR, Role.NURSE, Role.SUPERVISOR, Role.ADMIN])
def test_nobody_else_may_void_a_colleagues_record(kind, role):
    assert not may_void(kind, user_id=ME, roles={role}, recorded_by_id=SOMEONE)


def test_a_record_with_no_recorder_is_voided_only_by_a_manager_or_physician():
    assert not may_void(
        RecordKind.CHECK_IN, user_id=ME, roles={Role.COUNSELOR}, recorded_by_id=None
    )
    assert may_void(
        RecordKind.CHECK_IN, user_id=ME, roles={Role.CLINIC_MANAGER}, recorded_by_id=None
    )


def test_kinds_name_their_audit_event_and_read_in_words():
    assert RecordKind.DOSE.audit_action == "medication_administration.voided"
    assert RecordKind.CHECK_IN.audit_action == "check_in.voided"
    assert {k.label for k in RecordKind} == {
        "withdrawal assessment",
        "drug screen",
        "dose record",
        "check-in",
        "relapse event",
    }

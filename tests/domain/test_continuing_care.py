"""Continuing-care plan rules: the choices, each item's shape, consent for contact details and
what signing needs (no Flask, no database)."""

from dataclasses import replace

import pytest

from casemgr.domain import continuing_care as cc
from casemgr.domain.codes import codes_of
from casemgr.domain.errors import DomainError
from casemgr.domain.phases import Phase

FIELDS = cc.PlanFields(
    level_of_care="2.1",
    program="iop",
    session_schedule="  Mon, Wed, Thu 6-9 pm  ",
    moud="bup_naloxone",
    moud_dose="16 mg daily",
    moud_prescriber="Dr. Reyes",
    emergency_plan="Call sponsor, then 988.",
    reengagement_plan="Walk in any weekday morning.",
)
TRIGGER = cc.Trigger("places", "The old corner store", 3, "Take the other bus route")
SUPPORT = cc.Support("sponsor", "Sam", "daily call", True, "555-0100")


def test_the_choices_are_the_ones_the_clinic_uses():
    assert codes_of(cc.PROGRAMS) == {"outpatient", "iop", "group_therapy", "individual_counseling"}
    assert codes_of(cc.TRIGGER_CATEGORIES) == {
        "people",
        "places",
        "situations",
        "emotions",
        "times",
    }
    assert codes_of(cc.SUPPORT_KINDS) == {
        "sponsor",
        "family",
        "friend",
        "peer",
        "twelve_step",
        "smart_recovery",
        "church",
        "sports_hobby",
        "community_service",
        "other",
    }
    assert codes_of(cc.LIFE_CHANGE_AREAS) == {"housing", "employment", "education", "legal"}
    assert cc.label(cc.SUPPORT_KINDS, "twelve_step") == "12-step group (NA/AA)"
    assert cc.label(cc.PROGRAMS, "gone") == "gone"  # an unknown stored code still reads


def test_moud_choices_come_from_the_formulary_and_exclude_withdrawal_drugs():
    codes = codes_of(cc.MOUD)
    assert {"methadone", "buprenorphine", "bup_naloxone", "naltrexone"} == codes
    assert "laam" not in codes and "clonidine" not in codes


def test_levels_of_care_are_the_ambulatory_asam_levels():
    assert codes_of(cc.LEVELS_OF_CARE) == {"0.5", "1", "2.1", "2.5", "OTP"}
    assert cc.label(cc.LEVELS_OF_CARE, "2.1") == "2.1 — Intensive Outpatient"


@pytest.mark.parametrize("risk, word", [(1, "low"), (2, "moderate"), (3, "high")])
def test_risk_in_words(risk, word):
    assert cc.risk_label(risk) == word


@pytest.mark.parametrize("phase", [Phase.REHAB, Phase.AFTERCARE])
def test_a_plan_starts_in_rehab_or_aftercare(phase):
    assert cc.start_refusal(phase) is None


@pytest.mark.parametrize(
    "phase, words",
    [(Phase.INTAKE, "in intake"), (Phase.DETOX, "in detox"), (Phase.DISCHARGED, "closed")],
)
def test_a_plan_does_not_start_elsewhere(phase, words):
    assert words in cc.start_refusal(phase)


def test_plan_fields_are_cleaned():
    clean = cc.check_fields(FIELDS)
    assert clean.session_schedule == "Mon, Wed, Thu 6-9 pm"
    assert clean.moud == "bup_naloxone"


def test_no_medication_is_allowed():
    clean = cc.check_fields(replace(FIELDS, moud="", moud_dose=" ", moud_prescriber=""))
    assert (clean.moud, clean.moud_dose, clean.moud_prescriber) == ("", "", "")


@pytest.mark.parametrize(
    "change, field",
    [
        ({"level_of_care": "3.5"}, "level_of_care"),  # residential is not aftercare
        ({"level_of_care": ""}, "level_of_care"),
        ({"program": "rehab"}, "program"),
        ({"session_schedule": "   "}, "session_schedule"),
        ({"session_schedule": "x" * 501}, "session_schedule"),
        ({"moud": "clonidine"}, "moud"),
        ({"moud_dose": ""}, "moud_dose"),
        ({"moud_prescriber": ""}, "moud_prescriber"),
        ({"moud": ""}, "moud"),  # a dose and prescriber without a medication
        ({"emergency_plan": "x" * 2001}, "emergency_plan"),
    ],
)
def test_plan_field_errors_name_their_field(change, field):
    with pytest.raises(DomainError) as err:
        cc.check_fields(replace(FIELDS, **change))
    assert err.value.field == field


def test_a_trigger_is_cleaned():
    assert cc.check_trigger(replace(TRIGGER, description=" Payday ")).description == "Payday"
    assert cc.check_trigger(replace(TRIGGER, coping="")).coping == ""  # strategies come later


@pytest.mark.parametrize(
    "change, field",
    [
        ({"risk": 0}, "risk"),
        ({"risk": 4}, "risk"),
        ({"risk": True}, "risk"),  # a bool is not a risk level
        ({"category": "weather"}, "category"),
        ({"description": ""}, "description"),
        ({"coping": "x" * 1001}, "coping"),
    ],
)
def test_trigger_errors_name_their_field(change, field):
    with pytest.raises(DomainError) as err:
        cc.check_trigger(replace(TRIGGER, **change))
    assert err.value.field == field


def test_contact_details_are_kept_only_with_consent():
    assert cc.check_support(SUPPORT).contact == "555-0100"
    without = cc.check_support(replace(SUPPORT, contact_consent=False))
    assert without.contact == "" and without.contact_consent is False


@pytest.mark.parametrize(
    "change, field",
    [({"kind": "bar"}, "kind"), ({"name": " "}, "name"), ({"frequency": "x" * 101}, "frequency")],
)
def test_support_errors_name_their_field(change, field):
    with pytest.raises(DomainError) as err:
        cc.check_support(replace(SUPPORT, **change))
    assert err.value.field == field


def test_life_changes():
    change = cc.LifeChange("housing", " Moved to sober living ", "done")
    assert cc.check_life_change(change).description == "Moved to sober living"
    with pytest.raises(DomainError) as err:
        cc.check_life_change(replace(change, area="hobbies"))
    assert err.value.field == "area"
    with pytest.raises(DomainError) as err:
        cc.check_life_change(replace(change, status="maybe"))
    assert err.value.field == "status"


def test_a_complete_plan_can_be_signed():
    assert cc.missing_for_signature(FIELDS, [TRIGGER], [SUPPORT]) == []
    cc.check_ready_to_sign(FIELDS, [TRIGGER], [SUPPORT])


def test_signing_needs_a_coped_trigger_and_a_support():
    uncoped = replace(TRIGGER, coping=" ")
    missing = cc.missing_for_signature(FIELDS, [uncoped], [])
    assert missing == [
        "at least one trigger with its coping strategies",
        "at least one sober support",
    ]
    with pytest.raises(DomainError, match="trigger with its coping strategies; at least one sober"):
        cc.check_ready_to_sign(FIELDS, [uncoped], [])


def test_signing_needs_the_plan_fields_and_both_plans():
    blank = cc.PlanFields("", "", "")
    assert cc.missing_for_signature(blank, [TRIGGER], [SUPPORT]) == [
        "the level of care, program and session schedule",
        "the emergency plan (whom to call)",
        "the re-engagement plan (how to come back after a lapse)",
    ]

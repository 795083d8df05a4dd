"""Consent rules (42 CFR Part 2 §2.31) and coverage of a disclosure: none, expired, revoked,
wrong recipient, wrong purpose, information not covered, wrong kind, valid, event expiry
(security matrix X-01). No Flask, no database."""

from dataclasses import replace
from datetime import date

import pytest

from casemgr.domain import consent as c
from casemgr.domain.codes import codes_of

SIGNED = date(2026, 11, 20)
TODAY = date(2026, 11, 25)
REPORT = c.PROGRESS_REPORT

TERMS = c.Terms(
    kind=c.GENERAL,
    discloser="  Test Recovery Center ",
    information=frozenset(REPORT),
    information_detail="",
    recipient_kind=c.NAMED,
    recipient_name="Judge Ana Ortiz",
    recipient_organisation="County Drug Court",
    purpose="Drug court compliance review",
    expiry_kind=c.BY_DATE,
    expires_on=date(2027, 5, 20),
    expiry_event="",
    revocation_statement=c.DEFAULT_REVOCATION_STATEMENT,
    signed_by=c.CLIENT,
)

COURT = c.ConsentFacts(
    id=1,
    kind=c.GENERAL,
    information=frozenset(REPORT),
    recipient_kind=c.NAMED,
    recipient_name="Judge Ana Ortiz",
    recipient_organisation="County Drug Court",
    purpose="Drug court compliance review",
    expiry_kind=c.BY_DATE,
    expires_on=date(2027, 5, 20),
    expiry_event="",
    signed_on=SIGNED,
)


def problems(terms=TERMS, signed_on=SIGNED) -> dict[str, str]:
    with pytest.raises(c.InvalidConsent) as caught:
        c.check_terms(terms, signed_on=signed_on)
    return caught.value.problems


def covers(consent=COURT, recipient="Judge Ana Ortiz", purpose=COURT.purpose, **kw):
    information = kw.pop("information", REPORT)
    return c.covers(consent, recipient, purpose, information, kw.pop("on", TODAY), **kw)


# ---------------------------------------------------------------------------------------------
# The elements


def test_the_categories_are_the_ones_the_issue_names():
    assert codes_of(c.INFORMATION) == {
        "attendance",
        "drug_screens",
        "treatment_plan_progress",
        "diagnosis",
        "medications",
        "discharge_summary",
        "counseling_notes",
        "other",
    }
    assert REPORT <= codes_of(c.INFORMATION) and "counseling_notes" not in REPORT


def test_a_complete_consent_is_cleaned():
    terms = c.check_terms(replace(TERMS, expiry_event="ignored"), signed_on=SIGNED)
    assert terms.discloser == "Test Recovery Center" and terms.expiry_event == ""
    assert terms.recipient == "Judge Ana Ortiz, County Drug Court"


def test_every_missing_element_is_named_at_once():
    empty = replace(
        TERMS,
        discloser=" ",
        information=frozenset(),
        recipient_name="",
        recipient_organisation="",
        purpose="",
        expires_on=None,
        revocation_statement="",
    )
    assert set(problems(empty)) == {
        "discloser",
        "information",
        "recipient_name",
        "purpose",
        "expires_on",
        "revocation_statement",
    }


def test_unknown_choices_are_refused():
    odd = replace(TERMS, kind="blanket", recipient_kind="anyone", expiry_kind="never")
    assert {"kind", "recipient_kind", "expiry_kind"} <= set(problems(odd))
    assert "information" in problems(replace(TERMS, information=frozenset({"everything"})))


def test_counseling_notes_have_a_consent_of_their_own():
    mixed = replace(TERMS, information=frozenset({"attendance", "counseling_notes"}))
    assert "own" in problems(mixed)["information"]
    only = replace(mixed, kind=c.COUNSELING_NOTES)
    assert "only" in problems(only)["information"]
    notes = replace(only, information=frozenset({"counseling_notes"}))
    assert c.check_terms(notes, signed_on=SIGNED).information == {"counseling_notes"}


def test_a_legal_proceedings_consent_names_its_recipient():
    legal = replace(TERMS, kind=c.LEGAL_PROCEEDINGS)
    assert c.check_terms(legal, signed_on=SIGNED).kind == c.LEGAL_PROCEEDINGS
    assert "recipient_kind" in problems(replace(legal, recipient_kind=c.TPO))


def test_other_information_is_described():
    other = replace(TERMS, information=frozenset({"other"}))
    assert "information_detail" in problems(other)
    assert c.check_terms(replace(other, information_detail="Housing letters"), signed_on=SIGNED)


def test_expiry_is_a_later_date_an_event_or_none_for_tpo_only():
    assert "after" in problems(replace(TERMS, expires_on=SIGNED))["expires_on"]
    event = replace(TERMS, expiry_kind=c.BY_EVENT, expires_on=None)
    assert "expiry_event" in problems(event)
    assert c.check_terms(replace(event, expiry_event=c.END_OF_TREATMENT), signed_on=SIGNED)
    none = replace(TERMS, expiry_kind=c.NO_EXPIRY)
    assert "TPO" in problems(none)["expiry_kind"]
    tpo = replace(none, recipient_kind=c.TPO, purpose=c.TPO_PURPOSE)
    cleaned = c.check_terms(tpo, signed_on=SIGNED)
    assert cleaned.recipient_name == "" and cleaned.recipient == c.TPO_RECIPIENT
    assert cleaned.expires_on is None


def test_a_blank_form_for_signature_is_checked_without_a_signing_date():
    assert c.check_terms(replace(TERMS, expires_on=date(2020, 1, 1)), signed_on=None)


def test_a_representative_gives_name_and_authority():
    rep = replace(TERMS, signed_by=c.REPRESENTATIVE)
    assert set(problems(rep)) == {"representative_name", "representative_authority"}
    ok = replace(rep, representative_name="Lee Rivers", representative_authority="Guardian")
    assert c.check_terms(ok, signed_on=SIGNED).representative_name == "Lee Rivers"
    assert (
        c.check_terms(replace(ok, signed_by=c.CLIENT), signed_on=SIGNED).representative_name == ""
    )


def test_the_revocation_statement_must_state_the_right_to_revoke():
    assert "revocation_statement" in problems(replace(TERMS, revocation_statement="Signed."))


def test_signing_on_paper_needs_the_scan_and_in_the_app_the_signers_name():
    names = ["Dana Rivers"]
    paper = c.Signing(c.PAPER, SIGNED, scanned=False)
    with pytest.raises(c.InvalidConsent) as caught:
        c.check_signing(paper, today=TODAY, signer_names=names)
    assert set(caught.value.problems) == {"scan"}
    assert c.check_signing(replace(paper, scanned=True), today=TODAY, signer_names=names)
    app = c.Signing(c.APP, SIGNED, scanned=False, typed_name=" rivers,  DANA ")
    assert c.check_signing(app, today=TODAY, signer_names=names).typed_name == "rivers,  DANA"
    for typed in ("", "Someone Else"):
        with pytest.raises(c.InvalidConsent) as caught:
            c.check_signing(replace(app, typed_name=typed), today=TODAY, signer_names=names)
        assert set(caught.value.problems) == {"typed_signature"}
    with pytest.raises(c.InvalidConsent) as caught:
        c.check_signing(replace(app, signed_on=date(2026, 11, 26)), today=TODAY, signer_names=names)
    assert set(caught.value.problems) == {"signed_on"}


# ---------------------------------------------------------------------------------------------
# Coverage


def test_valid_consent_covers():
    assert covers() is None
    assert covers(recipient="judge ana ortiz, COUNTY drug court.") is None
    assert covers(purpose="drug court compliance  review") is None
    assert covers(information={"attendance"}) is None


def test_no_consent():
    refusal = covers(None)
    assert refusal.code == "none" and "no consent" in refusal and refusal.field is None
    consent, refusal = c.find_covering([], "Judge Ana Ortiz", COURT.purpose, REPORT, TODAY)
    assert consent is None and refusal.code == "none"


def test_expired_by_date():
    assert covers(on=date(2027, 5, 20)) is None  # in force through its last day
    refusal = covers(on=date(2027, 5, 21))
    assert refusal.code == "expired" and "expired on 2027-05-20" in refusal


def test_revoked():
    refusal = covers(replace(COURT, revoked_on=date(2026, 11, 24)))
    assert refusal.code == "revoked" and "revoked on 2026-11-24" in refusal
    assert covers(replace(COURT, revoked_on=date(2026, 11, 24)), on=date(2026, 11, 23)) is None


def test_wrong_recipient():
    refusal = covers(recipient="County Probation")
    assert refusal.code == "recipient" and refusal.field == "recipient"
    assert "Judge Ana Ortiz, County Drug Court" in refusal and "County Probation" in refusal
    # A consent naming a person does not cover their whole organisation.
    assert covers(recipient="County Drug Court").code == "recipient"
    by_org = replace(COURT, recipient_name="")
    assert covers(by_org, recipient="county drug court") is None
    assert covers(by_org, recipient="").code == "recipient"


def test_wrong_purpose():
    refusal = covers(purpose="Employment screening")
    assert refusal.code == "purpose" and refusal.field == "purpose"
    assert "Drug court compliance review" in refusal


def test_information_not_covered():
    narrow = replace(COURT, information=frozenset({"attendance"}))
    refusal = covers(narrow)
    assert refusal.code == "information" and refusal.field == "information"
    assert "Drug screen results" in refusal and "Attendance" not in refusal


def test_wrong_kind():
    legal = covers(legal_proceeding=True)
    assert legal.code == "kind" and legal.field == "legal_proceeding"
    court_case = replace(COURT, kind=c.LEGAL_PROCEEDINGS)
    assert covers(court_case, legal_proceeding=True) is None
    assert covers(court_case).code == "kind"
    notes = covers(information={"counseling_notes"})
    assert notes.code == "kind" and "counseling notes" in notes
    notes_only = replace(
        COURT, kind=c.COUNSELING_NOTES, information=frozenset({"counseling_notes"})
    )
    assert covers(notes_only, information={"counseling_notes"}) is None
    assert covers(notes_only).code == "kind"


def test_event_expiry_end_of_treatment():
    event = replace(COURT, expiry_kind=c.BY_EVENT, expires_on=None, expiry_event="end of treatment")
    assert covers(event) is None  # still in treatment
    assert covers(event, treatment_ended_on=TODAY) is None  # through the day of discharge
    refusal = covers(event, on=date(2026, 11, 26), treatment_ended_on=TODAY)
    assert refusal.code == "expired" and "end of treatment" in refusal
    assert c.status(event, date(2026, 11, 26), TODAY) == c.EXPIRED
    # An event the app cannot observe leaves the consent in force until it is revoked.
    other = replace(event, expiry_event="When my probation ends")
    assert covers(other, on=date(2027, 1, 1), treatment_ended_on=TODAY) is None


def test_tpo_consent_covers_the_class_for_tpo_purposes_only():
    tpo = replace(
        COURT,
        recipient_kind=c.TPO,
        recipient_name="",
        recipient_organisation="",
        purpose=c.TPO_PURPOSE,
        expiry_kind=c.NO_EXPIRY,
        expires_on=None,
    )
    assert covers(tpo, recipient="Blue Plan Health", purpose="Payment") is None
    assert covers(tpo, recipient="Dr Reyes", purpose=c.TPO_PURPOSE, on=date(2040, 1, 1)) is None
    assert covers(tpo, recipient="Dr Reyes", purpose="Court review").code == "purpose"
    assert covers(tpo, recipient="County Court", purpose="Payment", legal_proceeding=True).code == (
        "kind"
    )


def test_status_of_a_consent():
    assert c.status(COURT, TODAY) == c.ACTIVE
    assert c.status(COURT, date(2027, 6, 1)) == c.EXPIRED
    assert c.status(replace(COURT, revoked_on=TODAY), TODAY) == c.REVOKED


def test_find_covering_uses_the_latest_covering_consent():
    older = replace(COURT, id=2, signed_on=date(2026, 6, 1))
    newer = replace(COURT, id=3, signed_on=date(2026, 11, 1))
    found, refusal = c.find_covering(
        [older, newer], "Judge Ana Ortiz", COURT.purpose, REPORT, TODAY
    )
    assert found is newer and refusal is None


def test_find_covering_explains_with_the_closest_consent():
    elsewhere = replace(COURT, id=2, recipient_name="", recipient_organisation="Acme Employer")
    revoked = replace(COURT, id=3, revoked_on=date(2026, 11, 22))
    found, refusal = c.find_covering(
        [revoked, elsewhere], "Judge Ana Ortiz", COURT.purpose, REPORT, TODAY
    )
    assert found is None and refusal.code == "revoked"
    found, refusal = c.find_covering([elsewhere], "Judge Ana Ortiz", COURT.purpose, REPORT, TODAY)
    assert refusal.code == "recipient" and "Acme Employer" in refusal


def test_stored_information_round_trips():
    stored = c.join_information({"medications", "attendance"})
    assert stored == "attendance,medications"
    assert c.parse_information(stored) == {"attendance", "medications"}
    assert c.information_labels({"medications", "attendance"}) == "Attendance, Medications"

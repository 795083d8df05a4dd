"""The census and caseload: restricted clients left out (deny wins over the manager's view of
everyone), the internal-use marking, and a release outside the facility through the one
consent path (every listed client's consent, the §2.32 notice, the recipient, the consents'
elements, one accounting entry per client), refused by MRN when a client has none.

The clock is frozen at NOW (2026-11-25 10:00 at the facility); see test_facility.
"""

# ruff: noqa: F811  (the fixtures of test_facility, imported by name)
from __future__ import annotations

import hashlib
import json
from datetime import date

import pytest
import sqlalchemy as sa

from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.printing import facility, facility_release, record
from casemgr.privacy import consents, restrictions
from casemgr.privacy.models import Disclosure
from tests.clients_helpers import NOW, TODAY
from tests.printing.facility_helpers import (
    PAYER,
    consent_for,
    csv_notice,
    csv_rows,
    events,
    pdf_pages,
    printed,
)
from tests.printing.facility_helpers import (
    RELEASE_PURPOSE as PURPOSE,
)
from tests.printing.test_facility import (  # noqa: F401  (fixtures)
    census_clients,
    download,
    fetch,
    frozen,
    manager,
    staff,
)

MARK = "Confidential — 42 CFR Part 2 — internal use only"
RELEASE = {"use": "release", "recipient": PAYER, "purpose": PURPOSE}


def listed(census_clients) -> list:
    """The four clients in treatment on the 25th, as both lists order them (by name)."""
    c = census_clients
    return [c.aftercare, c.detox, c.intake, c.rehab]  # Ashby, Dorsey, Ingram, Reyes


def disclosures() -> list[Disclosure]:
    return list(db.session.scalars(sa.select(Disclosure).order_by(Disclosure.client_id)))


@pytest.fixture
def restricted(make, staff, census_clients):
    """Another manager restricts Mara Manager from Reyes's chart (a relative, say)."""
    other = make.user(Role.CLINIC_MANAGER, full_name="Olive Other")
    restrictions.restrict(
        db.session, census_clients.rehab, staff.manager, "Relative", by=other, now=NOW
    )
    db.session.commit()
    return census_clients.rehab


# ------------------------------------------------------------------------ restrictions


@pytest.mark.parametrize("report", ["census", "caseload"])
@pytest.mark.parametrize("file_format", ["pdf", "csv"])
def test_a_restricted_manager_does_not_see_the_client(
    client, manager, census_clients, restricted, report, file_format
):
    data = download(client, report, format=file_format).data

    others = [c for c in listed(census_clients) if c is not restricted]
    if file_format == "csv":
        mrns = {r["mrn"] for r in csv_rows(data)}
        assert restricted.mrn not in mrns and {c.mrn for c in others} <= mrns
        assert facility.RESTRICTED_NOTE in " ".join(csv_notice(data))
        return
    text = " ".join(pdf_pages(data))
    assert restricted.mrn not in text and restricted.legal_last_name not in text
    assert all(c.mrn in text for c in others)
    assert facility.RESTRICTED_NOTE in text  # printed whether or not anyone was left out
    if report == "census":
        assert "In treatment 3" in text and "Rehab 0" in text


def test_the_restricted_rows_stay_out_when_the_record_is_checked_again(client, manager, restricted):
    first = download(client, "census").data
    [row] = printed()

    data, _ = record.RENDERERS["census"](db.session, row)

    assert data == first and record.check(db.session, row)


@pytest.mark.parametrize("report", ["census", "caseload"])
def test_lists_stay_a_fixed_number_of_queries_with_restrictions(
    client, manager, staff, census_clients, count_queries, report
):
    download(client, report)
    with count_queries() as few:
        download(client, report)
    for c in (census_clients.detox, census_clients.rehab):
        restrictions.restrict(db.session, c, staff.manager, "Neighbour", by=staff.casey, now=NOW)
    db.session.commit()
    with count_queries() as more:
        download(client, report)

    assert more.count == few.count


# ------------------------------------------------------------------------ internal use


@pytest.mark.parametrize("report", ["census", "caseload"])
def test_internal_files_are_marked_on_every_page_and_first_in_the_csv(
    client, manager, census_clients, report
):
    pages = pdf_pages(download(client, report).data)
    csv_data = download(client, report, format="csv").data

    for page in pages:
        assert MARK in page
    assert "for use within the program (42 CFR §2.12(c)(3))" in pages[0]
    first_line = csv_data.decode("utf-8").removeprefix("\ufeff").splitlines()[0]
    assert first_line == f"# {MARK}"
    assert [row.recipient for row in printed()] == ["", ""]
    assert disclosures() == []


def test_the_outcomes_report_stays_unmarked(client, manager):
    resp = fetch(client, "outcomes", {"purpose": "Board", "start": "2025-01-01",
                                      "end": "2025-06-30"})  # fmt: skip

    assert resp.status_code == 200
    assert MARK not in " ".join(pdf_pages(resp.data))


# ------------------------------------------------------------------------ release outside


@pytest.mark.parametrize("report", ["census", "caseload"])
@pytest.mark.parametrize("file_format", ["pdf", "csv"])
def test_a_release_with_every_consent_carries_the_notice_and_is_accounted_for(
    client, manager, staff, census_clients, report, file_format
):
    people = listed(census_clients)
    used = {c.id: consent_for(c, staff.manager) for c in people}

    resp = download(client, report, format=file_format, **RELEASE)

    [row] = printed()
    assert (row.recipient, row.purpose, row.file_format) == (PAYER, PURPOSE, file_format)
    digest = hashlib.sha256(resp.data).hexdigest()
    assert row.sha256 == digest
    found = disclosures()
    assert [d.client_id for d in found] == sorted(c.id for c in people)
    for d in found:
        assert (d.kind, d.consent_id, d.printed_report_id) == ("consent", used[d.client_id].id,
                                                               row.id)  # fmt: skip
        assert (d.recipient, d.purpose, d.sha256, d.file_format) == (
            PAYER, PURPOSE, digest, file_format)  # fmt: skip
        assert (d.released_by_id, d.released_at) == (staff.manager.id, NOW)
        assert (d.period_start, d.period_end) == (TODAY, TODAY)
        assert d.information.split(",") == [
            *sorted(facility_release.INFORMATION[report], key=["attendance",
                    "treatment_plan_progress"].index),
            facility_release.WHAT[report],
        ]  # fmt: skip
    if file_format == "csv":
        notice = csv_notice(resp.data)
        assert notice[0] == f"# Released outside the facility to: {PAYER}"
        assert f"# Purpose: {PURPOSE}" in notice
        assert any("42 CFR §2.32" in line for line in notice)
        for c in people:
            line = next(n for n in notice if n.startswith(f"# MRN {c.mrn}: "))
            assert f"Consent number: {used[c.id].id}" in line and "Expiry:" in line
            assert f"Recipient: {PAYER}" in line and "revoke" in line
        assert MARK not in resp.data.decode("utf-8")
        assert {r["mrn"] for r in csv_rows(resp.data)} == {c.mrn for c in people}
    else:
        pages = pdf_pages(resp.data)
        assert f"Released to {PAYER}" in pages[0] and f"Released for {PURPOSE}" in pages[0]
        assert "Notice (42 CFR §2.32)" in pages[0]
        closing = " ".join(pages[-2:])
        assert "Consents under which this was released" in " ".join(pages)
        for c in people:
            assert f"MRN {c.mrn}" in closing and f"Consent number {used[c.id].id}" in closing
        assert all("released outside with consent" in p for p in pages)
        assert MARK not in " ".join(pages)
    assert record.check(db.session, row)  # rebuilt from the record: the same bytes
    assert events("disclosure.refused") == []


def reyes_consent(case: str, client, by):
    if case == "missing":
        return
    if case == "expired":
        consent_for(client, by, expires_on=date(2026, 11, 24))
    elif case == "revoked":
        consent = consent_for(client, by)
        consents.revoke(db.session, consent, on=TODAY, note="Letter", by=by, today=TODAY)
        db.session.commit()
    elif case == "recipient":
        consent_for(client, by, recipient_organisation="Green Hills Insurance")
    elif case == "purpose":
        consent_for(client, by, purpose="Treatment coordination")
    elif case == "information":
        consent_for(client, by, information=frozenset({"drug_screens"}))


@pytest.mark.parametrize(
    "case, reason, code",
    [
        ("missing", "There is no consent on file for this client", "none"),
        ("expired", "expired on 2026-11-24", "expired"),
        ("revoked", "was revoked on 2026-11-25", "revoked"),
        ("recipient", f"not “{PAYER}”", "recipient"),
        ("purpose", f"not “{PURPOSE}”", "purpose"),
        ("information", "does not cover: Attendance", "information"),
    ],
)
def test_one_client_without_a_covering_consent_refuses_the_release_by_mrn(
    client, manager, staff, census_clients, case, reason, code
):
    reyes = census_clients.rehab
    for c in listed(census_clients):
        if c is not reyes:
            consent_for(c, staff.manager)
    reyes_consent(case, reyes, staff.manager)

    resp = fetch(client, "census", {**RELEASE, "format": "csv"})

    assert resp.status_code == 200 and resp.mimetype == "text/html"
    assert "Not released: 1 listed client without a consent" in resp.text
    error = resp.text.split(f"MRN {reyes.mrn}: ")[1].split("</p>")[0]
    assert reason in error.replace("&#34;", '"')
    assert reyes.legal_last_name not in resp.text  # named by MRN only
    for c in listed(census_clients):
        if c is not reyes:
            assert c.mrn not in resp.text
    assert printed() == [] and disclosures() == []
    assert events("report.printed") == []
    [refusal] = events("disclosure.refused")
    assert refusal.client_id == reyes.id
    assert json.loads(refusal.detail) == {"reason": code, "what": "census"}
    assert "?recipient" not in resp.request.url and PAYER not in resp.request.url


def test_the_caseload_release_is_refused_the_same_way(client, manager, staff, census_clients):
    for c in listed(census_clients)[:2]:
        consent_for(c, staff.manager, information=frozenset({"attendance"}))

    resp = fetch(client, "caseload", {**RELEASE})

    assert "Not released: 4 listed clients" in resp.text
    for c in listed(census_clients):
        assert f"MRN {c.mrn}: " in resp.text
    assert "does not cover: Treatment plan and progress" in resp.text
    assert printed() == [] and disclosures() == []
    assert len(events("disclosure.refused")) == 4


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"recipient": ""}, "census-recipient", "Name the recipient"),
        ({"purpose": ""}, "census-purpose", "Say what it is released for"),
        ({"use": "elsewhere"}, "census-use", "Not a valid choice"),
    ],
)
def test_a_release_needs_its_recipient_and_purpose(client, manager, census_clients, params,
                                                   field, message):  # fmt: skip
    resp = fetch(client, "census", {**RELEASE, **params})

    assert resp.status_code == 200 and f'id="{field}-error"' in resp.text
    assert message in resp.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert printed() == [] and disclosures() == [] and events("disclosure.refused") == []


def test_an_empty_list_is_not_released(client, manager):
    resp = fetch(client, "census", {**RELEASE})

    assert facility_release.EMPTY in resp.text
    assert printed() == [] and disclosures() == []


def test_a_restricted_client_is_neither_listed_nor_released(
    client, manager, staff, census_clients, restricted
):
    others = [c for c in listed(census_clients) if c is not restricted]
    for c in others:
        consent_for(c, staff.manager)

    resp = download(client, "census", **RELEASE)  # no consent needed for a client not shown

    assert restricted.mrn not in " ".join(pdf_pages(resp.data))
    assert [d.client_id for d in disclosures()] == sorted(c.id for c in others)

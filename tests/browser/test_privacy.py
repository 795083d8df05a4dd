"""Privacy in a real browser: a physician opens a chart outside their caseload in a medical
emergency (break-glass) and the clinic manager sees the alert; a manager's disclosure is
refused without a consent and released, naming the recipient, with one."""

from __future__ import annotations

import io
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import check_accessibility
from tests.browser.test_smoke import main_nav, sign_in, sign_out

COURT, PURPOSE = "County Drug Court", "Drug court compliance review"
FACILITY = ZoneInfo("America/New_York")  # the app's default TIMEZONE: "today" is the clinic's


def open_chart(page: Page, name: str) -> None:
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("link", name=name).first.click()


@pytest.mark.browser
def test_break_glass_opens_a_chart_for_an_hour_and_alerts_the_manager(
    page: Page, live_server: str
) -> None:
    sign_in(page, live_server, "demo-manager")
    open_chart(page, "Demo-Abernathy, Finley")
    mrn = page.locator(".client-header code").first.inner_text()
    sign_out(page)

    sign_in(page, live_server, "demo-physician")
    main_nav(page).get_by_role("link", name="Emergency access").click()
    page.get_by_label("Medical record number (MRN)").fill(mrn)
    page.get_by_role("button", name="Find client").click()
    expect(page.locator("body")).not_to_contain_text("Finley")  # no name before confirming
    page.get_by_label("Receiving medical personnel").fill("Dr. Rivera")
    page.get_by_label("Their facility").fill("St. Mary's Emergency Department")
    page.get_by_label("Nature of the emergency").fill("Unresponsive after suspected overdose")
    page.get_by_role("checkbox").check()
    check_accessibility(page, "break-glass")
    page.get_by_role("button", name="Open the chart").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Demo-Abernathy, Finley")
    expect(page.get_by_role("alert").filter(has_text="42 CFR §2.51")).to_be_visible()
    sign_out(page)

    sign_in(page, live_server, "demo-manager")
    alerts = page.get_by_role("region", name="Emergency access (break-glass)")
    expect(alerts).to_contain_text("St. Mary's Emergency Department")
    alerts.get_by_role("button", name="Acknowledge").first.click()
    expect(page.get_by_role("region", name="Emergency access (break-glass)")).not_to_contain_text(
        "St. Mary's"
    )


def disclose(page: Page) -> None:
    page.get_by_role("link", name="Disclose records").click()
    page.get_by_label("Recipient", exact=True).fill(COURT)
    page.get_by_label("Purpose", exact=True).fill(PURPOSE)


def record_consent(page: Page) -> None:
    page.get_by_role("link", name="Record a consent").click()
    page.get_by_label("Kind of consent").select_option("general")
    for label in (
        "Attendance",
        "Drug screen results",
        "Treatment plan and progress",
        "Diagnosis",
        "Medications",
    ):
        page.get_by_label(label, exact=True).check()
    page.get_by_label("Description of the information").fill(
        "Attendance, drug screen results and treatment progress for the court's review"
    )
    page.get_by_label("Recipient", exact=True).select_option("named")
    page.get_by_label("Recipient's organisation").fill(COURT)
    page.get_by_label("Purpose of the disclosure").fill(PURPOSE)
    page.get_by_label("Expires").select_option("date")
    page.get_by_label("Expiry date").fill(
        (datetime.now(FACILITY).date() + timedelta(days=180)).isoformat()
    )
    page.get_by_label("How it was signed").select_option("app")
    page.get_by_label("Signature typed by the signer").fill("Emery Demo-Castellanos")
    page.get_by_label("Date signed").fill(datetime.now(FACILITY).date().isoformat())
    check_accessibility(page, "consent-new")
    page.get_by_role("button", name="Record the signed consent").click()
    expect(page.get_by_role("status").first).to_be_visible()


@pytest.mark.browser
def test_a_disclosure_needs_a_consent_and_names_the_recipient(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-manager")
    open_chart(page, "Demo-Castellanos, Emery")
    page.get_by_role("link", name="Consents and disclosures").click()
    disclose(page)
    page.get_by_role("button", name="Check the consent and download the PDF").click()
    expect(page.locator(".field-error, [id$='-error'], .form-errors").first).to_be_visible()

    page.get_by_role("link", name="Cancel").click()
    record_consent(page)
    open_chart(page, "Demo-Castellanos, Emery")
    page.get_by_role("link", name="Consents and disclosures").click()
    disclose(page)
    check_accessibility(page, "disclose")
    with page.expect_download() as download:
        page.get_by_role("button", name="Check the consent and download the PDF").click()
    with open(download.value.path(), "rb") as handle:
        pages = [p.extract_text() for p in PdfReader(io.BytesIO(handle.read())).pages]
    assert COURT in pages[0] and all("42 CFR part 2" in text for text in pages)
    open_chart(page, "Demo-Castellanos, Emery")
    page.get_by_role("link", name="Consents and disclosures").click()
    expect(page.locator("body")).to_contain_text(COURT)  # the accounting of disclosures

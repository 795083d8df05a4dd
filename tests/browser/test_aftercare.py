"""The aftercare year in a real browser: a counselor writes and signs a continuing-care plan
with a trigger and a sober support, records a missed and a completed check-in, and records
a relapse that returns the client to rehab."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, check_accessibility
from tests.browser.test_smoke import main_nav, sign_in

FACILITY = ZoneInfo("America/New_York")


def open_aftercare(page: Page) -> None:
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Demo-Ivanova, Gray").first.click()
    page.get_by_role("link", name="Aftercare", exact=True).click()
    expect(page.get_by_role("heading", name="Check-ins")).to_be_visible()


def write_and_sign_plan(page: Page) -> None:
    page.get_by_role("link", name="Write the continuing-care plan").click()
    page.get_by_role("button", name="Start the plan").click()
    page.get_by_label("Level of care (ASAM)").select_option("1")
    page.get_by_label("Program").select_option("iop")
    page.get_by_label("Session schedule").fill("IOP Monday, Wednesday, Thursday 6–9 pm")
    page.get_by_label("Emergency plan").fill("Call sponsor, then the clinic's 24-hour line")
    page.get_by_label("Re-engagement plan").fill("Walk-in assessment the same day")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_role("status")).to_contain_text("saved")
    trigger = page.locator("#add-trigger")
    trigger.get_by_label("Category").select_option("places")
    trigger.get_by_label("Trigger", exact=True).fill("Old neighbourhood around 5th Street")
    trigger.get_by_label("Risk").select_option("3")
    trigger.get_by_label("Coping strategies").fill("Take the bus route that avoids it")
    trigger.get_by_role("button", name="Add a trigger").click()
    expect(page.get_by_role("status")).to_contain_text("added")
    support = page.locator("#add-support")
    support.get_by_label("Kind").select_option("sponsor")
    support.get_by_label("Name").fill("Sam (NA sponsor)")
    support.get_by_label("How often").fill("Daily call")
    support.get_by_role("button", name="Add a sober support").click()
    expect(page.get_by_role("status")).to_contain_text("added")
    check_accessibility(page, "ccplan-draft")
    page.get_by_role("link", name="Sign version 1").click()
    page.get_by_label("Password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign and lock version 1").click()
    expect(page.locator("body")).to_contain_text("Old neighbourhood around 5th Street")


def record_check_in(page: Page, reached: bool) -> None:
    page.get_by_role("link", name="Record the check-in due").first.click()
    page.get_by_label("Was the client reached?").select_option("yes" if reached else "no")
    page.get_by_label("By what means").select_option("phone")
    if reached:
        page.get_by_label("Days of use in the last 30 days").fill("0")
        page.get_by_label("Craving").fill("3")
    check_accessibility(page, "check-in")
    page.get_by_role("button", name="Record check-in").click()
    expect(page.get_by_role("status")).to_contain_text("done." if reached else "missed.")


def relapse_back_to_rehab(page: Page) -> None:
    page.get_by_role("link", name="Record lapse or relapse").click()
    page.get_by_label("Kind").select_option("relapse")
    page.get_by_label("Date of use").fill(datetime.now(FACILITY).date().isoformat())
    page.get_by_label("Substance").select_option("heroin")
    page.get_by_label("Trigger", exact=True).select_option(
        label="Old neighbourhood around 5th Street"
    )
    page.get_by_label("Response").select_option("return_to_rehab")
    page.get_by_role("button", name="Record", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("recorded")
    page.get_by_role("button", name="Move to rehab").click()
    expect(page.get_by_role("status").filter(has_text="Moved to rehab")).to_be_visible()
    expect(page.locator(".client-header")).to_contain_text("Rehab")


@pytest.mark.browser
def test_counselor_follows_a_client_through_aftercare(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-counselor")
    expect(page.get_by_role("region", name="Aftercare check-ins due this week")).to_be_visible()
    open_aftercare(page)
    write_and_sign_plan(page)
    open_aftercare(page)
    record_check_in(page, reached=False)
    record_check_in(page, reached=True)
    check_accessibility(page, "aftercare")
    relapse_back_to_rehab(page)

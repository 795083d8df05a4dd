"""A counselor's day in a real browser: log an individual session with a DAP note, sign it,
add an addendum, then set up a group and run a meeting with three attendees."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, check_accessibility
from tests.browser.test_smoke import main_nav, sign_in

DEMO_CLIENT = "Demo-Lindqvist, Avery"  # on demo-counselor's caseload
GROUP_MEMBERS = ("Demo-Lindqvist, Avery", "Demo-Castellanos, Emery", "Demo-Ivanova, Gray")


def open_chart(page: Page, name: str) -> None:
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("link", name=name).first.click()
    expect(page.locator(".client-header")).to_contain_text(name)


def write_and_sign_dap_note(page: Page) -> None:
    page.get_by_role("link", name="Log session").first.click()
    page.get_by_label("Note format").select_option("dap")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Start", exact=True).fill("09:00")
    page.get_by_label("End", exact=True).fill("09:50")
    page.get_by_label("Data", exact=True).fill("Client reports cravings 6/10 after a family visit.")
    page.get_by_label("Assessment", exact=True).fill("Engaged; names family conflict as a trigger.")
    page.get_by_label("Plan", exact=True).fill("Practise urge surfing; next session Friday.")
    check_accessibility(page, "note-form")
    page.get_by_role("button", name="Save draft").click()
    expect(page.get_by_text("Client reports cravings 6/10")).to_be_visible()
    page.get_by_role("link", name="Sign", exact=True).click()
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign and lock").click()
    expect(page.get_by_text("Content verified")).to_be_visible()
    check_accessibility(page, "note-signed")


def add_addendum(page: Page) -> None:
    page.get_by_role("link", name="Add addendum").click()
    page.get_by_label("Reason for the addendum").fill("Late information")
    page.get_by_label("Addendum", exact=True).fill("Client also reported poor sleep this week.")
    page.get_by_role("button", name="Add addendum").click()
    expect(page.get_by_text("Client also reported poor sleep this week.")).to_be_visible()
    expect(page.get_by_text("Client reports cravings 6/10")).to_be_visible()  # the original stays


def set_up_group(page: Page) -> None:
    main_nav(page).get_by_role("link", name="Groups").click()
    page.get_by_role("link", name="New group").click()
    page.get_by_label("Name").fill("Browser relapse prevention")
    page.get_by_label("Kind of group").select_option("relapse_prevention")
    page.get_by_role("checkbox", name=re.compile("Jordan Ellis")).check()
    page.get_by_label("Usual start").fill("14:00")
    check_accessibility(page, "group-form")
    page.get_by_role("button", name="Save group").click()
    for name in GROUP_MEMBERS:
        page.get_by_role("link", name="Enrol a client").click()
        picker = page.get_by_label("Client", exact=True)
        picker.select_option(picker.locator("option", has_text=name).get_attribute("value"))
        page.get_by_role("button", name="Enrol").click()
    roster = page.get_by_role("region", name="Enrolled clients")
    for name in GROUP_MEMBERS:
        expect(roster.get_by_text(name)).to_be_visible()


def run_meeting(page: Page) -> None:
    page.get_by_role("link", name="Record a meeting").click()
    page.get_by_label("Topic").fill("Recognising high-risk situations")
    page.get_by_label("Summary").fill(
        "Members mapped people, places and feelings that lead to use."
    )
    for name in GROUP_MEMBERS:
        seat = page.get_by_role("group", name=re.compile(re.escape(name)))
        seat.get_by_label("Participation").fill(
            f"{name.split(', ')[1]} named two personal triggers."
        )
    check_accessibility(page, "group-meeting-form")
    page.get_by_role("button", name="Save meeting and draft notes").click()
    expect(page.get_by_role("heading", name="Recognising high-risk situations")).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_label("Your password").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Sign all notes").click()
    expect(page.get_by_role("status").filter(has_text="3")).to_be_visible()
    check_accessibility(page, "group-meeting-signed")


@pytest.mark.browser
def test_a_counselors_documentation_day(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-counselor")
    open_chart(page, DEMO_CLIENT)
    write_and_sign_dap_note(page)
    add_addendum(page)
    set_up_group(page)
    run_meeting(page)
    open_chart(page, GROUP_MEMBERS[1])
    chart = page.locator("main")
    expect(chart).to_contain_text("Recognising high-risk situations")
    for other in (GROUP_MEMBERS[0], GROUP_MEMBERS[2]):
        expect(chart).not_to_contain_text(other)  # no other attendee's name on this chart

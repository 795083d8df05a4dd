"""Sites in a real browser: the administrator adds the network's sites (a code refused next
to its field first), and a clinic manager moves a client's open episode to another site,
which the chart's site history then shows with the reason, handing the client to another
counselor in the same step.

Runs after the other flows that admit clients (files run in name order): once sites exist,
intake asks for one."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_accessibility
from tests.browser.test_privacy import open_chart
from tests.browser.test_smoke import main_nav, sign_in, sign_out

REASON = "Continues in residential rehab at South House"


def add_site(page: Page, code: str, name: str) -> None:
    page.get_by_role("link", name="Add site").click()
    page.get_by_label("Code", exact=True).fill(code)
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_role("button", name="Add site").click()


def add_counselor_at(page: Page, name: str, site: str) -> None:
    main_nav(page).get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Add staff member").click()
    page.get_by_label("Login name", exact=True).fill(name.lower().replace(" ", "."))
    page.get_by_label("Full name", exact=True).fill(name)
    page.get_by_label("Counselor", exact=True).check()
    page.get_by_label("Site", exact=True).select_option(label=site)
    page.get_by_label("Temporary password", exact=True).fill("a temporary passphrase 2026")
    page.get_by_label("Temporary password again", exact=True).fill("a temporary passphrase 2026")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status")).to_contain_text(name)


@pytest.mark.browser
def test_admin_adds_sites_and_a_manager_moves_a_client_between_them(
    page: Page, live_server: str
) -> None:
    sign_in(page, live_server, "demo-admin")
    main_nav(page).get_by_role("link", name="Sites").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Sites")
    check_accessibility(page, "sites-empty")

    add_site(page, "NO RTH!", "North House")  # a space and "!": refused next to the field
    code = page.get_by_label("Code", exact=True)
    expect(code).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#code-error")).to_be_visible()
    check_accessibility(page, "site-new-errors")
    code.fill("NORTH")
    page.get_by_role("button", name="Add site").click()
    expect(page.get_by_role("status").filter(has_text="North House")).to_be_visible()
    add_site(page, "south", "South House")
    table = page.get_by_role("table")
    expect(table).to_contain_text("NORTH")
    expect(table).to_contain_text("SOUTH")  # stored in capitals
    check_accessibility(page, "sites-list")
    add_counselor_at(page, "Nora Northfield", "North House")
    sign_out(page)

    sign_in(page, live_server, "demo-manager")
    open_chart(page, "Demo-Abernathy, Finley")
    page.get_by_role("link", name="Change site").click()
    page.get_by_label("Move to site", exact=True).select_option(label="South House")
    page.get_by_role("button", name="Move to this site").click()
    expect(page.locator("#reason-error")).to_be_visible()  # a reason is required
    check_accessibility(page, "change-site-errors")
    page.get_by_label("Move to site", exact=True).select_option(label="South House")
    counselor = page.get_by_label("Primary counselor", exact=True)
    expect(counselor.locator("option:checked")).to_have_text("Keep Sam Whitfield, CADC")
    # Only the chosen site's counselors (and the network-wide ones) are offered.
    northern = counselor.locator("option", has_text="Nora Northfield")
    expect(northern).to_be_disabled()
    page.get_by_label("Move to site", exact=True).select_option(label="North House")
    expect(northern).to_be_enabled()
    counselor.select_option(label="Nora Northfield")
    page.get_by_label("Move to site", exact=True).select_option(label="South House")
    expect(counselor.locator("option:checked")).to_have_text("Keep Sam Whitfield, CADC")
    counselor.select_option(label="Jordan Ellis, LADC")  # network-wide: any site's client
    page.get_by_label("Reason", exact=True).fill(REASON)
    page.get_by_role("button", name="Move to this site").click()

    history = page.get_by_role("table", name="Site changes")
    expect(history).to_contain_text("South House")
    expect(history).to_contain_text(REASON)
    expect(page.locator(".client-header")).to_contain_text("South House")
    counselors = page.get_by_role("table", name="Primary counselor").first
    expect(counselors).to_contain_text("Moved to South House")
    check_accessibility(page, "chart-with-site-history")
    sign_out(page)

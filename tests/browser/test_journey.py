"""The treatment journey in a real browser: a counselor admits a client through the forms and
moves them to detox; the nurse sees them on the detox board and the manager on the census."""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import check_accessibility
from tests.browser.test_smoke import main_nav, sign_in, sign_out

FIRST, LAST = "Quinn", "Demo-Browserton"


def admit_through_the_forms(page: Page) -> None:
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="New intake").click()
    page.get_by_role("button", name="Admit client").click()  # empty: errors next to the fields
    expect(page.locator("#legal_first_name-error")).to_have_text("This field is required.")
    check_accessibility(page, "intake-errors")
    page.get_by_label("Legal first name").fill(FIRST)
    page.get_by_label("Legal last name").fill(LAST)
    page.get_by_label("Date of birth").fill("1994-08-19")
    page.get_by_label("Sex").select_option("female")
    page.get_by_label("Referral source").select_option("hospital")
    page.get_by_label("Medicaid", exact=True).check()
    page.get_by_label("Medicaid member id").fill("DEMO-4242")
    primary = page.get_by_role("group", name="Primary substance")
    primary.get_by_label("Substance").select_option("fentanyl")
    primary.get_by_label("Route").select_option("smoking")
    primary.get_by_label("Use in the last 30 days").select_option("5")
    page.get_by_role("button", name="Admit client").click()
    expect(page.get_by_role("status").filter(has_text="admitted as")).to_be_visible()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"{LAST}, {FIRST}")


def move_to_detox(page: Page) -> None:
    page.get_by_role("link", name="Change phase").click()
    page.get_by_label("Move to").select_option("detox")
    page.get_by_label("Reason").fill("COWS 14 at intake; needs supervised withdrawal")
    check_accessibility(page, "change-phase")
    page.get_by_role("button", name="Move episode").click()
    expect(page.get_by_role("status").filter(has_text="Moved to detox")).to_be_visible()
    expect(page.locator(".client-header")).to_contain_text("Detox")
    expect(
        page.get_by_role("img", name="Timeline of phases and levels of care, by episode")
    ).to_be_visible()
    check_accessibility(page, "chart-in-detox")


@pytest.mark.browser
def test_counselor_admits_nurse_and_manager_see_the_client(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-counselor")
    admit_through_the_forms(page)
    move_to_detox(page)
    sign_out(page)

    sign_in(page, live_server, "demo-nurse")
    board = page.get_by_role("region", name="In detox")
    expect(board.get_by_role("link", name=f"{LAST}, {FIRST}")).to_be_visible()
    check_accessibility(page, "nurse-detox-board")
    sign_out(page)

    sign_in(page, live_server, "demo-manager")
    main_nav(page).get_by_role("link", name="Census").click()
    expect(page.get_by_role("link", name=f"{LAST}, {FIRST}")).to_be_visible()
    check_accessibility(page, "manager-census")
    page.goto(live_server + "/home/clinic_manager")
    expect(page.get_by_role("heading", name="Census today")).to_be_visible()
    check_accessibility(page, "manager-home")

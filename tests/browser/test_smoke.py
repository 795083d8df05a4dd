"""Smoke tests in a real browser: sign-in for every role, staff administration, audit trail,
the tablet layout, and axe-core accessibility checks on each page visited."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, check_accessibility

LOGIN_URL = re.compile(r"/login(\?.*)?$")

DEMO_HOMES = [
    ("demo-admin", "admin", "Administrator home"),
    ("demo-manager", "clinic_manager", "Clinic manager home"),
    ("demo-counselor", "counselor", "Counselor home"),
    ("demo-nurse", "nurse", "Nurse home"),
    ("demo-physician", "physician", "Physician home"),
    ("demo-supervisor", "supervisor", "Clinical supervisor home"),
]


def sign_in(page: Page, base_url: str, login: str, password: str = DEMO_PASSWORD) -> None:
    page.goto(base_url + "/")
    expect(page).to_have_url(LOGIN_URL)
    page.get_by_label("Login name", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()


def sign_out(page: Page) -> None:
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("status").filter(has_text="You are signed out.")).to_be_visible()


def main_nav(page: Page):
    return page.get_by_role("navigation", name="Main")


@pytest.mark.browser
def test_login_page(page: Page, live_server: str) -> None:
    page.goto(live_server + "/")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_text("DEMO", exact=True)).to_be_visible()
    check_accessibility(page, "login")


@pytest.mark.browser
def test_wrong_password_is_refused(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-counselor2", "not the right passphrase at all")
    expect(page).to_have_url(LOGIN_URL)
    expect(page.get_by_role("heading", level=1)).to_have_text("Sign in")
    expect(page.get_by_role("alert")).to_be_visible()
    check_accessibility(page, "login-failed")


@pytest.mark.browser
@pytest.mark.parametrize(("login", "role", "heading"), DEMO_HOMES, ids=[d[0] for d in DEMO_HOMES])
def test_demo_login_lands_on_role_home(
    page: Page, live_server: str, login: str, role: str, heading: str
) -> None:
    sign_in(page, live_server, login)
    expect(page).to_have_url(re.compile(rf"/home/{role}$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    expect(page.get_by_text("DEMO", exact=True)).to_be_visible()
    check_accessibility(page, f"home-{role}")
    sign_out(page)


@pytest.mark.browser
def test_admin_adds_staff_member_and_reads_audit_trail(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-admin")
    expect(page).to_have_url(re.compile(r"/home/admin$"))

    main_nav(page).get_by_role("link", name="Staff").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Staff accounts")
    check_accessibility(page, "staff-list")
    page.get_by_role("link", name="Add staff member").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a staff member")

    # An empty submission: each required field says what is wrong, next to the field.
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Add a staff member")
    for label, field_id in [
        ("Login name", "login"),
        ("Full name", "full_name"),
        ("Temporary password", "password"),
        ("Temporary password again", "confirm"),
    ]:
        control = page.get_by_label(label, exact=True)
        error = page.locator(f"#{field_id}-error")
        expect(error).to_have_text("This field is required.")
        expect(control).to_have_attribute("aria-invalid", "true")
        expect(control).to_have_attribute("aria-describedby", re.compile(rf"\b{field_id}-error\b"))
        expect(control).to_have_accessible_description(re.compile("This field is required."))
    check_accessibility(page, "staff-new-errors")

    page.get_by_label("Login name", exact=True).fill("casey.brooks")
    page.get_by_label("Full name", exact=True).fill("Casey Brooks")
    page.get_by_label("Counselor", exact=True).check()
    new_password = "temporary passphrase for the new counselor"
    page.get_by_label("Temporary password", exact=True).fill(new_password)
    page.get_by_label("Temporary password again", exact=True).fill(new_password)
    page.get_by_role("button", name="Create account").click()
    flash = page.get_by_role("status").filter(has_text="created")
    expect(flash).to_be_visible()
    expect(flash).to_contain_text("casey.brooks")
    check_accessibility(page, "staff-show")

    main_nav(page).get_by_role("link", name="Audit trail").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Audit trail")
    table = page.get_by_role("table", name="Audit events, newest first")
    expect(table).to_contain_text("auth.login")
    check_accessibility(page, "audit-trail")
    sign_out(page)


@pytest.mark.browser
def test_tablet_layout_has_no_horizontal_scroll(new_context, live_server: str) -> None:
    page = new_context(viewport={"width": 768, "height": 1024}).new_page()
    page.goto(live_server + "/")
    expect(page).to_have_url(LOGIN_URL)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        "the sign-in page scrolls sideways at 768px"
    )
    sign_in(page, live_server, "demo-nurse")
    expect(page).to_have_url(re.compile(r"/home/nurse$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Nurse home")
    width = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"), (
        f"the nurse home page scrolls sideways at 768px (scrollWidth, innerWidth = {width})"
    )
    check_accessibility(page, "home-nurse-tablet")

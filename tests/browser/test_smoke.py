"""Smoke tests in a real browser: sign-in (password and code) for every role, setting up
two-factor sign-in, staff administration, audit trail, the tablet layout, and axe-core
accessibility checks on each page visited."""

from __future__ import annotations

import re
import time

import pyotp
import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import ARTIFACTS, DEMO_PASSWORD, DEMO_TOTP_SEED, check_accessibility

LOGIN_URL = re.compile(r"/login(\?.*)?$")
CODE_URL = re.compile(r"/login/code$")

DEMO_HOMES = [
    ("demo-admin", "admin", "Administrator home"),
    ("demo-manager", "clinic_manager", "Clinic manager home"),
    ("demo-counselor", "counselor", "Counselor home"),
    ("demo-nurse", "nurse", "Nurse home"),
    ("demo-physician", "physician", "Physician home"),
    ("demo-supervisor", "supervisor", "Clinical supervisor home"),
]


def sign_in(page: Page, base_url: str, login: str, password: str = DEMO_PASSWORD) -> None:
    """Sign in as a demo login: the password, then (when asked) the code the authenticator
    app would show for the demo TOTP seed."""
    page.goto(base_url + "/")
    expect(page).to_have_url(LOGIN_URL)
    page.get_by_label("Login name", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    page.wait_for_load_state()
    if CODE_URL.search(page.url):
        _type_code(page, login)


# The last TOTP step typed for each login in this run. The server accepts each step once per
# user (and the next step early), so a second sign-in within 30 seconds types the next code.
_steps_used: dict[str, int] = {}
_STEP = 30


def _next_step(login: str) -> int:
    while True:
        now = int(time.time()) // _STEP
        last = _steps_used.get(login)
        step = now if last is None else max(now, last + 1)
        if step <= now + 1:
            return step
        time.sleep((now + 1) * _STEP - time.time() + 0.2)  # two used already: wait for the next


def _type_code(page: Page, login: str, attempts: int = 3) -> None:
    for _ in range(attempts):
        step = _next_step(login)
        page.get_by_label("Code", exact=True).fill(pyotp.TOTP(DEMO_TOTP_SEED).generate_otp(step))
        page.get_by_role("button", name="Sign in", exact=True).click()
        page.wait_for_load_state()
        _steps_used[login] = step
        if not CODE_URL.search(page.url):
            return
        # Refused: a sign-in this process did not see used the step; try the next one.
        _steps_used[login] = max(step, int(time.time()) // _STEP)
    raise AssertionError(f"the sign-in code for {login} was refused {attempts} times")


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


def _add_staff_member(page: Page, base_url: str, login: str, password: str) -> None:
    sign_in(page, base_url, "demo-admin")
    main_nav(page).get_by_role("link", name="Staff").click()
    page.get_by_role("link", name="Add staff member").click()
    page.get_by_label("Login name", exact=True).fill(login)
    page.get_by_label("Full name", exact=True).fill("Riley Newhire")
    page.get_by_label("Nurse", exact=True).check()
    page.get_by_label("Temporary password", exact=True).fill(password)
    page.get_by_label("Temporary password again", exact=True).fill(password)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("status").filter(has_text="created")).to_be_visible()
    sign_out(page)


def _password_step(page: Page, base_url: str, login: str, password: str) -> None:
    page.goto(base_url + "/")
    page.get_by_label("Login name", exact=True).fill(login)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page).to_have_url(CODE_URL)


@pytest.mark.browser
def test_sign_in_code_page(page: Page, live_server: str) -> None:
    _password_step(page, live_server, "demo-nurse2", DEMO_PASSWORD)
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your sign-in code")
    check_accessibility(page, "sign-in-code")
    page.get_by_label("Code", exact=True).fill("000000")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.locator("#code-error")).to_contain_text("That code is not right")
    check_accessibility(page, "sign-in-code-wrong")
    _type_code(page, "demo-nurse2")
    expect(page).to_have_url(re.compile(r"/home/nurse$"))
    sign_out(page)


@pytest.mark.browser
def test_new_staff_member_sets_up_two_factor_at_first_sign_in(
    page: Page, new_context, live_server: str
) -> None:
    login, temporary = "riley.newhire", "temporary passphrase for the new nurse"
    _add_staff_member(page, live_server, login, temporary)

    # Accessibility of the set-up page (this context bypasses CSP so axe can be injected).
    _password_step(page, live_server, login, temporary)
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up two-factor sign-in")
    check_accessibility(page, "two-factor-setup")
    page.get_by_role("button", name="Cancel sign-in").click()
    expect(page).to_have_url(LOGIN_URL)

    # The QR code under the real content-security policy: drawn, and nothing refused.
    strict = new_context(bypass_csp=False).new_page()
    refused: list[str] = []
    strict.on("console", lambda m: refused.append(m.text) if "Content Security" in m.text else 0)
    _password_step(strict, live_server, login, temporary)
    qr = strict.get_by_role("img", name=re.compile("QR code"))
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box and box["width"] >= 200 and box["height"] >= 200
    fill = strict.evaluate("getComputedStyle(document.querySelector('svg.qr-code path')).fill")
    assert fill == "rgb(0, 0, 0)"
    strict.screenshot(path=str(ARTIFACTS / "two-factor-setup-qr.png"), full_page=True)
    key = strict.get_by_label(re.compile("setup key")).input_value().replace(" ", "")
    strict.get_by_label("Code from the app", exact=True).fill(pyotp.TOTP(key).now())
    strict.get_by_role("button", name="Confirm and sign in").click()
    expect(strict.get_by_role("heading", level=1)).to_have_text("Your recovery codes")
    expect(strict.locator("ol.recovery-codes li")).to_have_count(10)
    strict.get_by_role("link", name="I have kept them; continue").click()
    expect(strict.get_by_role("heading", level=1)).to_have_text("Change your password")
    assert not refused, refused

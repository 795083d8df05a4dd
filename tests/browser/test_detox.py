"""A detox shift in a real browser: a physician orders methadone, the nurse gives it with a
colleague witnessing, scores COWS with vitals, and the board shows all of it."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from tests.browser.conftest import DEMO_PASSWORD, check_accessibility
from tests.browser.test_smoke import main_nav, sign_in, sign_out

FACILITY = ZoneInfo("America/New_York")  # the app's default TIMEZONE
COWS_SCORES = {  # total 2+2+3+2+1+2+2+1+1+1+3 = 20, moderate
    "resting_pulse": "2",
    "sweating": "2",
    "restlessness": "3",
    "pupil_size": "2",
    "bone_joint_aches": "1",
    "runny_nose_tearing": "2",
    "gi_upset": "2",
    "tremor": "1",
    "yawning": "1",
    "anxiety_irritability": "1",
    "gooseflesh": "3",
}


def casey_row(page: Page):
    return page.locator("tr", has=page.get_by_role("link", name="Demo-Marchetti, Casey"))


def order_methadone_now(page: Page) -> str:
    """A 10 mg dose scheduled for this minute, so the nurse sees it due."""
    now = datetime.now(FACILITY)
    slot = now.strftime("%H:%M")
    main_nav(page).get_by_role("link", name="Detox board").click()
    casey_row(page).get_by_role("link", name="Medication record for Casey Demo-Marchetti").click()
    page.get_by_role("link", name="New order").click()
    page.get_by_label("Drug").select_option("methadone")
    page.get_by_label("Dose", exact=True).fill("10")
    page.get_by_label("Scheduled times").fill(slot)
    page.get_by_label("Start").fill((now - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M"))
    check_accessibility(page, "mar-order")
    page.get_by_role("button", name="Save order").click()
    expect(page.get_by_role("status")).to_contain_text("Methadone")
    return slot


def give_witnessed_dose(page: Page, slot: str) -> None:
    main_nav(page).get_by_role("link", name="Detox board").click()
    casey_row(page).get_by_role("link", name="Medication record for Casey Demo-Marchetti").click()
    page.get_by_role("link", name=f"Record Methadone {slot}").click()
    page.get_by_role("button", name="Save dose record").click()  # no witness: refused
    expect(page.locator("#witness_login-error")).to_contain_text("witness")
    page.get_by_label("Witness login name").fill("demo-nurse2")
    page.get_by_label("Witness password").fill(DEMO_PASSWORD)
    check_accessibility(page, "mar-give")
    page.get_by_role("button", name="Save dose record").click()
    expect(page.get_by_role("status")).to_contain_text("Methadone")


def score_cows(page: Page, heart_rate: str = "118") -> None:
    main_nav(page).get_by_role("link", name="Detox board").click()
    casey_row(page).get_by_role("link", name="Record COWS for Casey Demo-Marchetti").click()
    for item, score in COWS_SCORES.items():
        page.locator(f"select[name={item}]").select_option(score)
    page.get_by_label("Heart rate").fill("900")  # refused: not a heart rate
    page.get_by_role("button", name="Record COWS").click()
    expect(page.locator("#heart_rate-error")).to_be_visible()
    page.get_by_label("Heart rate").fill(heart_rate)
    page.get_by_label("Systolic").fill("150")
    page.get_by_label("Diastolic").fill("92")
    page.get_by_role("button", name="Record COWS").click()
    expect(page.get_by_role("status")).to_contain_text("COWS recorded: 20")


@pytest.mark.browser
def test_nurse_gives_a_witnessed_dose_scores_cows_and_sees_the_board(
    page: Page, live_server: str
) -> None:
    sign_in(page, live_server, "demo-physician")
    slot = order_methadone_now(page)
    sign_out(page)

    sign_in(page, live_server, "demo-nurse")
    give_witnessed_dose(page, slot)
    score_cows(page)
    main_nav(page).get_by_role("link", name="Detox board").click()
    row = casey_row(page)
    expect(row).to_contain_text("20")
    expect(row).to_contain_text("Moderate")
    expect(row.locator("[data-vital=heart_rate]")).to_contain_text("118")
    expect(row).to_contain_text("Last dose: Methadone 10 mg")
    check_accessibility(page, "detox-board")


@pytest.mark.browser
def test_nurse_voids_an_assessment_entered_in_error_and_the_board_forgets_it(
    page: Page, live_server: str
) -> None:
    """Entered on the wrong client: the nurse voids it with a reason. It stays in the
    summary, struck through and signed, and the board's score and vitals no longer use it."""
    sign_in(page, live_server, "demo-nurse")
    score_cows(page, heart_rate="131")
    main_nav(page).get_by_role("link", name="Detox board").click()
    expect(casey_row(page).locator("[data-vital=heart_rate]")).to_contain_text("131")
    casey_row(page).get_by_role("link", name="Demo-Marchetti, Casey").click()
    page.get_by_role("link", name=re.compile(r"^Void COWS of")).first.click()
    page.get_by_label("Reason").fill("oops")  # too short to say why
    page.get_by_role("button", name=re.compile(r"^Void ")).click()
    expect(page.locator("#reason-error")).to_be_visible()
    page.get_by_label("Reason").fill("Scored for the wrong client in the next bed")
    check_accessibility(page, "void-assessment")
    page.get_by_role("button", name=re.compile(r"^Void ")).click()
    expect(page.get_by_role("status")).to_contain_text("voided")
    expect(page.locator("tr.voided").first).to_contain_text("Scored for the wrong client")
    expect(page.locator("tr.voided").first).to_contain_text("Voided by")
    main_nav(page).get_by_role("link", name="Detox board").click()
    expect(casey_row(page)).not_to_contain_text("131")  # the vitals come from a live one

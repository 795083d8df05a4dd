"""Printing in a real browser: a clinic manager downloads a client's progress report and a
batch of every active client, and both files are valid PDFs with the Part 2 notice."""

from __future__ import annotations

import io

import pytest
from playwright.sync_api import Page, expect
from pypdf import PdfReader

from tests.browser.conftest import check_accessibility
from tests.browser.test_smoke import main_nav, sign_in


def pdf_pages(path: str) -> list[str]:
    with open(path, "rb") as handle:
        reader = PdfReader(io.BytesIO(handle.read()))
    return [page.extract_text() for page in reader.pages]


@pytest.mark.browser
def test_manager_downloads_a_progress_report_and_a_batch(page: Page, live_server: str) -> None:
    sign_in(page, live_server, "demo-manager")
    main_nav(page).get_by_role("link", name="Clients").click()
    page.get_by_role("link", name="Demo-Castellanos, Emery").first.click()
    page.get_by_role("link", name="Print progress report").click()
    page.get_by_role("button", name="Download PDF").click()  # no purpose: refused
    expect(page.locator("#purpose-error")).to_be_visible()
    page.get_by_label("Purpose").fill("Quarterly payer review")
    check_accessibility(page, "print-progress")
    with page.expect_download() as download:
        page.get_by_role("button", name="Download PDF").click()
    pages = pdf_pages(download.value.path())
    assert "Demo-Castellanos" in pages[0] and "Quarterly payer review" in pages[0]
    assert all("42 CFR part 2" in text for text in pages)

    main_nav(page).get_by_role("link", name="Print").click()
    page.get_by_role("link", name="Batch print progress reports").click()
    page.get_by_label("Purpose").fill("Census review")
    check_accessibility(page, "batch-new")
    page.get_by_role("button", name="Start printing").click()
    link = page.get_by_role("link", name="Download the combined PDF")
    expect(link).to_be_visible(timeout=60_000)  # the status page refreshes until done
    with page.expect_download() as download:
        link.click()
    pages = pdf_pages(download.value.path())
    assert len(pages) >= 5 and all("42 CFR part 2" in text for text in pages)

    page.goto(live_server + "/print/log")
    expect(page.locator("body")).to_contain_text("Quarterly payer review")
    check_accessibility(page, "print-log")

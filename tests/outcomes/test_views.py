"""The outcomes page, its CSV and its charts, on the hand-built cohort of conftest.py.

Expected figures for P (2025-01-01 to 2025-06-30), as of 2026-11-25, worked out by hand:

- Admissions in P: E1 01-10, E2 02-01, E5 06-01, E6 03-10 -> 4 (E4 was admitted in 2024,
  E3 after P).
- Discharges in P: E1 (reason 1), E2 (2), E4 (3), E5 (2) -> 4. Completed 1 of 4 (25%), left
  against advice 2 of 4 (50%), terminated by facility 1 of 4 (25%), reasons 4-7 0 of 4 (0%).
- Median stays of spans ending in P:
  intake  E1 01-10..01-12 = 2, E2 02-01..02-03 = 2 (starts on the admission date, not on the
          day it was entered), E5 06-01..06-02 = 1, E6 03-10..03-11 = 1 -> 1.5 days (n = 4)
  detox   E1 01-12..01-17 = 5, E5 06-02..06-10 = 8 -> 6.5 days (n = 2)
  rehab   E1 01-17..03-17 = 59, E2 02-03..02-20 = 17, E4 2024-12-08..03-01 = 83 (ends on the
          discharge date, not on 03-04 when it was entered), E6 03-11..04-10 = 30
          -> 17, 30, 59, 83 -> (30 + 59) / 2 = 44.5 days (n = 4)
  aftercare E1 03-17..05-20 = 64 -> 64 days (n = 1); E6's is still open
- Retention, of the 4 admitted in P:
  30 days  E1 yes (out 05-20), E2 no (out 02-20 < 03-03), E5 no (out 06-10 < 07-01), E6 yes
           -> 2 of 4 (50%)
  90 days  E1 yes (day 90 = 04-10), E6 yes -> 2 of 4 (50%)
  180 days E1 no (day 180 = 07-09), E6 yes -> 1 of 4 (25%)
- Follow-ups due in P: 30-day E1 reached (0 days used), E6 not reached -> reached 1 of 2
  (50%), no use 1 of 1 (100%); 90-day E1 reached (3 days used) -> 1 of 1 (100%), no use
  0 of 1 (0%); 180 and 365-day: none due in P -> no data (n = 0).
- Readmission within 365 days of the 4 discharges in P: Ben (E2) came back as E3 on
  2025-08-01 -> 1 of 4 (25%).
"""

from __future__ import annotations

import csv
import io
import json
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests.outcomes.conftest import P
from tests.outcomes.helpers import client as new_client
from tests.outcomes.helpers import episode, followup

SVG = "{http://www.w3.org/2000/svg}"


def row(html: str, key: str) -> str:
    """The text of the page's table row for figure `key`."""
    match = re.search(rf'<tr id="{key}">(.*?)</tr>', html, re.S)
    assert match, key
    text = re.sub(r"<details.*?</details>", "", match.group(1), flags=re.S)
    return " ".join(re.sub(r"<[^>]+>", " ", text).split())


def page(client, **params) -> str:
    resp = client.get("/outcomes", query_string=params)
    assert resp.status_code == 200, resp.text
    return resp.text


def csv_rows(client, **params) -> dict[str, dict[str, str]]:
    resp = client.get("/outcomes/export.csv", query_string=params)
    assert resp.status_code == 200
    text = resp.data.decode("utf-8")
    assert text.startswith("\ufeff")
    return {r["key"]: r for r in csv.DictReader(io.StringIO(text.removeprefix("\ufeff")))}


EXPECTED = {
    "admissions": "Admissions 4",
    "discharges": "Discharges 4",
    "completion_rate": "Completed 1 of 4 (25%)",
    "against_advice_rate": "Left against advice 2 of 4 (50%)",
    "administrative_rate": "Terminated by facility 1 of 4 (25%)",
    "reason_1": "1 Treatment completed 1 of 4 (25%)",
    "reason_2": "2 Left against professional advice / dropped out 2 of 4 (50%)",
    "reason_3": "3 Terminated by facility 1 of 4 (25%)",
    "reason_4": "4 Transferred to another program or facility 0 of 4 (0%)",
    "reason_6": "6 Death 0 of 4 (0%)",
    "stay_intake": "Intake stay 1.5 days (n = 4)",
    "stay_detox": "Detox stay 6.5 days (n = 2)",
    "stay_rehab": "Rehab stay 44.5 days (n = 4)",
    "stay_aftercare": "Aftercare stay 64 days (n = 1)",
    "retention_30": "In treatment at 30 days 2 of 4 (50%)",
    "retention_90": "In treatment at 90 days 2 of 4 (50%)",
    "retention_180": "In treatment at 180 days 1 of 4 (25%)",
    "followup_30": "30 days 1 of 2 (50%) 1 of 1 (100%)",
    "followup_90": "90 days 1 of 1 (100%) 0 of 1 (0%)",
    "followup_180": "180 days no data (n = 0) no data (n = 0)",
    "followup_365": "365 days no data (n = 0) no data (n = 0)",
    "readmission_365": "Readmitted within 365 days 1 of 4 (25%)",
}


def test_every_figure_is_shown_with_its_denominator(client, manager, cohort):
    html = page(client, **P)
    for key, text in EXPECTED.items():
        assert row(html, key) == text, key
    assert "Outcomes, 2025-01-01 to 2025-06-30" in html
    assert "All levels of care" in html and "All counselors" in html


def test_each_definition_is_on_the_page(client, manager, cohort):
    html = page(client, **P)
    assert html.count("How this is counted") == 11  # one per definition in the domain
    # Straight from the domain's docstrings.
    assert "Transfers (reason 4) are not counted as completions." in html
    assert "the median of an even number of stays is the mean of the middle two" in html
    assert "on or before the report date" in html and "`" not in html.split("<main", 1)[1]


def test_the_page_names_no_client(client, manager, cohort):
    html = page(client, **P)
    body = client.get("/outcomes/export.csv", query_string=P).data.decode()
    for c in cohort.clients:
        for text in (html, body):
            assert c.legal_first_name not in text and c.mrn not in text


def test_csv_has_one_row_per_figure_matching_the_page(client, manager, cohort):
    rows = csv_rows(client, **P)
    assert len(rows) == 5 + 7 + 4 + 3 + 8 + 1
    assert rows["admissions"] | {} == {
        "key": "admissions",
        "label": "Admissions",
        "numerator": "4",
        "denominator": "",
        "rate": "",
        "median_days": "",
        "period_start": "2025-01-01",
        "period_end": "2025-06-30",
        "as_of": "2026-11-25",
        "level_of_care": "all",
        "counselor": "all",
    }
    assert [rows["completion_rate"][k] for k in ("numerator", "denominator", "rate")] == [
        "1",
        "4",
        "0.2500",
    ]
    assert [rows["followup_30_reached"][k] for k in ("numerator", "denominator")] == ["1", "2"]
    assert rows["stay_rehab"]["median_days"] == "44.5" and rows["stay_rehab"]["denominator"] == "4"
    assert rows["readmission_365"]["rate"] == "0.2500"
    # No data: an empty rate, never 0.
    assert rows["followup_180_reached"]["denominator"] == "0"
    assert rows["followup_180_reached"]["rate"] == ""
    assert rows["stay_intake"]["median_days"] == "1.5"


def test_csv_download_is_named_by_its_range_and_audited(client, manager, cohort):
    resp = client.get("/outcomes/export.csv", query_string={**P, "level": "3.7"})
    assert resp.mimetype == "text/csv"
    assert resp.headers["Content-Disposition"] == (
        'attachment; filename="outcomes-2025-01-01-to-2025-06-30.csv"'
    )
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "outcomes.exported")
    ).one()
    assert json.loads(event.detail) == {
        "start": "2025-01-01",
        "end": "2025-06-30",
        "level_of_care": "3.7",
        "counselor_id": None,
        "rows": 28,
    }
    assert event.client_id is None


def test_reading_the_page_is_audited_with_its_filters(client, manager, cohort, staff):
    page(client, **P, counselor=staff.c2.id)
    event = db.session.scalars(
        sa.select(AuditEvent).where(AuditEvent.action == "outcomes.viewed")
    ).one()
    assert json.loads(event.detail) == {
        "start": "2025-01-01",
        "end": "2025-06-30",
        "level_of_care": None,
        "counselor_id": staff.c2.id,
    }
    assert event.actor_id == staff.manager.id and event.client_id is None


def test_an_empty_range_shows_no_data_and_no_error(client, manager, cohort):
    params = {"start": "2020-01-01", "end": "2020-12-31"}
    html = page(client, **params)
    assert row(html, "admissions") == "Admissions 0"
    assert row(html, "completion_rate") == "Completed no data (n = 0)"
    assert row(html, "stay_rehab") == "Rehab stay no data (n = 0)"
    assert row(html, "retention_30") == "In treatment at 30 days no data (n = 0)"
    assert row(html, "readmission_365") == "Readmitted within 365 days no data (n = 0)"
    assert "0%" not in html
    rows = csv_rows(client, **params)
    assert rows["completion_rate"]["rate"] == "" and rows["completion_rate"]["denominator"] == "0"
    svg = client.get("/outcomes/discharges.svg", query_string=params).text
    assert "No discharges in this range." in svg


def test_filtering_by_counselor_changes_the_figures(client, manager, cohort, staff):
    # C1: E1, E5, E6 (E3 is after P). C2: E2, E4.
    html = page(client, **P, counselor=staff.c1.id)
    assert row(html, "admissions") == "Admissions 3"  # E1, E5, E6
    assert row(html, "completion_rate") == "Completed 1 of 2 (50%)"  # E1 of E1, E5
    assert row(html, "retention_30") == "In treatment at 30 days 2 of 3 (67%)"  # E1, E6
    assert row(html, "readmission_365") == "Readmitted within 365 days 0 of 2 (0%)"
    assert "Casey Counselor" in html

    html = page(client, **P, counselor=staff.c2.id)
    assert row(html, "admissions") == "Admissions 1"  # E2
    assert row(html, "completion_rate") == "Completed 0 of 2 (0%)"  # E2, E4
    assert row(html, "against_advice_rate") == "Left against advice 1 of 2 (50%)"
    # Ben's readmission (E3) is in C1's caseload, and still counts for E2 under C2.
    assert row(html, "readmission_365") == "Readmitted within 365 days 1 of 2 (50%)"
    rows = csv_rows(client, **P, counselor=staff.c2.id)
    assert rows["admissions"]["counselor"] == "Morgan Counselor"


def test_filtering_by_level_of_care_at_admission_changes_the_figures(client, manager, cohort):
    html = page(client, **P, level="3.7")  # E2, E4, E6
    assert row(html, "admissions") == "Admissions 2"  # E2, E6
    assert row(html, "completion_rate") == "Completed 0 of 2 (0%)"  # E2, E4
    assert row(html, "retention_30") == "In treatment at 30 days 1 of 2 (50%)"  # E6
    assert row(html, "followup_30") == "30 days 0 of 1 (0%) no data (n = 0)"  # E6
    html = page(client, **P, level="3.5")  # E1, E5
    assert row(html, "completion_rate") == "Completed 1 of 2 (50%)"
    # E1 stepped down to level 1, but it is grouped by its level at admission.
    html = page(client, **P, level="1")
    assert row(html, "admissions") == "Admissions 0"
    assert row(html, "completion_rate") == "Completed no data (n = 0)"
    assert "1 (Outpatient Services)" in html


def test_filters_offer_the_levels_recorded_and_every_counselor(client, manager, cohort, staff):
    staff.c2.active = False
    db.session.commit()
    html = page(client)
    for code in ("3.5", "3.7", "1"):
        assert f'<option value="{code}">' in html
    assert f'<option value="{staff.c1.id}">Casey Counselor</option>' in html
    assert f'<option value="{staff.c2.id}">Morgan Counselor (deactivated)</option>' in html


def test_the_default_range_is_the_last_twelve_full_months(client, manager, cohort):
    html = page(client)
    assert "Outcomes, 2025-11-25 to 2026-11-24" in html
    assert 'value="2025-11-25"' in html and 'value="2026-11-24"' in html


@pytest.mark.parametrize(
    "params, field, message",
    [
        ({"start": "2025-13-01"}, "start", "Enter a date as YYYY-MM-DD"),
        ({"end": "yesterday"}, "end", "Enter a date as YYYY-MM-DD"),
        ({"start": "2025-06-30", "end": "2025-01-01"}, "end", "before its start"),
        ({"start": "2026-11-25"}, "start", "after the default end (2026-11-24, yesterday)"),
        ({"end": "2026-12-01"}, "end", "between 1900-01-01 and today (2026-11-25)"),
        ({"start": "1850-01-01"}, "start", "between 1900-01-01 and today"),
        ({"level": "9.9"}, "level", "Choose a level of care from the list."),
        ({"counselor": "abc"}, "counselor", "Choose a counselor from the list."),
        ({"counselor": "999999"}, "counselor", "Choose a counselor from the list."),
    ],
)
def test_bad_input_is_named_next_to_its_field_and_the_defaults_used(
    client, manager, cohort, params, field, message
):
    html = page(client, **params)
    error = re.search(rf'<p class="error" id="{field}-error">(.*?)</p>', html, re.S)
    assert error and message in error.group(1)
    assert "the figures below use the default range or all clients" in html
    if field in ("start", "end"):
        assert "Outcomes, 2025-11-25 to 2026-11-24" in html
    else:
        assert "All levels of care" in html and "All counselors" in html
    # What was typed stays in the form.
    for name in {"start", "end"} & params.keys():
        assert f'name="{name}" type="date" value="{params[name]}"' in html


@pytest.mark.parametrize("figure", ["discharges", "engagement"])
def test_charts_are_well_formed_svg_under_a_strict_policy(client, manager, cohort, figure):
    resp = client.get(f"/outcomes/{figure}.svg", query_string=P)
    assert resp.status_code == 200 and resp.mimetype == "image/svg+xml"
    assert resp.headers["Content-Security-Policy"] == "default-src 'none'"
    root = ET.fromstring(resp.text)
    assert root.tag == f"{SVG}svg" and root.find(f"{SVG}title").text
    desc = root.find(f"{SVG}desc").text
    if figure == "discharges":
        assert "4 discharges in all" in desc and "Treatment completed: 1" in desc
    else:
        assert "30 days 2 of 4 (50%)" in desc and "180 days no data (n = 0)" in desc
    assert desc in page(client, **P)  # the page describes the image in the same words


def test_unknown_chart_is_404_and_bad_chart_or_csv_input_is_400(client, manager, cohort):
    assert client.get("/outcomes/patients.svg").status_code == 404
    assert client.get("/outcomes/discharges.svg?start=nope").status_code == 400
    assert client.get("/outcomes/export.csv?end=2025-01-01&start=2025-06-30").status_code == 400
    assert client.get("/outcomes/export.csv?counselor=abc").status_code == 400


def test_the_page_links_its_charts_and_csv_with_its_selection(client, manager, cohort, staff):
    html = page(client, **P, level="3.7", counselor=staff.c1.id)
    query = f"start=2025-01-01&amp;end=2025-06-30&amp;level=3.7&amp;counselor={staff.c1.id}"
    assert f'href="/outcomes/export.csv?{query}"' in html
    assert f'src="/outcomes/discharges.svg?{query}"' in html
    assert f'src="/outcomes/engagement.svg?{query}"' in html


ENDPOINTS = ["/outcomes", "/outcomes/export.csv", "/outcomes/engagement.svg"]


@pytest.mark.parametrize(
    "role", [Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN, Role.SUPERVISOR, Role.ADMIN]
)
def test_only_clinic_managers_see_outcomes(client, auth, frozen, role):
    auth.login(role)
    for url in ENDPOINTS:
        assert client.get(url).status_code == 403, url


def test_a_clinic_manager_sees_outcomes(client, manager):
    for url in ENDPOINTS:
        assert client.get(url).status_code == 200, url


def test_the_page_takes_the_same_number_of_queries_for_2_or_8_episodes(
    client, manager, staff, count_queries
):
    names = iter("abcdefgh")

    def add(n: int) -> None:
        for i in range(n):
            owner = new_client(staff.manager, f"Zq{next(names)}")
            start = date(2026, 1, 5) + timedelta(days=3 * i)
            ep = episode(
                owner, staff.manager, admitted=start, counselor=staff.c1,
                moves=[(Phase.DETOX, start + timedelta(days=1)),
                       (Phase.REHAB, start + timedelta(days=6))],
                discharged=(start + timedelta(days=40), "1"),
                levels=[("3.7", start), ("3.5", start + timedelta(days=6))],
            )  # fmt: skip
            followup(ep, 30, start + timedelta(days=70), reached=True, days_used=0)
        db.session.commit()

    def counted() -> tuple[int, int]:
        with count_queries() as q:
            assert client.get("/outcomes").status_code == 200
        with count_queries() as csv_q:
            assert client.get("/outcomes/export.csv").status_code == 200
        return q.count, csv_q.count

    add(2)
    page(client)  # the first request after signing in also refreshes the session
    few = counted()
    add(6)
    assert "Admissions 8" in row(page(client), "admissions")
    assert counted() == few

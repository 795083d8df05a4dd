"""Facility reports: census, caseloads and outcomes, as PDF and CSV; recorded, audited,
reproducible, for clinic managers only.

The clock is frozen at NOW (2026-11-25 10:00 at the facility). The clients of `census_clients`
were admitted on 1 November and moved on the 2nd (detox), 3rd (rehab) and 4th (aftercare), at
07:00 facility time, so on the 25th: intake day 25, detox day 24, rehab day 23, aftercare day 22.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.domain.care import Setting
from casemgr.domain.outcomes import Period
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.episodes.services import DischargeDetails
from casemgr.extensions import db
from casemgr.outcomes import services as outcomes
from casemgr.printing import facility, record
from casemgr.printing.models import PrintedReport
from casemgr.timefmt import facility_tz
from tests.clients_helpers import NOW, TODAY, admitted
from tests.outcomes.helpers import client as outcome_client
from tests.outcomes.helpers import episode as outcome_episode
from tests.printing.facility_helpers import (
    NOTICE,
    caseload_of,
    csv_rows,
    events,
    pdf_pages,
    printed,
)

PURPOSE = "Monthly staff meeting"


@pytest.fixture
def frozen():
    # Frozen before anyone signs in: the session cookie must not be signed in the future.
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def staff(make):
    return SimpleNamespace(
        manager=make.user(Role.CLINIC_MANAGER, full_name="Mara Manager", credentials="LCSW"),
        casey=make.user(Role.COUNSELOR, full_name="Casey Counselor"),
        morgan=make.user(Role.COUNSELOR, full_name="Morgan Counselor"),
    )


@pytest.fixture
def manager(frozen, auth, staff):
    return auth.login(staff.manager)


def set_level(actor, episode, code: str) -> None:
    episodes.set_level_of_care(
        db.session,
        episode,
        setting=Setting.RESIDENTIAL,
        code_system="ASAM3",
        code=code,
        started_on=date(2026, 11, 3),
        actor=actor,
        today=TODAY,
    )
    db.session.commit()


@pytest.fixture
def census_clients(staff):
    m, casey, morgan = staff.manager, staff.casey, staff.morgan
    made = {}
    for phase, counselor, last in (
        (Phase.INTAKE, None, "Ingram"),
        (Phase.DETOX, casey, "Dorsey"),
        (Phase.REHAB, casey, "Reyes"),
        (Phase.AFTERCARE, morgan, "Ashby"),
    ):
        made[phase] = admitted(m, counselor, phase, legal_last_name=last)
    set_level(m, made[Phase.REHAB][1], "3.5")
    gone, episode = admitted(m, morgan, Phase.REHAB, legal_last_name="Gone")
    episodes.discharge(
        db.session, episode, discharge_details(date(2026, 11, 20)), actor=m, now=NOW, today=TODAY
    )
    db.session.commit()
    return SimpleNamespace(**{p.value: c for p, (c, _) in made.items()}, gone=gone)


def discharge_details(on: date) -> DischargeDetails:
    return DischargeDetails(
        discharged_on=on,
        last_contact_on=on,
        reason_code="1",
        use_frequency="1",
        employment="full_time",
        living_arrangement="independent",
        arrests_30d=0,
        self_help="1",
        left_at=datetime.combine(on, datetime.min.time(), tzinfo=UTC).replace(hour=15),
    )


def fetch(client, report: str, params: dict):
    """The census and caseload are POST forms (a release writes the accounting); the
    outcomes report a GET form."""
    if report == "outcomes":
        return client.get(f"/print/facility/{report}", query_string=params)
    return client.post(f"/print/facility/{report}", data=params)


def download(client, report: str, **params):
    resp = fetch(client, report, {"purpose": PURPOSE, **params})
    assert resp.status_code == 200, resp.text
    assert resp.headers["Content-Disposition"].startswith("attachment;")
    assert resp.headers["Cache-Control"] == "no-store"
    return resp


# ------------------------------------------------------------------------ census


def test_census_pdf_has_the_counts_the_clients_and_the_notice_on_every_page(
    client, manager, census_clients
):
    resp = download(client, "census", on="2026-11-25")

    assert resp.mimetype == "application/pdf"
    assert 'filename="census-2026-11-25.pdf"' in resp.headers["Content-Disposition"]
    pages = pdf_pages(resp.data)
    assert len(pages) >= 1
    text = " ".join(pages)
    assert "Census on 2026-11-25" in text
    assert "In treatment 4" in text
    for phase in ("Intake 1", "Detox 1", "Rehab 1", "Aftercare 1", "Total 4"):
        assert phase in text
    assert "3.5 Clinically Managed High-Intensity Residential 1" in text
    for c, phase in (
        (census_clients.intake, "Intake"),
        (census_clients.detox, "Detox"),
        (census_clients.rehab, "Rehab"),
        (census_clients.aftercare, "Aftercare"),
    ):
        assert f"{c.legal_name} {c.mrn} {phase}" in text
    intake = census_clients.intake
    assert f"{intake.legal_name} {intake.mrn} Intake Not recorded Unassigned 25" in text
    assert "Gone" not in text  # discharged on the 20th
    assert "Casey Counselor" in text and "Unassigned" in text
    assert "Generated 2026-11-25 10:00 by Mara Manager, LCSW" in text
    assert f"Purpose {PURPOSE}" in text
    for page in pages:
        assert NOTICE in page and "Facility report" in page


def test_census_days_in_phase_per_client(client, manager, census_clients):
    rows = {r["last_name"]: r for r in csv_rows(download(client, "census", format="csv").data)}

    assert {name: rows[name]["days_in_phase"] for name in rows} == {
        "Ingram": "25",
        "Dorsey": "24",
        "Reyes": "23",
        "Ashby": "22",
    }


def test_census_on_a_past_date_shows_the_phases_of_that_day(client, manager, census_clients):
    rows = csv_rows(download(client, "census", on="2026-11-02", format="csv").data)

    # On the 2nd the client now in rehab and the one now in aftercare were still in detox.
    phases = {r["last_name"]: (r["phase"], r["phase_since"], r["days_in_phase"]) for r in rows}
    assert phases == {
        "Ingram": ("Intake", "2026-11-01", "2"),
        "Dorsey": ("Detox", "2026-11-02", "1"),
        "Reyes": ("Detox", "2026-11-02", "1"),
        "Ashby": ("Detox", "2026-11-02", "1"),
        "Gone": ("Detox", "2026-11-02", "1"),
    }


def test_census_csv_rows_match_the_pdf(client, manager, census_clients):
    resp = download(client, "census", on="2026-11-25", format="csv")

    assert resp.mimetype == "text/csv"
    assert 'filename="census-2026-11-25.csv"' in resp.headers["Content-Disposition"]
    rows = csv_rows(resp.data)
    assert [(r["last_name"], r["mrn"], r["phase"], r["primary_counselor"]) for r in rows] == [
        ("Ashby", census_clients.aftercare.mrn, "Aftercare", "Morgan Counselor"),
        ("Dorsey", census_clients.detox.mrn, "Detox", "Casey Counselor"),
        ("Ingram", census_clients.intake.mrn, "Intake", "Unassigned"),
        ("Reyes", census_clients.rehab.mrn, "Rehab", "Casey Counselor"),
    ]
    assert {r["census_date"] for r in rows} == {"2026-11-25"}
    assert [r["level_of_care"] for r in rows] == ["", "", "", "3.5"]
    text = " ".join(pdf_pages(download(client, "census", on="2026-11-25").data))
    for r in rows:
        assert f"{r['last_name']}, {r['first_name']} {r['mrn']} {r['phase']}" in text


def test_csv_cells_cannot_run_formulas(client, manager, staff):
    admitted(staff.manager, staff.casey, legal_last_name='=HYPERLINK("http://x")')

    rows = csv_rows(download(client, "census", format="csv").data)

    assert rows[0]["last_name"] == '\'=HYPERLINK("http://x")'


def test_hostile_names_print(client, manager, staff):
    long_word = "W" * 80  # the longest last name a client may have, as one word
    names = ['<b>Bold</b> & "Co"', "Zoë 😀", "שרה", long_word]
    for name in names:
        admitted(staff.manager, staff.casey, legal_last_name=name)

    text = " ".join(pdf_pages(download(client, "census").data))

    assert "In treatment 4" in text
    assert '<b>Bold</b> & "Co"' in text and "Zoë" in text
    assert "שרה" in text or "הרש" in text  # pypdf may give right-to-left text in visual order


def test_an_empty_census_says_so(client, manager):
    pages = pdf_pages(download(client, "census", on="2026-11-25").data)

    assert "No client was in treatment on this date." in pages[0]
    assert "In treatment 0" in pages[0]


def test_a_long_census_carries_the_notice_on_every_page(client, manager, staff):
    for i in range(45):
        admitted(staff.manager, staff.casey, legal_last_name=f"Many{i:02d}")

    pages = pdf_pages(download(client, "census").data)

    assert len(pages) >= 2
    for number, page in enumerate(pages, start=1):
        assert NOTICE in page and f"Page {number} of {len(pages)}" in page


def test_the_notice_comes_from_the_configuration(app, client, manager):
    app.config["PART2_NOTICE"] = "Our own notice under 42 CFR 2.32."

    pages = pdf_pages(download(client, "census").data)

    assert all("Our own notice under 42 CFR 2.32." in page for page in pages)


# ------------------------------------------------------------------------ caseload


def test_caseload_numbers_per_counselor(client, manager, staff, census_clients):
    work = caseload_of(staff.manager, staff.casey, "Work")

    rows = csv_rows(download(client, "caseload", format="csv").data)

    def items(counselor: str, item: str) -> list[tuple[str, str, str]]:
        return [
            (r["last_name"], r["date"], r["status"])
            for r in rows
            if r["counselor"] == counselor and r["item"] == item
        ]

    assert {r["as_of"] for r in rows} == {"2026-11-25"}
    assert [(r["last_name"], r["phase"], r["days_in_phase"]) for r in rows
            if r["counselor"] == "Casey Counselor" and r["item"] == "client"] == [
        ("AWork", "Aftercare", "22"), ("Dorsey", "Detox", "24"), ("Reyes", "Rehab", "23"),
        ("RWork", "Rehab", "23"),  # folded: "reyes" before "rwork"
    ]  # fmt: skip
    assert items("Casey Counselor", "overdue_note") == [("RWork", "2026-11-20", "draft")]
    assert items("Casey Counselor", "plan_review") == [
        ("RWork", "2026-11-24", "overdue"),
        ("AWork", "", "missing"),
        ("Reyes", "", "missing"),
    ]
    assert items("Casey Counselor", "check_in") == [
        ("AWork", "2026-11-18", "overdue"),
        ("AWork", "2026-11-25", "due"),
        ("AWork", "2026-12-02", "upcoming"),
    ]
    assert [r["last_name"] for r in rows if r["counselor"] == "Morgan Counselor"] == [
        "Ashby", "Ashby", "Ashby", "Ashby", "Ashby",
    ]  # fmt: skip
    assert items("Unassigned", "client") == [("Ingram", "", "")]
    assert work.rehab.legal_last_name == "RWork"


def test_caseload_pdf_has_totals_and_each_counselor(client, manager, staff, census_clients):
    caseload_of(staff.manager, staff.casey, "Work")

    resp = download(client, "caseload")

    assert 'filename="caseload-2026-11-25.pdf"' in resp.headers["Content-Disposition"]
    pages = pdf_pages(resp.data)
    text = " ".join(pages)
    # Counselor, clients, past planned, notes, reviews overdue, due, no plan, check-ins.
    assert "Casey Counselor 4 1 1 1 0 2 1 2" in text
    assert "Morgan Counselor 1 0 0 0 0 1 1 2" in text
    assert "Unassigned 1 0 0 0 0 0 0 0" in text
    assert "Total 6 1 1 1 0 3 2 4" in text
    assert "Past planned dates Overdue notes Plan reviews overdue" in text  # no word split
    assert "Clients (4) " in text and "Overdue notes (1) " in text
    assert "Plan reviews (3) " in text and "Aftercare check-ins (3) " in text
    assert "Review overdue 2026-11-24" in text
    for page in pages:
        assert NOTICE in page


def test_caseload_queries_do_not_grow_with_counselors(client, manager, make, staff, count_queries):
    def hire(n: int, start: int) -> None:
        for i in range(start, start + n):
            caseload_of(staff.manager, make.user(Role.COUNSELOR, full_name=f"Q{i}"), f"Q{i}")

    hire(2, 0)
    download(client, "caseload")
    with count_queries() as few:
        download(client, "caseload")
    hire(4, 2)
    with count_queries() as many:
        resp = download(client, "caseload")
    assert "Q5" in " ".join(pdf_pages(resp.data))
    assert many.count == few.count


def test_census_queries_do_not_grow_with_clients(client, manager, staff, count_queries):
    admitted(staff.manager, staff.casey, Phase.REHAB, legal_last_name="One")
    download(client, "census")
    with count_queries() as few:
        download(client, "census")
    for i in range(5):
        admitted(staff.manager, staff.morgan, Phase.AFTERCARE, legal_last_name=f"More{i}")
    with count_queries() as many:
        download(client, "census")
    assert many.count == few.count


# ------------------------------------------------------------------------ outcomes


@pytest.fixture
def outcome_cohort(staff):
    """Two episodes of the first half of 2025: Ana (Casey, 3.5) admitted 01-10, discharged
    05-20 completed; Ben (Morgan, 3.7) admitted 02-01, discharged 02-20 against advice."""
    m = staff.manager
    ana, ben = outcome_client(m, "Ana"), outcome_client(m, "Ben")
    outcome_episode(
        ana, m, admitted=date(2025, 1, 10), counselor=staff.casey,
        discharged=(date(2025, 5, 20), "1"), levels=[("3.5", date(2025, 1, 10))],
    )  # fmt: skip
    outcome_episode(
        ben, m, admitted=date(2025, 2, 1), counselor=staff.morgan,
        discharged=(date(2025, 2, 20), "2"), levels=[("3.7", date(2025, 2, 1))],
    )  # fmt: skip
    db.session.commit()


FIRST_HALF = {"start": "2025-01-01", "end": "2025-06-30"}


def outcome_figures(period: Period) -> outcomes.Outcomes:
    return outcomes.outcomes(db.session, outcomes.Selection(period), as_of=TODAY, tz=facility_tz())


def test_outcomes_pdf_has_every_figure_with_its_denominator(client, manager, outcome_cohort):
    resp = download(client, "outcomes", **FIRST_HALF)

    assert 'filename="outcomes-2025-01-01-to-2025-06-30.pdf"' in resp.headers["Content-Disposition"]
    pages = pdf_pages(resp.data)
    text = " ".join(pages)
    assert "Outcomes, 2025-01-01 to 2025-06-30" in text
    assert "Admissions 2" in text and "Discharges 2" in text
    assert "Completed 1 of 2 (50%)" in text
    assert "Left against advice 1 of 2 (50%)" in text
    assert "In treatment at 30 days 1 of 2 (50%)" in text
    assert "Readmitted within 365 days 0 of 2 (0%)" in text
    assert "Report date 2026-11-25" in text
    page = outcome_figures(Period(date(2025, 1, 1), date(2025, 6, 30)))
    for figure in page.figures:  # every figure of the report, with its result
        assert outcomes.result_text(figure) in text
        if not figure.key.startswith("followup_"):  # those are rows "30 days", ...
            assert figure.label in text
    # The two charts: bars by reason, and the retention and follow-up bars with their n.
    assert "Discharges by TEDS reason" in text and "n=2" in text
    assert "In treatment (retention)" in text and "Reached at follow-up" in text
    for page in pages:
        assert NOTICE in page


def test_outcomes_for_an_empty_range_say_no_data(client, manager, outcome_cohort):
    resp = download(client, "outcomes", start="2020-01-01", end="2020-12-31")
    text = " ".join(pdf_pages(resp.data))

    assert "Admissions 0" in text and "Discharges 0" in text
    assert "Completed no data (n = 0)" in text
    assert "In treatment at 30 days no data (n = 0)" in text
    assert "Readmitted within 365 days no data (n = 0)" in text
    assert "0 of 0" not in text and "(0%)" not in text  # never a rate of nothing
    assert "No discharges in this range." in text  # the discharges chart
    assert "no data 30 days n=0" in text  # a bar of the engagement chart


def test_outcomes_filters_by_counselor_and_level(client, manager, staff, outcome_cohort):
    text = " ".join(pdf_pages(download(client, "outcomes", **FIRST_HALF, level="3.7",
                                       counselor=str(staff.morgan.id)).data))  # fmt: skip

    assert "Counselor Morgan Counselor" in text and "Level of care 3.7" in text
    assert "Left against advice 1 of 1 (100%)" in text
    assert json.loads(printed()[0].parameters) == {
        **FIRST_HALF,
        "level": "3.7",
        "counselor": staff.morgan.id,
    }


def test_outcomes_csv_has_the_rows_of_the_outcomes_export(client, manager, outcome_cohort):
    ours = download(client, "outcomes", **FIRST_HALF, format="csv")
    theirs = client.get("/outcomes/export.csv", query_string=FIRST_HALF)

    assert ours.data == theirs.data
    assert printed()[0].file_format == "csv"


# ------------------------------------------------------------------------ records


@pytest.mark.parametrize(
    "report, params, period",
    [
        ("census", {"on": "2026-11-20"}, (date(2026, 11, 20), date(2026, 11, 20))),
        ("caseload", {}, (TODAY, TODAY)),
        ("outcomes", FIRST_HALF, (date(2025, 1, 1), date(2025, 6, 30))),
    ],
)
def test_every_download_is_recorded_and_audited(client, manager, report, params, period):
    resp = download(client, report, **params)

    [row] = printed()
    assert (row.kind, row.file_format, row.client_id) == (report, "pdf", None)
    assert (row.period_start, row.period_end) == period
    assert row.purpose == PURPOSE and row.generated_by_id == manager.id
    assert row.generated_at == NOW
    assert row.sha256 == hashlib.sha256(resp.data).hexdigest()
    assert row.size_bytes == len(resp.data) and row.pages == len(pdf_pages(resp.data))
    [event] = events("report.printed")
    assert json.loads(event.detail)["sha256"] == row.sha256


def test_a_csv_download_is_recorded_too(client, manager, census_clients):
    resp = client.post("/print/facility/census", data={"format": "csv"})

    assert resp.status_code == 200  # a CSV needs no purpose
    [row] = printed()
    assert (row.kind, row.file_format, row.pages, row.purpose) == ("census", "csv", None, "")
    assert json.loads(row.parameters) == {"on": "2026-11-25"}
    assert row.sha256 == hashlib.sha256(resp.data).hexdigest()
    assert len(events("report.printed")) == 1


@pytest.mark.parametrize(
    "report, params",
    [("census", {}), ("census", {"format": "csv"}), ("caseload", {}),
     ("caseload", {"format": "csv"}), ("outcomes", FIRST_HALF)],
)  # fmt: skip
def test_a_record_renders_again_to_the_same_hash(
    client, auth, manager, frozen, staff, census_clients, outcome_cohort, report, params
):
    caseload_of(staff.manager, staff.casey, "Work")
    first = download(client, report, **params)
    frozen.shift(timedelta(days=3))  # later re-checks render from the record, not the clock

    auth.login(staff.manager)
    again = download(client, report, **params)
    [row, _] = printed()

    assert record.check(db.session, row)
    data, _ = record.RENDERERS[report](db.session, row)
    assert data == first.data
    assert again.data != first.data  # a new print, three days on, is another document


def test_a_changed_record_no_longer_checks(client, manager, census_clients):
    download(client, "census")
    [row] = printed()

    census_clients.rehab.legal_first_name = "Changed"
    db.session.flush()

    assert not record.check(db.session, row)


def test_two_prints_of_the_same_record_are_byte_identical(client, manager, census_clients):
    first = download(client, "census", on="2026-11-25")
    second = download(client, "census", on="2026-11-25")  # same second, same inputs

    assert first.data == second.data
    assert len(printed()) == 2


# ------------------------------------------------------------------------ the page, errors


def test_the_page_offers_the_three_reports(client, manager, staff):
    page = client.get("/print/facility").text

    for endpoint in ("census", "caseload", "outcomes"):
        assert f'action="/print/facility/{endpoint}"' in page
    for field in ("census-format", "caseload-purpose", "outcomes-format", "start", "counselor"):
        assert f'id="{field}"' in page
    assert "Casey Counselor" in page  # the outcomes counselor choices


@pytest.mark.parametrize(
    "report, params, field, message",
    [
        ("census", {"on": "2099-01-01"}, "on", "Choose a date between 1900-01-01 and today."),
        ("census", {"on": "yesterday"}, "on", "Not a valid date value."),
        ("census", {"purpose": ""}, "census-purpose", "Say why this PDF is printed"),
        ("census", {"purpose": " " * 5}, "census-purpose", "Say why this PDF is printed"),
        ("census", {"format": "xls"}, "census-format", "Not a valid choice."),
        ("census", {"purpose": "x" * 201}, "census-purpose", "200 characters"),
        ("caseload", {"purpose": ""}, "caseload-purpose", "Say why this PDF is printed"),
        ("outcomes", {"start": "2025-06-30", "end": "2025-01-01"}, "end", "before its start"),
        ("outcomes", {"level": "9.9"}, "level", "Choose a level of care from the list."),
        ("outcomes", {"counselor": "999999"}, "counselor", "Choose a counselor from the list."),
        ("outcomes", {"start": "2026-13-01"}, "start", "Enter a date as YYYY-MM-DD"),
    ],
)
def test_bad_choices_come_back_with_messages_and_record_nothing(
    client, manager, report, params, field, message
):
    resp = fetch(client, report, {"purpose": PURPOSE, **params})

    assert resp.status_code == 200
    assert resp.mimetype == "text/html"
    assert f'<p class="error" id="{field}-error">' in resp.text
    assert message in resp.text.split(f'id="{field}-error">')[1].split("</p>")[0]
    assert printed() == [] and events("report.printed") == []


def test_a_rendering_failure_is_logged_and_records_nothing(client, manager, monkeypatch, caplog):
    def broken(session, row):
        raise RuntimeError("renderer exploded")

    monkeypatch.setitem(record.RENDERERS, "census", broken)
    with caplog.at_level(logging.ERROR, logger="casemgr"):
        resp = client.post("/print/facility/census", data={"purpose": PURPOSE})

    assert resp.status_code == 500
    assert "could not be produced" in resp.text
    assert "renderer exploded" in caplog.text
    assert printed() == [] and events("report.printed") == []


@pytest.mark.parametrize("endpoint", ["", "/census", "/caseload", "/outcomes"])
def test_only_clinic_managers_print_facility_reports(client, auth, frozen, role, endpoint):
    auth.login(role)

    if endpoint in ("/census", "/caseload"):
        resp = client.post(f"/print/facility{endpoint}", data={"purpose": PURPOSE})
    else:
        resp = client.get(f"/print/facility{endpoint}", query_string={"purpose": PURPOSE})

    if role is Role.CLINIC_MANAGER:
        assert resp.status_code == 200
    else:
        assert resp.status_code == 403
    assert db.session.scalar(sa.select(sa.func.count(PrintedReport.id))) == (
        1 if role is Role.CLINIC_MANAGER and endpoint else 0
    )


def test_the_report_date_is_the_facility_day_of_the_record(app):
    row = PrintedReport(generated_at=datetime(2026, 11, 26, 3, tzinfo=UTC))  # 22:00 on the 25th

    assert facility.report_date(row, facility_tz()) == date(2026, 11, 25)

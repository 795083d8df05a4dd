"""Client CSV import (dry run, then all or nothing) and the census CSV export (I-03)."""

import csv
import io
import json
import re
from datetime import UTC, date, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.clients import services as clients
from casemgr.clients.models import Client, MrnSequence
from casemgr.domain import client_import
from casemgr.domain.care import Setting
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.text import format_mrn, is_valid_mrn
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.transfer import services
from tests.clients_helpers import TODAY, admitted, sheet

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)

COLUMNS = [
    "legal_first_name",
    "legal_last_name",
    "preferred_name",
    "date_of_birth",
    "sex",
    "phone",
    "first_contact_on",
    "referral_source",
    "funding",
    "medicaid_id",
    "private_payer",
    "private_member_id",
    "primary_substance",
    "primary_route",
    "primary_frequency",
    "primary_age_first_use",
    "secondary_substance",
    "secondary_route",
    "secondary_frequency",
    "mrn",
    "admitted_on",
    "counselor_login",
]


def row(**overrides) -> dict:
    data = {
        "legal_first_name": "Ana",
        "legal_last_name": "Ortiz",
        "date_of_birth": "1985-03-09",
        "sex": "female",
        "first_contact_on": "2026-10-01",
        "referral_source": "self",
        "funding": "self_pay",
        "primary_substance": "alcohol",
        "primary_route": "oral",
        "primary_frequency": "5",
    }
    return {**data, **overrides}


def to_csv(rows: list[dict], columns=COLUMNS, *, bom: bool = False) -> bytes:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns, extrasaction="raise")
    writer.writeheader()
    writer.writerows(rows)
    return (("\ufeff" if bom else "") + out.getvalue()).encode()


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def events(action: str) -> list[AuditEvent]:
    return list(db.session.scalars(sa.select(AuditEvent).where(AuditEvent.action == action)))


def upload(client, data: bytes, url: str = "/reports/import", **fields):
    return client.post(
        url,
        data={"file": (io.BytesIO(data), "clients.csv"), **fields},
        content_type="multipart/form-data",
    )


def digest_in(html: str) -> str:
    match = re.search(r'name="digest"[^>]*value="([0-9a-f]{64})"', html) or re.search(
        r'value="([0-9a-f]{64})"[^>]*name="digest"', html
    )
    assert match, "no confirm form on the page"
    return match.group(1)


@pytest.fixture
def frozen():
    # Before logging in: the session cookie must not be signed in the future.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def manager(frozen, auth):
    return auth.login(Role.CLINIC_MANAGER)


@pytest.fixture
def counselor(make):
    user = make.user(Role.COUNSELOR, login="dcounselor")
    db.session.commit()
    return user


# ------------------------------------------------------------------------------- import


def test_dry_run_saves_nothing_and_confirm_imports_every_row(client, manager, counselor):
    given = format_mrn("C", 500)
    data = to_csv(
        [
            row(admitted_on="2026-11-20", counselor_login="DCounselor", preferred_name="Annie"),
            row(
                legal_first_name="Ben",
                legal_last_name="Cho",
                date_of_birth="1979-12-31",
                sex="MALE",
                funding="medicaid; private",
                medicaid_id="MCD-7",
                private_payer="Blue Plan",
                private_member_id="BP-1",
                primary_substance="fentanyl",
                primary_route="smoking",
                primary_frequency="4",
                primary_age_first_use="22",
                secondary_substance="cocaine",
                secondary_route="inhalation",
                secondary_frequency="2",
                mrn=given,
            ),
            row(legal_first_name="Cy", legal_last_name="Diaz", admitted_on="2026-11-25"),
        ]
    )
    resp = upload(client, data)
    assert resp.status_code == 200
    assert "The file is clean: 3 clients would be registered, 2 admitted to intake" in resp.text
    assert "Confirm import" in resp.text and given in resp.text
    assert count(Client) == 0 and not events("clients.imported")

    resp = upload(client, data, "/reports/import/confirm", digest=digest_in(resp.text))
    assert resp.status_code == 302 and resp.headers["Location"] == "/clients/"
    people = {c.legal_first_name: c for c in db.session.scalars(sa.select(Client))}
    assert set(people) == {"Ana", "Ben", "Cy"}
    assert all(is_valid_mrn("C", c.mrn) for c in people.values())
    assert people["Ben"].mrn == given and people["Ana"].preferred_name == "Annie"
    assert people["Ana"].mrn == format_mrn("C", 501) and people["Cy"].mrn == format_mrn("C", 502)
    ben = people["Ben"]
    assert ben.sex == "male"
    assert {(f.kind, f.payer, f.member_id) for f in ben.funding} == {
        ("medicaid", "", "MCD-7"),
        ("private", "Blue Plan", "BP-1"),
    }
    assert [
        (s.rank, s.substance, s.route, s.frequency, s.age_first_use) for s in ben.substances
    ] == [
        (1, "fentanyl", "smoking", "4", 22),
        (2, "cocaine", "inhalation", "2", None),
    ]
    assert ben.episodes == []
    (episode,) = people["Ana"].episodes
    assert episode.phase is Phase.INTAKE and episode.admitted_on == date(2026, 11, 20)
    assert episode.primary_counselor_id == counselor.id
    assert people["Cy"].episodes[0].primary_counselor_id is None
    (event,) = events("clients.imported")
    assert json.loads(event.detail) == {"rows": 3, "admitted": 2}
    assert event.actor_id == manager.id
    assert len(events("clients.created")) == 3 and len(events("episode.admitted")) == 2
    # The sequence moved past the imported MRN: the next intake cannot collide with it.
    assert db.session.get(MrnSequence, 1).last_number == 502
    later = clients.register(db.session, sheet(), actor=manager, today=TODAY)
    assert later.mrn == format_mrn("C", 503)


def test_without_an_mrn_column_numbers_continue_the_sequence(client, manager):
    existing = clients.register(db.session, sheet(), actor=manager, today=TODAY)
    db.session.commit()
    data = to_csv([row(), row(legal_first_name="Bo")], [c for c in COLUMNS if c != "mrn"])
    resp = upload(client, data)
    resp = upload(client, data, "/reports/import/confirm", digest=digest_in(resp.text))
    assert resp.status_code == 302
    mrns = list(db.session.scalars(sa.select(Client.mrn).order_by(Client.id)))
    assert mrns == [existing.mrn, format_mrn("C", 2), format_mrn("C", 3)]


def dry_run_errors(data: bytes) -> set[tuple[int, str]]:
    report = services.dry_run(db.session, data, today=TODAY)
    return {(e.row, e.column) for e in report.errors}


def test_every_error_is_listed_by_row_and_nothing_is_saved(client, manager):
    admitted(manager, legal_first_name="Dana", legal_last_name="Rivers")  # registered earlier
    taken = db.session.scalar(sa.select(Client.mrn))
    before = count(Client)
    rows = [
        row(),  # 2: fine
        row(legal_first_name="Bad", date_of_birth="1985-02-30"),  # 3
        row(legal_first_name="Code", sex="robot", primary_route="iv"),  # 4
        row(),  # 5: the same person as row 2
        row(legal_first_name="DANA", legal_last_name="Rivers", date_of_birth="1990-04-02"),  # 6
        row(legal_first_name="Mrn", mrn="C0001231"),  # 7: wrong check digit
        row(legal_first_name="Taken", mrn=taken),  # 8
        row(legal_first_name="Twice", mrn=format_mrn("C", 90)),  # 9
        row(legal_first_name="Again", mrn=format_mrn("C", 90)),  # 10
        row(legal_first_name="Young", date_of_birth="2015-01-01", first_contact_on="2026-01-01"),
        row(legal_first_name="Late", admitted_on="2026-12-01", counselor_login="nobody"),  # 12
        row(legal_first_name="Pay", funding="private", private_member_id="X"),  # 13
        row(legal_first_name="Sub", secondary_route="oral"),  # 14
    ]
    data = to_csv(rows)
    assert dry_run_errors(data) == {
        (3, "date_of_birth"),
        (4, "sex"),
        (4, "primary_route"),
        (5, "legal_last_name"),
        (6, "legal_last_name"),
        (7, "mrn"),
        (8, "mrn"),
        (10, "mrn"),
        (11, "guardian_name"),
        (12, "admitted_on"),
        (12, "counselor_login"),
        (13, "private_payer"),
        (14, "secondary_route"),
    }
    resp = upload(client, data)
    assert resp.status_code == 200
    page = resp.text
    assert "Nothing was saved" in page and "Confirm import" not in page
    for text in (
        "Not a valid date: &#39;1985-02-30&#39;",
        "Unknown code &#39;robot&#39;. Allowed: female, male, intersex, unknown.",
        "Duplicate client: the same legal name and date of birth as row 2.",
        f"Duplicate client: already registered as {taken}.",
        "Not a valid MRN for this facility",
        f"Duplicate MRN: {taken} is already in use.",
        f"Duplicate MRN: {format_mrn('C', 90)} is also on row 9.",
        "A guardian is required for a client under 18.",
        "The admission date cannot be in the future.",
        "No active counselor has this login.",
        "Name the insurance payer",
        "Given without secondary_substance.",
    ):
        assert text in page, text
    assert re.search(r'<td class="num">7</td><td><code>mrn</code></td>', page)
    assert count(Client) == before and not events("clients.imported")


def test_a_missing_required_column_is_reported_on_the_header_row(client, manager):
    fields = row()
    del fields["date_of_birth"]
    data = to_csv([fields], [c for c in COLUMNS if c != "date_of_birth"])
    assert dry_run_errors(data) == {(1, "date_of_birth")}
    resp = upload(client, data)
    assert resp.status_code == 200 and "This required column is missing." in resp.text


HEAD = ",".join(client_import.REQUIRED).encode()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "The file is empty."),
        (b"\xef\xbb\xbf \r\n", "The file is empty."),
        ("legal_first_name\nJos\xe9\n".encode("latin-1"), "Line 2 is not UTF-8 text"),
        (b"legal_first_name\nA\x00B\n", "Line 2 contains a NUL byte"),
        (b"\nlegal_first_name\n", "Row 1 must be the header row"),
        (b"legal_first_name;legal_last_name\nA;B\n", "separated by &#39;;&#39;"),
        (b"legal_first_name,shoe_size\nA,42\n", "Unknown column"),
        (b"legal_first_name,legal_first_name\n", "This column appears twice."),
        (HEAD + b'\n"unterminated\n', "not valid CSV near line 2: unexpected end of data"),
        (HEAD + b'\n"a"b\n', "not valid CSV near line 2"),
        (b"date_of_birth\n", "This required column is missing."),
        (
            HEAD + b"\n" + b"x," * len(client_import.REQUIRED) + b"x\n",
            f"This row has {len(client_import.REQUIRED) + 1} cells",
        ),
    ],
)
def test_unreadable_files_get_clear_errors_never_a_crash(client, manager, data, message):
    resp = upload(client, data)
    assert resp.status_code == 200
    assert message in resp.text and "Confirm import" not in resp.text


def test_a_bom_trailing_empty_columns_and_blank_rows_are_accepted(manager):
    text = to_csv([row()], bom=True).decode().replace("\r\n", ",,\r\n", 1) + "\r\n,,,\r\n"
    report = services.dry_run(db.session, text.encode(), today=TODAY)
    assert report.ok and [r.number for r in report.rows] == [2]


def test_too_many_rows_are_refused():
    data = to_csv([row(legal_first_name=f"N{i}") for i in range(3)])
    table = client_import.read_table(data, max_rows=2)
    assert [(e.row, e.message) for e in table.errors] == [
        (4, "The file has more than 2 client rows; split it.")
    ]


@pytest.mark.parametrize(
    "mrn",
    [
        "C0001231",
        "C00001230",
        "c0001230",
        "X0001230",
        "C0000000",
        "C1",
        "C" + "9" * 16,
        format_mrn("C", 10**8),
    ],
)
def test_given_mrns_must_be_in_the_facility_format(mrn):
    with pytest.raises(client_import.CellError):
        client_import.parse_mrn(mrn, "C")
    assert client_import.parse_mrn(format_mrn("C", 123), "C") == "C0001230"


def test_upload_without_a_file_shows_the_error_next_to_the_field(client, manager):
    resp = client.post("/reports/import", data={}, content_type="multipart/form-data")
    assert resp.status_code == 200 and "Choose the CSV file to check." in resp.text
    page = client.get("/reports/import").text
    for documented in ("legal_first_name", "primary_frequency", "self_pay", "counselor_login"):
        assert documented in page


def test_a_tampered_confirm_is_refused_and_saves_nothing(client, manager):
    data = to_csv([row()])
    digest = digest_in(upload(client, data).text)
    other = to_csv([row(legal_first_name="Mallory")])
    assert upload(client, other, "/reports/import/confirm", digest=digest).status_code == 400
    forged = services.sign(other, manager.id + 1)
    assert upload(client, other, "/reports/import/confirm", digest=forged).status_code == 400
    flipped = ("0" if digest[0] != "0" else "1") + digest[1:]
    assert upload(client, data, "/reports/import/confirm", digest=flipped).status_code == 400
    assert upload(client, data, "/reports/import/confirm", digest="not-hex").status_code == 400
    assert count(Client) == 0 and not events("clients.imported")


def test_confirm_checks_again_and_refuses_the_whole_file(client, manager):
    data = to_csv([row(legal_first_name="Fine"), row()])
    digest = digest_in(upload(client, data).text)
    # Someone registers Ana Ortiz between the check and the confirmation.
    clients.register(
        db.session,
        sheet(legal_first_name="Ana", legal_last_name="Ortiz", date_of_birth=date(1985, 3, 9)),
        actor=manager,
        today=TODAY,
    )
    db.session.commit()
    resp = upload(client, data, "/reports/import/confirm", digest=digest)
    assert resp.status_code == 200 and "Duplicate client: already registered" in resp.text
    assert count(Client) == 1 and not events("clients.imported")


def test_confirm_without_the_file_asks_for_it_again(client, manager):
    data = to_csv([row()])
    digest = digest_in(upload(client, data).text)
    resp = client.post(
        "/reports/import/confirm", data={"digest": digest}, content_type="multipart/form-data"
    )
    assert resp.status_code == 200 and "Choose the same file again" in resp.text
    assert digest_in(resp.text) == digest and count(Client) == 0


HOSTILE = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "\tTabbed"]


def test_hostile_cells_are_stored_as_text_and_neutralised_in_the_census(client, manager):
    rows = [
        row(
            legal_first_name=f"H{i}",
            legal_last_name=name,
            phone="+1 555 0100",
            admitted_on="2026-11-20",
        )
        for i, name in enumerate(HOSTILE)
    ]
    data = to_csv(rows)
    resp = upload(
        client, data, "/reports/import/confirm", digest=digest_in(upload(client, data).text)
    )
    assert resp.status_code == 302
    stored = set(db.session.scalars(sa.select(Client.legal_last_name)))
    # Surrounding whitespace is trimmed as on the intake form, so the tab does not survive.
    assert stored == {"=cmd|' /C calc'!A0", "+1", "-1", "@SUM(1)", "Tabbed"}
    # A leading tab or CR can still reach the database by other routes; give one a try.
    tabbed = db.session.scalar(sa.select(Client).where(Client.legal_last_name == "Tabbed"))
    tabbed.legal_last_name = "\tTabbed"
    tabbed.legal_first_name = '\rO\'Hara, "Jr"\nX'
    db.session.commit()

    body = client.get("/reports/census.csv?on=2026-11-25").data.decode("utf-8-sig")
    lines = list(csv.reader(io.StringIO(body, newline="")))
    last_names = {line[1] for line in lines[1:]}
    assert last_names == {"'=cmd|' /C calc'!A0", "'+1", "'-1", "'@SUM(1)", "'\tTabbed"}
    assert ["'\rO'Hara, \"Jr\"\nX"] == [line[2] for line in lines[1:] if line[1] == "'\tTabbed"]
    for line in lines:
        for cell in line:
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r")), cell


# ------------------------------------------------------------------------------- census


@pytest.fixture
def census_client(manager, make):
    counselor = make.user(Role.COUNSELOR, full_name="Casey Counselor")
    person, episode = admitted(manager, counselor, Phase.REHAB, legal_first_name="Rae")
    episodes.set_level_of_care(
        db.session,
        episode,
        setting=Setting.RESIDENTIAL,
        code_system="ASAM3",
        code="3.5",
        started_on=date(2026, 11, 3),
        actor=manager,
        today=TODAY,
    )
    admitted(manager, None, legal_first_name="Ivy", legal_last_name="Ames")
    db.session.commit()
    return person


def test_census_csv_content_headers_and_audit(client, census_client):
    resp = client.get("/reports/census.csv?on=2026-11-25")
    assert resp.status_code == 200
    assert resp.headers["Content-Type"] == "text/csv; charset=utf-8"
    assert resp.headers["Content-Disposition"] == 'attachment; filename="census-2026-11-25.csv"'
    assert resp.headers["Cache-Control"] == "no-store"
    assert resp.data.startswith("\ufeff".encode())
    lines = list(csv.reader(io.StringIO(resp.data.decode("utf-8-sig"), newline="")))
    assert lines[0] == list(services.CENSUS_COLUMNS)
    assert lines[1:] == [
        [
            db.session.scalar(sa.select(Client.mrn).where(Client.legal_last_name == "Ames")),
            "Ames",
            "Ivy",
            "1990-04-02",
            "2026-11-01",
            "Intake",
            "2026-11-01",
            "",
            "",
            "",
            "",
        ],
        [
            census_client.mrn,
            "Rivers",
            "Rae",
            "1990-04-02",
            "2026-11-01",
            "Rehab",
            "2026-11-03",
            "3.5",
            "Clinically Managed High-Intensity Residential",
            "Residential",
            "Casey Counselor",
        ],
    ]
    (event,) = events("census.exported")
    assert json.loads(event.detail) == {"on": "2026-11-25", "rows": 2}


def test_census_of_a_past_day_shows_that_days_phase(client, census_client):
    lines = list(csv.reader(io.StringIO(client.get("/reports/census.csv?on=2026-11-02").text)))
    rae = next(line for line in lines if line[2] == "Rae")
    assert rae[5:8] == ["Detox", "2026-11-02", ""]
    lines = list(csv.reader(io.StringIO(client.get("/reports/census.csv?on=2026-11-01").text)))
    assert [line[5:7] for line in lines[1:]] == [["Intake", "2026-11-01"]] * 2
    empty = list(csv.reader(io.StringIO(client.get("/reports/census.csv?on=2026-10-31").text)))
    assert len(empty) == 1
    assert [json.loads(e.detail)["rows"] for e in events("census.exported")] == [2, 2, 0]


def test_census_page_lists_rows_and_counts_for_today_by_default(client, census_client):
    resp = client.get("/reports/census")
    assert resp.status_code == 200
    page = resp.text
    assert "Census on 2026-11-25" in page and census_client.mrn in page
    assert "2 clients in treatment." in page
    assert "/reports/census.csv?on=2026-11-25" in page
    assert "Clinically Managed High-Intensity Residential" in page


@pytest.mark.parametrize("on", ["2026-02-30", "2026-11-26", "0001-01-01", "yesterday"])
def test_census_refuses_bad_dates(client, manager, on):
    assert client.get(f"/reports/census?on={on}").status_code == 400
    assert client.get(f"/reports/census.csv?on={on}").status_code == 400
    assert not events("census.exported")


@pytest.mark.parametrize("role", [r for r in Role if r is not Role.CLINIC_MANAGER])
def test_only_clinic_managers_import_and_export(client, auth, frozen, role):
    auth.login(role)
    for url in ("/reports/import", "/reports/census", "/reports/census.csv"):
        assert client.get(url).status_code == 403, url
    for url in ("/reports/import", "/reports/import/confirm"):
        assert upload(client, to_csv([row()]), url).status_code == 403, url
    assert count(Client) == 0 and not events("census.exported")

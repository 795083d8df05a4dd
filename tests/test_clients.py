"""Intake, the face sheet, chart views and client search."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.text import is_valid_mrn
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from tests.clients_helpers import admitted, intake_form
from tests.conftest import version_on

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)


@pytest.fixture
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def counselor(frozen, auth):
    return auth.login(Role.COUNSELOR)


def count(model) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model))


def test_intake_creates_client_episode_and_assignment(client, counselor):
    resp = client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    assert resp.status_code == 302
    person = db.session.scalar(sa.select(Client))
    assert is_valid_mrn("C", person.mrn)
    assert person.preferred_name == "Pepe" and person.primary_language == "Spanish"
    assert {(f.kind, f.payer, f.member_id) for f in person.funding} == {
        ("medicaid", "", "MCD-1"),
        ("private", "Blue Plan", "BP-9"),
    }
    assert [(s.rank, s.substance, s.route, s.frequency) for s in person.substances] == [
        (1, "heroin", "injection", "5"),
        (2, "alcohol", "oral", "3"),
    ]
    episode = person.episodes[0]
    assert episode.phase is Phase.INTAKE and episode.number == 1
    assert episode.primary_counselor_id == counselor.id
    assert episode.phase_changes[0].to_phase is Phase.INTAKE
    actions = set(db.session.scalars(sa.select(AuditEvent.action)))
    assert {
        "clients.created",
        "client_funding.created",
        "client_substances.created",
        "episodes.created",
        "episode.admitted",
        "caseload_assignments.created",
    } <= actions


def test_mrns_are_unique_and_increase(client, counselor):
    for name in ("Ann", "Bob", "Cy"):
        client.post(
            "/clients/new", data=intake_form(legal_first_name=name, counselor=str(counselor.id))
        )
    mrns = list(db.session.scalars(sa.select(Client.mrn).order_by(Client.id)))
    assert len(set(mrns)) == 3 and mrns == sorted(mrns)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"date_of_birth": "2030-01-01"}, "date_of_birth", "future"),
        ({"date_of_birth": "1890-01-01"}, "date_of_birth", "120 years"),
        ({"date_of_birth": "2026-02-30"}, "date_of_birth", "valid date"),
        ({"date_of_birth": "2012-01-01"}, "guardian_name", "guardian is required"),
        ({"legal_last_name": ""}, "legal_last_name", "required"),
        ({"legal_last_name": "x" * 81}, "legal_last_name", "80"),
        ({"legal_first_name": "A\u202eB"}, "legal_first_name", "invisible"),
        ({"referral_source": "aliens"}, "referral_source", "not a valid choice"),
        ({"substance_1-substance": ""}, "substance_1-substance", "primary substance"),
        ({"substance_1-route": ""}, "substance_1-route", "route"),
        ({"substance_2-frequency": ""}, "substance_2-frequency", "use in the last 30 days"),
        ({"funding": []}, "funding", "at least one funding"),
        ({"funding": ["private"], "private_payer": ""}, "private_payer", "payer"),
        ({"first_contact_on": "2027-01-01"}, "first_contact_on", "future"),
        ({"phone": "call me maybe"}, "phone", "digits"),
        ({"substance_1-age_first_use": "200"}, "substance_1-age_first_use", "between"),
    ],
)
def test_bad_intake_is_refused_next_to_the_field_and_saves_nothing(
    client, counselor, overrides, field, message
):
    resp = client.post("/clients/new", data=intake_form(counselor=str(counselor.id), **overrides))
    assert resp.status_code == 200
    assert f'id="{field}-error"' in resp.text, resp.text[-3000:]
    assert message.lower() in resp.text.lower()
    assert count(Client) == 0 and count(Episode) == 0


def test_a_minor_with_a_guardian_is_admitted_and_flagged_as_youth(client, counselor):
    resp = client.post(
        "/clients/new",
        data=intake_form(
            date_of_birth="2010-05-05",
            guardian_name="Pat Guardian",
            counselor=str(counselor.id),
            **{"substance_1-age_first_use": "14"},
        ),
    )
    assert resp.status_code == 302
    page = client.get(resp.headers["Location"]).text
    assert "Youth (19 or under)" in page and "age 16" in page


def test_chart_shows_identity_header_and_records_the_view(client, counselor):
    resp = client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    page = client.get(resp.headers["Location"])
    person = db.session.scalar(sa.select(Client))
    assert person.mrn in page.text and "Álvarez, José" in page.text and "1988-06-15" in page.text
    assert "Injection drug use" in page.text
    viewed = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "client.viewed"))
    assert viewed.client_id == person.id and viewed.actor_id == counselor.id


def test_face_sheet_edit_saves_and_bad_edit_changes_nothing(client, counselor):
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    person = db.session.scalar(sa.select(Client))
    form = client.get(f"/clients/{person.id}/edit").text
    assert 'value="Álvarez"' in form and 'value="Blue Plan"' in form
    ok = client.post(
        f"/clients/{person.id}/edit",
        data=intake_form(phone="555-0100", funding=["self_pay"], version=version_on(form)),
    )
    assert ok.status_code == 302
    db.session.refresh(person)
    assert person.phone == "555-0100" and [f.kind for f in person.funding] == ["self_pay"]
    form = client.get(f"/clients/{person.id}/edit").text
    bad = client.post(
        f"/clients/{person.id}/edit",
        data=intake_form(date_of_birth="2031-01-01", version=version_on(form)),
    )
    assert bad.status_code == 200
    db.session.refresh(person)
    assert person.date_of_birth.year == 1988


def test_edit_ignores_fields_the_form_does_not_have(client, counselor):
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    person = db.session.scalar(sa.select(Client))
    form = client.get(f"/clients/{person.id}/edit").text
    client.post(
        f"/clients/{person.id}/edit",
        data=intake_form(mrn="C9999999", id="77", created_by_id="1", version=version_on(form)),
    )
    db.session.refresh(person)
    assert person.mrn != "C9999999" and person.id != 77


@pytest.mark.parametrize("query", ["alvarez", "ÁLVA", "jose", "pepe", "1988-06-15", "06/15/1988"])
def test_search_by_name_accent_insensitive_partial_or_birth_date(client, counselor, query):
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    client.post(
        "/clients/new",
        data=intake_form(
            legal_first_name="Maria",
            legal_last_name="Stone",
            preferred_name="",
            date_of_birth="1975-01-01",
            counselor=str(counselor.id),
        ),
    )
    page = client.post("/clients/", data={"q": query}).text
    assert "<bdi>Álvarez, José</bdi>" in page and "<bdi>Stone, Maria</bdi>" not in page


def test_search_by_mrn(client, counselor):
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    mrn = db.session.scalar(sa.select(Client.mrn))
    assert "<bdi>Álvarez, José</bdi>" in client.post("/clients/", data={"q": mrn}).text
    assert "<bdi>Álvarez, José</bdi>" not in client.post("/clients/", data={"q": "C0009999"}).text


def test_search_wildcards_are_literal_and_phi_stays_out_of_urls(client, counselor):
    client.post("/clients/new", data=intake_form(counselor=str(counselor.id)))
    assert "<bdi>Álvarez, José</bdi>" not in client.post("/clients/", data={"q": "%"}).text
    page = client.get("/clients/").text
    assert "<bdi>Álvarez, José</bdi>" in page
    assert "?q=" not in page and "Álvarez" not in "".join(
        line for line in page.splitlines() if "href=" in line and "?" in line
    )


def test_search_refuses_unknown_sort_keys(client, counselor):
    assert client.post("/clients/", data={"sort": "password_hash"}).status_code == 400


def test_client_list_sorts_and_pages(client, make, frozen, auth):
    manager = auth.login(Role.CLINIC_MANAGER)
    for i in range(27):
        admitted(manager, None, legal_last_name=f"Person{i:02d}", legal_first_name="X")
    first = client.get("/clients/").text
    assert "Person00" in first and "Person26" not in first and "Next" in first
    second = client.post("/clients/", data={"page": "2"}).text
    assert "Person26" in second
    desc = client.post("/clients/", data={"sort": "name", "direction": "desc"}).text
    assert desc.index("Person26") < desc.index("Person25")


def test_client_list_query_count_does_not_grow(client, frozen, auth, count_queries):
    manager = auth.login(Role.CLINIC_MANAGER)
    admitted(manager, None)
    client.get("/clients/")
    with count_queries() as few:
        client.get("/clients/")
    for i in range(20):
        admitted(manager, None, legal_first_name=f"N{i}")
    client.get("/clients/")  # the commit above expired the signed-in user; reload it first
    with count_queries() as many:
        client.get("/clients/")
    assert many.count == few.count


def test_chart_query_count_does_not_grow_with_history(client, frozen, auth, count_queries):
    manager = auth.login(Role.CLINIC_MANAGER)
    person, _ = admitted(manager, None, Phase.DETOX)
    client.get(f"/clients/{person.id}")
    with count_queries() as small:
        client.get(f"/clients/{person.id}")
    other, _ = admitted(manager, None, Phase.AFTERCARE, legal_first_name="Zed")
    client.get(f"/clients/{other.id}")
    with count_queries() as big:
        client.get(f"/clients/{other.id}")
    assert big.count <= small.count + 1

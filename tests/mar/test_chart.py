"""The MAR page: who may read it, what the day grid shows, and that it stays a fixed number
of queries however many orders and doses there are."""

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.medications import Outcome
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.mar import services
from tests.clients_helpers import NOW, admitted
from tests.mar.helpers import at, order, recorded, slot_arg, ward_of


@pytest.fixture
def ward(make):
    yield from ward_of(make)


@pytest.fixture
def day(ward):
    """At 10:00: a 06:00 dose held, 09:30 due, 10:30 due soon, 14:00 later, 20:00 not yet;
    an as-needed order with one dose given."""
    scheduled = order(
        ward.episode,
        ward.physician,
        drug="clonidine",
        dose="0.1",
        times="06:00, 09:30, 10:30, 14:00",
    )
    recorded(scheduled, ward.nurse, hour=6, outcome=Outcome.HELD, dose="", reason="BP 88/50")
    overdue = order(ward.episode, ward.physician, drug="loperamide", dose="2", times="08:00")
    prn = order(
        ward.episode,
        ward.physician,
        drug="ibuprofen",
        dose="400",
        prn=True,
        prn_indication="Pain",
        prn_min_hours=6,
    )
    recorded(prn, ward.nurse, given_at=at(7, 15))
    return scheduled, overdue, prn


def test_the_day_grid_shows_what_was_done_and_what_is_due(client, auth, ward, day):
    scheduled, overdue, prn = day
    auth.login(ward.nurse)
    page = client.get(f"/mar/{ward.episode.id}").text
    assert "MAR for 2026-11-25" in page
    assert "held</span>" in page and "BP 88/50" in page and "Nora Nurse" in page
    assert "overdue (not recorded)" in page  # loperamide 08:00
    assert page.count(">due</span>") == 2  # 09:30 and 10:30
    assert "due 14:00" in page
    assert f"/mar/orders/{overdue.id}/give?slot={slot_arg(8)}" in page
    assert f"/mar/orders/{scheduled.id}/give?slot={slot_arg(9, 30)}" in page
    assert f"slot={slot_arg(14)}" not in page  # later today: not yet
    assert f"slot={slot_arg(6)}" not in page  # recorded
    assert "PRN: Pain" in page and "400 mg" in page and "07:15" in page
    assert f'href="/mar/orders/{prn.id}/give"' in page and "Give PRN dose" in page
    for hhmm in ("06:00", "08:00", "09:30", "10:30", "14:00"):
        assert f">{hhmm}</th>" in page


def test_reading_the_mar_is_audited_with_the_day(client, auth, ward, day):
    auth.login(ward.counselor)
    client.get(f"/mar/{ward.episode.id}?day=2026-11-24")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "mar.viewed"))
    assert event.client_id == ward.person.id and '"day":"2026-11-24"' in event.detail


@pytest.mark.parametrize("raw", ["yesterday", "2026-02-30", "9999-12-31", "0001-01-01", "%00"])
def test_a_bad_day_shows_today(client, auth, ward, day, raw):
    auth.login(ward.nurse)
    resp = client.get(f"/mar/{ward.episode.id}?day={raw}")
    assert resp.status_code == 200 and "MAR for 2026-11-25" in resp.text


def test_other_days_and_their_links(client, auth, ward, day):
    auth.login(ward.nurse)
    page = client.get(f"/mar/{ward.episode.id}?day=2026-11-24").text
    assert "No orders were active on 2026-11-24" in page
    assert f"/mar/{ward.episode.id}?day=2026-11-23" in page
    assert f"/mar/{ward.episode.id}?day=2026-11-25" in page
    page = client.get(f"/mar/{ward.episode.id}?day=2026-11-26").text
    assert "06:00" in page and "overdue" not in page and "held</span>" not in page


@pytest.mark.parametrize(
    ("role", "chart", "give", "new_order"),
    [
        (Role.COUNSELOR, 200, 403, 403),  # the client's primary counselor reads, never gives
        (Role.CLINIC_MANAGER, 200, 403, 403),
        (Role.SUPERVISOR, 200, 403, 403),
        (Role.NURSE, 200, 200, 200),
        (Role.PHYSICIAN, 200, 200, 200),
        (Role.ADMIN, 403, 403, 403),
    ],
)
def test_who_may_read_give_and_order(client, auth, ward, day, role, chart, give, new_order):
    user = ward.counselor if role is Role.COUNSELOR else auth.make.user(role)
    auth.login(user)
    scheduled = day[0]
    page = client.get(f"/mar/{ward.episode.id}")
    assert page.status_code == chart
    url = f"/mar/orders/{scheduled.id}/give?slot={slot_arg(9, 30)}"
    assert client.get(url).status_code == give
    assert client.post(url, data={}).status_code == give
    assert client.get(f"/mar/{ward.episode.id}/orders/new").status_code == new_order
    if chart == 200 and give == 403:
        assert "/give" not in page.text and "Give PRN dose" not in page.text
        assert "New order" not in page.text
    stop = client.get(f"/mar/orders/{scheduled.id}/discontinue").status_code
    assert stop == (200 if role is Role.PHYSICIAN else 403)
    assert client.get(f"/mar/orders/{scheduled.id}/cosign").status_code == 403  # not verbal


def test_outside_the_caseload_the_mar_is_not_found_and_the_attempt_audited(
    client, auth, ward, day, make
):
    auth.login(make.user(Role.COUNSELOR))
    assert client.get(f"/mar/{ward.episode.id}").status_code == 404
    denied = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "authz.denied"))
    assert denied is not None and denied.client_id == ward.person.id


def test_a_nurse_outside_scope_finds_neither_the_mar_nor_the_order(client, auth, ward, make):
    _, intake = admitted(ward.manager, ward.counselor, Phase.INTAKE, legal_first_name="Kim")
    stopped = order(intake, ward.physician)
    services.discontinue(db.session, stopped, "Not needed", by=ward.physician, now=NOW)
    db.session.commit()
    auth.login(make.user(Role.NURSE))
    assert client.get(f"/mar/{intake.id}").status_code == 404
    assert client.get(f"/mar/orders/{stopped.id}/give").status_code == 404
    assert client.get("/mar/orders/999999/give").status_code == 404


def test_the_mar_page_costs_the_same_queries_for_one_order_or_five(
    client, auth, ward, make, count_queries
):
    auth.login(ward.nurse)
    first = order(ward.episode, ward.physician, times="06:00, 08:00")
    recorded(first, ward.nurse, hour=6, witness=ward.witness)
    with count_queries() as few:
        assert client.get(f"/mar/{ward.episode.id}").status_code == 200
    for n, drug in enumerate(("buprenorphine", "clonidine", "ondansetron", "lorazepam")):
        nurse, physician = make.user(Role.NURSE), make.user(Role.PHYSICIAN)
        placed = order(ward.episode, physician, drug=drug, dose="1", times="06:00, 09:00")
        recorded(placed, nurse, hour=6, witness=make.user(Role.NURSE))
        recorded(placed, nurse, hour=9, outcome=Outcome.REFUSED, dose="", reason=f"No {n}")
        verbal = order(
            ward.episode,
            nurse,
            drug=drug,
            ordered_by_id=physician.id,
            prn=True,
            dose="1",
            prn_indication="Agitation",
            prn_min_hours=2,
        )
        recorded(verbal, make.user(Role.NURSE), given_at=at(7), witness=nurse)
    services.discontinue(db.session, first, "Dose change", by=ward.physician, now=NOW)
    db.session.commit()
    with count_queries() as many:
        page = client.get(f"/mar/{ward.episode.id}")
    assert page.status_code == 200 and page.text.count("Agitation") >= 4
    assert many.count == few.count, "\n".join(many.statements)

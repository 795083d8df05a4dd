"""Medication orders through the web: physicians' orders, nurses' verbal orders and their
co-signature, LAAM, validation, and discontinuation."""

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.mar import services
from casemgr.mar.models import MedicationOrder
from tests.clients_helpers import NOW, admitted
from tests.factories import PASSWORD
from tests.mar.helpers import counts, error_of, order, recorded, ward_of


@pytest.fixture
def ward(make):
    yield from ward_of(make)


def order_form(**overrides) -> dict:
    data = {
        "drug": "methadone",
        "dose": "30",
        "unit": "mg",
        "route": "oral",
        "times": "20:00, 08:00",
        "max_daily": "60",
        "indication": "Opioid withdrawal",
        "starts_at": "2026-11-25T10:00",
    }
    return {**data, **overrides}


def orders() -> list[MedicationOrder]:
    return list(db.session.scalars(sa.select(MedicationOrder).order_by(MedicationOrder.id)))


def test_physician_orders_in_their_own_name(client, auth, ward):
    auth.login(ward.physician)
    page = client.get(f"/mar/{ward.episode.id}/orders/new").text
    assert 'value="methadone"' in page and "LAAM" not in page and 'value="laam"' not in page
    assert 'name="ordered_by"' not in page  # not a verbal order
    resp = client.post(f"/mar/{ward.episode.id}/orders/new", data=order_form())
    assert resp.status_code == 302, resp.text
    [row] = orders()
    assert (row.drug.code, row.dose_milli, row.unit, row.route) == (
        "methadone",
        30000,
        "mg",
        "oral",
    )
    assert (row.times, row.max_daily_milli, row.prn) == ("08:00, 20:00", 60000, False)
    assert row.starts_at == datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 facility time
    assert row.ordered_by_id == row.entered_by_id == ward.physician.id
    assert not row.verbal and not row.awaiting_cosign
    page = client.get(resp.headers["Location"]).text
    assert "Methadone" in page and "30 mg" in page and "08:00, 20:00" in page
    assert "awaiting co-signature" not in page


def test_a_posted_ordering_physician_is_ignored_for_a_physician(client, auth, ward):
    auth.login(ward.physician)
    client.post(
        f"/mar/{ward.episode.id}/orders/new",
        data=order_form(ordered_by=str(ward.other_physician.id)),
    )
    [row] = orders()
    assert row.ordered_by_id == ward.physician.id and not row.verbal


def test_nurse_enters_a_verbal_order_that_only_the_named_physician_cosigns(client, auth, ward):
    auth.login(ward.nurse)
    url = f"/mar/{ward.episode.id}/orders/new"
    page = client.get(url).text
    assert "verbal order" in page and "Dr Pat Physician" in page
    assert ward.counselor.full_name not in page  # only physicians are offered
    resp = client.post(url, data=order_form())
    assert "Choose the physician" in error_of(resp.text, "ordered_by") and counts() == (0, 0)
    resp = client.post(url, data=order_form(ordered_by=str(ward.counselor.id)))
    assert "Choose the physician" in error_of(resp.text, "ordered_by") and counts() == (0, 0)
    resp = client.post(url, data=order_form(ordered_by=str(ward.physician.id)))
    assert resp.status_code == 302, resp.text
    [row] = orders()
    assert row.verbal and row.awaiting_cosign
    assert (row.ordered_by_id, row.entered_by_id) == (ward.physician.id, ward.nurse.id)
    chart = client.get(f"/mar/{ward.episode.id}").text
    assert "verbal order — awaiting co-signature by <bdi>Dr Pat Physician</bdi>" in chart
    assert client.get(f"/mar/orders/{row.id}/cosign").status_code == 403  # nurses never

    auth.logout()
    auth.login(ward.other_physician)
    assert client.get(f"/mar/orders/{row.id}/cosign").status_code == 403
    assert (
        client.post(f"/mar/orders/{row.id}/cosign", data={"password": PASSWORD}).status_code == 403
    )

    auth.logout()
    auth.login(ward.physician)
    assert "Co-sign" in client.get(f"/mar/{ward.episode.id}").text
    assert client.get(f"/mar/orders/{row.id}/cosign").status_code == 200
    resp = client.post(f"/mar/orders/{row.id}/cosign", data={"password": "wrong password!"})
    assert "not correct" in error_of(resp.text, "password")
    db.session.expire_all()
    assert row.cosigned_at is None
    refused = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "mar.cosign_refused")
    )
    assert refused is not None and refused.object_id == str(row.id)
    resp = client.post(f"/mar/orders/{row.id}/cosign", data={"password": PASSWORD})
    assert resp.status_code == 302
    db.session.expire_all()
    assert row.cosigned_at == NOW and not row.awaiting_cosign
    assert "verbal order, co-signed" in client.get(f"/mar/{ward.episode.id}").text
    assert client.get(f"/mar/orders/{row.id}/cosign").status_code == 403  # done once


def test_laam_is_never_offered_and_refused_when_posted(client, auth, ward):
    auth.login(ward.physician)
    resp = client.post(f"/mar/{ward.episode.id}/orders/new", data=order_form(drug="laam"))
    assert resp.status_code == 200
    assert "historical code and cannot be ordered" in error_of(resp.text, "drug")
    resp = client.post(f"/mar/{ward.episode.id}/orders/new", data=order_form(drug="heroin"))
    assert "Choose a drug" in error_of(resp.text, "drug")
    assert counts() == (0, 0)


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"dose": "thirty"}, "dose", "Enter the dose as a number"),
        ({"dose": "0"}, "dose", "more than zero"),
        ({"dose": "NaN"}, "dose", "as a number"),
        ({"dose": "0.0001"}, "dose", "three decimal places"),
        ({"times": "8am"}, "times", "not a time"),
        ({"times": ""}, "times", "scheduled times"),
        ({"max_daily": "20"}, "max_daily", "less than one dose"),
        ({"max_daily": "45"}, "max_daily", "more than the daily maximum"),
        ({"max_daily": "-1"}, "max_daily", "more than zero"),
        ({"stops_at": "2026-11-25T09:00"}, "stops_at", "after the start"),
        ({"starts_at": "9999-12-31T23:59"}, "starts_at", "between 2000 and 2099"),
        ({"starts_at": "tomorrow"}, "starts_at", "Enter a date and time"),
        ({"prn": "y", "prn_indication": "Pain", "prn_min_hours": "4"}, "times", "no scheduled"),
        ({"prn": "y", "times": "", "prn_min_hours": "4"}, "prn_indication", "indication"),
        ({"prn": "y", "times": "", "prn_indication": "Pain"}, "prn_min_hours", "least number"),
        ({"prn": "y", "times": "", "prn_min_hours": "0"}, "prn_min_hours", "Between 1 and 72"),
        ({"unit": "kg"}, "unit", "Not a valid choice"),
        ({"indication": "x\x00y"}, "indication", "control characters"),
    ],
)
def test_order_rules_are_shown_next_to_the_field(client, auth, ward, overrides, field, message):
    auth.login(ward.physician)
    resp = client.post(f"/mar/{ward.episode.id}/orders/new", data=order_form(**overrides))
    assert resp.status_code == 200
    assert message in error_of(resp.text, field)
    assert counts() == (0, 0)


def test_a_prn_order_keeps_its_indication_and_interval(client, auth, ward):
    auth.login(ward.physician)
    data = order_form(
        drug="ondansetron",
        dose="4",
        times="",
        max_daily="16",
        prn="y",
        prn_indication="Nausea",
        prn_min_hours="6",
    )
    assert client.post(f"/mar/{ward.episode.id}/orders/new", data=data).status_code == 302
    [row] = orders()
    assert (row.prn, row.times, row.prn_indication, row.prn_min_hours) == (True, "", "Nausea", 6)
    assert "PRN: Nausea" in client.get(f"/mar/{ward.episode.id}").text


def test_discontinue_needs_a_reason_and_keeps_the_order(client, auth, ward):
    placed = order(ward.episode, ward.physician, times="08:00, 20:00")
    recorded(placed, ward.nurse, hour=8, witness=ward.physician)
    auth.login(ward.nurse)
    assert client.get(f"/mar/orders/{placed.id}/discontinue").status_code == 403
    auth.logout()
    auth.login(ward.other_physician)  # any physician may stop an order
    url = f"/mar/orders/{placed.id}/discontinue"
    assert "Discontinue" in client.get(url).text
    resp = client.post(url, data={"reason": "  "})
    assert "Say why" in error_of(resp.text, "reason")
    db.session.expire_all()
    assert placed.discontinued_at is None
    resp = client.post(url, data={"reason": "Switching to buprenorphine"})
    assert resp.status_code == 302
    db.session.expire_all()
    assert counts() == (1, 1)  # nothing deleted
    assert (placed.discontinued_at, placed.discontinued_by_id) == (NOW, ward.other_physician.id)
    assert placed.discontinue_reason == "Switching to buprenorphine"
    page = client.get(f"/mar/{ward.episode.id}").text
    assert "discontinued" in page and "Switching to buprenorphine" in page
    assert client.get(url).status_code == 403  # already discontinued
    # The evening dose is no longer on the grid and cannot be recorded.
    assert placed.active_at(NOW) is False


def test_awaiting_cosign_lists_the_named_physicians_verbal_orders(make, ward):
    verbal = order(ward.episode, ward.nurse, ordered_by_id=ward.physician.id)
    order(ward.episode, ward.physician)  # written by the physician: nothing to co-sign
    order(ward.episode, ward.nurse, ordered_by_id=ward.other_physician.id)
    db.session.expire_all()
    [found] = services.awaiting_cosign(db.session, ward.physician)
    assert found.id == verbal.id
    assert found.episode.client.mrn == ward.person.mrn and found.entered_by.id == ward.nurse.id
    assert services.awaiting_cosign(db.session, make.user(Role.PHYSICIAN)) == []


def test_current_orders_by_episode_in_one_query(make, ward, count_queries):
    kept = order(ward.episode, ward.physician)
    stopped = order(ward.episode, ward.physician, dose="20")
    services.discontinue(db.session, stopped, "Changed", by=ward.physician, now=NOW)
    db.session.commit()
    _, other = admitted(ward.manager, ward.counselor, Phase.DETOX, legal_first_name="Ari")
    ids, expected = [ward.episode.id, other.id], {ward.episode.id: [kept.id], other.id: []}
    db.session.expire_all()
    with count_queries() as q:
        found = services.current_orders(db.session, ids, now=NOW)
    assert q.count == 1
    assert {k: [o.id for o in v] for k, v in found.items()} == expected

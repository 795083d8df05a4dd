"""The nurse's detox board: who is in detox, who is overdue, vitals, medication, and the cost.

MAR rows are made directly through the models: the board only reads them.
"""

import json
import re
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine

from casemgr.audit.models import AuditEvent
from casemgr.detox.models import WithdrawalAssessment
from casemgr.domain.medications import Outcome
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.withdrawal import INSTRUMENTS
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.mar.models import Drug, MedicationAdministration, MedicationOrder
from tests.clients_helpers import NOW, TODAY, admitted

pytestmark = pytest.mark.usefixtures("frozen")


@pytest.fixture
def frozen():
    # Frozen before anyone signs in: the session cookie must not be signed in the future.
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def staff(make):
    return SimpleNamespace(
        manager=make.user(Role.CLINIC_MANAGER),
        counselor=make.user(Role.COUNSELOR),
        nurse=make.user(Role.NURSE),
        physician=make.user(Role.PHYSICIAN),
    )


def in_detox(staff, first: str):
    _, episode = admitted(staff.manager, staff.counselor, Phase.DETOX, legal_first_name=first)
    return episode


def scored(episode, nurse, total, ago: timedelta, instrument="cows", **vitals):
    """An assessment with a chosen total, `ago` before now (the board reads, never scores)."""
    row = WithdrawalAssessment(
        episode=episode,
        instrument=instrument,
        items_json="{}",
        total=total,
        band=str(INSTRUMENTS[instrument].bands.band_for(total)),
        assessed_at=NOW - ago,
        recorded_at=NOW - ago,
        nurse_id=nurse.id,
        reason="scheduled",
        **vitals,
    )
    db.session.add(row)
    return row


def drug(code: str) -> Drug:
    return db.session.scalar(sa.select(Drug).where(Drug.code == code))


def ordered(episode, physician, code="methadone", dose_milli=30_000, **fields):
    order = MedicationOrder(
        episode=episode,
        drug_id=drug(code).id,
        dose_milli=dose_milli,
        unit="mg",
        route="oral",
        times=fields.pop("times", "08:00, 20:00"),
        starts_at=fields.pop("starts_at", NOW - timedelta(days=3)),
        ordered_by_id=physician.id,
        entered_by_id=physician.id,
        **fields,
    )
    db.session.add(order)
    db.session.flush()
    return order


def dosed(order, nurse, at: datetime, outcome=Outcome.GIVEN, witness=None):
    given = outcome is Outcome.GIVEN
    row = MedicationAdministration(
        order=order,
        episode_id=order.episode_id,
        scheduled_at=at,
        given_at=at,
        recorded_at=at,
        dose_milli=order.dose_milli if given else 0,
        outcome=outcome,
        reason="" if given else "Sedated",
        nurse_id=nurse.id,
        witness_id=witness.id if witness else None,
    )
    db.session.add(row)
    return row


def board_page(client):
    resp = client.get("/detox/board")
    assert resp.status_code == 200, resp.text
    return resp.text


def rows(html: str) -> list[str]:
    return re.findall(r"<tr[^>]*data-episode=.*?</tr>", html, re.S)


def row_of(html: str, name: str) -> str:
    [found] = [r for r in rows(html) if name in r]
    return found


def words(html: str) -> str:
    """What a reader sees: tags dropped, white space collapsed."""
    return " ".join(re.sub(r"<[^>]+>", " ", html).split())


def test_only_clients_now_in_detox_are_listed(client, auth, staff):
    in_detox(staff, "Ada")
    in_detox(staff, "Bea")
    admitted(staff.manager, staff.counselor, Phase.REHAB, legal_first_name="Cal")
    admitted(staff.manager, staff.counselor, Phase.INTAKE, legal_first_name="Dee")
    gone = in_detox(staff, "Eve")
    details = episodes.DischargeDetails(
        last_contact_on=TODAY,
        discharged_on=TODAY,
        reason_code="1",
        use_frequency="1",
        employment="unemployed",
        living_arrangement="independent",
        arrests_30d=0,
        self_help="1",
    )
    episodes.discharge(db.session, gone, details, actor=staff.manager, now=NOW, today=TODAY)
    db.session.commit()
    auth.login(staff.nurse)
    html = board_page(client)
    listed = rows(html)
    assert len(listed) == 2 and "2 in detox" in html
    assert any("Ada" in r for r in listed) and any("Bea" in r for r in listed)
    assert all(name not in html for name in ("Cal", "Dee", "Eve"))
    assert "day 24" in row_of(html, "Ada")  # in detox since 2026-11-02
    assert "Last updated 10:00" in html  # facility time


def test_overdue_clients_come_first_with_how_late_they_are(client, auth, staff):
    on_time, late, severe, never = (in_detox(staff, n) for n in ("Ann", "Ben", "Cat", "Dan"))
    scored(on_time, staff.nurse, 10, timedelta(hours=1))  # due in 3 h
    scored(late, staff.nurse, 10, timedelta(hours=5, minutes=20))  # 4-hourly: 1 h 20 min late
    scored(severe, staff.nurse, 30, timedelta(minutes=90))  # COWS 30: hourly, 30 min late
    db.session.commit()
    auth.login(staff.nurse)
    html = board_page(client)
    order = [next(n for n in ("Ann", "Ben", "Cat", "Dan") if n in r) for r in rows(html)]
    assert order == ["Ben", "Cat", "Dan", "Ann"]
    assert "OVERDUE by 1 h 20 min" in row_of(html, "Ben")
    assert "OVERDUE by 30 min" in row_of(html, "Cat")
    assert "OVERDUE: no baseline assessment" in row_of(html, "Dan")
    assert "OVERDUE" not in row_of(html, "Ann")
    assert "due 2026-11-25 13:00" in words(row_of(html, "Ann"))  # 09:00 + 4 h
    assert 'class="row-overdue"' in row_of(html, "Ben")
    assert "3 overdue" in html


def test_out_of_range_vitals_are_marked_in_words(client, auth, staff):
    episode = in_detox(staff, "Ann")
    scored(episode, staff.nurse, 8, timedelta(hours=6), heart_rate=90)
    scored(
        episode,
        staff.nurse,
        12,
        timedelta(hours=1),
        systolic=130,
        diastolic=85,
        heart_rate=118,
        spo2=97,
        temperature_c=38.4,
    )
    scored(episode, staff.nurse, 6, timedelta(minutes=30), instrument="ciwa_ar")  # no vitals
    db.session.commit()
    auth.login(staff.nurse)
    row = row_of(board_page(client), "Ann")
    marked = dict(re.findall(r'data-vital="(\w+)"[^>]*>(.*?)<span class="visually-hidden">', row))
    assert {field: words(text) for field, text in marked.items()} == {
        "heart_rate": "HR 118 ▲ high",
        "temperature_c": "T 38.4 ▲ high",
    }
    assert "SpO₂ 97" in row and "BP 130/85" in row
    assert "Heart rate 118/min is above 110/min." in row  # the reason, not only the arrow
    assert "taken 2026-11-25 09:00" in words(row)  # the newest vitals, older than the score


def test_current_medication_and_last_dose(client, auth, staff):
    episode = in_detox(staff, "Ann")
    methadone = ordered(episode, staff.physician)
    ordered(episode, staff.physician, "ondansetron", 4_000, times="", prn=True)
    stopped = ordered(episode, staff.physician, "clonidine", 100, times="09:00")
    stopped.discontinued_at = NOW - timedelta(hours=2)
    ordered(episode, staff.physician, "lofexidine", 180, starts_at=NOW + timedelta(hours=1))
    ordered(episode, staff.physician, "ibuprofen", 400_000, stops_at=NOW - timedelta(days=1))
    dosed(methadone, staff.nurse, datetime(2026, 11, 24, 13, tzinfo=UTC), witness=staff.physician)
    dosed(methadone, staff.nurse, datetime(2026, 11, 25, 1, tzinfo=UTC), witness=staff.physician)
    dosed(methadone, staff.nurse, datetime(2026, 11, 25, 13, tzinfo=UTC), Outcome.HELD)
    db.session.commit()
    auth.login(staff.nurse)
    row = row_of(board_page(client), "Ann")
    assert "Methadone 30 mg at 08:00, 20:00" in row and "Ondansetron 4 mg PRN" in row
    assert row.index("Methadone 30") < row.index("Ondansetron")  # scheduled before PRN
    assert all(name not in row for name in ("Clonidine", "Lofexidine", "Ibuprofen"))
    # The held dose this morning is not a dose: last night's 20:00 is.
    assert "Last dose: Methadone 30 mg at 2026-11-24 20:00" in words(row)


def test_no_medication_and_no_assessment(client, auth, staff):
    in_detox(staff, "Ann")
    db.session.commit()
    auth.login(staff.nurse)
    row = row_of(board_page(client), "Ann")
    assert "no active order" in row and "No assessment yet" in row and "Last dose" not in row
    assert "<svg" not in row


def test_score_band_in_words_and_the_trend_line(client, auth, staff):
    opioid, alcohol = in_detox(staff, "Ann"), in_detox(staff, "Ben")
    for hours, total in [(60, 30), (40, 26), (20, 22), (8, 20), (4, 16), (1, 14)]:
        scored(opioid, staff.nurse, total, timedelta(hours=hours))
    scored(opioid, staff.nurse, 9, timedelta(hours=30), instrument="ciwa_ar")  # not this line
    scored(alcohol, staff.nurse, 17, timedelta(hours=2), instrument="ciwa_ar")
    db.session.commit()
    auth.login(staff.nurse)
    html = board_page(client)
    row = row_of(html, "Ann")
    assert "COWS 14 Moderate" in words(row) and 'class="badge badge-warn">Moderate<' in row
    # The last 48 h of COWS, oldest first; the 60-hour-old score is outside the window.
    assert "COWS over the last 48 hours, oldest first: 26, 22, 20, 16, 14" in row
    [points] = re.findall(r'<polyline points="([^"]+)"', row)
    assert len(points.split()) == 5
    assert "CIWA-Ar 17 Severe" in words(row_of(html, "Ben"))


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.NURSE, 200),
        (Role.PHYSICIAN, 200),
        (Role.CLINIC_MANAGER, 200),
        (Role.COUNSELOR, 403),
        (Role.SUPERVISOR, 403),
        (Role.ADMIN, 403),
    ],
)
def test_who_may_open_the_board(client, auth, staff, role, status):
    in_detox(staff, "Ann")
    db.session.commit()
    auth.login(role)
    assert client.get("/detox/board").status_code == status


def test_links_follow_what_the_user_may_do(client, auth, staff):
    episode = in_detox(staff, "Ann")
    db.session.commit()
    auth.login(staff.nurse)
    row = row_of(board_page(client), "Ann")
    for path in ("cows", "ciwa"):
        assert f'href="/detox/{episode.id}/{path}"' in row
    assert f'href="/mar/{episode.id}"' in row and f'href="/detox/{episode.id}"' in row
    auth.logout()
    auth.login(staff.manager)  # reads the board; records nothing on it
    row = row_of(board_page(client), "Ann")
    assert f"/detox/{episode.id}/cows" not in row and f"/detox/{episode.id}/ciwa" not in row
    assert f'href="/mar/{episode.id}"' in row


def test_reading_the_board_is_audited(client, auth, staff):
    in_detox(staff, "Ann")
    in_detox(staff, "Ben")
    db.session.commit()
    auth.login(staff.physician)
    board_page(client)
    event = db.session.scalar(
        sa.select(AuditEvent).where(AuditEvent.action == "detox.board_viewed")
    )
    assert event is not None and event.actor_id == staff.physician.id
    assert json.loads(event.detail) == {"clients": 2}


def test_an_empty_unit(client, auth, staff):
    auth.login(staff.nurse)
    assert "Nobody is in detox." in board_page(client)


def with_history(staff, first: str):
    """A client two days into detox: COWS every 4 h with vitals, methadone twice a day."""
    episode = in_detox(staff, first)
    for n in range(14):
        scored(episode, staff.nurse, 10 + n % 5, timedelta(hours=4 * n + 1), heart_rate=80 + n)
    scored(episode, staff.nurse, 7, timedelta(hours=3), instrument="ciwa_ar")
    order = ordered(episode, staff.physician)
    ordered(episode, staff.physician, "ondansetron", 4_000, times="", prn=True)
    for n in range(4):
        dosed(order, staff.nurse, NOW - timedelta(hours=12 * n + 2), witness=staff.physician)
    return episode


def test_the_board_costs_the_same_number_of_queries_for_2_or_6_clients(
    client, auth, staff, count_queries
):
    for name in ("Ann", "Ben"):
        with_history(staff, name)
    db.session.commit()
    auth.login(staff.nurse)
    # As in production: nothing left over from the test's own work, and the request begins
    # its own (read) transaction; recording the view must not make it load each row again.
    db.session.commit()
    db.session.expire_all()
    with count_queries() as two:
        assert len(rows(board_page(client))) == 2
    for name in ("Cat", "Dan", "Eli", "Fay"):
        with_history(staff, name)
    db.session.commit()
    db.session.expire_all()
    with count_queries() as six:
        assert len(rows(board_page(client))) == 6
    assert six.count == two.count, "\n".join(six.statements)
    board_queries = [s for s in six.statements if "withdrawal_assessments" in s]
    # The windowed read only: the board's list of detox clients needs none of the nurse's
    # wider scope (what she documented for), which a scoped chart query reads.
    assert len(board_queries) == 1


@pytest.mark.parametrize("role", ["nurse", "physician", "manager"])
def test_a_client_restricted_from_the_user_is_not_on_their_board(client, auth, staff, role):
    """The board skips the rest of the chart scope for the staff whose scope covers every
    detox client at their site, never the restriction deny."""
    from casemgr.privacy.models import ClientRestriction

    in_detox(staff, "Ada")
    hidden = in_detox(staff, "Kin")
    user = getattr(staff, role)
    db.session.add(
        ClientRestriction(
            client_id=hidden.client_id, user_id=user.id, reason="Cousin", by_id=staff.manager.id
        )
    )
    db.session.commit()
    auth.login(user)
    html = board_page(client)
    assert len(rows(html)) == 1 and "Ada" in html and "Kin" not in html


def test_a_site_nurse_sees_only_her_sites_detox_clients(client, auth, staff, make):
    north, south = make.site("North", "NOR"), make.site("South", "SOU")
    here, there = in_detox(staff, "Ada"), in_detox(staff, "Bea")
    here.site, there.site = north, south
    db.session.commit()
    auth.login(make.user(Role.NURSE, site=north))
    html = board_page(client)
    assert "Ada" in html and "Bea" not in html


def test_the_home_pages_detox_list_shares_the_boards_scope(client, auth, staff, count_queries):
    """The nurse's home page lists the board's rows: the restriction deny applies, and the
    query does not read the nurse's wider scope (what she documented for)."""
    from casemgr.privacy.models import ClientRestriction

    in_detox(staff, "Ada")
    hidden = in_detox(staff, "Kin")
    db.session.add(
        ClientRestriction(
            client_id=hidden.client_id, user_id=staff.nurse.id, reason="Cousin",
            by_id=staff.manager.id,
        )
    )  # fmt: skip
    db.session.commit()
    auth.login(staff.nurse)
    with count_queries() as seen:
        html = client.get("/home/nurse").text
    assert "Ada" in html and "Kin" not in html
    listing = [s for s in seen.statements if "max(level_of_care_spans.id)" in s]
    assert len(listing) == 1 and "withdrawal_assessments" not in listing[0]

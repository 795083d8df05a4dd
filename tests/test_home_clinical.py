"""The clinical home pages: the manager's census, month flow and attention lists, the
counselor's caseload, the detox board and the supervisor's caseload counts."""

from __future__ import annotations

import difflib
import re
from datetime import UTC, date, datetime

import pytest
import time_machine

from casemgr.clients import services as clients
from casemgr.domain.care import Setting, days_between
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.timefmt import format_datetime
from tests.clients_helpers import NOW, TODAY, admitted, sheet

FROZEN = datetime(2026, 11, 25, 15, tzinfo=UTC)  # 10:00 at the facility, on TODAY


def frozen(at: datetime = FROZEN):
    return time_machine.travel(at, tick=False)


def section(page: str, heading_id: str) -> str:
    """The HTML of the panel labelled by `heading_id`."""
    match = re.search(
        rf'<section[^>]*aria-labelledby="{heading_id}".*?</section>', page, flags=re.S
    )
    assert match, f"no panel {heading_id}"
    return match.group(0)


def client_ids(html: str) -> list[int]:
    """Client links in the order shown."""
    return [int(n) for n in re.findall(r'href="/clients/(\d+)"', html)]


def admit_on(actor, day: date, counselor=None, **overrides):
    """A client admitted on `day` (admitted() always admits on 1 November)."""
    client = clients.register(db.session, sheet(**overrides), actor=actor, today=TODAY)
    episode = episodes.admit(
        db.session,
        client,
        actor=actor,
        admitted_on=day,
        counselor=counselor,
        now=datetime.combine(day, datetime.min.time(), tzinfo=UTC).replace(hour=12),
    )
    db.session.commit()
    return client, episode


def into_detox(actor, day: date, counselor=None, **overrides):
    """A client admitted on 1 November who entered detox on `day`."""
    client, episode = admitted(actor, counselor, Phase.INTAKE, **overrides)
    at = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    episodes.move(
        db.session,
        episode,
        episodes.Move(Phase.DETOX, at, "withdrawal risk", "late entry in test"),
        actor=actor,
        now=NOW,
        local_date=lambda d: d.date(),
    )
    db.session.commit()
    return client, episode


def set_level(actor, episode, code: str, setting: Setting = Setting.INPATIENT):
    episodes.set_level_of_care(
        db.session,
        episode,
        setting=setting,
        code_system="ASAM3",
        code=code,
        started_on=episode.admitted_on,
        actor=actor,
        today=TODAY,
    )
    db.session.commit()


def discharge(actor, episode, on: date, reason: str = "1"):
    details = episodes.DischargeDetails(
        last_contact_on=on,
        discharged_on=on,
        reason_code=reason,
        use_frequency="1",
        employment="unknown",
        living_arrangement="unknown",
        arrests_30d=0,
        self_help="1",
    )
    episodes.discharge(db.session, episode, details, actor=actor, now=NOW, today=TODAY)
    db.session.commit()


def phase_row(census: str, phase: Phase) -> int:
    match = re.search(
        rf'<th scope="row"><span class="badge phase phase-{phase.value}">{phase.label}</span></th>'
        r'<td class="num">(\d+)</td>',
        census,
    )
    assert match, phase
    return int(match.group(1))


def level_row(census: str, code: str) -> int:
    label = (
        "Not recorded" if code == "none" else f'<span class="level-code">{re.escape(code)}</span>'
    )
    match = re.search(rf'{label}.*?<td class="num">(\d+)</td>', census, flags=re.S)
    assert match, code
    return int(match.group(1))


# --- Clinic manager ------------------------------------------------------------------------


@pytest.fixture
def manager(make):
    return make.user(Role.CLINIC_MANAGER, full_name="Mina Manager")


def test_manager_census_counts_by_phase_and_level_of_care(client, auth, make, manager):
    counselor = make.user(Role.COUNSELOR)
    admitted(manager, counselor, Phase.INTAKE, legal_last_name="Intake")
    admitted(manager, None, Phase.INTAKE, legal_last_name="Intaketwo")
    _, detox = admitted(manager, counselor, Phase.DETOX, legal_last_name="Detox")
    _, rehab = admitted(manager, counselor, Phase.REHAB, legal_last_name="Rehab")
    _, rehab2 = admitted(manager, counselor, Phase.REHAB, legal_last_name="Rehabtwo")
    admitted(manager, counselor, Phase.AFTERCARE, legal_last_name="After")
    _, gone = admitted(manager, counselor, Phase.REHAB, legal_last_name="Gone")
    set_level(manager, detox, "3.7-WM")
    set_level(manager, rehab, "3.5", Setting.RESIDENTIAL)
    set_level(manager, rehab2, "3.5", Setting.RESIDENTIAL)
    discharge(manager, gone, date(2026, 11, 20))  # not in today's census

    with frozen():
        auth.login(manager)
        page = client.get("/home/clinic_manager").text
    census = section(page, "census-h")
    assert "<strong>6</strong> clients in treatment on 2026-11-25" in census
    assert phase_row(census, Phase.INTAKE) == 2
    assert phase_row(census, Phase.DETOX) == 1
    assert phase_row(census, Phase.REHAB) == 2
    assert phase_row(census, Phase.AFTERCARE) == 1
    assert "phase-discharged" not in census
    assert level_row(census, "3.5") == 2
    assert level_row(census, "3.7-WM") == 1
    assert level_row(census, "none") == 3
    assert "Medically Monitored Inpatient Withdrawal Management" in census
    # The existing panels stay.
    assert "Staff roster" in page and "Active staff by role" in page
    assert "Recent failed sign-ins" in page


_OPEN = ("intake", "detox", "rehab", "aftercare")


def test_manager_census_figures_are_those_of_the_census_rows_on_any_day(app, make, manager):
    """The home panel counts in the database (census.tally); the census report and export
    load the rows (census.census). Same phase of the day, level, scope and discharges."""
    from flask_login import login_user

    from casemgr.episodes.census import census
    from casemgr.home import services
    from casemgr.privacy.models import ClientRestriction
    from casemgr.timefmt import facility_tz

    counselor = make.user(Role.COUNSELOR)
    admitted(manager, counselor, Phase.INTAKE, legal_last_name="Intake")
    _, detox = admitted(manager, None, Phase.DETOX, legal_last_name="Detox")
    _, rehab = admitted(manager, counselor, Phase.REHAB, legal_last_name="Rehab")
    admitted(manager, counselor, Phase.AFTERCARE, legal_last_name="After")
    _, gone = admitted(manager, counselor, Phase.REHAB, legal_last_name="Gone")
    hidden, _ = admitted(manager, counselor, Phase.REHAB, legal_last_name="Hidden")
    set_level(manager, detox, "3.7-WM")
    set_level(manager, rehab, "3.5", Setting.RESIDENTIAL)
    discharge(manager, gone, date(2026, 11, 20))
    db.session.add(
        ClientRestriction(
            client_id=hidden.id, user_id=manager.id, reason="Cousin", by_id=manager.id
        )
    )
    db.session.commit()

    def figures(on: date) -> tuple[int, dict[str, int], dict[str, int]]:
        s = services.census_figures(db.session, manager, on, facility_tz())
        assert s == services.census_summary(census(db.session, on, facility_tz()))
        return s.total, {p.value: n for p, n in s.by_phase}, {c: n for c, _, n in s.by_level}

    with app.test_request_context():
        login_user(manager)
        # admitted() moves on 2, 3 and 4 November at 12:00 UTC (07:00 at the facility).
        assert figures(date(2026, 10, 31)) == (0, dict.fromkeys(_OPEN, 0), {})
        assert figures(date(2026, 11, 1)) == (
            5,
            {"intake": 5, "detox": 0, "rehab": 0, "aftercare": 0},
            {"3.5": 1, "3.7-WM": 1, "none": 3},
        )
        assert figures(date(2026, 11, 3)) == (
            5,
            {"intake": 1, "detox": 1, "rehab": 3, "aftercare": 0},
            {"3.5": 1, "3.7-WM": 1, "none": 3},
        )
        on_today = (
            4,
            {"intake": 1, "detox": 1, "rehab": 1, "aftercare": 1},
            {"3.5": 1, "3.7-WM": 1, "none": 2},
        )
        assert figures(TODAY) == on_today  # a past day (the clock runs on): moves by then
        with frozen():  # today: each episode's current phase, read without the subquery
            assert figures(TODAY) == on_today


def test_manager_home_queries_do_not_grow_with_the_census(
    client, auth, make, manager, count_queries
):
    counselor = make.user(Role.COUNSELOR)

    def more(start: int) -> None:
        for i, phase in enumerate((Phase.INTAKE, Phase.DETOX, Phase.REHAB, Phase.AFTERCARE)):
            _, episode = admitted(manager, counselor, phase, legal_last_name=f"Census{start + i}")
            set_level(manager, episode, "3.5", Setting.RESIDENTIAL)

    more(0)
    with frozen():
        auth.login(manager)
        client.get("/home/clinic_manager")
        with count_queries() as few:
            client.get("/home/clinic_manager")
        more(10)
        more(20)
        client.get("/home/clinic_manager")
        with count_queries() as many:
            page = client.get("/home/clinic_manager").text
    assert "<strong>12</strong> clients in treatment" in section(page, "census-h")
    assert many.count == few.count


def test_manager_sees_admissions_and_discharges_this_month(client, auth, manager):
    october, _ = admit_on(manager, date(2026, 10, 5), legal_last_name="October")
    _, left_in_october = admit_on(manager, date(2026, 10, 1), legal_last_name="Leftoct")
    discharge(manager, left_in_october, date(2026, 10, 20))
    _, left_in_november = admit_on(manager, date(2026, 10, 2), legal_last_name="Leftnov")
    discharge(manager, left_in_november, date(2026, 11, 3), reason="4")
    new1, _ = admit_on(manager, date(2026, 11, 1), legal_last_name="Newone")
    new2, _ = admit_on(manager, date(2026, 11, 24), legal_last_name="Newtwo")

    with frozen():
        auth.login(manager)
        flow = section(client.get("/home/clinic_manager").text, "flow-h")
    assert "From 2026-11-01 to 2026-11-25" in flow
    assert "<dt>Admissions</dt><dd>2</dd>" in flow
    assert "<dt>Discharges</dt><dd>1</dd>" in flow
    admissions, discharges = flow.split("Recent discharges")
    assert client_ids(admissions) == [new2.id, new1.id]  # newest first
    assert client_ids(discharges) == [left_in_november.client_id]
    assert "Transferred to another program or facility" in discharges
    assert "October" not in flow and "Leftoct" not in flow

    # On 1 December the month starts over.
    auth.logout()
    with frozen(datetime(2026, 12, 1, 15, tzinfo=UTC)):
        auth.login(manager)
        flow = section(client.get("/home/clinic_manager").text, "flow-h")
    assert "<dt>Admissions</dt><dd>0</dd>" in flow and "<dt>Discharges</dt><dd>0</dd>" in flow
    assert "No admissions this month." in flow and "No discharges this month." in flow


def test_manager_sees_clients_past_their_planned_dates(client, auth, make, manager):
    counselor = make.user(Role.COUNSELOR, full_name="Cora Counselor")
    long_detox, _ = admitted(manager, counselor, Phase.DETOX, legal_last_name="Longdetox")
    recent_detox, _ = into_detox(manager, date(2026, 11, 20), legal_last_name="Recentdetox")
    rehab, _ = admitted(manager, counselor, Phase.REHAB, legal_last_name="Rehab")
    after, _ = admitted(manager, None, Phase.AFTERCARE, legal_last_name="After")
    intake, _ = admitted(manager, counselor, Phase.INTAKE, legal_last_name="Intake")

    with frozen():
        auth.login(manager)
        late = section(client.get("/home/clinic_manager").text, "past-planned-h")
    assert client_ids(late) == [long_detox.id]  # day 24 of detox; day 6 is fine
    assert "Detox has run 24 days; it typically lasts 3–10." in late
    assert "Overdue</span>" in late and "Cora Counselor" in late
    assert 'class="num">24</td>' in late

    # Seven months on, rehab is past 180 days too; aftercare (started 4 Nov) is within its year.
    auth.logout()
    with frozen(datetime(2027, 6, 1, 15, tzinfo=UTC)):
        auth.login(manager)
        late = section(client.get("/home/clinic_manager").text, "past-planned-h")
    assert client_ids(late) == [long_detox.id, rehab.id, recent_detox.id]  # longest first
    days = days_between(date(2026, 11, 3), date(2027, 6, 1))
    assert f"Rehab has run {days} days, past the 180-day target." in late
    assert after.id not in client_ids(late) and intake.id not in client_ids(late)

    # And after a year and a bit, aftercare is past its planned year.
    auth.logout()
    with frozen(datetime(2027, 11, 10, 15, tzinfo=UTC)):
        auth.login(manager)
        late = section(client.get("/home/clinic_manager").text, "past-planned-h")
    assert after.id in client_ids(late)
    assert "Aftercare passed its planned year on 2027-11-04." in late
    assert "Unassigned</span>" in late  # the aftercare client has no counselor


def test_manager_sees_unassigned_clients_with_a_link_to_assign(client, auth, make, manager):
    counselor = make.user(Role.COUNSELOR)
    admitted(manager, counselor, Phase.REHAB, legal_last_name="Assigned")
    waiting, episode = admitted(manager, None, Phase.DETOX, legal_last_name="Waiting")
    gone, closed = admitted(manager, None, Phase.INTAKE, legal_last_name="Gone")
    discharge(manager, closed, date(2026, 11, 10))

    with frozen():
        auth.login(manager)
        panel = section(client.get("/home/clinic_manager").text, "unassigned-h")
    assert client_ids(panel) == [waiting.id]
    assert f'href="/episodes/{episode.id}/assign"' in panel
    assert "Unassigned</span>" in panel


def test_manager_panels_say_so_when_empty(client, auth, manager):
    with frozen():
        auth.login(manager)
        page = client.get("/home/clinic_manager").text
    assert "No client is past a planned date." in page
    assert "Every open episode has a primary counselor." in page
    assert "<strong>0</strong> clients in treatment" in page


# --- Counselor -------------------------------------------------------------------------------


def test_counselor_sees_only_their_own_caseload(client, auth, make, manager):
    me = make.user(Role.COUNSELOR, full_name="Casey Counselor")
    other = make.user(Role.COUNSELOR, full_name="Olive Other")
    mine, _ = admitted(manager, me, Phase.INTAKE, legal_last_name="Mine")
    theirs, _ = admitted(manager, other, Phase.REHAB, legal_last_name="Theirs")
    handed_over, episode = admitted(manager, me, Phase.REHAB, legal_last_name="Handedover")
    episodes.assign_counselor(db.session, episode, other, actor=manager, now=NOW, reason="leave")
    db.session.commit()
    unassigned, _ = admitted(manager, None, Phase.INTAKE, legal_last_name="Nobody")

    with frozen():
        auth.login(me)
        page = client.get("/home/counselor").text
    caseload = section(page, "caseload")
    assert client_ids(caseload) == [mine.id]
    for absent in (theirs, handed_over, unassigned):
        assert f"/clients/{absent.id}" not in page
    assert "Theirs" not in page and "Handedover" not in page


def test_counselor_caseload_columns_and_overdue_at_the_top(client, auth, make, manager):
    me = make.user(Role.COUNSELOR)
    calm, _ = admitted(manager, me, Phase.INTAKE, legal_last_name="Calm")
    late, _ = admitted(manager, me, Phase.DETOX, legal_last_name="Late")
    other_late, _ = admitted(manager, make.user(Role.COUNSELOR), Phase.DETOX)

    with frozen():
        auth.login(me)
        page = client.get("/home/counselor").text
    overdue = section(page, "my-overdue-h")
    assert page.index("my-overdue-h") < page.index('id="caseload"')  # overdue comes first
    assert client_ids(overdue) == [late.id]
    assert "Overdue</span>" in overdue and "Detox has run 24 days" in overdue
    assert f"/clients/{other_late.id}" not in page

    caseload = section(page, "caseload")
    assert client_ids(caseload) == [calm.id, late.id]  # by name
    rows = caseload.split("<tr>")[2:]
    assert calm.mrn in rows[0] and "phase-intake" in rows[0]
    assert 'class="num">25</td>' in rows[0]  # intake since 1 November: day 25
    assert format_datetime(datetime(2026, 11, 1, 12, tzinfo=UTC)) in rows[0]  # admission
    assert "Overdue</span>" not in rows[0]
    assert "phase-detox" in rows[1] and 'class="num">24</td>' in rows[1]
    assert format_datetime(datetime(2026, 11, 2, 12, tzinfo=UTC)) in rows[1]  # into detox
    assert "Overdue</span> Detox has run 24 days" in rows[1]


def test_counselor_with_nothing_overdue(client, auth, make, manager):
    me = make.user(Role.COUNSELOR)
    admitted(manager, me, Phase.REHAB)
    with frozen():
        auth.login(me)
        page = client.get("/home/counselor").text
    assert "Nothing overdue in your caseload." in page
    assert "panel-attention" not in section(page, "my-overdue-h")


def test_caseload_sorts_by_days_in_phase_and_last_contact(client, auth, make, manager):
    me = make.user(Role.COUNSELOR)
    intake, _ = admitted(manager, me, Phase.INTAKE, legal_last_name="Aaa")  # day 25, 1 Nov
    detox, _ = into_detox(manager, date(2026, 11, 20), me, legal_last_name="Bbb")  # day 6
    rehab, _ = admitted(manager, me, Phase.REHAB, legal_last_name="Ccc")  # day 23, 3 Nov

    with frozen():
        auth.login(me)

        def order(query: str) -> list[int]:
            resp = client.get(f"/home/counselor?{query}")
            assert resp.status_code == 200
            return client_ids(section(resp.text, "caseload"))

        assert order("sort=days&dir=desc") == [intake.id, rehab.id, detox.id]
        assert order("sort=days&dir=asc") == [detox.id, rehab.id, intake.id]
        assert order("sort=contact&dir=desc") == [detox.id, rehab.id, intake.id]
        assert order("sort=name&dir=desc") == [rehab.id, detox.id, intake.id]
        assert order("sort=phase") == [intake.id, detox.id, rehab.id]  # treatment order
        page = client.get("/home/counselor?sort=days&dir=desc").text
    assert 'aria-sort="descending"' in page
    assert 'href="/home/counselor?sort=days&amp;dir=asc#caseload"' in page  # click to flip


# --- Nurse and physician: the detox board ----------------------------------------------------


@pytest.mark.parametrize("role", [Role.NURSE, Role.PHYSICIAN])
def test_detox_board_shows_detox_clients_only(client, auth, make, manager, role):
    counselor = make.user(Role.COUNSELOR, full_name="Cora Counselor")
    long_stay, long_ep = admitted(manager, counselor, Phase.DETOX, legal_last_name="Long")
    short_stay, _ = into_detox(manager, date(2026, 11, 20), legal_last_name="Short")
    rehab, _ = admitted(manager, counselor, Phase.REHAB, legal_last_name="Rehab")
    intake, _ = admitted(manager, counselor, Phase.INTAKE, legal_last_name="Intake")
    set_level(manager, long_ep, "3.7-WM")

    with frozen():
        auth.login(role)
        page = client.get(f"/home/{role.value}").text
    board = section(page, "detox")
    assert client_ids(board) == [long_stay.id, short_stay.id]  # longest stay first
    assert f"/clients/{rehab.id}" not in page and f"/clients/{intake.id}" not in page
    long_row, short_row = board.split("<tr")[2:]
    assert long_stay.mrn in long_row and "Cora Counselor" in long_row
    assert '<td class="num">24 <span class="badge badge-danger">Overdue</span>' in long_row
    assert ">3.7-WM</abbr>" in long_row
    assert '<td class="num">6</td>' in short_row and "badge-danger" not in short_row
    assert "Unassigned</span>" in short_row and "not recorded" in short_row


def test_detox_board_is_paginated_and_sortable(client, auth, manager):
    made = [
        into_detox(manager, date(2026, 11, 2 + i % 20), legal_last_name=f"Client{i:02d}")[0]
        for i in range(30)
    ]
    by_name = [c.id for c in sorted(made, key=lambda c: c.legal_last_name)]

    with frozen():
        auth.login(Role.NURSE)
        first = client.get("/home/nurse?sort=name").text
        second = client.get("/home/nurse?sort=name&dir=asc&page=2").text
        third = client.get("/home/nurse?sort=name&dir=asc&page=3")
        newest = client.get("/home/nurse?sort=days&dir=asc").text
    assert client_ids(section(first, "detox")) == by_name[:25]
    assert 'href="/home/nurse?sort=name&amp;dir=asc&amp;page=2#detox"' in first
    assert "Previous" not in section(first, "detox")
    assert client_ids(section(second, "detox")) == by_name[25:]
    assert 'href="/home/nurse?sort=name&amp;dir=asc&amp;page=1#detox"' in second
    assert ">Next<" not in section(second, "detox")
    assert third.status_code == 200 and "No more clients on this page." in third.text
    assert client_ids(section(newest, "detox"))[0] == made[19].id  # into detox 21 November


@pytest.mark.parametrize(
    "path",
    [
        "/home/nurse?sort=bogus",
        "/home/nurse?sort=contact",  # a caseload column, not a detox board one
        "/home/nurse?dir=sideways",
        "/home/nurse?page=0",
        "/home/nurse?page=two",
        "/home/nurse?page=99999999",
        "/home/counselor?sort=level",
        "/home/counselor?sort=name%27%20--",
    ],
)
def test_list_parameters_are_whitelisted(client, auth, make, path):
    auth.login(make.user(Role.NURSE, Role.COUNSELOR))
    assert client.get(path).status_code == 400


def test_empty_parameters_fall_back_to_defaults(client, auth, manager):
    detox, _ = admitted(manager, None, Phase.DETOX)
    with frozen():
        auth.login(Role.NURSE)
        resp = client.get("/home/nurse?sort=&dir=")
    assert resp.status_code == 200 and client_ids(section(resp.text, "detox")) == [detox.id]


# --- Supervisor -----------------------------------------------------------------------------


def test_supervisor_sees_counselor_caseload_counts(client, auth, make, manager):
    busy = make.user(Role.COUNSELOR, full_name="Bea Busy")
    idle = make.user(Role.COUNSELOR, full_name="Ida Idle")
    left = make.user(Role.COUNSELOR, full_name="Len Left")
    make.user(Role.NURSE, full_name="Nat Nurse")
    admitted(manager, busy, Phase.DETOX)  # past its planned dates
    admitted(manager, busy, Phase.REHAB)
    _, closed = admitted(manager, busy, Phase.INTAKE)
    discharge(manager, closed, date(2026, 11, 10))
    admitted(manager, left, Phase.INTAKE)
    left.active = False
    db.session.commit()

    with frozen():
        auth.login(Role.SUPERVISOR)
        panel = section(client.get("/home/supervisor").text, "loads-h")
    rows = {
        name: (int(n), int(late))
        for name, n, late in re.findall(
            r"<bdi>([^<]+)</bdi>.*?<td class=\"num\">(\d+)</td>\s*<td class=\"num\">(\d+)",
            panel,
            flags=re.S,
        )
    }
    assert rows == {"Bea Busy": (2, 1), "Ida Idle": (0, 0), "Len Left": (1, 0)}
    assert "Inactive</span>" in panel and "Nat Nurse" not in panel
    assert idle.full_name in rows  # listed with an empty caseload


# --- Query counts ----------------------------------------------------------------------------


def populate(manager, counselor, start: int, n: int) -> None:
    """A mixed facility: every phase, some unassigned, some with levels, some discharged."""
    phases = [Phase.DETOX, Phase.REHAB, Phase.INTAKE, Phase.AFTERCARE]
    for i in range(start, start + n):
        _, episode = admitted(
            manager,
            None if i % 3 == 1 else counselor,
            phases[i % 4],
            legal_last_name=f"Person{i:03d}",
        )
        if i % 4 == 0:
            set_level(manager, episode, "3.7-WM")
        if i % 5 == 4:
            discharge(manager, episode, date(2026, 11, 20), reason="2" if i % 2 else "1")


@pytest.mark.parametrize(
    "role", [Role.CLINIC_MANAGER, Role.COUNSELOR, Role.NURSE, Role.PHYSICIAN, Role.SUPERVISOR]
)
def test_home_page_query_count_does_not_grow_with_clients(
    client, auth, make, manager, count_queries, role
):
    counselor = make.user(Role.COUNSELOR)
    viewer = counselor if role is Role.COUNSELOR else make.user(role)
    populate(manager, counselor, 0, 2)
    with frozen():
        auth.login(viewer)
        url = f"/home/{role.value}"
        client.get(url)
        with count_queries() as few:
            assert client.get(url).status_code == 200
        populate(manager, counselor, 2, 28)
        client.get(url)
        with count_queries() as many:
            page = client.get(url).text
    added = difflib.unified_diff(few.statements, many.statements, lineterm="")
    assert many.count == few.count, "\n".join(added)
    if role is not Role.SUPERVISOR:
        assert len(client_ids(page)) > 2  # the extra clients are really on the page

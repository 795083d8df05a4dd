"""`flask bench-data`: a small bench network is consistent, verifiable, usable and repeatable."""

from __future__ import annotations

import json
import math
import random
import re
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from casemgr.aftercare import plans as care_plan_content
from casemgr.aftercare.models import ContinuingCarePlan
from casemgr.audit import services as audit_services
from casemgr.audit.models import AuditEvent
from casemgr.auth import passwords, totp
from casemgr.auth.models import User
from casemgr.benchdata import build as bench
from casemgr.benchdata import network as staffing
from casemgr.benchdata.generate import ClientBuilder, client_states
from casemgr.benchdata.rows import Ids, Rows
from casemgr.benchdata.timeline import Context
from casemgr.clients import services as clients
from casemgr.detox.models import WithdrawalAssessment
from casemgr.domain.withdrawal import score_cows
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from casemgr.notes import services as notes
from casemgr.notes.models import ClinicalSession, Note
from casemgr.plans import content as plan_content
from casemgr.plans.models import TreatmentPlan
from casemgr.sites.models import Site
from casemgr.timefmt import today
from tests.clients_helpers import sheet
from tests.factories import PASSWORD, TOTP_SEED

CLIENTS = 200
NOW = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)


def _load(clients: int = CLIENTS, seed: int = 7, now: datetime | None = None) -> bench.Outcome:
    options = bench.Options(
        clients,
        seed,
        passwords.hash_password(PASSWORD),
        totp.seal(TOTP_SEED),
        (now or datetime.now(UTC)).replace(microsecond=0),
    )
    return bench.build(db.session, options)


@pytest.fixture
def loaded(app):
    return _load()


def _current_phases() -> Counter:
    latest = (
        sa.select(Episode.client_id, sa.func.max(Episode.number).label("number"))
        .group_by(Episode.client_id)
        .subquery()
    )
    stmt = sa.select(Episode.phase).join(
        latest, (Episode.client_id == latest.c.client_id) & (Episode.number == latest.c.number)
    )
    return Counter(p.value for p in db.session.scalars(stmt))


def test_clients_are_spread_over_the_phases_like_a_network(loaded):
    assert _current_phases() == {"detox": 12, "rehab": 60, "aftercare": 80, "discharged": 48}
    episodes = db.session.scalar(sa.select(sa.func.count(Episode.id)))
    assert CLIENTS * 1.1 < episodes < CLIENTS * 1.4  # some came back after a relapse
    assert loaded.mix.open == 152


def test_about_twenty_notes_per_client_most_of_them_signed(loaded):
    total = db.session.scalar(sa.select(sa.func.count(Note.id)))
    signed = db.session.scalar(sa.select(sa.func.count(Note.id)).where(Note.status == "signed"))
    assert 15 <= total / CLIENTS <= 25
    assert signed / total > 0.9
    kinds = set(db.session.scalars(sa.select(ClinicalSession.session_type).distinct()))
    assert {"individual", "group", "family", "nursing", "case_management"} <= kinds


def test_withdrawal_totals_are_the_scales_own_scores(loaded):
    rows = db.session.scalars(sa.select(WithdrawalAssessment)).all()
    assert len(rows) > 12 * 6  # four-hourly for the clients in detox now
    for row in rows:
        score = score_cows(json.loads(row.items_json))
        assert (row.total, row.band) == (score.total, str(score.band))


def test_signatures_of_notes_and_plans_verify(loaded):
    signed = db.session.scalars(sa.select(Note).where(Note.status == "signed").limit(300)).all()
    assert signed and all(notes.verify(note) for note in signed)
    plans = db.session.scalars(sa.select(TreatmentPlan).where(TreatmentPlan.status == "signed"))
    plans = plans.all()
    assert plans and all(plan_content.verify(plan) for plan in plans)
    care_plans = db.session.scalars(sa.select(ContinuingCarePlan)).all()
    assert care_plans and all(care_plan_content.verify(plan) for plan in care_plans)


def test_the_audit_chain_holds_one_event_for_the_load(loaded):
    assert audit_services.verify(db.session).ok
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "bench.data_loaded"))
    assert json.loads(event.detail)["rows"]["notes"] == loaded.counts["notes"]


def test_the_load_leaves_planner_statistics(loaded):
    """Without them SQLite picked an index over every open check-in for one counselor's due
    check-ins (2.8 s at 50,000 clients; 0.1 ms once analysed)."""
    if db.engine.dialect.name == "sqlite":
        stats = "SELECT count(*) FROM sqlite_stat1 WHERE tbl = 'check_ins'"
    else:
        stats = (
            "SELECT count(*) FROM pg_stats "
            "WHERE schemaname = current_schema() AND tablename = 'check_ins'"
        )
    assert db.session.execute(sa.text(stats)).scalar() > 0


def test_later_intakes_continue_the_mrn_and_id_sequences(loaded, make):
    actor = make.user()
    client = clients.register(db.session, sheet(), actor=actor, today=today())
    db.session.flush()
    assert client.mrn.startswith(f"C{CLIENTS + 1:06d}")
    assert client.id == CLIENTS + 1


def test_a_bench_counselor_signs_in_with_totp_and_opens_a_caseload_of_about_40(loaded, client):
    db.session.commit()
    resp = client.post("/login", data={"login": "bench-counselor-0001", "password": PASSWORD})
    assert resp.status_code == 302 and resp.headers["Location"] != "/login/code"
    mrns = set()
    for page in (1, 2):
        resp = client.get(f"/home/counselor?page={page}")
        assert resp.status_code == 200
        mrns |= set(re.findall(r"\bC\d{7}\b", resp.text))
    assert 35 <= len(mrns) <= 40


def test_refuses_a_database_that_holds_staff_or_clients(app, make):
    make.user()
    db.session.commit()
    with pytest.raises(bench.NotEmpty):
        _load(clients=5)


def test_the_command_loads_prints_logins_and_refuses_a_second_run(app, runner):
    args = ["bench-data", "--clients", "20", "--password", PASSWORD, "--totp-seed", TOTP_SEED]
    result = runner.invoke(args=args)
    assert result.exit_code == 0, result.output
    assert "bench-counselor-0001" in result.output and TOTP_SEED in result.output
    assert "B001 Bench Site 001" in result.output and "network-wide" in result.output
    again = runner.invoke(args=args)
    assert again.exit_code != 0 and "empty database" in again.output


def _rows(seed: int, clients: int = 60) -> Rows:
    """The generator alone, without a database: what one seed produces."""
    rng = random.Random(seed)  # noqa: S311 - fiction, not secrets
    states = client_states(rng, staffing.Mix.for_clients(clients))
    sites = staffing.deal_sites(states, staffing.site_count(clients))
    ids, rows = Ids({}), Rows()
    mixes = bench.site_mixes(states, sites)
    network = staffing.build_staff(rng, mixes, ids, rows, "hash", "sealed", NOW)
    tz = ZoneInfo("America/New_York")
    day = NOW.astimezone(tz).date()
    staffing.build_groups(rng, network, ids, rows, day, NOW)
    ctx = Context(day, NOW, tz, "C", network, ids, {"methadone": 1, "buprenorphine": 2})
    builder = ClientBuilder(ctx, rows)
    for number, (state, site) in enumerate(zip(states, sites, strict=True), start=1):
        builder.add(rng, number, state, network.sites[site])
    return rows


def test_the_same_seed_gives_the_same_network():
    first, second, other = _rows(3), _rows(3), _rows(4)
    assert first.tables == second.tables
    assert first.tables["notes"] != other.tables["notes"]


# --- sites ---------------------------------------------------------------------------------


def test_a_small_network_is_one_site_with_every_episode_and_its_staff_at_it(loaded):
    site = db.session.scalars(sa.select(Site)).one()
    assert (site.code, site.name, site.active) == ("B001", "Bench Site 001", True)
    assert db.session.scalar(sa.select(sa.func.count()).where(Episode.site_id.is_(None))) == 0
    staff = {u.login: u.site_id for u in db.session.scalars(sa.select(User))}
    assert staff["bench-admin-0001"] is None and staff["bench-manager-0001"] is None
    assert staff["bench-nurse-0001"] == staff["bench-counselor-0001"] == site.id


def test_the_network_has_one_site_per_thousand_clients(app):
    """At 2,100 clients: three sites of 700, each with its own staff and detox unit."""
    clients = 2100
    outcome = _load(clients=clients, seed=11)
    sites = db.session.scalars(sa.select(Site).order_by(Site.code)).all()
    assert len(sites) == math.ceil(clients / 1000) == len(outcome.network.sites)
    assert [s.code for s in sites] == ["B001", "B002", "B003"]
    assert all(s.name.startswith("Bench Site ") for s in sites)

    # Every episode has a site, and a client's episodes all share one.
    assert db.session.scalar(sa.select(sa.func.count()).where(Episode.site_id.is_(None))) == 0
    per_client = (
        sa.select(Episode.client_id)
        .group_by(Episode.client_id)
        .having(sa.func.count(sa.distinct(Episode.site_id)) > 1)
    )
    assert db.session.execute(per_client).first() is None

    # Clients per site, and the clients in detox now: about 6 % of each site's.
    site_of_client = dict(
        db.session.execute(sa.select(Episode.client_id, Episode.site_id).distinct()).all()
    )
    sizes = Counter(site_of_client.values())
    assert set(sizes) == {s.id for s in sites} and max(sizes.values()) - min(sizes.values()) <= 1
    detox = Counter(
        db.session.scalars(
            sa.select(Episode.site_id).where(
                Episode.phase == "detox", Episode.discharged_on.is_(None)
            )
        )
    )
    for site in sites:
        assert abs(detox[site.id] / sizes[site.id] - 0.06) < 0.01, (site.code, detox, sizes)
    assert sum(detox.values()) == round(clients * 0.06)  # the network's total as before

    # Staff per site: each its own nurses, physicians, counselors, manager and supervisors;
    # the admin and one clinic manager network-wide.
    roles = db.session.execute(
        sa.text(
            "SELECT r.role, u.site_id, count(*) FROM users u "
            "JOIN user_roles r ON r.user_id = u.id GROUP BY r.role, u.site_id"
        )
    ).all()
    by_role: dict[str, dict] = {}
    for role, site_id, count in roles:
        by_role.setdefault(role, {})[site_id] = count
    assert by_role["admin"] == {None: 1}
    assert by_role["clinic_manager"][None] == 1
    for role in ("nurse", "physician", "counselor", "clinic_manager", "supervisor"):
        assert all(by_role[role].get(s.id, 0) >= 1 for s in sites), role
    for site in sites:
        assert by_role["nurse"][site.id] >= 2
        assert by_role["counselor"][site.id] == math.ceil(0.76 * sizes[site.id] / 40)

    # The site's staff treat the site's episodes: its counselors carry its caseloads and its
    # nurses give its doses.
    staff_site = dict(db.session.execute(sa.select(User.id, User.site_id)).all())
    episodes = db.session.execute(sa.select(Episode.primary_counselor_id, Episode.site_id))
    assert all(staff_site[c] == s for c, s in episodes)
    doses = db.session.execute(
        sa.text(
            "SELECT a.nurse_id, a.witness_id, e.site_id FROM medication_administrations a "
            "JOIN episodes e ON e.id = a.episode_id"
        )
    ).all()
    assert doses and all(staff_site[n] == staff_site[w] == s for n, w, s in doses)
    open_by = Counter(
        db.session.scalars(
            sa.select(Episode.primary_counselor_id).where(Episode.discharged_on.is_(None))
        )
    )
    assert 30 <= min(open_by.values()) and max(open_by.values()) <= 40
    assert audit_services.verify(db.session).ok


def test_dealing_sites_gives_each_site_its_share_of_every_state():
    rng = random.Random(5)  # noqa: S311 - fiction, not secrets
    states = client_states(rng, staffing.Mix.for_clients(50000))
    sites = staffing.deal_sites(states, staffing.site_count(50000))
    mixes = bench.site_mixes(states, sites)
    assert len(mixes) == 50
    assert {m.detox for m in mixes} == {60} and {m.open for m in mixes} == {760}

"""Caseload isolation for every object type (security matrix Z-02 by URL, Z-03 by ids smuggled
into form bodies; 42 CFR Part 2 §2.12 need to know).

One clinic, built through the services: counselor "mine" has Alpha (rehab, draft treatment
plan), Able (detox, a medication order) and Acorn (aftercare, draft continuing-care plan);
counselor "theirs" has Bravo (through detox into rehab, with every kind of record) and
Bristow (aftercare). Staff outside Bravo's and Bristow's care get 404 for every record of
theirs by URL (403 where the reviewed policy table keeps the role off the route altogether),
nothing is written, and ids of those records posted in the forms of their own clients'
records change nothing of the other clients.

The clock is frozen before anyone signs in (sessions are timed).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from html.parser import HTMLParser
from types import SimpleNamespace

import pytest
import sqlalchemy as sa
import time_machine
from flask import url_for

from casemgr.aftercare.models import CheckIn, PlanTrigger, RelapseEvent
from casemgr.audit.models import AuditEvent
from casemgr.detox import services as detox
from casemgr.domain import consent as consent_rules
from casemgr.domain.notes import NoteFormat
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.groups import services as groups
from casemgr.groups.models import GroupEnrollment, GroupMeeting
from casemgr.mar import services as mar
from casemgr.mar.models import MedicationAdministration, MedicationOrder
from casemgr.notes import services as notes
from casemgr.notes.models import Note
from casemgr.printing import client_report
from casemgr.printing.models import PrintedReport, ReportBatch
from casemgr.privacy import consents
from casemgr.privacy.models import (
    ClientRestriction,
    Consent,
    Disclosure,
    EmergencyAccess,
)
from casemgr.screens.models import DrugScreen
from casemgr.timefmt import local_date
from tests.aftercare.helpers import check_ins, relapsed
from tests.ccplan.helpers import draft_plan as draft_care_plan
from tests.ccplan.helpers import signed_plan as signed_care_plan
from tests.clients_helpers import TODAY, admitted, intake_form
from tests.detox.helpers import COWS_ITEMS, assessed
from tests.factories import PASSWORD
from tests.groups.helpers import enrol_all, make_group
from tests.mar.helpers import TZ
from tests.mar.helpers import order as placed_order
from tests.mar.helpers import recorded as given
from tests.notes.helpers import session_with_note
from tests.plans.helpers import draft_plan, signed_plan
from tests.policy_table import EXPECTED
from tests.printing.helpers import print_report
from tests.screens.helpers import recorded as screened

NOW = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 10:00 at the facility
JUDGE, COURT, PURPOSE = "Judge Ana Ortiz", "County Drug Court", "Drug court compliance review"
# Words that only Bravo's and Bristow's records contain: an outsider's page never shows them.
THEIR_WORDS = ("Bravo", "Bristow", "Bianca", "BRAVO-SEAT-LINE", "BRAVO-NOTE")
# Tables whose rows change when anyone merely reads (the trail of the attempt, the session).
NOT_CLINICAL = frozenset({"audit_events", "audit_chain_head", "user_sessions", "throttles"})


# ---------------------------------------------------------------------------------------------
# The clinic


@pytest.fixture
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


def _bravo(w: SimpleNamespace) -> None:
    """Bravo: detox (a COWS, a witnessed methadone dose), cleared to rehab (order stopped), then a
    signed treatment plan, a signed and a draft note, a drug screen, a consent, a disclosure
    under it, a progress report, a group seat, a restriction and an ended emergency access."""
    w.bravo, w.b_episode = admitted(
        w.manager,
        w.theirs,
        Phase.DETOX,
        **w.names.get("bravo", {"legal_last_name": "Bravo", "legal_first_name": "Bianca"}),
    )
    w.b_assessment = assessed(w.b_episode, w.nurse)
    w.b_order = placed_order(w.b_episode, w.physician, times="08:00")
    w.b_dose = given(w.b_order, w.nurse, hour=8, witness=w.witness)
    detox.record_clearance(db.session, w.b_episode, "Cleared", by=w.physician, now=NOW)
    episodes.move(
        db.session,
        w.b_episode,
        episodes.Move(Phase.REHAB, NOW, "Medically cleared"),
        actor=w.theirs,
        now=NOW,
        local_date=local_date,
    )
    mar.discontinue(db.session, w.b_order, "Taper complete", by=w.physician, now=NOW)
    db.session.commit()
    w.b_plan = signed_plan(w.b_episode, w.theirs)
    w.b_problem = w.b_plan.problems[0]
    w.b_goal = w.b_problem.goals[0]
    w.b_objective = w.b_goal.objectives[0]
    content = notes.NoteContent(
        format=NoteFormat.DAP,
        sections={"data": "BRAVO-NOTE data", "assessment": "BRAVO-NOTE a", "plan": "p"},
    )
    _, w.b_note = session_with_note(w.b_episode, w.theirs, day=date(2026, 11, 20), content=content)
    notes.sign(db.session, w.b_note, PASSWORD, actor=w.theirs, now=NOW)
    db.session.commit()
    _, w.b_draft = session_with_note(w.b_episode, w.theirs, day=date(2026, 11, 21), content=content)
    w.b_screen = screened(w.b_episode, w.theirs)
    w.b_consent = recorded_consent(w.bravo, w.theirs)
    w.b_disclosure = consents.disclose(
        db.session,
        w.bravo,
        recipient=JUDGE,
        purpose=PURPOSE,
        information=consent_rules.PROGRESS_REPORT,
        period=(date(2026, 11, 1), TODAY),
        by=w.theirs,
        now=NOW,
        today=TODAY,
    ).disclosure
    db.session.commit()
    w.b_report, _ = print_report(client_report.PROGRESS, w.bravo, w.theirs, at=NOW)
    w.b_group = make_group([w.theirs], name="Thursday group")
    [w.b_enrollment] = enrol_all(w.b_group, [w.b_episode])
    w.b_meeting = groups.record_meeting(
        db.session,
        w.b_group,
        groups.MeetingDetails(
            meeting_date=TODAY,
            start_time=time(8, 30),
            end_time=time(10, 0),
            topic="Riding out a craving",
            summary="BRAVO-SEAT-LINE summary",
            seats=(groups.SeatEntry(w.b_episode.id, "attended", None, "BRAVO-SEAT-LINE", ""),),
        ),
        facilitator=w.theirs,
        now=NOW,
        today=TODAY,
        tz=TZ,
    )
    w.b_restriction = ClientRestriction(
        client_id=w.bravo.id, user_id=w.witness.id, reason="Relative", by_id=w.manager.id
    )
    w.b_access = EmergencyAccess(
        client_id=w.bravo.id,
        user_id=w.nurse.id,
        receiving_personnel="Dr. Emergency",
        receiving_facility="County Hospital",
        nature="Overdose",
        confirmed_at=NOW,
        started_at=NOW,
        expires_at=NOW,
        ended_at=NOW,
    )
    db.session.add_all([w.b_restriction, w.b_access])
    db.session.commit()


def _bristow(w: SimpleNamespace) -> None:
    """Bristow: aftercare with a signed continuing-care plan (one trigger), check-ins and a
    lapse."""
    w.bristow, w.c_episode = admitted(
        w.manager,
        w.theirs,
        Phase.AFTERCARE,
        **w.names.get("bristow", {"legal_last_name": "Bristow"}),
    )
    w.c_plan = signed_care_plan(w.c_episode, w.theirs)
    w.c_trigger = w.c_plan.triggers[0]
    w.c_check_in = check_ins(w.c_episode)[0]
    w.c_relapse = relapsed(w.c_episode, w.theirs, date(2026, 11, 20), today=TODAY)


def _mine(w: SimpleNamespace) -> None:
    w.alpha, w.a_episode = admitted(
        w.manager, w.mine, Phase.REHAB, **w.names.get("alpha", {"legal_last_name": "Alpha"})
    )
    w.a_plan = draft_plan(w.a_episode, w.mine)
    w.a_objective = w.a_plan.problems[0].goals[0].objectives[0]
    w.able, w.d_episode = admitted(
        w.manager, w.mine, Phase.DETOX, **w.names.get("able", {"legal_last_name": "Able"})
    )
    w.a_order = placed_order(
        w.d_episode, w.physician, drug="ondansetron", dose="4", times="06:00, 09:00", max_daily="8"
    )
    given(w.a_order, w.nurse, hour=6)
    w.acorn, w.e_episode = admitted(
        w.manager, w.mine, Phase.AFTERCARE, **w.names.get("acorn", {"legal_last_name": "Acorn"})
    )
    w.e_plan = draft_care_plan(w.e_episode, w.mine)
    w.e_trigger = w.e_plan.triggers[0]
    w.e_check_in = check_ins(w.e_episode)[0]
    w.a_group = make_group([w.mine], name="Monday group")
    [w.a_enrollment] = enrol_all(w.a_group, [w.a_episode])


def build_clinic(make, names: dict[str, dict] | None = None) -> SimpleNamespace:
    """The staff and the five clients described at the top (call with the clock frozen);
    `names` replaces a client's face-sheet names: {"bravo": {"legal_last_name": ...}}."""
    w = SimpleNamespace(
        names=names or {},
        manager=make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager"),
        mine=make.user(Role.COUNSELOR, full_name="Casey Mine"),
        theirs=make.user(Role.COUNSELOR, full_name="Terry Theirs"),
        nurse=make.user(Role.NURSE, full_name="Nora Nurse"),  # documented Bravo's detox
        witness=make.user(Role.NURSE, full_name="Wes Witness"),
        physician=make.user(Role.PHYSICIAN, full_name="Pat Physician"),  # ordered for Bravo
        outsider_nurse=make.user(Role.NURSE, full_name="Olga Outsider"),
        outsider_physician=make.user(Role.PHYSICIAN, full_name="Oscar Outsider"),
        admin=make.user(Role.ADMIN, full_name="Ada Admin"),
    )
    _bravo(w)
    _bristow(w)
    _mine(w)
    return w


@pytest.fixture
def w(clock, make) -> SimpleNamespace:
    return build_clinic(make)


def recorded_consent(person, by, **overrides) -> Consent:
    """A §2.31 consent naming JUDGE for PURPOSE, signed in the app, through the service."""
    terms = consent_rules.Terms(
        kind="general",
        discloser="Test Recovery Center",
        information=frozenset(consent_rules.PROGRESS_REPORT),
        information_detail="Records from admission to the date of release.",
        recipient_kind="named",
        recipient_name=JUDGE,
        recipient_organisation=COURT,
        purpose=PURPOSE,
        expiry_kind="date",
        expires_on=date(2027, 5, 20),
        expiry_event="",
        revocation_statement=consent_rules.DEFAULT_REVOCATION_STATEMENT,
        signed_by="client",
        **overrides,
    )
    name = f"{person.legal_first_name} {person.legal_last_name}"
    signing = consent_rules.Signing(consent_rules.APP, TODAY, False, name)
    consent = consents.record_consent(
        db.session, person, terms, signing, scan=None, by=by, today=TODAY, instance_path="unused"
    )
    db.session.commit()
    return consent


def snapshot() -> dict[str, list[tuple]]:
    """Every clinical table's rows (the checksum of Z-03): a refused request changes none."""
    db.session.expire_all()
    return {
        t.name: sorted((tuple(r) for r in db.session.execute(sa.select(t))), key=repr)
        for t in db.metadata.sorted_tables
        if t.name not in NOT_CLINICAL
    }


def changed(before: dict, after: dict) -> list[str]:
    return [name for name in before if before[name] != after[name]]


def count(model, *where) -> int:
    return db.session.scalar(sa.select(sa.func.count()).select_from(model).where(*where))


class _Hidden(HTMLParser):
    def __init__(self):
        super().__init__()
        self.values: dict[str, str] = {}

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "input" and a.get("type") == "hidden" and a.get("name") != "csrf_token":
            self.values.setdefault(a.get("name") or "", a.get("value") or "")


def hidden_fields(html: str) -> dict[str, str]:
    """The hidden inputs a rendered form sends back (the record's version, a request key)."""
    parser = _Hidden()
    parser.feed(html)
    return {k: v for k, v in parser.values.items() if k}


def post_form(client, url: str, body: dict, *, page_url: str | None = None):
    """Post as a browser does after opening the form: its hidden fields, then `body`."""
    page = client.get(page_url or url)
    return client.post(url, data=hidden_fields(page.text) | body)


def error_of(html: str, field: str) -> str:
    match = re.search(rf'id="{re.escape(field)}-error">([^<]*)<', html)
    assert match, f"no error shown next to {field}"
    return match.group(1)


# ---------------------------------------------------------------------------------------------
# Form bodies: valid for the route they are posted to, so a refusal is the access check's.


def dap_form(**overrides) -> dict:
    data = {
        "session_date": "2026-11-24",
        "start_time": "14:00",
        "end_time": "14:50",
        "session_type": "individual",
        "setting": "on_site",
        "location": "Room 4",
        "attendance": "attended",
        "section_data": "Reports cravings 6/10.",
        "section_assessment": "Engaged.",
        "section_plan": "Urge surfing.",
    }
    return {**data, **overrides}


def screen_form(**overrides) -> dict:
    from casemgr.domain import screens as panel

    data = {"collected_at": "2026-11-25T09:30", "specimen_type": "urine", "temperature": "yes"}
    data |= {f"result_{code}": "negative" for code, _ in panel.PANEL}
    return {**data, **overrides}


def cows_form(**overrides) -> dict:
    data = {"assessed_at": "2026-11-25T09:30", "reason": "scheduled", "temperature_unit": "C"}
    data |= {key: str(value) for key, value in COWS_ITEMS.items()}
    return {**data, **overrides}


def dose_form(**overrides) -> dict:
    return {"given_at": "2026-11-25T09:30", "outcome": "given", "dose": "4", **overrides}


def order_form(**overrides) -> dict:
    data = {
        "drug": "clonidine",
        "dose": "0.1",
        "unit": "mg",
        "route": "oral",
        "times": "20:00",
        "indication": "Autonomic symptoms",
        "starts_at": "2026-11-25T10:00",
    }
    return {**data, **overrides}


def check_in_form(**overrides) -> dict:
    data = {
        "reached": "yes",
        "method": "phone",
        "contacted_at": "2026-11-25T09:00",
        "days_used_30": "0",
        "note": "Doing well.",
    }
    return {**data, **overrides}


def relapse_form(**overrides) -> dict:
    data = {
        "kind": "lapse",
        "used_on": "2026-11-22",
        "substance": "alcohol",
        "circumstances": "Wedding.",
        "trigger": "",
        "response": "increased_sessions",
    }
    return {**data, **overrides}


def consent_form(**overrides) -> dict:
    data = {
        "kind": "general",
        "discloser": "Test Recovery Center",
        "information": sorted(consent_rules.PROGRESS_REPORT),
        "information_detail": "Records from admission to the date of release.",
        "recipient_kind": "named",
        "recipient_name": JUDGE,
        "recipient_organisation": COURT,
        "purpose": PURPOSE,
        "expiry_kind": "date",
        "expires_on": "2027-05-20",
        "revocation_statement": consent_rules.DEFAULT_REVOCATION_STATEMENT,
        "signed_by": "client",
        "signature_method": "app",
        "signed_on": "2026-11-25",
        "typed_signature": "Dana Alpha",
        "record": "Record the signed consent",
    }
    return {**data, **overrides}


def disclose_form(**overrides) -> dict:
    data = {
        "recipient": JUDGE,
        "purpose": PURPOSE,
        "information": sorted(consent_rules.PROGRESS_REPORT),
        "start": "2026-11-01",
        "end": "2026-11-25",
    }
    return {**data, **overrides}


def discharge_form(**overrides) -> dict:
    data = {
        "reason_code": "1",
        "discharged_on": "2026-11-25",
        "last_contact_on": "2026-11-25",
        "use_frequency": "1",
        "employment": "full_time",
        "living_arrangement": "independent",
        "arrests_30d": "0",
        "self_help": "2",
    }
    return {**data, **overrides}


# ---------------------------------------------------------------------------------------------
# Z-02: every record of a client outside one's care, by URL


def their_urls(w: SimpleNamespace) -> dict[str, tuple[dict, dict]]:
    """Each endpoint that reaches a record of Bravo or Bristow: its URL values and, for a
    POST, a body that would write for someone in their care."""
    b, bep, cep = w.bravo.id, w.b_episode.id, w.c_episode.id
    plan, cplan = w.b_plan.id, w.c_plan.id
    counsel = {"counselor": str(w.mine.id)}
    sign = {"password": PASSWORD}
    void = {"reason": "Entered on the wrong client"}
    return {
        # the chart and its episodes
        "clients.show": ({"client_id": b}, {}),
        "clients.edit": ({"client_id": b}, intake_form()),
        "charts.client_timeline": ({"client_id": b}, {}),
        "episodes.readmit": ({"client_id": b}, {"admitted_on": "2026-11-25", **counsel}),
        "episodes.change_phase": (
            {"episode_id": bep},
            {"target": "aftercare", "effective_at": "2026-11-25T10:00", "reason": "Stepped down"},
        ),
        "episodes.discharge": ({"episode_id": bep}, discharge_form()),
        "episodes.change_site": ({"episode_id": bep}, {"site": "1", "reason": "Moving on"}),
        "episodes.level_of_care": (
            {"episode_id": bep},
            {"setting": "residential", "code": "3.5", "started_on": "2026-11-25"},
        ),
        "episodes.assign": ({"episode_id": bep}, counsel),
        # notes
        "notes.new": ({"episode_id": bep, "format": "dap"}, dap_form()),
        "notes.show": ({"note_id": w.b_note.id}, {}),
        "notes.edit": ({"note_id": w.b_draft.id}, dap_form()),
        "notes.sign": ({"note_id": w.b_draft.id}, sign),
        "notes.addendum": ({"note_id": w.b_note.id}, {"reason": "Late entry", "text": "More."}),
        "notes.cosign": ({"note_id": w.b_note.id}, sign),
        "notes.return_to_author": ({"note_id": w.b_note.id}, {"comments": "Revise."}),
        # withdrawal assessments and clearance
        "detox.summary": ({"episode_id": bep}, {}),
        "detox.trend": ({"episode_id": bep}, {}),
        "detox.cows": ({"episode_id": bep}, cows_form()),
        "detox.ciwa": ({"episode_id": bep}, {}),
        "detox.clearance": ({"episode_id": bep}, {"note": "Cleared again"}),
        "detox.void_assessment": ({"assessment_id": w.b_assessment.id}, void),
        # medication orders and doses (the MAR)
        "mar.chart": ({"episode_id": bep}, {}),
        "mar.new_order": ({"episode_id": bep}, order_form(ordered_by=str(w.physician.id))),
        "mar.give": ({"order_id": w.b_order.id}, dose_form(dose="30")),
        "mar.cosign": ({"order_id": w.b_order.id}, sign),
        "mar.discontinue": ({"order_id": w.b_order.id}, {"reason": "Stop"}),
        "mar.void_dose": ({"dose_id": w.b_dose.id}, void),
        # treatment plan
        "plans.show": ({"episode_id": bep}, {}),
        "plans.version": ({"plan_id": plan}, {}),
        "plans.create": ({"episode_id": bep}, {}),
        "plans.edit": ({"plan_id": plan}, {"strengths": "Resilient."}),
        "plans.add_problem": ({"plan_id": plan}, {"statement": "A new problem"}),
        "plans.add_child": (
            {"plan_id": plan, "kind": "problem", "part_id": w.b_problem.id},
            {"statement": "A new goal"},
        ),
        "plans.edit_item": (
            {"plan_id": plan, "kind": "objective", "part_id": w.b_objective.id},
            {"statement": "Changed", "target_date": "2026-12-31", "status": "met"},
        ),
        "plans.remove_item": (
            {"plan_id": plan, "kind": "objective", "part_id": w.b_objective.id},
            {},
        ),
        "plans.sign": (
            {"plan_id": plan},
            {**sign, "client_agreed": "y", "client_agreed_on": "2026-11-25"},
        ),
        "plans.start_review": ({"plan_id": plan}, {}),
        # drug screens
        "screens.new": ({"episode_id": bep}, screen_form()),
        "screens.show": ({"screen_id": w.b_screen.id}, {}),
        "screens.history": ({"client_id": b}, {}),
        "screens.void": ({"screen_id": w.b_screen.id}, void),
        # aftercare: check-ins, relapse, closure and the continuing-care plan
        "aftercare.show": ({"episode_id": cep}, {}),
        "aftercare.record_check_in": ({"check_in_id": w.c_check_in.id}, check_in_form()),
        "aftercare.reschedule": (
            {"check_in_id": w.c_check_in.id},
            {"rescheduled_to": "2026-12-01", "reason": "At work"},
        ),
        "aftercare.relapse": ({"episode_id": cep}, relapse_form()),
        "aftercare.void_check_in": ({"check_in_id": w.c_check_in.id}, void),
        "aftercare.void_relapse": ({"relapse_id": w.c_relapse.id}, void),
        "aftercare.close": (
            {"episode_id": cep},
            {**discharge_form(reason_code="4", self_help="3"), "summary": "Done."},
        ),
        "ccplan.new": ({"episode_id": cep}, {}),
        "ccplan.show": ({"plan_id": cplan}, {}),
        "ccplan.edit": ({"plan_id": cplan}, {"program": "iop"}),
        "ccplan.add_item": (
            {"plan_id": cplan, "kind": "trigger"},
            {"trigger-category": "people", "trigger-description": "Bar", "trigger-risk": "2"},
        ),
        "ccplan.remove_item": (
            {"plan_id": cplan, "kind": "trigger", "item_id": w.c_trigger.id},
            {},
        ),
        "ccplan.sign": ({"plan_id": cplan}, sign),
        # printed reports
        "printing.progress": (
            {"client_id": b},
            {"purpose": "Court", "start": "2026-11-01", "end": "2026-11-25"},
        ),
        "printing.discharge": ({"episode_id": bep}, {"purpose": "Court"}),
        "batches.verify": ({"report_id": w.b_report.id}, {}),
        # consents and the accounting of disclosures
        "consents.index": ({"client_id": b}, {}),
        "consents.new": ({"client_id": b}, consent_form()),
        "consents.show": ({"consent_id": w.b_consent.id}, {}),
        "consents.revoke": (
            {"consent_id": w.b_consent.id},
            {"revoked_on": "2026-11-25", "note": "Letter"},
        ),
        "consents.print": ({"consent_id": w.b_consent.id}, {}),
        "consents.scan": ({"consent_id": w.b_consent.id}, {}),
        "consents.disclose": ({"client_id": b}, disclose_form()),
        "consents.accounting": ({"client_id": b}, {}),
        # group seats, restrictions and emergency access
        "groups.unenrol": ({"group_id": w.b_group.id, "enrollment_id": w.b_enrollment.id}, {}),
        "restrictions.index": ({"client_id": b}, {"user": str(w.admin.id), "reason": "x"}),
        "restrictions.lift": ({"client_id": b, "restriction_id": w.b_restriction.id}, {}),
        "emergency.end": ({"access_id": w.b_access.id}, {}),
        "emergency.acknowledge": ({"access_id": w.b_access.id}, {}),
    }


# Routes with a record id that the sweep above does not send an outsider to, and why.
NOT_SWEPT = {
    "sites.edit": "the network's sites, no client data",
    "sites.deactivate": "the network's sites, no client data",
    "sites.reactivate": "the network's sites, no client data",
    "emergency.start": "break-glass opens a chart outside one's care on purpose (Z-07)",
    "groups.show": "a group, not a client; its roster hides other caseloads (tested below)",
    "groups.edit": "a group's own fields",
    "groups.enrol": "a group; the clients offered are the user's own (tested below)",
    "groups.record_meeting": "facilitators only; its seats are tested below",
    "groups.show_meeting": "a meeting; lines of other caseloads are hidden (tested below)",
    "groups.sign_meeting": "facilitators only: signs the facilitator's own drafts",
    "batches.show": "clinic managers' batches (tested below with a restricted manager)",
    "batches.download": "clinic managers' batches (tested below with a restricted manager)",
    "admin.staff_show": "staff accounts, no client data",
    "admin.staff_edit": "staff accounts, no client data",
    "admin.staff_password": "staff accounts, no client data",
    "admin.staff_action": "staff accounts, no client data",
    "home.role_home": "a role, not a record",
    "outcomes.chart": "aggregate figures, no record id",
}


def test_z02_every_route_with_a_record_id_is_swept_or_explained(app, w):
    with app.test_request_context():
        swept = set(their_urls(w))
    with_ids = {
        rule.endpoint
        for rule in app.url_map.iter_rules()
        if rule.arguments and rule.endpoint != "static"
    }
    assert with_ids - swept - set(NOT_SWEPT) == set(), "add the new route to the sweep"
    assert swept <= set(EXPECTED) and set(NOT_SWEPT) <= set(EXPECTED)


def expected_status(endpoint: str, user) -> int:
    """404 to a role the reviewed policy lets reach the route (their record is out of scope),
    403 to a role it keeps off the route."""
    allowed = EXPECTED[endpoint]
    return 404 if allowed != "public" and user.roles & allowed else 403


@pytest.mark.parametrize("who", ["mine", "outsider_nurse", "outsider_physician"])
def test_z02_an_outsider_reaches_no_record_of_another_caseload_by_url(app, client, auth, w, who):
    user = auth.login(getattr(w, who))
    before = snapshot()
    problems = []
    with app.test_request_context():
        urls = {e: (url_for(e, **values), body) for e, (values, body) in their_urls(w).items()}
    for endpoint, (url, body) in urls.items():
        rule = next(app.url_map.iter_rules(endpoint))
        for method in sorted(rule.methods & {"GET", "POST"}):
            resp = client.open(url, method=method, data=body if method == "POST" else None)
            want = expected_status(endpoint, user)
            if resp.status_code != want:
                problems.append(f"{method} {url} ({endpoint}): {resp.status_code}, want {want}")
            shown = [word for word in THEIR_WORDS if word in resp.get_data(as_text=True)]
            if shown:
                problems.append(f"{method} {url} shows {shown}")
    assert problems == []
    assert changed(before, snapshot()) == []


def test_z02_the_out_of_scope_attempts_are_audited(client, auth, w):
    auth.login(w.mine)
    for url in (
        f"/clients/{w.bravo.id}",
        f"/notes/{w.b_note.id}",
        f"/consents/{w.b_consent.id}",
        f"/mar/{w.b_episode.id}",
        f"/aftercare/check-ins/{w.c_check_in.id}",
    ):
        assert client.get(url).status_code == 404
    denied = db.session.scalars(
        sa.select(AuditEvent).where(
            AuditEvent.action == "authz.denied", AuditEvent.actor_id == w.mine.id
        )
    ).all()
    assert [e.client_id for e in denied] == [w.bravo.id] * 4 + [w.bristow.id]


def test_z02_the_same_urls_open_for_their_own_counselor(client, auth, w):
    """The control: the records exist and their counselor reaches them."""
    auth.login(w.theirs)
    for url in (
        f"/clients/{w.bravo.id}",
        f"/notes/{w.b_note.id}",
        f"/screens/{w.b_screen.id}",
        f"/plans/{w.b_plan.id}",
        f"/consents/{w.b_consent.id}",
        f"/consents/clients/{w.bravo.id}",
        f"/detox/{w.b_episode.id}",
        f"/mar/{w.b_episode.id}",
        f"/aftercare/{w.c_episode.id}",
        f"/aftercare/plans/{w.c_plan.id}",
        f"/aftercare/check-ins/{w.c_check_in.id}",
    ):
        assert client.get(url).status_code == 200, url


@pytest.mark.parametrize("who", ["mine", "outsider_nurse"])
def test_z02_lists_and_searches_never_include_another_caseload(client, auth, w, who):
    auth.login(getattr(w, who))
    pages = {
        "home": client.get("/", follow_redirects=True),
        "clients": client.get("/clients/"),
        # a search echoes what was typed (in lower case here): only a result would capitalise
        "by name": client.post("/clients/", data={"q": "bravo"}),
        "by first name": client.post("/clients/", data={"q": "bianca"}),
        "by MRN": client.post("/clients/", data={"q": w.bravo.mrn}),
        "by birth date": client.post("/clients/", data={"q": "1990-04-02"}),  # everyone's
    }
    if who == "outsider_nurse":
        pages["detox board"] = client.get("/detox/board")
    for name, resp in pages.items():
        assert resp.status_code == 200, name
        text = resp.text.replace(w.bravo.mrn, "")
        assert [word for word in THEIR_WORDS if word in text] == [], name
        assert w.bristow.mrn not in text, name
    assert "<bdi>Alpha," in pages["clients"].text if who == "mine" else True


def test_z02_group_pages_hide_the_lines_of_another_caseload(client, auth, w):
    """A counselor may see any group (they schedule them), but only the members and meeting
    lines of clients in their own scope; recording and signing are for its facilitators."""
    auth.login(w.mine)
    for url in (f"/groups/{w.b_group.id}", f"/groups/meetings/{w.b_meeting.id}"):
        resp = client.get(url)
        assert resp.status_code == 200
        assert [word for word in THEIR_WORDS if word in resp.text] == []
    before = snapshot()
    assert client.get(f"/groups/{w.b_group.id}/meetings/new").status_code == 403
    assert (
        client.post(
            f"/groups/meetings/{w.b_meeting.id}/sign", data={"password": PASSWORD}
        ).status_code
        == 403
    )
    assert changed(before, snapshot()) == []


# ---------------------------------------------------------------------------------------------
# Z-03: ids of another client's records smuggled into the forms of one's own client


def test_z03_a_note_cannot_link_another_clients_plan_objectives(client, auth, w):
    auth.login(w.mine)
    url = f"/notes/new/{w.a_episode.id}?format=dap"
    before = snapshot()
    for objectives in ([w.b_objective.id], [w.a_objective.id, w.b_objective.id]):
        resp = post_form(client, url, dap_form(objectives=[str(i) for i in objectives]))
        assert resp.status_code == 200
        assert "not a valid choice" in error_of(resp.text, "objectives")
    assert changed(before, snapshot()) == []
    # The control, with the ids of Bravo's session, note and episode also posted: the note is
    # written on Alpha's episode, linked to Alpha's objective, and Bravo's rows are untouched.
    smuggled = {
        "episode_id": str(w.b_episode.id),
        "client_id": str(w.bravo.id),
        "session_id": str(w.b_note.session_id),
        "note_id": str(w.b_note.id),
        "id": str(w.b_note.id),
    }
    resp = post_form(client, url, dap_form(objectives=[str(w.a_objective.id)], **smuggled))
    assert resp.status_code == 302, resp.text
    note = db.session.scalars(sa.select(Note).order_by(Note.id.desc())).first()
    assert note.session.episode_id == w.a_episode.id and note.author_id == w.mine.id
    assert [o.id for o in note.objectives] == [w.a_objective.id]
    after = snapshot()
    assert set(changed(before, after)) <= {"clinical_sessions", "notes", "note_objectives"}
    for table in ("clinical_sessions", "notes", "note_objectives"):  # added to, none changed
        assert set(before[table]) < set(after[table]), table


def test_z03_editing_a_draft_cannot_link_another_clients_objectives(client, auth, w):
    _, draft = session_with_note(w.a_episode, w.mine, day=date(2026, 11, 23))
    auth.login(w.mine)
    before = snapshot()
    resp = post_form(
        client,
        f"/notes/{draft.id}/edit",
        dap_form(session_date="2026-11-23", objectives=[str(w.b_objective.id)]),
    )
    assert resp.status_code == 200
    assert "not a valid choice" in error_of(resp.text, "objectives")
    assert changed(before, snapshot()) == []


def test_z03_a_group_meeting_takes_no_seat_of_another_client(client, auth, w):
    """Alpha is the only member of Monday group; Bravo's episode (in Thursday group) posted as
    a seat, instead of Alpha's or beside it, is refused and nothing is recorded."""
    auth.login(w.mine)
    url = f"/groups/{w.a_group.id}/meetings/new"

    def seat(i: int, episode_id: int, line: str) -> dict:
        return {
            f"seats-{i}-episode_id": str(episode_id),
            f"seats-{i}-attendance": "attended",
            f"seats-{i}-participation": line,
        }

    meeting = {
        "meeting_date": "2026-11-25",
        "start_time": "08:30",
        "end_time": "10:00",
        "topic": "Riding out a craving",
    }
    before = snapshot()
    for seats in (
        seat(0, w.b_episode.id, "Smuggled line"),
        seat(0, w.a_episode.id, "Alpha's line") | seat(1, w.b_episode.id, "Smuggled line"),
    ):
        resp = post_form(client, url, meeting | seats)
        assert resp.status_code == 200 and "roster changed" in resp.text
        assert "Bravo" not in resp.text
    assert changed(before, snapshot()) == []
    # The control: Alpha's seat alone is recorded, with the enrolment's ids also posted.
    extra = {"enrollment_id": str(w.b_enrollment.id), "group_id": str(w.b_group.id)}
    resp = post_form(client, url, meeting | seat(0, w.a_episode.id, "Alpha's line") | extra)
    assert resp.status_code == 302, resp.text
    made = db.session.scalars(sa.select(GroupMeeting).order_by(GroupMeeting.id.desc())).first()
    assert made.group_id == w.a_group.id
    assert [s.episode_id for s in made.seats] == [w.a_episode.id]


def test_z03_enrolment_ids_of_another_client_are_refused(client, auth, w):
    auth.login(w.mine)
    before = snapshot()
    # Bravo's enrolment, through Monday group's URL and through its own group's.
    for group_id in (w.a_group.id, w.b_group.id):
        resp = client.post(f"/groups/{group_id}/enrollments/{w.b_enrollment.id}/end")
        assert resp.status_code == 404
    # Bravo's episode is not offered for enrolment; posting its id enrols nobody.
    resp = post_form(
        client,
        f"/groups/{w.a_group.id}/enrol",
        {"episode": str(w.b_episode.id), "enrolled_on": "2026-11-25"},
    )
    assert resp.status_code == 200
    assert "Choose one of the clients listed" in error_of(resp.text, "episode")
    assert changed(before, snapshot()) == []
    assert count(GroupEnrollment, GroupEnrollment.episode_id == w.b_episode.id) == 1


def test_z03_a_dose_is_recorded_on_the_order_of_its_url_only(client, auth, w):
    """Bravo's order and episode ids in the body of a dose for Able's order: the dose lands on
    Able's order and episode. Bravo's order by URL: 404."""
    auth.login(w.outsider_nurse)
    before = snapshot()
    resp = post_form(client, f"/mar/orders/{w.b_order.id}/give", dose_form(dose="30"))
    assert resp.status_code == 404
    assert changed(before, snapshot()) == []
    smuggled = {
        "order_id": str(w.b_order.id),
        "episode_id": str(w.b_episode.id),
        "id": str(w.b_dose.id),
    }
    slot = mar.slot_arg(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))  # 09:00 at the facility
    resp = post_form(client, f"/mar/orders/{w.a_order.id}/give?slot={slot}", dose_form(**smuggled))
    assert resp.status_code == 302, resp.text
    dose = db.session.scalars(
        sa.select(MedicationAdministration).order_by(MedicationAdministration.id.desc())
    ).first()
    assert (dose.order_id, dose.episode_id) == (w.a_order.id, w.d_episode.id)
    assert dose.nurse_id == w.outsider_nurse.id
    assert count(MedicationAdministration, MedicationAdministration.order_id == w.b_order.id) == 1
    assert set(changed(before, snapshot())) == {"medication_administrations"}


def test_z03_an_override_names_a_physician_or_nobody(client, auth, w, make):
    """Going over Able's daily maximum needs an authorising physician: a nurse's, counselor's,
    administrator's, deactivated physician's or unknown id is refused and nothing is given."""
    retired = make.user(Role.PHYSICIAN, full_name="Rita Retired", active=False)
    db.session.commit()
    auth.login(w.outsider_nurse)
    slot = mar.slot_arg(datetime(2026, 11, 25, 14, 0, tzinfo=UTC))
    url = f"/mar/orders/{w.a_order.id}/give?slot={slot}"
    over = {"dose": "6", "override_reason": "Persistent vomiting"}
    before = snapshot()
    for someone in (w.nurse.id, w.mine.id, w.admin.id, retired.id, 999999):
        resp = post_form(client, url, dose_form(**over, override_physician=str(someone)))
        assert resp.status_code == 200, someone
        assert "Choose the physician" in error_of(resp.text, "override_physician"), someone
    assert changed(before, snapshot()) == []
    resp = post_form(client, url, dose_form(**over, override_physician=str(w.physician.id)))
    assert resp.status_code == 302, resp.text
    dose = db.session.scalars(
        sa.select(MedicationAdministration).order_by(MedicationAdministration.id.desc())
    ).first()
    assert dose.override_physician_id == w.physician.id


def test_z03_a_verbal_order_names_a_physician_or_nobody(client, auth, w):
    auth.login(w.outsider_nurse)
    url = f"/mar/{w.d_episode.id}/orders/new"
    before = snapshot()
    for someone in (w.outsider_nurse.id, w.mine.id, w.admin.id, 999999):
        resp = post_form(client, url, order_form(ordered_by=str(someone)))
        assert resp.status_code == 200, someone
        assert "Choose the physician" in error_of(resp.text, "ordered_by"), someone
    assert changed(before, snapshot()) == []
    resp = post_form(
        client, url, order_form(ordered_by=str(w.physician.id), episode_id=str(w.b_episode.id))
    )
    assert resp.status_code == 302, resp.text
    made = db.session.scalars(
        sa.select(MedicationOrder).order_by(MedicationOrder.id.desc())
    ).first()
    assert (made.episode_id, made.ordered_by_id, made.verbal) == (
        w.d_episode.id,
        w.physician.id,
        True,
    )


def test_z03_a_relapse_cannot_name_a_trigger_of_another_plan(client, auth, w):
    """Bristow's trigger lineage posted for Acorn's relapse: refused; Acorn's own: kept."""
    auth.login(w.mine)
    url = f"/aftercare/{w.e_episode.id}/relapse"
    before = snapshot()
    resp = post_form(client, url, relapse_form(trigger=w.c_trigger.lineage))
    assert resp.status_code == 200
    assert error_of(resp.text, "trigger")
    assert changed(before, snapshot()) == []
    assert w.c_trigger.lineage != w.e_trigger.lineage
    resp = post_form(
        client,
        url,
        relapse_form(trigger=w.e_trigger.lineage, episode_id=str(w.c_episode.id)),
    )
    assert resp.status_code == 302, resp.text
    event = db.session.scalars(sa.select(RelapseEvent).order_by(RelapseEvent.id.desc())).first()
    assert (event.episode_id, event.trigger_lineage) == (w.e_episode.id, w.e_trigger.lineage)
    assert count(RelapseEvent, RelapseEvent.episode_id == w.c_episode.id) == 1


def test_z03_a_check_in_is_recorded_on_the_row_of_its_url_only(client, auth, w):
    auth.login(w.mine)
    before = snapshot()
    smuggled = {
        "check_in_id": str(w.c_check_in.id),
        "id": str(w.c_check_in.id),
        "episode_id": str(w.c_episode.id),
    }
    resp = post_form(client, f"/aftercare/check-ins/{w.e_check_in.id}", check_in_form(**smuggled))
    assert resp.status_code == 302, resp.text
    db.session.expire_all()
    assert db.session.get(CheckIn, w.e_check_in.id).status == "done"
    assert db.session.get(CheckIn, w.c_check_in.id).status == "open"
    assert set(changed(before, snapshot())) == {"check_ins"}
    theirs = [r for r in before["check_ins"] if r[1] == w.c_episode.id]
    assert [r for r in snapshot()["check_ins"] if r[1] == w.c_episode.id] == theirs


def test_z03_a_disclosure_cannot_borrow_another_clients_consent(client, auth, w):
    """Alpha has no consent; Bravo's consent (naming the same judge) posted by id changes
    nothing: refused with the reason, no print and no accounting entry for anyone."""
    auth.login(w.mine)
    before = snapshot()
    resp = post_form(
        client,
        f"/consents/clients/{w.alpha.id}/disclose",
        disclose_form(consent_id=str(w.b_consent.id), client_id=str(w.bravo.id)),
    )
    assert resp.status_code == 200
    assert "consent" in resp.text.lower() and "Bravo" not in resp.text
    assert count(Disclosure, Disclosure.client_id == w.alpha.id) == 0
    assert count(PrintedReport, PrintedReport.client_id == w.alpha.id) == 0
    assert changed(before, snapshot()) == []


def test_z03_consents_stay_with_the_client_of_the_url(client, auth, w):
    auth.login(w.mine)
    before = snapshot()
    resp = post_form(
        client, f"/consents/{w.b_consent.id}/revoke", {"revoked_on": "2026-11-25", "note": "Letter"}
    )
    assert resp.status_code == 404
    assert changed(before, snapshot()) == []
    resp = post_form(
        client,
        f"/consents/clients/{w.alpha.id}/new",
        consent_form(client_id=str(w.bravo.id), id=str(w.b_consent.id)),
    )
    assert resp.status_code == 302, resp.text
    made = db.session.scalars(sa.select(Consent).order_by(Consent.id.desc())).first()
    assert made.id != w.b_consent.id and made.client_id == w.alpha.id
    assert count(Consent, Consent.client_id == w.bravo.id) == 1


def test_z03_a_drug_screen_lands_on_the_episode_of_its_url(client, auth, w):
    auth.login(w.mine)
    smuggled = {"episode_id": str(w.b_episode.id), "client_id": str(w.bravo.id)}
    resp = post_form(client, f"/screens/new/{w.a_episode.id}", screen_form(**smuggled))
    assert resp.status_code == 302, resp.text
    made = db.session.scalars(sa.select(DrugScreen).order_by(DrugScreen.id.desc())).first()
    assert made.episode_id == w.a_episode.id
    assert count(DrugScreen, DrugScreen.episode_id == w.b_episode.id) == 1


def test_z03_plan_parts_of_another_plan_are_not_found_under_ones_own(client, auth, w):
    """Bravo's problem, goal and objective ids under Alpha's draft plan's URLs: 404, and
    Bravo's plan is unchanged."""
    auth.login(w.mine)
    plan = w.a_plan.id
    before = snapshot()
    for method, url, body in (
        ("POST", f"/plans/{plan}/problem/{w.b_problem.id}/add", {"statement": "Goal"}),
        ("POST", f"/plans/{plan}/goal/{w.b_goal.id}/add", {"statement": "Objective"}),
        (
            "POST",
            f"/plans/{plan}/objective/{w.b_objective.id}/edit",
            {"statement": "Changed", "target_date": "2026-12-31", "status": "met"},
        ),
        ("POST", f"/plans/{plan}/objective/{w.b_objective.id}/remove", {}),
        ("GET", f"/plans/{plan}/problem/{w.b_problem.id}/edit", None),
    ):
        assert client.open(url, method=method, data=body).status_code == 404, url
    assert changed(before, snapshot()) == []


def test_z03_an_intervention_is_run_by_clinical_staff_only(client, auth, w):
    auth.login(w.mine)
    objective = w.a_objective.id
    url = f"/plans/{w.a_plan.id}/objective/{objective}/add"
    before = snapshot()
    for someone in (w.admin.id, 999999):
        resp = post_form(
            client,
            url,
            {"modality": "Individual CBT", "frequency": "weekly", "responsible": someone},
        )
        assert resp.status_code == 200, someone
        assert error_of(resp.text, "responsible"), someone
    assert changed(before, snapshot()) == []


def test_z03_care_plan_items_of_another_plan_are_not_found_under_ones_own(client, auth, w):
    auth.login(w.mine)
    before = snapshot()
    url = f"/aftercare/plans/{w.e_plan.id}/trigger/{w.c_trigger.id}/remove"
    assert client.post(url).status_code == 404
    assert changed(before, snapshot()) == []
    assert count(PlanTrigger, PlanTrigger.id == w.c_trigger.id) == 1


def test_z03_restrictions_and_emergency_accesses_stay_with_their_own(client, auth, w):
    auth.login(w.manager)
    before = snapshot()
    # Bravo's restriction under Alpha's URL; another staff member's emergency access.
    url = f"/restrictions/clients/{w.alpha.id}/{w.b_restriction.id}/lift"
    assert client.post(url).status_code == 404
    assert changed(before, snapshot()) == []
    client.post("/logout")
    auth.login(w.outsider_nurse)
    before = snapshot()
    assert client.post(f"/emergency/{w.b_access.id}/end").status_code == 404
    assert changed(before, snapshot()) == []


def test_z03_a_caseload_goes_to_a_counselor_only(client, auth, w):
    auth.login(w.manager)
    before = snapshot()
    for someone in (w.nurse.id, w.admin.id, 999999):
        resp = post_form(
            client, f"/episodes/{w.a_episode.id}/assign", {"counselor": str(someone), "reason": "x"}
        )
        assert resp.status_code == 200, someone
        assert "Not a valid choice" in error_of(resp.text, "counselor"), someone
    assert changed(before, snapshot()) == []


# ---------------------------------------------------------------------------------------------
# Z-02 with Z-06: a clinic manager restricted from a client sees none of their prints


@pytest.fixture
def inline_batches(app, monkeypatch):
    """Batches run inside the request, with the stand-in progress report (a small real PDF)."""
    from casemgr.printing import record
    from tests.printing.batch_helpers import fake_progress

    monkeypatch.setitem(app.config, "BATCH_RUNNER", "inline")
    monkeypatch.setitem(app.config, "BATCH_SQLITE_PAUSE_MS", 0)
    monkeypatch.setitem(record.RENDERERS, "progress", fake_progress)


def test_z02_a_restricted_manager_gets_no_print_of_the_client(
    client, auth, w, make, inline_batches
):
    """Another manager printed every active client, Bravo included. A manager restricted from
    Bravo finds neither that batch's file nor Bravo's prints in the log (deny wins)."""
    from tests.printing.batch_helpers import batch_id_of, submit

    auth.login(w.manager)
    batch_id = batch_id_of(submit(client, scope="all", output="combined"))
    assert client.get(f"/print/batches/{batch_id}/download").status_code == 200
    client.post("/logout")
    relative = make.user(Role.CLINIC_MANAGER, full_name="Rae Relative")
    db.session.add(
        ClientRestriction(
            client_id=w.bravo.id, user_id=relative.id, reason="Sister", by_id=w.manager.id
        )
    )
    db.session.commit()
    auth.login(relative)
    assert client.get(f"/clients/{w.bravo.id}").status_code == 404
    before = snapshot()
    assert client.get(f"/print/batches/{batch_id}").status_code == 404
    assert client.get(f"/print/batches/{batch_id}/download").status_code == 404
    assert client.post(f"/print/log/{w.b_report.id}/verify").status_code == 404
    log = client.get("/print/log")
    assert log.status_code == 200 and "Bravo" not in log.text and "Alpha" in log.text
    assert changed(before, snapshot()) == []
    # A batch without Bravo stays theirs to open.
    own = batch_id_of(submit(client, scope="all", output="combined"))
    assert client.get(f"/print/batches/{own}/download").status_code == 200
    assert count(PrintedReport, PrintedReport.batch_id == own) == 4
    assert db.session.get(ReportBatch, own).requested_by_id == relative.id

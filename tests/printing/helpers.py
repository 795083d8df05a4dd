"""Building clients with records for the printing tests (through the services, with an
explicit clock), printing their reports and reading the PDFs back with pypdf."""

from __future__ import annotations

import io
import warnings
from datetime import UTC, date, datetime, time, timedelta
from types import SimpleNamespace

import time_machine
from pypdf import PdfReader

from casemgr.detox import services as detox
from casemgr.domain.medications import Outcome
from casemgr.domain.phases import Phase
from casemgr.domain.roles import Role
from casemgr.domain.withdrawal import CIWA_AR, COWS
from casemgr.episodes import services as episodes
from casemgr.extensions import db
from casemgr.mar import services as mar
from casemgr.notes import services as notes
from casemgr.printing import client_report, record
from tests.aftercare.helpers import check_ins, recorded_check_in, relapsed
from tests.ccplan.helpers import signed_plan as signed_care_plan
from tests.clients_helpers import NOW, TODAY, admitted
from tests.factories import PASSWORD
from tests.mar.helpers import TZ
from tests.mar.helpers import order as placed_order
from tests.notes.helpers import dap, session_with_note
from tests.plans.helpers import signed_plan
from tests.screens.helpers import recorded as screened

PURPOSE = "Court review"
NOTICE = "42 CFR part 2"


def frozen(at: datetime = NOW):
    return time_machine.travel(at, tick=False)


# ---------------------------------------------------------------------------------------------
# Printing and reading


def print_report(kind, client, by, *, episode=None, period=(None, None), at=NOW, **fields):
    """Draft, render and record a report as the view does; returns (record, bytes)."""
    episode = episode or client_report.latest_episode(client)
    row = record.draft(
        kind=kind,
        generated_at=at,
        by=by,
        client_id=client.id,
        episode_id=episode.id if episode else None,
        period=period,
        purpose=fields.pop("purpose", PURPOSE),
        recipient=fields.pop("recipient", ""),
    )
    data = record.produce(db.session, row)
    db.session.commit()
    return row, data


def render(kind, client, by, *, episode=None, period=(None, None), at=NOW) -> bytes:
    """Render without recording (what `record.check` does)."""
    episode = episode or client_report.latest_episode(client)
    row = record.draft(
        kind=kind,
        generated_at=at,
        by=by,
        client_id=client.id,
        episode_id=episode.id if episode else None,
        period=period,
        purpose=PURPOSE,
    )
    return record.RENDERERS[kind](db.session, row)[0]


def reader(data: bytes) -> PdfReader:
    return PdfReader(io.BytesIO(data))


def page_texts(data: bytes) -> list[str]:
    """Each page's text, whitespace collapsed (extraction breaks wrapped lines anywhere)."""
    with warnings.catch_warnings():
        # pypdf notes fonts it cannot map fully; the text we check is still extracted.
        warnings.filterwarnings("ignore", module="pypdf")
        return [" ".join((page.extract_text() or "").split()) for page in reader(data).pages]


def text(data: bytes) -> str:
    return " ".join(page_texts(data))


def assert_framed(data: bytes, client=None) -> list[str]:
    """Every page: the Part 2 notice, "Page n of N" and (given) the client's name and MRN;
    returns the pages' text."""
    pages = page_texts(data)
    assert data.startswith(b"%PDF-")
    label = (
        f"{client.legal_last_name}, {client.legal_first_name} · MRN {client.mrn}" if client else ""
    )
    for number, page in enumerate(pages, start=1):
        assert NOTICE in page, number
        assert f"Page {number} of {len(pages)}" in page, number
        assert label in page, number
    return pages


# ---------------------------------------------------------------------------------------------
# Staff and clients


def staff(make) -> SimpleNamespace:
    return SimpleNamespace(
        manager=make.user(Role.CLINIC_MANAGER, full_name="Morgan Manager", credentials="MSW"),
        counselor=make.user(Role.COUNSELOR, full_name="Casey Counselor", credentials="LADC"),
        nurse=make.user(Role.NURSE, full_name="Nora Nurse", credentials="RN"),
        witness=make.user(Role.NURSE, full_name="Wes Witness", credentials="LPN"),
        physician=make.user(Role.PHYSICIAN, full_name="Pat Physician", credentials="MD"),
    )


def client_in(team, phase: Phase, **face_sheet):
    """A client admitted 1 November whose episode reached `phase` (see admitted())."""
    with frozen():
        return admitted(team.manager, team.counselor, phase, **face_sheet)


def items_for(instrument, total: int) -> dict[str, int]:
    """Item scores adding up to `total` (largest items first)."""
    items, left = {}, total
    for item in sorted(instrument.items, key=lambda i: -i.max_score):
        value = max(v for v in item.allowed if v <= left)
        items[item.key], left = value, left - value
    assert left == 0, total
    return items


def assess(episode, nurse, totals, *, instrument="cows", last: datetime = NOW, hours: int = 4):
    """Assessments every `hours` hours ending at `last`, with these totals in order."""
    scale = COWS if instrument == "cows" else CIWA_AR
    first = last - timedelta(hours=hours * (len(totals) - 1))
    for index, total in enumerate(totals):
        at = first + timedelta(hours=hours * index)
        entry = detox.AssessmentEntry(
            instrument,
            items_for(scale, total),
            at,
            backdate_reason="" if at == NOW else "Entered from the paper flowsheet",
        )
        detox.record_assessment(db.session, episode, entry, nurse=nurse, now=NOW)
    db.session.commit()


def dose(order, nurse, slot: datetime, outcome=Outcome.GIVEN, witness=None):
    entry = mar.DoseEntry(
        scheduled_at=slot,
        given_at=slot,
        outcome=outcome,
        dose=format(order.dose, "f") if outcome is Outcome.GIVEN else "",
        reason="" if outcome is Outcome.GIVEN else "Client declined",
        note="Charted late in the test.",
        witness_login=witness.login if witness else "",
        witness_password=PASSWORD if witness else "",
    )
    mar.give_dose(db.session, order, entry, nurse=nurse, now=NOW, tz=TZ)
    db.session.commit()


def local(day: date, hour: int) -> datetime:
    return datetime.combine(day, time(hour), tzinfo=TZ).astimezone(UTC)


def signed_note(episode, author, *, day: date = TODAY, **sections):
    content = dap(sections={**dap().sections, **sections}) if sections else None
    _, note = session_with_note(episode, author, day=day, content=content)
    notes.sign(db.session, note, PASSWORD, actor=author, now=NOW)
    db.session.commit()
    return note


def draft_note(episode, author, *, day: date = TODAY, **sections):
    content = dap(sections={**dap().sections, **sections})
    return session_with_note(episode, author, day=day, content=content)[1]


def detox_client(team, **face_sheet):
    """In detox since 2 November: COWS 8, 22, 14 (peak 22), CIWA-Ar 9; methadone since the
    24th with doses given, refused and held; no clearance yet."""
    person, episode = client_in(team, Phase.DETOX, **face_sheet)
    with frozen():
        assess(episode, team.nurse, [8, 22, 14])
        assess(episode, team.nurse, [9], instrument="ciwa_ar", last=NOW - timedelta(hours=1))
        methadone = placed_order(
            episode,
            team.physician,
            times="08:00, 20:00",
            starts_at=local(date(2026, 11, 24), 0),
        )
        dose(methadone, team.nurse, local(date(2026, 11, 24), 8), witness=team.witness)
        dose(methadone, team.nurse, local(date(2026, 11, 24), 20), Outcome.REFUSED)
        dose(methadone, team.nurse, local(TODAY, 8), Outcome.HELD)
    return person, episode


def rehab_client(team, **face_sheet):
    """In rehab since 3 November with a signed plan, two signed notes, a draft note and two
    screens (one positive for fentanyl)."""
    person, episode = client_in(team, Phase.REHAB, **face_sheet)
    with frozen():
        signed_plan(episode, team.counselor)
        signed_note(
            episode, team.counselor, day=date(2026, 11, 10), assessment="Steady progress in rehab."
        )
        signed_note(episode, team.counselor, day=date(2026, 11, 20))
        draft_note(
            episode, team.counselor, day=date(2026, 11, 21), assessment="UNSIGNED DRAFT TEXT zebra"
        )
        screened(episode, team.nurse, now=NOW, collected_at=local(date(2026, 11, 12), 9))
        screened(
            episode,
            team.nurse,
            now=NOW,
            collected_at=local(date(2026, 11, 19), 9),
            results={"fentanyl": "positive"},
            action_taken="Discussed with the client; sessions increased.",
        )
    return person, episode


def aftercare_client(team, **face_sheet):
    """In aftercare since 4 November (weekly check-ins from the 11th): a signed continuing-care
    plan, the 11 November check-in reached and the 18th missed, a lapse on the 20th."""
    person, episode = client_in(team, Phase.AFTERCARE, **face_sheet)
    with frozen():
        signed_care_plan(episode, team.counselor)
        rows = check_ins(episode)
        recorded_check_in(rows[0], team.counselor, at=local(date(2026, 11, 11), 10))
        recorded_check_in(rows[1], team.counselor, at=local(date(2026, 11, 18), 10), reached=False)
        relapsed(episode, team.counselor, date(2026, 11, 20), today=TODAY)
    return person, episode


def discharged_client(team, **face_sheet):
    """A rehab client discharged on 25 November, treatment completed."""
    person, episode = rehab_client(team, **face_sheet)
    with frozen():
        details = episodes.DischargeDetails(
            last_contact_on=TODAY,
            discharged_on=TODAY,
            reason_code="1",
            use_frequency="1",
            employment="part_time",
            living_arrangement="independent",
            arrests_30d=0,
            self_help="3",
            note="Completed residential treatment; steps down to IOP.",
        )
        episodes.discharge(db.session, episode, details, actor=team.counselor, now=NOW, today=TODAY)
        db.session.commit()
    return person, episode

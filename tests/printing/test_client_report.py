"""The client progress report and the discharge summary, read back with pypdf: a client in
every phase, one with no records at all, drafts never printed, nobody else's records, the
print recorded and audited, and a fixed number of queries however long the record."""

from datetime import date, timedelta

import pytest
import sqlalchemy as sa

from casemgr.admin.settings import all_settings
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.clients.models import Client
from casemgr.domain.phases import Phase
from casemgr.episodes.models import Episode
from casemgr.extensions import db
from casemgr.printing import record
from casemgr.printing.models import PrintedReport
from casemgr.printing.pdf import sha256
from tests.clients_helpers import NOW, TODAY
from tests.printing.helpers import (
    PURPOSE,
    aftercare_client,
    assert_framed,
    client_in,
    detox_client,
    discharged_client,
    frozen,
    print_report,
    reader,
    rehab_client,
    render,
    signed_note,
    staff,
    text,
)


@pytest.fixture
def team(make):
    return staff(make)


def progress_text(person, team, **kwargs) -> tuple[str, list[str]]:
    _, data = print_report("progress", person, team.manager, **kwargs)
    pages = assert_framed(data, person)
    return " ".join(pages), pages


@pytest.mark.parametrize(
    ("build", "phase"),
    [
        (lambda team: client_in(team, Phase.INTAKE), "Current phase Intake since 2026-11-01"),
        (detox_client, "Current phase Detox since 2026-11-02"),
        (rehab_client, "Current phase Rehab since 2026-11-03"),
        (aftercare_client, "Current phase Aftercare since 2026-11-04"),
        (discharged_client, "Phase Discharged on 2026-11-25"),
    ],
    ids=["intake", "detox", "rehab", "aftercare", "discharged"],
)
def test_every_phase_prints_the_client_and_their_phase_on_framed_pages(team, build, phase):
    person, _ = build(team)
    body, pages = progress_text(person, team)  # name, MRN, notice, page n of N on each page
    assert pages[0].startswith("Client progress report")
    assert f"Page 1 of {len(pages)}" in pages[0]
    assert "Client Rivers, Dana" in body and f"MRN {person.mrn}" in body and phase in body


def test_intake_client_with_no_records_still_prints_every_section(team):
    person, _ = client_in(team, Phase.INTAKE, legal_first_name="Ines", legal_last_name="Quiet")
    body, pages = progress_text(person, team)
    assert len(pages) >= 1
    for fact in ("Quiet, Ines", person.mrn, "1990-04-02", "2026-11-01 to 2026-11-25", "Intake"):
        assert fact in body
    assert "Generated 2026-11-25 10:00 EST" in body
    assert "Morgan Manager, MSW" in body and f"Purpose {PURPOSE}" in body
    for line in (
        "No withdrawal assessments in this period.",
        "No medication orders in this period.",
        "No medical clearance recorded in this period.",
        "No signed treatment plan by the end of this period.",
        "No sessions in this period.",
        "No drug screens in this period.",
        "No signed continuing-care plan by the end of this period.",
        "No check-ins due in this period.",
        "No relapse events in this period.",
        "no sobriety date is derived",
        "No signed notes in this period.",
    ):
        assert line in body, line
    assert "Prepared by Morgan Manager, MSW" in body


def test_a_client_never_admitted_prints_the_face_sheet(team, make):
    from casemgr.clients import services as clients
    from tests.clients_helpers import sheet

    person = clients.register(
        db.session, sheet(legal_first_name="Never"), actor=team.manager, today=TODAY
    )
    db.session.commit()
    body, _ = progress_text(person, team)
    assert "Rivers, Never" in body and "No treatment episode on record." in body


def test_detox_client_shows_scores_bands_chart_and_doses(team):
    person, _ = detox_client(team, legal_first_name="Dora")
    body, _ = progress_text(person, team)
    assert "Rivers, Dora" in body and person.mrn in body
    assert "Current phase Detox since 2026-11-02" in body
    # COWS first 8 (mild) at 02:00, peak 22 (moderate), last 14; CIWA-Ar one score of 9.
    assert "COWS 3 8 (Mild), 2026-11-25 02:00 EST 22 (Moderate)" in body
    assert "14 (Moderate), 2026-11-25 10:00 EST" in body
    assert "CIWA-Ar 1 9 (Moderate)" in body
    assert "Clinical Opiate Withdrawal Scale" in body or "COWS" in body  # the chart's panel
    assert "Methadone 30 mg oral, 08:00, 20:00" in body
    assert "Ordered by Pat Physician, MD" in body
    assert "Doses recorded in the period: 1 given, 1 held, 1 refused, 0 missed." in body
    assert "No medical clearance recorded in this period." in body


def test_rehab_client_shows_plan_notes_screens_and_attendance(team):
    person, _ = rehab_client(team, legal_first_name="Remy")
    body, _ = progress_text(person, team)
    assert "Current phase Rehab since 2026-11-03" in body
    assert "Detox 2026-11-02 2026-11-03 2" in body  # the phase history
    assert "Version 1, signed 2026-11-25 10:00 EST" in body
    assert "Name three triggers, objective 1.1.1 2026-12-20 Not started" in body
    assert "Steady progress in rehab." in body  # a signed note's assessment section
    assert "2026-11-10 · Individual counseling · DAP · Casey Counselor, LADC" in body
    assert "2 screens in the period: 1 negative, 1 positive." in body
    assert "Fentanyl" in body and "sessions increased" in body
    assert "Individual counseling 3 3 0 0 150" in body  # the draft's session still counts
    assert "3 of 3 attended" in body  # the attendance chart


def test_drafts_are_never_printed(team):
    person, _ = rehab_client(team)
    body, _ = progress_text(person, team)
    assert "zebra" not in body and "UNSIGNED DRAFT TEXT" not in body
    assert "2026-11-21 ·" not in body  # the draft's session has no narrative entry


def test_aftercare_client_shows_plan_check_ins_relapse_and_sobriety(team):
    person, _ = aftercare_client(team, legal_first_name="Alma")
    body, _ = progress_text(person, team)
    assert "Current phase Aftercare since 2026-11-04" in body
    assert "Intensive outpatient (IOP)" in body and "Old friends 1" in body
    assert "NA group 1" in body and "twice a week" in body
    assert "Buprenorphine" in body and "Dr. Pat Reyes" in body
    assert "3 check-ins due in the period: 1 reached, 1 missed, 1 due." in body
    assert "2026-11-20 Lapse Alcohol Not recorded Increased sessions" in body
    assert "Sobriety date: 2026-11-21 (4 days as of 2026-11-25)" in body


def test_sober_supports_print_without_their_contact_details(team):
    from casemgr.aftercare import plans
    from casemgr.domain import continuing_care as cc
    from tests.ccplan.helpers import draft_plan, sign

    person, episode = client_in(team, Phase.AFTERCARE)
    with frozen():
        plan = draft_plan(episode, team.counselor)
        plans.add_item(db.session, plan, cc.Support("sponsor", "Sam S.", "daily", True, "555-0199"))
        sign(plan, team.counselor)
    body, _ = progress_text(person, team)
    assert "Sam S. Sponsor daily" in body and "555-0199" not in body


def test_discharged_client_gets_a_progress_report_and_a_discharge_summary(team):
    person, episode = discharged_client(team, legal_first_name="Dee")
    body, _ = progress_text(person, team)
    assert "Phase Discharged on 2026-11-25" in body
    row, data = print_report("discharge", person, team.manager, episode=episode)
    assert row.period_start is None  # the renderer derives the episode's span itself
    summary = " ".join(assert_framed(data, person))
    assert summary.startswith("Discharge summary")
    assert "Rivers, Dee" in summary and person.mrn in summary
    assert "Reason (TEDS) 1 — Treatment completed" in summary
    assert "Length of stay 25 days" in summary
    assert "Completed residential treatment; steps down to IOP." in summary
    assert "Sessions attended 3 of 3 scheduled" in summary and "Drug screens 2" in summary
    assert (
        "Use of the primary substance, past 30 days Heroin: Daily No use in the past month"
        in summary
    )
    assert "Employment Not recorded at intake Employed part time" in summary
    assert "Self-help attendance, past 30 days Not recorded at intake 4–7 times" in summary
    assert "Continuing-care plan and referrals" in summary
    assert "zebra" not in summary


def test_discharge_summary_lists_the_continuing_care_referrals(team):
    from casemgr.episodes import services as episodes

    person, episode = aftercare_client(team)
    with frozen():
        details = episodes.DischargeDetails(
            TODAY, TODAY, "4", "2", "full_time", "dependent", 1, "2", note="To County IOP."
        )
        episodes.discharge(db.session, episode, details, actor=team.counselor, now=NOW, today=TODAY)
        db.session.commit()
    _, data = print_report("discharge", person, team.manager)
    summary = " ".join(assert_framed(data))
    assert "4 — Transferred to another program or facility" in summary
    assert "Continuing care Intensive outpatient (IOP), 2.1 — Intensive Outpatient" in summary
    assert "12-step group (NA/AA) NA group 1" in summary
    assert "Arrests, past 30 days Not recorded at intake 1" in summary


def test_another_clients_records_never_appear(team):
    person, _ = rehab_client(team, legal_first_name="Mine")
    other, episode = rehab_client(team, legal_first_name="Zelda", legal_last_name="Elsewhere")
    with frozen():
        signed_note(episode, team.counselor, day=date(2026, 11, 11), assessment="ELSEWHERE-ONLY")
    body, _ = progress_text(person, team)
    assert "Elsewhere" not in body and "Zelda" not in body and other.mrn not in body
    assert "ELSEWHERE-ONLY" not in body


def test_the_period_limits_what_is_printed(team):
    person, episode = rehab_client(team)
    body, _ = progress_text(person, team, period=(date(2026, 11, 15), date(2026, 11, 20)))
    assert "2026-11-15 to 2026-11-20" in body
    assert "Steady progress in rehab." not in body  # the 10 November note
    assert "2026-11-20 · Individual counseling" in body
    assert "1 screen in the period: 1 positive." in body
    assert "Days in treatment 20 (to 2026-11-20)" in body


def test_the_print_is_recorded_and_audited(team):
    person, episode = rehab_client(team)
    row, data = print_report("progress", person, team.manager, recipient="County Drug Court")
    stored = db.session.scalar(sa.select(PrintedReport).where(PrintedReport.id == row.id))
    assert stored.sha256 == sha256(data) and stored.size_bytes == len(data)
    assert stored.pages == len(reader(data).pages)
    assert (stored.client_id, stored.episode_id) == (person.id, episode.id)
    assert (stored.purpose, stored.recipient) == (PURPOSE, "County Drug Court")
    event = db.session.scalar(sa.select(AuditEvent).where(AuditEvent.action == "report.printed"))
    assert event.client_id == person.id and stored.sha256 in event.detail
    assert "County Drug Court" in text(data)


def test_the_same_records_give_the_same_bytes(team):
    person, _ = rehab_client(team)
    first = render("progress", person, team.manager)
    assert render("progress", person, team.manager) == first
    row, data = print_report("progress", person, team.manager)
    assert sha256(data) == sha256(first)
    row_id = row.id
    db.session.expunge_all()  # a later check reads everything back from the database
    assert record.check(db.session, db.session.get(PrintedReport, row_id))


def test_a_new_signed_note_in_the_period_changes_the_hash(team):
    person, episode = rehab_client(team)
    row, before = print_report("progress", person, team.manager)
    with frozen():
        signed_note(episode, team.counselor, day=date(2026, 11, 22), assessment="A late entry.")
    assert not record.check(db.session, row)
    assert render("progress", person, team.manager) != before


def test_a_note_after_the_period_leaves_the_hash_alone(team):
    person, episode = rehab_client(team)
    period = (date(2026, 11, 1), date(2026, 11, 20))
    row, _ = print_report("progress", person, team.manager, period=period)
    with frozen():
        signed_note(episode, team.counselor, day=date(2026, 11, 23))
    assert record.check(db.session, row)


def test_the_generation_time_and_author_are_part_of_the_record(team):
    person, _ = rehab_client(team)
    first = render("progress", person, team.manager)
    assert render("progress", person, team.manager, at=NOW + timedelta(seconds=1)) != first
    assert render("progress", person, team.counselor) != first


def _count(count_queries, client_id: int, user_id: int) -> int:
    db.session.expunge_all()
    person, user = db.session.get(Client, client_id), db.session.get(User, user_id)
    episode = db.session.get(Episode, person.episodes[-1].id)
    all_settings(db.session)  # per-request cache: the record's facility name is read once
    with count_queries() as counter:
        render("progress", person, user, episode=episode)
    return counter.count


def test_the_progress_report_takes_a_fixed_number_of_queries(team, count_queries):
    few, _ = rehab_client(team, legal_first_name="Few")
    many, episode = rehab_client(team, legal_first_name="Many")
    with frozen():
        for offset in range(18):
            signed_note(episode, team.counselor, day=date(2026, 11, 1) + timedelta(days=offset))
    ids = (few.id, many.id, team.manager.id)
    assert _count(count_queries, ids[0], ids[2]) == _count(count_queries, ids[1], ids[2])


def test_renaming_the_facility_later_keeps_old_prints_verifiable(team):
    from casemgr.admin import settings

    person, _ = rehab_client(team)
    row, _ = print_report("progress", person, team.manager)
    row_id = row.id
    settings.put(db.session, settings.FACILITY_NAME, "Renamed Recovery Center")
    db.session.commit()
    db.session.expunge_all()
    assert record.check(db.session, db.session.get(PrintedReport, row_id))

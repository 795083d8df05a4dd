"""What staff documented during an episode: withdrawal monitoring and doses, the treatment
plan, sessions and their notes, drug screens, aftercare check-ins and relapses.

Scores, hashes and schedules come from the app's own functions (withdrawal scoring, the
note and plan content hashes, the aftercare schedule), so the pages and the integrity checks
read bench rows exactly as they read rows the app wrote.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, date, datetime, time, timedelta

from ..domain import aftercare as aftercare_rules
from ..domain.notes import PROMPTS, NoteFormat, content_hash, is_late
from ..domain.phases import Phase
from ..domain.plans import review_due
from ..domain.withdrawal import COWS, pulse_score, score_cows
from . import vocab
from .timeline import Context, EpisodePlan, Stay

ASSESS_EVERY = timedelta(hours=4)
MOUD = {  # formulary code: (dose in thousandths of a mg, times, route)
    "methadone": (40000, (time(8, 0),), "oral"),
    "buprenorphine": (8000, (time(8, 0), time(20, 0)), "sublingual"),
}
# Sessions per day in each phase, by kind; tuned so a client averages about 20 notes.
RATES = {
    Phase.REHAB: (("individual", 0.14), ("group", 0.14), ("family", 0.012), ("case_management", 0.016)),
    Phase.AFTERCARE: (("individual", 0.024), ("group", 0.016), ("case_management", 0.004)),
}  # fmt: skip
_COUNSELING_FORMATS = (NoteFormat.DAP, NoteFormat.SOAP, NoteFormat.BIRP)


def document(
    rng: random.Random, ctx: Context, rows, client_id: int, episode: EpisodePlan, substance: str
) -> None:
    detox = episode.stay(Phase.DETOX)
    if detox is not None:
        Detox(rng, ctx, rows, episode).add(detox)
    notes = Notes(rng, ctx, rows, client_id, episode)
    if detox is not None:
        notes.nursing(detox)
    rehab = episode.stay(Phase.REHAB)
    if rehab is not None:
        add_plan(rng, ctx, rows, client_id, episode, rehab)
        notes.enrol(rehab)
        notes.counseling(rehab)
        add_screens(rng, ctx, rows, episode, rehab, every_days=21)
    aftercare = episode.stay(Phase.AFTERCARE)
    if aftercare is not None:
        notes.counseling(aftercare)
        add_screens(rng, ctx, rows, episode, aftercare, every_days=90)
        add_check_ins(rng, ctx, rows, episode, aftercare)
        add_continuing_care_plan(rng, ctx, rows, client_id, episode, aftercare)
        if rng.random() < 0.10:
            add_relapse(rng, ctx, rows, episode, aftercare, substance)


def _last_day(ctx: Context, stay: Stay) -> date:
    """The stay's last documented day: the day before it ended, or yesterday."""
    end = stay.end if stay.end is not None else ctx.today
    return max(stay.start, end - timedelta(days=1))


# --- detox ---------------------------------------------------------------------------------


class Detox:
    """COWS every four hours with vitals, and a witnessed MOUD dose at each scheduled time.

    A client in detox now has the full record; an earlier stay keeps its first and last
    assessment (the clearance quotes the last) and its order, without each dose.
    """

    def __init__(self, rng: random.Random, ctx: Context, rows, episode: EpisodePlan):
        self.rng, self.ctx, self.rows, self.episode = rng, ctx, rows, episode

    def add(self, stay: Stay) -> None:
        ctx, episode = self.ctx, self.episode
        begins = ctx.at(stay.start, 9, 30)
        current = episode.phase is Phase.DETOX
        # An earlier stay ends at 08:00 on its last day: clearance at 09:00, move at 10:00.
        ends = ctx.now if current else ctx.at(stay.end, 8)
        times = _every(begins, ends, ASSESS_EVERY)
        if not current:
            times = [times[0], times[-1]] if len(times) > 1 else times
        span = max((ends - begins).total_seconds(), 1.0)
        last_total = None
        for at in times:
            last_total = self._assessment(at, (at - begins).total_seconds() / span, current)
        self._order(begins, ends, current)
        if not current and episode.stays[-1].phase is not Phase.DETOX:
            self._clearance(stay, last_total)

    def _assessment(self, at: datetime, progress: float, current: bool) -> int:
        rng = self.rng
        severity = max(0.0, 0.45 * (1 - progress) + rng.uniform(-0.08, 0.08))
        if not current and progress >= 1:
            severity = min(severity, 0.05)
        heart_rate = int(72 + 55 * severity + rng.randint(-6, 6))
        items = {"resting_pulse": pulse_score(heart_rate)}
        for item in COWS.items[1:]:
            allowed = item.allowed
            index = round(severity * (len(allowed) - 1) * 1.6 + rng.uniform(-0.6, 0.6))
            items[item.key] = allowed[min(max(index, 0), len(allowed) - 1)]
        score = score_cows(items)
        self.rows.add("withdrawal_assessments", {
            "id": self.ctx.ids.take("withdrawal_assessments"),
            "episode_id": self.episode.id,
            "instrument": "cows",
            "items_json": json.dumps(items, sort_keys=True, separators=(",", ":")),
            "total": score.total,
            "band": str(score.band),
            "assessed_at": at,
            "recorded_at": at + timedelta(minutes=5),
            "nurse_id": self.episode.nurse.id,
            "reason": "scheduled",
            "backdate_reason": "",
            "systolic": rng.randint(112, 150), "diastolic": rng.randint(70, 95),
            "heart_rate": heart_rate, "respiratory_rate": rng.randint(14, 20),
            "temperature_c": round(rng.uniform(36.4, 37.6), 1), "spo2": rng.randint(95, 100),
            "pain": min(10, int(10 * severity) + rng.randint(0, 2)),
            "voided_at": None, "void_reason": "", "voided_by_id": None,
            "created_at": at + timedelta(minutes=5), "updated_at": at + timedelta(minutes=5),
        })  # fmt: skip
        return score.total

    def _order(self, begins: datetime, ends: datetime, current: bool) -> None:
        ctx, episode = self.ctx, self.episode
        code = "methadone" if episode.id % 10 < 7 else "buprenorphine"
        dose, times, route = MOUD[code]
        order_id = ctx.ids.take("medication_orders")
        starts = begins + timedelta(minutes=30)
        self.rows.add("medication_orders", {
            "id": order_id, "episode_id": episode.id, "drug_id": ctx.drugs[code],
            "dose_milli": dose, "unit": "mg", "route": route,
            "times": ", ".join(t.strftime("%H:%M") for t in times),
            "prn": False, "prn_indication": "", "prn_min_hours": None, "max_daily_milli": None,
            "indication": "Opioid withdrawal", "starts_at": starts, "stops_at": None,
            "ordered_by_id": episode.physician.id, "entered_by_id": episode.physician.id,
            "verbal": False, "cosigned_at": None,
            "discontinued_at": None if current else ends,
            "discontinued_by_id": None if current else episode.physician.id,
            "discontinue_reason": "" if current else "Detox completed",
            "version": 1, "created_at": starts, "updated_at": starts if current else ends,
        })  # fmt: skip
        if current:
            self._doses(order_id, dose, times, starts)

    def _doses(self, order_id: int, dose: int, times, starts: datetime) -> None:
        ctx, episode = self.ctx, self.episode
        nurses = episode.site.of("nurse")  # two at least: someone else witnesses
        witness = next(n for n in nurses if n.id != episode.nurse.id)
        day = starts.astimezone(ctx.tz).date()
        while day <= ctx.today:
            for t in times:
                slot = datetime.combine(day, t, tzinfo=ctx.tz).astimezone(UTC)
                given = slot + timedelta(minutes=self.rng.randint(0, 20))
                if slot < starts or given > ctx.now:
                    continue
                self.rows.add("medication_administrations", {
                    "id": ctx.ids.take("medication_administrations"),
                    "order_id": order_id, "episode_id": episode.id,
                    "scheduled_at": slot, "given_at": given, "recorded_at": given,
                    "dose_milli": dose, "outcome": "given", "reason": "", "note": "",
                    "nurse_id": episode.nurse.id, "witness_id": witness.id,
                    "override_reason": "", "override_physician_id": None,
                    "voided_at": None, "void_reason": "", "voided_by_id": None,
                })  # fmt: skip
            day += timedelta(days=1)

    def _clearance(self, stay: Stay, last_total: int | None) -> None:
        cleared = self.ctx.at(stay.end, 9)
        self.rows.add("medical_clearances", {
            "id": self.ctx.ids.take("medical_clearances"),
            "episode_id": self.episode.id,
            "cleared_at": cleared,
            "by_id": self.episode.physician.id,
            "note": "Withdrawal resolved; medically cleared for rehab.",
            "last_cows_total": last_total,
            "last_ciwa_total": None,
        })  # fmt: skip


def _every(start: datetime, end: datetime, step: timedelta) -> list[datetime]:
    found, at = [], start
    while at <= end:
        found.append(at)
        at += step
    return found or [start]


# --- sessions and notes --------------------------------------------------------------------


class Notes:
    """Sessions (individual, family, case management, group seats, nursing) and their notes.

    Notes are written within the hour and signed by their author; notes of the last two days
    are sometimes still drafts. The signature hash is the app's own (`content_hash` over the
    same content `notes.services.signed_content` builds), so verification passes.
    """

    def __init__(self, rng: random.Random, ctx: Context, rows, client_id: int, episode):
        self.rng, self.ctx, self.rows = rng, ctx, rows
        self.client_id, self.episode = client_id, episode
        self.group = ctx.network.group_of(episode.counselor_index)
        self.taken_meetings: set[int] = set()

    def nursing(self, stay: Stay) -> None:
        day, last = stay.start, _last_day(self.ctx, stay)
        while day <= last:
            self._session(day, time(19, 0), 20, "nursing", NoteFormat.NURSING, self.episode.nurse)
            day += timedelta(days=1)

    def enrol(self, stay: Stay) -> None:
        ended = self.episode.discharged_on
        self.rows.add("group_enrollments", {
            "id": self.ctx.ids.take("group_enrollments"),
            "group_id": self.ctx.network.group_ids[self.group],
            "episode_id": self.episode.id,
            "enrolled_on": stay.start,
            "ended_on": ended,
            "created_at": self.ctx.at(stay.start, 11),
        })  # fmt: skip

    def counseling(self, stay: Stay) -> None:
        last = _last_day(self.ctx, stay)
        days = (last - stay.start).days + 1
        if stay.end is None and stay.start >= self.ctx.today:
            return
        for kind, rate in RATES[stay.phase]:
            count = _poisson_ish(self.rng, rate * days)
            for offset in sorted(self.rng.sample(range(days), min(count, days))):
                self._one(kind, stay.start + timedelta(days=offset), stay.start)

    def _one(self, kind: str, day: date, stay_start: date) -> None:
        counselor = self.episode.counselor
        if kind == "group":
            self._seat(day, stay_start)
        elif kind == "case_management":
            self._session(day, time(11, 0), 30, kind, NoteFormat.CASE_MANAGEMENT, counselor)
        else:
            fmt = _COUNSELING_FORMATS[self.episode.counselor_index % 3]
            hour = 9 + self.episode.id % 6
            self._session(day, time(hour, 0), 50, kind, fmt, counselor)

    def _seat(self, day: date, not_before: date) -> None:
        network = self.ctx.network
        meeting_id = network.meeting(self.group, day)
        meeting_day = network.meeting_date(self.group, day)
        if meeting_id is None or meeting_id in self.taken_meetings:
            return
        if not not_before <= meeting_day < self.ctx.today:
            return
        if self.episode.discharged_on and meeting_day > self.episode.discharged_on:
            return
        self.taken_meetings.add(meeting_id)
        lead = network.group_leads[self.group]
        self._session(meeting_day, time(13, 0), 90, "group", NoteFormat.GROUP, lead, meeting_id)

    def _session(self, day, start, minutes, kind, fmt, staff, meeting_id=None) -> None:
        ctx, rng = self.ctx, self.rng
        end = (datetime.combine(day, start) + timedelta(minutes=minutes)).time()
        ended_at = ctx.at(day, end.hour, end.minute)
        if ended_at > ctx.now:
            return
        attendance = "no_show" if rng.random() < 0.04 else "attended"
        session_id = ctx.ids.take("clinical_sessions")
        visit = {
            "id": session_id, "episode_id": self.episode.id, "group_meeting_id": meeting_id,
            "session_date": day, "start_time": start, "end_time": end,
            "session_type": kind, "alternative_kind": "", "setting": "on_site", "location": "",
            "staff_id": staff.id, "attendance": attendance,
            "minutes_attended": minutes if attendance == "attended" else 0,
            "created_by_id": staff.id, "created_at": ended_at, "updated_at": ended_at,
        }  # fmt: skip
        self.rows.add("clinical_sessions", visit)
        if attendance == "attended":
            self._note(visit, fmt, staff, ended_at)

    def _note(self, visit: dict, fmt: NoteFormat, author, ended_at: datetime) -> None:
        ctx, rng = self.ctx, self.rng
        written = min(ended_at + timedelta(minutes=rng.randint(10, 50)), ctx.now)
        signed_at = written + timedelta(minutes=rng.randint(1, 15))
        draft = signed_at > ctx.now or (
            (ctx.today - visit["session_date"]).days <= 2 and rng.random() < 0.4
        )
        sections_json, sections = _sections(rng, fmt)
        note = {
            "id": ctx.ids.take("notes"), "session_id": visit["id"], "author_id": author.id,
            "format": fmt.value, "sections_json": sections_json,
            "cravings": rng.randint(0, 6), "use_since_last": "none", "triggers": "",
            "screen_reviewed": False,
            "medication_adherence": "adherent" if fmt is NoteFormat.NURSING else "na",
            "sober_supports": "", "meetings_attended": None, "safety_risk": "none",
            "status": "draft", "late_entry": is_late(ended_at, written), "needs_cosign": False,
            "signed_at": None, "signed_by_id": None, "signer_name": "", "signer_credentials": "",
            "content_sha256": "", "cosigned_at": None, "cosigned_by_id": None,
            "cosigner_name": "", "cosigner_credentials": "", "version": 1,
            "created_at": written, "updated_at": written,
        }  # fmt: skip
        if not draft:
            note.update(status="signed", signed_at=signed_at, signed_by_id=author.id,
                        signer_name=author.full_name, signer_credentials=author.credentials,
                        updated_at=signed_at)  # fmt: skip
            content = signed_content(self.client_id, visit, note, sections)
            note["content_sha256"] = content_hash(content)
        self.rows.add("notes", note)


def signed_content(client_id: int, visit: dict, note: dict, sections: dict) -> dict:
    """`casemgr.notes.services.signed_content` for rows not yet in the database (no objectives
    are linked to bench notes)."""
    return {
        "note_id": note["id"],
        "client_id": client_id,
        "episode_id": visit["episode_id"],
        "session": {
            "date": visit["session_date"].isoformat(),
            "start": _hhmm(visit["start_time"]),
            "end": _hhmm(visit["end_time"]),
            "type": visit["session_type"],
            "setting": visit["setting"],
            "attendance": visit["attendance"],
            "minutes_attended": visit["minutes_attended"],
        },
        "author_id": note["author_id"],
        "format": note["format"],
        "sections": sections,
        "prompts": {name: note[name] for name in PROMPTS},
        "objectives": [],
        "late_entry": note["late_entry"],
        "signer": {
            "id": note["signed_by_id"],
            "name": note["signer_name"],
            "credentials": note["signer_credentials"],
            "at": note["signed_at"].isoformat(timespec="seconds"),
        },
    }


_SECTION_TEXTS = {
    NoteFormat.DAP: (("data", vocab.REPORTS), ("assessment", vocab.ASSESSMENTS),
                     ("plan", vocab.PLANS)),
    NoteFormat.SOAP: (("subjective", vocab.REPORTS), ("objective", vocab.PRESENTATION),
                      ("assessment", vocab.ASSESSMENTS), ("plan", vocab.PLANS)),
    NoteFormat.BIRP: (("behavior", vocab.PRESENTATION), ("intervention", vocab.INTERVENTIONS),
                      ("response", vocab.RESPONSES), ("plan", vocab.PLANS)),
    NoteFormat.GROUP: (("participation", vocab.GROUP_PARTICIPATION),
                       ("progress", vocab.GROUP_PROGRESS)),
    NoteFormat.NURSING: (("note", vocab.NURSING),),
    NoteFormat.CASE_MANAGEMENT: (("note", vocab.CASE_MANAGEMENT),),
}  # fmt: skip
_SECTION_CACHE: dict[tuple, tuple[str, dict[str, str]]] = {}


def _sections(rng: random.Random, fmt: NoteFormat) -> tuple[str, dict[str, str]]:
    """The note's sections as stored (canonical JSON, as notes.services writes them) and as
    a dict. Texts are drawn from short lists, so each combination is encoded once."""
    parts = _SECTION_TEXTS[fmt]
    key = (fmt, *(rng.randrange(len(texts)) for _, texts in parts))
    if key not in _SECTION_CACHE:
        sections = {name: texts[i] for (name, texts), i in zip(parts, key[1:], strict=True)}
        _SECTION_CACHE[key] = (json.dumps(sections, sort_keys=True, ensure_ascii=False), sections)
    return _SECTION_CACHE[key]


_HHMM: dict[time, str] = {}


def _hhmm(value: time) -> str:
    if value not in _HHMM:
        _HHMM[value] = value.strftime("%H:%M")
    return _HHMM[value]


def _poisson_ish(rng: random.Random, mean: float) -> int:
    """A count around `mean` (uniform ±50 %), cheaper than a Poisson draw."""
    return int(mean * rng.uniform(0.5, 1.5) + rng.random())


# --- treatment plan ------------------------------------------------------------------------


def add_plan(rng, ctx: Context, rows, client_id: int, episode: EpisodePlan, rehab: Stay) -> None:
    """A signed treatment plan two days into rehab (a draft if that is still ahead): one
    problem, its goal, two objectives with an intervention each."""
    signed_on = rehab.start + timedelta(days=2)
    signed_at = ctx.at(signed_on, 16)
    signed = signed_at <= ctx.now and (rehab.end is None or signed_on < rehab.end)
    counselor = episode.counselor
    plan_id, problem_id = ctx.ids.take("treatment_plans"), ctx.ids.take("plan_problems")
    goal_id = ctx.ids.take("plan_goals")
    problem, goal = rng.choice(vocab.PROBLEMS)
    level = "2.1" if episode.id % 3 == 0 else "3.5"
    plan = {
        "id": plan_id, "episode_id": episode.id, "number": 1,
        "status": "signed" if signed else "draft", "strengths": rng.choice(vocab.STRENGTHS),
        "review_due_on": review_due(signed_on, level, {}) if signed else None,
        "created_by_id": counselor.id,
        "signed_at": signed_at if signed else None, "signed_by_id": counselor.id if signed else None,
        "signer_name": counselor.full_name if signed else "",
        "signer_credentials": counselor.credentials if signed else "",
        "client_agreed": signed, "client_agreed_on": signed_on if signed else None,
        "content_sha256": "", "supersedes_id": None, "version": 1,
        "created_at": ctx.at(rehab.start, 14), "updated_at": signed_at if signed else ctx.at(rehab.start, 14),
    }  # fmt: skip
    objectives = []
    for position, statement in enumerate(rng.sample(vocab.OBJECTIVES, 2), start=1):
        modality, frequency = vocab.MODALITIES[position - 1]
        objectives.append((
            {"id": ctx.ids.take("plan_objectives"), "goal_id": goal_id, "position": position,
             "statement": statement, "target_date": rehab.start + timedelta(days=30),
             "status": "in_progress", "lineage": f"{rng.getrandbits(128):032x}"},
            {"id": ctx.ids.take("plan_interventions"), "objective_id": None, "position": 1,
             "modality": modality, "frequency": frequency, "responsible_id": counselor.id},
        ))  # fmt: skip
    if signed:
        plan["content_sha256"] = content_hash(
            _plan_content(client_id, plan, problem, goal, objectives)
        )
    rows.add("treatment_plans", plan)
    rows.add(
        "plan_problems", {"id": problem_id, "plan_id": plan_id, "position": 1, "statement": problem}
    )
    rows.add(
        "plan_goals", {"id": goal_id, "problem_id": problem_id, "position": 1, "statement": goal}
    )
    for objective, intervention in objectives:
        intervention["objective_id"] = objective["id"]
        rows.add("plan_objectives", objective)
        rows.add("plan_interventions", intervention)


def _plan_content(client_id, plan, problem, goal, objectives) -> dict:
    """`casemgr.plans.content.signed_content` for rows not yet in the database."""
    return {
        "plan_id": plan["id"],
        "episode_id": plan["episode_id"],
        "client_id": client_id,
        "number": plan["number"],
        "supersedes_id": None,
        "strengths": plan["strengths"],
        "problems": [{"statement": problem, "goals": [{"statement": goal, "objectives": [
            {"lineage": o["lineage"], "statement": o["statement"],
             "target_date": o["target_date"].isoformat(), "status": o["status"],
             "interventions": [{"modality": i["modality"], "frequency": i["frequency"],
                                "responsible_id": i["responsible_id"]}]}
            for o, i in objectives]}]}],
        "review_due_on": plan["review_due_on"].isoformat(),
        "client_agreed": plan["client_agreed"],
        "client_agreed_on": plan["client_agreed_on"].isoformat(),
        "signer": {
            "id": plan["signed_by_id"],
            "name": plan["signer_name"],
            "credentials": plan["signer_credentials"],
            "at": plan["signed_at"].isoformat(timespec="seconds"),
        },
    }  # fmt: skip


# --- drug screens --------------------------------------------------------------------------

PANEL = ("opiates", "fentanyl", "cocaine", "methamphetamine")


def add_screens(rng, ctx: Context, rows, episode: EpisodePlan, stay: Stay, every_days: int) -> None:
    last = _last_day(ctx, stay)
    days = (last - stay.start).days + 1
    for offset in range(rng.randint(0, every_days - 1), days, every_days):
        at = ctx.at(stay.start + timedelta(days=offset), 8, 30)
        if at > ctx.now:
            break
        screen_id = ctx.ids.take("drug_screens")
        rows.add("drug_screens", {
            "id": screen_id, "episode_id": episode.id, "collected_at": at,
            "collector_id": episode.nurse.id, "specimen_type": "urine", "observed": True,
            "temperature_in_range": True, "adulterant_suspected": False, "refused": False,
            "action_taken": "", "comments": "", "voided_at": None, "void_reason": "",
            "voided_by_id": None, "created_at": at, "updated_at": at,
        })  # fmt: skip
        positive = rng.random() < 0.08
        for analyte in PANEL:
            result = "positive" if positive and analyte == "fentanyl" else "negative"
            rows.add("drug_screen_results", {
                "id": ctx.ids.take("drug_screen_results"), "screen_id": screen_id,
                "analyte": analyte, "result": result, "expected": False,
            })  # fmt: skip


# --- aftercare -----------------------------------------------------------------------------


def add_check_ins(rng, ctx: Context, rows, episode: EpisodePlan, stay: Stay) -> None:
    """The year the app schedules on entering aftercare (`domain.aftercare.schedule`); past
    contacts are recorded (most reached), later ones open. Leaving aftercare removes the open
    ones after that day, as the app does."""
    for contact in aftercare_rules.schedule(stay.start, rehab_ended_on=stay.start):
        if stay.end is not None and contact.due_on > stay.end:
            break
        recorded = contact.due_on < ctx.today - timedelta(days=2)
        reached = rng.random() < 0.85
        at = ctx.at(contact.due_on, 11) if recorded else None
        rows.add("check_ins", {
            "id": ctx.ids.take("check_ins"), "episode_id": episode.id, "kind": contact.kind,
            "due_on": contact.due_on, "scheduled_on": None, "reschedule_reason": "",
            "status": ("done" if reached else "missed") if recorded else "open",
            "contacted_at": at, "reached": reached if recorded else None,
            "method": "phone" if recorded else "",
            "days_used_30": 0 if recorded and reached else None,
            "meetings_attended": rng.randint(2, 12) if recorded and reached else None,
            "employment": "", "housing": "",
            "craving": rng.randint(0, 5) if recorded and reached else None,
            "drug_screen_done": False, "note": "",
            "recorded_by_id": episode.counselor.id if recorded else None, "version": 1,
            "voided_at": None, "void_reason": "", "voided_by_id": None,
            "created_at": ctx.at(stay.start, 10), "updated_at": at or ctx.at(stay.start, 10),
        })  # fmt: skip


def add_relapse(rng, ctx: Context, rows, episode: EpisodePlan, stay: Stay, substance: str) -> None:
    last = _last_day(ctx, stay)
    used_on = stay.start + timedelta(days=rng.randint(0, max(0, (last - stay.start).days)))
    rows.add("relapse_events", {
        "id": ctx.ids.take("relapse_events"), "episode_id": episode.id, "kind": "lapse",
        "used_on": used_on, "substance": substance if len(substance) <= 8 else "other",
        "circumstances": "Used once after a family conflict; reached out the next day.",
        "trigger_lineage": None, "trigger_other": "Family conflict",
        "response": "increased_sessions", "recorded_by_id": episode.counselor.id,
        "recorded_at": ctx.at(used_on, 12) if used_on < ctx.today else ctx.now,
        "voided_at": None, "void_reason": "", "voided_by_id": None,
    })  # fmt: skip


def add_continuing_care_plan(rng, ctx: Context, rows, client_id, episode, stay: Stay) -> None:
    """The signed continuing-care plan the client leaves rehab with: what signing requires
    (`domain.continuing_care.missing_for_signature`) and no more."""
    counselor, signed_at = episode.counselor, ctx.at(stay.start, 11)
    plan_id = ctx.ids.take("continuing_care_plans")
    fields = {
        "level_of_care": "1", "program": "outpatient",
        "session_schedule": "Individual counseling monthly; recovery group weekly.",
        "moud": "", "moud_dose": "", "moud_prescriber": "",
        "emergency_plan": "Call the counselor or the 24-hour line; 911 in an emergency.",
        "reengagement_plan": "After a lapse, call the clinic the same day for a session.",
    }  # fmt: skip
    trigger = {"category": "emotions", "description": "Stress and conflict at home", "risk": 2,
               "coping": "Call sponsor, leave the room, go to a meeting."}  # fmt: skip
    support = {"kind": "twelve_step", "name": "Tuesday evening NA group", "frequency": "Weekly",
               "contact_consent": False, "contact": ""}  # fmt: skip
    change = {
        "area": "employment",
        "description": "Return to part-time work",
        "status": "in_progress",
    }
    lineage = f"{rng.getrandbits(128):032x}"
    signer = {"id": counselor.id, "name": counselor.full_name,
              "credentials": counselor.credentials, "at": signed_at.isoformat(timespec="seconds")}  # fmt: skip
    content = {"plan_id": plan_id, "episode_id": episode.id, "client_id": client_id, "number": 1,
               "supersedes_id": None, **fields, "triggers": [{"lineage": lineage, **trigger}],
               "supports": [support], "life_changes": [change], "signer": signer}  # fmt: skip
    rows.add("continuing_care_plans", {
        "id": plan_id, "episode_id": episode.id, "number": 1, "status": "signed", **fields,
        "created_by_id": counselor.id, "signed_at": signed_at, "signed_by_id": counselor.id,
        "signer_name": counselor.full_name, "signer_credentials": counselor.credentials,
        "content_sha256": content_hash(content), "supersedes_id": None, "version": 1,
        "created_at": signed_at, "updated_at": signed_at,
    })  # fmt: skip
    rows.add("plan_triggers", {"id": ctx.ids.take("plan_triggers"), "plan_id": plan_id,
                               "position": 1, "lineage": lineage, **trigger})  # fmt: skip
    rows.add("sober_supports", {"id": ctx.ids.take("sober_supports"), "plan_id": plan_id,
                                "position": 1, **support})  # fmt: skip
    rows.add("life_changes", {"id": ctx.ids.take("life_changes"), "plan_id": plan_id,
                              "position": 1, **change})  # fmt: skip

"""Clients and their episodes as rows: who they are, which phases they went through and when.

Every choice comes from one seeded `random.Random`, so a seed gives the same network. The
episode history follows the app's phase table (intake → detox → rehab → aftercare →
discharged): each move has its phase change, each phase its level of care, detox → rehab
its medical clearance, each discharge its TEDS record. `clinical` writes what staff
documented along the way.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta

from ..domain.phases import Phase, check_transition
from ..domain.text import fold, format_mrn
from . import clinical, vocab
from .network import Mix, Site, StaffMember
from .rows import Rows
from .timeline import Context, EpisodePlan, Stay

OPIOIDS = ("heroin", "fentanyl", "rx_opioids")
OTHER_SUBSTANCES = ("alcohol", "cocaine", "methamphetamine", "benzodiazepines", "marijuana")
FUNDING = (("medicaid", "State Medicaid (bench)"), ("private", "Acme Health (bench)"),
           ("grant_state", ""), ("self_pay", ""), ("medicare", "Medicare (bench)"))  # fmt: skip
ROUTES = {"heroin": "injection", "fentanyl": "injection", "alcohol": "oral", "rx_opioids": "oral"}
LEVELS = {
    Phase.DETOX: ("inpatient", "3.7-WM"),
    Phase.REHAB: ("residential", "3.5"),
    Phase.AFTERCARE: ("outpatient", "1"),
}


def client_states(rng: random.Random, mix: Mix) -> list[str]:
    """Exactly the mix's counts, in a seeded random order."""
    states = (
        ["detox"] * mix.detox
        + ["rehab"] * mix.rehab
        + ["aftercare"] * mix.aftercare
        + ["discharged"] * mix.discharged
    )
    rng.shuffle(states)
    return states


# --- the current episode's shape ----------------------------------------------------------


def _open_episode(rng: random.Random, state: str, today: date) -> EpisodePlan:
    if state == "detox":
        start = today - timedelta(days=rng.randint(1, 5))
        return EpisodePlan([Stay(Phase.DETOX, start)])
    detox_days = rng.randint(3, 7) if rng.random() < 0.75 else 0
    if state == "rehab":
        start = today - timedelta(days=rng.randint(1, 80))
        return EpisodePlan(_before(start, detox_days) + [Stay(Phase.REHAB, start)])
    aftercare = today - timedelta(days=rng.randint(1, 340))
    rehab = aftercare - timedelta(days=rng.randint(28, 60))
    stays = _before(rehab, detox_days) + [Stay(Phase.REHAB, rehab, aftercare)]
    return EpisodePlan(stays + [Stay(Phase.AFTERCARE, aftercare)])


def _before(rehab_start: date, detox_days: int) -> list[Stay]:
    if not detox_days:
        return []
    return [Stay(Phase.DETOX, rehab_start - timedelta(days=detox_days), rehab_start)]


def _closed_episode(rng: random.Random, ends_on: date) -> EpisodePlan:
    """A finished episode ending on `ends_on`: completed, left against advice, transferred."""
    roll = rng.random()
    detox_days = rng.randint(3, 7) if rng.random() < 0.75 else 0
    if roll < 0.10:  # left detox against advice
        start = ends_on - timedelta(days=rng.randint(1, 3))
        return _closed([Stay(Phase.DETOX, start)], ends_on, "2")
    if roll < 0.45:  # left rehab (dropped out) or was transferred
        rehab = ends_on - timedelta(days=rng.randint(5, 40))
        reason = "2" if roll < 0.35 else "4"
        return _closed(_before(rehab, detox_days) + [Stay(Phase.REHAB, rehab)], ends_on, reason)
    completed = roll >= 0.60
    aftercare = ends_on - timedelta(
        days=rng.randint(365, 380) if completed else rng.randint(30, 200)
    )
    rehab = aftercare - timedelta(days=rng.randint(28, 60))
    stays = _before(rehab, detox_days) + [Stay(Phase.REHAB, rehab, aftercare)]
    stays.append(Stay(Phase.AFTERCARE, aftercare))
    return _closed(stays, ends_on, "1" if completed else "2")


def _closed(stays: list[Stay], ends_on: date, reason: str) -> EpisodePlan:
    stays[-1].end = ends_on
    return EpisodePlan(stays, discharged_on=ends_on, reason=reason)


def episodes_for(rng: random.Random, state: str, today: date) -> list[EpisodePlan]:
    """The client's episodes, oldest first. Some came back after a relapse (2-3 episodes)."""
    if state == "discharged":
        current = _closed_episode(rng, today - timedelta(days=rng.randint(1, 700)))
    else:
        current = _open_episode(rng, state, today)
    episodes = [current]
    for _ in range(_prior_count(rng)):
        ends_on = episodes[0].admitted_on - timedelta(days=rng.randint(30, 300))
        prior = _closed_episode(rng, ends_on)
        if prior.stays[-1].phase is Phase.AFTERCARE and prior.reason == "1":
            prior.reason = "2"  # they came back: the earlier aftercare did not hold
        episodes.insert(0, prior)
    for number, episode in enumerate(episodes, start=1):
        episode.number = number
    return episodes


def _prior_count(rng: random.Random) -> int:
    roll = rng.random()
    return 2 if roll < 0.05 else 1 if roll < 0.20 else 0


# --- one client ---------------------------------------------------------------------------


class ClientBuilder:
    """Adds one client's rows (face sheet, episodes, documentation) to `rows`."""

    def __init__(self, ctx: Context, rows: Rows):
        self.ctx, self.rows = ctx, rows

    def add(self, rng: random.Random, number: int, state: str, site: Site) -> None:
        """Client `number` in `state` now, treated at `site` (every episode of theirs)."""
        ctx = self.ctx
        episodes = episodes_for(rng, state, ctx.today)
        client_id = ctx.ids.take("clients")
        # Detox here is opioid withdrawal (COWS, methadone or buprenorphine).
        detox = any(e.stay(Phase.DETOX) for e in episodes)
        opioid = detox or rng.random() < 0.5
        substance = rng.choice(OPIOIDS) if opioid else rng.choice(OTHER_SUBSTANCES)
        self._client(rng, client_id, number, episodes[0].admitted_on, substance)
        for episode in episodes:
            episode.site = site
            self._staff_for(rng, episode)
            self._episode(rng, client_id, episode)
            clinical.document(rng, ctx, self.rows, client_id, episode, substance)

    def _staff_for(self, rng: random.Random, episode: EpisodePlan) -> None:
        """Open episodes fill the site's counselors' caseloads in turn (about 40 each); the
        site's nurses and physicians share its detox unit the same way."""
        site = episode.site
        counselors = site.of("counselor")
        if episode.discharged_on is None:
            index = site.open_count % len(counselors)
            site.open_count += 1
        else:
            index = rng.randrange(len(counselors))
        episode.counselor = counselors[index]
        episode.counselor_index = self.ctx.network.index_of(episode.counselor)
        nurses, physicians = site.of("nurse"), site.of("physician")
        if episode.phase is Phase.DETOX:
            site.detox_count += 1
            episode.nurse = nurses[site.detox_count % len(nurses)]
            episode.physician = physicians[site.detox_count % len(physicians)]
        else:
            episode.nurse, episode.physician = rng.choice(nurses), rng.choice(physicians)

    def _client(self, rng, client_id: int, number: int, first_admit: date, substance: str) -> None:
        ctx = self.ctx
        first = rng.choice(vocab.FIRST_NAMES)
        last = vocab.SURNAME_PREFIX + rng.choice(vocab.LAST_NAMES)
        born = ctx.today - timedelta(days=rng.randint(18 * 366, 70 * 365))
        sex = rng.choice(("female", "male"))
        contact = first_admit - timedelta(days=rng.randint(1, 14))
        self.rows.add(
            "clients", _client_row(ctx, client_id, number, first, last, born, sex, contact)
        )
        kind, payer = rng.choice(FUNDING)
        self.rows.add(
            "client_funding",
            {
                "id": ctx.ids.take("client_funding"),
                "client_id": client_id,
                "kind": kind,
                "payer": payer,
                "member_id": f"BENCH-{number:07d}" if payer else "",
            },
        )
        others = [s for s in ("alcohol", "cocaine", "marijuana") if s != substance]
        for rank, use in enumerate([substance] + rng.sample(others, rng.randint(0, 1)), start=1):
            self.rows.add("client_substances", {
                "id": ctx.ids.take("client_substances"),
                "client_id": client_id,
                "rank": rank,
                "substance": use,
                "route": ROUTES.get(use, "smoking"),
                "frequency": "5" if rank == 1 else "3",
                "age_first_use": rng.randint(14, 25),
            })  # fmt: skip

    def _episode(self, rng: random.Random, client_id: int, episode: EpisodePlan) -> None:
        ctx, rows = self.ctx, self.rows
        episode.id = ctx.ids.take("episodes")
        managers = episode.site.of("manager")
        manager = managers[episode.counselor_index % len(managers)]
        admitted_at = ctx.at(episode.admitted_on, 8)
        self._moves(episode, admitted_at)
        phase_started = episode.discharged_on or episode.stays[-1].start
        rows.add("episodes", {
            "id": episode.id,
            "client_id": client_id,
            "number": episode.number,
            "admitted_on": episode.admitted_on,
            "phase": episode.phase.value,
            "phase_started_on": phase_started,
            "primary_counselor_id": episode.counselor.id,
            "discharged_on": episode.discharged_on,
            "site_id": episode.site.id,
            "version": 1,
            "created_at": admitted_at,
            "updated_at": episode.moves[-1][1],
        })  # fmt: skip
        self._phase_changes(episode, manager)
        self._levels(episode, manager)
        ended = episode.moves[-1][1] if episode.discharged_on else None
        rows.add("caseload_assignments", {
            "id": ctx.ids.take("caseload_assignments"),
            "episode_id": episode.id,
            "counselor_id": episode.counselor.id,
            "started_at": admitted_at,
            "ended_at": ended,
            "by_id": manager.id,
            "reason": "Assigned at admission",
        })  # fmt: skip
        if episode.discharged_on:
            self._discharge(rng, episode, manager)

    def _moves(self, episode: EpisodePlan, admitted_at: datetime) -> None:
        """(phase entered, when), checked against the app's transition table."""
        moves = [(Phase.INTAKE, admitted_at)]
        for n, stay in enumerate(episode.stays):
            moves.append((stay.phase, self.ctx.at(stay.start, 9 if n == 0 else 10)))
        if episode.discharged_on:
            moves.append((Phase.DISCHARGED, self.ctx.at(episode.discharged_on, 15)))
        for (source, _), (target, _) in zip(moves, moves[1:], strict=False):
            check_transition(source, target)
        episode.moves = moves

    def _phase_changes(self, episode: EpisodePlan, manager: StaffMember) -> None:
        previous = None
        for phase, at in episode.moves:
            reason = {
                Phase.INTAKE: "Admitted",
                Phase.DISCHARGED: f"Discharged: TEDS reason {episode.reason}",
            }
            self.rows.add("phase_changes", {
                "id": self.ctx.ids.take("phase_changes"),
                "episode_id": episode.id,
                "from_phase": previous.value if previous else None,
                "to_phase": phase.value,
                "effective_at": at,
                "recorded_at": at,
                "by_id": manager.id,
                "reason": reason.get(phase, "Clinical progress (bench data)"),
                "backdate_reason": "",
            })  # fmt: skip
            previous = phase

    def _levels(self, episode: EpisodePlan, manager: StaffMember) -> None:
        for n, stay in enumerate(episode.stays):
            setting, code = LEVELS[stay.phase]
            if stay.phase is Phase.REHAB and episode.id % 3 == 0:
                setting, code = "intensive_outpatient", "2.1"
            following = episode.stays[n + 1].start if n + 1 < len(episode.stays) else None
            self.rows.add("level_of_care_spans", {
                "id": self.ctx.ids.take("level_of_care_spans"),
                "episode_id": episode.id,
                "setting": setting,
                "code_system": "ASAM3",
                "code": code,
                "started_on": stay.start,
                "ended_on": following,
                "by_id": manager.id,
                "created_at": self.ctx.at(stay.start, 10),
            })  # fmt: skip

    def _discharge(self, rng: random.Random, episode: EpisodePlan, manager: StaffMember) -> None:
        at = episode.moves[-1][1]
        left = episode.reason == "2" and episode.stays[-1].phase is Phase.DETOX
        self.rows.add("discharges", {
            "id": self.ctx.ids.take("discharges"),
            "episode_id": episode.id,
            "last_contact_on": episode.discharged_on,
            "discharged_on": episode.discharged_on,
            "reason_code": episode.reason,
            "left_at": at if left else None,
            "note": "Discharge summary on file (bench data).",
            "use_frequency": "1" if episode.reason == "1" else rng.choice(("2", "3", "5")),
            "employment": rng.choice(("full_time", "part_time", "unemployed")),
            "living_arrangement": rng.choice(("independent", "dependent")),
            "arrests_30d": 0,
            "self_help": rng.choice(("1", "2", "3", "4")),
            "by_id": manager.id,
            "created_at": at,
        })  # fmt: skip


def _client_row(ctx, client_id, number, first, last, born, sex, contact) -> dict:
    return {
        "id": client_id,
        "mrn": format_mrn(ctx.mrn_prefix, number),
        "legal_first_name": first,
        "legal_last_name": last,
        "preferred_name": "",
        "pronouns": "",
        "date_of_birth": born,
        "sex": sex,
        "gender_identity": "",
        "phone": f"555-01{number % 100:02d}",
        "address": f"{number % 900 + 100} Bench Street, Testville",
        "primary_language": "English",
        "emergency_contact_name": "",
        "emergency_contact_relationship": "",
        "emergency_contact_phone": "",
        "guardian_name": "",
        "guardian_relationship": "",
        "guardian_phone": "",
        "first_contact_on": contact,
        "referral_source": "self",
        "prior_treatment_episodes": 0,
        "overdoses_lifetime": 0,
        "last_overdose_on": None,
        "co_occurring": "",
        "pregnant": "unknown",
        "risk_flags": "",
        "search_name": fold(f"{first} {last}")[:255],
        "created_by_id": None,
        "created_at": ctx.at(contact, 9),
        "updated_at": ctx.at(contact, 9),
    }

"""The staff of a bench network and its recurring groups: sized from the client count, with
predictable logins (bench-counselor-0001 ...) so a benchmark can sign in as anyone."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..domain.roles import Role
from . import vocab
from .rows import Ids, Rows

CASELOAD = 40  # open clients per counselor: the caseload page the benchmark opens
HISTORY_WEEKS = 160  # weekly group meetings reach back this far (covers past episodes)

_ROLES = {
    "admin": Role.ADMIN,
    "manager": Role.CLINIC_MANAGER,
    "counselor": Role.COUNSELOR,
    "nurse": Role.NURSE,
    "physician": Role.PHYSICIAN,
    "supervisor": Role.SUPERVISOR,
}


@dataclass(frozen=True)
class Mix:
    """How many clients are in each state; per 1,000: 60 detox, 300 rehab, 400 aftercare."""

    detox: int
    rehab: int
    aftercare: int
    discharged: int

    @classmethod
    def for_clients(cls, n: int) -> Mix:
        detox, rehab, aftercare = round(n * 0.06), round(n * 0.3), round(n * 0.4)
        return cls(detox, rehab, aftercare, n - detox - rehab - aftercare)

    @property
    def open(self) -> int:
        return self.detox + self.rehab + self.aftercare


@dataclass(frozen=True)
class StaffMember:
    id: int
    kind: str  # key of vocab.CREDENTIALS, also the middle of the login
    login: str
    full_name: str
    credentials: str


@dataclass
class Network:
    staff: dict[str, list[StaffMember]] = field(default_factory=dict)
    group_ids: list[int] = field(default_factory=list)
    first_meeting_id: int = 0
    meetings_per_group: int = 0
    first_meeting_monday: date | None = None

    def of(self, kind: str) -> list[StaffMember]:
        return self.staff[kind]

    @property
    def logins(self) -> list[StaffMember]:
        return [m for members in self.staff.values() for m in members]

    def group_of(self, counselor_index: int) -> int:
        """Counselors run groups in pairs; a client joins their counselor's group."""
        return counselor_index // 2 % len(self.group_ids)

    def meeting(self, group: int, day: date) -> int | None:
        """The id of group `group`'s meeting in the week of `day`, if it is in the record."""
        week = (day - self.first_meeting_monday).days // 7
        if not 0 <= week < self.meetings_per_group:
            return None
        return self.first_meeting_id + group * self.meetings_per_group + week

    def meeting_date(self, group: int, day: date) -> date:
        monday = day - timedelta(days=day.weekday())
        return monday + timedelta(days=group % 5)


def headcount(mix: Mix) -> dict[str, int]:
    counselors = max(2, math.ceil(mix.open / CASELOAD))
    return {
        "admin": 1,
        "manager": max(1, math.ceil(counselors / 25)),
        "supervisor": max(1, math.ceil(counselors / 8)),
        "counselor": counselors,
        "nurse": max(2, math.ceil(mix.detox / 10)),
        "physician": max(1, math.ceil(mix.detox / 40)),
    }


def build_staff(
    rng: random.Random, mix: Mix, ids: Ids, rows: Rows, password_hash: str, sealed: str, now
) -> Network:
    network = Network()
    for kind, count in headcount(mix).items():
        network.staff[kind] = [
            _member(rng, ids, kind, n, rows, password_hash, sealed, now)
            for n in range(1, count + 1)
        ]
    return network


def _member(rng, ids, kind, n, rows, password_hash, sealed, now) -> StaffMember:
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    member = StaffMember(
        id=ids.take("users"),
        kind=kind,
        login=f"bench-{kind}-{n:04d}",
        full_name=f"{first} {vocab.SURNAME_PREFIX}{last}",
        credentials=rng.choice(vocab.CREDENTIALS[kind]),
    )
    rows.add("users", _user_row(member, password_hash, sealed, now))
    rows.add("user_roles", {"user_id": member.id, "role": _ROLES[kind].value})
    return member


def _user_row(m: StaffMember, password_hash: str, sealed: str, now: datetime) -> dict:
    return {
        "id": m.id,
        "login": m.login,
        "full_name": m.full_name,
        "credentials": m.credentials,
        "email": f"{m.login}@bench.example.org",
        "active": True,
        "password_hash": password_hash,
        "must_change_password": False,
        "needs_supervision": False,
        "failed_attempts": 0,
        "locked_until": None,
        "last_login_at": None,
        "password_changed_at": now,
        "totp_secret": sealed,
        "totp_enabled_at": now,
        "totp_last_step": None,
        "created_at": now,
        "updated_at": now,
    }


def build_groups(
    rng: random.Random, network: Network, ids: Ids, rows: Rows, today: date, now: datetime
) -> None:
    """One weekly group per pair of counselors, with a meeting every week of the history, so
    any episode's group seats can point at a meeting without a lookup."""
    counselors = network.of("counselor")
    count = math.ceil(len(counselors) / 2)
    this_monday = today - timedelta(days=today.weekday())
    network.first_meeting_monday = this_monday - timedelta(weeks=HISTORY_WEEKS)
    network.meetings_per_group = HISTORY_WEEKS  # up to last week: no meeting in the future
    network.first_meeting_id = ids.peek("group_meetings")
    for g in range(count):
        group_id = ids.take("groups")
        network.group_ids.append(group_id)
        lead = counselors[2 * g]
        rows.add("groups", _group_row(group_id, g, now))
        for member in counselors[2 * g : 2 * g + 2]:
            rows.add("group_facilitators", {"group_id": group_id, "user_id": member.id})
        for week in range(network.meetings_per_group):
            day = network.first_meeting_monday + timedelta(weeks=week, days=g % 5)
            meeting = _meeting_row(ids.take("group_meetings"), group_id, day, lead, rng, now)
            rows.add("group_meetings", meeting)


def _group_row(group_id: int, g: int, now: datetime) -> dict:
    return {
        "id": group_id,
        "name": f"Bench {vocab.GROUP_KINDS[g % len(vocab.GROUP_KINDS)]} {g + 1:03d}",
        "session_type": "group",
        "weekday": g % 5,
        "default_start": time(13, 0),
        "default_minutes": 90,
        "location": f"Group room {g % 6 + 1}",
        "active": True,
        "created_at": now,
        "updated_at": now,
    }


def _meeting_row(mid, group_id, day, lead, rng, now) -> dict:
    return {
        "id": mid,
        "group_id": group_id,
        "meeting_date": day,
        "start_time": time(13, 0),
        "end_time": time(14, 30),
        "topic": rng.choice(vocab.GROUP_TOPICS),
        "summary": "Members reviewed the week, practised the skill of the day and set goals.",
        "facilitator_id": lead.id,
        "created_by_id": lead.id,
        "created_at": now,
        "updated_at": now,
    }

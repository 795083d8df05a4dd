"""The sites of a bench network, their staff and their recurring groups: one site per 1,000
clients, each staffed for its own clients, with predictable logins (bench-counselor-0001 ...)
so a benchmark can sign in as anyone."""

from __future__ import annotations

import math
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from ..domain.roles import Role
from . import vocab
from .rows import Ids, Rows

CASELOAD = 40  # open clients per counselor: the caseload page the benchmark opens
CLIENTS_PER_SITE = 1000  # one site per 1,000 clients: a site's detox board holds about 60
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

    @classmethod
    def of_states(cls, states: list[str]) -> Mix:
        counts = Counter(states)
        return cls(counts["detox"], counts["rehab"], counts["aftercare"], counts["discharged"])

    @property
    def open(self) -> int:
        return self.detox + self.rehab + self.aftercare


def site_count(clients: int) -> int:
    return max(1, math.ceil(clients / CLIENTS_PER_SITE))


def deal_sites(states: list[str], sites: int) -> list[int]:
    """The site (0-based) of each client: each state dealt round the sites in turn, so every
    site gets its share of every state (its detox board about 6 % of its clients) and the
    sites' sizes differ by one at most."""
    order = sorted(range(len(states)), key=lambda i: _STATE_ORDER[states[i]])
    dealt = [0] * len(states)
    for turn, i in enumerate(order):
        dealt[i] = turn % sites
    return dealt


_STATE_ORDER = {"detox": 0, "rehab": 1, "aftercare": 2, "discharged": 3}


@dataclass(frozen=True)
class StaffMember:
    id: int
    kind: str  # key of vocab.CREDENTIALS, also the middle of the login
    login: str
    full_name: str
    credentials: str
    site_id: int | None = None  # None: network-wide


@dataclass
class Site:
    """One facility of the network and the staff who work there."""

    id: int
    code: str
    name: str
    staff: dict[str, list[StaffMember]] = field(default_factory=dict)
    open_count: int = 0  # open episodes given a counselor so far (caseloads fill in turn)
    detox_count: int = 0  # detox episodes given a nurse so far

    def of(self, kind: str) -> list[StaffMember]:
        return self.staff[kind]


@dataclass
class Network:
    staff: dict[str, list[StaffMember]] = field(default_factory=dict)  # every site's, in order
    sites: list[Site] = field(default_factory=list)
    group_ids: list[int] = field(default_factory=list)
    group_leads: list[StaffMember] = field(default_factory=list)
    counselor_groups: list[int] = field(default_factory=list)  # by index in staff["counselor"]
    first_meeting_id: int = 0
    meetings_per_group: int = 0
    first_meeting_monday: date | None = None

    def of(self, kind: str) -> list[StaffMember]:
        return self.staff[kind]

    @property
    def logins(self) -> list[StaffMember]:
        return [m for members in self.staff.values() for m in members]

    def group_of(self, counselor_index: int) -> int:
        """Counselors of a site run groups in pairs; a client joins their counselor's group."""
        return self.counselor_groups[counselor_index]

    def index_of(self, counselor: StaffMember) -> int:
        """The counselor's place in staff["counselor"] (ids are handed out in that order)."""
        return counselor.id - self.staff["counselor"][0].id

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
    """One site's staff for its clients (the admin and a network manager come on top)."""
    counselors = max(2, math.ceil(mix.open / CASELOAD))
    return {
        "manager": max(1, math.ceil(counselors / 25)),
        "supervisor": max(1, math.ceil(counselors / 8)),
        "counselor": counselors,
        "nurse": max(2, math.ceil(mix.detox / 10)),
        "physician": max(1, math.ceil(mix.detox / 40)),
    }


NETWORK_WIDE = {"admin": 1, "manager": 1}  # site None: they see every site


def build_sites(ids: Ids, rows: Rows, count: int, now: datetime) -> list[Site]:
    sites = []
    for n in range(1, count + 1):
        site = Site(ids.take("sites"), f"B{n:03d}", f"Bench Site {n:03d}")
        rows.add("sites", {"id": site.id, "code": site.code, "name": site.name,
                           "active": True, "created_at": now, "updated_at": now})  # fmt: skip
        sites.append(site)
    return sites


def build_staff(
    rng: random.Random,
    site_mixes: list[Mix],
    ids: Ids,
    rows: Rows,
    password_hash: str,
    sealed: str,
    now: datetime,
) -> Network:
    """The sites (one per mix, in order) and their staff, sized for each site's clients; the
    network-wide admin and manager first. Logins run on across sites (bench-nurse-0001,
    -0002 at the first site, -0003 at the second ...), kind by kind, ids in the same order."""
    network = Network(sites=build_sites(ids, rows, len(site_mixes), now))
    counts = [headcount(mix) for mix in site_mixes]
    for kind in ("admin", "manager", "supervisor", "counselor", "nurse", "physician"):
        members = network.staff.setdefault(kind, [])
        for _ in range(NETWORK_WIDE.get(kind, 0)):
            members.append(_member(rng, ids, kind, len(members) + 1, None, rows,
                                   password_hash, sealed, now))  # fmt: skip
        for site, count in zip(network.sites, counts, strict=True):
            site.staff[kind] = [
                _member(
                    rng, ids, kind, len(members) + 1 + n, site.id, rows, password_hash, sealed, now
                )  # fmt: skip
                for n in range(count.get(kind, 0))
            ]
            members.extend(site.staff[kind])
    return network


def _member(rng, ids, kind, n, site_id, rows, password_hash, sealed, now) -> StaffMember:
    first, last = rng.choice(vocab.FIRST_NAMES), rng.choice(vocab.LAST_NAMES)
    member = StaffMember(
        id=ids.take("users"),
        kind=kind,
        login=f"bench-{kind}-{n:04d}",
        full_name=f"{first} {vocab.SURNAME_PREFIX}{last}",
        credentials=rng.choice(vocab.CREDENTIALS[kind]),
        site_id=site_id,
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
        "site_id": m.site_id,
        "created_at": now,
        "updated_at": now,
    }


def build_groups(
    rng: random.Random, network: Network, ids: Ids, rows: Rows, today: date, now: datetime
) -> None:
    """One weekly group per pair of a site's counselors, with a meeting every week of the
    history, so any episode's group seats can point at a meeting without a lookup."""
    this_monday = today - timedelta(days=today.weekday())
    network.first_meeting_monday = this_monday - timedelta(weeks=HISTORY_WEEKS)
    network.meetings_per_group = HISTORY_WEEKS  # up to last week: no meeting in the future
    network.first_meeting_id = ids.peek("group_meetings")
    for site in network.sites:
        counselors = site.of("counselor")
        for pair in range(math.ceil(len(counselors) / 2)):
            _group(rng, network, ids, rows, counselors[2 * pair : 2 * pair + 2], now)


def _group(rng, network: Network, ids: Ids, rows: Rows, members: list[StaffMember], now) -> None:
    g = len(network.group_ids)
    group_id = ids.take("groups")
    network.group_ids.append(group_id)
    network.group_leads.append(members[0])
    network.counselor_groups.extend([g] * len(members))
    rows.add("groups", _group_row(group_id, g, now))
    for member in members:
        rows.add("group_facilitators", {"group_id": group_id, "user_id": member.id})
    for week in range(network.meetings_per_group):
        day = network.first_meeting_monday + timedelta(weeks=week, days=g % 5)
        meeting = _meeting_row(ids.take("group_meetings"), group_id, day, members[0], rng, now)
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

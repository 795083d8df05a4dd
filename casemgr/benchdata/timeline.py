"""The shapes generate and clinical share: the clock and staff, an episode and its stays."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from ..domain.phases import Phase
from .network import Network, Site, StaffMember
from .rows import Ids


@dataclass(frozen=True)
class Context:
    """What every builder needs: the clock, the time zone, the staff and the id counters."""

    today: date
    now: datetime
    tz: ZoneInfo
    mrn_prefix: str
    network: Network
    ids: Ids
    drugs: dict[str, int]

    def at(self, day: date, hour: int, minute: int = 0) -> datetime:
        """A facility wall-clock time as an aware UTC datetime, whole seconds."""
        return _wall_clock(self.tz, day, hour, minute)


@lru_cache(maxsize=1 << 16)
def _wall_clock(tz: ZoneInfo, day: date, hour: int, minute: int) -> datetime:
    # Millions of calls over a few thousand distinct (day, time) pairs: worth a cache.
    return datetime.combine(day, time(hour, minute), tzinfo=tz).astimezone(UTC)


@dataclass
class Stay:
    """One phase of an episode: from `start` until `end` (None while it goes on)."""

    phase: Phase
    start: date
    end: date | None = None


@dataclass
class EpisodePlan:
    stays: list[Stay]
    discharged_on: date | None = None
    reason: str = ""  # TEDS discharge reason
    counselor: StaffMember | None = None
    counselor_index: int = 0
    nurse: StaffMember | None = None
    physician: StaffMember | None = None
    site: Site | None = None  # where the episode is treated (all of a client's at one site)
    id: int = 0
    number: int = 1
    moves: list[tuple[Phase, datetime]] = field(default_factory=list)

    @property
    def admitted_on(self) -> date:
        return self.stays[0].start

    @property
    def phase(self) -> Phase:
        return Phase.DISCHARGED if self.discharged_on else self.stays[-1].phase

    def stay(self, phase: Phase) -> Stay | None:
        return next((s for s in self.stays if s.phase is phase), None)

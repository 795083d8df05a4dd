"""Withdrawal scales the detox nurse scores: COWS for opioids, CIWA-Ar for alcohol.

The items, their allowed scores and the severity bands are data (domain reference §2.1 and §2.2),
so forms, charts and validation all read the same table. Totals are computed here, never taken
from the client: a total exists only when every item is answered, because a partial sum would
under-state withdrawal and could delay a dose.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum

from .errors import DomainError


def _is_int(value: object) -> bool:
    # bool is an int subclass; True must not count as a score of 1.
    return isinstance(value, int) and not isinstance(value, bool)


class Band(StrEnum):
    NONE = "none"
    MILD = "mild"
    MODERATE = "moderate"
    MODERATELY_SEVERE = "moderately_severe"
    SEVERE = "severe"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").capitalize()


@dataclass(frozen=True)
class InstrumentScore:
    """The computed result. Both are None while any item is unanswered."""

    total: int | None
    band: str | None

    @property
    def complete(self) -> bool:
        return self.total is not None


class ItemError(DomainError):
    """A score the item does not allow, or an item the instrument does not have.

    `item` is the item key (also the form field), so a view can put the message next to it.
    """

    def __init__(self, message: str, item: str):
        super().__init__(message, item)
        self.item = item


@dataclass(frozen=True)
class Option:
    value: int
    description: str  # the published anchor; empty for CIWA-Ar steps between anchors


@dataclass(frozen=True)
class Item:
    key: str
    label: str
    prompt: str  # how to observe it
    options: tuple[Option, ...]

    @property
    def allowed(self) -> tuple[int, ...]:
        return tuple(o.value for o in self.options)

    @property
    def max_score(self) -> int:
        return max(self.allowed)

    def describe(self, value: int) -> str:
        return next((o.description for o in self.options if o.value == value), "")


@dataclass(frozen=True)
class BandTable:
    """Severity bands as inclusive upper bounds, lowest first; anything above is `top`.

    CIWA-Ar's bands differ between sources (§2.2), so a facility can supply its own table.
    """

    bounds: tuple[tuple[int, Band], ...]
    top: Band

    def __post_init__(self) -> None:
        if not self.bounds:
            raise DomainError("A band table needs at least one upper bound.", "bands")
        previous = -1
        for upper, band in self.bounds:
            if not _is_int(upper) or upper < 0:
                raise DomainError("Band upper bounds must be whole numbers, 0 or more.", "bands")
            if upper <= previous:
                raise DomainError(
                    "Band upper bounds must increase from one band to the next.", "bands"
                )
            previous = upper
            Band(band)  # an unknown band name raises ValueError
        Band(self.top)
        names = [Band(b) for _, b in self.bounds] + [Band(self.top)]
        if len(set(names)) != len(names):
            raise DomainError("Each band may appear only once in a band table.", "bands")

    def band_for(self, total: int) -> Band:
        for upper, band in self.bounds:
            if total <= upper:
                return Band(band)
        return Band(self.top)

    def check_fits(self, max_total: int) -> None:
        """Every band must be reachable: the highest bound must lie below the maximum total."""
        if self.bounds[-1][0] >= max_total:
            raise DomainError(
                f"Band upper bounds must be below the maximum total of {max_total}.", "bands"
            )


@dataclass(frozen=True)
class Instrument:
    key: str
    short: str  # in messages: "COWS", "CIWA-Ar"
    name: str
    items: tuple[Item, ...]
    bands: BandTable

    @property
    def max_total(self) -> int:
        return sum(item.max_score for item in self.items)

    @property
    def keys(self) -> tuple[str, ...]:
        return tuple(item.key for item in self.items)

    def item(self, key: str) -> Item:
        return _ITEM_INDEX[self.key][key]


def _options(*pairs: tuple[int, str]) -> tuple[Option, ...]:
    return tuple(Option(value, text) for value, text in pairs)


# COWS, Wesson & Ling 2003 — items, anchors and allowed scores from domain reference §2.1.
# Note the gaps: most items skip 3, several skip to 5. Rate only what withdrawal explains.
COWS_ITEMS: tuple[Item, ...] = (
    Item(
        "resting_pulse",
        "Resting pulse",
        "Beats per minute after the client has sat or lain down for one minute.",
        _options((0, "80 or below"), (1, "81–100"), (2, "101–120"), (4, "Over 120")),
    ),
    Item(
        "sweating",
        "Sweating",
        "Over the past half hour, not explained by room temperature or activity.",
        _options(
            (0, "No report of chills or flushing"),
            (1, "Subjective report of chills or flushing"),
            (2, "Flushed or observable moistness on face"),
            (3, "Beads of sweat on brow or face"),
            (4, "Sweat streaming off face"),
        ),
    ),
    Item(
        "restlessness",
        "Restlessness",
        "Observed during the assessment.",
        _options(
            (0, "Able to sit still"),
            (1, "Reports difficulty sitting still, but is able to do so"),
            (3, "Frequent shifting or extraneous movements of legs or arms"),
            (5, "Unable to sit still for more than a few seconds"),
        ),
    ),
    Item(
        "pupil_size",
        "Pupil size",
        "Compared with what is normal for the room light.",
        _options(
            (0, "Pupils pinned or normal size for room light"),
            (1, "Pupils possibly larger than normal for room light"),
            (2, "Pupils moderately dilated"),
            (5, "Pupils so dilated that only the rim of the iris is visible"),
        ),
    ),
    Item(
        "bone_joint_aches",
        "Bone or joint aches",
        "Only the part attributable to opioid withdrawal.",
        _options(
            (0, "Not present"),
            (1, "Mild diffuse discomfort"),
            (2, "Reports severe diffuse aching of joints or muscles"),
            (4, "Rubbing joints or muscles and unable to sit still because of discomfort"),
        ),
    ),
    Item(
        "runny_nose_tearing",
        "Runny nose or tearing",
        "Not explained by cold symptoms or allergies.",
        _options(
            (0, "Not present"),
            (1, "Nasal stuffiness or unusually moist eyes"),
            (2, "Nose running or tearing"),
            (4, "Nose constantly running or tears streaming down cheeks"),
        ),
    ),
    Item(
        "gi_upset",
        "GI upset",
        "Over the last half hour.",
        _options(
            (0, "No GI symptoms"),
            (1, "Stomach cramps"),
            (2, "Nausea or loose stool"),
            (3, "Vomiting or diarrhea"),
            (5, "Multiple episodes of diarrhea or vomiting"),
        ),
    ),
    Item(
        "tremor",
        "Tremor",
        "Observation of outstretched hands.",
        _options(
            (0, "No tremor"),
            (1, "Tremor can be felt, but not observed"),
            (2, "Slight tremor observable"),
            (4, "Gross tremor or muscle twitching"),
        ),
    ),
    Item(
        "yawning",
        "Yawning",
        "Observed during the assessment.",
        _options(
            (0, "No yawning"),
            (1, "Yawning once or twice during the assessment"),
            (2, "Yawning three or more times during the assessment"),
            (4, "Yawning several times a minute"),
        ),
    ),
    Item(
        "anxiety_irritability",
        "Anxiety or irritability",
        "Reported and observed.",
        _options(
            (0, "None"),
            (1, "Reports increasing irritability or anxiousness"),
            (2, "Obviously irritable or anxious"),
            (4, "So irritable or anxious that participation in the assessment is difficult"),
        ),
    ),
    Item(
        "gooseflesh",
        "Gooseflesh skin",
        "Observed on the arms.",
        _options(
            (0, "Skin is smooth"),
            (3, "Piloerection of skin can be felt or hairs standing up on arms"),
            (5, "Prominent piloerection"),
        ),
    ),
)

# <5 "none" (MDApp: not conclusive of withdrawal), 5–12 mild, 13–24 moderate,
# 25–36 moderately severe, >36 severe (§2.1). Fixed by the published scale.
COWS_BANDS = BandTable(
    bounds=((4, Band.NONE), (12, Band.MILD), (24, Band.MODERATE), (36, Band.MODERATELY_SEVERE)),
    top=Band.SEVERE,
)

COWS = Instrument("cows", "COWS", "COWS (Clinical Opiate Withdrawal Scale)", COWS_ITEMS, COWS_BANDS)


def _ladder(anchors: dict[int, str], top: int = 7) -> tuple[Option, ...]:
    """CIWA-Ar allows every whole score from 0; only some steps carry a published anchor."""
    return tuple(Option(v, anchors.get(v, "")) for v in range(top + 1))


_HALLUCINATIONS = {
    0: "None",
    4: "Moderately severe hallucinations",
    7: "Continuous hallucinations",
}

# CIWA-Ar, Sullivan et al. 1989 — items and anchors from domain reference §2.2.
CIWA_AR_ITEMS: tuple[Item, ...] = (
    Item(
        "nausea_vomiting",
        "Nausea and vomiting",
        "Ask: do you feel sick to your stomach? Have you vomited?",
        _ladder(
            {
                0: "No nausea and no vomiting",
                1: "Mild nausea with no vomiting",
                4: "Intermittent nausea with dry heaves",
                7: "Constant nausea, frequent dry heaves and vomiting",
            }
        ),
    ),
    Item(
        "tremor",
        "Tremor",
        "Arms extended and fingers spread apart.",
        _ladder(
            {
                0: "No tremor",
                1: "Not visible, but can be felt fingertip to fingertip",
                4: "Moderate, with arms extended",
                7: "Severe, even with arms not extended",
            }
        ),
    ),
    Item(
        "paroxysmal_sweats",
        "Paroxysmal sweats",
        "Observed.",
        _ladder(
            {
                0: "No sweat visible",
                1: "Barely perceptible sweating, palms moist",
                4: "Beads of sweat on forehead",
                7: "Drenching sweats",
            }
        ),
    ),
    Item(
        "anxiety",
        "Anxiety",
        "Ask and observe.",
        _ladder(
            {
                0: "No anxiety, at ease",
                1: "Mildly anxious",
                4: "Moderately anxious, or guarded",
                7: "Acute panic",
            }
        ),
    ),
    Item(
        "agitation",
        "Agitation",
        "Observed.",
        _ladder(
            {
                0: "Normal activity",
                1: "Somewhat more than normal activity",
                4: "Moderately fidgety and restless",
                7: "Paces back and forth or thrashes about",
            }
        ),
    ),
    Item(
        "tactile_disturbances",
        "Tactile disturbances",
        "Ask and observe.",
        _ladder(_HALLUCINATIONS),
    ),
    Item(
        "auditory_disturbances",
        "Auditory disturbances",
        "Ask and observe.",
        _ladder(_HALLUCINATIONS),
    ),
    Item(
        "visual_disturbances",
        "Visual disturbances",
        "Ask and observe.",
        _ladder(_HALLUCINATIONS),
    ),
    Item(
        "headache",
        "Headache, fullness in head",
        "Ask and observe.",
        _ladder({0: "Not present", 7: "Extremely severe"}),
    ),
    Item(
        "orientation",
        "Orientation and clouding of sensorium",
        "Ask the date, the place and who you are; ask for serial additions.",
        _ladder(
            {
                0: "Oriented and can do serial additions",
                1: "Cannot do serial additions or is uncertain about date",
                2: "Disoriented for date by no more than 2 calendar days",
                3: "Disoriented for date by more than 2 calendar days",
                4: "Disoriented for place and/or person",
            },
            top=4,
        ),
    ),
)

# <8 mild, 8–15 moderate, >15 severe (Sullivan-derived table, §2.2). Other sources use
# ≤10 / 11–15 / ≥16, so facilities may pass their own table.
CIWA_AR_DEFAULT_BANDS = BandTable(bounds=((7, Band.MILD), (15, Band.MODERATE)), top=Band.SEVERE)

CIWA_AR = Instrument(
    "ciwa_ar",
    "CIWA-Ar",
    "CIWA-Ar (Clinical Institute Withdrawal Assessment for Alcohol, revised)",
    CIWA_AR_ITEMS,
    CIWA_AR_DEFAULT_BANDS,
)

INSTRUMENTS: dict[str, Instrument] = {COWS.key: COWS, CIWA_AR.key: CIWA_AR}

_ITEM_INDEX: dict[str, dict[str, Item]] = {
    inst.key: {item.key: item for item in inst.items} for inst in (COWS, CIWA_AR)
}

COWS_MAX = COWS.max_total  # 48
CIWA_AR_MAX = CIWA_AR.max_total  # 67


def allowed_in_words(allowed: Sequence[int]) -> str:
    """'0, 1, 2 or 4'; a run without gaps reads 'a whole number from 0 to 7'."""
    values = sorted(allowed)
    if len(values) > 5 and values == list(range(values[0], values[-1] + 1)):
        return f"a whole number from {values[0]} to {values[-1]}"
    words = [str(v) for v in values]
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} or {words[-1]}"


def check_item(instrument: Instrument, key: object, value: object) -> int:
    """The value as a score, or ItemError naming the item and what it accepts."""
    item = _ITEM_INDEX[instrument.key].get(key) if isinstance(key, str) else None
    if item is None:
        shown = repr(key) if len(repr(key)) <= 40 else repr(key)[:37] + "..."
        raise ItemError(f"{instrument.short} has no item {shown}.", str(key)[:40])
    if not _is_int(value) or value not in item.allowed:
        raise ItemError(
            f"{item.label} score must be {allowed_in_words(item.allowed)}.",
            item.key,
        )
    return int(value)


def _score(instrument: Instrument, items: Mapping[str, int], bands: BandTable) -> InstrumentScore:
    if not isinstance(items, Mapping):
        raise TypeError("Item scores must be a mapping of item key to score.")
    scores = {key: check_item(instrument, key, value) for key, value in items.items()}
    if len(scores) < len(instrument.items):
        return InstrumentScore(total=None, band=None)
    total = sum(scores.values())
    return InstrumentScore(total=total, band=bands.band_for(total))


def score_cows(items: Mapping[str, int]) -> InstrumentScore:
    """COWS total (0–48) and band; every given item is checked even while some are missing."""
    return _score(COWS, items, COWS_BANDS)


def ciwa_ar_bands(bands: BandTable | Sequence[int] | None) -> BandTable:
    """A facility's CIWA-Ar bands: a BandTable, or (mild_max, moderate_max) upper bounds."""
    if bands is None:
        table = CIWA_AR_DEFAULT_BANDS
    elif isinstance(bands, BandTable):
        table = bands
    elif isinstance(bands, Sequence) and not isinstance(bands, str) and len(bands) == 2:
        mild_max, moderate_max = bands
        table = BandTable(
            bounds=((mild_max, Band.MILD), (moderate_max, Band.MODERATE)), top=Band.SEVERE
        )
    else:
        raise DomainError(
            "CIWA-Ar bands must be a band table or two upper bounds (mild, moderate).", "bands"
        )
    table.check_fits(CIWA_AR_MAX)
    return table


def score_ciwa_ar(
    items: Mapping[str, int], bands: BandTable | Sequence[int] | None = None
) -> InstrumentScore:
    """CIWA-Ar total (0–67) and band, by the default or a facility's band table."""
    return _score(CIWA_AR, items, ciwa_ar_bands(bands))


def pulse_score(bpm: int) -> int:
    """The COWS resting-pulse item for a measured rate, to pre-fill the form (§2.1 anchors).

    The raw rate itself is a vital sign (vitals.Vitals.heart_rate), not a COWS item.
    """
    if not _is_int(bpm) or bpm <= 0:
        raise DomainError("Pulse must be a whole number of beats per minute.", "heart_rate")
    if bpm <= 80:
        return 0
    if bpm <= 100:
        return 1
    if bpm <= 120:
        return 2
    return 4

"""COWS and CIWA-Ar scoring as pure functions (no Flask): every allowed set, every band edge."""

import pytest

from casemgr.domain.errors import DomainError
from casemgr.domain.withdrawal import (
    CIWA_AR,
    CIWA_AR_ITEMS,
    CIWA_AR_MAX,
    COWS,
    COWS_ITEMS,
    COWS_MAX,
    Band,
    BandTable,
    InstrumentScore,
    ItemError,
    allowed_in_words,
    pulse_score,
    score_ciwa_ar,
    score_cows,
)

# The published allowed sets, domain reference §2.1, in item order. Written out here rather
# than read from the module so a slip in the table is caught.
COWS_ALLOWED = {
    "resting_pulse": {0, 1, 2, 4},
    "sweating": {0, 1, 2, 3, 4},
    "restlessness": {0, 1, 3, 5},
    "pupil_size": {0, 1, 2, 5},
    "bone_joint_aches": {0, 1, 2, 4},
    "runny_nose_tearing": {0, 1, 2, 4},
    "gi_upset": {0, 1, 2, 3, 5},
    "tremor": {0, 1, 2, 4},
    "yawning": {0, 1, 2, 4},
    "anxiety_irritability": {0, 1, 2, 4},
    "gooseflesh": {0, 3, 5},
}
CIWA_ALLOWED = {
    **{
        key: set(range(8))
        for key in (
            "nausea_vomiting",
            "tremor",
            "paroxysmal_sweats",
            "anxiety",
            "agitation",
            "tactile_disturbances",
            "auditory_disturbances",
            "visual_disturbances",
            "headache",
        )
    },
    "orientation": set(range(5)),
}


def zeros(allowed):
    return dict.fromkeys(allowed, 0)


def cows_with_total(total):
    """A complete COWS answer summing to `total`, filled greedily from the largest items."""
    items, left = zeros(COWS_ALLOWED), total
    for key, values in COWS_ALLOWED.items():
        pick = max(v for v in values if v <= left)
        items[key] = pick
        left -= pick
    assert left == 0 and sum(items.values()) == total
    return items


def ciwa_with_total(total):
    items, left = zeros(CIWA_ALLOWED), total
    for key, values in CIWA_ALLOWED.items():
        items[key] = min(max(values), left)
        left -= items[key]
    assert left == 0
    return items


def neighbours(allowed):
    """The integers just outside and between the allowed values: where typos land."""
    candidates = {v + d for v in allowed for d in (-1, 1)}
    return sorted(candidates - allowed)


# --- item tables -------------------------------------------------------------------------


def test_tables_match_the_published_items():
    assert [i.key for i in COWS_ITEMS] == list(COWS_ALLOWED)
    assert {i.key: set(i.allowed) for i in COWS_ITEMS} == COWS_ALLOWED
    assert [i.key for i in CIWA_AR_ITEMS] == list(CIWA_ALLOWED)
    assert {i.key: set(i.allowed) for i in CIWA_AR_ITEMS} == CIWA_ALLOWED
    assert COWS_MAX == COWS.max_total == 48
    assert CIWA_AR_MAX == CIWA_AR.max_total == 67


def test_tables_carry_what_a_form_needs():
    for item in COWS_ITEMS:
        assert item.label and item.prompt
        assert all(o.description for o in item.options)  # every COWS score has an anchor
    pulse = COWS.item("resting_pulse")
    assert pulse.describe(4) == "Over 120"
    assert CIWA_AR.item("orientation").describe(4) == "Disoriented for place and/or person"
    assert CIWA_AR.item("nausea_vomiting").describe(0)
    assert "pulse" not in {i.key for i in COWS_ITEMS}  # raw bpm is a vital, not an item


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in COWS_ALLOWED.items() for v in vs])
def test_cows_accepts_every_allowed_value(key, value):
    items = zeros(COWS_ALLOWED) | {key: value}
    assert score_cows(items).total == value
    assert score_cows({key: value}) == InstrumentScore(None, None)


@pytest.mark.parametrize(
    ("key", "value"), [(k, v) for k, vs in COWS_ALLOWED.items() for v in neighbours(vs)]
)
def test_cows_refuses_neighbouring_values_naming_the_item(key, value):
    with pytest.raises(ItemError) as err:
        score_cows(zeros(COWS_ALLOWED) | {key: value})
    assert err.value.item == key
    assert err.value.field == key
    assert COWS.item(key).label in str(err.value)
    assert isinstance(err.value, ValueError)


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, vs in CIWA_ALLOWED.items() for v in vs])
def test_ciwa_accepts_every_allowed_value(key, value):
    assert score_ciwa_ar(zeros(CIWA_ALLOWED) | {key: value}).total == value


@pytest.mark.parametrize(
    ("key", "value"), [(k, v) for k, vs in CIWA_ALLOWED.items() for v in neighbours(vs)]
)
def test_ciwa_refuses_neighbouring_values_naming_the_item(key, value):
    with pytest.raises(ItemError) as err:
        score_ciwa_ar(zeros(CIWA_ALLOWED) | {key: value})
    assert err.value.item == key
    assert CIWA_AR.item(key).label in str(err.value)


def test_messages_list_the_allowed_values_in_words():
    with pytest.raises(ValueError, match=r"^Resting pulse score must be 0, 1, 2 or 4\.$"):
        score_cows({"resting_pulse": 3})
    with pytest.raises(ValueError, match=r"^Gooseflesh skin score must be 0, 3 or 5\.$"):
        score_cows({"gooseflesh": 4})
    with pytest.raises(ValueError, match=r"^GI upset score must be 0, 1, 2, 3 or 5\.$"):
        score_cows({"gi_upset": 4})
    with pytest.raises(ValueError, match=r"^Orientation .* must be 0, 1, 2, 3 or 4\.$"):
        score_ciwa_ar({"orientation": 5})
    with pytest.raises(ValueError, match=r"^Headache.* must be a whole number from 0 to 7\.$"):
        score_ciwa_ar({"headache": 8})
    assert allowed_in_words([5]) == "5"


# --- totals and bands --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("total", "band"),
    [
        (0, "none"),
        (4, "none"),
        (5, "mild"),
        (12, "mild"),
        (13, "moderate"),
        (24, "moderate"),
        (25, "moderately_severe"),
        (36, "moderately_severe"),
        (37, "severe"),
        (48, "severe"),
    ],
)
def test_cows_band_boundaries(total, band):
    result = score_cows(cows_with_total(total))
    assert result == InstrumentScore(total, band)
    assert result.complete


def test_cows_maximum_is_every_top_score():
    assert score_cows({k: max(v) for k, v in COWS_ALLOWED.items()}).total == 48


@pytest.mark.parametrize(
    ("total", "band"),
    [(0, "mild"), (7, "mild"), (8, "moderate"), (15, "moderate"), (16, "severe"), (67, "severe")],
)
def test_ciwa_default_band_boundaries(total, band):
    assert score_ciwa_ar(ciwa_with_total(total)) == InstrumentScore(total, band)


@pytest.mark.parametrize(
    ("total", "band"),
    [(10, "mild"), (11, "moderate"), (15, "moderate"), (16, "severe")],
)
def test_ciwa_custom_bands_as_bounds_or_table(total, band):
    # The other published table (§2.2): ≤10 mild, 11–15 moderate, ≥16 severe.
    items = ciwa_with_total(total)
    assert score_ciwa_ar(items, bands=(10, 15)).band == band
    table = BandTable(bounds=((10, Band.MILD), (15, Band.MODERATE)), top=Band.SEVERE)
    assert score_ciwa_ar(items, bands=table) == InstrumentScore(total, band)


def test_ciwa_custom_table_may_add_a_none_band():
    table = BandTable(bounds=((2, Band.NONE), (9, Band.MILD), (20, Band.MODERATE)), top="severe")
    assert score_ciwa_ar(ciwa_with_total(2), bands=table).band == "none"
    assert score_ciwa_ar(ciwa_with_total(21), bands=table).band == "severe"


@pytest.mark.parametrize(
    "bands",
    [
        (15, 8),  # not increasing
        (8, 8),
        (-1, 8),
        (7.5, 15),
        (True, 15),
        ("7", 15),
        (7, 67),  # severe could never be reached
        (7,),
        (7, 15, 20),
        "7,15",
        42,
    ],
)
def test_ciwa_refuses_a_bad_band_table(bands):
    with pytest.raises(DomainError) as err:
        score_ciwa_ar(ciwa_with_total(10), bands=bands)
    assert err.value.field == "bands"


def test_band_table_refuses_unknown_or_repeated_bands():
    with pytest.raises(ValueError):
        BandTable(bounds=((7, "low"),), top=Band.SEVERE)
    with pytest.raises(ValueError):
        BandTable(bounds=((7, Band.MILD), (9, Band.MILD)), top=Band.SEVERE)
    with pytest.raises(ValueError):
        BandTable(bounds=(), top=Band.SEVERE)


def test_band_labels():
    assert Band.MODERATELY_SEVERE.label == "Moderately severe"


# --- missing and hostile input ------------------------------------------------------------


@pytest.mark.parametrize("missing", list(COWS_ALLOWED))
def test_cows_total_only_when_every_item_is_answered(missing):
    items = {k: max(v) for k, v in COWS_ALLOWED.items() if k != missing}
    assert score_cows(items) == InstrumentScore(total=None, band=None)
    assert not score_cows(items).complete


def test_empty_answers_have_no_total():
    assert score_cows({}) == InstrumentScore(None, None)
    assert score_ciwa_ar({}) == InstrumentScore(None, None)
    assert score_ciwa_ar({"orientation": 4}) == InstrumentScore(None, None)


def test_missing_items_still_validate_the_given_ones():
    with pytest.raises(ItemError, match="Gooseflesh"):
        score_cows({"gooseflesh": 4})


@pytest.mark.parametrize(
    "value",
    [-1, -4, 3, 5, 10**9, -(10**9), 2**63, True, False, None, "2", "", "0", 2.0, 1.5, float("nan")],
)
def test_cows_refuses_hostile_pulse_values(value):
    with pytest.raises(ItemError, match="Resting pulse") as err:
        score_cows(zeros(COWS_ALLOWED) | {"resting_pulse": value})
    assert err.value.item == "resting_pulse"


@pytest.mark.parametrize("value", [-1, 8, 10**9, True, None, "3", 3.0, [3], {"v": 3}])
def test_ciwa_refuses_hostile_values(value):
    with pytest.raises(ItemError, match="Nausea and vomiting"):
        score_ciwa_ar(zeros(CIWA_ALLOWED) | {"nausea_vomiting": value})


@pytest.mark.parametrize(
    "key", ["pulse", "total", "Resting_Pulse", "", "orientation", "x" * 500, 1, None]
)
def test_cows_refuses_unknown_items_naming_them(key):
    with pytest.raises(ItemError) as err:
        score_cows(zeros(COWS_ALLOWED) | {key: 0})
    assert "has no item" in str(err.value)
    assert str(key)[:20] in str(err.value)
    assert len(str(err.value)) < 80


def test_a_submitted_total_is_not_an_item():
    # The client's own total is ignored by the form layer; here it is simply not an item.
    with pytest.raises(ItemError, match="'total'"):
        score_cows(cows_with_total(10) | {"total": 48})


def test_cows_only_items_are_unknown_to_ciwa():
    with pytest.raises(ItemError, match="CIWA-Ar has no item 'gooseflesh'"):
        score_ciwa_ar({"gooseflesh": 0})


def test_items_must_be_a_mapping():
    with pytest.raises(TypeError):
        score_cows([("resting_pulse", 0)])


# --- pulse helper -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("bpm", "score"), [(35, 0), (80, 0), (81, 1), (100, 1), (101, 2), (120, 2), (121, 4)]
)
def test_pulse_score_follows_the_anchors(bpm, score):
    assert pulse_score(bpm) == score


@pytest.mark.parametrize("bpm", [0, -5, 80.5, True, "90"])
def test_pulse_score_refuses_nonsense(bpm):
    with pytest.raises(DomainError):
        pulse_score(bpm)

"""The phase rules, checked for every pair of phases (no Flask)."""

import itertools

import pytest

from casemgr.domain.phases import IllegalTransition, Phase, check_transition, next_phases, ordered

ALLOWED = {
    (Phase.INTAKE, Phase.DETOX),
    (Phase.INTAKE, Phase.REHAB),
    (Phase.INTAKE, Phase.DISCHARGED),
    (Phase.DETOX, Phase.REHAB),
    (Phase.DETOX, Phase.DISCHARGED),
    (Phase.REHAB, Phase.AFTERCARE),
    (Phase.REHAB, Phase.DETOX),
    (Phase.REHAB, Phase.DISCHARGED),
    (Phase.AFTERCARE, Phase.DETOX),
    (Phase.AFTERCARE, Phase.REHAB),
    (Phase.AFTERCARE, Phase.DISCHARGED),
}
ALL_PAIRS = list(itertools.product(Phase, Phase))


@pytest.mark.parametrize(("current", "target"), sorted(ALLOWED))
def test_allowed_moves_pass(current, target):
    check_transition(current, target)
    assert target in next_phases(current)


@pytest.mark.parametrize(("current", "target"), [p for p in ALL_PAIRS if p not in ALLOWED])
def test_every_other_move_is_refused(current, target):
    with pytest.raises(ValueError):
        check_transition(current, target)
    assert target not in next_phases(current)


def test_refusals_say_why():
    with pytest.raises(IllegalTransition, match="closed"):
        check_transition(Phase.DISCHARGED, Phase.INTAKE)
    with pytest.raises(IllegalTransition, match="already in detox"):
        check_transition(Phase.DETOX, Phase.DETOX)
    with pytest.raises(IllegalTransition, match="from detox to aftercare"):
        check_transition(Phase.DETOX, Phase.AFTERCARE)


def test_phases_are_plain_strings():
    assert Phase("detox") is Phase.DETOX and Phase.DETOX == "detox"
    assert [p.value for p in Phase] == ["intake", "detox", "rehab", "aftercare", "discharged"]


def test_menus_list_moves_in_treatment_order():
    assert ordered(next_phases(Phase.AFTERCARE)) == [Phase.DETOX, Phase.REHAB, Phase.DISCHARGED]

"""The treatment episode's phases and the moves allowed between them. No Flask, no ORM."""

from __future__ import annotations

from enum import StrEnum


class Phase(StrEnum):
    INTAKE = "intake"
    DETOX = "detox"
    REHAB = "rehab"
    AFTERCARE = "aftercare"
    DISCHARGED = "discharged"

    @property
    def label(self) -> str:
        return self.value.capitalize()


class IllegalTransition(ValueError):
    pass


# Detox may be skipped when intake finds no withdrawal risk (a reason is always recorded);
# a relapse in rehab or aftercare may need withdrawal management again; aftercare may step
# back up to rehab; any open phase may end in discharge. Readmission opens a new episode.
_NEXT: dict[Phase, frozenset[Phase]] = {
    Phase.INTAKE: frozenset({Phase.DETOX, Phase.REHAB, Phase.DISCHARGED}),
    Phase.DETOX: frozenset({Phase.REHAB, Phase.DISCHARGED}),
    Phase.REHAB: frozenset({Phase.AFTERCARE, Phase.DETOX, Phase.DISCHARGED}),
    Phase.AFTERCARE: frozenset({Phase.DETOX, Phase.REHAB, Phase.DISCHARGED}),
    Phase.DISCHARGED: frozenset(),
}

OPEN_PHASES = frozenset(p for p in Phase if p is not Phase.DISCHARGED)


def next_phases(current: Phase) -> frozenset[Phase]:
    return _NEXT[Phase(current)]


def check_transition(current: Phase, target: Phase) -> None:
    current, target = Phase(current), Phase(target)
    if current is Phase.DISCHARGED:
        raise IllegalTransition("This episode is closed. Readmit the client to open a new episode.")
    if target is current:
        raise IllegalTransition(f"The episode is already in {current.label.lower()}.")
    if target not in _NEXT[current]:
        raise IllegalTransition(
            f"Cannot move from {current.label.lower()} to {target.label.lower()}."
        )


def ordered(phases: frozenset[Phase]) -> list[Phase]:
    """In treatment order, for menus."""
    return [p for p in Phase if p in phases]

"""Recording drug screens (UDS) and reading them back for charts, history and reports.

Services flush; the view commits. A screen is a clinical record: it is never edited or
deleted. A correction is a new screen whose comments say which one it corrects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, contains_eager, joinedload, selectinload

from ..auth.models import User
from ..domain import screens as panel
from ..domain.errors import DomainError
from ..domain.screens import Result
from ..episodes.models import Episode
from .models import DrugScreen, DrugScreenResult

PAGE_SIZE = 20
ON_CHART = 5


@dataclass(frozen=True)
class AnalyteResult:
    analyte: str
    result: Result
    expected: bool = False  # explained by a prescription (methadone or buprenorphine)


@dataclass(frozen=True)
class ScreenEntry:
    """Everything the collector records about one specimen (or its refusal)."""

    collected_at: datetime
    results: tuple[AnalyteResult, ...]
    specimen_type: str = "urine"
    observed: bool = False
    temperature_in_range: bool | None = None  # None: not checked
    adulterant_suspected: bool = False
    refused: bool = False
    action_taken: str = ""
    comments: str = ""


@dataclass(frozen=True)
class Positive:
    label: str
    expected: bool


@dataclass(frozen=True)
class ResultLine:
    label: str
    result: str  # in words: "not tested"
    expected: bool


@dataclass(frozen=True)
class ScreenRow:
    """A screen as pages show it: the record, its summary word and results in words."""

    screen: DrugScreen
    summary: str
    positives: tuple[Positive, ...]
    results: tuple[ResultLine, ...]
    specimen: str


def check(entry: ScreenEntry, *, now: datetime, admitted_on: date, local_date: Callable) -> None:
    """Rules that span fields; raises DomainError naming the field to fix."""
    if entry.collected_at > now:
        raise DomainError("The collection time cannot be in the future.", "collected_at")
    if local_date(entry.collected_at) < admitted_on:
        raise DomainError("The collection time is before this episode's admission.", "collected_at")
    if entry.specimen_type not in dict(panel.SPECIMEN_TYPES):
        raise DomainError("Choose a specimen type from the list.", "specimen_type")
    analytes = [r.analyte for r in entry.results]
    if sorted(analytes) != sorted(code for code, _ in panel.PANEL):
        raise DomainError("Record a result for every substance on the panel.")
    for r in entry.results:
        if r.expected and r.analyte not in panel.MEDICATION_ANALYTES:
            medications = " or ".join(sorted(analyte_label(c) for c in panel.MEDICATION_ANALYTES))
            raise DomainError(
                f"Only a prescribed medication ({medications}) can be expected.",
                f"expected_{r.analyte}",
            )
        if r.expected and r.result is not Result.POSITIVE:
            raise DomainError("Only a positive result can be expected.", f"expected_{r.analyte}")
    tested = [r for r in entry.results if r.result is not Result.NOT_TESTED]
    if entry.refused and tested:
        raise DomainError(
            "A refused screen has no results: set every substance to not tested.", "refused"
        )
    if not entry.refused and not tested:
        raise DomainError("Enter at least one result, or record the screen as refused.")
    if needs_action(entry) and not entry.action_taken.strip():
        raise DomainError(
            "Say what was done about the unexpected positive, invalid result or refusal.",
            "action_taken",
        )


def needs_action(entry: ScreenEntry) -> bool:
    return entry.refused or any(
        (r.result is Result.POSITIVE and not r.expected) or r.result is Result.INVALID
        for r in entry.results
    )


def record_screen(
    session: Session,
    episode: Episode,
    entry: ScreenEntry,
    *,
    collector: User,
    now: datetime,
    local_date: Callable,
) -> DrugScreen:
    if not episode.is_open:
        raise DomainError("The episode is closed; screens are recorded on an open episode.")
    check(entry, now=now, admitted_on=episode.admitted_on, local_date=local_date)
    order = {code: i for i, (code, _) in enumerate(panel.PANEL)}
    screen = DrugScreen(
        episode=episode,
        collected_at=entry.collected_at,
        collector_id=collector.id,
        specimen_type=entry.specimen_type,
        observed=entry.observed,
        temperature_in_range=entry.temperature_in_range,
        adulterant_suspected=entry.adulterant_suspected,
        refused=entry.refused,
        action_taken=entry.action_taken.strip(),
        comments=entry.comments.strip(),
        results=[
            DrugScreenResult(analyte=r.analyte, result=r.result, expected=r.expected)
            for r in sorted(entry.results, key=lambda r: order[r.analyte])
        ],
    )
    session.add(screen)
    session.flush()
    return screen


def screen_summary(screen: DrugScreen) -> str:
    """'negative', 'positive', 'invalid' or 'refused' (a refusal counts as positive)."""
    return panel.summary(
        screen.refused, {r.analyte: (r.result, r.expected) for r in screen.results}
    )


def analyte_label(code: str) -> str:
    """The panel's name for an analyte; the code itself once it has left the panel."""
    return dict(panel.PANEL).get(code, code)


def row(screen: DrugScreen) -> ScreenRow:
    positives = tuple(
        Positive(analyte_label(r.analyte), r.expected)
        for r in screen.results
        if r.result is Result.POSITIVE
    )
    results = tuple(
        ResultLine(analyte_label(r.analyte), r.result.value.replace("_", " "), r.expected)
        for r in screen.results
    )
    specimen = dict(panel.SPECIMEN_TYPES).get(screen.specimen_type, screen.specimen_type)
    return ScreenRow(screen, screen_summary(screen), positives, results, specimen)


def _for_client(client_id: int) -> sa.Select:
    return (
        sa.select(DrugScreen)
        .join(DrugScreen.episode)
        .where(Episode.client_id == client_id)
        .options(contains_eager(DrugScreen.episode), selectinload(DrugScreen.results))
        .order_by(DrugScreen.collected_at.desc(), DrugScreen.id.desc())
    )


def latest_screens(session: Session, client_id: int, limit: int) -> list[DrugScreen]:
    """A client's most recent screens across episodes, newest first, results loaded."""
    return list(session.scalars(_for_client(client_id).limit(limit)))


def on_chart(session: Session, client_id: int) -> list[ScreenRow]:
    """The compact table on the client page: the latest screens across episodes."""
    return [row(s) for s in latest_screens(session, client_id, ON_CHART)]


def history(session: Session, client_id: int, page: int) -> tuple[list[ScreenRow], bool]:
    """One page of a client's screens, newest first, and whether an older page exists."""
    stmt = (
        _for_client(client_id)
        .options(joinedload(DrugScreen.collector))
        .limit(PAGE_SIZE + 1)
        .offset((page - 1) * PAGE_SIZE)
    )
    screens = list(session.scalars(stmt))
    return [row(s) for s in screens[:PAGE_SIZE]], len(screens) > PAGE_SIZE


def load(session: Session, screen_id: int) -> DrugScreen | None:
    return session.scalar(
        sa.select(DrugScreen)
        .where(DrugScreen.id == screen_id)
        .options(selectinload(DrugScreen.results), joinedload(DrugScreen.collector))
    )

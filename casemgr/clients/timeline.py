"""A client's episodes as timeline data: phase history and levels of care as dated spans."""

from __future__ import annotations

from datetime import date

from ..charts.timeline import LEVEL, EpisodeLane, Span, TimelineData, timeline_summary
from ..domain.care import level_name
from ..domain.phases import Phase
from ..episodes.models import Episode
from ..timefmt import local_date, today
from .models import Client


def timeline_for(client: Client, today: date) -> TimelineData:
    return TimelineData(episodes=[_lane(e) for e in client.episodes], today=today)


def timeline_summary_for(client: Client) -> str:
    """The timeline in words, as of the facility's today (for templates)."""
    return timeline_summary(timeline_for(client, today()))


def _lane(episode: Episode) -> EpisodeLane:
    return EpisodeLane(
        number=episode.number,
        admitted_on=episode.admitted_on,
        discharged_on=episode.discharged_on,
        phases=_phase_spans(episode),
        levels=[_level_span(span, episode) for span in episode.levels_of_care],
    )


def _phase_spans(episode: Episode) -> list[Span]:
    """Each phase from the day it began until the next began (or discharge, or still open).
    The admission is dated by `admitted_on` (its change row holds when it was recorded);
    a move by the facility date of its `effective_at`, as `Episode.phase_started_on` is."""
    starts: list[tuple[date, Phase]] = []
    for change in episode.phase_changes:
        if change.to_phase is Phase.DISCHARGED:
            continue
        on = episode.admitted_on if change.from_phase is None else local_date(change.effective_at)
        starts.append((max(on, episode.admitted_on), change.to_phase))
    if not starts and episode.is_open:  # no history rows: what the episode says now
        starts.append((episode.phase_started_on, episode.phase))
    spans = []
    for index, (start, phase) in enumerate(starts):
        end = starts[index + 1][0] if index + 1 < len(starts) else episode.discharged_on
        spans.append(Span(start, _not_before(end, start), phase.label, phase.value))
    return spans


def _level_span(span, episode: Episode) -> Span:
    # A level still open when the episode was discharged ended with it.
    end = _not_before(span.ended_on or episode.discharged_on, span.started_on)
    detail = level_name(span.code_system, span.code)
    return Span(span.started_on, end, span.code, LEVEL, "" if detail == span.code else detail)


def _not_before(end: date | None, start: date) -> date | None:
    """Dates entered later may disagree (a discharge dated before the last move): clamp."""
    return None if end is None else max(end, start)

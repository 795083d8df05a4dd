"""Building drug screens for tests, through the service (with an explicit clock)."""

from __future__ import annotations

from datetime import datetime

from casemgr.domain import screens as panel
from casemgr.domain.screens import Result
from casemgr.extensions import db
from casemgr.screens import services
from tests.clients_helpers import NOW


def entry(results: dict[str, str] | None = None, expected=(), **overrides) -> services.ScreenEntry:
    """Every analyte negative unless `results` says otherwise (refused: all not tested)."""
    default = Result.NOT_TESTED if overrides.get("refused") else Result.NEGATIVE
    given = results or {}
    rows = tuple(
        services.AnalyteResult(code, Result(given.get(code, default)), code in expected)
        for code, _ in panel.PANEL
    )
    return services.ScreenEntry(**{"collected_at": NOW, "results": rows, **overrides})


def recorded(episode, collector, *, now: datetime = NOW, **kwargs):
    screen = services.record_screen(
        db.session,
        episode,
        entry(**kwargs),
        collector=collector,
        now=now,
        local_date=lambda d: d.date(),
    )
    db.session.commit()
    return screen

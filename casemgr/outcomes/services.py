"""The outcomes page, its charts and its CSV, from one selection (a date range and filters).

Figures come from `casemgr.domain.outcomes.report`; their definitions on the page are the
docstrings of the domain functions that compute them, so the page documents itself. The
figures are aggregates: nothing here names or numbers a client. Services audit and flush;
the view commits.
"""

from __future__ import annotations

import csv
import inspect
import io
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, timedelta, tzinfo
from functools import cache
from typing import Any

from sqlalchemy.orm import Session

from ..audit.hooks import record
from ..charts import outcomes as charts
from ..domain import outcomes as o
from ..domain.care import DEFAULT_CODE_SYSTEM, level_name
from ..domain.outcomes import Cohort, Count, Figure, Median, Period
from ..domain.text import neutralize_cell
from . import queries

Result = Count | Figure | Median


def default_period(today: date) -> Period:
    """The last full twelve months: from the day after the same date a year before yesterday,
    through yesterday (today is not over yet). On 2026-11-25: 2025-11-25 to 2026-11-24."""
    end = today - timedelta(days=1)
    try:
        year_before = end.replace(year=end.year - 1)
    except ValueError:  # 29 February: a year before is the 28th
        year_before = end.replace(year=end.year - 1, day=28)
    return Period(year_before + timedelta(days=1), end)


@dataclass(frozen=True)
class Selection:
    """What the figures are for. The level of care is the episode's level at admission; the
    counselor is its primary counselor."""

    period: Period
    level_of_care: str | None = None
    counselor_id: int | None = None
    counselor_name: str = ""

    def args(self) -> dict[str, str]:
        """The query string that selects the same figures (for the chart and CSV links)."""
        values = {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "level": self.level_of_care or "",
            "counselor": str(self.counselor_id) if self.counselor_id else "",
        }
        return {k: v for k, v in values.items() if v}

    @property
    def level_text(self) -> str:
        if self.level_of_care is None:
            return "All levels of care"
        return f"{self.level_of_care} ({level_name(DEFAULT_CODE_SYSTEM, self.level_of_care)})"

    @property
    def counselor_text(self) -> str:
        return self.counselor_name if self.counselor_id else "All counselors"

    def audit_detail(self) -> dict[str, Any]:
        return {
            "start": self.period.start.isoformat(),
            "end": self.period.end.isoformat(),
            "level_of_care": self.level_of_care,
            "counselor_id": self.counselor_id,
        }


@dataclass(frozen=True)
class Outcomes:
    selection: Selection
    as_of: date
    figures: tuple[Result, ...]

    def __getitem__(self, key: str) -> Result:
        return {f.key: f for f in self.figures}[key]

    def starting(self, prefix: str) -> list[Result]:
        return [f for f in self.figures if f.key.startswith(prefix)]

    @property
    def followups(self) -> list[tuple[int, Result, Result]]:
        """(days, reached, no use among those reached) for each outcome follow-up."""
        return [
            (days, self[f"followup_{days}_reached"], self[f"followup_{days}_no_use"])
            for days in o.FOLLOWUP_DAYS
        ]


def outcomes(session: Session, selection: Selection, *, as_of: date, tz: tzinfo) -> Outcomes:
    cohort: Cohort = queries.load_cohort(session, selection.period, tz)
    cohort = cohort.filtered(
        level_of_care=selection.level_of_care, counselor_id=selection.counselor_id
    )
    return Outcomes(selection, as_of, o.report(cohort, selection.period, as_of=as_of))


def record_view(session: Session, page: Outcomes) -> None:
    record(session, "outcomes.viewed", detail=page.selection.audit_detail())


# ------------------------------------------------------------------------ words


def result_text(figure: Result) -> str:
    """How the page writes a figure: '12'; '2 of 3 (67%)'; '14.5 days (n = 4)';
    'no data (n = 0)' when there is nothing to divide or take the median of."""
    if isinstance(figure, Count):
        return str(figure.n)
    if isinstance(figure, Median):
        if figure.days is None:
            return "no data (n = 0)"
        return f"{figure.days:g} days (n = {figure.n})"
    return figure.text


# The domain function whose docstring defines each figure, by the figure's key or its prefix.
_DEFINED_BY: dict[str, Callable[..., Any]] = {
    "admissions": o.admissions,
    "discharges": o.discharges,
    "completion_rate": o.completion_rate,
    "against_advice_rate": o.against_advice_rate,
    "administrative_rate": o.administrative_discharge_rate,
    "reason": o.discharges_by_reason,
    "stay": o.median_stay,
    "retention": o.retention,
    "reached": o.followup_reached,
    "no_use": o.followup_no_use,
    "readmission": o.readmissions,
}


def definition_name(key: str) -> str:
    """Which definition a figure key falls under: 'reason_2' -> 'reason'."""
    if key in _DEFINED_BY:
        return key
    for suffix in ("reached", "no_use"):
        if key.startswith("followup_") and key.endswith(suffix):
            return suffix
    return key.split("_", 1)[0]


@cache
def definitions() -> dict[str, tuple[str, ...]]:
    """Each definition as paragraphs of plain text, from the domain function's docstring."""
    return {name: _paragraphs(fn.__doc__ or "") for name, fn in _DEFINED_BY.items()}


def _paragraphs(doc: str) -> tuple[str, ...]:
    text = inspect.cleandoc(doc).replace("`as_of`", "the report date")
    text = text.replace("`", "")
    return tuple(" ".join(p.split()) for p in re.split(r"\n\s*\n", text) if p.strip())


# ------------------------------------------------------------------------ charts

CHARTS = ("discharges", "engagement")


def discharge_bars(page: Outcomes) -> list[charts.CountBar]:
    return [
        charts.CountBar(f"{f.key.removeprefix('reason_')} {f.label}", f.numerator)
        for f in page.starting("reason_")
        if isinstance(f, Figure)
    ]


def engagement_groups(page: Outcomes) -> list[charts.RateGroup]:
    def bars(figures: list[Result]) -> list[charts.RateBar]:
        return [
            charts.RateBar(f"{_days(f.key)} days", f.numerator, f.denominator)
            for f in figures
            if isinstance(f, Figure)
        ]

    reached = [f for f in page.starting("followup_") if f.key.endswith("_reached")]
    return [
        charts.RateGroup("In treatment (retention)", bars(page.starting("retention_"))),
        charts.RateGroup("Reached at follow-up", bars(reached), colour="#1e5b32"),
    ]


def _days(key: str) -> str:
    return next(part for part in key.split("_") if part.isdigit())


def chart_svg(page: Outcomes, name: str) -> str:
    if name == "discharges":
        return charts.discharges_svg(discharge_bars(page))
    return charts.engagement_svg(engagement_groups(page))


def chart_summary(page: Outcomes, name: str) -> str:
    if name == "discharges":
        return charts.discharges_summary(discharge_bars(page))
    return charts.engagement_summary(engagement_groups(page))


# ------------------------------------------------------------------------ CSV

CSV_COLUMNS = (
    "key",
    "label",
    "numerator",
    "denominator",
    "rate",
    "median_days",
    "period_start",
    "period_end",
    "as_of",
    "level_of_care",
    "counselor",
)


def csv_rows(page: Outcomes) -> list[list[str]]:
    """One row per figure, in page order. A rate is numerator / denominator to 4 places,
    blank when the denominator is 0 (no data). A count fills only `numerator`; a median
    fills `denominator` (its n, the number of stays) and `median_days`."""
    sel = page.selection
    context = (
        sel.period.start.isoformat(),
        sel.period.end.isoformat(),
        page.as_of.isoformat(),
        sel.level_of_care or "all",
        sel.counselor_name if sel.counselor_id else "all",
    )
    return [[neutralize_cell(v) for v in (*_values(f), *context)] for f in page.figures]


def _values(f: Result) -> tuple[Any, ...]:
    if isinstance(f, Count):
        return f.key, f.label, f.n, "", "", ""
    if isinstance(f, Median):
        return f.key, f.label, "", f.n, "", "" if f.days is None else f"{f.days:g}"
    rate = "" if f.rate is None else f"{f.rate:.4f}"
    return f.key, f.label, f.numerator, f.denominator, rate, ""


def export_csv(session: Session, page: Outcomes) -> str:
    """The figures as RFC 4180 CSV with a UTF-8 BOM, every cell neutralised against formula
    injection, as the census export does. The export is audited."""
    rows = csv_rows(page)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_COLUMNS)
    writer.writerows(rows)
    record(
        session, "outcomes.exported", detail={**page.selection.audit_detail(), "rows": len(rows)}
    )
    return "\ufeff" + out.getvalue()


def csv_filename(page: Outcomes) -> str:
    period = page.selection.period
    return f"outcomes-{period.start.isoformat()}-to-{period.end.isoformat()}.csv"

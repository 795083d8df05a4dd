"""Showing stored UTC times in the facility's time zone, in one format everywhere."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import Flask, current_app
from markupsafe import Markup

DATETIME_FORMAT = "%Y-%m-%d %H:%M"


def facility_tz() -> ZoneInfo:
    return ZoneInfo(current_app.config["TIMEZONE"])


def local(value: datetime | None) -> datetime | None:
    return value.astimezone(facility_tz()) if value else None


def format_datetime(value: datetime | None, fmt: str = DATETIME_FORMAT) -> str:
    return local(value).strftime(fmt) if value else ""


_WHEN = Markup(
    '<time datetime="{}"><span class="nowrap">{}</span> <span class="nowrap">{}</span></time>'
)


def when(value: datetime) -> Markup:
    """A facility time that may wrap between the date and the time, never inside either.
    A filter rather than a template macro: the detox board shows four per row."""
    at = local(value)
    return _WHEN.format(value.isoformat(), at.strftime("%Y-%m-%d"), at.strftime("%H:%M"))


def init_app(app: Flask) -> None:
    app.jinja_env.filters["dt"] = format_datetime
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["date"] = lambda v: format_datetime(v, "%Y-%m-%d")


def from_local(value: datetime) -> datetime:
    """A wall-clock time typed at the facility, as an aware datetime."""
    from datetime import UTC

    return value.replace(tzinfo=facility_tz()).astimezone(UTC)


def local_date(value: datetime):
    """The facility's calendar date of an instant."""
    return local(value).date()


def today():
    from .orm import utcnow

    return local_date(utcnow())


def day_start(day) -> datetime:
    """Midnight at the facility on `day`, as an aware datetime."""
    from datetime import time

    return from_local(datetime.combine(day, time.min))

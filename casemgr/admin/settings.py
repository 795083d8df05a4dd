"""Reading and writing facility settings; defaults come from configuration."""

from __future__ import annotations

import sqlalchemy as sa
from flask import current_app, g
from sqlalchemy.orm import Session

from .models import Setting

FACILITY_NAME = "facility_name"
DEMO = "demo"


def all_settings(session: Session) -> dict[str, str]:
    """One query per request, cached on `g`, for the header and the password rules."""
    if "settings" not in g:
        g.settings = {s.key: s.value for s in session.scalars(sa.select(Setting))}
    return g.settings


def facility_name(session: Session) -> str:
    return all_settings(session).get(FACILITY_NAME) or current_app.config["FACILITY_NAME"]


def is_demo(session: Session) -> bool:
    return all_settings(session).get(DEMO) == "1"


def put(session: Session, key: str, value: str) -> None:
    row = session.get(Setting, key)
    if row is None:
        session.add(Setting(key=key, value=value))
    else:
        row.value = value
    g.pop("settings", None)

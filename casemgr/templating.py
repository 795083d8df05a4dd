"""What every template can use: facility name, demo flag, role labels."""

from __future__ import annotations

from typing import Any

from flask import Flask, g

from .admin import settings
from .domain.roles import Role
from .extensions import db


def init_app(app: Flask) -> None:
    app.context_processor(_globals)
    app.jinja_env.globals["Role"] = Role


def _globals() -> dict[str, Any]:
    values = g.settings if "settings" in g else settings.all_settings(db.session)
    return {
        "facility_name": values.get(settings.FACILITY_NAME) or _config_name(),
        "demo_mode": values.get(settings.DEMO) == "1",
    }


def _config_name() -> str:
    from flask import current_app

    return current_app.config["FACILITY_NAME"]

"""What every template can use: facility name, demo flag, role labels."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, url_for
from markupsafe import Markup

from .admin import settings
from .domain import codes
from .domain.care import YOUTH_MAX_AGE, age_on, days_between, level_name
from .domain.medications import format_dose
from .domain.roles import Role
from .extensions import db
from .timefmt import today


def init_app(app: Flask) -> None:
    app.context_processor(_globals)
    app.jinja_env.filters["dose"] = format_dose  # {{ order.dose|dose(order.unit) }} → "30 mg"
    app.jinja_env.globals.update(
        Role=Role,
        code_label=lambda codes_name, code: codes.label(getattr(codes, codes_name), code),
        client_age=lambda client: age_on(client.date_of_birth, today()),
        is_youth=lambda client: age_on(client.date_of_birth, today()) <= YOUTH_MAX_AGE,
        level_name=level_name,
        days_between=days_between,
        facility_today=today,
        client_link=client_link,
    )


_LINK = Markup('<a href="{}"><bdi>{}, {}</bdi></a>')
_PREFERRED = Markup(' <span class="muted">“<bdi>{}</bdi>”</span>')


def client_link(client: Any, href: str | None = None) -> Markup:
    """A client's name linking to their chart (or to `href`: the detox board links to the
    detox summary), as every work list shows it. A function, not a template macro: the
    lists show it once per row, and a macro call costs more."""
    link = _LINK.format(
        href or url_for("clients.show", client_id=client.id),
        client.legal_last_name,
        client.legal_first_name,
    )
    return link + _PREFERRED.format(client.preferred_name) if client.preferred_name else link


def _globals() -> dict[str, Any]:
    values = g.settings if "settings" in g else settings.all_settings(db.session)
    return {
        "facility_name": values.get(settings.FACILITY_NAME) or _config_name(),
        "demo_mode": values.get(settings.DEMO) == "1",
    }


def _config_name() -> str:
    from flask import current_app

    return current_app.config["FACILITY_NAME"]

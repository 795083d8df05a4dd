"""casemgr: case management for substance-use treatment facilities."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


def create_app(config_overrides: dict[str, Any] | None = None) -> Flask:
    overrides = dict(config_overrides or {})
    instance = overrides.pop("INSTANCE_PATH", None) or os.environ.get("CASEMGR_INSTANCE_PATH")
    app = Flask(
        __name__,
        instance_path=str(Path(instance or ROOT / "instance").resolve()),
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
    )
    _private_instance_folder(Path(app.instance_path))

    from . import config

    config.load(app, overrides)
    _init_extensions(app)
    _register_blueprints(app)
    return app


def _private_instance_folder(path: Path) -> None:
    """The instance folder holds the SQLite database and the keys: owner access only."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    try:
        path.chmod(0o700)
    except PermissionError:  # not ours to change (e.g. a read-only mount); leave it
        pass


def _init_extensions(app: Flask) -> None:
    from . import (  # noqa: F401  (models registers tables)
        backup,
        cli,
        errors,
        models,
        policy,
        request_checks,
        sqlite_setup,
        templating,
        timefmt,
    )
    from .auth import web as auth_web
    from .detox import settings as detox_settings
    from .extensions import csrf, db, migrate

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    csrf.init_app(app)
    with app.app_context():
        sqlite_setup.init_app(app, db.engine)
    auth_web.init_app(app)
    policy.init_app(app)
    errors.init_app(app)
    request_checks.init_app(app)
    timefmt.init_app(app)
    templating.init_app(app)
    cli.init_app(app)
    backup.init_app(app)
    detox_settings.init_app(app)


def _register_blueprints(app: Flask) -> None:
    from .admin.views import bp as admin_bp
    from .aftercare.plan_views import bp as ccplan_bp
    from .aftercare.views import bp as aftercare_bp
    from .audit.views import bp as audit_bp
    from .auth.views import bp as auth_bp
    from .charts.views import bp as charts_bp
    from .clients.views import bp as clients_bp
    from .detox.views import bp as detox_bp  # also registers the medical-clearance guard
    from .episodes.views import bp as episodes_bp
    from .groups.views import bp as groups_bp
    from .health import bp as health_bp
    from .home.views import bp as home_bp
    from .mar.views import bp as mar_bp
    from .notes.views import bp as notes_bp
    from .outcomes.views import bp as outcomes_bp
    from .plans.views import bp as plans_bp
    from .printing.batch_views import bp as batches_bp
    from .printing.facility_views import bp as facility_reports_bp
    from .printing.views import bp as printing_bp
    from .privacy.consent_views import bp as consents_bp
    from .privacy.emergency_views import bp as emergency_bp
    from .privacy.restriction_views import bp as restrictions_bp
    from .screens.views import bp as screens_bp
    from .sites.views import bp as sites_bp
    from .transfer.views import bp as transfer_bp

    app.register_blueprint(auth_bp)
    app.register_blueprint(home_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(charts_bp)
    app.register_blueprint(admin_bp, url_prefix="/admin")
    app.register_blueprint(sites_bp, url_prefix="/admin/sites")
    app.register_blueprint(audit_bp, url_prefix="/audit")
    app.register_blueprint(clients_bp, url_prefix="/clients")
    app.register_blueprint(episodes_bp, url_prefix="/episodes")
    app.register_blueprint(notes_bp, url_prefix="/notes")
    app.register_blueprint(plans_bp, url_prefix="/plans")
    app.register_blueprint(groups_bp, url_prefix="/groups")
    app.register_blueprint(screens_bp, url_prefix="/screens")
    app.register_blueprint(detox_bp, url_prefix="/detox")
    app.register_blueprint(mar_bp, url_prefix="/mar")
    app.register_blueprint(aftercare_bp, url_prefix="/aftercare")
    app.register_blueprint(ccplan_bp, url_prefix="/aftercare/plans")
    app.register_blueprint(outcomes_bp, url_prefix="/outcomes")
    app.register_blueprint(printing_bp, url_prefix="/print")
    app.register_blueprint(facility_reports_bp, url_prefix="/print/facility")
    app.register_blueprint(batches_bp, url_prefix="/print")
    app.register_blueprint(consents_bp, url_prefix="/consents")
    app.register_blueprint(emergency_bp, url_prefix="/emergency")
    app.register_blueprint(restrictions_bp, url_prefix="/restrictions")
    app.register_blueprint(transfer_bp, url_prefix="/reports")

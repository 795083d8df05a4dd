"""A health check for load balancers and monitoring: can this app server reach its database
and, when one is configured, Redis?

200 when everything configured answers, 503 otherwise. Public and cheap: no client data, no
audit event, no session (nothing is read from or written to the cookie). Each check is
bounded (Redis: a one-second socket timeout; PostgreSQL: the connect timeout set in
config.py), so a dead backend fails the check instead of hanging it.
"""

import sqlalchemy as sa
from flask import Blueprint, current_app
from sqlalchemy.exc import DBAPIError

from . import queue
from .extensions import db
from .policy import public

bp = Blueprint("health", __name__)

UP, DOWN, NOT_CONFIGURED = "up", "down", "not configured"


@bp.get("/healthz")
@public
def healthz():
    checks = {"db": _database(), "redis": _redis()}
    healthy = DOWN not in checks.values()
    return {"status": "ok" if healthy else "unavailable", **checks}, 200 if healthy else 503


def _database() -> str:
    try:
        db.session.execute(sa.text("SELECT 1"))
    except DBAPIError:
        return DOWN
    finally:
        db.session.rollback()
    return UP


def _redis() -> str:
    import redis

    url = current_app.config.get("REDIS_URL")
    if not url:
        return NOT_CONFIGURED
    try:
        queue.connection(url).ping()
    except redis.RedisError:
        return DOWN
    return UP

"""A health check for load balancers and monitoring: is the database reachable?"""

import sqlalchemy as sa
from flask import Blueprint
from sqlalchemy.exc import DBAPIError

from .extensions import db
from .policy import public

bp = Blueprint("health", __name__)


@bp.get("/healthz")
@public
def healthz():
    try:
        db.session.execute(sa.text("SELECT 1"))
        db.session.rollback()
    except DBAPIError:
        db.session.rollback()
        return {"status": "unavailable", "db": "down"}, 503
    return {"status": "ok", "db": "up"}

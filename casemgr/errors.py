"""Error pages, including 503 when the database is unreachable, and security headers."""

from __future__ import annotations

import logging
import re

from flask import Flask, Response, current_app, g, render_template, request
from flask_login import AnonymousUserMixin
from flask_wtf.csrf import CSRFError
from sqlalchemy.exc import DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from .audit.hooks import record
from .extensions import db

log = logging.getLogger("casemgr")


class _WithoutRowValues(logging.Filter):
    """The log names records by id, never a client: PostgreSQL repeats a failing row's values
    in the DETAIL line of its errors ("Failing row contains (..., <name>, ...)"), so a logged
    traceback keeps that line without them. (SQLAlchemy's bound parameters are kept out by the
    engine option hide_parameters.)"""

    DETAIL = re.compile(r"^DETAIL: .*$", re.MULTILINE)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.exc_info and record.exc_info[1] is not None and not record.exc_text:
            text = logging.Formatter().formatException(record.exc_info)
            record.exc_text = self.DETAIL.sub("DETAIL:  (values not logged)", text)
        return True


_ROW_VALUES = _WithoutRowValues()

_TITLES = {
    400: "Bad request",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    413: "Too large",
    500: "Something went wrong",
    503: "Service unavailable",
}

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(CSRFError, _csrf_error)
    app.register_error_handler(OperationalError, _database_down)
    app.register_error_handler(DBAPIError, _database_error)
    app.register_error_handler(Exception, _unexpected)
    app.after_request(_security_headers)
    # Registered after db.init_app, so it runs before Flask-SQLAlchemy's own teardown.
    app.teardown_appcontext(_end_session)
    log.addFilter(_ROW_VALUES)  # once: the same filter object is not added twice


def _render(code: int, message: str = "", *, anonymous: bool = False) -> tuple[str, int]:
    if anonymous:  # the page must render without asking the (broken) database who is signed in
        g._login_user = AnonymousUserMixin()
        g.settings = {}
    return render_template(
        "errors/error.html",
        code=code,
        title=_TITLES.get(code, "Error"),
        message=message,
        request_id=g.get("request_id"),
    ), code


def _http_error(exc: HTTPException) -> tuple[str, int]:
    if exc.code == 403:
        _audit_denial()
    return _render(exc.code or 500, _MESSAGES.get(exc.code or 500, ""))


_MESSAGES = {
    400: "The request could not be understood. Go back, reload the page and try again.",
    403: "Your role does not allow this. If you need it for your work, ask a clinic manager or administrator.",
    404: "There is nothing at this address, or you do not have access to it.",
    405: "That action is not available here.",
    413: "What you sent is larger than the facility allows.",
}


def _audit_denial() -> None:
    """Authorisation refusals are part of the trail (who tried what)."""
    try:
        db.session.rollback()
        record(
            db.session,
            "authz.denied",
            detail={"endpoint": request.endpoint, "method": request.method},
        )
        db.session.commit()
    except DBAPIError:
        db.session.rollback()


def _csrf_error(exc: CSRFError) -> tuple[str, int]:
    return _render(
        400,
        "The form's security token was missing or expired. Reload the page and submit it again.",
    )


def _database_down(exc: OperationalError) -> tuple[str, int]:
    db.session.rollback()
    log.error("database unavailable (request %s): %s", g.get("request_id"), type(exc).__name__)
    body, code = _render(
        503,
        "The records database is not reachable right now. Nothing was saved. Try again in a minute.",
        anonymous=True,
    )
    return body, code


def _database_error(exc: DBAPIError) -> tuple[str, int]:
    if exc.connection_invalidated:
        return _database_down(exc)  # type: ignore[arg-type]
    return _unexpected(exc)


def _unexpected(exc: Exception) -> tuple[str, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    db.session.rollback()
    log.exception("unhandled error (request %s)", g.get("request_id"))
    if current_app.config.get("PROPAGATE_EXCEPTIONS"):
        raise exc
    return _render(
        500,
        "The error has been logged. Nothing was saved; try again, and if it repeats, "
        "tell your administrator the reference below.",
        anonymous=True,
    )


def _end_session(exc: BaseException | None) -> None:
    """Close the request's session. When the database went away during the request, the
    closing ROLLBACK fails after the response was made and the worker would answer a bare
    500 instead of it; the connection is already invalidated, so the session is dropped and
    the next request reconnects (pool_pre_ping)."""
    try:
        db.session.remove()
    except DBAPIError as err:
        if not err.connection_invalidated:
            raise
        log.error("database connection lost (request %s)", g.get("request_id"))
        db.session.registry.clear()


def _security_headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "no-referrer")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if request.endpoint != "static":
        h["Cache-Control"] = "no-store"
    if response.status_code == 503:
        h.setdefault("Retry-After", "30")
    if current_app.config.get("HTTPS"):
        h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
    return response

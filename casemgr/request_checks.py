"""Requests whose text is not UTF-8 are refused before any view sees them.

Werkzeug decodes percent-escaped bytes that are not UTF-8 (``%C3%28``) into the literal text
"%C3(" rather than failing, so no form validator can tell them from typed text, and SQLite
and PostgreSQL would then store different things for the same request. The escaped form is
checked here, on the raw query string and url-encoded body, the same on every route.
"""

from __future__ import annotations

from urllib.parse import unquote_to_bytes

from flask import Flask, abort, request

FORM_URLENCODED = "application/x-www-form-urlencoded"


def init_app(app: Flask) -> None:
    # First of all: CSRF protection parses the form, which consumes the raw body.
    app.before_request_funcs.setdefault(None, []).insert(0, _refuse_undecodable_text)


def _refuse_undecodable_text() -> None:
    # The 400 page asks to reload and retry; nothing was read, so nothing was written.
    if not is_utf8_urlencoded(request.query_string):
        abort(400)
    # The body is already bounded by MAX_CONTENT_LENGTH; cached, so the form still parses.
    if request.mimetype == FORM_URLENCODED and not is_utf8_urlencoded(request.get_data(cache=True)):
        abort(400)


def is_utf8_urlencoded(raw: bytes) -> bool:
    """True when every key and value of an url-encoded string decodes as strict UTF-8."""
    for pair in raw.split(b"&"):
        for part in pair.split(b"=", 1):
            try:
                unquote_to_bytes(part.replace(b"+", b" ")).decode("utf-8")
            except UnicodeDecodeError:
                return False
    return True

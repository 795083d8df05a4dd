"""Configuration: defaults in code < instance/config.py < CASEMGR_* environment < overrides."""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from flask import Flask

from .sqlite_setup import TurnTakingConnection


class Defaults:
    FACILITY_NAME = "casemgr"
    TIMEZONE = "America/New_York"
    SESSION_IDLE_MINUTES = 15
    SESSION_ABSOLUTE_HOURS = 12
    LOGIN_MAX_FAILURES = 5
    LOCKOUT_MINUTES = 15
    # Two-factor sign-in (TOTP, RFC 6238) for every role.
    MFA_REQUIRED = True
    TOTP_ISSUER = ""  # the name authenticator apps show; the facility's name when empty
    TOTP_KEY = ""  # seals the TOTP seeds at rest; instance/totp_key when empty
    SECOND_FACTOR_MINUTES = 10  # how long a password-checked sign-in may wait for its code
    # Throttling of failed sign-ins and codes, per login/user and per client address: each
    # key may fail so often in the window, then waits; blocks grow with repeated failures up
    # to THROTTLE_BLOCK_MAX_MINUTES and always expire (never a lock-out for the shift).
    THROTTLE_LOGIN_FAILURES = 10
    THROTTLE_CODE_FAILURES = 5
    THROTTLE_ADDRESS_FAILURES = 30
    THROTTLE_WINDOW_MINUTES = 15
    THROTTLE_BLOCK_MINUTES = 5
    THROTTLE_BLOCK_MAX_MINUTES = 15
    # Shared throttle state and the batch queue for several workers/hosts; without it the
    # database holds the throttles and batches run in a thread of the app server.
    REDIS_URL = ""
    REDIS_PREFIX = "casemgr:throttle:"
    PASSWORD_MIN_LENGTH = 15
    MRN_PREFIX = "C"  # medical record numbers look like C0000123 plus a check digit
    # argon2id, argon2-cffi's defaults (RFC 9106 low-memory profile): t=3, m=64 MiB, p=4.
    ARGON2_TIME_COST = 3
    ARGON2_MEMORY_KIB = 65536
    ARGON2_PARALLELISM = 4
    HTTPS = False
    # Reverse proxies in front (nginx: 1) whose X-Forwarded-For/-Proto are believed: the
    # client's address then feeds throttling and the audit trail, not the proxy's.
    TRUSTED_PROXIES = 0
    DB_CONNECT_TIMEOUT_SECONDS = 5  # PostgreSQL: a dead database host fails fast
    SQLITE_BUSY_TIMEOUT_MS = 10000
    # hide_parameters: a failed statement's error (and so the log) never shows its values.
    SQLALCHEMY_ENGINE_OPTIONS: dict[str, Any] = {"pool_pre_ping": True, "hide_parameters": True}
    MAX_CONTENT_LENGTH = 2 * 1024 * 1024
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_DURATION = timedelta(seconds=0)
    WTF_CSRF_TIME_LIMIT = 12 * 3600
    TEMPLATES_AUTO_RELOAD = False
    # Days between treatment-plan reviews, by level-of-care code: {"default": 30, "3.7": 14}.
    PLAN_REVIEW_DAYS: dict[str, int] = {"default": 30}
    # Batch printing: "auto" queues it for `flask worker` when REDIS_URL is set and runs it
    # in a background thread otherwise; "queue" and "thread" force one ("inline" runs it in
    # the request: tests).
    BATCH_RUNNER = "auto"
    BATCH_QUEUE = "casemgr-batches"  # the RQ queue name (letters, digits, - and _)
    BATCH_JOB_TIMEOUT_MINUTES = 60  # a 200-client batch takes minutes; a stuck one is cut off
    BATCH_COMMIT_EVERY = 1
    BATCH_SQLITE_PAUSE_MS = 20  # lets other users' writes in between clients on SQLite
    BATCH_STALE_MINUTES = 10  # a batch silent this long in no live process is marked failed


# Environment variables whose name differs from the Flask/extension setting they feed.
ENV_ALIASES = {"DATABASE_URL": "SQLALCHEMY_DATABASE_URI"}


def load(app: Flask, overrides: dict[str, Any] | None) -> None:
    app.config.from_object(Defaults)
    app.config["SQLALCHEMY_DATABASE_URI"] = default_database_url(app.instance_path)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env("CASEMGR")
    for alias, name in ENV_ALIASES.items():
        if alias in app.config:
            app.config[name] = app.config.pop(alias)
    app.config.update(overrides or {})
    _derive(app)
    _trust_proxies(app)


def default_database_url(instance_path: str) -> str:
    return f"sqlite:///{Path(instance_path) / 'casemgr.sqlite3'}"


def _derive(app: Flask) -> None:
    cfg = app.config
    try:
        ZoneInfo(cfg["TIMEZONE"])
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise RuntimeError(
            f"CASEMGR_TIMEZONE is not a known time zone: {cfg['TIMEZONE']!r}"
        ) from exc
    if int(cfg["SESSION_IDLE_MINUTES"]) < 1:
        raise RuntimeError("CASEMGR_SESSION_IDLE_MINUTES must be at least 1")
    cfg["PERMANENT_SESSION_LIFETIME"] = timedelta(hours=int(cfg["SESSION_ABSOLUTE_HOURS"]))
    https = bool(cfg["HTTPS"])
    if https:
        cfg["SESSION_COOKIE_SECURE"] = True
        cfg["PREFERRED_URL_SCHEME"] = "https"
    if cfg["SESSION_COOKIE_NAME"] == "session":  # Flask's default: pick ours
        # __Host- cookies are only accepted over HTTPS, without Domain and with Path=/.
        cfg["SESSION_COOKIE_NAME"] = "__Host-casemgr" if https else "casemgr_session"
    if not cfg.get("SECRET_KEY"):
        cfg["SECRET_KEY"] = instance_secret(app.instance_path, "secret_key")
    if len(cfg["SECRET_KEY"]) < 32 and not cfg.get("TESTING"):
        raise RuntimeError("CASEMGR_SECRET_KEY must be at least 32 characters")
    if not cfg.get("AUDIT_HMAC_KEY"):
        cfg["AUDIT_HMAC_KEY"] = instance_secret(app.instance_path, "audit_key")
    if cfg["BATCH_RUNNER"] == "queue" and not cfg["REDIS_URL"]:
        raise RuntimeError("CASEMGR_BATCH_RUNNER=queue needs CASEMGR_REDIS_URL")
    url = str(cfg["SQLALCHEMY_DATABASE_URI"])
    if url.startswith("postgresql") and "connect_timeout=" not in url:
        _connect_timeout(cfg)
    if url.startswith("sqlite"):
        _sqlite_connections(cfg)


def _connect_timeout(cfg: Any) -> None:
    options = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"])  # a copy: the default is shared
    args = {"connect_timeout": int(cfg["DB_CONNECT_TIMEOUT_SECONDS"])}
    options["connect_args"] = {**args, **options.get("connect_args", {})}
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _sqlite_connections(cfg: Any) -> None:
    options = dict(cfg["SQLALCHEMY_ENGINE_OPTIONS"])
    # Writers take turns on a lock file before BEGIN IMMEDIATE (see sqlite_setup).
    connect_args = {"factory": TurnTakingConnection, **options.get("connect_args", {})}
    options["connect_args"] = connect_args
    cfg["SQLALCHEMY_ENGINE_OPTIONS"] = options


def _trust_proxies(app: Flask) -> None:
    hops = int(app.config["TRUSTED_PROXIES"])
    if hops > 0:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]


def instance_secret(instance_path: str, name: str) -> str:
    """Read a secret from instance/<name>, creating it (mode 0600) on first start.

    Two gunicorn workers may start at once: the file is created exclusively, and whoever
    loses the race reads the winner's key.
    """
    path = Path(instance_path) / name
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as fh:
        fh.write(secrets.token_urlsafe(48))
    return _read_secret(path)


def _read_secret(path: Path) -> str:
    for _ in range(50):  # the creator may not have written yet
        value = path.read_text().strip()
        if value:
            return value
        time.sleep(0.02)
    raise RuntimeError(f"{path} is empty")

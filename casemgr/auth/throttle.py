"""Throttling of failed sign-ins and codes, shared by every worker.

Each failure counts against several keys: the login name (or the user, for codes) and the
client address. A key that fails THROTTLE_*_FAILURES times within THROTTLE_WINDOW_MINUTES
is blocked for THROTTLE_BLOCK_MINUTES; each further failure soon after a block blocks it
longer, up to THROTTLE_BLOCK_MAX_MINUTES. Blocks always expire on their own, so an attacker
can slow a nurse's sign-in down but never shut her out for the shift.

State lives in Redis when REDIS_URL (CASEMGR_REDIS_URL) is set, otherwise in the `throttles`
table; both are shared across gunicorn workers, unlike an in-process counter.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from flask import current_app
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from ..domain.passwords import normalize_login
from .models import Throttle

log = logging.getLogger("casemgr")


@dataclass(frozen=True)
class Limit:
    key: str
    max_failures: int


def for_login(login: str, remote_addr: str) -> list[Limit]:
    cfg = current_app.config
    return [
        Limit(f"login:{normalize_login(login)[:64]}", int(cfg["THROTTLE_LOGIN_FAILURES"])),
        _address(remote_addr),
    ]


def for_code(user_id: int, remote_addr: str) -> list[Limit]:
    cfg = current_app.config
    return [Limit(f"code:{user_id}", int(cfg["THROTTLE_CODE_FAILURES"])), _address(remote_addr)]


def _address(remote_addr: str) -> Limit:
    return Limit(
        f"addr:{(remote_addr or '-')[:64]}", int(current_app.config["THROTTLE_ADDRESS_FAILURES"])
    )


def blocked_until(session: Session, limits: list[Limit], now: datetime) -> datetime | None:
    """The latest time any of these keys is blocked until, if one is blocked now."""
    return _store(session).blocked_until([lim.key for lim in limits], now)


def fail(session: Session, limits: list[Limit], now: datetime) -> datetime | None:
    """Count one failure against each key; return the block it caused, if any."""
    store = _store(session)
    blocks = [store.fail(lim.key, lim.max_failures, now, _timing()) for lim in limits]
    return max((b for b in blocks if b is not None), default=None)


def clear(session: Session, limit: Limit) -> None:
    """Forget a key's failures (a successful sign-in clears its login, never its address)."""
    _store(session).clear(limit.key)


@dataclass(frozen=True)
class Timing:
    window: timedelta
    block: timedelta
    block_max: timedelta


def _timing() -> Timing:
    cfg = current_app.config
    return Timing(
        timedelta(minutes=int(cfg["THROTTLE_WINDOW_MINUTES"])),
        timedelta(minutes=int(cfg["THROTTLE_BLOCK_MINUTES"])),
        timedelta(minutes=int(cfg["THROTTLE_BLOCK_MAX_MINUTES"])),
    )


def block_length(failures: int, max_failures: int, timing: Timing) -> timedelta | None:
    """None below the limit; then BLOCK, 2 x BLOCK, ... capped at BLOCK_MAX."""
    if failures < max_failures:
        return None
    return min(timing.block * (failures - max_failures + 1), timing.block_max)


class Store(Protocol):
    def blocked_until(self, keys: list[str], now: datetime) -> datetime | None: ...
    def fail(self, key: str, max_failures: int, now: datetime, t: Timing) -> datetime | None: ...
    def clear(self, key: str) -> None: ...


def _store(session: Session) -> Store:
    url = current_app.config.get("REDIS_URL")
    if url:
        return _Fallback(RedisStore(url, current_app.config["REDIS_PREFIX"]), DbStore(session))
    return DbStore(session)


class DbStore:
    """The `throttles` table, updated with one atomic upsert per failure (SQLite and
    PostgreSQL both support INSERT ... ON CONFLICT DO UPDATE ... RETURNING)."""

    def __init__(self, session: Session):
        self.session = session

    def blocked_until(self, keys: list[str], now: datetime) -> datetime | None:
        return self.session.scalar(
            sa.select(sa.func.max(Throttle.blocked_until)).where(
                Throttle.key.in_(keys), Throttle.blocked_until > now
            )
        )

    def fail(self, key: str, max_failures: int, now: datetime, t: Timing) -> datetime | None:
        self._sweep(now, t)
        table = Throttle.__table__
        when = table.c.window_started_at.type
        stale = table.c.window_started_at < now - t.window
        insert = _insert(self.session)(table).values(
            key=key, failures=1, window_started_at=now, blocked_until=None
        )
        upsert = insert.on_conflict_do_update(
            index_elements=[table.c.key],
            set_={
                "failures": sa.case((stale, 1), else_=table.c.failures + 1),
                "window_started_at": sa.case(
                    (stale, sa.literal(now, when)), else_=table.c.window_started_at
                ),
            },
        ).returning(table.c.failures)
        failures = self.session.execute(upsert).scalar_one()
        length = block_length(failures, max_failures, t)
        if length is None:
            return None
        # Restarting the window at the block keeps a persistent guesser at one try per block.
        self.session.execute(
            sa.update(table)
            .where(table.c.key == key)
            .values(blocked_until=now + length, window_started_at=now)
        )
        return now + length

    def clear(self, key: str) -> None:
        self.session.execute(sa.delete(Throttle).where(Throttle.key == key))

    def _sweep(self, now: datetime, t: Timing) -> None:
        """Drop keys nobody has failed on for a while, so the table stays small."""
        self.session.execute(
            sa.delete(Throttle).where(
                Throttle.window_started_at < now - t.window - t.block_max,
                sa.or_(Throttle.blocked_until.is_(None), Throttle.blocked_until < now),
            )
        )


def _insert(session: Session) -> Any:
    name = session.get_bind().dialect.name
    return {"postgresql": postgresql.insert, "sqlite": sqlite.insert}[name]


# Atomic in Redis: the same window and escalation as DbStore.fail. Times are epoch seconds
# from the application's clock (so tests can freeze it); Redis only expires idle keys.
_FAIL_SCRIPT = """
local now = tonumber(ARGV[1])
local failures = tonumber(redis.call('HGET', KEYS[1], 'failures') or '0')
local started = tonumber(redis.call('HGET', KEYS[1], 'started') or '-1')
local blocked = redis.call('HGET', KEYS[1], 'blocked') or ''
if started < tonumber(ARGV[2]) then
  failures = 0
  started = now
end
failures = failures + 1
local max_failures = tonumber(ARGV[3])
if failures >= max_failures then
  local length = math.min(tonumber(ARGV[4]) * (failures - max_failures + 1), tonumber(ARGV[5]))
  blocked = tostring(now + length)
  started = now
end
redis.call('HSET', KEYS[1], 'failures', failures, 'started', tostring(started), 'blocked', blocked)
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[6]))
return {failures, blocked}
"""

_clients: dict[str, Any] = {}


class RedisStore:
    def __init__(self, url: str, prefix: str):
        import redis

        if url not in _clients:
            _clients[url] = redis.Redis.from_url(
                url, socket_timeout=1.0, socket_connect_timeout=1.0, decode_responses=True
            )
        self.redis, self.prefix = _clients[url], prefix

    def blocked_until(self, keys: list[str], now: datetime) -> datetime | None:
        pipe = self.redis.pipeline(transaction=False)
        for key in keys:
            pipe.hget(self.prefix + key, "blocked")
        times = [float(v) for v in pipe.execute() if v]
        latest = max(times, default=0.0)
        return _from_epoch(latest) if latest > now.timestamp() else None

    def fail(self, key: str, max_failures: int, now: datetime, t: Timing) -> datetime | None:
        idle = t.window + t.block_max
        args = [
            now.timestamp(),
            (now - t.window).timestamp(),
            max_failures,
            t.block.total_seconds(),
            t.block_max.total_seconds(),
            int(idle.total_seconds()) + 60,
        ]
        failures, blocked = self.redis.eval(_FAIL_SCRIPT, 1, self.prefix + key, *args)
        if int(failures) < max_failures or not blocked:
            return None
        return _from_epoch(float(blocked))

    def clear(self, key: str) -> None:
        self.redis.delete(self.prefix + key)


def _from_epoch(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


class _Fallback:
    """Redis first; if it is unreachable, the database (still shared), with a warning in
    the log rather than an error page at the sign-in desk."""

    def __init__(self, primary: RedisStore, backup: DbStore):
        self.primary, self.backup = primary, backup

    def _run(self, name: str, *args: Any) -> Any:
        import redis

        try:
            return getattr(self.primary, name)(*args)
        except redis.RedisError as exc:
            log.warning("throttle: Redis unavailable (%s); using the database", type(exc).__name__)
            return getattr(self.backup, name)(*args)

    def blocked_until(self, keys: list[str], now: datetime) -> datetime | None:
        return self._run("blocked_until", keys, now)

    def fail(self, key: str, max_failures: int, now: datetime, t: Timing) -> datetime | None:
        return self._run("fail", key, max_failures, now, t)

    def clear(self, key: str) -> None:
        self._run("clear", key)

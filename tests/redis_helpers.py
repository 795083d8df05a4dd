"""The local Redis for tests: skip without it, unless CI requires it (CASEMGR_TEST_REDIS_REQUIRED=1,
set by .ci/run), where a missing Redis fails the run instead."""

from __future__ import annotations

import os

import pytest

REDIS_URL = os.environ.get("CASEMGR_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def redis_reachable(url: str = REDIS_URL) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=0.5).ping())
    except redis.RedisError:
        return False


def require_redis(url: str = REDIS_URL) -> str:
    if not redis_reachable(url):
        if os.environ.get("CASEMGR_TEST_REDIS_REQUIRED"):
            pytest.fail(f"no Redis at {url}")
        pytest.skip(f"no Redis at {url}")
    return url

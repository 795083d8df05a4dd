"""Password hashing (argon2id) and the facility's password rules."""

from __future__ import annotations

from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import current_app

from ..domain.passwords import PasswordPolicy, check_password, normalize


@cache
def _hasher(time_cost: int, memory_kib: int, parallelism: int) -> PasswordHasher:
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism)


def hasher() -> PasswordHasher:
    cfg = current_app.config
    return _hasher(cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_PARALLELISM"])


def hash_password(password: str) -> str:
    return hasher().hash(normalize(password))


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return hasher().verify(stored_hash, normalize(password))
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str) -> bool:
    return hasher().check_needs_rehash(stored_hash)


def burn_a_verify() -> None:
    """Spend the time of a real verification so unknown logins answer as slowly as known ones."""
    verify_password(_dummy_hash(*_params()), "not-the-password")


def _params() -> tuple[int, int, int]:
    cfg = current_app.config
    return cfg["ARGON2_TIME_COST"], cfg["ARGON2_MEMORY_KIB"], cfg["ARGON2_PARALLELISM"]


@cache
def _dummy_hash(t: int, m: int, p: int) -> str:
    return _hasher(t, m, p).hash("casemgr-dummy-password")


def policy() -> PasswordPolicy:
    return PasswordPolicy(min_length=int(current_app.config["PASSWORD_MIN_LENGTH"]))


def validate_new_password(password: str, *, login: str, facility: str) -> None:
    """Raise WeakPassword with the reason, per NIST SP 800-63B-4."""
    check_password(password, policy=policy(), context_words=(login, facility, "casemgr"))

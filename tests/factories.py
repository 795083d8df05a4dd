"""Explicit factories for test data: they add and flush, the test decides when to commit."""

from __future__ import annotations

import itertools

from casemgr.auth import passwords
from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db

PASSWORD = "a long and memorable test passphrase"


class Factories:
    _seq = itertools.count(1)

    def user(
        self, *roles: Role, login: str | None = None, password: str = PASSWORD, **fields
    ) -> User:
        n = next(self._seq)
        user = User(
            login=login or f"staff{n}",
            full_name=fields.pop("full_name", f"Staff Member {n}"),
            credentials=fields.pop("credentials", ""),
            email=fields.pop("email", f"staff{n}@example.org"),
            password_hash=passwords.hash_password(password),
            **fields,
        )
        user.set_roles(set(roles or (Role.COUNSELOR,)))
        db.session.add(user)
        db.session.flush()
        return user

"""Explicit factories for test data: they add and flush, the test decides when to commit."""

from __future__ import annotations

import itertools

from casemgr.auth import passwords, totp
from casemgr.auth.models import User
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.orm import utcnow

PASSWORD = "a long and memorable test passphrase"
# Every factory user's authenticator app holds this seed (see tests/conftest.py: answer_code).
TOTP_SEED = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"


class Factories:
    _seq = itertools.count(1)

    def user(
        self,
        *roles: Role,
        login: str | None = None,
        password: str = PASSWORD,
        enrolled: bool = True,
        **fields,
    ) -> User:
        """A staff member, with two-factor sign-in set up on TOTP_SEED unless `enrolled` is
        False (then they set it up at their first sign-in, as new staff do)."""
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
        if enrolled:
            user.totp_secret, user.totp_enabled_at = totp.seal(TOTP_SEED), utcnow()
        db.session.add(user)
        db.session.flush()
        return user

    def site(self, name: str | None = None, code: str | None = None, **fields):
        """A site (facility) of the network. Tests without sites run as a single facility."""
        from casemgr.sites.models import Site

        n = next(self._seq)
        site = Site(name=name or f"Site {n}", code=code or f"S{n}", **fields)
        db.session.add(site)
        db.session.flush()
        return site

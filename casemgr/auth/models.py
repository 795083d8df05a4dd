"""Staff members, their roles and their server-side sessions."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from flask_login import UserMixin
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..audit.hooks import Audited
from ..domain.roles import Role, primary_role
from ..extensions import db
from ..orm import TimestampMixin, str_enum, utcnow
from ..sites.models import Site


class User(Audited, UserMixin, TimestampMixin, db.Model):
    """A staff member. Never deleted, only deactivated, so authorship stays intact."""

    __tablename__ = "users"
    __audit_values__ = frozenset(
        {
            "login",
            "active",
            "locked_until",
            "must_change_password",
            "needs_supervision",
            "site_id",
        }
    )
    __audit_redact__ = frozenset({"password_hash", "totp_secret"})
    __audit_ignore__ = frozenset({"failed_attempts", "last_login_at", "totp_last_step"})

    id: Mapped[int] = mapped_column(primary_key=True)
    login: Mapped[str] = mapped_column(sa.String(64), unique=True)
    full_name: Mapped[str] = mapped_column(sa.String(120))
    credentials: Mapped[str] = mapped_column(sa.String(60), default="")
    email: Mapped[str] = mapped_column(sa.String(254), default="")
    active: Mapped[bool] = mapped_column(default=True)
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    must_change_password: Mapped[bool] = mapped_column(default=False)
    # An unlicensed or pre-licensure counselor: their signed notes wait for a supervisor.
    needs_supervision: Mapped[bool] = mapped_column(default=False)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    last_login_at: Mapped[datetime | None]
    password_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # TOTP second factor (RFC 6238). The last accepted time step stops a code being replayed.
    totp_secret: Mapped[str | None] = mapped_column(sa.String(64))
    totp_enabled_at: Mapped[datetime | None]
    totp_last_step: Mapped[int | None] = mapped_column(sa.BigInteger)
    # The site this person works at: their detox board, census and (for managers and
    # supervisors) charts are that site's. None: the whole network (and any install
    # without sites).
    site_id: Mapped[int | None] = mapped_column(sa.ForeignKey("sites.id"), index=True)

    site: Mapped[Site | None] = relationship()
    role_rows: Mapped[list[UserRole]] = relationship(
        back_populates="user",
        cascade="all, delete-orphan",
        lazy="selectin",
        order_by="UserRole.role",
    )

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive users
        return self.active

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(r.role for r in self.role_rows)

    @property
    def primary_role(self) -> Role | None:
        return primary_role(self.roles)

    def set_roles(self, roles: set[Role]) -> None:
        keep = [r for r in self.role_rows if r.role in roles]
        added = [UserRole(role=r) for r in sorted(roles - self.roles)]
        self.role_rows = keep + added

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now

    @property
    def display_name(self) -> str:
        return f"{self.full_name}, {self.credentials}" if self.credentials else self.full_name


class UserRole(Audited, db.Model):
    __tablename__ = "user_roles"
    __audit_values__ = frozenset({"user_id", "role"})

    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), primary_key=True)
    role: Mapped[Role] = mapped_column(
        str_enum(Role, length=32),
        primary_key=True,
    )

    user: Mapped[User] = relationship(back_populates="role_rows")


class UserSession(db.Model):
    """A signed-in browser. The cookie carries only a random token; its SHA-256 is kept here,
    so sign-out, timeouts and deactivation end the session on the server."""

    __tablename__ = "user_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(sa.String(32))
    remote_addr: Mapped[str] = mapped_column(sa.String(64), default="")
    user_agent: Mapped[str] = mapped_column(sa.String(255), default="")
    # A session that passed the password but not yet the second factor reaches nothing but
    # the code page; completing it starts a new session (a new token) and ends this one.
    awaiting_second_factor: Mapped[bool] = mapped_column(default=False, server_default=sa.false())

    user: Mapped[User] = relationship()


class RecoveryCode(db.Model):
    """A one-time recovery code for a lost authenticator, stored hashed (shown once)."""

    __tablename__ = "recovery_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id"), index=True)
    code_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    used_at: Mapped[datetime | None]


class Throttle(db.Model):
    """Failed attempts per key ("login:<name>", "addr:<ip>", "totp:<user>") in a sliding
    window, in the database so every worker sees them (Redis is used instead when
    CASEMGR_REDIS_URL is set). Blocks are short and expire: never a permanent lock-out."""

    __tablename__ = "throttles"

    key: Mapped[str] = mapped_column(sa.String(160), primary_key=True)
    failures: Mapped[int] = mapped_column(default=0)
    window_started_at: Mapped[datetime]
    blocked_until: Mapped[datetime | None]

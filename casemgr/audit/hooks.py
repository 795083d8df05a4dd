"""How events get into the trail: declare `Audited` on a model and every insert, update and
delete of it is recorded in the same transaction; `record()` adds explicit events.

Both paths end in `_append`, the only writer of audit rows, which locks the chain head so
concurrent transactions extend the chain one at a time and it never forks.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from flask import current_app
from flask_sqlalchemy.session import Session as FlaskSession
from sqlalchemy import event
from sqlalchemy.orm import Session, UOWTransaction

from ..domain.audit_chain import GENESIS_HASH, link_hash
from ..orm import utcnow
from ..sqlite_setup import take_write_lock
from .models import AuditChainHead, AuditEvent


class Audited:
    """Marker mixin. Values of columns in __audit_values__ are logged; other changed columns
    are logged by name only, so the trail itself holds no clinical content (PHI)."""

    __audit_values__: frozenset[str] = frozenset()
    __audit_redact__: frozenset[str] = frozenset()
    __audit_client_attr__: str | None = None
    # Bookkeeping columns whose changes are covered by explicit events (e.g. auth.login).
    __audit_ignore__: frozenset[str] = frozenset()


_ALWAYS_IGNORED = frozenset({"updated_at"})


@dataclass(frozen=True)
class AuditContext:
    actor_id: int | None = None
    actor_login: str | None = None
    remote_addr: str | None = None
    request_id: str | None = None


_override: ContextVar[AuditContext | None] = ContextVar("audit_context", default=None)
_provider: list[Callable[[], AuditContext]] = [AuditContext]


def set_context_provider(provider: Callable[[], AuditContext]) -> None:
    """The web layer registers how to find the signed-in user and the remote address."""
    _provider[0] = provider


def current_context() -> AuditContext:
    return _override.get() or _provider[0]()


@contextmanager
def acting_as(actor_id: int | None, actor_login: str | None) -> Iterator[None]:
    """Attribute events to someone outside a request, e.g. a CLI operator."""
    token = _override.set(
        AuditContext(actor_id=actor_id, actor_login=actor_login, remote_addr="cli")
    )
    try:
        yield
    finally:
        _override.reset(token)


def record(
    session: Session,
    action: str,
    *,
    target: Any = None,
    object_type: str | None = None,
    object_id: Any = None,
    client_id: int | None = None,
    actor: Any = None,
    actor_login: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one explicit event (sign-in, lockout, report printed...) in the current
    transaction; it commits or rolls back with the change it describes.

    In a request that only read so far (a chart view) on SQLite, the read transaction ends
    first and the event is written under the write lock (see sqlite_setup)."""
    take_write_lock(session)
    ctx = current_context()
    if actor is not None:
        ctx = replace(ctx, actor_id=actor.id, actor_login=actor.login)
    elif actor_login is not None:
        ctx = replace(ctx, actor_id=None, actor_login=actor_login)
    if target is not None:
        object_type, object_id = _type_of(target), _id_of(target)
        client_id = client_id if client_id is not None else _client_of(target)
    _append(session.connection(), ctx, [_event(action, object_type, object_id, client_id, detail)])


def _event(action: str, otype: Any, oid: Any, client_id: Any, detail: Any) -> dict[str, Any]:
    return {
        "action": action,
        "object_type": otype,
        "object_id": None if oid is None else str(oid),
        "client_id": client_id,
        "detail": json.dumps(detail or {}, sort_keys=True, separators=(",", ":"), default=str),
    }


def _type_of(obj: Any) -> str:
    return getattr(obj, "__audit_type__", None) or type(obj).__tablename__


def _id_of(obj: Any) -> str:
    # A row inserted in this flush has no identity key yet (SQLAlchemy assigns it after
    # after_flush), but its primary key values are already on the object.
    state = sa.inspect(obj)
    identity = state.identity or state.mapper.primary_key_from_instance(obj)
    return ":".join(str(part) for part in identity if part is not None)


def _client_of(obj: Any) -> int | None:
    attr = getattr(obj, "__audit_client_attr__", None)
    return getattr(obj, attr) if attr else None


def _changes(obj: Audited, *, created: bool) -> dict[str, Any]:
    state = sa.inspect(obj)
    names, values = [], {}
    ignored = _ALWAYS_IGNORED | obj.__audit_ignore__
    for attr in state.mapper.column_attrs:
        if attr.key in ignored:
            continue
        hist = state.attrs[attr.key].history
        changed = bool(hist.added) if created else bool(hist.added or hist.deleted)
        if not changed:
            continue
        names.append(attr.key)
        if attr.key in obj.__audit_values__ and attr.key not in obj.__audit_redact__:
            values[attr.key] = hist.added[0] if hist.added else None
    return {"fields": sorted(names), "values": values} if values else {"fields": sorted(names)}


def _flush_events(session: Session, flush_context: UOWTransaction) -> list[dict[str, Any]]:
    events = []
    for obj in session.new:
        if isinstance(obj, Audited):
            detail = _changes(obj, created=True)
            events.append(
                _event(
                    f"{_type_of(obj)}.created", _type_of(obj), _id_of(obj), _client_of(obj), detail
                )
            )
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False):
            detail = _changes(obj, created=False)
            if detail["fields"]:
                events.append(
                    _event(
                        f"{_type_of(obj)}.updated",
                        _type_of(obj),
                        _id_of(obj),
                        _client_of(obj),
                        detail,
                    )
                )
    # The unit of work, not session.deleted: rows removed by a delete-orphan cascade are only
    # known to the flush, and they must leave a trace too.
    for state, (is_delete, list_only) in list(flush_context.states.items()):
        obj = state.obj()
        if is_delete and not list_only and isinstance(obj, Audited):
            events.append(
                _event(f"{_type_of(obj)}.deleted", _type_of(obj), _id_of(obj), _client_of(obj), {})
            )
    return events


@event.listens_for(FlaskSession, "after_flush")
def _after_flush(session: Session, flush_context: UOWTransaction) -> None:
    events = _flush_events(session, flush_context)
    if events:
        _append(session.connection(), current_context(), events)


def _append(conn: sa.Connection, ctx: AuditContext, events: list[dict[str, Any]]) -> None:
    key = current_app.config["AUDIT_HMAC_KEY"].encode()
    head_t, event_t = AuditChainHead.__table__, AuditEvent.__table__
    # FOR UPDATE serialises appenders on PostgreSQL; SQLite transactions already hold the
    # write lock from BEGIN IMMEDIATE.
    head = conn.execute(
        sa.select(head_t.c.last_seq, head_t.c.last_hash).where(head_t.c.id == 1).with_for_update()
    ).first()
    if head is None:
        conn.execute(sa.insert(head_t).values(id=1, last_seq=0, last_hash=GENESIS_HASH))
        seq, prev = 0, GENESIS_HASH
    else:
        seq, prev = head.last_seq, head.last_hash
    rows = []
    for ev in events:
        seq += 1
        row = {
            "seq": seq,
            "at": utcnow(),
            "actor_id": ctx.actor_id,
            "actor_login": ctx.actor_login,
            "remote_addr": ctx.remote_addr,
            "request_id": ctx.request_id,
            **ev,
        }
        row["prev_hash"] = prev
        row["hash"] = prev = link_hash(key, prev, row)
        rows.append(row)
    conn.execute(sa.insert(event_t), rows)
    conn.execute(sa.update(head_t).where(head_t.c.id == 1).values(last_seq=seq, last_hash=prev))

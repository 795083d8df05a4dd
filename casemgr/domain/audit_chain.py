"""The audit trail's tamper-evident hash chain: canonical form, link hash and verification."""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

GENESIS_HASH = "0" * 64

# The fields that are hashed, in the order they are stored. Changing this list breaks
# verification of every existing row, so it is versioned through the hash itself.
CHAINED_FIELDS = (
    "seq",
    "at",
    "actor_id",
    "actor_login",
    "action",
    "object_type",
    "object_id",
    "client_id",
    "remote_addr",
    "request_id",
    "detail",
)


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("audit timestamps must be timezone-aware")
        return value.isoformat(timespec="microseconds")
    return value


def canonical(fields: Mapping[str, Any]) -> bytes:
    data = {name: _jsonable(fields.get(name)) for name in CHAINED_FIELDS}
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def link_hash(key: bytes, prev_hash: str, fields: Mapping[str, Any]) -> str:
    """HMAC-SHA-256 over the previous link and this event, so rows cannot be edited,
    removed, reordered or forged without the key, which lives outside the database."""
    return hmac.new(key, prev_hash.encode() + b"\n" + canonical(fields), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class ChainReport:
    ok: bool
    checked: int
    first_bad_seq: int | None = None
    reason: str = ""

    def __str__(self) -> str:
        if self.ok:
            return f"ok ({self.checked} events)"
        return f"broken at seq {self.first_bad_seq}: {self.reason}"


def verify_chain(
    rows: Iterable[Mapping[str, Any]],
    key: bytes,
    *,
    head_seq: int | None = None,
    head_hash: str | None = None,
) -> ChainReport:
    """Walk rows in seq order and report the first broken link.

    Each row carries the chained fields plus `prev_hash` and `hash`. `head_seq`/`head_hash`
    are the recorded chain head: a mismatch there means rows were cut off the end.
    """
    expected_seq, prev, count = 1, GENESIS_HASH, 0
    for row in rows:
        seq = row["seq"]
        if seq != expected_seq:
            return ChainReport(
                False, count, expected_seq, f"expected seq {expected_seq}, found {seq}"
            )
        if row["prev_hash"] != prev:
            return ChainReport(False, count, seq, "previous-hash link does not match")
        if not hmac.compare_digest(row["hash"], link_hash(key, prev, row)):
            return ChainReport(False, count, seq, "content does not match its hash")
        prev, expected_seq, count = row["hash"], expected_seq + 1, count + 1
    last_seq = expected_seq - 1
    if head_seq is not None and (head_seq != last_seq or (head_hash or GENESIS_HASH) != prev):
        return ChainReport(
            False,
            count,
            last_seq + 1,
            f"chain head says seq {head_seq} but the trail ends at {last_seq}",
        )
    return ChainReport(True, count)

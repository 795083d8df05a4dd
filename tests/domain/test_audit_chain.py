"""The hash chain's pure rules: every kind of tampering is found and located (row U-04)."""

from datetime import UTC, datetime

import pytest

from casemgr.domain.audit_chain import GENESIS_HASH, link_hash, verify_chain

KEY = b"k"


def build(n: int) -> list[dict]:
    rows, prev = [], GENESIS_HASH
    for seq in range(1, n + 1):
        row = {
            "seq": seq,
            "at": datetime(2026, 11, 25, 12, 0, seq, tzinfo=UTC),
            "actor_id": 1,
            "actor_login": "nurse",
            "action": "auth.login",
            "object_type": "users",
            "object_id": "1",
            "client_id": None,
            "remote_addr": "127.0.0.1",
            "request_id": "r",
            "detail": "{}",
        }
        row["prev_hash"] = prev
        row["hash"] = prev = link_hash(KEY, prev, row)
        rows.append(row)
    return rows


def test_an_intact_chain_verifies():
    rows = build(20)
    report = verify_chain(rows, KEY, head_seq=20, head_hash=rows[-1]["hash"])
    assert report.ok and report.checked == 20
    assert str(report).startswith("ok")


def test_an_empty_chain_verifies():
    assert verify_chain([], KEY, head_seq=0, head_hash=None).ok


def test_a_changed_field_is_located():
    rows = build(10)
    rows[4] = {**rows[4], "actor_login": "someone-else"}
    report = verify_chain(rows, KEY)
    assert not report.ok and report.first_bad_seq == 5


def test_a_deleted_middle_row_is_located():
    rows = build(10)
    del rows[6]
    assert verify_chain(rows, KEY).first_bad_seq == 7


def test_swapped_rows_are_located():
    rows = build(10)
    rows[2], rows[3] = rows[3], rows[2]
    assert verify_chain(rows, KEY).first_bad_seq == 3


def test_a_forged_row_without_the_key_is_located():
    rows = build(5)
    forged = {**rows[4], "action": "auth.logout"}
    forged["hash"] = link_hash(b"guessed-key", rows[3]["hash"], forged)
    rows[4] = forged
    assert verify_chain(rows, KEY).first_bad_seq == 5


def test_a_cut_off_tail_is_caught_by_the_head():
    rows = build(10)
    report = verify_chain(rows[:7], KEY, head_seq=10, head_hash=rows[-1]["hash"])
    assert not report.ok and report.first_bad_seq == 8


def test_naive_timestamps_are_refused():
    row = build(1)[0] | {"at": datetime(2026, 1, 1)}
    with pytest.raises(ValueError):
        link_hash(KEY, GENESIS_HASH, row)

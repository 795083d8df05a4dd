"""Backup and restore: an online backup taken while the app writes restores into an empty
instance with consistent row counts, a verifying audit chain and signed notes whose hashes
still verify; restore never writes over data or over another instance's keys."""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import stat
import threading
import time
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from casemgr import backup
from casemgr.audit import services as audit_services
from casemgr.audit.models import AuditEvent
from casemgr.auth.models import User
from casemgr.clients import services as clients
from casemgr.clients.models import Client
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.notes import services as notes
from casemgr.notes.models import Note
from tests import databases
from tests.clients_helpers import NOW, TODAY, admitted, sheet
from tests.conftest import make_app
from tests.factories import PASSWORD, Factories
from tests.notes.helpers import session_with_note

# Keys from the instance folder, as in production (the suite's default config sets them).
FILE_KEYS = {"AUDIT_HMAC_KEY": "", "SECRET_KEY": ""}


def wired(app):
    if "backup" not in app.cli.commands:  # until the app factory registers the commands
        backup.init_app(app)
    return app


def invoke(app, *args):
    with app.app_context():
        return app.test_cli_runner().invoke(args=[str(a) for a in args])


def row_counts(app) -> dict[str, int]:
    with app.app_context(), db.engine.connect() as conn:
        tables = sa.inspect(conn).get_table_names()
        return {
            t: conn.execute(sa.select(sa.func.count()).select_from(sa.table(t))).scalar_one()
            for t in tables
        }


def orphan_rows(conn) -> list[str]:
    """Rows whose foreign key points nowhere, for every foreign key of the models."""
    found = []
    for table in db.metadata.sorted_tables:
        for fk in table.foreign_key_constraints:
            child, parent = table.alias("c"), fk.referred_table.alias("p")
            pairs = [(child.c[el.parent.name], parent.c[el.column.name]) for el in fk.elements]
            stmt = (
                sa.select(sa.func.count())
                .select_from(child)
                .where(*[c.is_not(None) for c, _ in pairs])
                .where(~sa.exists().where(*[c == p for c, p in pairs]))
            )
            if conn.execute(stmt).scalar_one():
                found.append(f"{table.name}.{fk.name}")
    return found


def manifest_of(path: Path) -> dict:
    return json.loads(backup.keys_path_for(path).read_text())


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def source(app_factory):
    return wired(app_factory(**FILE_KEYS))


@pytest.fixture
def target_factory(database_factory, tmp_path):
    """Empty instances to restore into: 'migrated' (schema and seed rows, no data) or
    'blank' (a database without tables)."""
    made = []
    counter = itertools.count(1)

    def _make(kind: str = "migrated", instance: Path | None = None, **overrides):
        n = next(counter)
        if kind == "migrated":
            url, drop = database_factory.new()
        else:
            url, drop = databases.empty_database(tmp_path, f"blank{n}")
        app = make_app(url, instance or tmp_path / f"target{n}", **{**FILE_KEYS, **overrides})
        made.append((app, drop))
        return wired(app)

    yield _make
    for app, drop in made:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        drop()


def seed(app) -> dict:
    """Staff, an admitted client and a signed note, through the services."""
    with app.app_context():
        make = Factories()
        manager = make.user(Role.CLINIC_MANAGER)
        counselor = make.user(Role.COUNSELOR, credentials="LADC")
        _, episode = admitted(manager, counselor)
        _, note = session_with_note(episode, counselor)
        notes.sign(db.session, note, PASSWORD, actor=counselor, now=NOW)
        db.session.commit()
        assert notes.verify(note)
        ids = {"manager": manager.id, "note": note.id, "note_sha256": note.content_sha256}
        db.session.remove()
        return ids


class Writer(threading.Thread):
    """Registers clients through the services, one committed transaction each, until told
    to stop: the app writing while the backup runs."""

    def __init__(self, app, actor_id: int):
        super().__init__(daemon=True)
        self.app, self.actor_id = app, actor_id
        self.stop = threading.Event()
        self.commits = 0
        self.error: BaseException | None = None

    def run(self):
        try:
            with self.app.app_context():
                actor = db.session.get(User, self.actor_id)
                for n in itertools.count(1):
                    if self.stop.is_set():
                        break
                    new = sheet(
                        legal_first_name=f"Writer{n}", date_of_birth=date(1980, 1, 1 + n % 28)
                    )
                    clients.register(db.session, new, actor=actor, today=TODAY)
                    db.session.commit()
                    self.commits += 1
                db.session.remove()
        except BaseException as exc:  # reported by the test
            self.error = exc

    def wait_for(self, commits: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while self.commits < commits:
            assert self.error is None, self.error
            assert time.monotonic() < deadline, "the writer made no progress"
            time.sleep(0.005)


def test_backup_while_writing_restores_a_consistent_copy(
    source, target_factory, tmp_path, monkeypatch
):
    ids = seed(source)
    path = tmp_path / "backups" / "casemgr.backup"
    path.parent.mkdir()
    writer = Writer(source, ids["manager"])
    real_keys = backup._current_keys

    def keys_once_the_writer_moved_on():
        # Called by the command just before its snapshot: make sure the writer has
        # committed since `before` was counted, however the threads get scheduled.
        writer.wait_for(writer.commits + 3)
        return real_keys()

    monkeypatch.setattr(backup, "_current_keys", keys_once_the_writer_moved_on)
    writer.start()
    try:
        writer.wait_for(5)
        before = row_counts(source)
        result = invoke(source, "backup", path)
        writer.wait_for(writer.commits + 5)  # and the app keeps writing afterwards
    finally:
        writer.stop.set()
        writer.join(60)
    assert writer.error is None, writer.error
    after = row_counts(source)
    assert result.exit_code == 0, result.output

    # Two owner-only files; what was written is printed, the keys are not.
    keys_path = backup.keys_path_for(path)
    assert mode(path) == 0o600 and mode(keys_path) == 0o600
    manifest = manifest_of(path)
    assert f"sha256 {manifest['database']['sha256']}" in result.output
    assert f"{manifest['database']['size']} bytes" in result.output
    source_keys = {n: source.config[setting] for n, setting in backup.KEY_FILES.items()}
    assert manifest["keys"] == source_keys
    assert not any(key in result.output for key in source_keys.values())
    assert sorted(os.listdir(path.parent)) == sorted([path.name, keys_path.name])
    if databases.backend() == "sqlite":  # one self-contained file
        with sqlite3.connect(path) as conn:
            assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"
        conn.close()

    # The snapshot lies between the counts before and after, table by table.
    counts = manifest["row_counts"]
    assert set(counts) == set(before) == set(after)
    assert all(before[t] <= counts[t] <= after[t] for t in counts), (before, counts, after)
    assert before["clients"] < counts["clients"] < after["clients"]
    assert counts["audit_events"] == manifest["audit_head"]["seq"]

    target = target_factory()
    restored = invoke(target, "restore", path)
    assert restored.exit_code == 0, restored.output
    assert "Audit chain: ok" in restored.output
    assert "Row counts match the backup" in restored.output
    assert not any(key in restored.output for key in source_keys.values())
    for name, value in source_keys.items():
        key_file = Path(target.instance_path) / name
        if target.config[backup.KEY_FILES[name]] == value and not key_file.exists():
            continue  # set in the target's configuration (the tests' TOTP key): nothing to write
        assert key_file.read_text() == value and mode(key_file) == 0o600

    with target.app_context():
        got = row_counts(target)
        # Exactly the snapshot, plus restore's own audit event; never more than was written.
        assert got["audit_events"] == counts["audit_events"] + 1
        assert {t: n for t, n in got.items() if t != "audit_events"} == {
            t: n for t, n in counts.items() if t != "audit_events"
        }
        assert all(got[t] <= after[t] for t in got)
        assert (
            db.session.scalar(sa.select(AuditEvent.action).order_by(AuditEvent.seq.desc()).limit(1))
            == "backup.restored"
        )
        assert audit_services.verify(db.session).ok
        db.session.rollback()  # SQLite: one writer at a time, and BEGIN IMMEDIATE everywhere
        with db.engine.connect() as conn:
            assert orphan_rows(conn) == []
            if databases.backend() == "sqlite":
                assert conn.exec_driver_sql("PRAGMA integrity_check").scalar() == "ok"
                assert conn.exec_driver_sql("PRAGMA foreign_key_check").all() == []
        # Every client in the copy has its audit trail; the signed note still verifies.
        assert db.session.scalar(sa.select(sa.func.count(Client.id))) == counts["clients"]
        note = db.session.get(Note, ids["note"])
        assert note.content_sha256 == ids["note_sha256"] and notes.verify(note)
        db.session.remove()


def test_an_open_write_transaction_neither_blocks_the_backup_nor_gets_into_it(
    source, tmp_path, monkeypatch
):
    ids = seed(source)
    flushed, released = threading.Event(), threading.Event()
    errors = []

    def hold_a_transaction():
        try:
            with source.app_context():
                actor = db.session.get(User, ids["manager"])
                clients.register(
                    db.session, sheet(legal_first_name="Pending"), actor=actor, today=TODAY
                )
                db.session.flush()  # written, locked, not committed
                flushed.set()
                assert released.wait(60)
                db.session.commit()
                db.session.remove()
        except BaseException as exc:
            errors.append(exc)
            flushed.set()

    real = backup.read_snapshot

    def snapshot_then_commit(conn):
        result = real(conn)
        released.set()  # the writer commits while the backup is still running
        return result

    monkeypatch.setattr(backup, "read_snapshot", snapshot_then_commit)
    before = row_counts(source)
    holder = threading.Thread(target=hold_a_transaction, daemon=True)
    holder.start()
    assert flushed.wait(60)
    result = invoke(source, "backup", tmp_path / "open.backup")
    holder.join(60)
    assert errors == [] and result.exit_code == 0, (errors, result.output)
    assert manifest_of(tmp_path / "open.backup")["row_counts"]["clients"] == before["clients"]
    assert row_counts(source)["clients"] == before["clients"] + 1


def backup_of(source, path: Path) -> dict:
    ids = seed(source)
    result = invoke(source, "backup", path)
    assert result.exit_code == 0, result.output
    return ids


def test_restore_into_a_database_without_tables(source, target_factory, tmp_path):
    ids = backup_of(source, tmp_path / "b")
    target = target_factory("blank")
    result = invoke(target, "restore", tmp_path / "b")
    assert result.exit_code == 0, result.output
    assert "Audit chain: ok" in result.output
    with target.app_context():
        assert notes.verify(db.session.get(Note, ids["note"]))
        assert audit_services.verify(db.session).ok
        db.session.remove()


def test_restore_refuses_a_database_that_holds_data(source, target_factory, tmp_path):
    backup_of(source, tmp_path / "b")
    target = target_factory()
    with target.app_context():
        Factories().user(Role.NURSE, login="real-nurse")
        db.session.commit()
        db.session.remove()
    before = row_counts(target)
    result = invoke(target, "restore", tmp_path / "b")
    assert result.exit_code != 0
    assert "already holds data" in result.output and "nothing was changed" in result.output
    assert row_counts(target) == before


def test_restore_refuses_instance_keys_it_did_not_create(source, target_factory, tmp_path):
    backup_of(source, tmp_path / "b")
    instance = tmp_path / "older-instance"
    instance.mkdir(mode=0o700)
    long_ago = time.time() - 86400
    for name in backup.KEY_FILES:
        (instance / name).write_text(f"an older {name} of this instance, kept by its operator")
        os.utime(instance / name, (long_ago, long_ago))
    target = target_factory(instance=instance)
    empty = row_counts(target)

    result = invoke(target, "restore", tmp_path / "b")
    assert result.exit_code != 0 and "--replace-keys" in result.output
    assert row_counts(target) == empty
    assert (instance / "audit_key").read_text().startswith("an older audit_key")

    result = invoke(target, "restore", tmp_path / "b", "--replace-keys")
    assert result.exit_code == 0, result.output
    assert (instance / "audit_key").read_text() == manifest_of(tmp_path / "b")["keys"]["audit_key"]


def test_restore_refuses_a_configured_audit_key_that_differs(source, target_factory, tmp_path):
    backup_of(source, tmp_path / "b")
    target = target_factory(AUDIT_HMAC_KEY="a different audit key from the configuration")
    empty = row_counts(target)
    result = invoke(target, "restore", tmp_path / "b")
    assert result.exit_code != 0 and "AUDIT_HMAC_KEY" in result.output
    assert row_counts(target) == empty


def test_restore_refuses_a_damaged_or_unpaired_backup(source, target_factory, tmp_path):
    path = tmp_path / "b"
    backup_of(source, path)
    target = target_factory()
    empty = row_counts(target)

    moved = tmp_path / "elsewhere.keys"
    backup.keys_path_for(path).rename(moved)
    result = invoke(target, "restore", path)
    assert result.exit_code != 0 and "--keys" in result.output

    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    result = invoke(target, "restore", path, "--keys", moved)
    assert result.exit_code != 0 and "does not match" in result.output
    assert row_counts(target) == empty


def test_backup_never_overwrites(source, tmp_path):
    path = tmp_path / "b"
    path.write_text("an earlier backup")
    result = invoke(source, "backup", path)
    assert result.exit_code != 0 and "already exists" in result.output
    assert path.read_text() == "an earlier backup"
    assert not backup.keys_path_for(path).exists()


def test_restore_exits_non_zero_when_the_copy_does_not_match_its_manifest(
    source, target_factory, tmp_path
):
    path = tmp_path / "b"
    backup_of(source, path)
    keys_path = backup.keys_path_for(path)
    manifest = json.loads(keys_path.read_text())
    manifest["row_counts"]["clients"] += 1
    manifest["audit_head"]["seq"] += 1
    keys_path.write_text(json.dumps(manifest))
    result = invoke(target_factory(), "restore", path)
    assert result.exit_code == 1
    assert "Row count differs: clients" in result.output
    assert "Audit chain head differs" in result.output
    assert "VERIFICATION FAILED" in result.output


@pytest.mark.skipif(databases.backend() != "sqlite", reason="edits the SQLite copy in place")
def test_restore_exits_non_zero_when_the_audit_trail_was_altered(source, target_factory, tmp_path):
    """Someone with both files but not the audit key rewrites history in the copy."""
    path = tmp_path / "b"
    backup_of(source, path)
    with sqlite3.connect(path) as conn:
        conn.execute("DROP TRIGGER audit_events_no_update")
        conn.execute("UPDATE audit_events SET actor_login = 'someone-else' WHERE seq = 1")
    conn.close()
    keys_path = backup.keys_path_for(path)
    manifest = json.loads(keys_path.read_text())
    manifest["database"]["size"] = path.stat().st_size
    manifest["database"]["sha256"] = hashlib.sha256(path.read_bytes()).hexdigest()
    keys_path.write_text(json.dumps(manifest))
    result = invoke(target_factory(), "restore", path)
    assert result.exit_code == 1
    assert "Audit chain: ok" not in result.output and "VERIFICATION FAILED" in result.output

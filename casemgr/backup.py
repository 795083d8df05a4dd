"""Online backup and restore: `flask --app casemgr backup PATH` and `restore PATH`.

A backup is two files, both mode 0600:

* PATH: the database in its own native format, so it can be restored with standard tools
  in an emergency. SQLite: a copy made with the SQLite backup API (one step, inside one read
  transaction: a consistent snapshot while the app keeps writing). PostgreSQL: a
  `pg_dump --format=custom` archive taken from a snapshot exported by a REPEATABLE READ
  transaction (writers are never blocked).
* PATH.keys: the instance keys (the audit HMAC key and the secret key) and a manifest read
  from the same snapshot as the data: the SHA-256 of PATH, the migration revision, the audit
  chain head and every table's row count. Without the audit key a restored audit trail
  cannot be verified; the key is kept out of PATH so it can be stored apart from the data,
  as it is kept out of the database.

`restore` only writes into a database that holds no data and refuses keys that differ from
the target instance's own (unless this command created them at start-up or --replace-keys
is given). It then verifies the audit chain, compares the chain head and the row counts with
the manifest and checks integrity and foreign keys; any failure exits with status 1.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess  # noqa: S404  (pg_dump / pg_restore, argument lists, never a shell)
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import with_appcontext
from sqlalchemy.engine import URL, Engine
from sqlalchemy.pool import NullPool

from .audit import services as audit_services
from .audit.hooks import acting_as, record
from .extensions import db
from .orm import utcnow

FORMAT = "casemgr-backup/1"
KEYS_SUFFIX = ".keys"
# Instance key file -> the setting it feeds (see config._derive).
# The instance's keys: the audit chain's, the session cookies' and the one that seals the
# TOTP seeds (without it no one could complete two-factor sign-in after a restore).
KEY_FILES = {"audit_key": "AUDIT_HMAC_KEY", "secret_key": "SECRET_KEY", "totp_key": "TOTP_KEY"}
# Tables the migrations fill by themselves: rows there do not make a database "in use".
# A migration that seeds another table must add it here, or restore into a freshly migrated
# database is refused (a database without tables is always accepted).
SEEDED_TABLES = frozenset({"alembic_version", "audit_chain_head", "mrn_sequence", "drugs"})

BACKUP_HELP = """Write a consistent online backup of the database to PATH.

\b
Safe while the app is running and writing. Two files are written, both mode 0600:
  PATH       the database (SQLite: a copy made with the SQLite backup API;
             PostgreSQL: a pg_dump custom-format archive)
  PATH.keys  the instance's audit HMAC key and secret key, and a manifest
             (SHA-256 of PATH, migration, audit chain head, row counts)

The audit key is needed to verify the audit trail after a restore. It lives in its own
file so it can be stored apart from the data; keep PATH.keys at least as safe as PATH.
Existing files are never overwritten. PostgreSQL needs pg_dump of the server's major
version or newer (CASEMGR_BACKUP_PG_DUMP names another binary).
"""

RESTORE_HELP = """Restore a backup made by `backup` into this instance's EMPTY database.

\b
Stop the app first. Refused if the database already holds data. Keys: PATH.keys (or
--keys FILE) is restored into the instance folder; an instance key that differs from the
backup's is refused unless this command created it at start-up (a new instance) or
--replace-keys is given. An AUDIT_HMAC_KEY set in the configuration must equal the backup's.

Afterwards the audit chain is verified and the chain head, row counts, integrity and
foreign keys are compared with the backup; the exit status is 1 if any check fails.
"""


def init_app(app: Flask) -> None:
    app.cli.add_command(backup_command)
    app.cli.add_command(restore_command)


@dataclass(frozen=True)
class Snapshot:
    revision: str | None
    head_seq: int | None
    head_hash: str | None
    counts: dict[str, int]


# ---------------------------------------------------------------------------------- backup


@click.command("backup", help=BACKUP_HELP, short_help="Write an online backup to PATH.")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@with_appcontext
def backup_command(path: Path) -> None:
    path = path.absolute()
    keys_path = keys_path_for(path)
    for target in (path, keys_path):
        if target.exists() or target.is_symlink():
            raise click.ClickException(
                f"{target} already exists; backups are never overwritten: choose a new name."
            )
    if not path.parent.is_dir():
        raise click.ClickException(f"{path.parent} is not a directory.")
    keys = _current_keys()
    engine = db.engine
    dialect = engine.dialect.name
    taken_at = utcnow()
    with _temporary(path) as data_tmp, _temporary(keys_path) as keys_tmp:
        if dialect == "sqlite":
            snapshot = _backup_sqlite(engine, data_tmp)
        elif dialect == "postgresql":
            snapshot = _backup_postgres(engine, data_tmp)
        else:
            raise click.ClickException(f"Backups of {dialect} databases are not supported.")
        size, digest = _file_digest(data_tmp)
        manifest = {
            "format": FORMAT,
            "taken_at": taken_at.isoformat(),
            "dialect": dialect,
            "database": {"file": path.name, "size": size, "sha256": digest},
            "alembic_revision": snapshot.revision,
            "audit_head": {"seq": snapshot.head_seq, "hash": snapshot.head_hash},
            "row_counts": snapshot.counts,
            "keys": keys,
        }
        keys_tmp.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        _fsync(keys_tmp)
        os.replace(keys_tmp, keys_path)
        os.replace(data_tmp, path)
        _fsync_dir(path.parent)
    keys_size, keys_digest = _file_digest(keys_path)
    click.echo(
        f"Backup of {_describe(engine)} ({dialect}), consistent as of {taken_at:%Y-%m-%d %H:%M:%S} UTC; "
        f"audit chain head seq {snapshot.head_seq if snapshot.head_seq is not None else '-'}, "
        f"{sum(snapshot.counts.values())} rows in {len(snapshot.counts)} tables."
    )
    click.echo(f"  {path}  {size} bytes  sha256 {digest}")
    click.echo(f"  {keys_path}  {keys_size} bytes  sha256 {keys_digest}")
    click.echo(
        "  PATH.keys holds the audit and secret keys: keep it as safe as the data, "
        "ideally stored apart from it."
    )
    if snapshot.head_seq is not None:  # a migrated database: record who took a copy of it
        detail = {"file": path.name, "sha256": digest, "audit_seq": snapshot.head_seq}
        if not _record("backup.created", detail):
            sys.exit(1)


def _record(action: str, detail: dict[str, Any]) -> bool:
    """An audit event for the backup or restore; a failure is reported, not raised."""
    try:
        with acting_as(None, _operator()):
            record(db.session, action, object_type="database", detail=detail)
            db.session.commit()
    except sa.exc.SQLAlchemyError as exc:
        db.session.rollback()
        click.echo(
            f"Warning: {action} could not be recorded in the audit trail "
            f"({type(getattr(exc, 'orig', None) or exc).__name__}).",
            err=True,
        )
        return False
    return True


def keys_path_for(path: Path) -> Path:
    return path.with_name(path.name + KEYS_SUFFIX)


def _current_keys() -> dict[str, str]:
    from .auth import totp

    totp.ensure_key()  # made on first use; a backup must carry it even before then
    keys = {}
    for name, setting in KEY_FILES.items():
        value = current_app.config.get(setting)
        if isinstance(value, bytes):
            try:
                value = value.decode()
            except UnicodeDecodeError as exc:
                raise click.ClickException(f"{setting} is not text; cannot back it up.") from exc
        if not isinstance(value, str) or not value:
            raise click.ClickException(f"{setting} is not set.")
        keys[name] = value
    return keys


def _backup_sqlite(engine: Engine, dest: Path) -> Snapshot:
    source = _sqlite_file(engine)
    if not source.is_file():
        raise click.ClickException(f"No database at {source}.")
    timeout = int(current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10000)) / 1000
    src = sqlite3.connect(source, timeout=timeout)
    dst = sqlite3.connect(dest)
    try:
        src.execute("PRAGMA query_only = ON")
        # pages=-1: the whole database in one step, inside one read transaction, so the copy
        # is one consistent snapshot; in WAL mode the app's writers are not blocked meanwhile.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")  # one self-contained file
        damaged, orphans = _sqlite_integrity(dst), _sqlite_orphans(dst)
    finally:
        src.close()
        dst.close()
    if damaged:
        raise click.ClickException(f"The copy failed its integrity check: {damaged}")
    if orphans:  # a copy of what is there is still worth keeping; restore will say so too
        click.echo(f"Warning: in the database as copied, {orphans}.", err=True)
    _fsync(dest)
    copy = sa.create_engine(URL.create("sqlite", database=str(dest)), poolclass=NullPool)
    try:
        with copy.connect() as conn:
            return read_snapshot(conn)
    finally:
        copy.dispose()


def _backup_postgres(engine: Engine, dest: Path) -> Snapshot:
    pg_dump = _tool("BACKUP_PG_DUMP", "pg_dump")
    conninfo, env = _libpq(engine.url)
    with engine.connect() as conn:
        conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with conn.begin():
            # pg_dump reads the very snapshot the manifest is counted from.
            snapshot_id = conn.execute(sa.text("SELECT pg_export_snapshot()")).scalar_one()
            snapshot = read_snapshot(conn)
            with open(dest, "wb") as out:
                proc = subprocess.run(  # noqa: S603  (fixed argument list, no shell)
                    [
                        pg_dump,
                        "--format=custom",
                        "--no-password",
                        f"--snapshot={snapshot_id}",
                        "--dbname",
                        conninfo,
                    ],
                    stdout=out,
                    stderr=subprocess.PIPE,
                    env=env,
                    check=False,
                )
    if proc.returncode != 0:
        raise click.ClickException(f"pg_dump failed: {_stderr(proc)}")
    _fsync(dest)
    return snapshot


# --------------------------------------------------------------------------------- restore


@click.command("restore", help=RESTORE_HELP, short_help="Restore a backup into an empty instance.")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--keys",
    "keys_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="The key file written with the backup (default: PATH.keys).",
)
@click.option(
    "--replace-keys",
    is_flag=True,
    help="Replace instance key files that differ from the backup's (only for an instance "
    "that has never held data).",
)
@with_appcontext
def restore_command(path: Path, keys_file: Path | None, replace_keys: bool) -> None:
    path = path.absolute()
    manifest = _load_manifest(keys_file or keys_path_for(path))
    size, digest = _file_digest(path)
    expected = manifest["database"]
    if (size, digest) != (expected.get("size"), expected.get("sha256")):
        raise click.ClickException(
            f"{path} does not match its key file (SHA-256 {digest}, expected "
            f"{expected.get('sha256')}): wrong pair of files, or the backup is damaged."
        )
    engine = db.engine
    dialect = engine.dialect.name
    if manifest["dialect"] != dialect:
        raise click.ClickException(
            f"This is a {manifest['dialect']} backup; the configured database is {dialect}."
        )
    if dialect not in ("sqlite", "postgresql"):
        raise click.ClickException(f"Restoring into {dialect} is not supported.")

    new_file = dialect == "sqlite" and not _sqlite_file(engine).exists()
    with engine.connect() as conn:
        found = data_found(conn)
        tables = table_names(conn)
        target_revision = _revision(conn, tables)
    if found:
        raise click.ClickException(
            f"Refused: the target database ({_describe(engine)}) already holds data ({found}). "
            "Restore only into an empty database; nothing was changed."
        )
    clean = False
    if dialect == "postgresql" and tables:
        if target_revision != manifest["alembic_revision"]:
            raise click.ClickException(
                "Refused: the target database already has tables, at migration "
                f"{target_revision or 'unknown'}, and the backup is at "
                f"{manifest['alembic_revision']}. Restore into a database without tables "
                "(createdb); nothing was changed."
            )
        clean = True  # same schema, no data: pg_restore drops and recreates it
    writes, notes = _key_plan(manifest["keys"], replace_keys)

    db.session.remove()
    engine.dispose()
    if dialect == "sqlite":
        _restore_sqlite(engine, path, new_file=new_file)
    else:
        _restore_postgres(engine, path, clean=clean)
    for name, value in writes.items():
        _write_secret(Path(current_app.instance_path) / name, value)
        current_app.config[KEY_FILES[name]] = value
        notes.append(f"{name}: restored into the instance folder")
    engine.dispose()
    click.echo(f"Restored {path.name} into {_describe(engine)} ({dialect}).")
    for note in notes:
        click.echo(f"  keys: {note}")
    if not _verify(engine, manifest):
        click.echo(
            "VERIFICATION FAILED: the data is restored but does not match the backup. "
            "Do not start the app until this is explained.",
            err=True,
        )
        sys.exit(1)
    detail = {"file": path.name, "sha256": digest, "audit_seq": manifest["audit_head"]["seq"]}
    recorded = _record("backup.restored", detail)
    head = _migrations_head()
    if head and manifest["alembic_revision"] != head:
        click.echo(
            f"The backup is at migration {manifest['alembic_revision']}; this code is at {head}: "
            "run `flask --app casemgr db upgrade` before starting the app."
        )
    if not recorded:
        sys.exit(1)


def _load_manifest(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise click.ClickException(
            f"No key file at {path}: pass --keys FILE (the .keys file written with the backup)."
        )
    try:
        manifest = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.ClickException(f"{path} is not a casemgr backup key file.") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise click.ClickException(f"{path} is not a {FORMAT} key file.")
    shapes = {
        "dialect": str,
        "database": dict,
        "audit_head": dict,
        "row_counts": dict,
        "alembic_revision": (str, type(None)),
    }
    if not all(isinstance(manifest.get(field), shape) for field, shape in shapes.items()):
        raise click.ClickException(f"{path} is an incomplete backup key file.")
    keys = manifest.get("keys")
    if not isinstance(keys, dict) or not all(
        isinstance(keys.get(name), str) and keys[name] for name in KEY_FILES
    ):
        raise click.ClickException(f"{path} does not hold the instance keys.")
    return manifest


def _key_plan(keys: dict[str, str], replace: bool) -> tuple[dict[str, str], list[str]]:
    """Which key files to write; refuses (before anything changes) where that is unsafe."""
    instance = Path(current_app.instance_path)
    started = process_started_at()
    writes: dict[str, str] = {}
    notes: list[str] = []
    for name, setting in KEY_FILES.items():
        wanted, current = keys[name], current_app.config.get(setting)
        if isinstance(current, bytes):
            current = current.decode(errors="replace")
        if current == wanted:
            notes.append(f"{name}: the instance already has the backup's key")
            continue
        file = instance / name
        from_file = file.is_file() and file.read_text().strip() == current
        if from_file:
            fresh = started is not None and file.stat().st_mtime >= started - 0.05
            if not (fresh or replace):
                raise click.ClickException(
                    f"Refused: {file} differs from the backup's {name} and was not created by "
                    "this command, so it may protect other data. Restore into a new instance "
                    "folder, or pass --replace-keys if this instance has never held data; "
                    "nothing was changed."
                )
            writes[name] = wanted
        elif setting in ("AUDIT_HMAC_KEY", "TOTP_KEY"):
            what = {
                "AUDIT_HMAC_KEY": "the restored audit trail could not be verified",
                "TOTP_KEY": "no one could complete two-factor sign-in",
            }[setting]
            raise click.ClickException(
                f"Refused: {setting} is set in the configuration and differs from the "
                f"backup's, so {what}. Set it to the backup's {name} (in the key file) and run "
                "restore again; nothing was changed."
            )
        else:
            notes.append(
                f"{name}: {setting} from the configuration kept (it differs from the backup's; "
                "sessions from before the backup will not be accepted)"
            )
    return writes, notes


def _restore_sqlite(engine: Engine, backup: Path, *, new_file: bool) -> None:
    target = _sqlite_file(engine)
    target.parent.mkdir(parents=True, exist_ok=True)
    timeout = int(current_app.config.get("SQLITE_BUSY_TIMEOUT_MS", 10000)) / 1000
    src = sqlite3.connect(backup.as_uri() + "?mode=ro", uri=True)
    dst = sqlite3.connect(target, timeout=timeout)
    try:
        # The backup API writes the whole file under SQLite's own locks (WAL included).
        src.backup(dst, pages=-1)
    finally:
        src.close()
        dst.close()
    if new_file:  # created by this command: owner only, like the backup it came from
        target.chmod(0o600)


def _restore_postgres(engine: Engine, backup: Path, *, clean: bool) -> None:
    pg_restore = _tool("BACKUP_PG_RESTORE", "pg_restore")
    conninfo, env = _libpq(engine.url)
    args = [
        pg_restore,
        "--no-owner",
        "--no-acl",
        "--single-transaction",  # all or nothing
        "--exit-on-error",
        "--no-password",
        "--dbname",
        conninfo,
    ]
    if clean:
        args += ["--clean", "--if-exists"]
    proc = subprocess.run(  # noqa: S603  (fixed argument list, no shell)
        [*args, str(backup)],
        capture_output=True,
        env=env,
        check=False,
    )
    if proc.returncode != 0:
        raise click.ClickException(f"pg_restore failed, nothing was restored: {_stderr(proc)}")


def _verify(engine: Engine, manifest: dict[str, Any]) -> bool:
    ok = True
    report = audit_services.verify(db.session)
    db.session.rollback()
    click.echo(f"Audit chain: {report}")
    ok &= report.ok
    with engine.connect() as conn:
        restored = read_snapshot(conn)
        problems = consistency_problems(conn)
    head = manifest["audit_head"]
    if (restored.head_seq, restored.head_hash) == (head["seq"], head["hash"]):
        click.echo(f"Audit chain head matches the backup (seq {head['seq']}).")
    else:
        ok = False
        click.echo(
            f"Audit chain head differs from the backup: seq {restored.head_seq}, "
            f"expected {head['seq']}."
        )
    expected = manifest["row_counts"]
    if restored.counts == expected:
        click.echo(
            f"Row counts match the backup ({sum(expected.values())} rows in {len(expected)} tables)."
        )
    else:
        ok = False
        for table in sorted(set(expected) | set(restored.counts)):
            if expected.get(table) != restored.counts.get(table):
                click.echo(
                    f"Row count differs: {table}: {restored.counts.get(table)}, "
                    f"expected {expected.get(table)}."
                )
    if problems:
        ok = False
        for problem in problems:
            click.echo(f"Consistency: {problem}")
    else:
        click.echo("Integrity and foreign keys: ok.")
    return ok


# ------------------------------------------------------------------------ database helpers


def table_names(conn: sa.Connection) -> list[str]:
    """Every user table; PostgreSQL tables outside `public` are schema-qualified."""
    if conn.dialect.name == "sqlite":
        stmt = "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        return sorted(conn.exec_driver_sql(stmt).scalars())
    rows = conn.execute(
        sa.text(
            "SELECT schemaname, tablename FROM pg_tables "
            "WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        )
    )
    return sorted(t if s == "public" else f"{s}.{t}" for s, t in rows)


def _quoted(conn: sa.Connection, table: str) -> str:
    quote = conn.dialect.identifier_preparer.quote_identifier
    return ".".join(quote(part) for part in table.split("."))


def read_snapshot(conn: sa.Connection) -> Snapshot:
    tables = table_names(conn)
    counts = {
        t: conn.exec_driver_sql(f"SELECT count(*) FROM {_quoted(conn, t)}").scalar_one()  # noqa: S608  (names from the catalog, quoted)
        for t in tables
    }
    seq = digest = None
    if "audit_chain_head" in tables:
        head = conn.execute(
            sa.text("SELECT last_seq, last_hash FROM audit_chain_head WHERE id = 1")
        ).first()
        if head is not None:
            seq, digest = int(head[0]), str(head[1])
    return Snapshot(_revision(conn, tables), seq, digest, counts)


def _revision(conn: sa.Connection, tables: list[str]) -> str | None:
    if "alembic_version" not in tables:
        return None
    versions = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalars()
    return ",".join(sorted(versions)) or None


def data_found(conn: sa.Connection) -> str | None:
    """Why this database counts as in use, or None when it holds no data (it may have the
    schema and the rows the migrations seed)."""
    tables = table_names(conn)
    for table in tables:
        if table in SEEDED_TABLES:
            continue
        if conn.exec_driver_sql(f"SELECT 1 FROM {_quoted(conn, table)} LIMIT 1").first():  # noqa: S608  (names from the catalog, quoted)
            return f"table {table} has rows"
    if "audit_chain_head" in tables:
        seq = conn.execute(sa.text("SELECT max(last_seq) FROM audit_chain_head")).scalar()
        if seq:
            return "the audit trail is not empty"
    return None


def consistency_problems(conn: sa.Connection) -> list[str]:
    if conn.dialect.name == "sqlite":
        return _sqlite_problems(conn.connection.driver_connection)
    unvalidated = conn.execute(
        sa.text("SELECT conname FROM pg_constraint WHERE NOT convalidated ORDER BY conname")
    ).scalars()
    return [f"constraint {name} is not validated" for name in unvalidated]


def _sqlite_problems(conn: Any) -> list[str]:
    return [p for p in (_sqlite_integrity(conn), _sqlite_orphans(conn)) if p]


def _sqlite_integrity(conn: Any) -> str | None:
    integrity = [row[0] for row in conn.execute("PRAGMA integrity_check").fetchall()]
    return None if integrity == ["ok"] else "integrity_check: " + "; ".join(integrity[:5])


def _sqlite_orphans(conn: Any) -> str | None:
    orphans = conn.execute("PRAGMA foreign_key_check").fetchall()
    if not orphans:
        return None
    tables = ", ".join(sorted({row[0] for row in orphans}))
    return f"{len(orphans)} rows break foreign keys (in {tables})"


def _sqlite_file(engine: Engine) -> Path:
    name = engine.url.database
    if not name or name == ":memory:" or name.startswith("file:"):
        raise click.ClickException("Only a SQLite database file can be backed up or restored.")
    return Path(name).absolute()


def _libpq(url: URL) -> tuple[str, dict[str, str]]:
    """A libpq URL without the password (which goes in PGPASSWORD, not on a command line
    that `ps` shows) and the environment for pg_dump / pg_restore."""
    env = dict(os.environ)
    if url.password is not None:
        env["PGPASSWORD"] = str(url.password)
    plain = url.set(drivername="postgresql", password=None)
    return plain.render_as_string(hide_password=False), env


def _describe(engine: Engine) -> str:
    if engine.dialect.name == "sqlite":
        return str(_sqlite_file(engine))
    return engine.url.render_as_string(hide_password=True)


def _tool(setting: str, default: str) -> str:
    name = current_app.config.get(setting) or default
    found = shutil.which(name)
    if not found:
        raise click.ClickException(
            f"{name} was not found: install the PostgreSQL client tools (the server's major "
            f"version or newer) or set CASEMGR_{setting}."
        )
    return found


def _stderr(proc: subprocess.CompletedProcess) -> str:
    text = (proc.stderr or b"").decode(errors="replace").strip()
    return text[-2000:] or f"exit status {proc.returncode}"


def _migrations_head() -> str | None:
    migrate = current_app.extensions.get("migrate")
    if migrate is None:
        return None
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory(migrate.directory).get_heads()
    return ",".join(sorted(heads)) or None


def _operator() -> str:
    return f"cli:{getpass.getuser()}"[:64]


# ---------------------------------------------------------------------------- file helpers


def process_started_at() -> float | None:
    """When this process started (wall clock), from /proc on Linux; None elsewhere."""
    try:
        stat = Path("/proc/self/stat").read_text()
        ticks = int(stat[stat.rindex(")") + 2 :].split()[19])  # field 22: starttime
        age = time.clock_gettime(time.CLOCK_BOOTTIME) - ticks / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, AttributeError):
        return None
    return time.time() - age


@contextmanager
def _temporary(final: Path) -> Iterator[Path]:
    """A 0600 file next to `final` (so the rename is atomic); removed unless renamed."""
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        for leftover in (
            tmp,
            *(Path(name + end) for end in ("-journal", "-wal", "-shm", "-writers")),
        ):
            leftover.unlink(missing_ok=True)


def _write_secret(path: Path, value: str) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            fh.write(value)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(name, path)
    except BaseException:
        Path(name).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _file_digest(path: Path) -> tuple[int, str]:
    with open(path, "rb") as fh:
        digest = hashlib.file_digest(fh, "sha256").hexdigest()
    return path.stat().st_size, digest


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_dir(path: Path) -> None:
    try:
        _fsync(path)
    except OSError:  # not every platform can fsync a directory
        pass

"""Configuration sources, generated secrets, SQLite connection settings, time display."""

import os
import sqlite3
import stat
import threading
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa

from casemgr import create_app, sqlite_setup
from casemgr.extensions import db
from casemgr.timefmt import format_datetime
from tests.conftest import TEST_CONFIG
from tests.databases import backend


def bare_app(tmp_path, monkeypatch, **overrides):
    """An app built only from defaults, instance/config.py and the environment."""
    monkeypatch.setenv("CASEMGR_INSTANCE_PATH", str(tmp_path))
    return create_app(overrides or None)


def test_defaults_use_sqlite_in_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEMGR_DATABASE_URL", raising=False)
    app = bare_app(tmp_path, monkeypatch)
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'casemgr.sqlite3'}"
    assert app.config["SESSION_IDLE_MINUTES"] == 15
    assert app.config["SESSION_COOKIE_SAMESITE"] == "Lax" and app.config["SESSION_COOKIE_HTTPONLY"]
    assert not app.config.get("SESSION_COOKIE_SECURE")


def test_environment_overrides_instance_config(tmp_path, monkeypatch):
    (tmp_path / "config.py").write_text(
        "TIMEZONE = 'America/Chicago'\nFACILITY_NAME = 'From file'\n"
    )
    monkeypatch.setenv("CASEMGR_TIMEZONE", "America/Denver")
    monkeypatch.setenv("CASEMGR_SESSION_IDLE_MINUTES", "7")
    monkeypatch.setenv("CASEMGR_DATABASE_URL", f"sqlite:///{tmp_path}/other.sqlite3")
    monkeypatch.setenv("CASEMGR_SECRET_KEY", "k" * 40)
    app = bare_app(tmp_path, monkeypatch)
    assert app.config["TIMEZONE"] == "America/Denver"
    assert app.config["FACILITY_NAME"] == "From file"
    assert app.config["SESSION_IDLE_MINUTES"] == 7
    assert app.config["SQLALCHEMY_DATABASE_URI"].endswith("other.sqlite3")
    assert app.config["SECRET_KEY"] == "k" * 40


def test_secret_keys_are_generated_once_with_owner_only_permissions(tmp_path, monkeypatch):
    monkeypatch.delenv("CASEMGR_SECRET_KEY", raising=False)
    first = bare_app(tmp_path, monkeypatch)
    second = bare_app(tmp_path, monkeypatch)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 32
    for name in ("secret_key", "audit_key"):
        mode = stat.S_IMODE(os.stat(tmp_path / name).st_mode)
        assert mode == 0o600, name
    assert first.config["AUDIT_HMAC_KEY"] != first.config["SECRET_KEY"]


def test_concurrent_first_starts_agree_on_one_key(tmp_path):
    from casemgr.config import instance_secret

    keys = []
    threads = [
        threading.Thread(target=lambda: keys.append(instance_secret(str(tmp_path), "k")))
        for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(keys)) == 1


def test_short_secret_keys_are_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEMGR_SECRET_KEY", "short")
    with pytest.raises(RuntimeError, match="at least 32"):
        bare_app(tmp_path, monkeypatch)


def test_unknown_time_zone_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEMGR_TIMEZONE", "Mars/Olympus")
    with pytest.raises(RuntimeError, match="time zone"):
        bare_app(tmp_path, monkeypatch)


def test_https_mode_hardens_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("CASEMGR_HTTPS", "true")
    app = bare_app(tmp_path, monkeypatch)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert app.config["SESSION_COOKIE_NAME"] == "__Host-casemgr"


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite connection settings")
def test_every_sqlite_connection_gets_the_pragmas(app):
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 2  # FULL
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() >= 5000
        assert conn.exec_driver_sql("PRAGMA analysis_limit").scalar() == sqlite_setup.ANALYSIS_LIMIT


def _traced_sqlite_engine(path, statements: list[str]) -> sa.Engine:
    """A file engine set up like the app's, recording every statement SQLite runs, pragmas
    issued on the driver connection included."""

    def connect():
        raw = sqlite3.connect(path, check_same_thread=False)
        raw.set_trace_callback(statements.append)
        return raw

    engine = sa.create_engine(f"sqlite:///{path}", creator=connect)  # a QueuePool, as the app
    sqlite_setup.configure(engine, 5000)
    return engine


def test_sqlite_statistics_are_kept_fresh(tmp_path, monkeypatch):
    """PRAGMA optimize with 0x10002 on the process's first connection only, then plain
    optimize at most once per OPTIMIZE_EVERY_S on checkout, which analyses a queried table
    whose index has no statistics."""
    statements: list[str] = []
    engine = _traced_sqlite_engine(str(tmp_path / "stats.db"), statements)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE t (id INTEGER PRIMARY KEY, k INTEGER)")
        conn.exec_driver_sql("CREATE INDEX ix_t_k ON t (k)")
        conn.execute(sa.text("INSERT INTO t (k) VALUES (:k)"), [{"k": n % 7} for n in range(50)])
    assert statements.count("PRAGMA optimize = 0x10002") == 1
    engine.dispose()  # the next checkout opens a new connection
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT id FROM t WHERE k = 3").all()
    assert statements.count("PRAGMA optimize = 0x10002") == 1
    assert "PRAGMA optimize" not in statements  # not due for an hour

    monkeypatch.setattr(sqlite_setup, "OPTIMIZE_EVERY_S", 0.0)
    with engine.connect() as conn:
        assert "PRAGMA optimize" in statements
        assert conn.exec_driver_sql("SELECT idx FROM sqlite_stat1 WHERE tbl = 't'").all()
    engine.dispose()


def test_a_failed_optimize_does_not_fail_the_connection(caplog):
    raw = sqlite3.connect(":memory:")
    raw.close()  # any sqlite3.Error will do: a busy database raises OperationalError
    sqlite_setup._optimize(raw, "PRAGMA optimize")
    assert "PRAGMA optimize skipped" in caplog.text


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite connection settings")
def test_sqlite_transactions_begin_immediate(app):
    seen = []
    sa.event.listen(db.engine, "before_cursor_execute", lambda *a: seen.append(a[2]))
    with db.engine.begin() as conn:
        conn.execute(sa.text("SELECT 1"))
    assert seen[0] == "BEGIN IMMEDIATE"


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite connection settings")
def test_concurrent_sqlite_writers_wait_instead_of_failing(app_factory):
    """Read-then-write transactions from several threads: none sees 'database is locked'."""
    app = app_factory()
    errors = []

    def worker():
        try:
            with app.app_context():
                for _ in range(20):
                    n = db.session.execute(sa.text("SELECT count(*) FROM settings")).scalar()
                    db.session.execute(
                        sa.text(
                            "INSERT OR REPLACE INTO settings (key, value, created_at, updated_at) "
                            "VALUES ('k', :v, '2026-01-01', '2026-01-01')"
                        ),
                        {"v": str(n)},
                    )
                    db.session.commit()
                db.session.remove()
        except Exception as exc:  # noqa: BLE001
            errors.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


@pytest.mark.skipif(backend() != "sqlite", reason="SQLite connection settings")
def test_foreign_keys_are_enforced_on_sqlite(app):
    with pytest.raises(sa.exc.IntegrityError):
        with db.engine.begin() as conn:
            conn.exec_driver_sql("INSERT INTO user_roles (user_id, role) VALUES (424242, 'nurse')")


def test_times_are_stored_utc_and_shown_in_the_facility_zone(app, make):
    from casemgr.domain.roles import Role

    moment = datetime(2026, 3, 8, 7, 30, tzinfo=UTC)  # 03:30 EDT, just after the DST change
    user = make.user(Role.NURSE, last_login_at=moment)
    db.session.commit()
    db.session.expire_all()
    loaded = db.session.get(type(user), user.id)
    assert loaded.last_login_at == moment and loaded.last_login_at.tzinfo is not None
    assert format_datetime(loaded.last_login_at) == "2026-03-08 03:30"


def test_naive_datetimes_are_refused(app, make):
    from casemgr.domain.roles import Role

    with pytest.raises(sa.exc.StatementError, match="naive datetime"):
        make.user(Role.NURSE, last_login_at=datetime(2026, 1, 1, 12, 0))
    db.session.rollback()


def test_production_hash_parameters_meet_the_bar(tmp_path, monkeypatch):
    """Row A-02: argon2id with at least 19 MiB and t >= 2 (we use argon2-cffi's defaults)."""
    from casemgr.auth.passwords import hash_password

    app = bare_app(tmp_path, monkeypatch)
    with app.app_context():
        hashed = hash_password("some long enough passphrase")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=4$")


def test_test_config_is_not_the_production_config():
    assert TEST_CONFIG["ARGON2_MEMORY_KIB"] < 19456  # only the suite runs this cheap


def test_instance_folder_is_private(tmp_path, monkeypatch):
    folder = tmp_path / "inst"
    folder.mkdir(mode=0o755)
    monkeypatch.setenv("CASEMGR_INSTANCE_PATH", str(folder))
    create_app()
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700

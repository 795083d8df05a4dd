"""Migrations build, tear down and rebuild an empty database of either kind, and match the
models exactly (row M-01)."""

import pytest
import sqlalchemy as sa
from flask_migrate import check, downgrade, upgrade

from casemgr.extensions import db
from tests import databases
from tests.conftest import make_app

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_app(tmp_path):
    url, drop = databases.empty_database(tmp_path, "migrations")
    app = make_app(url, tmp_path / "instance")
    with app.app_context():
        yield app
        db.session.remove()
        db.engine.dispose()
    drop()


def tables() -> set[str]:
    return set(sa.inspect(db.engine).get_table_names()) - {"alembic_version"}


def test_upgrade_downgrade_upgrade_and_check(empty_app):
    upgrade()
    built = tables()
    assert {
        "users",
        "user_roles",
        "user_sessions",
        "settings",
        "audit_events",
        "audit_chain_head",
    } <= built
    check()  # raises if the models and the migrations disagree
    downgrade(revision="base")
    assert tables() == set()
    upgrade()
    assert tables() == built
    check()


def test_upgrade_creates_the_chain_head_and_append_only_guards(empty_app):
    upgrade()
    with db.engine.begin() as conn:
        assert (
            conn.execute(sa.text("SELECT last_seq FROM audit_chain_head WHERE id = 1")).scalar()
            == 0
        )
        conn.execute(
            sa.text(
                "INSERT INTO audit_events (seq, at, action, detail, prev_hash, hash) "
                "VALUES (1, CURRENT_TIMESTAMP, 'x', '{}', 'p', 'h')"
            )
        )
    with pytest.raises(sa.exc.DBAPIError):
        with db.engine.begin() as conn:
            conn.execute(sa.text("DELETE FROM audit_events"))


@pytest.mark.skipif(databases.backend() != "sqlite", reason="SQLite planner statistics")
def test_an_upgrade_analyses_sqlite(empty_app):
    """New indexes get statistics at once (SQLite < 3.46's optimize would not see them until
    a connection had queried their tables)."""
    upgrade()
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM sqlite_stat1").scalar() > 0


def test_models_match_the_migrated_schema(empty_app):
    upgrade()
    inspector = sa.inspect(db.engine)
    for table in db.metadata.sorted_tables:
        live = {c["name"] for c in inspector.get_columns(table.name)}
        assert live == {c.name for c in table.columns}, table.name


def test_a_migration_rebuilding_referenced_tables_keeps_their_rows(app, make):
    """The sites migration rebuilds `episodes` and `users` on SQLite (a foreign key cannot be
    added in place), tables that other rows point at: on a database with data this failed
    with 'FOREIGN KEY constraint failed' until migrations/env.py deferred foreign keys."""
    from casemgr.domain.phases import Phase
    from casemgr.domain.roles import Role
    from tests.clients_helpers import admitted

    manager = make.user(Role.CLINIC_MANAGER)
    admitted(manager, make.user(Role.COUNSELOR), Phase.DETOX)
    db.session.commit()
    counted = ("users", "episodes", "phase_changes", "caseload_assignments")

    def counts() -> dict[str, int]:
        with db.engine.connect() as conn:
            return {t: conn.exec_driver_sql(f"SELECT count(*) FROM {t}").scalar() for t in counted}

    before = counts()
    db.session.remove()
    downgrade(revision="d9acf3955707")  # the revision before the sites
    upgrade()
    assert counts() == before
    check()

from __future__ import annotations

import re
import uuid

import flask
import pytest

from casemgr import create_app
from casemgr.domain.roles import Role
from casemgr.extensions import db
from tests import databases
from tests.factories import PASSWORD, Factories

TEST_CONFIG = {
    "TESTING": True,
    "SECRET_KEY": "test-secret-key-of-at-least-thirty-two-characters",
    "AUDIT_HMAC_KEY": "test-audit-hmac-key",
    "WTF_CSRF_ENABLED": False,
    "TIMEZONE": "America/New_York",
    "FACILITY_NAME": "Test Recovery Center",
    # Cheap hashing keeps the suite fast; test_passwords checks the production defaults.
    "ARGON2_TIME_COST": 1,
    "ARGON2_MEMORY_KIB": 8,
    "ARGON2_PARALLELISM": 1,
}


def make_app(url: str, instance_path, **overrides) -> flask.Flask:
    return create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance_path),
            **overrides,
        }
    )


@pytest.fixture(scope="session")
def database_factory(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("databases")
    url, drop = databases.empty_database(workdir, "template")
    app = make_app(url, workdir / "instance")
    with app.app_context():
        from flask_migrate import upgrade

        upgrade()
        db.engine.dispose()
    if databases.backend() == "sqlite":
        databases.checkpoint_sqlite(url)
        template = url.removeprefix("sqlite:///")
    else:
        template = url.rsplit("/", 1)[1]
    yield databases.DatabaseFactory(uuid.uuid4().hex[:10], workdir, template)
    drop()


@pytest.fixture
def database_url(database_factory):
    url, drop = database_factory.new()
    yield url
    drop()


def _fresh_g(sender, **_extra):
    # Tests keep an app context open (to share one session with the requests they make),
    # and Flask reuses it for requests; start each request with an empty `g` as in production.
    flask.g.__dict__.clear()


@pytest.fixture
def app_factory(database_url, tmp_path):
    """Build the app against this test's database, with extra config overrides."""
    created = []

    def _make(**overrides):
        app = make_app(database_url, tmp_path / "instance", **overrides)
        flask.request_started.connect(_fresh_g, app)
        created.append(app)
        return app

    yield _make
    for app in created:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def app(app_factory):
    app = app_factory()
    with app.app_context():
        yield app
        db.session.rollback()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def make(app):
    return Factories()


class Auth:
    def __init__(self, client, make):
        self.client, self.make = client, make

    def login(self, user_or_role, password: str = PASSWORD):
        user = self.make.user(user_or_role) if isinstance(user_or_role, Role) else user_or_role
        db.session.commit()
        resp = self.client.post("/login", data={"login": user.login, "password": password})
        assert resp.status_code == 302, resp.text
        return user

    def logout(self):
        return self.client.post("/logout")


@pytest.fixture
def auth(client, make):
    return Auth(client, make)


@pytest.fixture(params=list(Role), ids=lambda r: r.value)
def role(request):
    return request.param


def csrf_token(html: str) -> str:
    match = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', html) or re.search(
        r'value="([^"]+)"[^>]*name="csrf_token"', html
    )
    assert match, "no CSRF token in page"
    return match.group(1)


class QueryCounter:
    def __init__(self):
        self.statements: list[str] = []

    def __call__(self, conn, cursor, statement, *args):
        if not statement.startswith("BEGIN"):  # transaction control is not a query
            self.statements.append(statement)

    @property
    def count(self) -> int:
        return len(self.statements)


@pytest.fixture
def count_queries(app):
    """Count SQL statements sent while a block runs: `with count_queries() as q: ...`."""
    from contextlib import contextmanager

    import sqlalchemy as sa

    @contextmanager
    def _count():
        counter = QueryCounter()
        sa.event.listen(db.engine, "before_cursor_execute", counter)
        try:
            yield counter
        finally:
            sa.event.remove(db.engine, "before_cursor_execute", counter)

    return _count

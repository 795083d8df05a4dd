from __future__ import annotations

import re
import uuid

import flask
import jinja2
import jinja2.bccache
import pytest
import sqlalchemy as sa
import werkzeug.routing
from flask.testing import FlaskClient

from casemgr import create_app
from casemgr.auth import totp
from casemgr.auth.models import User
from casemgr.domain.passwords import normalize_login
from casemgr.domain.roles import Role
from casemgr.extensions import db
from casemgr.orm import utcnow
from tests import databases
from tests.factories import PASSWORD, TOTP_SEED, Factories

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
    "TOTP_KEY": "test-totp-sealing-key",
}


class _TemplateCode(jinja2.BytecodeCache):
    """Compiled templates kept in memory for the whole run. Every test builds its own app,
    and each app's Jinja compiled the templates it rendered again: about a tenth of a second
    per test. Jinja checks each entry against the template's source, so an edit still shows."""

    def __init__(self) -> None:
        self.code: dict[str, bytes] = {}

    def load_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        if bucket.key in self.code:
            bucket.bytecode_from_string(self.code[bucket.key])

    def dump_bytecode(self, bucket: jinja2.bccache.Bucket) -> None:
        self.code[bucket.key] = bucket.bytecode_to_string()


TEMPLATE_CODE = _TemplateCode()


def _share_url_builders() -> None:
    """Each app compiles a URL builder per route (Python source, then compile()): about
    60 ms per test for the same ~250 routes. The builders read everything app-specific
    (converters) from the rule they are bound to, so one compiled builder serves the same
    route in every app. Werkzeug-internal: when its shape changes, tests just run slower."""
    rule_class = werkzeug.routing.Rule
    compile_builder = getattr(rule_class, "_compile_builder", None)
    if compile_builder is None or getattr(compile_builder, "shared", False):
        return
    builders: dict[tuple, object] = {}

    def shared(self, append_unknown: bool = True):
        key = (
            self.rule,
            tuple(self._trace),
            tuple(sorted((k, repr(v)) for k, v in (self.defaults or {}).items())),
            tuple(sorted((k, type(c).__name__) for k, c in self._converters.items())),
            append_unknown,
        )
        if key not in builders:
            builders[key] = compile_builder(self, append_unknown)
        return builders[key]

    shared.shared = True
    rule_class._compile_builder = shared


_share_url_builders()


def make_app(url: str, instance_path, **overrides) -> flask.Flask:
    app = create_app(
        {
            **TEST_CONFIG,
            "SQLALCHEMY_DATABASE_URI": url,
            "INSTANCE_PATH": str(instance_path),
            # Should CASEMGR_REDIS_URL be set, each app keeps its throttle keys to itself.
            "REDIS_PREFIX": f"casemgr-test:{uuid.uuid4().hex}:",
            **overrides,
        }
    )
    app.jinja_env.bytecode_cache = TEMPLATE_CODE
    return app


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
    factory = databases.DatabaseFactory(uuid.uuid4().hex[:10], workdir, template)
    yield factory
    factory.close()
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
        app.test_client_class = SignInClient
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


def code_for(login: str, seed: str = TOTP_SEED) -> str:
    """The code a staff member's phone shows now, moved on to the next 30-second step when
    this one was already used (the server accepts each step once, and the next one early)."""
    last = db.session.scalar(
        sa.select(User.totp_last_step).where(User.login == normalize_login(login))
    )
    now = totp.step_at(utcnow())
    step = now if last is None else max(now, last + 1)
    if step > now + 1:
        raise RuntimeError(
            f"{login} signed in twice already in this 30-second step; move the (frozen) "
            "clock on by 30 seconds before signing in again"
        )
    return totp.code_at(seed, step)


def answer_code(client, login: str, seed: str = TOTP_SEED):
    """The second step of signing in: type the code (for someone setting up their app, the
    first code of the key the page shows)."""
    page = client.get("/login/code").text
    key = re.search(r'id="totp-key" value="([^"]+)"', page)
    code = (
        code_for(login, seed)
        if key is None
        else totp.code_at(key.group(1).replace(" ", ""), totp.step_at(utcnow()))
    )
    data = {"code": code}
    if 'name="csrf_token"' in page:
        data["csrf_token"] = csrf_token(page)
    return client.post("/login/code", data=data)


class SignInClient(FlaskClient):
    """A test client that, after a password sign-in (`POST /login`) leads to the code page,
    types the code as the person's phone would (factory users share TOTP_SEED).

    For tests written before two-factor sign-in, which post the password alone. Tests of the
    code step itself turn it off: `client.answer_second_factor = False`."""

    answer_second_factor = True

    def open(self, *args, **kwargs):
        resp = super().open(*args, **kwargs)
        if (
            self.answer_second_factor
            and resp.status_code == 302
            and resp.headers.get("Location") == "/login/code"
            and resp.request.method == "POST"
            and resp.request.path == "/login"
        ):
            login = (kwargs.get("data") or {}).get("login")
            if login:
                return answer_code(self, login)
        return resp


class Auth:
    def __init__(self, client, make):
        self.client, self.make = client, make

    def login(self, user_or_role, password: str = PASSWORD):
        """Sign in through both steps (password, then code) and return the user."""
        user = self.make.user(user_or_role) if isinstance(user_or_role, Role) else user_or_role
        db.session.commit()
        resp = self.client.post("/login", data={"login": user.login, "password": password})
        if resp.headers.get("Location") == "/login/code":
            resp = answer_code(self.client, user.login)
        signed_in = resp.status_code == 302 or "Your recovery codes" in resp.text
        assert signed_in and resp.headers.get("Location") != "/login/code", resp.text
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


def version_on(html: str) -> str:
    """The record version an edit page carries (optimistic locking): post it back with the form."""
    match = re.search(r'<input[^>]*name="version"[^>]*value="([^"]*)"', html)
    assert match, "no version field in page"
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

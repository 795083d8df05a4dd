"""Several app servers behind a load balancer share nothing but PostgreSQL and Redis.

The cluster test starts two gunicorn servers (A and B, two workers each, each with its own
empty instance folder) and one `flask worker`, all configured only by the same environment,
and shows: a sign-in started on A continues on B; failed sign-ins through both count toward
one throttle in Redis; a batch requested on A is printed by the worker and downloads through
B; concurrent audited writes through both keep the audit chain unbroken.

It needs PostgreSQL (CASEMGR_TEST_DATABASE_URL) and Redis on 127.0.0.1:6379; it is skipped
without them, except that a missing Redis fails when CASEMGR_TEST_REDIS_REQUIRED=1 (CI).
The proxy tests at the end run everywhere.
"""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pyotp
import pytest
import sqlalchemy as sa

from casemgr.audit.models import AuditEvent
from casemgr.extensions import db
from tests import databases
from tests.redis_helpers import REDIS_URL, require_redis

REPO_ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "amber lantern quietly crosses the harbor"
TOTP_SEED = "LAX2B7SLSMRGBSKVAG7IZ6OIV5HXMAVG"
MANAGER = "demo-manager"
COUNSELOR = "demo-counselor"
START_TIMEOUT = 60.0
BATCH_TIMEOUT = 180.0


# --- A browser without a browser --------------------------------------------------------


@dataclass
class Reply:
    status: int
    headers: object
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode("utf-8", "replace")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a 302 comes back as the reply


class Browser:
    """One cookie jar for every server: cookies ignore the port, so a cookie set by A is sent
    to B, as a load balancer in front of both would do."""

    def __init__(self):
        self.jar = http.cookiejar.CookieJar()
        self.opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.jar), _NoRedirects()
        )

    def get(self, url: str) -> Reply:
        return self._open(urllib.request.Request(url))

    def post(self, url: str, data: dict) -> Reply:
        body = urllib.parse.urlencode(data, doseq=True).encode()
        return self._open(urllib.request.Request(url, data=body, method="POST"))

    def _open(self, request: urllib.request.Request) -> Reply:
        try:
            with self.opener.open(request, timeout=60) as resp:
                return Reply(resp.status, resp.headers, resp.read())
        except urllib.error.HTTPError as err:
            with err:
                return Reply(err.code, err.headers, err.read())

    def form(self, url: str) -> dict[str, str]:
        """The hidden fields of the page's form (CSRF token, one-time keys)."""
        page = self.get(url)
        assert page.status == 200, (url, page.status)
        fields = re.findall(r'<input[^>]*type="hidden"[^>]*>', page.text)
        found = {}
        for tag in fields:
            name, value = re.search(r'name="([^"]+)"', tag), re.search(r'value="([^"]*)"', tag)
            if name and value:
                found[name.group(1)] = value.group(1)
        return found


# --- The cluster ------------------------------------------------------------------------


@dataclass
class Cluster:
    a: str
    b: str
    env: dict[str, str]
    database: str  # a psycopg conninfo
    redis_prefix: str
    logs: Path

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        return _flask(self.env, *args)

    def sql(self, query: str, *params) -> list[tuple]:
        with psycopg.connect(self.database, connect_timeout=5) as conn:
            return conn.execute(query, params).fetchall()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _flask(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", "casemgr", *args],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def _environment(root: Path, url: str, redis_url: str, tag: str) -> dict[str, str]:
    """What every server and the worker share: the database, Redis and the keys that must be
    identical everywhere. Each process gets its own instance folder, so nothing is shared
    through the disk."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMGR_")}
    env.update(
        {
            "CASEMGR_DATABASE_URL": url,
            "CASEMGR_REDIS_URL": redis_url,
            "CASEMGR_REDIS_PREFIX": f"casemgr-{tag}:throttle:",
            "CASEMGR_BATCH_QUEUE": f"casemgr-{tag}",
            "CASEMGR_SECRET_KEY": "scale-out-secret-key-" + "s" * 32,
            "CASEMGR_AUDIT_HMAC_KEY": "scale-out-audit-key-" + "a" * 32,
            "CASEMGR_TOTP_KEY": "scale-out-totp-key-" + "t" * 32,
            "CASEMGR_INSTANCE_PATH": str(root / "instance-setup"),
            "CASEMGR_ARGON2_TIME_COST": "1",
            "CASEMGR_ARGON2_MEMORY_KIB": "8192",
            "CASEMGR_ARGON2_PARALLELISM": "1",
            "CASEMGR_THROTTLE_LOGIN_FAILURES": "4",
            "CASEMGR_THROTTLE_ADDRESS_FAILURES": "1000",
            "CASEMGR_BATCH_STALE_MINUTES": "30",
        }
    )
    return env


def _start(cmd: list[str], env: dict[str, str], instance: Path, log: Path) -> subprocess.Popen:
    with log.open("wb") as out:
        return subprocess.Popen(
            cmd,
            cwd=REPO_ROOT,
            env={**env, "CASEMGR_INSTANCE_PATH": str(instance)},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def _gunicorn(port: int) -> list[str]:
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "--workers",
        "2",
        "--threads",
        "4",
        "--bind",
        f"127.0.0.1:{port}",
        "--graceful-timeout",
        "5",
        "casemgr:create_app()",
    ]


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)


def _wait_healthy(base: str, procs: list[subprocess.Popen], logs: list[Path]) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if any(p.poll() is not None for p in procs):
            break
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=3) as resp:
                if json.loads(resp.read()) == {"status": "ok", "db": "up", "redis": "up"}:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.3)
    shown = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in logs)
    pytest.fail(f"{base} did not become healthy within {START_TIMEOUT:.0f} s\n{shown}")


def _forget_redis(redis_url: str, tag: str) -> None:
    import redis
    from rq import Queue

    conn = redis.Redis.from_url(redis_url, socket_timeout=5)
    Queue(f"casemgr-{tag}", connection=conn).delete(delete_jobs=True)
    keys = list(conn.scan_iter(f"casemgr-{tag}:*"))
    if keys:
        conn.delete(*keys)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory) -> Iterator[Cluster]:
    if databases.backend() != "postgresql":
        pytest.skip("needs PostgreSQL: set CASEMGR_TEST_DATABASE_URL=postgresql+psycopg://...")
    redis_url = require_redis()
    tag = f"scaleout-{os.getpid()}"
    name = f"casemgr_scaleout_{os.getpid()}"
    databases.drop_pg(name)
    with databases._pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    root = tmp_path_factory.mktemp("scale-out")
    url = databases.pg_url_for(name)
    env = _environment(root, url, redis_url, tag)
    procs: list[subprocess.Popen] = []
    try:
        for args in (
            ("db", "upgrade"),
            ("demo", "--password", PASSWORD, "--totp-seed", TOTP_SEED),
        ):
            done = _flask(env, *args)
            assert done.returncode == 0, (args[0], done.stdout, done.stderr)
        ports = _free_port(), _free_port()
        logs = [root / "a.log", root / "b.log", root / "worker.log"]
        for port, log, label in zip(ports, logs, "ab", strict=False):
            procs.append(_start(_gunicorn(port), env, root / f"instance-{label}", log))
        worker = [sys.executable, "-m", "flask", "--app", "casemgr", "worker"]
        procs.append(_start(worker, env, root / "instance-worker", logs[2]))
        bases = [f"http://127.0.0.1:{port}" for port in ports]
        for base in bases:
            _wait_healthy(base, procs, logs)
        conninfo = (
            sa.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
        )
        yield Cluster(bases[0], bases[1], env, conninfo, f"casemgr-{tag}:throttle:", root)
    finally:
        for proc in procs:
            _stop(proc)
        databases.drop_pg(name)
        _forget_redis(redis_url, tag)


def sign_in(browser: Browser, first: str, then: str, login: str = MANAGER) -> Reply:
    """Password on one server, the code on the other."""
    fields = browser.form(f"{first}/login")
    resp = browser.post(f"{first}/login", {**fields, "login": login, "password": PASSWORD})
    assert resp.status == 302 and resp.headers["Location"] == "/login/code", resp.text[-500:]
    fields = browser.form(f"{then}/login/code")
    code = pyotp.TOTP(TOTP_SEED).now()
    return browser.post(f"{then}/login/code", {**fields, "code": code})


@pytest.fixture(scope="module")
def manager(cluster) -> Browser:
    browser = Browser()
    resp = sign_in(browser, cluster.a, cluster.b)
    assert resp.status == 302, resp.text[-500:]
    return browser


# --- What the cluster shows -------------------------------------------------------------


@pytest.mark.slow
def test_a_sign_in_on_one_server_continues_on_the_other(cluster):
    counselor = Browser()
    assert sign_in(counselor, cluster.a, cluster.b, COUNSELOR).status == 302
    for base in (cluster.b, cluster.a, cluster.b):
        page = counselor.get(f"{base}/clients/")
        assert page.status == 200 and "Sign out" in page.text
    assert Browser().get(f"{cluster.b}/clients/").status == 302  # no cookie: sign in first
    open_sessions = cluster.sql(
        "SELECT count(*) FROM user_sessions s JOIN users u ON u.id = s.user_id "
        "WHERE u.login = %s AND s.ended_at IS NULL AND NOT s.awaiting_second_factor",
        COUNSELOR,
    )
    assert open_sessions == [(1,)]
    # Signing out on B ends the session on A too: it lives in the database.
    token = counselor.form(f"{cluster.b}/clients/")["csrf_token"]
    assert counselor.post(f"{cluster.b}/logout", {"csrf_token": token}).status == 302
    assert counselor.get(f"{cluster.a}/clients/").status == 302


@pytest.mark.slow
def test_failed_sign_ins_through_both_servers_count_toward_one_throttle(cluster):
    import redis

    who = f"nobody-{os.getpid()}"
    browser = Browser()
    statuses = []
    for base in (cluster.a, cluster.b, cluster.a, cluster.b, cluster.a):
        fields = browser.form(f"{base}/login")
        resp = browser.post(f"{base}/login", {**fields, "login": who, "password": "wrong " * 4})
        statuses.append(resp.status)
    # THROTTLE_LOGIN_FAILURES=4: the fourth failure blocks, the fifth attempt is refused.
    assert statuses == [200, 200, 200, 200, 429]
    conn = redis.Redis.from_url(REDIS_URL, decode_responses=True, socket_timeout=5)
    assert conn.hget(f"{cluster.redis_prefix}login:{who}", "failures") == "4"
    assert cluster.sql("SELECT count(*) FROM throttles") == [(0,)]  # Redis, not the database


@pytest.mark.slow
def test_a_batch_requested_on_one_server_runs_in_the_worker_and_downloads_from_the_other(
    cluster, manager
):
    fields = manager.form(f"{cluster.a}/print/batches/new")
    form = {**fields, "scope": "all", "output": "zip", "purpose": "Scale-out check"}
    resp = manager.post(f"{cluster.a}/print/batches/new", form)
    assert resp.status == 302, resp.text[-800:]
    status_url = f"{cluster.b}{resp.headers['Location']}"
    batch_id = int(resp.headers["Location"].rsplit("/", 1)[1])
    deadline = time.monotonic() + BATCH_TIMEOUT
    while "Download" not in (page := manager.get(status_url)).text:
        assert "Stopped" not in page.text and "Interrupted" not in page.text, page.text
        assert time.monotonic() < deadline, "the worker did not finish the batch"
        time.sleep(0.5)
    shown = re.search(r'<code class="hash">([0-9a-f]{64})</code>', page.text).group(1)
    download = manager.get(f"{cluster.b}/print/batches/{batch_id}/download")
    assert download.status == 200 and download.headers["Content-Type"] == "application/zip"
    assert hashlib.sha256(download.body).hexdigest() == shown
    [(sha256, size)] = cluster.sql(
        "SELECT b.sha256, f.size FROM report_batches b JOIN report_batch_files f "
        "ON f.batch_id = b.id WHERE b.id = %s",
        batch_id,
    )
    assert (sha256, size) == (shown, len(download.body))
    assert f"report batch {batch_id}" in (cluster.logs / "worker.log").read_text()
    for label in ("a", "b", "worker"):  # nothing was written to any server's disk
        assert not (cluster.logs / f"instance-{label}" / "reports").exists()


@pytest.mark.slow
def test_concurrent_audited_writes_through_both_servers_keep_the_chain_unbroken(cluster, manager):
    page = manager.get(f"{cluster.a}/groups/new").text
    kind = re.search(
        r'<select[^>]*name="session_type"[^>]*>.*?<option[^>]*value="([^"]+)"', page, re.S
    )
    facilitator = re.search(r'name="facilitators"[^>]*value="(\d+)"', page) or re.search(
        r'value="(\d+)"[^>]*name="facilitators"', page
    )
    token = manager.form(f"{cluster.a}/groups/new")["csrf_token"]
    before = cluster.sql("SELECT count(*) FROM audit_events")[0][0]
    results: list[int] = []

    def create(base: str, n: int) -> None:
        form = {
            "csrf_token": token,
            "name": f"Scale-out group {base[-5:]}-{n}",
            "session_type": kind.group(1),
            "facilitators": facilitator.group(1),
            "weekday": "",
            "default_minutes": "60",
            "location": "Room 2",
            "active": "y",
        }
        results.append(manager.post(f"{base}/groups/new", form).status)

    threads = [
        threading.Thread(target=create, args=(base, n))
        for n in range(10)
        for base in (cluster.a, cluster.b)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads)
    assert results == [302] * 20
    assert cluster.sql("SELECT count(*) FROM groups WHERE name LIKE 'Scale-out group %%'") == [
        (20,)
    ]
    assert cluster.sql("SELECT count(*) FROM audit_events")[0][0] >= before + 20
    verify = cluster.flask("audit", "verify")
    assert verify.returncode == 0 and verify.stdout.startswith("ok"), verify.stdout + verify.stderr


# --- Behind a reverse proxy -------------------------------------------------------------


def _failed_sign_in(app_factory, trusted: int) -> str:
    app = app_factory(TRUSTED_PROXIES=trusted)
    with app.app_context():
        client = app.test_client()
        client.answer_second_factor = False
        client.post(
            "/login",
            data={"login": "somebody", "password": "wrong"},
            headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
            environ_base={"REMOTE_ADDR": "10.0.0.2"},  # the proxy
        )
        event = db.session.scalar(sa.select(AuditEvent).order_by(AuditEvent.seq.desc()))
        return event.remote_addr


def test_behind_a_trusted_proxy_the_client_address_is_the_forwarded_one(app_factory):
    assert _failed_sign_in(app_factory, 1) == "203.0.113.7"


def test_without_trusted_proxies_forwarded_headers_are_ignored(app_factory):
    assert _failed_sign_in(app_factory, 0) == "10.0.0.2"

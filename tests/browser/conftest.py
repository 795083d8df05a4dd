"""Real-browser fixtures: a gunicorn server on a demo database, and Debian's Chromium.

The server runs exactly as in production (gunicorn, two workers, migrations applied by
`flask db upgrade`), against a throwaway SQLite database in a temporary instance folder.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
REPO_ROOT = Path(__file__).resolve().parents[2]
AXE_JS = Path(__file__).resolve().parent / "vendor" / "axe.min.js"
ARTIFACTS = REPO_ROOT / "tests" / "artifacts"

# One password for every demo login; 20+ characters and free of the context words.
DEMO_PASSWORD = "amber lantern quietly crosses the harbor"
# One TOTP seed set up for every demo login (`flask demo --totp-seed`), so sign_in can type
# the code an authenticator app would show.
DEMO_TOTP_SEED = "LAX2B7SLSMRGBSKVAG7IZ6OIV5HXMAVG"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-quic",
]

SERVER_START_TIMEOUT = 30.0


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"browser tests need Debian's Chromium at {CHROMIUM}, which is not installed"
    if os.environ.get("CASEMGR_BROWSER_REQUIRED"):  # CI installs it; a missing browser is a failure
        pytest.fail(message)
    pytest.skip(message)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _server_env(instance: Path) -> dict[str, str]:
    # Drop any CASEMGR_* settings of the calling shell so the run is hermetic. The browser
    # run always uses SQLite, even when CASEMGR_TEST_DATABASE_URL points elsewhere.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMGR_")}
    env.update(
        {
            "CASEMGR_INSTANCE_PATH": str(instance),
            "CASEMGR_DATABASE_URL": f"sqlite:///{instance / 'casemgr.sqlite3'}",
            "CASEMGR_ARGON2_TIME_COST": "1",
            "CASEMGR_ARGON2_MEMORY_KIB": "8192",
            "CASEMGR_ARGON2_PARALLELISM": "1",
        }
    )
    return env


def _flask(env: dict[str, str], *args: str) -> None:
    cmd = [sys.executable, "-m", "flask", "--app", "casemgr", *args]
    result = subprocess.run(
        cmd, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if result.returncode != 0:
        shown = " ".join(a if a != DEMO_PASSWORD else "<password>" for a in args)
        pytest.fail(
            f"`flask {shown}` exited with {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=15)


@pytest.fixture(scope="session")
def live_server(tmp_path_factory) -> Iterator[str]:
    """Base URL of a gunicorn server (2 workers) on a fresh demo database."""
    _require_chromium()
    instance = tmp_path_factory.mktemp("browser-instance")
    env = _server_env(instance)
    _flask(env, "db", "upgrade")
    _flask(env, "demo", "--password", DEMO_PASSWORD, "--totp-seed", DEMO_TOTP_SEED)

    port = _free_port()
    base_url = f"http://127.0.0.1:{port}"
    log_path = instance / "gunicorn.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "-w",
                "2",
                "-b",
                f"127.0.0.1:{port}",
                "--graceful-timeout",
                "5",
                "casemgr:create_app()",
            ],
            cwd=REPO_ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + SERVER_START_TIMEOUT
            while not _healthy(f"{base_url}/healthz"):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log.flush()
                    reason = (
                        f"exited with {proc.returncode}"
                        if proc.poll() is not None
                        else f"did not answer /healthz within {SERVER_START_TIMEOUT:.0f}s"
                    )
                    pytest.fail(
                        f"gunicorn {reason}; its log ({log_path}):\n"
                        + log_path.read_text(errors="replace")[-4000:]
                    )
                time.sleep(0.2)
            yield base_url
        finally:
            _stop(proc)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def new_context(browser) -> Iterator[Callable[..., object]]:
    """Open a fresh browser context (closed after the test); keyword arguments override the
    defaults. CSP is bypassed only so that axe-core can be injected as an inline script."""
    contexts = []

    def _new(**options):
        settings = {"viewport": {"width": 1280, "height": 900}, "bypass_csp": True, **options}
        context = browser.new_context(**settings)
        context.set_default_timeout(10_000)
        contexts.append(context)
        return context

    yield _new
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_context):
    return new_context().new_page()


def check_accessibility(page, name: str) -> None:
    """Save a full-page screenshot as tests/artifacts/<name>.png, run axe-core on the page and
    fail on any serious or critical violation."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.add_script_tag(content=AXE_JS.read_text(encoding="utf-8"))
    results = page.evaluate("async () => await axe.run(document, {resultTypes: ['violations']})")
    violations = results["violations"]
    blocking = [v for v in violations if v.get("impact") in ("serious", "critical")]
    for v in violations:
        if v not in blocking:
            print(f"axe ({name}, {v.get('impact')}): {v['id']}: {v['help']}")
    if blocking:
        lines = [f"axe found {len(blocking)} serious/critical violation(s) on {name} ({page.url}):"]
        for v in blocking:
            lines.append(f"- [{v['impact']}] {v['id']}: {v['help']} ({v['helpUrl']})")
            for node in v["nodes"]:
                lines.append(f"    target {json.dumps(node['target'])}: {node['html'][:200]}")
                summary = (node.get("failureSummary") or "").replace("\n", "\n      ")
                if summary:
                    lines.append(f"      {summary}")
        pytest.fail("\n".join(lines), pytrace=False)

"""gunicorn on a free loopback port, in its own process group so that the master and its
workers can be stopped (or killed with SIGKILL) together. Every wait is bounded."""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def app_env(database_url: str, instance: Path, *, cheap_hashing: bool = False) -> dict[str, str]:
    """The environment every process of one run shares: the database and the keys (so the
    preparing process seals TOTP seeds the servers can open, and `flask audit verify` checks
    with the servers' HMAC key)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CASEMGR_")}
    env.update(
        {
            "CASEMGR_DATABASE_URL": database_url,
            "CASEMGR_INSTANCE_PATH": str(instance),
            "CASEMGR_SECRET_KEY": "loadtest-secret-key-" + "s" * 32,
            "CASEMGR_AUDIT_HMAC_KEY": "loadtest-audit-key-" + "a" * 32,
            "CASEMGR_TOTP_KEY": "loadtest-totp-key-" + "t" * 32,
            "PYTHONPATH": str(REPO),
        }
    )
    if cheap_hashing:  # the suite's setting: sign-in is not what these tests measure
        env.update(
            {
                "CASEMGR_ARGON2_TIME_COST": "1",
                "CASEMGR_ARGON2_MEMORY_KIB": "8192",
                "CASEMGR_ARGON2_PARALLELISM": "1",
            }
        )
    return env


def run_flask(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(  # noqa: S603
        [sys.executable, "-m", "flask", "--app", "casemgr", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@dataclass
class Gunicorn:
    env: dict[str, str]
    log: Path
    workers: int = 2
    threads: int = 4
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        cmd = [sys.executable, "-m", "gunicorn", "-w", str(self.workers), "--threads",
               str(self.threads), "-b", f"127.0.0.1:{self.port}", "--timeout", "120",
               "--graceful-timeout", "5", "casemgr:create_app()"]  # fmt: skip
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(  # noqa: S603
                cmd,
                cwd=REPO,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}):\n{self.tail()}")
            if self.health() == "up" and len(self.worker_pids()) == self.workers:
                return
            time.sleep(0.3)
        self.kill()
        raise RuntimeError(
            f"gunicorn did not answer /healthz within {timeout:.0f} s:\n{self.tail()}"
        )

    def health(self) -> str:
        """The database as /healthz reports it ('up', 'down'), or '' without an answer."""
        try:
            with urllib.request.urlopen(self.base + "/healthz", timeout=5) as resp:  # noqa: S310
                return json.loads(resp.read()).get("db", "")
        except urllib.error.HTTPError as exc:
            with exc:
                try:
                    return json.loads(exc.read()).get("db", "")
                except (ValueError, http.client.HTTPException):  # garbled or cut short
                    return ""
        except (OSError, ValueError, http.client.HTTPException):
            return ""

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        try:
            children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(pid) for pid in children.split()]

    def cpu_seconds(self) -> float:
        """CPU time (user + system) used so far by the master and its live workers."""
        ticks = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in ([self.proc.pid] if self.proc else []) + self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
        return total

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Signal the master and its workers at once (the whole process group)."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self._reap_group()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.kill(signal.SIGTERM)
        self._reap_group()

    def _reap_group(self) -> None:
        """Workers orphaned by a killed master may linger a moment; SIGKILL what is left."""
        if self.proc is None:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.killpg(self.proc.pid, 0)
            except ProcessLookupError:
                return
            os.killpg(self.proc.pid, signal.SIGKILL)
            time.sleep(0.1)

    def tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def __enter__(self) -> Gunicorn:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

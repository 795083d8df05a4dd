"""Start and stop gunicorn on loopback, bounded in time, and read its workers' memory."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
GUNICORN = REPO / ".venv" / "bin" / "gunicorn"


@dataclass(frozen=True)
class Settings:
    workers: int = 2
    threads: int = 4

    def args(self) -> list[str]:
        return ["-w", str(self.workers), "--threads", str(self.threads)]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """One gunicorn master; `with Server(...) as s:` starts it and always stops it."""

    app: str
    settings: Settings
    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 60.0) -> None:
        cmd = [str(GUNICORN), *self.settings.args(), "-b", f"127.0.0.1:{self.port}"]
        cmd += ["--error-logfile", str(self.log), "--capture-output", "--timeout", "120", self.app]
        self.log.parent.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(  # noqa: S603  (fixed argument list, no shell)
            cmd, cwd=REPO, env={**os.environ, **self.env}, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited ({self.proc.returncode}); see {self.log}")
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2) as resp:  # noqa: S310
                    if resp.status == 200 and len(self.worker_pids()) == self.settings.workers:
                        return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        raise RuntimeError(
            f"gunicorn did not answer /healthz within {timeout:.0f} s; see {self.log}"
        )

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)  # our own session: gunicorn and its workers
            self.proc.wait(5)

    def worker_pids(self) -> list[int]:
        if self.proc is None:
            return []
        children = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children")
        try:
            return [int(p) for p in children.read_text().split()]
        except OSError:
            return []

    def worker_rss_mb(self) -> list[float]:
        """VmRSS of each worker, in MB."""
        sizes = []
        for pid in self.worker_pids():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            kb = next(
                int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")
            )
            sizes.append(round(kb / 1024, 1))
        return sizes

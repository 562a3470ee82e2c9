"""`dealcast serve` as a real process on a free port, for tests that restart or kill it."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve_command() -> list[str]:
    """`dealcast serve` without the rest of the CLI (its imports cost seconds per start; the
    entry point itself is covered by test_server_process.py)."""
    return [sys.executable, "-m", "dealcast.cli_serve"]


class ServerProcess:
    """One `dealcast serve` process; `start()` returns once /healthz answers. `db` None:
    the database comes from the environment (DEALCAST_DATABASE_URL)."""

    def __init__(self, db: str | None, env: Mapping[str, str], log: Path) -> None:
        self.db, self.env, self.log_path = db, dict(env), log
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 60) -> ServerProcess:
        cmd = [*serve_command(), "--host", "127.0.0.1", "--port", str(self.port)]
        cmd += ["--log-level", "warning", *(["--db", self.db] if self.db else [])]
        with self.log_path.open("a") as log:  # the child keeps its own copy of the fd
            self.proc = subprocess.Popen(
                cmd, env=os.environ | self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + timeout_s
        while True:
            assert self.proc.poll() is None, self.log()
            try:
                if httpx.get(f"{self.base}/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("server did not come up:\n" + self.log())
            time.sleep(0.2)

    def log(self) -> str:
        return self.log_path.read_text() if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown handler, no last checkpoint write, no cleanup."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=15)

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

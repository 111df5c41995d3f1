"""Small helpers for tests that start a real ``linli serve`` process."""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import httpx


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_healthy(base: str, server: subprocess.Popen, log_path: Path, timeout: float) -> None:
    """Wait until ``server`` answers ``base``/healthz; fail with its log if it
    exits or does not answer within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        assert server.poll() is None, log_path.read_text()
        assert time.monotonic() < deadline, "the server did not start\n" + log_path.read_text()
        time.sleep(0.2)

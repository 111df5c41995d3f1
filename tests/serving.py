"""Small helpers for tests that serve the app over real HTTP: a ``linli
serve`` process, or uvicorn in a thread of the test's own process."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import uvicorn


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


@contextmanager
def in_process(app: Any) -> Iterator[str]:
    """``app`` on a real uvicorn server on a free port of 127.0.0.1, in a
    thread of this process (so that a test can look at its services); the
    base URL. TestClient would serialize concurrent requests."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, name="test-uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the server did not start"
        assert time.monotonic() < deadline, "the server did not start in 20 s"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=20)

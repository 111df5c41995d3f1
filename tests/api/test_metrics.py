"""``/metrics`` under ``linli serve --workers 2``: every scrape, whichever worker
answers it, counts the requests of all workers (prometheus_client's
multiprocess mode, in a directory the supervising process makes and removes)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from tests.serving import free_port, wait_healthy

MAIN = Path(__file__).resolve().parents[2]
COUNTED = re.compile(
    r'^linli_http_requests_total\{method="GET",route="/needs",status="401"\} ([0-9.e+]+)$', re.M
)


def _pids(directory: Path) -> set[str]:
    return {f.stem.rsplit("_", 1)[1] for f in directory.glob("counter_*.db")}


def test_a_scrape_sums_the_requests_of_every_worker(tmp_path: Path) -> None:
    port = free_port()
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LINLI_", "PROMETHEUS_"))}
    env.update(
        {
            "LINLI_STORE": "sqlite",
            "LINLI_SQLITE_PATH": str(tmp_path / "linli.sqlite3"),
            "LINLI_PROJECTION_POLL_INTERVAL": "0.05",
            "TMPDIR": str(temp),  # where the supervisor makes its metrics directory
        }
    )
    log_path = tmp_path / "server.log"
    base = f"http://127.0.0.1:{port}"
    with log_path.open("w") as log:
        server = subprocess.Popen(
            [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--port", str(port)],
            cwd=MAIN,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            wait_healthy(base, server, log_path, 60)
            made = list(temp.glob("linli-metrics-*"))

            # Requests on new connections, until both workers have answered
            # some (each worker's values are in files named by its pid).
            sent = 0
            while sent < 40 or (made and len(_pids(made[0])) == 1):
                assert httpx.get(f"{base}/needs", timeout=5).status_code == 401
                sent += 1
                assert sent < 1000, "one worker answered every request"

            for _ in range(8):  # on new connections: answered by one worker or the other
                scraped = httpx.get(f"{base}/metrics", timeout=5)
                assert scraped.status_code == 200
                counts = COUNTED.findall(scraped.text)
                assert [float(c) for c in counts] == [sent], scraped.text
                assert "linli_view_lag" in scraped.text
                assert "linli_http_request_duration_seconds_bucket" in scraped.text
            assert len(made) == 1 and len(_pids(made[0])) == 2
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGTERM)
                try:
                    server.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(server.pid, signal.SIGKILL)
                    server.wait(timeout=10)
    # The supervisor removes the directory at exit.
    assert list(temp.glob("linli-metrics-*")) == [], log_path.read_text()

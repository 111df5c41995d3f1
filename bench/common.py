"""What the benchmark's parts share: the database, ports, processes, memory, statistics."""

from __future__ import annotations

import json
import os
import platform
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

ROOT = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"  # the benchmark talks to nothing else


@dataclass(frozen=True)
class Pg:
    """Where the benchmark's own database lives (127.0.0.1 only)."""

    dbname: str
    port: int = 5432
    user: str = "postgres"
    password: str = ""
    host: str = HOST

    def connect(self, dbname: str | None = None, **kw: Any) -> psycopg.Connection:
        return psycopg.connect(
            host=self.host,
            port=self.port,
            user=self.user,
            password=self.password,
            dbname=dbname or self.dbname,
            connect_timeout=5,
            **kw,
        )

    def recreate(self) -> None:
        with self.connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.dbname}"')

    def drop(self) -> None:
        with self.connect("postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def create_schema(self, schema: str) -> None:
        with self.connect(autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')

    def linli_env(self, schema: str, **extra: str) -> dict[str, str]:
        """``LINLI_*`` variables for a Linli process on ``schema`` of this database."""
        return {
            "LINLI_STORE": "postgres",
            "LINLI_POSTGRES_HOST": self.host,
            "LINLI_POSTGRES_PORT": str(self.port),
            "LINLI_POSTGRES_DB": self.dbname,
            "LINLI_POSTGRES_USER": self.user,
            "LINLI_POSTGRES_PASSWORD": self.password,
            "LINLI_POSTGRES_SCHEMA": schema,
            **extra,
        }

    def settings(self, schema: str, **overrides: Any) -> Any:
        from infrastructure.settings import Settings

        return Settings(
            store="postgres",
            postgres_host=self.host,
            postgres_port=self.port,
            postgres_db=self.dbname,
            postgres_user=self.user,
            postgres_password=self.password,
            postgres_schema=schema,
            **overrides,
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "dbname": self.dbname,
            "port": self.port,
            "user": self.user,
            "password": self.password,
            "host": self.host,
        }


# ----- statistics -------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float:
    """The q-th percentile (0..100) by linear interpolation; 0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return float(ordered[0])
    rank = (len(ordered) - 1) * q / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return float(ordered[low] + (ordered[high] - ordered[low]) * (rank - low))


def summary_ms(latencies_s: Sequence[float]) -> dict[str, float]:
    return {
        "count": len(latencies_s),
        "p50_ms": percentile(latencies_s, 50) * 1000,
        "p90_ms": percentile(latencies_s, 90) * 1000,
        "p99_ms": percentile(latencies_s, 99) * 1000,
        "max_ms": (max(latencies_s) * 1000) if latencies_s else 0.0,
    }


# ----- memory -----------------------------------------------------------------


def proc_status(pid: int | str = "self") -> dict[str, int]:
    """VmRSS and VmHWM (peak RSS) of a process, in kB, from /proc."""
    out: dict[str, int] = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    name, value = line.split(":", 1)
                    out[name] = int(value.split()[0])
    except OSError:
        pass
    return out


def reset_peak_rss() -> bool:
    """Reset this process's VmHWM to its current RSS (Linux >= 4.0)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def children(pid: int) -> list[int]:
    """Direct children of ``pid``, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == pid:
            found.append(int(entry))
    return found


def cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def worker_pids(server_pid: int) -> list[int]:
    """The uvicorn worker processes of a multi-worker server (not multiprocessing's helpers)."""
    return [
        pid
        for pid in children(server_pid)
        if "spawn_main" in cmdline(pid) and "resource_tracker" not in cmdline(pid)
    ]


# ----- ports and processes ------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


@dataclass
class Server:
    """A server the benchmark started, in a process group of its own (or
    another long-running process of it, such as ``linli projections run``,
    with no port)."""

    name: str
    process: subprocess.Popen[bytes]
    port: int
    log: Path
    started: float = field(default_factory=time.monotonic)
    stopped: bool = False

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def workers(self) -> list[int]:
        return worker_pids(self.process.pid)

    def peak_rss_mb(self) -> dict[str, float]:
        """Peak RSS (VmHWM) of each worker, and of the supervising process."""
        out = {f"worker_{i}": proc_status(pid).get("VmHWM", 0) / 1024 for i, pid in enumerate(self.workers())}
        out["supervisor"] = proc_status(self.process.pid).get("VmHWM", 0) / 1024
        return out

    def stop(self) -> None:
        """SIGTERM to the server's process group, then SIGKILL to whatever is left of it."""
        if self.stopped:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            pass
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # workers the supervisor left behind
        except ProcessLookupError:
            pass
        self.process.wait(timeout=5)
        self.stopped = True


def python_cmd(optimize: bool) -> list[str]:
    return [sys.executable, *(["-O"] if optimize else [])]


def start_process(
    name: str,
    argv: list[str],
    env: dict[str, str],
    log_dir: Path,
    ready: Callable[[Server], bool],
    port: int = 0,
    timeout: float = 90.0,
) -> Server:
    """Start ``argv`` in a process group of its own, its output in
    ``log_dir/name.log``, and wait until ``ready(server)`` (stopped and an
    error if it exits or is not ready within ``timeout``)."""
    log = log_dir / f"{name}.log"
    handle = open(log, "wb")  # noqa: SIM115 - kept open for the server's life
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Server(name, process, port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        try:
            if ready(server):
                return server
        except OSError:
            pass
        time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-3000:]}")


def start_server(
    name: str,
    argv: list[str],
    port: int,
    env: dict[str, str],
    log_dir: Path,
    ready_path: str,
    timeout: float = 90.0,
) -> Server:
    """An HTTP server: ready when ``ready_path`` answers 200 and all its workers are up."""

    def ready(server: Server) -> bool:
        with urllib.request.urlopen(f"{server.url}{ready_path}", timeout=2) as response:  # noqa: S310 - 127.0.0.1
            return response.status == 200 and len(server.workers()) >= _expected_workers(argv)

    return start_process(name, argv, env, log_dir, ready, port=port, timeout=timeout)


def _expected_workers(argv: list[str]) -> int:
    if "--workers" in argv:
        return int(argv[argv.index("--workers") + 1])
    return 0


def run_json(argv: list[str], env: dict[str, str] | None = None, timeout: float = 1800) -> Any:
    """Run a child process of the benchmark that prints one JSON document last."""
    process = subprocess.run(
        argv,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    if process.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} failed ({process.returncode}):\n"
            f"{process.stderr.decode(errors='replace')[-4000:]}"
        )
    return json.loads(process.stdout.decode().strip().splitlines()[-1])


# ----- the machine --------------------------------------------------------------


def machine_facts(pg: Pg) -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_kb = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_kb = int(line.split()[1])
    except OSError:
        pass
    with pg.connect() as conn:
        version = conn.execute("SHOW server_version").fetchone()[0]  # type: ignore[index]
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("shared_buffers", "synchronous_commit", "fsync", "max_connections")
        }
    from importlib.metadata import version as package_version

    packages = {}
    for name in ("eventsourcing", "fastapi", "uvicorn", "psycopg", "pydantic"):
        try:
            packages[name] = package_version(name)
        except Exception:  # noqa: BLE001
            packages[name] = "?"
    return {
        "nproc": os.cpu_count(),
        "cpu_model": cpu,
        "memory_gib": round(memory_kb / 1024 / 1024, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": version,
        "postgresql_settings": settings,
        "packages": packages,
        "load_average_at_start": list(os.getloadavg()),
    }


# ----- what was measured, and where -------------------------------------------


def code_facts() -> dict[str, Any]:
    """The commit measured, and the tracked files changed since (a run of uncommitted code)."""

    def git(*args: str) -> str:
        done = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True, check=False)
        return done.stdout.strip() if done.returncode == 0 else ""

    return {"commit": git("rev-parse", "HEAD"),
            "modified_files": [f for f in git("diff", "--name-only", "HEAD").splitlines() if f]}


def machine_text(machine: dict[str, Any]) -> str:
    """The machine in one line, under a results table."""
    return (f"{machine['nproc']} cores, {machine['cpu_model']}, {machine['memory_gib']} GiB, "
            f"Python {machine['python']}, PostgreSQL {machine['postgresql']}")


def write_results(out: Path, results: dict[str, Any], title: str, markdown: str) -> None:
    """``results`` as JSON at ``out``, and its table as Markdown beside it."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2, ensure_ascii=False))
    out.with_suffix(".md").write_text(f"### {title}\n\n{markdown}")

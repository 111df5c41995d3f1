"""Fault tests: the real server (and projection process) run as subprocesses,
are killed with SIGKILL, and have their database stopped under them.

Everything here talks to 127.0.0.1 only, bounds every wait in time, and
kills every process it started when the test ends.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from eventsourcing.persistence import Tracking

from application.readmodel import case_type_of
from infrastructure.settings import Settings
from infrastructure.store import Services, build_services
from tests.world import World, build_world

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    interval: float = 0.05,
    detail: Callable[[], str] | None = None,
) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail after ``timeout`` s
    (with ``detail()``, e.g. a process's log, in the message)."""
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while True:
        try:
            value = predicate()
        except Exception as error:  # noqa: BLE001 - e.g. the database is still starting
            value, last_error = None, error
        if value:
            return value
        if time.monotonic() >= deadline:
            extra = f"\n{detail()}" if detail is not None else ""
            pytest.fail(
                f"timed out after {timeout:g} s waiting for {what} (last error: {last_error!r}){extra}"
            )
        time.sleep(interval)


# ----- private PostgreSQL clusters: the machine's shared one is never touched --------------


def postgres_bindir() -> Path | None:
    """Where PostgreSQL's server programs are (initdb, pg_ctl, postgres)."""
    candidates: list[str] = []
    if shutil.which("pg_config"):
        try:
            out = subprocess.run(
                ["pg_config", "--bindir"], capture_output=True, text=True, timeout=10, check=True
            )
            candidates.append(out.stdout.strip())
        except (subprocess.SubprocessError, OSError):
            pass
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    for candidate in candidates:
        path = Path(candidate)
        if all((path / tool).exists() for tool in ("initdb", "pg_ctl", "postgres")):
            return path
    return None


def cluster_unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs a private PostgreSQL cluster: {reason}")
    pytest.skip(reason)


@dataclass
class PrivateCluster:
    """A PostgreSQL cluster of the test's own, in ``base``, on 127.0.0.1:``port``
    (its socket in ``base``), run as the ``postgres`` OS user when the tests
    run as root; ``options``: more ``-c name=value`` for the server."""

    bindir: Path
    base: Path
    port: int
    as_postgres: list[str]
    options: str = ""

    @property
    def data(self) -> Path:
        return self.base / "data"

    def run(self, program: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """One of the server's programs (initdb, pg_basebackup, ...), as the cluster's user."""
        return subprocess.run(
            [*self.as_postgres, str(self.bindir / program), *args],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def pg_ctl(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return self.run("pg_ctl", "-D", str(self.data), *args, timeout=timeout)

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.base} -c listen_addresses=127.0.0.1 "
            f"-c fsync=off -c max_connections=60 {self.options}"
        ).strip()
        done = self.pg_ctl("-l", str(self.base / "server.log"), "-o", options, "-w", "-t", "30", "start")
        assert done.returncode == 0, f"pg_ctl start failed: {done.stdout}{done.stderr}{self.log()}"

    def start_on_a_free_port(self) -> None:
        """Start it, on another free port if the one chosen was taken meanwhile."""
        for _attempt in range(3):
            try:
                self.start()
                return
            except AssertionError:
                if "already in use" not in self.log():
                    raise
                self.port = free_port()  # taken meanwhile by another process: another one
        pytest.fail(f"could not start the private cluster on a free port:\n{self.log()}")

    def stop(self, mode: str = "immediate") -> None:
        done = self.pg_ctl("-m", mode, "-w", "-t", "30", "stop")
        assert done.returncode == 0, f"pg_ctl stop failed: {done.stdout}{done.stderr}"

    def running(self) -> bool:
        return self.pg_ctl("status").returncode == 0

    def connect(self, dbname: str = "postgres") -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname,
            autocommit=True, connect_timeout=5,
        )

    def log(self) -> str:
        try:
            return (self.base / "server.log").read_text(errors="replace")[-3000:]
        except OSError:
            return ""


@contextmanager
def private_directory() -> Iterator[tuple[Path, list[str]]]:
    """An empty directory for a cluster, and the command prefix that runs the
    server's programs as the ``postgres`` OS user when the tests run as root;
    removed at the end. Skips (fails under CI=true) where that cannot be."""
    as_postgres: list[str] = []
    base = Path(tempfile.mkdtemp(prefix="linli-private-pg-"))
    try:
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError:
                cluster_unavailable("running as root and there is no 'postgres' OS user to run initdb as")
            if shutil.which("runuser") is None:
                cluster_unavailable("running as root and runuser is missing")
            shutil.chown(base, "postgres", "postgres")
            as_postgres = ["runuser", "-u", "postgres", "--"]
        yield base, as_postgres
    finally:
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def private_cluster(options: str = "") -> Iterator[PrivateCluster]:
    """A new cluster (initdb, trust authentication) started on a free port, with
    an empty database ``linli``; stopped and removed at the end."""
    bindir = postgres_bindir()
    if bindir is None:
        cluster_unavailable("no PostgreSQL server binaries (pg_config --bindir, /usr/lib/postgresql/*/bin)")
    assert bindir is not None
    with private_directory() as (base, as_postgres):
        cluster = PrivateCluster(bindir, base, free_port(), as_postgres, options)
        init = cluster.run(
            "initdb", "-D", str(cluster.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"
        )
        assert init.returncode == 0, f"initdb failed: {init.stdout}{init.stderr}"
        cluster.start_on_a_free_port()
        try:
            with cluster.connect() as admin:
                admin.execute("CREATE DATABASE linli")
            yield cluster
        finally:
            if cluster.running():
                cluster.stop("immediate")


def linli_env(settings: Settings, **extra: str) -> dict[str, str]:
    """The environment of a subprocess that uses the store of ``settings``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("LINLI_")}
    env.update(
        {
            "PYTHONUNBUFFERED": "1",
            "LINLI_STORE": settings.store,
            "LINLI_SQLITE_PATH": str(settings.sqlite_path),
            "LINLI_POSTGRES_HOST": settings.postgres_host,
            "LINLI_POSTGRES_PORT": str(settings.postgres_port),
            "LINLI_POSTGRES_DB": settings.postgres_db,
            "LINLI_POSTGRES_USER": settings.postgres_user,
            "LINLI_POSTGRES_PASSWORD": settings.postgres_password,
            "LINLI_POSTGRES_SCHEMA": settings.postgres_schema,
            "LINLI_POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
            "LINLI_POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
            "LINLI_RUN_PROJECTIONS": "true" if settings.run_projections else "false",
            "LINLI_PROJECTION_BATCH_SIZE": str(settings.projection_batch_size),
            "LINLI_PROJECTION_POLL_INTERVAL": str(settings.projection_poll_interval),
            "LINLI_VIEW_WAIT_TIMEOUT": str(settings.view_wait_timeout),
        }
    )
    env.update(extra)
    return env


def lean(settings: Settings) -> Settings:
    """The same store with a small connection pool, for processes that use one
    connection at a time (the projection process, the CLI, the test's own
    reads): the shared PostgreSQL server has a limited number of connections."""
    return settings.model_copy(update={"postgres_pool_size": 1, "postgres_max_overflow": 2})


class Proc:
    """A subprocess of ``python -m api.cli ...`` with its output in a log file."""

    def __init__(self, args: list[str], env: dict[str, str], log_path: Path) -> None:
        self.log_path = log_path
        self._log = open(log_path, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill9(self) -> None:
        """SIGKILL, as a crash: no shutdown code runs."""
        if self.alive():
            os.kill(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)
        self._log.flush()

    def stop(self) -> None:
        if self.alive():
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill9()
        self._log.close()

    def wait_for_output(self, text: str, timeout: float = READY_TIMEOUT) -> None:
        """Wait until the process has printed ``text`` (e.g. that it started)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log_tail(1000):
                return
            if not self.alive():
                pytest.fail(f"the process exited with {self.popen.returncode}:\n{self.log_tail()}")
            time.sleep(0.02)
        pytest.fail(f"the process did not print {text!r} within {timeout:g} s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


class Server(Proc):
    """``linli serve`` on a free port of 127.0.0.1."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            ["serve", "--host", "127.0.0.1", "--port", str(self.port)], linli_env(settings), log_path
        )

    def wait_ready(self, timeout: float = READY_TIMEOUT) -> bool:
        """Wait until this process listens and answers /healthz. False if it
        could not bind its port (another process took it after free_port())."""
        listening = f"Uvicorn running on {self.base_url}"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.alive():
                if "address already in use" in self.log_tail(200):
                    return False
                pytest.fail(f"the server exited with {self.popen.returncode}:\n{self.log_tail()}")
            # Only once our own process says it listens is the port ours.
            if listening in self.log_tail(200):
                try:
                    if httpx.get(self.base_url + "/healthz", timeout=1.0).status_code == 200:
                        return True
                except httpx.TransportError:
                    pass
            time.sleep(0.05)
        pytest.fail(f"the server was not ready within {timeout:g} s:\n{self.log_tail()}")

    def client(self, timeout: float = 15.0, connections: int = 32) -> httpx.Client:
        return httpx.Client(
            base_url=self.base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )


class Processes:
    """Starts subprocesses and kills whatever is left of them at teardown."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.started: list[Proc] = []

    def _log(self, name: str) -> Path:
        return self.log_dir / f"{len(self.started):02d}-{name}.log"

    def server(self, settings: Settings, *, ready: bool = True) -> Server:
        for _attempt in range(3):
            server = Server(settings, self._log("serve"))
            self.started.append(server)
            if not ready or server.wait_ready():
                return server
        pytest.fail("could not find a free port for the server in 3 attempts")

    def projections(self, settings: Settings) -> Proc:
        """``linli projections run``, returned once it has built its services
        (no other process should start against the store meanwhile: see
        test_crash_and_restart.py::test_a_process_starting_beside_another_starting_one)."""
        proc = Proc(["projections", "run"], linli_env(lean(settings)), self._log("projections"))
        self.started.append(proc)
        proc.wait_for_output("keeping the views up to date")
        return proc

    def cli(self, settings: Settings, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "api.cli", *args],
            cwd=ROOT,
            env={**linli_env(lean(settings)), "COLUMNS": "200"},
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def stop_all(self) -> None:
        for proc in reversed(self.started):
            try:
                proc.stop()
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass


@pytest.fixture
def processes(tmp_path: Path) -> Iterator[Processes]:
    procs = Processes(tmp_path)
    try:
        yield procs
    finally:
        procs.stop_all()


@dataclass
class Http:
    """One answer to one request, or the transport error in its place."""

    status: int | None
    body: Any = None
    headers: dict[str, str] | None = None
    error: str | None = None
    started: float = 0.0
    ended: float = 0.0

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(client: httpx.Client, path: str, body: dict[str, Any], token: str, key: str) -> Http:
    started = time.monotonic()
    try:
        response = client.post(
            path, json=body, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": key}
        )
    except httpx.HTTPError as error:
        return Http(None, error=f"{type(error).__name__}: {error}", started=started, ended=time.monotonic())
    try:
        payload = response.json()
    except ValueError:
        payload = response.text
    return Http(
        response.status_code, payload, dict(response.headers), started=started, ended=time.monotonic()
    )


# ----- the store, seen from the test process ---------------------------------


def prepare_world(settings: Settings) -> World:
    """Compounds, parties and credentials in the store, written before any
    server starts; the returned world's services are closed."""
    services = build_services(lean(settings))
    try:
        return build_world(services)
    finally:
        services.close()


@dataclass
class Logged:
    id: int
    originator_id: Any
    originator_version: int
    event: Any


def read_log(services: Services) -> list[Logged]:
    app = services.app
    out: list[Logged] = []
    start = 1
    for _ in range(10_000):
        batch = app.recorder.select_notifications(start=start, limit=1000)
        if not batch:
            break
        out.extend(
            Logged(n.id, n.originator_id, n.originator_version, app.mapper.to_domain_event(n))
            for n in batch
        )
        start = batch[-1].id + 1
    return out


def fresh_replay(services: Services, fresh_settings: Settings) -> dict[str, list[dict]]:
    """The views built from scratch, from every event in the log, in an empty store."""
    fresh = build_services(lean(fresh_settings))
    try:
        log = read_log(services)
        items = [(entry.event, entry.id) for entry in log]
        fresh.views.process_batch(items, Tracking(services.app.name, log[-1].id))
        return fresh.views.dump_all()
    finally:
        fresh.close()


def history_keys(services: Services) -> list[tuple[str, int]]:
    views = services.views
    with views.reading() as c:
        c.execute(views.sql("SELECT case_id, position FROM {case_history}"))
        return [(row["case_id"], int(row["position"])) for row in c.fetchall()]


def assert_views_match_the_log(services: Services, fresh_settings: Settings) -> None:
    """The live views equal a fresh replay; the audit trails have every event
    of the log once and nothing else."""
    log = read_log(services)
    assert log, "the log is empty"
    top = services.app.recorder.max_notification_id()
    assert services.views.position(services.app.name) == top == log[-1].id
    live = services.views.dump_all()
    replayed = fresh_replay(services, fresh_settings)
    for table in ("need_view", "case_view", "case_history"):
        assert len(live[table]) == len(replayed[table]), table
        assert live[table] == replayed[table], f"{table} differs from a fresh replay"

    keys = history_keys(services)
    assert len(keys) == len(set(keys)), "duplicate (case_id, position) in case_history"
    in_history = {position for _, position in keys}
    expected = {entry.id for entry in log if case_type_of(entry.event) is not None}
    missing = sorted(expected - in_history)
    assert not missing, f"log positions missing from every case history (gaps): {missing[:20]}"
    unknown = sorted(in_history - {entry.id for entry in log})
    assert not unknown, f"history positions that are not in the log: {unknown[:20]}"
    # Each event's own case has it, exactly once.
    own = {(str(entry.originator_id), entry.id) for entry in log if case_type_of(entry.event)}
    assert own <= set(keys)

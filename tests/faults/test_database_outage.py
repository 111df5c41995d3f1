"""PostgreSQL stopped and started under load: requests meanwhile wait or get
503 with Retry-After, never 500; the API recovers without a restart; nothing
acknowledged is lost.

The machine's shared PostgreSQL cluster is never touched: the test starts a
private cluster of its own (initdb in a temporary directory, run as the
``postgres`` OS user when the tests run as root) and stops that one.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from domain.need import Need
from infrastructure.settings import Settings
from infrastructure.store import build_services
from tests.faults.conftest import (
    Http,
    PrivateCluster,
    Processes,
    lean,
    post,
    prepare_world,
    private_cluster,
    read_log,
    wait_until,
)

pytestmark = pytest.mark.slow

# Longer than the connection pool's wait for a connection (POSTGRES_CONNECT_TIMEOUT,
# 5 s in infrastructure/store.py): a shorter outage only delays requests, and
# the 503 path would not be exercised.
OUTAGE_SECONDS = 6.5
LOAD_THREADS = 4


@pytest.fixture
def private_postgres() -> Iterator[PrivateCluster]:
    with private_cluster() as cluster:
        yield cluster


@dataclass(frozen=True)
class Sent:
    kind: str  # "register" or "note"
    key: str
    path: str
    body: dict
    answer: Http

    @property
    def marker(self) -> str:
        return self.body["title"] if self.kind == "register" else self.body["text"]


@pytest.mark.slow
def test_postgres_stopped_and_started_under_load(
    private_postgres: PrivateCluster, tmp_path: Path, processes: Processes
) -> None:
    settings = Settings(
        store="postgres",
        postgres_host="127.0.0.1",
        postgres_port=private_postgres.port,
        postgres_db="linli",
        postgres_user="postgres",
        postgres_password="",
        postgres_schema="public",
        postgres_pool_size=10,
        postgres_max_overflow=10,
        projection_poll_interval=0.05,
    )
    world = prepare_world(settings)
    token = world.tokens["grid_worker"]
    setup = build_services(lean(settings))
    try:
        noted = setup.app.register_need(
            world.actors["grid_worker"],
            compound_id=world.compound_id,
            source="household_visit",
            title="记录用诉求",
            description="停电期间的进展记录",
        ).id
    finally:
        setup.close()
    server = processes.server(settings)
    pid = server.pid

    sent: list[Sent] = []
    reads: list[tuple[str, Http]] = []
    lock = threading.Lock()
    stop = threading.Event()

    def register(thread: int) -> None:
        with server.client(timeout=20, connections=2) as client:
            for i in range(2000):
                if stop.is_set():
                    return
                key = f"load-{thread}-{i}"
                body = {
                    "compound_id": str(world.compound_id),
                    "source": "household_visit",
                    "title": f"{key} 水管漏水",
                    "description": "地下室",
                }
                answer = post(client, "/needs", body, token, key)
                with lock:
                    sent.append(Sent("register", key, "/needs", body, answer))
                time.sleep(0.01)

    def note() -> None:
        with server.client(timeout=20, connections=2) as client:
            for i in range(2000):
                if stop.is_set():
                    return
                key = f"note-{i}"
                body = {"text": f"进展 {i}"}
                path = f"/needs/{noted}/notes"
                answer = post(client, path, body, token, key)
                with lock:
                    sent.append(Sent("note", key, path, body, answer))
                time.sleep(0.01)

    def read() -> None:
        headers = {"Authorization": f"Bearer {world.tokens['staff']}"}
        with server.client(timeout=20, connections=2) as client:
            for i in range(2000):
                if stop.is_set():
                    return
                path = (f"/needs/{noted}", "/needs", "/readyz")[i % 3]
                started = time.monotonic()
                try:
                    response = client.get(path, headers=headers, params={"limit": 5})
                    answer = Http(
                        response.status_code, None, dict(response.headers),
                        started=started, ended=time.monotonic(),
                    )
                except httpx.HTTPError as error:
                    answer = Http(None, error=repr(error), started=started, ended=time.monotonic())
                with lock:
                    reads.append((path, answer))
                time.sleep(0.02)

    probes: list[Http] = []

    def probe_readiness() -> None:
        """What an orchestrator's probe sees, on a connection of its own."""
        with server.client(timeout=20, connections=1) as client:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    response = client.get("/readyz")
                    answer = Http(
                        response.status_code, None, dict(response.headers),
                        started=started, ended=time.monotonic(),
                    )
                except httpx.HTTPError as error:
                    answer = Http(None, error=repr(error), started=started, ended=time.monotonic())
                with lock:
                    probes.append(answer)
                time.sleep(0.1)

    threads = [threading.Thread(target=register, args=(n,), daemon=True) for n in range(LOAD_THREADS)]
    threads += [threading.Thread(target=note, daemon=True), threading.Thread(target=read, daemon=True)]
    threads += [threading.Thread(target=probe_readiness, daemon=True)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(1.5)
        down_at = time.monotonic()
        private_postgres.stop("immediate")
        stopped_at = time.monotonic()  # pg_ctl returns once the server is down
        time.sleep(OUTAGE_SECONDS)
        starting_at = time.monotonic()
        private_postgres.start()
        up_at = time.monotonic()

        def recovered() -> bool:
            with lock:
                commands = sum(1 for s in sent if s.answer.ok and s.answer.started > up_at + 0.5)
                queries = sum(1 for _, a in reads if a.ok and a.started > up_at + 0.5)
            return commands >= 10 and queries >= 2

        wait_until(recovered, 30, "commands and queries to succeed again after PostgreSQL came back")
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=30)
    assert not any(t.is_alive() for t in threads), "load threads did not finish"

    assert server.alive() and server.pid == pid, "the server died or was restarted"
    answers = [s.answer for s in sent] + [a for _, a in reads]
    statuses = Counter((s.kind, s.answer.status) for s in sent) + Counter(("read", a.status) for _, a in reads)
    slowest = max(a.ended - a.started for a in answers)
    print(f"answers: {dict(statuses)}; slowest {slowest:.2f} s; outage {up_at - down_at:.2f} s")
    errors = [a.error for a in answers if a.status is None]
    assert not errors, f"requests without an answer: {errors[:5]}"
    wrong = [(s.key, s.answer.status, s.answer.body) for s in sent if not s.answer.ok and s.answer.status != 503]
    wrong += [(path, a.status) for path, a in reads if not a.ok and a.status != 503]
    assert not wrong, f"answers other than 2xx or 503: {wrong[:5]}\n{server.log_tail()}"
    # Requests met the outage: some were sent while PostgreSQL was down.
    # Each waits for the pool's connection (up to its connect timeout, and
    # the library retries), so most are answered once it is back; whether
    # any gets its 503 first depends on the timing, which a loaded machine moves.
    met = [a for a in answers if down_at < a.started < up_at]
    assert met, "no request was sent while PostgreSQL was down"
    unavailable = [a for a in answers if a.status == 503]
    for answer in unavailable:
        assert answer.headers is not None
        retry_after = answer.headers.get("retry-after")
        assert retry_after is not None and retry_after.isdigit() and int(retry_after) >= 1, answer
    assert any(down_at <= a.started <= up_at for a in answers), "no request during the outage"
    # Readiness while the database is stopped (issue 23 items 1 and 8): every
    # probe is answered within a second, 503 with Retry-After, naming the database.
    # Probes while it was surely down: from its stop's end (and half a second
    # for a probe begun before it) to the start of its start.
    during = [p for p in probes if stopped_at + 0.5 <= p.started and p.ended <= starting_at]
    assert len(during) >= 3, f"only {len(during)} readiness probes during the outage"
    slowest_probe = max(p.ended - p.started for p in during)
    print(f"/readyz during the outage: {len(during)} probes, slowest {slowest_probe:.2f} s")
    assert slowest_probe < 1.0, f"/readyz took {slowest_probe:.2f} s with the database stopped"
    for probe in during:
        assert probe.status == 503, probe
        assert probe.headers is not None and int(probe.headers.get("retry-after", "0")) >= 1, probe
    with server.client(timeout=10) as client:
        wait_until(lambda: client.get("/readyz").status_code == 200, 30, "/readyz ready again")
    assert any(a.ok for a in answers if a.ended < down_at), "nothing succeeded before the outage"

    # The server keeps its views going too, without a restart.
    with server.client(timeout=10) as client:

        def ready() -> bool:
            response = client.get("/readyz")
            return response.status_code == 200 and response.json()["lag"] == 0

        wait_until(ready, 30, "/readyz to answer 200 with no lag", interval=0.2)

    # Nothing acknowledged is lost; a retry of every 503 with its key gives
    # each key exactly one effect.
    services = build_services(lean(settings))
    try:
        by_position = {entry.id: entry for entry in read_log(services)}
        for s in sent:
            if s.answer.ok:
                entry = by_position.get(s.answer.body["position"])
                assert entry is not None, f"acknowledged {s.key} is not in the log: {s.answer.body}"
                assert str(entry.originator_id) == s.answer.body["id"]
                assert entry.originator_version == s.answer.body["version"]
                expected = Need.Registered if s.kind == "register" else Need.NoteAdded
                assert isinstance(entry.event, expected), (s.key, entry.event)
                assert s.marker in (getattr(entry.event, "title", None), getattr(entry.event, "text", None))

        with server.client(timeout=20) as client:
            for s in sent:
                if s.answer.ok:
                    continue
                for _attempt in range(20):
                    again = post(client, s.path, s.body, token, s.key)
                    if again.ok:
                        break
                    time.sleep(0.2)
                assert again.ok, (s.key, again.status, again.body)

        log = read_log(services)
        registered = Counter(e.event.title for e in log if isinstance(e.event, Need.Registered))
        notes = Counter(e.event.text for e in log if isinstance(e.event, Need.NoteAdded))
        assert registered.pop("记录用诉求") == 1
        assert set(registered) == {s.marker for s in sent if s.kind == "register"}
        assert set(notes) == {s.marker for s in sent if s.kind == "note"}
        assert all(n == 1 for n in registered.values()), [t for t, n in registered.items() if n > 1]
        assert all(n == 1 for n in notes.values()), [t for t, n in notes.items() if n > 1]
    finally:
        services.close()

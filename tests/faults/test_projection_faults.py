"""Faults of the read side.

(a) The projection process (``linli projections run``, beside an API started
with LINLI_RUN_PROJECTIONS=false) is killed with SIGKILL while it catches up
and while commands keep coming, then restarted: the views equal a fresh
replay of the log, with no gaps and no duplicates.

(b) A slow writer holds its transaction open, after its events are inserted
and before the commit, while other writers send commands to the server: the
server's view updater never moves past the uncommitted events and skips
nothing.
"""

from __future__ import annotations

import random
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

import httpx
import pytest
from eventsourcing.persistence import StoredEvent

from application.app import Linli
from infrastructure.calendar import deadline_policy
from infrastructure.recorders import Insert, PostgresLinliRecorder, SQLiteLinliRecorder
from infrastructure.settings import Settings
from infrastructure.store import application_env, build_services
from tests.conftest import settings_for
from tests.faults.conftest import (
    Http,
    Processes,
    Server,
    assert_views_match_the_log,
    lean,
    post,
    prepare_world,
    wait_until,
)
from tests.world import World

pytestmark = pytest.mark.slow

NEEDS_BEFORE = 30  # needs (5 events each) written while no projection runs
NEEDS_DURING = 30  # needs written while the projection is killed and restarted


def _drive_needs(server: Server, world: World, numbers: Sequence[int], threads: int = 6) -> None:
    """Per need: register, accept, assign, acknowledge, add a note (5 events)."""
    party = str(world.parties["property_company"])

    def one(client: httpx.Client, n: int) -> None:
        def ok(who: str, path: str, body: dict[str, Any], step: str) -> dict[str, Any]:
            answer = post(client, path, body, world.tokens[who], f"need-{n}-{step}")
            assert answer.ok, (n, step, answer.status, answer.body, answer.error)
            return answer.body  # type: ignore[no-any-return]

        need = ok(
            "grid_worker",
            "/needs",
            {
                "compound_id": str(world.compound_id),
                "source": "household_visit",
                "title": f"第{n}号 电梯故障",
                "description": "电梯停在三楼",
            },
            "register",
        )["id"]
        ok("staff", f"/needs/{need}/accept", {"priority": "normal"}, "accept")
        ok("staff", f"/needs/{need}/assign", {"party_id": party}, "assign")
        ok("property_company", f"/needs/{need}/acknowledge", {}, "acknowledge")
        ok("property_company", f"/needs/{need}/notes", {"text": f"已派维修工 {n}"}, "note")

    with server.client(timeout=30) as client, ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(one, client, n) for n in numbers]:
            future.result(timeout=120)


@pytest.mark.slow
def test_projection_process_killed_mid_batch_and_restarted(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, processes: Processes
) -> None:
    settings = settings_for(
        store,
        request,
        tmp_path,
        run_projections=False,
        projection_batch_size=2,
        projection_poll_interval=0.05,
    )
    world = prepare_world(settings)
    server = processes.server(settings)
    observer = build_services(lean(settings))  # reads the store; its updater is never started
    name = observer.app.name
    rng = random.Random(6)
    try:
        assert observer.views.position(name) == 0
        _drive_needs(server, world, range(NEEDS_BEFORE))
        top = observer.app.recorder.max_notification_id()
        assert top >= NEEDS_BEFORE * 5
        # The API keeps no views: nothing has moved them.
        assert observer.views.position(name) == 0

        # Kill 1: while the projection process catches up, a batch of 2 at a time.
        projection = processes.projections(settings)
        wait_until(
            lambda: observer.views.position(name) > 0,
            30,
            "the projection to start",
            interval=0.005,
            detail=projection.log_tail,
        )
        projection.kill9()
        killed_at = observer.views.position(name)
        assert 0 < killed_at < top, f"not killed mid-way: at {killed_at} of {top}"
        positions = [killed_at]

        # Kills 2 and 3: restarted, then killed while commands keep coming.
        for round_ in range(2):
            projection = processes.projections(settings)
            first = NEEDS_BEFORE + round_ * NEEDS_DURING // 2
            errors: list[BaseException] = []
            writer = threading.Thread(
                target=_capturing(
                    lambda first=first: _drive_needs(  # type: ignore[misc]
                        server, world, range(first, first + NEEDS_DURING // 2)
                    ),
                    errors,
                )
            )
            writer.start()
            try:
                before = positions[-1]
                wait_until(
                    lambda before=before: observer.views.position(name) > before,  # type: ignore[misc]
                    30,
                    "the restarted projection to make progress",
                    interval=0.01,
                    detail=projection.log_tail,
                )
                time.sleep(rng.uniform(0.05, 0.4))
                projection.kill9()
                positions.append(observer.views.position(name))
            finally:
                writer.join(timeout=180)
            assert not writer.is_alive(), "the writers did not finish"
            assert not errors, errors

        # The position never goes back, and each restart resumed from it.
        assert positions == sorted(positions), positions

        # Restart once more: it reaches the end of the log.
        projection = processes.projections(settings)
        top = observer.app.recorder.max_notification_id()
        assert top >= (NEEDS_BEFORE + NEEDS_DURING) * 5
        wait_until(
            lambda: observer.views.position(name) == top,
            60,
            f"the views to reach {top}",
            detail=projection.log_tail,
        )
        status = processes.cli(settings, "projections", "status")
        assert status.returncode == 0, status.stderr
        numbers = [int(n) for n in re.findall(r"\b\d+\b", status.stdout)]
        assert numbers[-3:] == [top, top, 0], status.stdout

        assert_views_match_the_log(observer, settings_for(store, request, tmp_path))
        assert len(observer.views.dump_all()["need_view"]) == NEEDS_BEFORE + NEEDS_DURING
        # The API, which keeps no views itself, reads them at the projection's position.
        some_need = observer.views.dump_all()["need_view"][-1]["id"]
        with server.client() as client:
            response = client.get(
                f"/needs/{some_need}",
                params={"after": top},
                headers={"Authorization": f"Bearer {world.tokens['staff']}"},
            )
        assert response.status_code == 200, response.text
        for row in observer.views.dump_all()["need_view"]:
            assert row["status"] == "in_progress" and row["notes"] == 1, row
    finally:
        observer.close()


def _capturing(run: Any, errors: list[BaseException]) -> Any:
    def wrapped() -> None:
        try:
            run()
        except BaseException as error:  # noqa: BLE001 - reported by the test
            errors.append(error)

    return wrapped


# ----- (b) a slow writer --------------------------------------------------------

HOLD_SECONDS = 2.0


@dataclass
class Held:
    ids: list[int]
    inserted: float  # events inserted, transaction open
    released: float  # about to commit


HELD: list[Held] = []


class SlowPostgresRecorder(PostgresLinliRecorder):
    """Saves in a transaction of its own that it holds open (and with it the
    table lock the insert took) for HOLD_SECONDS after the events are
    inserted and their ids fetched, before the commit."""

    def write_together(self, group: list[Insert]) -> list[int]:
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(self.insert_statement, self.insert_arguments(group))
            ids = [row["notification_id"] for row in curs.fetchall()]
            inserted = time.monotonic()
            time.sleep(HOLD_SECONDS)
            HELD.append(Held(ids, inserted, time.monotonic()))
        return ids


class SlowSQLiteRecorder(SQLiteLinliRecorder):
    """The same on SQLite: the write transaction stays open after the insert."""

    def _insert_events(
        self, c: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        inserted = time.monotonic()
        time.sleep(HOLD_SECONDS)
        HELD.append(Held(list(ids or []), inserted, time.monotonic()))
        return ids


def _slow_app(settings: Settings) -> Linli:
    recorder = SlowSQLiteRecorder if settings.store == "sqlite" else SlowPostgresRecorder
    env = {
        **application_env(lean(settings)),
        "APPLICATION_RECORDER_TOPIC": f"{recorder.__module__}:{recorder.__qualname__}",
    }
    app = Linli(
        env,
        deadline_policy=deadline_policy(settings),
        evaluation_window=timedelta(days=settings.evaluation_window_days),
    )
    assert isinstance(app.recorder, recorder)
    return app


@pytest.mark.slow
def test_a_slow_writer_holding_its_transaction_open_is_not_skipped(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, processes: Processes
) -> None:
    settings = settings_for(
        store, request, tmp_path, projection_batch_size=10, projection_poll_interval=0.02
    )
    world = prepare_world(settings)
    server = processes.server(settings)  # keeps the views in its own process
    observer = build_services(lean(settings))
    slow = _slow_app(settings)
    name = observer.app.name
    HELD.clear()

    answers: list[tuple[dict[str, Any], Http]] = []
    samples: list[tuple[float, int]] = []  # (read finished, views' position)
    lock = threading.Lock()
    stop = threading.Event()

    def load(thread: int) -> None:
        with server.client(timeout=30, connections=2) as client:
            for i in range(1000):
                if stop.is_set():
                    return
                body = {
                    "compound_id": str(world.compound_id),
                    "source": "hotline",
                    "title": f"快速写入 {thread}-{i}",
                    "description": "同时写入",
                }
                answer = post(client, "/needs", body, world.tokens["grid_worker"], f"fast-{thread}-{i}")
                with lock:
                    answers.append((body, answer))
                time.sleep(0.005)

    def sample() -> None:
        for _ in range(10_000):
            if stop.is_set():
                return
            position = observer.views.position(name)
            samples.append((time.monotonic(), position))
            time.sleep(0.01)

    threads = [threading.Thread(target=load, args=(n,), daemon=True) for n in range(3)]
    threads.append(threading.Thread(target=sample, daemon=True))
    slow_results = []
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.5)
        for i in range(3):
            slow_results.append(
                slow.register_need(
                    world.actors["grid_worker"],
                    compound_id=world.compound_id,
                    source="household_visit",
                    title=f"慢写入 {i}",
                    description="事务长时间未提交",
                )
            )
            time.sleep(0.3)
        time.sleep(0.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
        slow.close()
    try:
        assert not any(t.is_alive() for t in threads)
        failed = [(a.status, a.body, a.error) for _, a in answers if not a.ok]
        assert not failed, failed[:5]
        assert len(HELD) == 3
        logged = [n.id for n in observer.app.recorder.select_notifications(start=1, limit=100_000)]
        for held, result in zip(HELD, slow_results, strict=True):
            assert result.position == max(held.ids)
            # Others wrote while the transaction was open and committed after it.
            overlapping = [
                a for _, a in answers if a.started < held.released and a.body["position"] > result.position
            ]
            assert overlapping, "no other writer overlapped the slow transaction"
            # The views never passed the open transaction's events...
            early = [p for t, p in samples if t < held.released and p >= min(held.ids)]
            assert not early, f"views reached {early[0]} before {held.ids} committed"
            before = max(position for position in logged if position < min(held.ids))
            waiting = [p for t, p in samples if held.inserted + 1.0 < t < held.released]
            assert waiting
            if store == "postgres":
                # ... though they had reached everything committed before them, and
                # waited there (on SQLite the views share the file, and their own
                # write waits for the writer's lock).
                assert max(waiting) == before, (held.ids, before, waiting[-5:])

        # Read-your-writes through the server, for every slow need.
        with server.client(timeout=30) as client:
            for result in slow_results:
                response = client.get(
                    f"/needs/{result.id}",
                    params={"after": result.position},
                    headers={"Authorization": f"Bearer {world.tokens['staff']}"},
                )
                assert response.status_code == 200, response.text
                assert response.json()["title"].startswith("慢写入")

        top = observer.app.recorder.max_notification_id()
        wait_until(lambda: observer.views.position(name) == top, 30, f"the views to reach {top}")
        assert_views_match_the_log(observer, settings_for(store, request, tmp_path))
        in_view = {row["id"] for row in observer.views.dump_all()["need_view"]}
        expected = {str(r.id) for r in slow_results} | {a.body["id"] for _, a in answers}
        assert expected == in_view
        assert all(isinstance(r.id, UUID) for r in slow_results)
    finally:
        observer.close()

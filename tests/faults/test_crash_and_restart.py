"""kill -9 of the API in the middle of 200 keyed commands (40 acknowledged,
160 in the server, a few of those just committed), then a restart and a
retry of every command with its key: every command that was acknowledged
exists exactly once and every key ends with exactly one effect. Runs on
SQLite and on PostgreSQL."""

from __future__ import annotations

import random
import sqlite3
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from domain.need import Need
from infrastructure.settings import Settings
from infrastructure.store import build_services
from tests.conftest import PG, settings_for
from tests.faults.conftest import (
    Http,
    Processes,
    assert_views_match_the_log,
    lean,
    post,
    prepare_world,
    read_log,
    wait_until,
)

pytestmark = pytest.mark.slow

REGISTRATIONS = 120
NOTES = 80
KILL_AFTER_ACKS = 40
# The notes go to a few needs, not all to one: forty notes racing on one need
# would mostly end in lost-race 409s before the kill, leaving little in flight.
NOTE_NEEDS = 8
THREADS = REGISTRATIONS + NOTES  # client connections: one for each command in flight


@dataclass(frozen=True)
class Command:
    key: str
    kind: str  # "register" or "note"
    path: str
    body: dict[str, Any]
    need_id: str | None = None  # the need a note is added to

    @property
    def marker(self) -> str:
        """What identifies this command's effect in its event."""
        return self.body["title"] if self.kind == "register" else self.body["text"]


def _commands(compound_id: str, note_needs: list[str]) -> list[Command]:
    commands = [
        Command(
            key=f"reg-{i:03d}",
            kind="register",
            path="/needs",
            body={
                "compound_id": compound_id,
                "source": "household_visit",
                "title": f"第{i}号诉求",
                "description": "楼道灯不亮",
            },
        )
        for i in range(REGISTRATIONS)
    ]
    for i in range(NOTES):
        need = note_needs[i % len(note_needs)]
        commands.append(
            Command(
                key=f"note-{i:03d}",
                kind="note",
                path=f"/needs/{need}/notes",
                body={"text": f"进展记录 {i}"},
                need_id=need,
            )
        )
    random.Random(6).shuffle(commands)
    return commands


@pytest.mark.slow
def test_kill_9_with_200_keyed_commands_in_flight_then_retry_every_key(
    store: str, request: pytest.FixtureRequest, tmp_path: Path, processes: Processes
) -> None:
    settings = settings_for(store, request, tmp_path, projection_poll_interval=0.05)
    settings = settings.model_copy(update={"postgres_pool_size": 6, "postgres_max_overflow": 10})
    world = prepare_world(settings)
    token = world.tokens["grid_worker"]

    setup = build_services(lean(settings))
    try:
        note_needs = [
            str(
                setup.app.register_need(
                    world.actors["grid_worker"],
                    compound_id=world.compound_id,
                    source="household_visit",
                    title=f"记录用诉求 {i}",
                    description="用于添加进展记录",
                ).id
            )
            for i in range(NOTE_NEEDS)
        ]
        position_before = setup.app.recorder.max_notification_id() or 0
    finally:
        setup.close()
    commands = _commands(str(world.compound_id), note_needs)
    assert len(commands) == 200

    # ----- 40 commands acknowledged, then the other 160 in flight at once: the
    # events table is held against writers while they are sent, so that every
    # one is in the server with its write waiting; the server is killed just
    # after the hold ends, when a few have committed and fewer been answered.
    server = processes.server(settings)
    first: dict[str, Http] = {}
    sent = 0
    lock = threading.Lock()
    acknowledged_first, in_flight_at_kill = commands[:KILL_AFTER_ACKS], commands[KILL_AFTER_ACKS:]
    with server.client(timeout=30, connections=THREADS) as client:

        def send(command: Command) -> None:
            nonlocal sent
            with lock:
                sent += 1
            for _attempt in range(5):  # a lost version race (409) is tried again, as a client would
                answer = post(client, command.path, command.body, token, command.key)
                if answer.status != 409:
                    break
            with lock:
                first[command.key] = answer

        with ThreadPoolExecutor(16) as pool:
            for future in [pool.submit(send, c) for c in acknowledged_first]:
                future.result(timeout=60)
        with ThreadPoolExecutor(len(in_flight_at_kill)) as pool:
            with _writes_held(settings):
                futures = [pool.submit(send, c) for c in in_flight_at_kill]
                wait_until(lambda: sent == len(commands), 30, "all 200 commands to be sent")
                time.sleep(0.5)  # for the last requests to reach the server
                early = [first[c.key] for c in in_flight_at_kill if c.key in first]
                assert not early, f"answered while writes were held: {early[:3]}"
            time.sleep(0.02)  # a few writes commit, and some of them are answered
            killed_at = time.monotonic()
            server.kill9()
            for future in futures:
                future.result(timeout=60)
    reached = all(first[c.key].ok for c in acknowledged_first)
    assert reached, f"the first {KILL_AFTER_ACKS} were not all acknowledged:\n{server.log_tail()}"

    acknowledged = {key: answer for key, answer in first.items() if answer.ok}
    unanswered = [key for key, answer in first.items() if answer.status is None]
    in_flight = [key for key in unanswered if first[key].started < killed_at]
    # Before the kill only 2xx or a lost version race (409) are acceptable answers.
    others = {k: (a.status, a.body) for k, a in first.items() if a.status not in (None, 409) and not a.ok}
    assert not others, f"unexpected answers before the kill: {others}"
    assert KILL_AFTER_ACKS <= len(acknowledged) < len(commands), len(acknowledged)
    assert unanswered, "the kill interrupted nothing"
    # Of the other 160, nearly all were in the server, unanswered, when it died.
    assert len(in_flight) >= 100, (len(in_flight), len(unanswered))

    # ----- every acknowledged command is in the log already, before any retry.
    crashed = build_services(lean(settings))
    try:
        by_position = {entry.id: entry for entry in read_log(crashed)}
    finally:
        crashed.close()
    by_key = {c.key: c for c in commands}
    for key, answer in acknowledged.items():
        _assert_effect(by_position, by_key[key], answer.body)
    committed = sum(1 for position in by_position if position > position_before)
    assert committed >= len(acknowledged)
    # Commands committed but never acknowledged are those the kill cut off
    # between the commit and the response: the retries must find them.
    print(
        f"{store}: {len(acknowledged)} acknowledged, {committed} committed, "
        f"{len(in_flight)} in flight at the kill, {len(unanswered)} unanswered"
    )

    # ----- restart on the same store and retry every command with its key.
    restarted = processes.server(settings)
    final: dict[str, Http] = {}
    retried_statuses: Counter[int | None] = Counter()
    with restarted.client(timeout=15) as client:

        def retry(command: Command) -> None:
            deadline = time.monotonic() + 60
            for attempt in range(40):
                answer = post(client, command.path, command.body, token, command.key)
                if answer.ok or time.monotonic() > deadline:
                    break
                with lock:
                    retried_statuses[answer.status] += 1
                if answer.status not in (409, 503):  # a lost version race may be retried
                    break
                time.sleep(0.02 * (attempt + 1))
            final[command.key] = answer

        with ThreadPoolExecutor(8) as pool:
            for future in [pool.submit(retry, c) for c in commands]:
                future.result(timeout=120)

    failed = {k: (a.status, a.body, a.error) for k, a in final.items() if not a.ok}
    assert not failed, f"retries that never succeeded: {failed}; other answers: {retried_statuses}"
    print(f"{store}: answers other than 2xx while retrying: {dict(retried_statuses)}")
    changed = {
        key: (acknowledged[key].body, final[key].body)
        for key in acknowledged
        if final[key].body != acknowledged[key].body
    }
    assert not changed, f"acknowledged results that changed across the restart: {changed}"

    # ----- through the application: exactly one effect per key.
    services = build_services(lean(settings))
    try:
        log = read_log(services)
        by_position = {entry.id: entry for entry in log}
        new = [entry for entry in log if entry.id > position_before]
        registered = [entry for entry in new if isinstance(entry.event, Need.Registered)]
        notes = [entry for entry in new if isinstance(entry.event, Need.NoteAdded)]
        assert len(new) == len(registered) + len(notes), "events nobody asked for"
        assert len(registered) == REGISTRATIONS
        assert len(notes) == NOTES
        titles = Counter(entry.event.title for entry in registered)
        texts = Counter((str(entry.originator_id), entry.event.text) for entry in notes)
        assert all(n == 1 for n in titles.values()), [t for t, n in titles.items() if n > 1]
        assert all(n == 1 for n in texts.values()), [t for t, n in texts.items() if n > 1]

        registered_ids = {str(entry.originator_id) for entry in registered}
        for command in commands:
            result = final[command.key].body
            _assert_effect(by_position, command, result)
            if command.kind == "register":
                assert result["id"] in registered_ids
            else:
                assert texts[(command.need_id, command.marker)] == 1
        assert len({final[c.key].body["id"] for c in commands if c.kind == "register"}) == REGISTRATIONS
        for need_id in note_needs:
            need = services.app.repository.get(UUID(need_id))
            assert need.notes == NOTES // len(note_needs)

        # The restarted server's views caught up with everything, as a replay would build them.
        top = services.app.recorder.max_notification_id()
        wait_until(lambda: services.views.position(services.app.name) >= top, 20, "the views")
        fresh = settings_for(store, request, tmp_path)
        assert_views_match_the_log(services, fresh)
    finally:
        services.close()


@contextmanager
def _writes_held(settings: Settings) -> Iterator[None]:
    """Hold the store against writers (readers go on) until the block ends,
    as a long transaction of another writer would."""
    if settings.store == "sqlite":
        conn = sqlite3.connect(settings.sqlite_path, isolation_level=None)
        try:
            conn.execute("BEGIN IMMEDIATE")
            yield
            conn.execute("COMMIT")
        finally:
            conn.close()
        return
    with psycopg.connect(**{**PG, "dbname": settings.postgres_db}) as conn:
        conn.execute(
            f'LOCK TABLE "{settings.postgres_schema}".linli_events IN EXCLUSIVE MODE'
        )
        yield
        conn.commit()


def _assert_effect(by_position: dict[int, Any], command: Command, result: dict[str, Any]) -> None:
    """The result names the log position of this command's own event."""
    entry = by_position.get(result["position"])
    assert entry is not None, f"{command.key}: no event at position {result}"
    assert str(entry.originator_id) == result["id"], (command.key, result)
    assert entry.originator_version == result["version"], (command.key, result)
    if command.kind == "register":
        assert isinstance(entry.event, Need.Registered), (command.key, entry.event)
        assert entry.event.title == command.marker
    else:
        assert result["id"] == command.need_id
        assert isinstance(entry.event, Need.NoteAdded), (command.key, entry.event)
        assert entry.event.text == command.marker


@pytest.mark.slow
def test_a_process_starting_beside_another_starting_one_does_not_crash(
    request: pytest.FixtureRequest, tmp_path: Path, processes: Processes
) -> None:
    """A restart of the API while the projection process (or a second API, or
    `linli projections status`) starts too, on PostgreSQL. The other process is
    played here by a session that does what a starting Linli process does:
    take the schema's start-up lock and run the recorder's schema statements."""
    settings = settings_for("postgres", request, tmp_path)
    prepare_world(settings)
    services = build_services(lean(settings))
    try:
        statements = [
            statement
            for statement in services.app.recorder.sql_create_statements  # type: ignore[attr-defined]
            if "CREATE TYPE" not in statement.as_string()
        ]
    finally:
        services.close()

    connect = {**PG, "dbname": settings.postgres_db, "connect_timeout": 5}
    with psycopg.connect(**connect) as starting, psycopg.connect(**connect, autocommit=True) as admin:
        # Another process is starting: it holds the start-up lock and has run the
        # schema statements that every start runs, in its transaction, and not
        # committed yet.
        lock_key = f"linli:{settings.postgres_schema}"
        starting.execute("SELECT pg_advisory_lock(hashtext(%s))", [lock_key])
        for statement in statements:
            starting.execute(statement)
        server = processes.server(settings, ready=False)

        def server_waits_for_it() -> bool:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND wait_event_type = 'Lock'",
                [settings.postgres_db],
            ).fetchone()
            return bool(row and row[0])

        wait_until(server_waits_for_it, 30, "the server's start to reach the schema statements",
                   detail=server.log_tail)
        starting.commit()
        starting.execute("SELECT pg_advisory_unlock(hashtext(%s))", [lock_key])
        starting.commit()
    assert server.wait_ready(), "the server could not bind its port"
    with server.client() as client:
        assert client.get("/readyz").status_code == 200

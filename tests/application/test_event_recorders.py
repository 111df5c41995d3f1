"""The recorders Linli saves with: what a save returns and what it leaves stored.

On PostgreSQL a save is one call of a function of Linli's (see
infrastructure/recorders.py); the rows it writes must be those the library's
own recorder writes, so that a store written by either reads the same.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from datetime import timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import psycopg
import pytest
from eventsourcing.persistence import IntegrityError

from application.app import Linli
from domain.compound import Compound
from infrastructure.calendar import deadline_policy
from infrastructure.recorders import Insert, PostgresLinliRecorder
from infrastructure.settings import Settings
from infrastructure.store import application_env, build_services, connect
from tests.conftest import settings_for
from tests.world import REGISTRAR


def _compound(name: str) -> Compound:
    return Compound.register(by=REGISTRAR, name=name, community="和平社区", address=None, id=uuid4())


def _key(scope: str, aggregate: Compound) -> dict[str, Any]:
    return {
        "scope": scope,
        "request": "the request",
        "aggregate_id": aggregate.id,
        "version": aggregate.version,
        "last_id": aggregate.id,
        "last_version": aggregate.version,
        "extra": "{}",
    }


def test_a_save_of_several_aggregates_returns_their_positions_in_order(make_settings) -> None:
    services = build_services(make_settings())
    try:
        app = services.app
        first, second = _compound("幸福里"), _compound("和谐园")
        second.add_building(by=REGISTRAR, name="1号楼")
        recordings = app.save(first, second)
        stored = app.recorder.select_notifications(1, 100)
        assert [r.notification.id for r in recordings] == [n.id for n in stored] == [1, 2, 3]
        assert [(n.originator_id, n.originator_version) for n in stored] == [
            (first.id, 1),
            (second.id, 1),
            (second.id, 2),
        ]
    finally:
        services.close()


def test_a_version_clash_writes_nothing_and_raises(make_settings) -> None:
    services = build_services(make_settings())
    try:
        app = services.app
        compound_id = app.register_compound(REGISTRAR, name="幸福里", community="和平社区").id
        first = app.repository.get(compound_id)
        second = app.repository.get(compound_id)
        first.add_building(by=REGISTRAR, name="1号楼")
        second.add_building(by=REGISTRAR, name="2号楼")
        app.save(first)
        with pytest.raises(IntegrityError):
            app.save(second)
        assert app.recorder.max_notification_id() == 2
        buildings = app.repository.get(compound_id).buildings.values()
        assert [b["name"] for b in buildings] == ["1号楼"]
    finally:
        services.close()


def test_a_key_that_collides_writes_none_of_the_events_it_came_with(make_settings) -> None:
    services = build_services(make_settings())
    try:
        app = services.app
        first = _compound("幸福里")
        app.save(first, idempotency=_key("scope-1", first))
        again = _compound("和谐园")
        with pytest.raises(IntegrityError):
            app.save(again, idempotency=_key("scope-1", again))
        assert app.recorder.max_notification_id() == 1
        found = app.recorder.find_idempotent("scope-1")
        assert found is not None and found["aggregate_id"] == first.id
    finally:
        services.close()


def _stock_app(settings: Settings) -> Linli:
    """Linli on the library's own PostgreSQL recorder, as a store may have been written."""
    env = {
        **application_env(settings),
        "APPLICATION_RECORDER_TOPIC": "eventsourcing.postgres:PostgresApplicationRecorder",
    }
    return Linli(
        env,
        deadline_policy=deadline_policy(settings),
        evaluation_window=timedelta(days=settings.evaluation_window_days),
    )


def test_rows_written_by_the_library_recorder_and_by_linlis_read_the_same(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for("postgres", request, tmp_path)
    stock = _stock_app(settings)
    try:
        by_stock = stock.register_compound(REGISTRAR, name="幸福里", community="和平社区").id
    finally:
        stock.close()
    services = build_services(settings)
    try:
        app = services.app
        by_linli = app.register_compound(REGISTRAR, name="和谐园", community="和平社区").id
        app.add_building(REGISTRAR, by_stock, name="1号楼")
        assert app.repository.get(by_stock).name == "幸福里"
        assert app.repository.get(by_linli).name == "和谐园"
        services.updater.catch_up()
        assert services.views.position(app.name) == app.recorder.max_notification_id() == 3
    finally:
        services.close()
    with connect(settings) as conn:
        rows = conn.execute(
            psycopg.sql.SQL(
                "SELECT notification_id, originator_version, topic FROM {}.linli_events "
                "ORDER BY notification_id"
            ).format(psycopg.sql.Identifier(settings.postgres_schema))
        ).fetchall()
    assert [r[0] for r in rows] == [1, 2, 3]
    assert rows[0][2] == rows[1][2]  # the same event class, by the same topic


def _insert_functions(settings: Settings) -> list[str]:
    """The argument types of each function that saves Linli's events."""
    with connect(settings) as conn:
        rows = conn.execute(
            "SELECT pg_get_function_identity_arguments(p.oid) FROM pg_proc p "
            "JOIN pg_namespace n ON n.oid = p.pronamespace "
            "WHERE n.nspname = %s AND p.proname = 'linli_events_insert'",
            (settings.postgres_schema,),
        ).fetchall()
    return [r[0] for r in rows]


def test_a_store_made_by_an_earlier_version_saves_with_the_current_function_only(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    settings = settings_for("postgres", request, tmp_path)
    build_services(settings).close()
    (current,) = _insert_functions(settings)
    schema = psycopg.sql.Identifier(settings.postgres_schema)
    with connect(settings) as conn:  # the function as the last version made it
        conn.execute(
            psycopg.sql.SQL(
                "CREATE FUNCTION {}.linli_events_insert({}.stored_event_uuid[], text[], text[], "
                "uuid[], bigint[], uuid[], bigint[], text[]) RETURNS TABLE (notification_id bigint) "
                "LANGUAGE sql AS 'SELECT NULL::bigint'"
            ).format(schema, schema)
        )
    assert len(_insert_functions(settings)) == 2
    services = build_services(settings)
    try:
        assert _insert_functions(settings) == [current]
        compound_id = services.app.register_compound(REGISTRAR, name="幸福里").id
        assert services.app.repository.get(compound_id).name == "幸福里"
    finally:
        services.close()


def test_events_are_selected_as_the_library_selects_them_in_every_shape_of_query(
    request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    """Linli composes each shape of the query once; the answers must be the library's."""
    from itertools import product

    from eventsourcing.postgres import PostgresAggregateRecorder

    settings = settings_for("postgres", request, tmp_path)
    services = build_services(settings)
    try:
        app = services.app
        compound_id = app.register_compound(REGISTRAR, name="幸福里", community="和平社区").id
        for n in range(1, 6):
            app.add_building(REGISTRAR, compound_id, name=f"{n}号楼")
        recorder = app.recorder
        assert isinstance(recorder, PostgresLinliRecorder)
        shapes = list(product((None, 2), (None, 5), (False, True), (None, 3)))
        assert len(shapes) == 16
        for gt, lte, desc, limit in shapes:
            ours = recorder.select_events(compound_id, gt=gt, lte=lte, desc=desc, limit=limit)
            library = PostgresAggregateRecorder.select_events(
                recorder, compound_id, gt=gt, lte=lte, desc=desc, limit=limit
            )
            assert ours == library, (gt, lte, desc, limit)
            assert ours  # every shape finds some of the six events
        versions = [e.originator_version for e in recorder.select_events(compound_id, gt=2, lte=5, desc=True)]
        assert versions == [5, 4, 3]
        assert recorder.select_events(uuid4()) == []
    finally:
        services.close()


# ----- saves made while another is written go together (PostgreSQL) ---------------


class HeldRecorder(PostgresLinliRecorder):
    """Linli's recorder whose first write waits until ``hold_for`` more saves
    have queued behind it (10 s at most), and which counts the saves of each write."""

    hold_for = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.writes: list[int] = []

    def write_together(self, group: list[Insert]) -> list[int]:
        self.writes.append(len(group))
        if len(self.writes) == 1:
            deadline = time.monotonic() + 10
            while self.group_commit.queued() < self.hold_for and time.monotonic() < deadline:
                time.sleep(0.002)
        return super().write_together(group)


@pytest.fixture
def held_app(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Linli]:
    settings = settings_for("postgres", request, tmp_path)
    env = {
        **application_env(settings),
        "APPLICATION_RECORDER_TOPIC": "tests.application.test_event_recorders:HeldRecorder",
    }
    app = Linli(
        env,
        deadline_policy=deadline_policy(settings),
        evaluation_window=timedelta(days=settings.evaluation_window_days),
    )
    yield app
    app.close()


def _behind_one(app: Linli, saves: list[Callable[[], Any]]) -> list[Future[Any]]:
    """Run ``saves[0]`` and, once it is being written, the others at once."""
    recorder = app.recorder
    recorder.hold_for = len(saves) - 1
    pool = ThreadPoolExecutor(max_workers=len(saves))
    futures = [pool.submit(saves[0])]
    while not recorder.writes:
        time.sleep(0.001)
    futures += [pool.submit(save) for save in saves[1:]]
    wait(futures, timeout=30)
    pool.shutdown()
    return futures


def _stored_as_recorded(app: Linli, recordings: Any) -> bool:
    stored = {n.id: n for n in app.recorder.select_notifications(1, 1000)}
    return all(
        (stored[r.notification.id].originator_id, stored[r.notification.id].originator_version)
        == (r.domain_event.originator_id, r.domain_event.originator_version)
        for r in recordings
    )


def test_saves_queued_behind_one_are_written_together_each_with_its_positions(
    held_app: Linli,
) -> None:
    app = held_app
    first, others = _compound("幸福里"), [_compound(n) for n in ("和谐园", "阳光城", "翠苑")]
    others[1].add_building(by=REGISTRAR, name="1号楼")
    keyed = others[2]
    futures = _behind_one(
        app,
        [
            lambda: app.save(first),
            lambda: app.save(others[0]),
            lambda: app.save(others[1]),
            lambda: app.save(keyed, idempotency=_key("scope-g", keyed)),
        ],
    )
    recordings = [f.result() for f in futures]
    assert app.recorder.writes == [1, 3]
    assert [len(r) for r in recordings] == [1, 1, 2, 1]
    assert sorted(r.notification.id for rs in recordings for r in rs) == [1, 2, 3, 4, 5]
    assert all(_stored_as_recorded(app, rs) for rs in recordings)
    found = app.recorder.find_idempotent("scope-g")
    assert found is not None and found["aggregate_id"] == keyed.id
    assert found["position"] == recordings[3][-1].notification.id


def test_a_clash_among_saves_written_together_fails_that_save_alone(held_app: Linli) -> None:
    app = held_app
    compound_id = app.register_compound(REGISTRAR, name="幸福里", community="和平社区").id
    app.recorder.writes.clear()
    stale = app.repository.get(compound_id)
    current = app.repository.get(compound_id)
    current.add_building(by=REGISTRAR, name="1号楼")
    stale.add_building(by=REGISTRAR, name="2号楼")
    good = [_compound("和谐园"), _compound("阳光城")]
    futures = _behind_one(
        app,
        [
            lambda: app.save(current),
            lambda: app.save(good[0]),
            lambda: app.save(stale),
            lambda: app.save(good[1]),
        ],
    )
    with pytest.raises(IntegrityError):
        futures[2].result()
    saved = [futures[i].result() for i in (0, 1, 3)]
    # The group of three clashed as a whole; then each was written alone.
    assert app.recorder.writes == [1, 3, 1, 1, 1]
    # (The group's insert that clashed used up ids: the log skips them.)
    assert len(app.recorder.select_notifications(1, 1000)) == 4
    assert all(_stored_as_recorded(app, rs) for rs in saved)
    assert [b["name"] for b in app.repository.get(compound_id).buildings.values()] == ["1号楼"]
    assert app.repository.get(good[1].id).name == "阳光城"

"""The recorders Linli saves with: what a save returns and what it leaves stored.

On PostgreSQL a save is one call of a function of Linli's (see
infrastructure/recorders.py); the rows it writes must be those the library's
own recorder writes, so that a store written by either reads the same.
"""

from __future__ import annotations

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
from infrastructure.settings import Settings
from infrastructure.store import application_env, build_services, connect
from tests.conftest import settings_for
from tests.world import ADMIN


def _compound(name: str) -> Compound:
    return Compound.register(by=ADMIN, name=name, community="和平社区", address=None, id=uuid4())


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
        second.add_building(by=ADMIN, name="1号楼")
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
        compound_id = app.register_compound(ADMIN, name="幸福里", community="和平社区").id
        first = app.repository.get(compound_id)
        second = app.repository.get(compound_id)
        first.add_building(by=ADMIN, name="1号楼")
        second.add_building(by=ADMIN, name="2号楼")
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
        by_stock = stock.register_compound(ADMIN, name="幸福里", community="和平社区").id
    finally:
        stock.close()
    services = build_services(settings)
    try:
        app = services.app
        by_linli = app.register_compound(ADMIN, name="和谐园", community="和平社区").id
        app.add_building(ADMIN, by_stock, name="1号楼")
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

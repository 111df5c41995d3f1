"""The view updater: woken by other processes' writes on PostgreSQL (LISTEN/NOTIFY),
polling as the fallback, and stopping cleanly."""

from __future__ import annotations

import time
from collections.abc import Iterator

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import psycopg
import pytest

from application.readmodel import utc_text

from infrastructure.store import Services, build_services
from tests.conftest import PG, settings_for, until
from tests.world import REGISTRAR

LONG_POLL = 5.0  # far longer than any wake by notification may take


@pytest.fixture
def pair(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Services, Services]]:
    """Two processes' worth of services on one PostgreSQL schema: the first runs
    the view updater (with a long poll interval), the second only writes, as a
    uvicorn worker does."""
    settings = settings_for("postgres", request, tmp_path, projection_poll_interval=LONG_POLL)
    keeper = build_services(settings)
    writer = build_services(settings)
    keeper.updater.start()
    try:
        assert until(lambda: keeper.updater.listening, 5.0), keeper.updater.listener_error
        yield keeper, writer
    finally:
        writer.close()
        keeper.close()


def _write_elsewhere(writer: Services, name: str) -> int:
    # The writer's own updater is not running: only a notification (or the
    # keeper's next poll, seconds away) brings the event to the keeper's views.
    return writer.app.register_compound(REGISTRAR, name=name).position


@pytest.mark.postgres
def test_a_write_by_another_application_wakes_the_updater_at_once(
    pair: tuple[Services, Services],
) -> None:
    keeper, writer = pair
    for round_ in range(3):
        time.sleep(0.3)  # the keeper is idle, in its (long) poll wait
        began = time.monotonic()
        position = _write_elsewhere(writer, f"小区{round_}")
        assert keeper.updater.wait_for(position, timeout=2.0), "not woken by NOTIFY"
        assert time.monotonic() - began < 2.0 < LONG_POLL
        found = keeper.views.cases("compound", None)[0]
        assert f"小区{round_}" in {row["name"] for row in found}


@pytest.mark.postgres
def test_a_burst_of_writes_is_applied_and_coalesced(pair: tuple[Services, Services]) -> None:
    keeper, writer = pair
    positions = [_write_elsewhere(writer, f"批量{i}") for i in range(30)]
    assert keeper.updater.wait_for(positions[-1], timeout=2.0)
    rows = keeper.views.cases("compound", None)[0]
    assert {f"批量{i}" for i in range(30)} <= {row["name"] for row in rows}


@pytest.mark.postgres
def test_the_listener_reconnects_after_losing_its_connection(
    pair: tuple[Services, Services],
) -> None:
    keeper, writer = pair
    with psycopg.connect(dbname=keeper.settings.postgres_db, autocommit=True, **PG) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'linli-views-listen' AND datname = current_database() "
            "AND query ILIKE 'LISTEN%'"
        ).fetchall()
    assert killed, "no listener connection found"
    # It notices, and comes back (first retry after 0.2 s).
    assert until(lambda: keeper.updater.listener_error is not None or not keeper.updater.listening, 3.0)
    assert until(lambda: keeper.updater.listening, 5.0), keeper.updater.listener_error
    time.sleep(0.3)
    began = time.monotonic()
    position = _write_elsewhere(writer, "重连之后")
    assert keeper.updater.wait_for(position, timeout=2.0)
    assert time.monotonic() - began < 2.0


@pytest.mark.postgres
def test_stop_ends_the_loop_and_the_listener_promptly(
    request: pytest.FixtureRequest, tmp_path
) -> None:
    services = build_services(
        settings_for("postgres", request, tmp_path, projection_poll_interval=LONG_POLL)
    )
    services.updater.start()
    assert until(lambda: services.updater.listening, 5.0)
    began = time.monotonic()
    services.close()
    assert time.monotonic() - began < 2.0
    assert services.updater._thread is not None and not services.updater._thread.is_alive()
    assert services.updater._listener is not None and not services.updater._listener.is_alive()
    assert not services.updater.listening


def test_sqlite_has_no_listener_and_polls(request: pytest.FixtureRequest, tmp_path) -> None:
    settings = settings_for("sqlite", request, tmp_path, projection_poll_interval=0.05)
    keeper = build_services(settings)
    writer = build_services(settings)
    keeper.updater.start()
    try:
        position = _write_elsewhere(writer, "轮询")
        assert keeper.updater.wait_for(position, timeout=2.0)
        assert keeper.updater._listener is None and not keeper.updater.listening
    finally:
        writer.close()
        keeper.close()


INTERVAL = 1.0  # the batch interval of the test below: long beside a prompt wake


def test_events_coming_within_the_batch_interval_are_applied_together(make_settings) -> None:
    services = build_services(
        make_settings(projection_poll_interval=0.05, projection_batch_interval=INTERVAL)
    )
    services.updater.start()
    try:
        time.sleep(0.2)  # the updater is idle: the next event is applied at once
        began = time.monotonic()
        first = services.app.register_compound(REGISTRAR, name="先到").position
        assert services.updater.wait_for(first, timeout=INTERVAL / 2)
        assert time.monotonic() - began < INTERVAL / 2
        # Within the interval of that batch: these wait for the next one, together.
        later = [services.app.register_compound(REGISTRAR, name=f"后到{i}").position for i in range(3)]
        assert not services.updater.wait_for(later[0], timeout=INTERVAL / 4)
        assert services.updater.wait_for(later[-1], timeout=5 * INTERVAL)
        names = {row["name"] for row in services.views.cases("compound", None)[0]}
        assert {"先到", "后到0", "后到1", "后到2"} <= names
    finally:
        services.close()


def test_an_updater_behind_by_full_batches_does_not_pause_between_them(make_settings) -> None:
    services = build_services(
        make_settings(
            projection_poll_interval=0.05, projection_batch_interval=INTERVAL, projection_batch_size=2
        )
    )
    try:
        positions = [services.app.register_compound(REGISTRAR, name=f"积压{i}").position for i in range(7)]
        services.updater.start()
        # Three full batches of two, one after the other, then the seventh.
        assert services.updater.wait_for(positions[5], timeout=INTERVAL * 0.8)
        assert services.updater.wait_for(positions[6], timeout=5 * INTERVAL)
    finally:
        services.close()


def test_an_updater_whose_views_moved_on_goes_on_from_there(make_settings) -> None:
    """Two updaters on one store's views (two processes, or a rebuild swapped
    in): the one left behind is refused before writing, and carries on from
    the views' position, so that no event is applied twice."""
    settings = make_settings()
    ahead, behind = build_services(settings), build_services(settings)
    try:
        compound = ahead.app.register_compound(REGISTRAR, name="前后")
        ahead.app.add_building(REGISTRAR, compound.id, name="1号楼")
        assert ahead.updater.catch_up() == 2
        assert behind.updater.position == 0
        assert behind.updater.run_once() == 0  # moved to 2, and nothing after it
        assert behind.updater.position == ahead.updater.position == 2

        ahead.app.add_building(REGISTRAR, compound.id, name="2号楼")
        assert behind.updater.run_once() == 1
        assert ahead.updater.run_once() == 0
        assert ahead.updater.position == behind.updater.position == 3
        trail = [entry["version"] for entry in ahead.views.history(str(compound.id))]
        assert trail == [1, 2, 3]
        row = ahead.views.case("compound", str(compound.id))
        assert row is not None and [b["name"] for b in row["buildings"]] == ["1号楼", "2号楼"]
    finally:
        behind.close()
        ahead.close()


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 3, 1, 8, 30, 0, 0, tzinfo=UTC),
        datetime(2026, 3, 1, 8, 30, 0, 123456, tzinfo=ZoneInfo("Asia/Shanghai")),
        datetime(2025, 12, 31, 23, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-5))),
        datetime(2026, 1, 1, tzinfo=ZoneInfo("UTC")),
    ],
)
def test_utc_text_is_the_fixed_width_text_it_always_was(moment: datetime) -> None:
    expected = moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")
    assert utc_text(moment) == expected
    assert utc_text(moment) == expected  # the second time, from the memo of its second

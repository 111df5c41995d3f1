"""Rebuilding the views beside the live ones while commands keep arriving."""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import Tracking

from infrastructure.rebuild import rebuild
from infrastructure.store import Services, build_services
from tests.world import World, build_world


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


def _replay(services: Services, make_settings) -> dict:  # noqa: ANN001
    fresh = build_services(make_settings())
    try:
        app = services.app
        notifications = app.recorder.select_notifications(start=1, limit=10_000_000)
        items = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
        fresh.views.process_batch(items, Tracking(app.name, notifications[-1].id))
        return fresh.views.dump_all()
    finally:
        fresh.close()


def test_rebuild_while_commands_arrive_ends_equal_to_a_fresh_replay(
    world: World, make_settings
) -> None:
    services = world.services
    app = services.app
    grid, staff = world.actors["grid_worker"], world.actors["staff"]
    for i in range(60):
        need = app.register_need(
            grid, compound_id=world.compound_id, source="household_visit", title=f"旧{i}", description="x"
        )
        app.accept_need(staff, need.id, priority="normal")
    stop = threading.Event()
    written: list[int] = []

    def keep_writing() -> None:
        i = 0
        while not stop.is_set():
            r = app.register_need(
                grid, compound_id=world.compound_id, source="hotline", title=f"新{i}", description="y"
            )
            written.append(app.accept_need(staff, r.id, priority="low").position)
            i += 1

    writer = threading.Thread(target=keep_writing)
    writer.start()
    steps: list[tuple[int, int]] = []
    try:
        reached = rebuild(services, progress=lambda n, p: steps.append((n, p)), batch_size=25)
    finally:
        stop.set()
        writer.join()
    assert written, "commands kept arriving during the rebuild"
    assert steps and sum(n for n, _ in steps) >= reached - 1 - 0  # progress was reported
    last = app.recorder.max_notification_id()
    assert services.updater.wait_for(last, 20)
    assert services.views.dump_all() == _replay(services, make_settings)
    assert services.views.position(app.name) == last


def test_rebuild_of_a_stopped_service_and_restart(world: World, make_settings) -> None:
    services = world.services
    services.updater.stop()
    app = services.app
    app.register_need(
        world.actors["grid_worker"], compound_id=world.compound_id, source="hotline", title="t", description="d"
    )
    reached = rebuild(services)
    assert reached == app.recorder.max_notification_id()
    restarted = build_services(services.settings)
    try:
        assert restarted.updater.position == reached
        assert restarted.views.dump_all() == _replay(services, make_settings)
        # The index names are the live ones again, so a second rebuild works too.
        assert rebuild(restarted) == reached
        assert restarted.views.dump_all() == _replay(services, make_settings)
    finally:
        restarted.close()


def test_a_rebuilds_tables_come_with_the_planners_statistics(world: World) -> None:
    """PostgreSQL: the new view tables are analysed before they replace the
    live ones, so that the first queries after the swap find their indexes
    (a table never analysed reads as of unknown size, -1 rows)."""
    services = world.services
    if services.settings.store != "postgres":
        pytest.skip("SQLite plans without gathered statistics")
    app = services.app
    for i in range(5):
        app.register_need(
            world.actors["grid_worker"], compound_id=world.compound_id, source="hotline", title=f"n{i}", description="z"
        )
    rebuild(services)
    with services.views.datastore.get_connection() as conn:
        rows = conn.execute(
            "SELECT c.relname, c.reltuples FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
            "WHERE n.nspname = %s AND c.relname IN ('need_view', 'case_view', 'case_history')",
            [services.views.datastore.schema],
        ).fetchall()
    counts = {row["relname"]: row["reltuples"] for row in rows}
    assert counts["need_view"] >= 5 and counts["case_view"] > 0 and counts["case_history"] > 5, counts

"""Pooled PostgreSQL connections the server has ended are not handed out.

The pool checks a connection with ``idle_connection_alive`` (a poll of its
socket) instead of the library's pre-ping (an empty query per checkout).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from infrastructure.settings import Settings
from infrastructure.store import build_services, connect, idle_connection_alive
from tests.conftest import settings_for
from tests.world import build_world


@pytest.fixture
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    return settings_for("postgres", request, tmp_path)


def _end_other_sessions(settings: Settings) -> int:
    """Terminate every other session on the test database, as a restart would."""
    with connect(settings) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchall()
    time.sleep(0.2)  # the ended sessions' messages reach their sockets
    return len(rows)


def test_a_live_idle_connection_passes_and_an_ended_one_fails(settings: Settings) -> None:
    with connect(settings) as conn:
        conn.execute("SELECT 1")
        assert idle_connection_alive(conn)
        with connect(settings) as other:
            other.execute("SELECT pg_terminate_backend(%s)", [conn.info.backend_pid])
        time.sleep(0.2)
        assert not idle_connection_alive(conn)


def test_commands_and_queries_work_at_once_after_the_server_ended_every_pooled_connection(
    settings: Settings,
) -> None:
    services = build_services(settings)
    try:
        world = build_world(services)
        app = services.app
        grid_worker = world.actors["grid_worker"]

        def register(title: str):  # noqa: ANN202
            return app.register_need(
                grid_worker,
                compound_id=world.compound_id,
                source="household_visit",
                title=title,
                description="地下室水管漏水",
            )

        first = register("水管漏水")
        services.updater.catch_up()
        assert services.views.need(str(first.id)) is not None
        assert _end_other_sessions(settings) >= 1

        # A query of the views (which the library does not retry) gets a
        # live connection after one wait of the pool's; then all are live.
        assert services.views.need(str(first.id)) is not None
        started = time.monotonic()
        second = register("楼道灯不亮")
        assert app.repository.get(second.id).title == "楼道灯不亮"
        assert services.views.need(str(first.id)) is not None
        assert time.monotonic() - started < 0.5
    finally:
        services.close()

"""Operations (issue 23): readiness that answers whatever the database does,
read-your-writes waits that hold no endpoint thread and are capped per
credential, and owners' names and areas only for the roles that need them.

Where concurrency matters, the app is served by a real uvicorn server on a
free port, in this process (so the test can count the probe's threads and
the waiting requests); TestClient would serialize the requests.
"""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.schemas import MAX_POSITION
from domain.actor import Role
from infrastructure.store import Services, build_services
from tests.serving import free_port, in_process
from tests.world import World, build_world

NEED = {"source": "household_visit", "title": "2号楼电梯停运", "description": "电梯自周一起停运"}


def served(services: Services):  # noqa: ANN201 - a context manager
    """The app on a real uvicorn server, in a thread of this process; its base URL."""
    return in_process(create_app(services=services))


def timed(call: Any) -> tuple[float, Any]:
    began = time.monotonic()
    answer = call()
    return time.monotonic() - began, answer


@pytest.fixture
def idle(make_settings) -> Iterator[Services]:  # noqa: ANN001
    """Services whose views are kept by no one here (as in a worker when
    another process runs the projections): they stay behind until a test
    moves them."""
    built = build_services(make_settings(view_wait_timeout=10))
    yield built
    built.close()


# ----- /readyz ---------------------------------------------------------------------------


@contextmanager
def blackhole() -> Iterator[int]:
    """A port that accepts connections and never answers (a hung server)."""
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen(128)
        yield listening.getsockname()[1]


def _unreachable(services: Services, how: str, stack: Any) -> None:
    """Point the probe at a database that does not answer, as ``how`` says."""
    settings = services.settings
    if settings.store == "sqlite":
        missing = Path(settings.sqlite_path).parent / "gone" / "linli.sqlite3"
        services.settings = settings.model_copy(update={"sqlite_path": missing})
        return
    port = stack.enter_context(blackhole()) if how == "hanging" else free_port()
    services.settings = settings.model_copy(update={"postgres_port": port})


def _probe_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name == "linli-probe" and t.is_alive())


@pytest.mark.parametrize("how", ["down", "hanging"])
def test_readyz_answers_within_a_second_whatever_the_database_does(
    services: Services, how: str
) -> None:
    from contextlib import ExitStack

    world = build_world(services)
    assert services.updater.wait_for(services.updater.log_position(), 10)
    limits = httpx.Limits(max_connections=50, max_keepalive_connections=50)
    with (
        served(services) as base,
        ExitStack() as stack,
        httpx.Client(base_url=base, timeout=10, limits=limits) as http,
    ):
        assert http.get("/readyz").status_code == 200
        healthy = services.settings
        _unreachable(services, how, stack)
        answers: list[tuple[float, httpx.Response]] = []

        def ask() -> None:
            answers.append(timed(lambda: http.get("/readyz")))

        # Twenty probes at once, then more while the first may still hang.
        for _round in range(2):
            askers = [threading.Thread(target=ask) for _ in range(20)]
            for t in askers:
                t.start()
            for t in askers:
                t.join()
            assert _probe_threads() <= 2  # one in flight (and one left to finish)
        assert len(answers) == 40
        print(f"\n/readyz with the database {how}: slowest of 40 {max(e for e, _ in answers):.2f} s")
        for elapsed, answer in answers:
            assert elapsed < 1.0, f"{elapsed:.2f} s"
            assert answer.status_code == 503
            assert answer.headers["Retry-After"]
            body = answer.json()
            assert body["status"] == "unavailable"
            assert body["not_ready"]["database"]
        elapsed, health = timed(lambda: http.get("/healthz"))
        assert health.status_code == 200 and elapsed < 0.5
        # The endpoints' reads do not go through the probe: they still work.
        assert http.get("/needs", headers=world.headers("staff")).status_code == 200

        services.settings = healthy
        deadline = time.monotonic() + 10
        while (again := http.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, again.text
            time.sleep(0.1)
        assert again.json()["not_ready"] == {}


def test_readyz_names_the_views_behind(idle: Services) -> None:
    idle.settings = idle.settings.model_copy(update={"projection_batch_size": 1})
    build_world(idle)
    head = idle.updater.log_position()
    with TestClient(create_app(services=idle)) as client:
        behind = client.get("/readyz")
        assert behind.status_code == 503
        assert behind.json()["not_ready"] == {"views": f"behind by {head}"}
        assert behind.json()["lag"] == head
        idle.updater.catch_up()
        ready = client.get("/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json()["not_ready"] == {}


# ----- ?after=N ---------------------------------------------------------------------------


def test_a_position_beyond_the_log_head_is_answered_at_once(idle: Services) -> None:
    world = build_world(idle)
    head = idle.updater.log_position()
    idle.updater.catch_up()
    staff = world.headers("staff")
    with TestClient(create_app(services=idle)) as client:
        for after in (head + 1, head + 1000, MAX_POSITION):
            elapsed, answer = timed(lambda: client.get(f"/needs?after={after}", headers=staff))
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "1"
            assert "beyond the log's head" in answer.json()["detail"]
            assert elapsed < 1.0  # not the 10 s of LINLI_VIEW_WAIT_TIMEOUT
        # Reached already: answered as before.
        assert client.get(f"/needs?after={head}", headers=staff).status_code == 200
        # Whoever may not read learns nothing of the log.
        assert client.get(f"/needs?after={MAX_POSITION}").status_code == 401
        assert client.get(f"/stats?after={MAX_POSITION}", headers=world.headers("resident")).status_code == 403
        # Malformed positions are the route's 422, never a 500.
        for bad in ("abc", "-1", str(MAX_POSITION + 1), "1e3", "١٢", "9" * 40):
            assert client.get(f"/needs?after={bad}", headers=staff).status_code == 422, bad
        # A write of this process is waited for (the updater here is not running).
        recorded = client.post(
            "/needs", json={"compound_id": str(world.compound_id), **NEED}, headers=staff
        ).json()["position"]
        threading.Timer(0.3, idle.updater.catch_up).start()
        seen = client.get(f"/needs?after={recorded}", headers=staff)
        assert seen.status_code == 200, seen.text


def test_waiting_requests_hold_no_endpoint_thread(idle: Services) -> None:
    """Sixty requests wait for a position the views have not reached (nobody
    keeps them here), more than the 40 endpoint threads; /healthz and a
    command answer meanwhile. Then another process brings the views there
    and every waiting request is answered."""
    world = build_world(idle)
    head = idle.updater.log_position()
    tokens = [
        idle.credentials.issue(
            person_id=idle.people.register(f"员工{i}", created_by="test").id,
            role=Role.COMMUNITY_STAFF,
            compound_ids=[world.compound_id],
        ).token
        for i in range(10)
    ]
    figures: dict[str, float] = {}

    async def scenario(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
        async with httpx.AsyncClient(base_url=base, timeout=30, limits=limits) as http:
            waiting = [
                asyncio.create_task(
                    http.get(f"/needs?after={head}", headers={"Authorization": f"Bearer {token}"})
                )
                for token in tokens
                for _ in range(6)
            ]
            deadline = time.monotonic() + 10
            while idle.updater.waiting < 60:
                assert time.monotonic() < deadline, f"only {idle.updater.waiting} waiting"
                await asyncio.sleep(0.02)
            began = time.monotonic()
            health = await http.get("/healthz")
            figures["healthz"] = time.monotonic() - began
            assert health.status_code == 200
            began = time.monotonic()
            command = await http.post(
                "/needs",
                json={"compound_id": str(world.compound_id), **NEED},
                headers=world.headers("grid_worker"),
            )
            figures["command"] = time.monotonic() - began
            assert command.status_code == 201, command.text
            assert idle.updater.waiting == 60  # all still waiting
            # Another process (a projection runner) brings the views there.
            other = build_services(idle.settings.model_copy(update={"postgres_pool_size": 1}))
            try:
                await asyncio.to_thread(other.updater.catch_up)
            finally:
                other.close()
            return await asyncio.gather(*waiting)

    with served(idle) as base:
        answers = asyncio.run(scenario(base))
    assert [a.status_code for a in answers] == [200] * 60
    print(f"\nwith 60 requests waiting: /healthz {figures['healthz'] * 1000:.0f} ms, "
          f"a command {figures['command'] * 1000:.0f} ms")
    assert figures["healthz"] < 2.0
    assert figures["command"] < 2.0


def test_waits_are_capped_per_credential(idle: Services) -> None:
    idle.settings = idle.settings.model_copy(update={"max_waits_per_credential": 3})
    world = build_world(idle)
    head = idle.updater.log_position()

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30) as http:
            staff = world.headers("staff")
            waiting = [
                asyncio.create_task(http.get(f"/needs?after={head}", headers=staff))
                for _ in range(3)
            ]
            deadline = time.monotonic() + 10
            while idle.updater.waiting < 3:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            refused = await http.get(f"/needs?after={head}", headers=staff)
            assert refused.status_code == 429, refused.text
            assert refused.headers["Retry-After"] == "1"
            # Not waiting (no position asked): served as ever.
            assert (await http.get("/needs", headers=staff)).status_code == 200
            # Another credential waits.
            other = asyncio.create_task(
                http.get(f"/needs?after={head}", headers=world.headers("supervisor"))
            )
            while idle.updater.waiting < 4:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            await asyncio.to_thread(idle.updater.catch_up)
            answers = await asyncio.gather(*waiting, other)
            assert [a.status_code for a in answers] == [200] * 4
            # The waits ended: the credential may wait again.
            assert (await http.get(f"/needs?after={head}", headers=staff)).status_code == 200

    with served(idle) as base:
        asyncio.run(scenario(base))


def test_a_wait_that_times_out_is_a_503(idle: Services) -> None:
    idle.settings = idle.settings.model_copy(update={"view_wait_timeout": 0.3})
    world = build_world(idle)
    head = idle.updater.log_position()
    with TestClient(create_app(services=idle)) as client:
        elapsed, answer = timed(
            lambda: client.get(f"/needs?after={head}", headers=world.headers("staff"))
        )
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "1"
    assert "not reached" in answer.json()["detail"]
    assert elapsed < 3


# ----- owners' names and areas --------------------------------------------------------------

OWNER_FIELDS = {"owner_name", "owner_id", "exclusive_area"}


def test_owners_and_areas_only_for_the_roles_that_need_them(
    services: Services, world: World
) -> None:
    from decimal import Decimal

    from tests.world import REGISTRAR

    owner = services.people.register("业主王", created_by="test")
    building = services.app.add_building(REGISTRAR, world.compound_id, name="2号楼")[0]
    services.app.add_household(
        REGISTRAR, world.compound_id, building_id=building, number="201",
        exclusive_area=Decimal("120.5"), owner_id=owner.id,
    )
    assert services.updater.wait_for(services.updater.log_position(), 10)
    hidden = {"resident", "property_company", "co_building_unit"}
    shown = {"staff", "supervisor", "grid_worker", "party_branch", "owners_committee", "admin"}
    with TestClient(create_app(services=services)) as client:
        for who in hidden | shown:
            headers = world.headers(who)
            one = client.get(f"/compounds/{world.compound_id}", headers=headers)
            assert one.status_code == 200, (who, one.text)
            listed = client.get("/compounds", headers=headers).json()["items"]
            (in_list,) = [c for c in listed if c["id"] == str(world.compound_id)]
            csv = client.get("/compounds?format=csv", headers=headers).text
            for row in (one.json(), in_list):
                assert len(row["households"]) == 4
                assert len(row["buildings"]) == 2
                for household in row["households"]:
                    assert {"id", "building_id", "number"} <= set(household)
                    if who in hidden:
                        assert not OWNER_FIELDS & set(household), who
                    else:
                        assert OWNER_FIELDS <= set(household), who
            if who in hidden:
                assert "业主王" not in one.text + csv and owner.id not in one.text + csv
                assert "120.5" not in one.text + csv
            else:
                assert "业主王" in one.text and "120.5" in csv

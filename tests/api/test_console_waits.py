"""The console's read-your-writes waits (issue 23 item 2): a page shown after
a command (``?after=N``) waits for the views on the event loop, as the API's
reads do, capped per session; a position beyond the log's head, or one wait
too many, is the console's own 503 page at once."""

from __future__ import annotations

import asyncio
import time

import httpx

from infrastructure.console_sessions import ConsoleSessions
from infrastructure.store import Services
from tests.api.test_operations import idle, served  # noqa: F401  (idle: a fixture)
from tests.world import build_world

COOKIE = "linli_console"
SYNCING = "刚记录的变动还在同步"


def _session(services: Services, token: str) -> dict[str, str]:
    session_id = ConsoleSessions(services.views).start(token)
    assert session_id is not None
    return {COOKIE: session_id}


def test_a_console_page_waits_on_the_event_loop(idle: Services) -> None:
    world = build_world(idle)
    head = idle.updater.log_position()
    idle.settings = idle.settings.model_copy(update={"max_waits_per_credential": 100})
    cookies = _session(idle, world.tokens["staff"])
    figures: dict[str, float] = {}

    async def scenario(base: str) -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=100)
        async with httpx.AsyncClient(
            base_url=base, timeout=30, limits=limits, cookies=cookies
        ) as http:
            waiting = [
                asyncio.create_task(http.get(f"/console/needs?after={head}")) for _ in range(50)
            ]
            deadline = time.monotonic() + 10
            while idle.updater.waiting < 50:
                assert time.monotonic() < deadline, f"only {idle.updater.waiting} waiting"
                await asyncio.sleep(0.02)
            began = time.monotonic()
            # More pages wait than there are endpoint threads (40), and yet:
            assert (await http.get("/healthz")).status_code == 200
            assert (await http.get("/console/needs")).status_code == 200
            figures["meanwhile"] = time.monotonic() - began
            await asyncio.to_thread(idle.updater.catch_up)
            return await asyncio.gather(*waiting)

    with served(idle) as base:
        answers = asyncio.run(scenario(base))
    assert [a.status_code for a in answers] == [200] * 50
    assert all("诉求" in a.text for a in answers)
    assert figures["meanwhile"] < 5.0  # a generous bound: not held behind the waits


def test_beyond_the_head_and_over_the_cap_are_the_console_s_503_page(idle: Services) -> None:
    world = build_world(idle)
    idle.updater.catch_up()
    head = idle.updater.log_position()
    idle.settings = idle.settings.model_copy(update={"max_waits_per_credential": 2})
    cookies = _session(idle, world.tokens["staff"])

    async def scenario(base: str) -> None:
        async with httpx.AsyncClient(base_url=base, timeout=30, cookies=cookies) as http:
            elapsed, beyond = await _timed(http.get(f"/console/needs?after={head + 1000}"))
            assert beyond.status_code == 503 and SYNCING in beyond.text
            assert beyond.headers["content-type"].startswith("text/html")
            # Not the 10 s of LINLI_VIEW_WAIT_TIMEOUT: a generous bound, since the
            # page first reads (and may refresh) its session in the database.
            assert elapsed < 3.0
            # Not signed in: sent to sign in, never left waiting.
            async with httpx.AsyncClient(base_url=base, timeout=30) as stranger:
                away = await stranger.get(f"/console/needs?after={head + 1000}")
                assert away.status_code == 303
                assert away.headers["location"].startswith("/console/sign-in")
            # Two waits for a write of another process; the third is refused.
            written = idle.app.recorder.max_notification_id() or 0
            await asyncio.to_thread(_register_need, idle, world)
            target = (idle.app.recorder.max_notification_id() or 0)
            assert target > written
            waiting = [
                asyncio.create_task(http.get(f"/console/needs?after={target}")) for _ in range(2)
            ]
            deadline = time.monotonic() + 10
            while idle.updater.waiting < 2:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            third = await http.get(f"/console/needs?after={target}")
            assert third.status_code == 503 and SYNCING in third.text
            await asyncio.to_thread(idle.updater.catch_up)
            assert [a.status_code for a in await asyncio.gather(*waiting)] == [200, 200]

    with served(idle) as base:
        asyncio.run(scenario(base))


async def _timed(pending):  # noqa: ANN001, ANN202
    began = time.monotonic()
    answer = await pending
    return time.monotonic() - began, answer


def _register_need(services: Services, world) -> None:  # noqa: ANN001
    staff = services.credentials.authenticate(world.tokens["staff"])
    assert staff is not None
    services.app.register_need(
        staff,
        compound_id=world.compound_id,
        source="household_visit",
        title="3号楼门禁坏了",
        description="门禁刷卡无反应",
    )

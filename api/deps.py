"""Dependencies of the routes: services, the caller, permissions, conditions."""

from __future__ import annotations

import asyncio
import hashlib
import re
import threading
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param
from pydantic import TypeAdapter

from api.errors import ViewsBehind
from api.schemas import MAX_POSITION
from application.access import PERMISSIONS
from domain.actor import Actor
from infrastructure.console_sessions import MAX_SESSION_ID_LENGTH, ConsoleSessions
from infrastructure.read_replicas import read_at_least
from infrastructure.store import Services

# The console's session cookie, which holds a console session id
# (infrastructure/console_sessions.py, api.console.router).
SESSION_COOKIE = "linli_console"
CONSOLE_PREFIX = "/console"

# How the OpenAPI document describes the bearer token (``api.app``).
BEARER_SCHEME = {"type": "http", "scheme": "bearer", "description": "a token from `linli token create`"}


# The cheap dependencies are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, a thread hop (and GIL hand-over) per
# dependency per request. Only the endpoints, and the credentials read when
# the token is not remembered, do blocking I/O in threads.


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def caller(request: Request) -> Actor:
    """The caller, by the bearer token in the Authorization header (any
    spelling of the scheme): remembered for ``LINLI_AUTH_CACHE_SECONDS``
    (see ``Credentials.recent``), else read."""
    scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
    if not token or scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    services: Services = request.app.state.services
    max_age = services.settings.auth_cache_seconds
    actor = services.credentials.recent(token, max_age)
    if actor is None:
        actor = await run_in_threadpool(
            services.credentials.authenticate_remembering, token, max_age
        )
    if actor is None:
        raise HTTPException(
            status_code=401,
            detail="invalid or revoked token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return actor


def requires(action: str) -> Callable[[Request], Awaitable[Actor]]:
    """A dependency that admits the caller only if their role may take ``action``.

    Every route declares one (or is listed as public); a test walks
    ``app.routes`` to make sure none is left unguarded. It reads the request
    itself rather than depending on further dependencies: each one costs
    FastAPI a round of solving per request. ``api.app`` documents the bearer
    scheme on the routes that declare one.
    """
    roles = PERMISSIONS[action]

    async def permitted(request: Request) -> Actor:
        actor = await caller(request)
        if actor.role not in roles:
            raise HTTPException(
                status_code=403,
                detail=f"role '{actor.role}' may not {action.replace('.', ' ')}",
            )
        return actor

    permitted.linli_action = action  # type: ignore[attr-defined]
    return permitted


def route_action(dependant: Any) -> str | None:
    """The action a route's dependencies declare (``requires`` or ``public``), if any."""
    for dependency in dependant.dependencies:
        action = getattr(dependency.call, "linli_action", None) or route_action(dependency)
        if action:
            return action  # type: ignore[no-any-return]
    return None


def depends_on(dependant: Any, call: Callable[..., Any]) -> bool:
    """Whether a route's dependencies include ``call``."""
    return any(d.call is call or depends_on(d, call) for d in dependant.dependencies)


async def public() -> None:
    """Marks a route that anyone may call (health, readiness, metrics)."""


public.linli_action = "public"  # type: ignore[attr-defined]

_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


async def expected_version(request: Request) -> int | None:
    """The If-Match header: the aggregate version a command expects (412 when stale).

    Read from the request rather than declared as a header parameter, which
    FastAPI would validate through pydantic on every command, sent or not;
    ``api.app`` documents it on the routes that take it."""
    if_match = request.headers.get("if-match")
    if if_match is None:
        return None
    match = _VERSION.match(if_match)
    if not match:
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["header", "if-match"],
                    "msg": "If-Match must be an aggregate version number, like 3 or \"3\"",
                    "type": "value_error",
                }
            ],
        )
    return int(match.group(1))


IF_MATCH = {
    "name": "If-Match",
    "in": "header",
    "required": False,
    "description": "the aggregate version the command expects (412 when stale)",
    "schema": {"type": "string", "pattern": _VERSION.pattern},
}


ExpectedVersion = Annotated[int | None, Depends(expected_version)]


def wait_for_views(services: Services, after: int | None) -> None:
    """Read-your-writes: answer only once the views have reached ``after``.

    With read replicas, the views' queries of this request then go only to a
    replica whose views are known to have reached ``after`` (``views_reached``
    waited a little for one on the event loop), else to the primary."""
    if after is None or after <= 0:
        return
    timeout = services.settings.view_wait_timeout
    if not services.updater.wait_for(after, timeout):
        raise ViewsBehind(
            f"the views have not reached log position {after} within {timeout:g} s"
        )
    if services.read_replicas is not None:
        read_at_least(after)


# ----- probing the database: readiness, and the log's head ------------------------------

# How long a request waits for a probe's answer: /readyz answers within a
# second whatever the database does.
PROBE_WAIT = 0.5
# A probe still running this long is left to finish on its own (it holds one
# thread, not an endpoint's) and the next request starts another.
PROBE_ABANDON = 10.0


@dataclass
class Probed:
    """What one probe found: the positions, or why it could not tell."""

    log_position: int = 0
    view_position: int = 0
    error: str | None = None


class Probe:
    """At most one probe of the database in flight, whose answer every request
    that comes meanwhile shares, and which each awaits at most ``PROBE_WAIT``
    seconds. The probe runs in a thread of its own (never an endpoint's), on
    a connection of its own with short timeouts (``Services.probe_positions``)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._running: tuple[float, asyncio.Future[Probed]] | None = None
        # The highest log position a probe saw; the log only grows.
        self.known_head = 0

    def _start(self) -> tuple[float, asyncio.Future[Probed]]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Probed] = loop.create_future()
        started = time.monotonic()

        def settle(found: Probed) -> None:
            if not future.done():
                future.set_result(found)

        def probe() -> None:
            try:
                head, at = self.services.probe_positions()
                found = Probed(head, at)
            except Exception as error:  # noqa: BLE001 - what is not ready, in words
                found = Probed(error=_one_line(error))
            try:
                loop.call_soon_threadsafe(settle, found)
            except RuntimeError:  # the loop closed meanwhile
                pass

        threading.Thread(target=probe, name="linli-probe", daemon=True).start()
        self._running = (started, future)
        return self._running

    async def positions(self, since: float | None = None) -> Probed:
        """The database's positions, from a probe started at or after ``since``
        (a monotonic time; None: the probe in flight, if any, else a new one)."""
        deadline = time.monotonic() + PROBE_WAIT
        while True:
            running = self._running
            if (
                running is None
                or running[1].done()
                or time.monotonic() - running[0] > PROBE_ABANDON
            ):
                running = self._start()
            started, future = running
            remaining = deadline - time.monotonic()
            try:
                if remaining <= 0:
                    raise TimeoutError
                found = await asyncio.wait_for(asyncio.shield(future), remaining)
            except TimeoutError:
                return Probed(error=f"no answer within {PROBE_WAIT:g} s")
            if since is not None and started < since:
                continue  # begun before the caller's write could be seen: probe again
            if found.error is None:
                self.known_head = max(self.known_head, found.log_position)
            return found


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


def probe_of(request: Request) -> Probe:
    """The app's probe, made at the first use."""
    state = request.app.state
    probe = getattr(state, "probe", None)
    if probe is None or probe.services is not state.services:
        probe = state.probe = Probe(state.services)
    return probe  # type: ignore[no-any-return]


# ----- read-your-writes: ``?after=N`` awaited on the event loop --------------------------

RETRY_AFTER_WAITS = "1"
_POSITION = TypeAdapter(int)


def _credential_key(request: Request) -> str:
    _, token = get_authorization_scheme_param(request.headers.get("authorization"))
    return hashlib.sha256(token.encode()).hexdigest()


async def views_reached(request: Request) -> None:
    """For the routers whose reads take ``?after=N`` (api/app.py adds it where
    they are included): wait for the views to reach log position N here, on
    the event loop, holding no endpoint thread; the route's own
    ``wait_for_views`` then finds them there.

    A position beyond the log's head is answered at once (503, Retry-After):
    no write made it, waiting would not help. Each credential may have
    ``LINLI_MAX_WAITS_PER_CREDENTIAL`` requests waiting at once; one more is
    answered 429 with Retry-After. A malformed ``after`` is left to the
    route's validation (422)."""
    after = _position_asked(request)
    if after is None:
        return
    # The caller first: who may not read the route learns nothing of the log.
    actor = await caller(request)
    route = request.scope.get("route")
    action = route_action(route.dependant) if route is not None else None
    if action in PERMISSIONS and actor.role not in PERMISSIONS[action]:
        return  # the route refuses it (403)
    await _views_reach(request, after, _credential_key(request))


async def console_views_reached(request: Request) -> None:
    """The console's ``views_reached``: a page shown after a command
    (``?after=N``) waits for the views on the event loop, capped per session
    as the API's waits are per credential. Only a live session waits; any
    other request goes on to the page, which sends it to sign in. What the
    API would answer 503 or 429 is left in ``request.state.views_not_reached``
    for the page to show in the console's words (``api.console.common.page``)."""
    after = _position_asked(request)
    if after is None:
        return
    session_id = request.cookies.get(SESSION_COOKIE) or ""
    services: Services = request.app.state.services
    if not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        return
    actor = await run_in_threadpool(
        ConsoleSessions(services.views).actor,
        session_id,
        timedelta(minutes=services.settings.console_session_idle_minutes),
    )
    if actor is None:
        return
    try:
        await _views_reach(request, after, hashlib.sha256(session_id.encode()).hexdigest())
    except HTTPException as refused:
        request.state.views_not_reached = ViewsBehind(str(refused.detail))
    except ViewsBehind as behind:
        request.state.views_not_reached = behind


def _position_asked(request: Request) -> int | None:
    """The ``?after=`` position the views have yet to reach, or None: none
    asked, malformed (the route's validation answers 422) or reached."""
    text = request.query_params.get("after")
    if text is None:
        return None
    try:  # read as the route reads it; what it refuses is its 422
        after = _POSITION.validate_python(text)
    except ValueError:
        return None
    if after <= 0 or after > MAX_POSITION:
        return None
    services: Services = request.app.state.services
    if services.updater.position >= after:
        replicas = services.read_replicas
        if replicas is None or replicas.choose(after) is not None or not replicas.any_usable():
            return None
    return after  # type: ignore[no-any-return]


async def _views_reach(request: Request, after: int, key: str) -> None:
    """Wait on the event loop for the views to reach ``after``, as one of the
    requests ``key`` (a credential's or a session's) has waiting."""
    services: Services = request.app.state.services
    updater = services.updater
    probe = probe_of(request)
    if after > max(updater.position, updater.recorded, probe.known_head):
        found = await probe.positions(since=time.monotonic())
        if found.error is not None:
            raise HTTPException(
                status_code=503,
                detail=f"the database is unavailable ({found.error}); try again shortly",
                headers={"Retry-After": RETRY_AFTER_WAITS},
            )
        if after > found.log_position:
            raise HTTPException(
                status_code=503,
                detail=(
                    f"log position {after} is beyond the log's head ({found.log_position}): "
                    "no write has reached it yet"
                ),
                headers={"Retry-After": RETRY_AFTER_WAITS},
            )
    waits = _waits_of(request)
    limit = services.settings.max_waits_per_credential
    if waits.get(key, 0) >= limit:
        raise HTTPException(
            status_code=429,
            detail=f"this credential already has {limit} requests waiting for the views; try again shortly",
            headers={"Retry-After": RETRY_AFTER_WAITS},
        )
    waits[key] = waits.get(key, 0) + 1
    try:
        timeout = services.settings.view_wait_timeout
        started = time.monotonic()
        if not await updater.reached(after, timeout):
            raise ViewsBehind(
                f"the views have not reached log position {after} within {timeout:g} s"
            )
        replicas = services.read_replicas
        if replicas is not None:
            # A replica's views too, for a little while: else the primary answers.
            left = timeout - (time.monotonic() - started)
            await replicas.reached(after, min(replicas.wait, left))
    finally:
        waits[key] -= 1
        if not waits[key]:
            del waits[key]


def _waits_of(request: Request) -> dict[str, int]:
    """Requests waiting per credential, in this process (touched on the event loop only)."""
    state = request.app.state
    waits = getattr(state, "waits", None)
    if waits is None:
        waits = state.waits = {}
    return waits  # type: ignore[no-any-return]

"""Dependencies of the routes: services, the caller, permissions, conditions."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security.utils import get_authorization_scheme_param

from api.errors import ViewsBehind
from application.access import PERMISSIONS
from domain.actor import Actor
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
    """Read-your-writes: answer only once the views have reached ``after``."""
    if after is None or after <= 0:
        return
    timeout = services.settings.view_wait_timeout
    if not services.updater.wait_for(after, timeout):
        raise ViewsBehind(
            f"the views have not reached log position {after} within {timeout:g} s"
        )

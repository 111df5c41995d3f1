"""Dependencies of the routes: services, the caller, permissions, conditions."""

from __future__ import annotations

import hashlib
import re
from collections.abc import AsyncIterator, Callable
from typing import Annotated

from fastapi import Depends, Header, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi.security.utils import get_authorization_scheme_param

from api.errors import ViewsBehind
from application.access import PERMISSIONS
from application.base import RequestKey, request_key
from domain.actor import Actor
from infrastructure.credentials import token_hash
from infrastructure.store import Services

# The console's session cookie, which holds the bearer token (api.console.router).
SESSION_COOKIE = "linli_console"
CONSOLE_PREFIX = "/console"

_bearer = HTTPBearer(auto_error=False, description="a token from `linli token create`")


# The cheap dependencies are ``async def``: FastAPI runs a plain ``def``
# dependency in the thread pool, a thread hop (and GIL hand-over) per
# dependency per request. Only the endpoints, and the credentials read when
# the token is not remembered, do blocking I/O in threads.


async def get_services(request: Request) -> Services:
    return request.app.state.services  # type: ignore[no-any-return]


ServicesDep = Annotated[Services, Depends(get_services)]


async def current_actor(
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Actor:
    """The caller, by their bearer token: remembered for
    ``LINLI_AUTH_CACHE_SECONDS`` (see ``Credentials.recent``), else read."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status_code=401,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    token = credentials.credentials
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


def requires(action: str) -> Callable[[Actor], Actor]:
    """A dependency that admits the caller only if their role may take ``action``.

    Every route declares one (or is listed as public); a test walks
    ``app.routes`` to make sure none is left unguarded.
    """
    roles = PERMISSIONS[action]

    async def permitted(actor: Annotated[Actor, Depends(current_actor)]) -> Actor:
        if actor.role not in roles:
            raise HTTPException(
                status_code=403,
                detail=f"role '{actor.role}' may not {action.replace('.', ' ')}",
            )
        return actor

    permitted.linli_action = action  # type: ignore[attr-defined]
    return permitted


def public() -> None:
    """Marks a route that anyone may call (health, readiness, metrics)."""


public.linli_action = "public"  # type: ignore[attr-defined]

MAX_KEY_LENGTH = 200


def _route_path(request: Request) -> str:
    route = request.scope.get("route")
    return getattr(route, "path", None) or request.url.path


def caller_credential(request: Request) -> str:
    """The credential a request authenticates with, as its stored hash ("" if none).

    The same token gives the same value whether it comes in the Authorization
    header (any spelling of the scheme, as ``current_actor`` reads it) or, on
    the console's routes, in the session cookie. A bad token gives a value too,
    but such a request is refused with 401 before any command runs.
    """
    path = _route_path(request)
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        token = request.cookies.get(SESSION_COOKIE, "")
    else:
        scheme, token = get_authorization_scheme_param(request.headers.get("authorization"))
        if scheme.lower() != "bearer":
            token = ""
    return token_hash(token) if token else ""


async def idempotency_key(
    request: Request,
    key: Annotated[
        str | None,
        Header(
            alias="Idempotency-Key",
            description="the same key and body return the first result and record nothing again",
        ),
    ] = None,
) -> AsyncIterator[None]:
    """Set the request's idempotency key for the command it runs.

    Async, so that the key is set in the context the endpoint's thread copies.
    Keys are scoped to the caller's credential: two callers may use the same key.
    """
    if key is None or request.method != "POST":
        yield
        return
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise HTTPException(
            status_code=422,
            detail=[
                {
                    "loc": ["header", "idempotency-key"],
                    "msg": f"must be 1 to {MAX_KEY_LENGTH} printable characters",
                    "type": "value_error",
                }
            ],
        )
    caller = caller_credential(request)
    body = await request.body()
    scope = hashlib.sha256(f"{caller}\x00{key}".encode()).hexdigest()
    digest = hashlib.sha256(request.method.encode() + b" " + request.url.path.encode() + b"\x00" + body)
    token = request_key.set(RequestKey(scope, digest.hexdigest()))
    try:
        yield
    finally:
        request_key.reset(token)


_VERSION = re.compile(r'^\s*(?:W/)?"?(\d{1,9})"?\s*$')


async def expected_version(
    if_match: Annotated[
        str | None,
        Header(description="the aggregate version the command expects (412 when stale)"),
    ] = None,
) -> int | None:
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

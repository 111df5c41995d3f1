"""The Idempotency-Key header: sets the request's key for the command it runs.

Plain ASGI middleware rather than a dependency of every route: FastAPI
solves a generator dependency through an exit stack and a cancel scope on
every request, keyed or not, which costs a worker more CPU than this whole
check. Here a request without the header costs one scan of its headers.

The key is set in a context variable for the rest of the request. The
endpoint's thread copies the context, so the command sees it
(``application.base.request_key``), and the key is reset when the request ends.
Keys are scoped to the caller's credential: two callers may use the same key.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from fastapi.security.utils import get_authorization_scheme_param
from starlette.requests import HTTPConnection

from api.deps import CONSOLE_PREFIX, SESSION_COOKIE
from api.security import read_body, send_json
from application.base import RequestKey, request_key
from infrastructure.credentials import token_hash

HEADER = "Idempotency-Key"
DESCRIPTION = "the same key and body return the first result and record nothing again"
MAX_KEY_LENGTH = 200
# A key is 1 to 200 printable ASCII characters (space to tilde): the
# characters of a Structured Field String, which the IETF's Idempotency-Key
# draft (draft-ietf-httpapi-idempotency-key-header) makes the key; neither
# first nor last a space, which HTTP strips from a header's value. The schema
# states this pattern; the middleware enforces the same.
KEY_PATTERN = rf"^[\x21-\x7e]([\x20-\x7e]{{0,{MAX_KEY_LENGTH - 2}}}[\x21-\x7e])?$"
_KEY = re.compile(KEY_PATTERN.encode())

_HEADER = HEADER.lower().encode("latin-1")
_BAD_KEY = json.dumps(
    {
        "detail": [
            {
                "loc": ["header", HEADER.lower()],
                "msg": f"must be 1 to {MAX_KEY_LENGTH} printable ASCII characters (space to ~), not starting or ending with a space",
                "type": "value_error",
            }
        ]
    }
).encode()


def caller_credential(scope: dict[str, Any]) -> str:
    """The credential a request authenticates with, as its stored hash ("" if none).

    The same token gives the same value in the Authorization header, in any
    spelling of the scheme (as ``api.deps`` reads it). On the console's routes
    the value is the hash of the session id in the session cookie: a key is
    then scoped to that console session. A bad token or session gives a value
    too, but such a request is refused before any command runs.
    """
    connection = HTTPConnection(scope)
    path = scope["path"]
    if path == CONSOLE_PREFIX or path.startswith(CONSOLE_PREFIX + "/"):
        token = connection.cookies.get(SESSION_COOKIE, "")
    else:
        scheme, token = get_authorization_scheme_param(connection.headers.get("authorization"))
        if scheme.lower() != "bearer":
            token = ""
    return token_hash(token) if token else ""


class IdempotencyKeys:
    """Sets ``request_key`` for a POST that carries an Idempotency-Key: its
    scope is the caller and the key, its request the method, path and body.
    A key that is empty, too long or not printable ASCII is refused with 422."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        raw = next((value for name, value in scope["headers"] if name == _HEADER), None)
        if raw is None:
            await self.app(scope, receive, send)
            return
        if _KEY.fullmatch(raw) is None:
            await send_json(send, 422, _BAD_KEY)
            return
        key = raw.decode("ascii")
        body, replay = await read_body(receive)  # type: ignore[misc]  # no limit: never None
        caller = caller_credential(scope)
        request = hashlib.sha256(b"POST " + scope["path"].encode() + b"\x00" + body).hexdigest()
        key_scope = hashlib.sha256(f"{caller}\x00{key}".encode()).hexdigest()
        token = request_key.set(RequestKey(key_scope, request))
        try:
            await self.app(scope, replay, send)
        finally:
            request_key.reset(token)

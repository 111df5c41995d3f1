"""Security headers on every response; the request body limit.

Both are plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` (what
``@app.middleware("http")`` makes) runs each request through a task group and
memory streams, which cost a worker more CPU than many an endpoint does.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


_RAW_HEADERS = [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in HEADERS.items()]
_CACHE_CONTROL = b"cache-control"
_NO_STORE = (_CACHE_CONTROL, b"no-store")
_CACHEABLE_PATHS = ("/docs", "/redoc")  # the API docs' pages may be cached


class SecurityHeaders:
    """Adds ``HEADERS`` to every response that lacks them, and
    ``Cache-Control: no-store`` to all but the docs' pages unless the response
    sets its own. Whatever the route set itself is kept."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cacheable = scope.get("path") in _CACHEABLE_PATHS

        async def secured(message: Any) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or ())
                present = {name.lower() for name, _ in headers}
                headers.extend(h for h in _RAW_HEADERS if h[0] not in present)
                if not cacheable and _CACHE_CONTROL not in present:
                    headers.append(_NO_STORE)
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, secured)


def install_security_headers(app: FastAPI) -> None:
    app.add_middleware(SecurityHeaders)


MAX_BODY_BYTES = 1_000_000


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, whether announced by
    Content-Length or streamed in chunks, before any of it is parsed."""

    def __init__(self, app: Any, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        length = headers.get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        if scope.get("method") not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        # Read the whole body (it is small, or refused) before the app sees it.
        read = await read_body(receive, self.max_bytes)
        if read is None:
            await self._refuse(send)
            return
        await self.app(scope, read[1], send)

    async def _refuse(self, send: Any) -> None:
        # Outside SecurityHeaders, so this answer brings its own.
        body = f'{{"detail":"request body over {self.max_bytes} bytes"}}'.encode()
        await send_json(send, 413, body, _RAW_HEADERS)


async def send_json(send: Any, status: int, body: bytes, headers: Any = ()) -> None:
    """Answer from a middleware with a JSON ``body`` of its own."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def read_body(receive: Any, max_bytes: int | None = None) -> tuple[bytes, Any] | None:
    """The whole request body, and a ``receive`` that delivers it again to the
    app; None once it is over ``max_bytes``. If the client goes away first,
    the app receives that news instead of a body cut short."""
    chunks: list[bytes] = []
    received = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            gone = message

            async def disconnected() -> Any:
                return gone

            return b"".join(chunks), disconnected
        chunks.append(message.get("body", b""))
        received += len(chunks[-1])
        if max_bytes is not None and received > max_bytes:
            return None
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    delivered = False

    async def replay() -> Any:
        nonlocal delivered
        if delivered:
            return await receive()
        delivered = True
        return {"type": "http.request", "body": body, "more_body": False}

    return body, replay

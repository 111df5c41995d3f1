"""What a path allows: ``OPTIONS`` answers it, and a 405 names all of it.

Linli declares each method of a path as its own route (``GET /needs`` and
``POST /needs`` are two), and Starlette's 405 names only the methods of the
first route whose path matched; nothing answers ``OPTIONS``. This plain ASGI
middleware asks the app's own router, method by method, which methods of a
path some route takes: an ``OPTIONS`` request is answered 204 with them in
``Allow`` (a path no route takes falls through to the usual 404), and a 405
says all of them in its ``Allow`` header (RFC 9110, 9.3.7 and 15.5.6).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from starlette.routing import Match

# The methods any route of Linli is declared with; OPTIONS is answered here.
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")


class AllowedMethods:
    def __init__(self, app: Any, router: Any) -> None:
        self.app = app
        self.router = router
        # Paths repeat (a client's OPTIONS before each call): keep the answer for
        # each of the last few thousand; the routes never change once served.
        self.allowed = lru_cache(maxsize=4096)(self._allowed)

    def _allowed(self, path: str, root_path: str) -> str:
        scope = {"type": "http", "path": path, "root_path": root_path, "path_params": {}}
        found = [
            method
            for method in METHODS
            if any(
                route.matches({**scope, "method": method})[0] is Match.FULL
                for route in self.router.routes
            )
        ]
        return ", ".join([*found, "OPTIONS"]) if found else ""

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope["method"] == "OPTIONS":
            allow = self.allowed(scope["path"], scope.get("root_path", ""))
            if allow:
                await send(
                    {
                        "type": "http.response.start",
                        "status": 204,
                        "headers": [(b"allow", allow.encode())],
                    }
                )
                await send({"type": "http.response.body", "body": b""})
                return

        async def naming_all(message: Any) -> None:
            if message["type"] == "http.response.start" and message["status"] == 405:
                allow = self.allowed(scope["path"], scope.get("root_path", ""))
                headers = [(k, v) for k, v in message.get("headers") or () if k.lower() != b"allow"]
                message = {**message, "headers": [*headers, (b"allow", allow.encode())]}
            await send(message)

        await self.app(scope, receive, naming_all)

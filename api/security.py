"""Security headers on every response."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request, Response

HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def install_security_headers(app: FastAPI) -> None:
    @app.middleware("http")
    async def secure(request: Request, call_next: Any) -> Response:
        response: Response = await call_next(request)
        for name, value in HEADERS.items():
            response.headers.setdefault(name, value)
        if request.url.path not in ("/docs", "/redoc") and "Cache-Control" not in response.headers:
            response.headers["Cache-Control"] = "no-store"
        return response

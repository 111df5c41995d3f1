"""The one place where domain and persistence errors become HTTP answers."""

from __future__ import annotations

import logging

from eventsourcing.persistence import IntegrityError, InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

from api.security import HEADERS
from application.app import StaleVersion
from domain.errors import (
    Conflict,
    IllegalTransition,
    InvalidValue,
    NotFound,
    NotPermitted,
)

log = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = "2"


class ViewsBehind(Exception):
    """The views did not reach the asked-for log position in time."""


def _part_naming(request: Request, field: str) -> str:
    """Where in the request a field a rule refused came from, as FastAPI's
    own 422s say it: the path, the query, a header (names with a dash) or the body."""
    if field in request.path_params:
        return "path"
    if field in request.query_params:
        return "query"
    if "-" in field and field in request.headers:
        return "header"
    return "body"


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid_request(_: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's own answer, without echoing the input back: a large or
        # badly encoded value would be reflected (or fail to encode at all).
        details = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in error.errors()
        ]
        return JSONResponse(status_code=422, content={"detail": details})

    @app.exception_handler(Exception)
    async def unexpected(_: Request, error: Exception) -> JSONResponse:
        # Answered outside the middleware stack: set the security headers here.
        log.exception("unexpected error: %s", type(error).__name__)
        return JSONResponse(
            status_code=500,
            content={"detail": "internal error"},
            headers={**HEADERS, "Cache-Control": "no-store"},
        )

    @app.exception_handler(InvalidValue)
    async def invalid_value(request: Request, error: InvalidValue) -> JSONResponse:
        loc = [_part_naming(request, error.field), error.field]
        return JSONResponse(
            status_code=422,
            content={"detail": [{"loc": loc, "msg": error.message, "type": "value_error"}]},
        )

    @app.exception_handler(IllegalTransition)
    async def illegal_transition(_: Request, error: IllegalTransition) -> JSONResponse:
        return JSONResponse(
            status_code=409,
            content={
                "detail": {
                    "message": error.message,
                    "current_status": str(error.status),
                    "allowed": error.allowed,
                }
            },
        )

    @app.exception_handler(Conflict)
    async def conflict(_: Request, error: Conflict) -> JSONResponse:
        return JSONResponse(status_code=409, content={"detail": error.message})

    @app.exception_handler(NotPermitted)
    async def not_permitted(_: Request, error: NotPermitted) -> JSONResponse:
        return JSONResponse(status_code=403, content={"detail": error.message})

    @app.exception_handler(NotFound)
    async def not_found(_: Request, error: NotFound) -> JSONResponse:
        return JSONResponse(status_code=404, content={"detail": error.message})

    @app.exception_handler(StaleVersion)
    async def stale(_: Request, error: StaleVersion) -> JSONResponse:
        return JSONResponse(
            status_code=412,
            content={"detail": str(error), "current_version": error.actual},
        )

    @app.exception_handler(ViewsBehind)
    async def views_behind(_: Request, error: ViewsBehind) -> JSONResponse:
        return JSONResponse(
            status_code=503,
            content={"detail": str(error)},
            headers={"Retry-After": "1"},
        )

    @app.exception_handler(IntegrityError)
    async def integrity(_: Request, error: IntegrityError) -> JSONResponse:
        # A write that collided with another one that committed first.
        return JSONResponse(
            status_code=409,
            content={"detail": "the case changed while this command ran; reload and try again"},
        )

    async def unavailable(_: Request, error: Exception) -> JSONResponse:
        log.warning("database unavailable: %s", type(error).__name__)
        return JSONResponse(
            status_code=503,
            content={"detail": "the database is unavailable; try again shortly"},
            headers={"Retry-After": RETRY_AFTER_SECONDS},
        )

    for error_class in (OperationalError, InterfaceError):
        app.add_exception_handler(error_class, unavailable)

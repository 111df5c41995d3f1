"""The FastAPI application factory: nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Any

from fastapi import Depends, FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from api.deps import idempotency_key
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.security import BodyLimit, install_security_headers
from api import console
from api.routers import (
    audit,
    commitments,
    compounds,
    consultations,
    health,
    needs,
    stats,
    visits,
)
from infrastructure.settings import Settings
from infrastructure.store import Services, build_services


class Detail(BaseModel):
    detail: Any = Field(description="what went wrong, in words a caller can act on")


ERROR_ANSWERS: dict[int | str, dict[str, Any]] = {
    400: {"model": Detail, "description": "the body could not be read (not UTF-8, or not JSON)"},
    401: {"model": Detail, "description": "no token, or a bad or revoked one"},
    403: {"model": Detail, "description": "the caller's role may not do this"},
    404: {"model": Detail, "description": "no such object, or not visible to the caller"},
    409: {"model": Detail, "description": "not allowed in the current state"},
    412: {"model": Detail, "description": "If-Match named a stale version"},
    413: {"model": Detail, "description": "the request body is over 1 MB"},
    503: {"model": Detail, "description": "database unavailable or views behind; see Retry-After"},
}


def document_answers(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, saying also that ``?format=csv`` answers text/csv."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        for operations in schema["paths"].values():
            for operation in operations.values():
                if any(p.get("name") == "format" for p in operation.get("parameters", [])):
                    ok = operation["responses"].get("200", {})
                    ok.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
        app.openapi_schema = schema
    return app.openapi_schema


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the HTTP service; ``services`` may be given by a test that owns them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        built = services or build_services(settings or Settings())
        app.state.services = built
        if owned and built.settings.run_projections:
            built.updater.catch_up()
            built.updater.start()
        try:
            yield
        finally:
            if owned:
                built.close()

    app = FastAPI(
        title="Linli 邻里",
        summary="Case management for residential-compound governance (小区微治理)",
        version="0.1.0",
        lifespan=lifespan,
        dependencies=[Depends(idempotency_key)],
        responses=ERROR_ANSWERS,
    )
    app.openapi = lambda: document_answers(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.state.metrics = install_metrics(app)
    install_security_headers(app)
    app.add_middleware(BodyLimit)
    app.include_router(health.router)
    app.include_router(compounds.router)
    app.include_router(needs.router)
    app.include_router(commitments.router)
    app.include_router(consultations.router)
    app.include_router(visits.router)
    app.include_router(stats.router)
    app.include_router(audit.router)
    app.include_router(console.router)
    return app

"""The FastAPI application factory: nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from api.deps import BEARER_SCHEME, IF_MATCH, depends_on, expected_version, route_action
from api import idempotency
from api.errors import install_error_handlers
from api.metrics import install_metrics
from api.routing import use_endpoint_threads
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


IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": idempotency.DESCRIPTION,
    "schema": {"type": "string", "minLength": 1, "maxLength": idempotency.MAX_KEY_LENGTH},
}


def document_answers(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI schema, saying also what FastAPI cannot see, because the
    middleware and the dependencies read the request themselves: that guarded
    routes take a bearer token, that conditional commands take If-Match, that
    a POST takes an Idempotency-Key; and that ``?format=csv`` answers text/csv."""
    if app.openapi_schema is None:
        schema = get_openapi(
            title=app.title, version=app.version, summary=app.summary, routes=app.routes
        )
        routes = {
            (route.path, method.lower()): route.dependant
            for route in _api_routes(app)
            for method in route.methods
        }
        for path, operations in schema["paths"].items():
            for method, operation in operations.items():
                dependant = routes.get((path, method))
                if dependant is not None and route_action(dependant) not in (None, "public"):
                    operation["security"] = [{"HTTPBearer": []}]
                if dependant is not None and depends_on(dependant, expected_version):
                    operation.setdefault("parameters", []).append(dict(IF_MATCH))
                if method == "post":
                    operation.setdefault("parameters", []).append(dict(IDEMPOTENCY_KEY))
                if any(p.get("name") == "format" for p in operation.get("parameters", [])):
                    ok = operation["responses"].get("200", {})
                    ok.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
        schema.setdefault("components", {})["securitySchemes"] = {"HTTPBearer": BEARER_SCHEME}
        app.openapi_schema = schema
    return app.openapi_schema


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's routes, also those of its included routers (FastAPI keeps
    each included router as one entry of ``app.routes``)."""
    found: list[Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        found.extend(contexts() if contexts else [route])
    return [route for route in found if getattr(route, "dependant", None) is not None]


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    """Build the HTTP service; ``services`` may be given by a test that owns them."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        use_endpoint_threads()
        owned = services is None
        built = services or build_services(settings or Settings())
        app.state.services = built
        if owned:
            built.listen_for_other_writers()
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
        responses=ERROR_ANSWERS,
    )
    app.openapi = lambda: document_answers(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_middleware(idempotency.IdempotencyKeys)
    app.state.metrics = install_metrics(app)
    install_security_headers(app)
    app.add_middleware(BodyLimit)
    # FastAPI tries the routers in this order, each one's routes in turn, for
    # every request: the busiest go first. Each router before the one that
    # serves a request costs it about as much as a dependency solved.
    app.include_router(needs.router)
    app.include_router(consultations.router)
    app.include_router(commitments.router)
    app.include_router(compounds.router)
    app.include_router(visits.router)
    app.include_router(stats.router)
    app.include_router(audit.router)
    app.include_router(health.router)
    app.include_router(console.router)
    return app

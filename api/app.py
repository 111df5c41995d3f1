"""The FastAPI application factory: nothing is built at import time."""

from __future__ import annotations

import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from importlib import metadata, resources

from typing import Any

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.routing import APIRoute
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field

from api.deps import (
    BEARER_SCHEME,
    IF_MATCH,
    console_views_reached,
    depends_on,
    expected_version,
    public,
    route_action,
    views_reached,
)
from api import idempotency
from api.errors import install_error_handlers
from api.methods import AllowedMethods
from api.metrics import install_metrics
from api.routing import Route, use_endpoint_threads
from api.security import BodyLimit, install_security_headers
from api import console
from api.routers import (
    assessments,
    audit,
    board,
    commitments,
    compounds,
    consultations,
    health,
    integrity,
    needs,
    offers,
    open311,
    reports,
    stats,
    visits,
    webhooks,
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
    429: {
        "model": Detail,
        "description": "too many requests of this credential waiting for ?after=; see Retry-After",
    },
    503: {
        "model": Detail,
        "description": "database unavailable, views behind, or ?after= beyond the log; see Retry-After",
    },
}


BAD_INPUT = {
    "description": "a field, parameter or header breaks a rule: `detail` names it and the rule",
    "content": {"application/json": {"schema": {"$ref": "#/components/schemas/HTTPValidationError"}}},
}

IDEMPOTENCY_KEY = {
    "name": idempotency.HEADER,
    "in": "header",
    "required": False,
    "description": idempotency.DESCRIPTION,
    "schema": {
        "type": "string",
        "minLength": 1,
        "maxLength": idempotency.MAX_KEY_LENGTH,
        "pattern": idempotency.KEY_PATTERN,
    },
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
                    # A malformed key is refused, also on a command without a body.
                    operation["responses"].setdefault("422", dict(BAD_INPUT))
                if any(_offers_csv(p) for p in operation.get("parameters", [])):
                    ok = operation["responses"].get("200", {})
                    ok.setdefault("content", {})["text/csv"] = {"schema": {"type": "string"}}
        schema.setdefault("components", {})["securitySchemes"] = {"HTTPBearer": BEARER_SCHEME}
        app.openapi_schema = schema
    return app.openapi_schema


def _offers_csv(parameter: dict[str, Any]) -> bool:
    """Whether ``parameter`` is a ``format`` that may ask for CSV."""
    return parameter.get("name") == "format" and "csv" in parameter["schema"].get("enum", ["csv"])


def _api_routes(app: FastAPI) -> list[APIRoute]:
    """The app's routes, also those of its included routers (FastAPI keeps
    each included router as one entry of ``app.routes``)."""
    found: list[Any] = []
    for route in app.routes:
        contexts = getattr(route, "effective_route_contexts", None)
        found.extend(contexts() if contexts else [route])
    return [route for route in found if getattr(route, "dependant", None) is not None]


# ----- the API documentation, served without outside network ------------------------
#
# Swagger UI (/docs) and ReDoc (/redoc) load their scripts and styles from
# Linli itself, never from a CDN: the assets come with the fastapi-offline
# package (a dependency), whose version, in each asset's URL, makes a
# browser fetch them again after an upgrade.

DOCS_ASSETS = "/docs/assets"
_ASSET_TYPES = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
_ASSET_PACKAGE = "fastapi_offline"
# The docs' pages may load their own assets and the OpenAPI document, nothing
# else: no other host, no plugin, no frame. Swagger UI is started by an inline
# script, both set styles inline, and ReDoc searches in a worker made from a
# blob. (ReDoc's footer shows Redocly's logo from their CDN: blocked here.)
DOCS_CSP = (
    "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; "
    "worker-src 'self' blob:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


def _asset_version() -> str:
    try:
        return metadata.version("fastapi-offline")
    except metadata.PackageNotFoundError:  # pragma: no cover - installed with Linli
        return "0"


def docs_router() -> APIRouter:
    """/docs, /redoc and the assets they load: public, like the schema they show.

    The pages read the app from the request, never from a closure: FastAPI
    keeps every endpoint function in a process-wide cache, and one that
    closed over its app would keep that app, and its services, alive."""
    router = APIRouter(route_class=Route, include_in_schema=False, dependencies=[Depends(public)])
    assets = resources.files(_ASSET_PACKAGE) / "static"
    version = _asset_version()
    loaded: dict[str, bytes] = {}

    def asset(request: Request, name: str) -> str:
        return f"{request.scope.get('root_path', '')}{DOCS_ASSETS}/{name}?v={version}"

    def page(answer: Response) -> Response:
        answer.headers["Content-Security-Policy"] = DOCS_CSP
        return answer

    @router.get("/docs")
    async def swagger_ui(request: Request) -> Response:
        app = request.app
        return page(
            get_swagger_ui_html(
                openapi_url=f"{request.scope.get('root_path', '')}{app.openapi_url}",
                title=f"{app.title} - Swagger UI",
                swagger_js_url=asset(request, "swagger-ui-bundle.js"),
                swagger_css_url=asset(request, "swagger-ui.css"),
                swagger_favicon_url=asset(request, "favicon.png"),
                # No badge fetched from the public validator.
                swagger_ui_parameters={"validatorUrl": None},
            )
        )

    @router.get("/redoc")
    async def redoc(request: Request) -> Response:
        app = request.app
        return page(
            get_redoc_html(
                openapi_url=f"{request.scope.get('root_path', '')}{app.openapi_url}",
                title=f"{app.title} - ReDoc",
                redoc_js_url=asset(request, "redoc.standalone.js"),
                redoc_favicon_url=asset(request, "favicon.png"),
                with_google_fonts=False,
            )
        )

    @router.get(DOCS_ASSETS + "/{name}")
    async def docs_asset(name: str) -> Response:
        if name not in _ASSET_TYPES:
            return Response(
                '{"detail":"no such asset"}', status_code=404, media_type="application/json"
            )
        if name not in loaded:  # read once: a few MB, asked for by every browser once a day
            loaded[name] = (assets / name).read_bytes()
        return Response(
            loaded[name],
            media_type=_ASSET_TYPES[name],
            headers={"Cache-Control": "public, max-age=86400"},
        )

    return router


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
            if built.settings.webhooks_deliver:
                built.webhook_worker.start()  # outbound webhooks (infrastructure/webhooks.py)
        if owned and built.settings.run_projections:
            built.updater.catch_up()
            built.updater.start()
            built.transparency.start()  # the Merkle tree over the log, periodic checkpoints
        if owned:
            # Out of the collector's sight, everything the start-up made: the
            # modules, the routes and their models, the services (well over
            # 100 MB of objects a worker keeps for its life). Else the first
            # full collections after the start, a few seconds into serving,
            # each walk all of it: 60-85 ms with the GIL held, every request
            # of that worker stalled (the query p99 of make bench).
            gc.collect()
            gc.freeze()
        try:
            yield
        finally:
            if owned:
                gc.unfreeze()
                built.close()

    app = FastAPI(
        title="Linli 邻里",
        summary="Case management for residential-compound governance (小区微治理)",
        version="0.1.0",
        lifespan=lifespan,
        responses=ERROR_ANSWERS,
        # Served by docs_router, from Linli itself rather than a CDN.
        docs_url=None,
        redoc_url=None,
    )
    app.openapi = lambda: document_answers(app)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.add_middleware(AllowedMethods, router=app.router)
    app.add_middleware(idempotency.IdempotencyKeys)
    app.state.metrics = install_metrics(app)
    install_security_headers(app)
    app.add_middleware(BodyLimit)
    # FastAPI tries the routers in this order, each one's routes in turn, for
    # every request: the busiest go first. Each router before the one that
    # serves a request costs it about as much as a dependency solved.
    # The routers whose reads take ``?after=N`` wait for the views on the event
    # loop, before their (threaded) endpoint runs (``api.deps.views_reached``).
    waiting = [Depends(views_reached)]
    app.include_router(needs.router, dependencies=waiting)
    app.include_router(consultations.router, dependencies=waiting)
    app.include_router(commitments.router, dependencies=waiting)
    app.include_router(compounds.router, dependencies=waiting)
    app.include_router(visits.router, dependencies=waiting)
    app.include_router(stats.router, dependencies=waiting)
    app.include_router(audit.router, dependencies=waiting)
    app.include_router(integrity.router, dependencies=waiting)
    app.include_router(offers.router, dependencies=waiting)
    app.include_router(reports.router, dependencies=waiting)
    app.include_router(assessments.router)
    app.include_router(board.router)
    app.include_router(webhooks.router)
    # Open311 reads ``?after=`` as an update's number, not a log position to wait for.
    app.include_router(open311.router)
    app.include_router(health.router)
    app.include_router(docs_router())
    app.include_router(console.router, dependencies=[Depends(console_views_reached)])
    return app

"""The FastAPI application factory: nothing is built at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

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
    )
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

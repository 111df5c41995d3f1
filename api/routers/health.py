"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from api.routing import Route
from api.metrics import metrics_response

from api.deps import ServicesDep, public

router = APIRouter(route_class=Route, tags=["operations"])


@router.get("/healthz")
def healthz(_: Annotated[None, Depends(public)]) -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep, _: Annotated[None, Depends(public)]) -> Any:
    try:
        log_position = services.updater.log_position()
        view_position = services.views.position(services.app.name)
    except Exception as error:  # the database is down: not ready
        return JSONResponse(
            status_code=503,
            content={"status": "unavailable", "detail": type(error).__name__},
            headers={"Retry-After": "2"},
        )
    lag = log_position - view_position
    failing = services.updater.last_error is not None
    # Not ready while far behind, or behind at all while this process's view
    # updater keeps failing (the views would not catch up by waiting).
    ready = lag <= services.settings.projection_batch_size * 4 and not (failing and lag > 0)
    body = {
        "status": "ready" if ready else "catching up",
        "log_position": log_position,
        "view_position": view_position,
        "lag": lag,
        "last_error": services.updater.last_error,
    }
    headers = {} if ready else {"Retry-After": "5"}
    return JSONResponse(status_code=200 if ready else 503, content=body, headers=headers)


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _: Annotated[None, Depends(public)]) -> Response:
    """Prometheus metrics: requests and latencies per route, commands, view lag."""
    return metrics_response(request.app.state.metrics)

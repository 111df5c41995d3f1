"""Liveness, readiness and metrics."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from api import responses as rs
from api.deps import probe_of, public
from api.metrics import metrics_response
from api.routing import Route

router = APIRouter(route_class=Route, tags=["operations"])


@router.get("/healthz", response_model=rs.Health)
def healthz(_: Annotated[None, Depends(public)]) -> dict[str, str]:
    return {"status": "ok"}


@router.get(
    "/readyz",
    response_model=rs.Readiness,
    responses={503: {"model": rs.Readiness, "description": "not ready: see not_ready"}},
)
async def readyz(request: Request, _: Annotated[None, Depends(public)]) -> Any:
    """Ready when the database answers and the views are not far behind.

    Answers within a second whatever the database does: the positions come
    from one probe at a time, on a connection of its own with short timeouts,
    in a thread of its own; requests that come meanwhile share its answer
    (``api.deps.Probe``). ``not_ready`` names what is not: ``database`` (with
    the error) or ``views`` (behind by how many events, or failing)."""
    services = request.app.state.services
    found = await probe_of(request).positions()
    if found.error is not None:
        return JSONResponse(
            status_code=503,
            content={
                "status": "unavailable",
                "not_ready": {"database": found.error},
                "last_error": services.updater.last_error,
            },
            headers={"Retry-After": "2"},
        )
    log_position, view_position = found.log_position, found.view_position
    lag = max(log_position - view_position, 0)
    failing = services.updater.last_error is not None
    # Not ready while far behind, or behind at all while this process's view
    # updater keeps failing (the views would not catch up by waiting).
    far_behind = lag > services.settings.projection_batch_size * 4
    ready = not far_behind and not (failing and lag > 0)
    not_ready: dict[str, str] = {}
    if not ready:
        not_ready["views"] = f"behind by {lag}" + (
            f" and failing: {services.updater.last_error}" if failing else ""
        )
    body = {
        "status": "ready" if ready else "catching up",
        "log_position": log_position,
        "view_position": view_position,
        "lag": lag,
        "last_error": services.updater.last_error,
        "not_ready": not_ready,
    }
    headers = {} if ready else {"Retry-After": "5"}
    return JSONResponse(status_code=200 if ready else 503, content=body, headers=headers)


@router.get("/metrics", response_class=Response)
def metrics(request: Request, _: Annotated[None, Depends(public)]) -> Response:
    """Prometheus metrics: requests and latencies per route, commands, view lag."""
    return metrics_response(request.app.state.metrics)

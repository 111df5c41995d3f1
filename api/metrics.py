"""Prometheus metrics: requests per route, commands per type, view positions and lag."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector


class ViewCollector(Collector):
    """Reads the log and view positions at scrape time."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def collect(self) -> Iterator[Any]:
        services = getattr(self.app.state, "services", None)
        if services is None:
            return
        try:
            log_position = services.updater.log_position()
            view_position = services.views.position(services.app.name)
        except Exception:  # the database is down: report nothing rather than fail the scrape
            return
        yield GaugeMetricFamily("linli_log_position", "last notification id in the log", log_position)
        position = GaugeMetricFamily(
            "linli_view_position", "notification id the views reached", labels=["view"]
        )
        position.add_metric(["views"], view_position)
        yield position
        lag = GaugeMetricFamily("linli_view_lag", "events the views are behind", labels=["view"])
        lag.add_metric(["views"], log_position - view_position)
        yield lag


def install_metrics(app: FastAPI) -> CollectorRegistry:
    registry = CollectorRegistry()
    requests = Counter(
        "linli_http_requests_total",
        "HTTP requests",
        ["method", "route", "status"],
        registry=registry,
    )
    latency = Histogram(
        "linli_http_request_duration_seconds",
        "HTTP request latency",
        ["method", "route"],
        registry=registry,
        buckets=(0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5),
    )
    commands = Counter(
        "linli_commands_total", "commands that succeeded, by type", ["command"], registry=registry
    )
    registry.register(ViewCollector(app))

    @app.middleware("http")
    async def measure(request: Request, call_next: Any) -> Response:
        started = time.perf_counter()
        response: Response = await call_next(request)
        route = request.scope.get("route")
        template = getattr(route, "path", "unmatched")
        latency.labels(request.method, template).observe(time.perf_counter() - started)
        requests.labels(request.method, template, str(response.status_code)).inc()
        succeeded = response.status_code < 300 or (
            response.status_code == 303 and template.startswith("/console/")
        )
        if request.method == "POST" and succeeded and route is not None:
            commands.labels(getattr(route, "name", template)).inc()
        return response

    return registry


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

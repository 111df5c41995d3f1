"""Prometheus metrics: requests per route, commands per type, view positions and lag.

Under ``linli serve --workers N`` each worker is a process of its own. The
supervising process then names a fresh directory in ``PROMETHEUS_MULTIPROC_DIR``
before the workers start (api/cli.py), so that prometheus_client keeps every
worker's counters and histograms in files there; a scrape, answered by any one
worker, sums them all (prometheus_client's multiprocess mode). The view
positions and lag are read from the database at scrape time, the same for
every worker, so they need no multiprocess gauge.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from typing import Any

from fastapi import FastAPI, Response
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
        if services.read_replicas is not None:
            yield from _replica_metrics(services.read_replicas.status(), log_position)


def _replica_metrics(replicas: list[dict[str, Any]], log_position: int) -> Iterator[Any]:
    """Each read replica as this process's watcher sees it (LINLI_POSTGRES_READ_HOSTS)."""
    families = {
        "usable": GaugeMetricFamily(
            "linli_replica_usable", "1 while the replica answers view queries, else 0", labels=["replica"]
        ),
        "lag": GaugeMetricFamily(
            "linli_replica_lag", "events the replica's views are behind the log", labels=["replica"]
        ),
        "served": GaugeMetricFamily(
            "linli_replica_served", "view queries this process had the replica answer", labels=["replica"]
        ),
        "failed": GaugeMetricFamily(
            "linli_replica_failed", "view queries the replica failed (answered by the primary)",
            labels=["replica"],
        ),
    }
    for replica in replicas:
        label = [replica["host"]]
        families["usable"].add_metric(label, 1 if replica["usable"] else 0)
        families["lag"].add_metric(label, max(log_position - replica["position"], 0))
        families["served"].add_metric(label, replica["served"])
        families["failed"].add_metric(label, replica["failed"])
    yield from families.values()


MULTIPROCESS_DIR = "PROMETHEUS_MULTIPROC_DIR"


def multiprocess() -> bool:
    """True in a worker of several: prometheus_client keeps its values in files.

    prometheus_client decides that once, when it is first imported; this asks
    what it decided (and that the directory is there), not only the environment."""
    from prometheus_client import values

    path = os.environ.get(MULTIPROCESS_DIR)
    in_files = getattr(values.ValueClass, "_multiprocess", False)
    return bool(in_files and path and os.path.isdir(path))


def install_metrics(app: FastAPI) -> CollectorRegistry:
    """The metrics of ``app``; returns the registry that ``/metrics`` answers with."""
    if multiprocess():
        from prometheus_client.multiprocess import MultiProcessCollector

        # The metrics write to the shared files; the registry a scrape reads
        # collects those files (every worker's values), not this process's own.
        exposed = CollectorRegistry()
        MultiProcessCollector(exposed)
        registry = CollectorRegistry()
    else:
        exposed = registry = CollectorRegistry()
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
    exposed.register(ViewCollector(app))

    app.add_middleware(RequestMetrics, requests=requests, latency=latency, commands=commands)
    return exposed


class RequestMetrics:
    """Counts and times each HTTP request by route template (plain ASGI, not
    ``BaseHTTPMiddleware``: see api/security.py).

    A request is recorded when its response starts, as Starlette's ``call_next``
    returned then: the latency is the time to the response's start, and a
    request whose handler raised (answered 500 outside this middleware) is
    not recorded."""

    def __init__(self, app: Any, *, requests: Counter, latency: Histogram, commands: Counter) -> None:
        self.app = app
        self.requests = requests
        self.latency = latency
        self.commands = commands
        self._series: dict[tuple[str, str, str | None, int], tuple[Any, Any, Any]] = {}

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()

        async def measured(message: Any) -> None:
            if message["type"] == "http.response.start":
                self._record(scope, message["status"], time.perf_counter() - started)
            await send(message)

        await self.app(scope, receive, measured)

    def _record(self, scope: Any, status: int, seconds: float) -> None:
        method = scope["method"]
        route = scope.get("route")
        template = getattr(route, "path", "unmatched")
        key = (method, template, getattr(route, "name", None), status)
        series = self._series.get(key)
        if series is None:
            series = self._series[key] = self._series_of(method, template, route, status)
        latency, requests, command = series
        latency.observe(seconds)
        requests.inc()
        if command is not None:
            command.inc()

    def _series_of(self, method: str, template: str, route: Any, status: int) -> tuple[Any, Any, Any]:
        """The labelled series a request of this method, route and status counts in.

        Kept per (method, route, status), all of them few, because ``labels()``
        takes a lock and checks its arguments on every call."""
        succeeded = status < 300 or (status == 303 and template.startswith("/console/"))
        command = None
        if method == "POST" and succeeded and route is not None:
            command = self.commands.labels(getattr(route, "name", template))
        return (
            self.latency.labels(method, template),
            self.requests.labels(method, template, str(status)),
            command,
        )


def metrics_response(registry: CollectorRegistry) -> Response:
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

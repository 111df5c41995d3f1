"""The security headers and the request metrics are plain ASGI middleware
(api/security.py, api/metrics.py): the same answers as before, on every kind
of response, streamed ones included."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from api.security import HEADERS
from tests.world import World


def secured(response, cacheable: bool = False) -> None:  # noqa: ANN001
    for name, value in HEADERS.items():
        assert response.headers[name] == value, name
        assert len(response.headers.get_list(name)) == 1, name
    if not cacheable:
        assert response.headers["Cache-Control"] == "no-store"


@pytest.mark.parametrize(
    ("method", "path", "who", "status"),
    [
        ("GET", "/healthz", None, 200),
        ("GET", "/needs", None, 401),
        ("GET", "/needs", "staff", 200),
        ("GET", "/needs?format=csv", "staff", 200),  # streamed
        ("GET", "/no/such/path", None, 404),
        ("POST", "/needs", "grid_worker", 422),
        ("POST", "/needs", "resident", 422),
        ("GET", "/metrics", None, 200),
        ("GET", "/openapi.json", None, 200),
    ],
)
def test_every_response_carries_the_security_headers(
    client: TestClient, world: World, method: str, path: str, who: str | None, status: int
) -> None:
    headers = world.headers(who) if who else {}
    response = client.request(method, path, headers=headers, json={} if method == "POST" else None)
    assert response.status_code == status
    secured(response)


def test_the_docs_may_be_cached_and_a_routes_own_cache_control_is_kept(client: TestClient) -> None:
    for path in ("/docs", "/redoc"):
        response = client.get(path)
        assert response.status_code == 200
        secured(response, cacheable=True)
        assert "no-store" not in response.headers.get("Cache-Control", "")
    static = client.get("/console/static/console.css")
    assert static.status_code == 200
    secured(static, cacheable=True)
    assert static.headers.get_list("Cache-Control") == ["public, max-age=3600"]


def _count(text: str, sample: str) -> float:
    match = re.search("^" + re.escape(sample) + r" ([0-9.e+]+)$", text, re.M)
    return float(match.group(1)) if match else 0.0


def test_requests_are_counted_by_route_template_and_commands_by_name(
    client: TestClient, world: World
) -> None:
    before = client.get("/metrics").text
    body = {"compound_id": str(world.compound_id), "source": "household_visit",
            "title": "t", "description": "d"}
    need = client.post("/needs", json=body, headers=world.headers("grid_worker")).json()["id"]
    client.post("/needs", json=body, headers=world.headers("grid_worker"))  # the same series again
    client.post(f"/needs/{need}/accept", json={"priority": "normal"}, headers=world.headers("staff"))
    client.post(f"/needs/{need}/accept", json={"priority": "normal"}, headers=world.headers("staff"))
    client.get("/no/such/path")
    after = client.get("/metrics").text
    for sample, more in [
        ('linli_http_requests_total{method="POST",route="/needs",status="201"}', 2),
        ('linli_http_requests_total{method="POST",route="/needs/{need_id}/accept",status="200"}', 1),
        ('linli_http_requests_total{method="POST",route="/needs/{need_id}/accept",status="409"}', 1),
        ('linli_http_requests_total{method="GET",route="unmatched",status="404"}', 1),
        ('linli_commands_total{command="register_need"}', 2),
        ('linli_commands_total{command="accept_need"}', 1),  # the refused one is not a command
        ('linli_http_request_duration_seconds_count{method="POST",route="/needs"}', 2),
    ]:
        assert _count(after, sample) - _count(before, sample) == more, sample

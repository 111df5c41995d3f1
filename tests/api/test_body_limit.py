"""Request bodies over the limit are refused before they are parsed."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi.testclient import TestClient

from api.security import MAX_BODY_BYTES
from tests.world import World


def test_an_announced_oversized_body_is_413(client: TestClient, world: World) -> None:
    before = world.services.app.recorder.max_notification_id()
    response = client.post(
        "/needs",
        content=b"{" + b" " * MAX_BODY_BYTES + b"}",
        headers={**world.headers("grid_worker"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert world.services.app.recorder.max_notification_id() == before


def test_a_streamed_oversized_body_is_413(client: TestClient, world: World) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(30):
            yield b" " * 50_000

    response = client.post(
        "/needs",
        content=chunks(),
        headers={**world.headers("grid_worker"), "Content-Type": "application/json"},
    )
    assert response.status_code == 413

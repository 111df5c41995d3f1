"""A thin HTTP client for tests: posts as a named member of the test world."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.world import World


class Api:
    def __init__(self, client: TestClient, world: World) -> None:
        self.client = client
        self.world = world

    def post(self, who: str, path: str, body: dict[str, Any] | None = None, **kw: Any):
        headers = {**self.world.headers(who), **kw.pop("headers", {})}
        return self.client.post(path, json=body, headers=headers, **kw)

    def ok(self, who: str, path: str, body: dict[str, Any] | None = None, **kw: Any) -> dict:
        response = self.post(who, path, body, **kw)
        assert response.status_code in (200, 201), response.text
        return response.json()

    def get(self, who: str, path: str, **params: Any):
        return self.client.get(path, headers=self.world.headers(who), params=params)

    def register(self, who: str = "grid_worker", **fields: Any) -> dict:
        body = {
            "compound_id": str(self.world.compound_id),
            "source": "household_visit",
            "title": "2号楼电梯停运",
            "description": "电梯自周一起停运",
            **fields,
        }
        return self.ok(who, "/needs", body)

    def to_in_progress(self, who: str = "grid_worker") -> str:
        need = self.register(who)["id"]
        self.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
        pc = str(self.world.parties["property_company"])
        self.ok("staff", f"/needs/{need}/assign", {"party_id": pc})
        self.ok("property_company", f"/needs/{need}/acknowledge")
        return need

    def log_position(self) -> int:
        return self.world.services.app.recorder.max_notification_id() or 0

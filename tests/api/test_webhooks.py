"""Outbound webhooks through HTTP (issue 25, item 2): subscribing, who may,
the secret answered once, the delivery log, pause, resume and replay."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.routers import webhooks as webhooks_router
from application import webhooks as rules
from infrastructure.store import Services
from tests.application.test_webhooks import Receiver, check_deliveries
from tests.conftest import until
from tests.world import World


@pytest.fixture
def hook_client(services: Services) -> Iterator[TestClient]:
    app = create_app(services=services)
    # Until api/app.py includes the router itself.
    if not any(getattr(r, "path", "").startswith("/webhooks") for r in app.routes):
        app.include_router(webhooks_router.router)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


def test_webhook_routes(
    hook_client: TestClient, world: World, services: Services, receiver: Receiver
) -> None:
    c, h = hook_client, world.headers
    body = {
        "url": receiver.url,
        "event_types": ["Need.Registered"],
        "compound_ids": [str(world.compound_id)],
    }
    # Who may subscribe, and where.
    assert c.post("/webhooks", json=body, headers=h("supervisor")).status_code == 403
    assert c.post("/webhooks", json=body, headers=h("resident")).status_code == 403
    assert c.post("/webhooks", json=body).status_code == 401
    assert c.post("/webhooks", json=body, headers=h("other_staff")).status_code == 422
    for bad in ({"url": "ftp://x.org/"}, {"event_types": ["Need.Nope"]}, {"event_types": []},
                {"compound_ids": []}, {"extra": 1}):
        answer = c.post("/webhooks", json={**body, **bad}, headers=h("staff"))
        assert answer.status_code == 422, (bad, answer.text)

    created = c.post("/webhooks", json=body, headers=h("staff"))
    assert created.status_code == 201, created.text
    hook = created.json()
    secret = hook.pop("secret")
    assert len(secret) >= 40
    shown = c.get(f"/webhooks/{hook['id']}", headers=h("staff"))
    assert shown.status_code == 200 and "secret" not in shown.json()
    assert secret not in c.get("/webhooks", headers=h("admin")).text
    assert c.get(f"/webhooks/{hook['id']}", headers=h("other_staff")).status_code == 404
    assert c.get("/webhooks/not-a-uuid", headers=h("staff")).status_code == 404
    assert [w["id"] for w in c.get("/webhooks", headers=h("other_staff")).json()["items"]] == []
    assert [w["id"] for w in c.get("/webhooks", headers=h("staff")).json()["items"]] == [hook["id"]]

    # Delivered by the worker (started here: the test owns the services).
    receiver.fail_first = 1
    services.webhook_worker.config = type(services.webhook_worker.config)(
        **{**vars(services.webhook_worker.config), "backoff_base": 0.05, "backoff_cap": 0.1,
           "poll_interval": 0.05}
    )
    services.webhook_worker.start()
    registered = c.post(
        "/needs",
        json={"compound_id": str(world.compound_id), "source": "household_visit",
              "title": "电梯故障", "description": "2号楼电梯停了"},
        headers=h("grid_worker"),
    )
    assert registered.status_code in (200, 201), registered.text
    position = registered.json()["position"]
    assert until(lambda: len(receiver.documents()) == 1, 10)
    check_deliveries(receiver, secret, [position])
    document = receiver.documents()[0]
    assert document["event_type"] == "Need.Registered" and "电梯" not in str(document)

    # The delivery's log row commits after the receiver answered: wait for it.
    def newest() -> dict:
        log = c.get(f"/webhooks/{hook['id']}/deliveries", headers=h("staff"), params={"limit": 1})
        assert log.status_code == 200
        return log.json()

    assert until(lambda: newest()["items"][0]["outcome"] == "delivered", 10), newest()
    page = newest()
    assert page["items"][0]["outcome"] == "delivered" and page["next_before"] is not None
    older = c.get(f"/webhooks/{hook['id']}/deliveries", headers=h("staff"),
                  params={"before": page["next_before"]}).json()
    assert [d["outcome"] for d in older["items"]] == ["failed"] and older["next_before"] is None
    assert c.get(f"/webhooks/{hook['id']}/deliveries", headers=h("other_staff")).status_code == 404

    assert c.post(f"/webhooks/{hook['id']}/pause", headers=h("staff")).json()["status"] == "paused"
    assert c.post(f"/webhooks/{hook['id']}/pause", headers=h("other_staff")).status_code == 404
    assert c.post(f"/webhooks/{hook['id']}/resume", headers=h("staff")).json()["status"] == "active"
    assert c.post(f"/webhooks/{hook['id']}/replay", json={"from_position": 0},
                  headers=h("staff")).status_code == 422
    replayed = c.post(f"/webhooks/{hook['id']}/replay", json={"from_position": position},
                      headers=h("staff"))
    assert replayed.status_code == 200 and replayed.json()["position"] == position - 1
    assert until(lambda: len(receiver.documents()) == 2, 10)
    again = receiver.documents()[1]
    assert again["delivery_id"] == document["delivery_id"]
    assert rules.delivery_id(hook["id"], position) == document["delivery_id"]

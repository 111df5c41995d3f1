"""Outbound webhooks survive a failing receiver, a receiver that goes away
and comes back, and Linli killed (SIGKILL) and restarted, while events keep
coming: every event of the subscription's types is delivered, in log order,
signed, and a duplicate comes only with the same delivery id.

The real server (``linli serve``) runs as a subprocess and delivers (its
serving process runs the webhook worker); the receiver is a small threaded
HTTP server in this test, on 127.0.0.1."""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from infrastructure.store import build_services
from tests.application.test_webhooks import Receiver, check_deliveries
from tests.faults.conftest import Processes, lean, linli_env, post, prepare_world, wait_until

pytestmark = pytest.mark.slow

WEBHOOK_ENV = {
    "LINLI_WEBHOOKS_DELIVER": "true",
    "LINLI_WEBHOOK_BACKOFF_BASE_SECONDS": "0.05",
    "LINLI_WEBHOOK_BACKOFF_CAP_SECONDS": "0.3",
    "LINLI_WEBHOOK_MAX_FAILURES": "1000",
    "LINLI_WEBHOOK_POLL_INTERVAL": "0.1",
    "LINLI_WEBHOOK_TIMEOUT_SECONDS": "1",
    "LINLI_WEBHOOK_LEASE_SECONDS": "2",
}


def test_deliveries_survive_receiver_outage_and_a_killed_server(
    make_settings, processes: Processes, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = make_settings()
    world = prepare_world(settings)
    receiver = Receiver(fail_first=3)
    try:
        own = build_services(lean(settings))
        try:
            subscription, secret = own.webhooks.create(
                world.actors["staff"], url=receiver.url,
                event_types=["Need.Registered", "Need.Accepted"], compound_ids=[world.compound_id],
            )
            start = subscription.position
        finally:
            own.close()

        # The servers the processes fixture starts take the webhook settings.
        import tests.faults.conftest as faults

        monkeypatch.setattr(faults, "linli_env", lambda s, **extra: linli_env(s, **WEBHOOK_ENV, **extra))
        server = processes.server(settings)
        staff, grid = world.tokens["staff"], world.tokens["grid_worker"]

        def need(client, title: str) -> None:
            key = uuid.uuid4().hex
            body = {"compound_id": str(world.compound_id), "source": "household_visit",
                    "title": title, "description": "测试"}
            answer = wait_until(lambda: (r := post(client, "/needs", body, grid, key)).ok and r, 30,
                                f"registering {title}", detail=server.log_tail)
            need_id = answer.body["id"]
            wait_until(
                lambda: (r := post(client, f"/needs/{need_id}/accept", {"priority": "normal"}, staff,
                                   key + "a")).ok or r.status == 409,
                30, f"accepting {title}", detail=server.log_tail,
            )

        with server.client() as client:
            for i in range(6):
                need(client, f"first {i}")
            # The receiver goes away while events keep coming, and comes back.
            receiver.stop()
            for i in range(4):
                need(client, f"while away {i}")
            time.sleep(0.5)
            receiver.start()
            for i in range(3):
                need(client, f"back {i}")
        # Linli is killed in the middle of delivering, and started again.
        server.kill9()
        server = processes.server(settings)
        with server.client() as client:
            for i in range(5):
                need(client, f"after restart {i}")

        check = build_services(lean(settings))
        try:
            app = check.app
            expected = [
                n.id
                for n in app.recorder.select_notifications(start=start + 1, limit=100_000)
                if type(app.mapper.to_domain_event(n)).__qualname__ in ("Need.Registered", "Need.Accepted")
            ]
            assert len(expected) == 2 * (6 + 4 + 3 + 5)
            wait_until(
                lambda: len({d["delivery_id"] for d in receiver.documents()}) >= len(expected), 60,
                "every event delivered", detail=server.log_tail,
            )
            check_deliveries(receiver, secret, expected)
            # The position commits just after the receiver's 2xx.
            wait_until(lambda: check.webhooks.get(subscription.id).position >= expected[-1], 10,
                       "the subscription's position to reach the last delivery")
            log = check.webhooks.deliveries(subscription.id, limit=200)
            assert any(d.outcome == "failed" for d in log)
        finally:
            check.close()
    finally:
        receiver.stop()

"""Outbound webhooks (issue 25, item 2): signing, backoff, filtering and
payloads (pure), and delivery through the worker to a receiver on 127.0.0.1,
on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import random
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from application import webhooks as rules
from domain.errors import InvalidValue, NotFound, NotPermitted
from infrastructure.store import Services, build_services
from tests.conftest import until
from tests.world import World, build_world

# ----- a receiver -------------------------------------------------------------------------


class Receiver:
    """A threaded HTTP server on 127.0.0.1 that records each POST (headers,
    body, arrival time) and answers 500 to the first ``fail_first`` of them.
    It can be stopped and started again on the same port."""

    def __init__(self, fail_first: int = 0, port: int = 0) -> None:
        self.fail_first = fail_first
        self.received: list[dict[str, Any]] = []  # every request, failed or not
        self.lock = threading.Lock()
        self.port = port
        self._server: ThreadingHTTPServer | None = None
        self.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hook"

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver.lock:
                    fail = receiver.fail_first > 0
                    if fail:
                        receiver.fail_first -= 1
                    receiver.received.append(
                        {"headers": dict(self.headers), "body": body, "at": time.time(), "ok": not fail}
                    )
                self.send_response(500 if fail else 204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def accepted(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r for r in self.received if r["ok"]]

    def documents(self) -> list[dict[str, Any]]:
        return [json.loads(r["body"]) for r in self.accepted()]


def check_deliveries(receiver: Receiver, secret: str, expected_positions: list[int]) -> None:
    """Every expected event delivered, in log order; signatures verify; a
    duplicate only with the same delivery id (and the same body)."""
    by_id: dict[str, bytes] = {}
    firsts: list[int] = []
    for request in receiver.accepted():
        headers = {k.lower(): v for k, v in request["headers"].items()}
        assert rules.verify(
            secret, headers["linli-timestamp"], request["body"], headers["linli-signature"], now=time.time()
        ), "signature does not verify"
        document = json.loads(request["body"])
        assert headers["linli-delivery"] == document["delivery_id"]
        seen = by_id.get(document["delivery_id"])
        if seen is not None:
            assert json.loads(seen) == document, "a duplicate differs"
            continue
        by_id[document["delivery_id"]] = request["body"]
        firsts.append(document["position"])
    assert firsts == sorted(firsts), "not in log order"
    assert firsts == expected_positions


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.stop()


# ----- pure ---------------------------------------------------------------------------


def test_signature_is_hmac_sha256_of_timestamp_dot_body() -> None:
    import hashlib
    import hmac

    body = b'{"a":1}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert rules.sign("s3cret", 1700000000, body) == "sha256=" + expected
    assert rules.verify("s3cret", "1700000000", body, "sha256=" + expected)
    assert not rules.verify("other", "1700000000", body, "sha256=" + expected)
    assert not rules.verify("s3cret", "1700000001", body, "sha256=" + expected)
    assert not rules.verify("s3cret", "1700000000", body + b" ", "sha256=" + expected)
    assert not rules.verify("s3cret", "1700000000", body, "sha256=" + expected, now=1700000000 + 301)
    assert rules.verify("s3cret", "1700000000", body, "sha256=" + expected, now=1700000000 + 299)
    assert not rules.verify("s3cret", "not a time", body, "sha256=" + expected)


def test_backoff_doubles_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    for failures, full in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (10, 30.0), (500, 30.0)]:
        for _ in range(50):
            wait = rules.backoff(failures, 1.0, 30.0, rng)
            assert full / 2 <= wait <= full
    assert rules.backoff(0, 1.0, 30.0) == 0.0
    waits = {rules.backoff(3, 1.0, 30.0, rng) for _ in range(20)}
    assert len(waits) > 1, "no jitter"


def test_event_types_and_urls_are_checked() -> None:
    assert rules.validate_event_types(["Need.Assigned", "Need.*", "*", "Need.*"]) == [
        "Need.Assigned", "Need.*", "*",
    ]
    for bad in (["Need.Nope"], ["Nothing.*"], ["need.assigned"], [], ["Need."]):
        with pytest.raises(InvalidValue):
            rules.validate_event_types(bad)
    assert rules.validate_url("https://example.org/x?y=1")
    for bad in ("ftp://example.org/", "example.org/x", "http:///x", "http://u:p@example.org/",
                "javascript:alert(1)", "http://example.org:99999/", "http://a.org/\x00"):
        with pytest.raises(InvalidValue):
            rules.validate_url(bad)
    assert rules.matches(["Need.*"], "Need.Assigned")
    assert not rules.matches(["Need.*"], "NeedX.Assigned")
    assert not rules.matches(["Need.Assigned"], "Need.Accepted")
    assert rules.wants(["*"], ["c1"], "Party.Registered", "c1")
    assert not rules.wants(["*"], ["c1"], "Party.Registered", "c2")
    assert not rules.wants(["*"], ["c1"], "Party.Registered", None)


def test_delivery_id_is_stable_per_subscription_and_event() -> None:
    assert rules.delivery_id("s", 5) == rules.delivery_id("s", 5)
    assert rules.delivery_id("s", 5) != rules.delivery_id("s", 6)
    assert rules.delivery_id("s", 5) != rules.delivery_id("t", 5)


# ----- with a store ---------------------------------------------------------------------------


FAST = {
    "webhook_backoff_base_seconds": 0.05,
    "webhook_backoff_cap_seconds": 0.2,
    "webhook_poll_interval": 0.05,
    "webhook_timeout_seconds": 2.0,
    "webhook_lease_seconds": 5.0,
}


@pytest.fixture
def fast_services(make_settings) -> Iterator[Services]:
    built = build_services(make_settings(projection_poll_interval=0.05, **FAST))
    yield built
    built.close()


def register(world: World, title: str = "楼道灯不亮") -> Any:
    app = world.services.app
    need = app.register_need(
        world.actors["grid_worker"], compound_id=world.compound_id, source="household_visit",
        title=title, description="3单元楼道灯不亮，住户张三 13800000000",
    )
    return need.id


def test_payload_carries_personal_data_only_when_granted(fast_services: Services) -> None:
    world = build_world(fast_services)
    need_id = register(world)
    app = fast_services.app
    app.accept_need(world.actors["staff"], need_id, priority="normal")
    notifications = app.recorder.select_notifications(start=1, limit=1000)
    found = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
    registered = next((e, p) for e, p in found if type(e).__qualname__ == "Need.Registered")
    plain = rules.payload(registered[0], registered[1], subscription_id="s", case_type="need",
                          compound_id=str(world.compound_id), personal_data=False)
    text = json.dumps(plain, ensure_ascii=False)
    assert "张三" not in text and "楼道灯" not in text and "13800000000" not in text
    assert str(world.actors["grid_worker"].id) not in text
    assert plain["codes"]["source"] == "household_visit"
    assert plain["ids"]["compound_id"] == str(world.compound_id)
    assert plain["summary_zh"] and plain["summary_en"]
    assert "token" not in text.lower()
    granted = rules.payload(registered[0], registered[1], subscription_id="s", case_type="need",
                            compound_id=str(world.compound_id), personal_data=True)
    text = json.dumps(granted, ensure_ascii=False)
    assert "楼道灯不亮" in text and granted["actor_id"] == world.actors["grid_worker"].id


def test_subscriptions_are_for_staff_of_their_compounds(fast_services: Services) -> None:
    world = build_world(fast_services)
    hooks = fast_services.webhooks
    created, secret = hooks.create(
        world.actors["staff"], url="http://127.0.0.1:9/x", event_types=["Need.*"],
        compound_ids=[world.compound_id],
    )
    assert len(secret) >= 40 and created.status == "active"
    assert "secret" not in vars(created)
    with pytest.raises(InvalidValue):
        hooks.create(world.actors["staff"], url="http://127.0.0.1:9/x", event_types=["Need.*"],
                     compound_ids=[world.other_compound_id])
    with pytest.raises(NotPermitted):
        hooks.create(world.actors["supervisor"], url="http://127.0.0.1:9/x", event_types=["*"],
                     compound_ids=[world.compound_id])
    with pytest.raises(NotFound):
        hooks.visible(world.actors["other_staff"], created.id)
    assert hooks.visible(world.actors["admin"], created.id).id == created.id
    assert [s.id for s in hooks.list_for(world.actors["other_staff"])] == []
    assert hooks.pause(world.actors["staff"], created.id).status == "paused"
    assert hooks.resume(world.actors["staff"], created.id).status == "active"
    assert hooks.replay(world.actors["staff"], created.id, 1).position == 0


def test_delivery_retries_in_order_pauses_resumes_and_replays(
    fast_services: Services, receiver: Receiver
) -> None:
    world = build_world(fast_services)
    app = fast_services.app
    hooks = fast_services.webhooks
    worker = fast_services.webhook_worker
    sub, secret = hooks.create(
        world.actors["staff"], url=receiver.url, event_types=["Need.Registered", "Need.Accepted"],
        compound_ids=[world.compound_id],
    )
    receiver.fail_first = 2
    worker.start()
    needs = [register(world, f"诉求 {i}") for i in range(3)]
    app.accept_need(world.actors["staff"], needs[0], priority="normal")
    # Events of another compound and of other types are not delivered.
    app.register_need(world.actors["other_staff"], compound_id=world.other_compound_id,
                      source="inspection", title="x", description="y")

    def wanted_positions() -> list[int]:
        out = []
        for n in app.recorder.select_notifications(start=1, limit=10_000):
            event = app.mapper.to_domain_event(n)
            name = type(event).__qualname__
            if name in ("Need.Registered", "Need.Accepted") and getattr(event, "compound_id", world.compound_id) == world.compound_id:
                if name == "Need.Accepted" and event.originator_id not in needs:
                    continue
                if name == "Need.Registered" and event.originator_id not in needs:
                    continue
                out.append(n.id)
        return out

    expected = wanted_positions()
    assert len(expected) == 4
    assert until(lambda: len({d["delivery_id"] for d in receiver.documents()}) == 4, 15)
    check_deliveries(receiver, secret, expected)
    log = hooks.deliveries(sub.id)
    assert [d.outcome for d in reversed(log)][:3] == ["failed", "failed", "delivered"]
    assert [d.attempt for d in reversed(log)][:3] == [1, 2, 3]
    assert log[-1].status_code == 500 and log[0].status_code == 204
    assert until(lambda: hooks.get(sub.id).position == app.recorder.max_notification_id(), 5)

    # Repeated failures pause it; resumed, it delivers what came meanwhile.
    receiver.fail_first = 1000
    worker.config = type(worker.config)(**{**vars(worker.config), "max_failures": 3})
    late = register(world, "later")
    assert until(lambda: hooks.get(sub.id).status == "paused", 15)
    assert hooks.get(sub.id).failures == 3
    receiver.fail_first = 0
    hooks.resume(world.actors["staff"], sub.id)
    worker.wake()
    assert until(lambda: any(d["case_id"] == str(late) for d in receiver.documents()), 10)

    # Replay from the first position: the same events again, with the same ids.
    before = len(receiver.documents())
    hooks.replay(world.actors["staff"], sub.id, 1)
    worker.wake()
    assert until(lambda: len(receiver.documents()) >= before + 5, 10)
    again = receiver.documents()[before:before + 5]
    assert [d["position"] for d in again] == [*expected, again[-1]["position"]]
    first_ids = {d["position"]: d["delivery_id"] for d in receiver.documents()[:before]}
    assert all(first_ids[d["position"]] == d["delivery_id"] for d in again)


def test_two_workers_never_deliver_one_subscription_at_once(
    make_settings, receiver: Receiver
) -> None:
    settings = make_settings(**FAST)
    one, two = build_services(settings), build_services(settings)
    try:
        world = build_world(one)
        sub, secret = one.webhooks.create(
            world.actors["staff"], url=receiver.url, event_types=["Need.Registered"],
            compound_ids=[world.compound_id],
        )
        one.webhook_worker.start()
        two.webhook_worker.start()
        needs = [register(world, f"n{i}") for i in range(8)]
        positions = [
            n.id for n in one.app.recorder.select_notifications(start=1, limit=10_000)
            if type(one.app.mapper.to_domain_event(n)).__qualname__ == "Need.Registered"
        ]
        assert len(positions) == len(needs)
        assert until(lambda: len({d["delivery_id"] for d in receiver.documents()}) == 8, 15)
        time.sleep(0.3)
        check_deliveries(receiver, secret, positions)
        # Each event once: one worker at a time held the lease.
        assert len(receiver.documents()) == 8
    finally:
        one.close()
        two.close()

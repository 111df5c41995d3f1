"""Service commitments in the application, on each store: lists that live for
years load from snapshots, concurrent confirmations lose nothing, and the
views equal a fresh replay of the events."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import Tracking

from application.app import Linli
from application.commitments import SNAPSHOT_INTERVAL
from domain.commitment import ServiceCommitment
from infrastructure.store import Services, build_services
from tests.world import World, build_world, commitment_in_effect

ITEMS = [
    {"number": n, "title": f"项目 {n}", "standard": "标准", "frequency": "每周", "time_limit": "3wd"}
    for n in (1, 2, 3)
]


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


def _in_effect(world: World) -> UUID:
    return commitment_in_effect(world, ITEMS)


class EventsRead:
    """Counts the stored events that the repository reads, by wrapping the event store."""

    def __init__(self, app: Linli, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        store = app.repository.event_store
        original = store.get

        def counting_get(*args: Any, **kwargs: Any) -> Iterator[Any]:
            for event in original(*args, **kwargs):
                self.count += 1
                yield event

        monkeypatch.setattr(store, "get", counting_get)

    def loading(self, app: Linli, aggregate_id: UUID) -> tuple[ServiceCommitment, int]:
        self.count = 0
        aggregate = app.repository.get(aggregate_id)
        return aggregate, self.count


def test_snapshotting_is_on_for_commitments(world: World) -> None:
    app = world.services.app
    assert app.snapshotting_intervals[ServiceCommitment] == SNAPSHOT_INTERVAL
    assert app.snapshots is not None


def test_a_long_list_loads_from_its_snapshot_reading_no_more_events_than_a_short_one(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.services.app
    staff = world.actors["staff"]
    short = _in_effect(world)
    long = _in_effect(world)
    # 10,000 inspections, saved 1,000 at a time, as the years would add them.
    expected: dict[str, dict[str, int]] = {}
    for _batch in range(10):
        commitment = app.repository.get(long)
        for i in range(1000):
            item_no, result = 1 + i % 3, "met" if i % 4 else "not_met"
            commitment.inspect(by=staff, item_no=item_no, result=result, note="巡查")
            counts = expected.setdefault(str(item_no), {"met": 0, "not_met": 0})
            counts[result] += 1
        app.save(commitment)
    total_events = len(list(app.events.get(long)))
    assert total_events == 5 + 10_000

    snapshots = list(app.snapshots.get(long, desc=True, limit=1))  # type: ignore[union-attr]
    assert snapshots, "no snapshot was taken"
    assert snapshots[0].originator_version == total_events // SNAPSHOT_INTERVAL * SNAPSHOT_INTERVAL

    counter = EventsRead(app, monkeypatch)
    loaded_short, read_short = counter.loading(app, short)
    loaded_long, read_long = counter.loading(app, long)
    assert read_short == 5  # no snapshot yet: every event
    assert read_long < SNAPSHOT_INTERVAL  # only the events after the snapshot
    assert read_long == total_events % SNAPSHOT_INTERVAL
    assert loaded_long.version == total_events
    assert loaded_long.inspections == expected

    # The snapshot restores exactly the state a replay of every event builds.
    replayed = None
    for event in app.events.get(long):
        replayed = event.mutate(replayed)
    assert vars(replayed) == vars(loaded_long)
    assert loaded_short.version == 5

    # And the list still takes commands after loading from a snapshot.
    recorded = app.inspect_commitment_item(staff, long, item_no=2, result="met", note="复查")
    assert recorded.version == total_events + 1


def test_a_snapshot_of_versions_and_confirmations_restores_them_exactly(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.services.app
    cid = _in_effect(world)
    branch = world.actors["party_branch"]
    # Amendments, opinions and a partial confirmation up to the snapshot boundary.
    app.amend_commitment(branch, cid, reason="调整", remove=[3])
    app.confirm_commitment(world.actors["owners_committee"], cid, list_version=2)
    while app.repository.get(cid).version < SNAPSHOT_INTERVAL:
        app.record_commitment_opinion(world.actors["resident"], cid, text="意见")
    snapshot = list(app.snapshots.get(cid, desc=True, limit=1))[0]  # type: ignore[union-attr]
    assert snapshot.originator_version == SNAPSHOT_INTERVAL
    counter = EventsRead(app, monkeypatch)
    loaded, read = counter.loading(app, cid)
    assert read == 0
    replayed = None
    for event in app.events.get(cid):
        replayed = event.mutate(replayed)
    assert vars(replayed) == vars(loaded)
    assert loaded.pending_draft["confirmations"].keys() == {"owners_committee"}
    # The confirmations carried over the snapshot count: two more make it take effect.
    app.confirm_commitment(branch, cid, list_version=2)
    app.confirm_commitment(world.actors["property_company"], cid, list_version=2)
    assert app.repository.get(cid).in_effect_version == 2


def test_three_confirmations_at_once_make_it_take_effect_exactly_once(world: World) -> None:
    app = world.services.app
    for _round in range(3):
        cid = app.draft_commitment(
            world.actors["owners_committee"],
            compound_id=world.compound_id,
            provider_party_id=world.parties["property_company"],
            title="清单",
            items=ITEMS,
        ).id
        barrier = threading.Barrier(3)
        errors: list[BaseException] = []

        def confirm(who: str, cid: UUID = cid, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                app.confirm_commitment(world.actors[who], cid, list_version=1)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [
            threading.Thread(target=confirm, args=(who,))
            for who in ("party_branch", "owners_committee", "property_company")
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        names = [type(e).__name__ for e in app.events.get(cid)]
        assert names.count("Confirmed") == 3
        assert names.count("TookEffect") == 1
        assert names[-1] == "TookEffect"
        assert app.repository.get(cid).status == "in_effect"


def test_commitment_views_equal_a_fresh_replay_and_catch_up(world: World, make_settings) -> None:
    services = world.services
    app = services.app
    cid = _in_effect(world)
    staff = world.actors["staff"]
    app.inspect_commitment_item(staff, cid, item_no=1, result="met", note="好")
    app.amend_commitment(world.actors["owners_committee"], cid, reason="调整", remove=[2])
    app.record_commitment_opinion(world.actors["resident"], cid, text="同意")
    last = app.suspend_commitment(staff, cid, reason="整改").position
    assert services.updater.wait_for(last, 10)
    row = services.views.case("commitment", str(cid))
    assert row is not None
    assert row["status"] == "suspended"
    assert row["pending_version"] == 2
    assert len(services.views.history(str(cid))) == row["version"]

    fresh = build_services(make_settings())
    try:
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        items = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
        # Twice in two batches: the case row is the same however the events are batched.
        middle = len(items) // 2
        fresh.views.process_batch(items[:middle], Tracking(app.name, notifications[middle - 1].id))
        fresh.views.process_batch(items[middle:], Tracking(app.name, notifications[-1].id))
        assert fresh.views.dump_all() == services.views.dump_all()
        # Exactly once: the same batch again is refused and changes nothing.
        with pytest.raises(Exception, match="(?i)tracking|integrity|unique|duplicate"):
            fresh.views.process_batch(items[-1:], Tracking(app.name, notifications[-1].id))
        assert fresh.views.dump_all() == services.views.dump_all()
    finally:
        fresh.close()


def test_projecting_a_list_event_leaves_the_row_it_was_given_as_it_was(world: World) -> None:
    """The case row after an event is a new row: the one before it is not
    changed (it shares what the event did not change), through every kind of
    list event: opinions, confirmations, taking effect, inspections, an
    amendment and its confirmation, suspension, resumption and termination."""
    import copy

    from application.commitment_views import commitment_row

    app = world.services.app
    staff, committee = world.actors["staff"], world.actors["owners_committee"]
    cid = _in_effect(world)
    for n, result in ((1, "met"), (2, "not_met"), (1, "not_met")):
        app.inspect_commitment_item(staff, cid, item_no=n, result=result, note="检查")
    app.amend_commitment(committee, cid, reason="调整", remove=[2])
    app.record_commitment_opinion(world.actors["resident"], cid, text="同意", list_version=2)
    for who in ("party_branch", "owners_committee", "property_company"):
        app.confirm_commitment(world.actors[who], cid, list_version=2)
    app.suspend_commitment(staff, cid, reason="整改")
    app.resume_commitment(staff, cid, reason="整改完成")
    app.amend_commitment(committee, cid, reason="再调整", remove=[3])
    app.terminate_commitment(staff, cid, reason="合同到期")
    events = list(app.events.get(cid))
    kinds = {type(e).__name__ for e in events}
    assert {"OpinionRecorded", "Confirmed", "TookEffect", "ItemInspected", "Amended",
            "Suspended", "Resumed", "Terminated"} <= kinds
    row = None
    for position, event in enumerate(events, start=1):
        before = copy.deepcopy(row)
        after = commitment_row(row, event, position)
        assert row == before, type(event).__name__
        row = after
    assert row is not None and row["status"] == "terminated"
    assert row["inspections"]["1"]["met"] == 1 and row["inspections"]["1"]["not_met"] == 1
    assert [v["state"] for v in row["versions"]] == ["replaced", "ended", "withdrawn"]

"""The application on each store: races, catching up, and views that equal a replay."""

from __future__ import annotations

import threading

import pytest
from eventsourcing.persistence import Tracking

from application.app import Linli
from application.base import Recorded, RequestKey, request_key
from domain.errors import IllegalTransition
from domain.need import Need
from infrastructure.store import Services, build_services
from tests.world import World, build_world


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


def _need(world: World) -> Need:
    app = world.services.app
    recorded = app.register_need(
        world.actors["grid_worker"],
        compound_id=world.compound_id,
        source="household_visit",
        title="水管漏水",
        description="地下室水管漏水",
    )
    return app.repository.get(recorded.id)


def test_two_writers_at_once_exactly_one_wins_and_no_update_is_lost(world: World) -> None:
    app = world.services.app
    staff = world.actors["staff"]
    for _round in range(5):
        need = _need(world)
        barrier = threading.Barrier(2)
        outcomes: list[object] = []

        def accept(priority: str) -> None:
            barrier.wait()
            try:
                outcomes.append(app.accept_need(staff, need.id, priority=priority))
            except IllegalTransition as error:
                outcomes.append(error)

        threads = [threading.Thread(target=accept, args=(p,)) for p in ("urgent", "low")]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        wins = [o for o in outcomes if not isinstance(o, Exception)]
        losses = [o for o in outcomes if isinstance(o, IllegalTransition)]
        assert len(wins) == 1 and len(losses) == 1
        assert losses[0].status == "accepted"
        stored = app.repository.get(need.id)
        assert stored.version == 2
        events = list(app.events.get(need.id))
        assert [type(e).__name__ for e in events] == ["Registered", "Accepted"]
        assert stored.priority == events[1].priority


def test_concurrent_notes_are_all_kept(world: World) -> None:
    """Commands still valid on the new state are re-run, not lost."""
    app = world.services.app
    need = _need(world)
    staff = world.actors["staff"]
    barrier = threading.Barrier(4)

    def note(i: int) -> None:
        barrier.wait()
        app.add_need_note(staff, need.id, text=f"进展 {i}")

    threads = [threading.Thread(target=note, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stored = app.repository.get(need.id)
    assert stored.notes == 4
    assert stored.version == 5


def _drive(world: World) -> int:
    app = world.services.app
    staff = world.actors["staff"]
    last = 0
    for i in range(6):
        need = _need(world)
        app.accept_need(staff, need.id, priority=("urgent", "normal", "low")[i % 3])
        if i % 2:
            app.assign_need(staff, need.id, party_id=world.parties["property_company"])
            app.acknowledge_need(world.actors["property_company"], need.id)
            last = app.resolve_need(world.actors["property_company"], need.id, outcome="好了").position
        else:
            last = app.reject_need(staff, need.id, reason="重复").position
    return last


def test_views_equal_a_fresh_replay_of_all_events(world: World, make_settings) -> None:
    last = _drive(world)
    services = world.services
    assert services.updater.wait_for(last, 10)

    fresh = build_services(make_settings())
    try:
        app: Linli = services.app
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        items = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
        fresh.views.process_batch(items, Tracking(app.name, notifications[-1].id))
        assert fresh.views.dump_all() == services.views.dump_all()
        assert len(services.views.dump_all()["need_view"]) == 6
    finally:
        fresh.close()


def test_views_catch_up_after_a_stop(world: World, make_settings) -> None:
    services = world.services
    services.updater.stop()
    position_before = services.views.position(services.app.name)
    last = _drive(world)
    assert services.views.position(services.app.name) == position_before

    # A new process: its updater resumes from the stored tracking position.
    restarted = build_services(services.settings)
    try:
        assert restarted.updater.position == position_before
        restarted.updater.catch_up()
        assert restarted.views.position(services.app.name) == last
        assert len(restarted.views.dump_all()["need_view"]) == 6
    finally:
        restarted.close()


def test_a_batch_that_does_not_advance_tracking_writes_nothing(world: World) -> None:
    services = world.services
    last = _drive(world)
    assert services.updater.wait_for(last, 10)
    before = services.views.dump_all()
    app = services.app
    notification = app.recorder.select_notifications(start=last, limit=1)[0]
    event = app.mapper.to_domain_event(notification)
    with pytest.raises(Exception, match="(?i)tracking|integrity|unique|duplicate"):
        services.views.process_batch([(event, notification.id)], Tracking(app.name, last))
    assert services.views.dump_all() == before


def test_one_key_sent_at_once_from_many_threads_has_one_effect(world: World) -> None:
    """A double click, many times over: every sender gets the first result.

    On PostgreSQL the key's row is inserted in the events' pipelined
    transaction; a replay that collides on it must come back as the first
    result, never as a database error (it once surfaced as an aborted pipeline,
    which the library retried as if the connection were lost, then gave up).
    """
    app = world.services.app
    worker = world.actors["grid_worker"]
    for round_no in range(20):
        barrier = threading.Barrier(4)
        results: list[object] = []

        def register() -> None:
            barrier.wait()
            token = request_key.set(RequestKey(f"worker:click-{round_no}", "register"))
            try:
                results.append(
                    app.register_need(
                        worker,
                        compound_id=world.compound_id,
                        source="household_visit",
                        title="楼道灯不亮",
                        description="3单元楼道灯不亮",
                    )
                )
            except Exception as error:  # the assertion below shows what it was
                results.append(error)
            finally:
                request_key.reset(token)

        threads = [threading.Thread(target=register) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert len(results) == 4 and all(r == results[0] for r in results), results
        first = results[0]
        assert isinstance(first, Recorded)
        assert [type(e).__name__ for e in app.events.get(first.id)] == ["Registered"]


def test_a_trail_read_a_page_at_a_time_is_complete_and_in_order(world: World) -> None:
    app = world.services.app
    need = _need(world)
    staff = world.actors["staff"]
    for i in range(22):
        last = app.add_need_note(staff, need.id, text=f"进展 {i}").position
    views = world.services.views
    assert world.services.updater.wait_for(last, 10)
    whole = views.history(str(need.id))
    assert len(whole) == 23
    for page_size in (1, 5, 23, 100):
        streamed = list(views.iter_history(str(need.id), page_size=page_size))
        assert streamed == whole
    positions = [e["position"] for e in whole]
    assert positions == sorted(set(positions))
    # Keyset pages: each starts just past the position the one before ended at.
    first, after = views.history_page(str(need.id), limit=10)
    assert first == whole[:10] and after == positions[9]
    second, after = views.history_page(str(need.id), limit=10, after=after)
    assert second == whole[10:20] and after == positions[19]
    third, after = views.history_page(str(need.id), limit=10, after=after)
    assert third == whole[20:] and after is None
    # A page that ends exactly at the end of the trail has no next page.
    exact, after = views.history_page(str(need.id), limit=3, after=positions[19])
    assert exact == whole[20:] and after is None
    assert list(views.iter_history("no-such-case", page_size=5)) == []


def test_a_need_through_two_consultations_keeps_both_on_its_row_and_in_a_replay(
    world: World, make_settings
) -> None:
    app = world.services.app
    staff, pc = world.actors["staff"], world.actors["property_company"]
    need = _need(world)
    app.accept_need(staff, need.id, priority="normal")
    app.assign_need(staff, need.id, party_id=world.parties["property_company"])
    app.acknowledge_need(pc, need.id)
    first = app.propose_consultation(
        world.actors["party_branch"], compound_id=world.compound_id, topic="第一次", need_ids=[need.id]
    ).id
    app.cancel_consultation(staff, first, reason="重新准备")
    second = app.propose_consultation(
        world.actors["party_branch"], compound_id=world.compound_id, topic="第二次", need_ids=[need.id]
    )
    services = world.services
    assert services.updater.wait_for(second.position, 10)
    row = services.views.need(str(need.id))
    assert row is not None
    assert row["status"] == "escalated" and row["consultation_id"] == str(second.id)
    # The fields beside consultation_id are the second consultation's: not yet back.
    assert (row["returned_at"], row["consultation_outcome"]) == (None, None)
    one, two = row["consultations"]
    assert (one["consultation_id"], one["consultation_outcome"]) == (str(first), "cancelled")
    assert one["escalated_at"] < one["returned_at"] < two["escalated_at"]
    assert (two["consultation_id"], two["returned_at"]) == (str(second.id), None)

    fresh = build_services(make_settings())
    try:
        notifications = app.recorder.select_notifications(start=1, limit=1_000_000)
        items = [(app.mapper.to_domain_event(n), n.id) for n in notifications]
        fresh.views.process_batch(items, Tracking(app.name, notifications[-1].id))
        assert fresh.views.dump_all() == services.views.dump_all()
    finally:
        fresh.close()


def test_trails_stored_with_their_documents_lose_them_at_start_and_read_the_same(
    world: World,
) -> None:
    """Earlier versions stored each trail entry rendered; the trail now holds
    positions only and renders entries from the log. A store from then is
    migrated when the service starts, and its trails read as before."""
    services = world.services
    app = services.app
    need = _need(world)
    last = app.add_need_note(world.actors["staff"], need.id, text="先看看").position
    assert services.updater.wait_for(last, 10)
    before = services.views.history(str(need.id))
    assert [e["event_type"] for e in before] == ["Registered", "NoteAdded"]
    views = services.views
    with views.writing() as c:  # the table as an earlier version left it
        c.execute(views.sql("ALTER TABLE {case_history} ADD COLUMN doc TEXT NOT NULL DEFAULT '{{}}'"))
    services.updater.stop()

    restarted = build_services(services.settings)
    try:
        with restarted.views.reading() as c:
            assert not restarted.views.has_column(c, restarted.views.table("case_history"), "doc")
        assert restarted.views.history(str(need.id)) == before
        restarted.updater.start()
        last = restarted.app.add_need_note(world.actors["staff"], need.id, text="再看看").position
        assert restarted.updater.wait_for(last, 10)
        after = restarted.views.history(str(need.id))
        assert after[:2] == before and after[2]["data"]["text"] == "再看看"
    finally:
        restarted.close()

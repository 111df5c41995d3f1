"""Commands start from the aggregate as this process last saved it
(application/recent.py), and answer as if they had read the store: a copy
another process made stale never decides an answer. On PostgreSQL a serving
process hears what other processes save and forgets its stale copies."""

from __future__ import annotations

from collections.abc import Iterator
from uuid import UUID, uuid4

import psycopg
import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from application.base import StaleVersion
from application.recent import RecentAggregates
from domain.compound import Compound
from domain.errors import IllegalTransition
from domain.need import NeedStatus
from infrastructure.recorders import NOTIFY_PAYLOAD_LIMIT, changed_aggregates
from infrastructure.store import Services, build_services
from tests.conftest import PG, settings_for, until
from tests.world import REGISTRAR, World, build_world


@pytest.fixture
def world(make_settings) -> Iterator[World]:
    services = build_services(make_settings())
    try:
        yield build_world(services)
    finally:
        services.close()


@pytest.fixture
def other(world: World) -> Iterator[Services]:
    """A second process on the same store: another worker, or the command line."""
    services = build_services(world.services.settings)
    try:
        yield services
    finally:
        services.close()


def _assigned_need(world: World) -> UUID:
    app = world.services.app
    need_id = app.register_need(
        world.actors["grid_worker"],
        compound_id=world.compound_id,
        source="household_visit",
        title="电梯停运",
        description="2号楼电梯停运",
    ).id
    app.accept_need(world.actors["staff"], need_id, priority="normal")
    app.assign_need(world.actors["staff"], need_id, party_id=world.parties["property_company"])
    return need_id


def _stored(services: Services, need_id: UUID) -> list[str]:
    return [type(e).__name__ for e in services.app.events.get(need_id)]


class _CountedReads:
    """How often the store is asked for an aggregate's events."""

    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.ids: list[UUID] = []
        recorder = services.app.recorder
        select = recorder.select_events

        def counted(originator_id, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
            self.ids.append(originator_id)
            return select(originator_id, *args, **kwargs)

        monkeypatch.setattr(recorder, "select_events", counted)


def test_the_next_command_on_a_need_starts_from_what_was_saved(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    need_id = _assigned_need(world)
    reads = _CountedReads(world.services, monkeypatch)
    pc = world.actors["property_company"]
    world.services.app.acknowledge_need(pc, need_id)
    recorded = world.services.app.resolve_need(pc, need_id, outcome="已修复")
    assert need_id not in reads.ids
    assert recorded.version == 5
    assert _stored(world.services, need_id)[-2:] == ["Acknowledged", "Resolved"]


def test_with_nothing_kept_every_command_reads_the_store(
    make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    services = build_services(make_settings(kept_aggregates=0))
    try:
        world = build_world(services)
        need_id = _assigned_need(world)
        reads = _CountedReads(services, monkeypatch)
        services.app.acknowledge_need(world.actors["property_company"], need_id)
        assert reads.ids.count(need_id) == 1
    finally:
        services.close()


def test_a_party_is_read_from_the_store_once_per_process(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    party_id = world.parties["property_company"]
    restarted = build_services(world.services.settings)  # keeps nothing yet
    try:
        reads = _CountedReads(restarted, monkeypatch)
        staff = world.actors["staff"]
        for title in ("电梯停运", "楼道漏水"):
            need_id = restarted.app.register_need(
                world.actors["grid_worker"], compound_id=world.compound_id,
                source="hotline", title=title, description=title,
            ).id
            restarted.app.accept_need(staff, need_id, priority="normal")
            restarted.app.assign_need(staff, need_id, party_id=party_id)
        assert reads.ids.count(party_id) == 1
    finally:
        restarted.close()


def test_a_command_not_allowed_on_a_stale_copy_is_decided_on_the_stored_state(
    world: World, other: Services
) -> None:
    need_id = _assigned_need(world)  # this process keeps it as assigned
    pc = world.actors["property_company"]
    other.app.acknowledge_need(pc, need_id)  # now in progress in the store
    recorded = world.services.app.resolve_need(pc, need_id, outcome="已修复")
    assert recorded.version == 5
    assert _stored(world.services, need_id)[-2:] == ["Acknowledged", "Resolved"]


def test_a_change_saved_over_a_stale_copy_collides_and_is_made_again_after_the_others(
    world: World, other: Services
) -> None:
    need_id = _assigned_need(world)
    staff = world.actors["staff"]
    other.app.add_need_note(staff, need_id, text="已联系物业")
    recorded = world.services.app.add_need_note(staff, need_id, text="物业已到场")
    assert recorded.version == 5
    notes = [e.text for e in world.services.app.events.get(need_id) if hasattr(e, "text")]
    assert notes == ["已联系物业", "物业已到场"]


def test_a_command_the_stored_state_no_longer_allows_names_the_stored_status(
    world: World, other: Services
) -> None:
    need_id = _assigned_need(world)
    pc = world.actors["property_company"]
    other.app.acknowledge_need(pc, need_id)
    other.app.resolve_need(pc, need_id, outcome="已修复")
    with pytest.raises(IllegalTransition) as raised:
        world.services.app.acknowledge_need(pc, need_id)  # allowed on the kept copy only
    assert raised.value.status == NeedStatus.RESOLVED.value
    assert len(_stored(world.services, need_id)) == 5  # nothing of it written


def test_if_match_is_judged_on_the_stored_version_not_on_a_stale_copy(
    world: World, other: Services
) -> None:
    need_id = _assigned_need(world)  # kept at version 3
    pc = world.actors["property_company"]
    other.app.acknowledge_need(pc, need_id)
    recorded = world.services.app.resolve_need(pc, need_id, outcome="已修复", expected_version=4)
    assert recorded.version == 5
    with pytest.raises(StaleVersion) as raised:
        world.services.app.evaluate_need(
            world.actors["grid_worker"], need_id, evaluation="satisfied", expected_version=4
        )
    assert raised.value.actual == 5


def test_a_failed_command_leaves_no_copy_that_the_next_one_would_start_from(
    world: World,
) -> None:
    need_id = _assigned_need(world)
    pc = world.actors["property_company"]
    with pytest.raises(IllegalTransition):
        world.services.app.resolve_need(pc, need_id, outcome="已修复")  # not yet acknowledged
    assert world.services.app.acknowledge_need(pc, need_id).version == 4
    assert world.services.app.resolve_need(pc, need_id, outcome="已修复").version == 5


# ----- the keeping itself --------------------------------------------------------------


def _compound() -> Compound:
    return Compound.register(by=REGISTRAR, name="幸福里", community=None, address=None, id=uuid4())


def test_a_kept_aggregate_is_given_out_once() -> None:
    recent = RecentAggregates(10)
    compound = _compound()
    recent.keep(compound)
    assert recent.take(compound.id) is compound
    assert recent.take(compound.id) is None  # taken out while a command works on it


def test_the_least_recently_kept_go_first_beyond_the_size() -> None:
    recent = RecentAggregates(2)
    first, second, third = _compound(), _compound(), _compound()
    recent.keep(first)
    recent.keep(second)
    recent.keep(first)  # kept again: now the most recent
    recent.keep(third)
    assert len(recent) == 2
    assert recent.take(second.id) is None
    assert recent.take(first.id) is first and recent.take(third.id) is third


def test_a_peek_leaves_the_aggregate_kept_as_the_most_recent() -> None:
    recent = RecentAggregates(2)
    first, second, third = _compound(), _compound(), _compound()
    recent.keep(first)
    recent.keep(second)
    assert recent.peek(first.id) is first and recent.peek(first.id) is first
    recent.keep(third)  # the least recently used, second, goes
    assert second.id not in recent and first.id in recent


def test_a_size_of_nothing_keeps_nothing() -> None:
    recent = RecentAggregates(0)
    compound = _compound()
    recent.keep(compound)
    assert len(recent) == 0 and recent.take(compound.id) is None


def test_forget_drops_only_the_copies_older_than_what_was_saved_elsewhere() -> None:
    recent = RecentAggregates(10)
    behind, current, untouched = _compound(), _compound(), _compound()
    for compound in (behind, current, untouched):
        recent.keep(compound)  # each at version 1
    recent.forget([(behind.id, 2), (current.id, 1), (uuid4(), 7)])
    assert behind.id not in recent
    assert current.id in recent and untouched.id in recent
    recent.forget(None)  # what changed is not known
    assert len(recent) == 0


def test_a_notification_names_aggregates_and_versions_or_nothing() -> None:
    first, second = uuid4(), uuid4()
    assert changed_aggregates(f"{first}:3,{second}:12") == [(first, 3), (second, 12)]
    assert changed_aggregates("") is None  # more than one notification holds
    assert changed_aggregates("not:a,list") is None


# ----- hearing other processes' saves (PostgreSQL) ----------------------------------------


@pytest.fixture
def serving(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[World, Services]]:
    """A serving process that listens for other writers, and another process."""
    settings = settings_for("postgres", request, tmp_path)
    services = build_services(settings)
    other = build_services(settings)
    try:
        world = build_world(services)
        services.listen_for_other_writers()
        listener = services.other_writers
        assert listener is not None
        assert until(lambda: listener.listening), listener.error
        yield world, other
    finally:
        other.close()
        services.close()


class _CountedSaves:
    def __init__(self, services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
        self.count = 0
        recorder = services.app.recorder
        insert = recorder.insert_events

        def counted(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            self.count += 1
            return insert(*args, **kwargs)

        monkeypatch.setattr(recorder, "insert_events", counted)


@pytest.mark.postgres
def test_a_copy_another_process_saved_over_is_forgotten_before_it_could_collide(
    serving: tuple[World, Services], monkeypatch: pytest.MonkeyPatch
) -> None:
    world, other = serving
    app = world.services.app
    need_id = _assigned_need(world)
    assert need_id in app.kept
    pc = world.actors["property_company"]
    other.app.acknowledge_need(pc, need_id)
    assert until(lambda: need_id not in app.kept)
    saves = _CountedSaves(world.services, monkeypatch)
    assert app.resolve_need(pc, need_id, outcome="已修复").version == 5
    assert saves.count == 1  # read from the store, saved once: no collision first


@pytest.mark.postgres
def test_a_process_does_not_forget_what_it_saved_itself(serving: tuple[World, Services]) -> None:
    world, _ = serving
    listener = world.services.other_writers
    assert listener is not None
    heard = listener.heard
    need_id = _assigned_need(world)  # three saves, three notifications
    assert until(lambda: listener.heard >= heard + 3)
    assert need_id in world.services.app.kept


@pytest.mark.postgres
def test_a_save_of_more_aggregates_than_a_notification_names_is_saved_and_forgets_all(
    serving: tuple[World, Services],
) -> None:
    world, other = serving
    need_id = _assigned_need(world)
    many = [_compound() for _ in range(NOTIFY_PAYLOAD_LIMIT // 30)]
    other.app.save(*many)
    assert until(lambda: len(world.services.app.kept) == 0)
    assert need_id not in world.services.app.kept
    stored = other.app.repository.get(many[-1].id)
    assert stored.name == many[-1].name


@pytest.mark.postgres
def test_a_listener_that_lost_its_connection_forgets_all_when_it_is_back(
    serving: tuple[World, Services],
) -> None:
    world, _ = serving
    listener = world.services.other_writers
    assert listener is not None
    need_id = _assigned_need(world)
    with psycopg.connect(
        dbname=world.services.settings.postgres_db, autocommit=True, **PG
    ) as admin:
        killed = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name = 'linli-kept-listen' AND datname = current_database() "
            "AND query ILIKE 'LISTEN%'"
        ).fetchall()
    assert killed, "no listener connection found"
    assert until(lambda: listener.error is not None)
    assert until(lambda: listener.listening), listener.error
    assert need_id not in world.services.app.kept  # anything may have been saved meanwhile


@pytest.mark.postgres
def test_the_api_process_listens_for_other_writers(request: pytest.FixtureRequest, tmp_path) -> None:
    settings = settings_for("postgres", request, tmp_path, run_projections=False)
    with TestClient(create_app(settings)) as client:
        listener = client.app.state.services.other_writers
        assert listener is not None
        assert until(lambda: listener.listening), listener.error
    assert not listener.is_alive()

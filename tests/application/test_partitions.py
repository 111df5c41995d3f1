"""Catching the views up by partitions of the cases (infrastructure/partitions.py).

On PostgreSQL a far-behind catch-up is shared between processes, each
applying the events of its share of the cases. These tests lower the
threshold so that a small log goes that way, and check the views come out
exactly as one process applying every event in order makes them, also with
an erasure in the log (every partition draws its own rows again) and after
a catch-up that stopped half way.
"""

from __future__ import annotations

from uuid import UUID

import pytest

from infrastructure import partitions
from infrastructure.partitions import Helpers, apply_share, catch_up_by_partitions
from infrastructure.rebuild import next_views, rebuild
from infrastructure.runner import ViewUpdater
from infrastructure.store import Services
from infrastructure.views import PARTITION_MARK
from tests.application.test_rebuild import _replay
from tests.world import World, build_world


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


def _history(world: World, needs: int = 24) -> None:
    """Needs at several stages in both partitions, a resident's among them,
    and that resident's erasure in the middle of the log."""
    app = world.services.app
    grid, staff, resident = (world.actors[k] for k in ("grid_worker", "staff", "resident"))
    pc = world.actors["property_company"]
    for i in range(needs):
        by = resident if i % 5 == 0 and i < needs // 2 else grid
        need = app.register_need(
            by, compound_id=world.compound_id,
            source="self_report" if by is resident else "household_visit",
            title=f"楼道灯坏了{i}", description=f"第{i}次报告", household_id=world.households[0],
        )
        if i % 3:
            app.accept_need(staff, need.id, priority="normal")
        if i % 3 == 2:
            app.assign_need(staff, need.id, party_id=world.parties["property_company"])
            app.acknowledge_need(pc, need.id)
        if i == needs // 2:
            world.services.erase_person(
                world.actors["admin"], world.actors["resident"].id, reason="本人申请删除个人信息"
            )


def _partitions_left(services: Services) -> list[str]:
    with services.views.datastore.transaction(commit=False) as c:
        c.execute(
            f"SELECT application_name FROM {services.views.tracking_table()} "
            f"WHERE application_name LIKE '%{PARTITION_MARK}%'"
        )
        return [row["application_name"] for row in c.fetchall()]


def test_a_rebuild_by_partitions_in_two_processes_equals_one_process_replay(
    world: World, make_settings, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(partitions, "FAR_BEHIND", 0)
    services = world.services
    _history(world)
    ids = [UUID(row["id"]) for row in services.views.dump_all()["need_view"]]
    # Both partitions have cases (the last byte of the id, modulo 2).
    assert {i.bytes[15] % 2 for i in ids} == {0, 1}
    if store == "sqlite":
        # One writer at a time: one process catches up alone.
        assert services.updater.helpers is None
        assert catch_up_by_partitions(services.updater, Helpers(services.settings, 2)) is None
    else:
        assert services.updater.helpers is not None and services.updater.helpers.count == 2
    reached = rebuild(services, batch_size=7)
    assert reached == services.app.recorder.max_notification_id()
    assert services.views.dump_all() == _replay(services, make_settings)
    if store == "postgres":
        assert _partitions_left(services) == []


@pytest.mark.parametrize("store", ["postgres"])
def test_a_catch_up_stopped_half_way_is_finished_before_anything_else(
    world: World, make_settings
) -> None:
    services = world.services
    app = services.app
    _history(world)
    head = app.recorder.max_notification_id()
    target = next_views(services)
    # Partition 1 of 2 got half way and the process stopped: its rows are
    # written and its tracking row is ahead, the views' own row is not there.
    assert apply_share(app, target, 1, 2, 0, head // 2, 5) > 0
    assert target.position(app.name) == 0
    # A plain updater (no helper processes) finds that out at its first
    # batch and finishes both partitions before going on.
    updater = ViewUpdater(app, target, batch_size=5)
    assert updater.catch_up() > 0
    assert updater.position == head == target.position(app.name)
    live = services.views.dump_all()
    assert target.dump_all() == live == _replay(services, make_settings)
    assert _partitions_left(services) == []


@pytest.mark.parametrize("store", ["postgres"])
def test_when_no_other_process_can_start_one_process_catches_up_alone(
    world: World, make_settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A daemonic process (a server's worker, say) may start no child: the
    catch-up goes on in one process and the views come out the same."""
    monkeypatch.setattr(partitions, "FAR_BEHIND", 0)

    def refused(self: Helpers) -> None:
        raise AssertionError("daemonic processes are not allowed to have children")

    monkeypatch.setattr(Helpers, "executor", refused)
    services = world.services
    _history(world)
    assert rebuild(services, batch_size=7) == services.app.recorder.max_notification_id()
    assert services.views.dump_all() == _replay(services, make_settings)
    assert _partitions_left(services) == []

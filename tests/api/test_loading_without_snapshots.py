"""Commands load an aggregate of a class that is never snapshotted from its
events alone, without asking the snapshot store first (a query per load);
snapshotted classes still load from their latest snapshot."""

from __future__ import annotations

from typing import Any

import pytest
from eventsourcing.domain import Aggregate

from domain.commitment import ServiceCommitment
from domain.consultation import Consultation
from domain.need import Need
from domain.party import Party
from domain.errors import NotFound
from tests.world import World


def test_which_classes_may_have_snapshots(world: World) -> None:
    app = world.services.app
    assert app._may_have_snapshots(ServiceCommitment)
    assert app._may_have_snapshots(Consultation)
    assert app._may_have_snapshots(Aggregate)  # a snapshotted class is one of these
    assert not app._may_have_snapshots(Need)
    assert not app._may_have_snapshots(Party)


def test_a_need_command_never_reads_the_snapshot_store(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = world.services.app

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("the snapshot store was read")

    monkeypatch.setattr(app.snapshots, "get", refuse)
    staff, grid = world.actors["staff"], world.actors["grid_worker"]
    need = app.register_need(
        grid, compound_id=world.compound_id, source="household_visit", title="t", description="d"
    ).id
    accepted = app.accept_need(staff, need, priority="normal")
    assert accepted.version == 2
    assigned = app.assign_need(staff, need, party_id=world.parties["property_company"])
    assert assigned.version == 3
    loaded = app._load(Need, need, "need")
    assert loaded.version == 3 and loaded.assigned_party_id == world.parties["property_company"]


def test_the_replay_builds_what_the_repository_builds(world: World) -> None:
    app = world.services.app
    grid, staff = world.actors["grid_worker"], world.actors["staff"]
    need = app.register_need(
        grid, compound_id=world.compound_id, source="household_visit", title="t", description="d"
    ).id
    app.accept_need(staff, need, priority="urgent")
    replayed, got = app._replay(need), app.repository.get(need)
    assert type(replayed) is type(got) and vars(replayed) == vars(got)


def test_unknown_ids_and_other_classes_are_not_found(world: World) -> None:
    from uuid import uuid4

    app = world.services.app
    with pytest.raises(NotFound, match="need not found"):
        app._load(Need, uuid4(), "need")
    with pytest.raises(NotFound, match="need not found"):
        app._load(Need, world.parties["property_company"], "need")  # a party, not a need

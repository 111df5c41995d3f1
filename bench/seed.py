"""Data for the benchmark, made through the Linli application (not over HTTP).

``build_world``: compounds, their parties and bearer tokens, by the
application's own commands. ``seed_needs``: needs at realistic stages of
their lives, built with the domain's own methods and saved with
``Linli.save`` a few thousand events per transaction, which is how a million
events are stored in a minute or two rather than an hour.

``python -m bench.seed SCHEMA EVENTS START WORLD.json`` seeds from a child
process (prints a JSON summary), so that two can run side by side.
"""

from __future__ import annotations

import json
import sys
import time
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from domain.actor import Actor, Role
from domain.need import Need

REGISTRAR = Actor("bench-staff", Role.COMMUNITY_STAFF, compound_ids=None)
PARTY_KINDS = ("property_company", "party_branch", "owners_committee", "co_building_unit")

# How far each need got, as counts in a cycle of 50: most are long closed, a
# few are at each earlier stage. Stage n means the need has n events.
STAGE_CYCLE = [6] * 30 + [5] * 5 + [4] * 6 + [3] * 4 + [2] * 3 + [1] * 2
LIST_STATUS = "in_progress"  # the filtered list: a party's work in hand


def build_world(services: Any, compounds: int = 8) -> dict[str, Any]:
    """Compounds with a building, households and the four parties; tokens for compound 0."""
    app = services.app
    world: dict[str, Any] = {"compounds": []}
    for k in range(compounds):
        cid = app.register_compound(REGISTRAR, name=f"幸福里{k}号小区", community="和平社区").id
        building, _ = app.add_building(REGISTRAR, cid, name="1号楼")
        households = [
            str(
                app.add_household(
                    REGISTRAR, cid, building_id=building, number=f"10{i}", exclusive_area=Decimal("90")
                )[0]
            )
            for i in range(1, 3)
        ]
        parties = {
            kind: str(app.register_party(REGISTRAR, compound_id=cid, kind=kind, name=f"{kind} {k}").id)
            for kind in PARTY_KINDS
        }
        world["compounds"].append(
            {"id": str(cid), "building": str(building), "households": households, "parties": parties}
        )
    first = world["compounds"][0]
    cid = UUID(first["id"])
    issue = services.credentials.issue
    world["tokens"] = {
        "grid_worker": issue(person_id=services.people.register("bench-grid", created_by="bench").id, role=Role.GRID_WORKER, compound_ids=[cid]).token,
        "staff": issue(person_id=services.people.register("bench-staff", created_by="bench").id, role=Role.COMMUNITY_STAFF, compound_ids=[cid]).token,
        "property_company": issue(
            person_id=services.people.register("bench-pc", created_by="bench").id,
            role=Role.PROPERTY_COMPANY,
            compound_ids=[cid],
            party_id=UUID(first["parties"]["property_company"]),
        ).token,
    }
    return world


def _actors(compound: dict[str, Any], k: int) -> dict[str, Actor]:
    cid = frozenset({UUID(compound["id"])})
    return {
        "grid": Actor(f"seed-grid-{k}", Role.GRID_WORKER, compound_ids=cid),
        "staff": Actor(f"seed-staff-{k}", Role.COMMUNITY_STAFF, compound_ids=cid),
        "pc": Actor(
            f"seed-pc-{k}",
            Role.PROPERTY_COMPANY,
            compound_ids=cid,
            party_id=UUID(compound["parties"]["property_company"]),
        ),
    }


def make_need(app: Any, compound: dict[str, Any], actors: dict[str, Actor], stage: int, n: int) -> Need:
    """A need with ``stage`` events, made by the domain's own commands."""
    need = Need.register(
        by=actors["grid"],
        id=uuid4(),
        compound_id=UUID(compound["id"]),
        source="household_visit",
        title=f"{n % 12 + 1}号楼电梯停运",
        description="电梯自周一起停运，老人上下楼困难，请尽快维修",
        category=("facilities", "environment", "property_service", "safety")[n % 4],
        building_id=UUID(compound["building"]),
        household_id=UUID(compound["households"][n % len(compound["households"])]),
    )
    if stage >= 2:
        need.accept(by=actors["staff"], priority=("normal", "urgent", "low")[n % 3], policy=app.deadline_policy)
    if stage >= 3:
        need.assign(
            by=actors["staff"],
            party_id=UUID(compound["parties"]["property_company"]),
            party_role="property_company",
        )
    if stage >= 4:
        need.acknowledge(by=actors["pc"])
    if stage >= 5:
        need.resolve(by=actors["pc"], outcome="已更换控制板，电梯恢复运行")
    if stage >= 6:
        need.evaluate(by=actors["grid"], evaluation="satisfied", obtained_by="visit")
    return need


def seed_needs(
    app: Any,
    world: dict[str, Any],
    events: int,
    *,
    start: int = 0,
    batch_events: int = 5000,
    progress: Any = None,
    sample: int = 2000,
) -> dict[str, Any]:
    """Save needs totalling exactly ``events`` events; return a sample of their ids."""
    compounds = world["compounds"]
    actors = [_actors(c, k) for k, c in enumerate(compounds)]
    written = 0
    n = start
    batch: list[Need] = []
    in_batch = 0
    sampled: list[str] = []
    began = time.perf_counter()
    while written < events:
        stage = min(STAGE_CYCLE[n % len(STAGE_CYCLE)], events - written)
        k = n % len(compounds)
        need = make_need(app, compounds[k], actors[k], stage, n)
        if k == 0 and len(sampled) < sample and n % 7 == 0:
            sampled.append(str(need.id))
        batch.append(need)
        in_batch += stage
        written += stage
        n += 1
        if in_batch >= batch_events or written >= events:
            app.save(*batch)
            if progress is not None:
                progress(in_batch)
            batch, in_batch = [], 0
    elapsed = time.perf_counter() - began
    return {"events": written, "needs": n - start, "seconds": elapsed, "sample": sampled}


def main() -> int:
    from bench.common import Pg
    from infrastructure.store import build_services

    schema, events, start, world_path, pg_json = sys.argv[1:6]
    pg = Pg(**json.loads(pg_json))
    with open(world_path) as f:
        world = json.load(f)
    services = build_services(pg.settings(schema))
    try:
        result = seed_needs(services.app, world, int(events), start=int(start))
    finally:
        services.close()
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Owners as the law counts them, through HTTP on SQLite and PostgreSQL.

A household's owner is a registered person (``owner_id``). In an owners' vote
convened without an explicit electorate, an owner of several units of the
compound is one owner with the sum of their areas:

    《最高人民法院关于审理建筑物区分所有权纠纷案件具体应用法律若干问题的解释》
    第九条 业主人数，按照专有部分的数量计算，一个专有部分按一人计算。但建设单位
    尚未出售和虽已出售但尚未交付的部分，以及同一买受人拥有一个以上专有部分的，
    按一人计算; 总人数，按照前项的统计总和计算.
    (第八条: 建筑物总面积，按照专有部分面积的统计总和计算.)

A household without an owner person stays one owner keyed by its own id.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from domain.actor import Role
from domain.compound import Compound
from tests.api.client import Api
from tests.world import World

MEETS_AT = "2026-03-10T19:00:00+08:00"


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


def view(api: Api, path: str, position: int, who: str = "supervisor") -> dict[str, Any]:
    response = api.get(who, path, after=position)
    assert response.status_code == 200, response.text
    return response.json()


def resident_credential(api: Api, name: str, person_id: str, household: str) -> None:
    """A resident credential for ``person_id`` naming ``household``, as ``api`` user ``name``."""
    world = api.world
    issued = world.services.credentials.issue(
        person_id=person_id,
        role=Role.RESIDENT,
        compound_ids=[world.compound_id],
        household_id=UUID(household),
    )
    world.tokens[name] = issued.token


def add_household(api: Api, building: str, number: str, area: str, **extra: Any) -> dict:
    body = {"building_id": building, "number": number, "exclusive_area": area, **extra}
    return api.ok("staff", f"/compounds/{api.world.compound_id}/households", body)


def convene_by_owners(api: Api) -> tuple[str, dict]:
    """A consultation decided by owners' vote, its electorate taken from the households."""
    body = {
        "compound_id": str(api.world.compound_id),
        "topic": "小区加装电动车充电桩",
    }
    cid = api.ok("party_branch", "/consultations", body)["id"]
    convened = api.ok(
        "owners_committee",
        f"/consultations/{cid}/convene",
        {
            "meets_at": MEETS_AT,
            "place": "社区党群服务中心",
            "method": "vote",
            "motion": "在2号楼东侧加装电动车充电桩",
            "matter": "ordinary",
        },
    )
    return cid, convened


def test_an_owner_of_two_units_is_one_owner_with_both_areas_and_votes_once_spc_art_9(
    api: Api,
) -> None:
    """P owns units 201 (100 m²) and 202 (80 m²); the world's households 101,
    102 and 103 (90 m² each) have no owner person. 5 households, 4 owners."""
    world = api.world
    h101, h102, h103 = (str(h) for h in world.households)
    p = world.services.people.register("业主甲", created_by="test")

    building = api.ok(
        "staff", f"/compounds/{world.compound_id}/buildings", {"name": "2号楼"}
    )["part_id"]
    h201 = add_household(api, building, "201", "100", owner_id=p.id)["part_id"]
    added = add_household(api, building, "202", "80", owner_id=p.id, owner_name="业主甲")
    h202 = added["part_id"]

    compound = view(api, f"/compounds/{world.compound_id}", added["position"])
    owners = {h["id"]: h["owner_id"] for h in compound["households"]}
    assert owners == {h101: None, h102: None, h103: None, h201: p.id, h202: p.id}

    # P has a resident credential for each of their units; a tenant lives in 201.
    resident_credential(api, "p@201", p.id, h201)
    resident_credential(api, "p@202", p.id, h202)
    tenant = world.services.people.register("租户丙", created_by="test")
    resident_credential(api, "tenant@201", tenant.id, h201)

    cid, convened = convene_by_owners(api)
    c = view(api, f"/consultations/{cid}", convened["position"])
    assert c["electorate_source"] == "households"
    assert c["electorate_size"] == 4  # owners: P, 101, 102, 103 (5 households)
    assert c["total_area"] == "450"  # 180 + 90 + 90 + 90

    trail = view(api, f"/consultations/{cid}/history", convened["position"])["events"]
    (convening,) = [e for e in trail if e["event_type"] == "Convened"]
    assert convening["data"]["electorate"] == [
        {"owner_id": h101, "exclusive_area": "90", "households": [h101]},
        {"owner_id": h102, "exclusive_area": "90", "households": [h102]},
        {"owner_id": h103, "exclusive_area": "90", "households": [h103]},
        {"owner_id": p.id, "exclusive_area": "180", "households": [h201, h202]},
    ]

    votes = f"/consultations/{cid}/votes"
    api.ok("p@201", votes, {"choice": "for"})
    # P votes once, whichever of their units' credentials they use, and staff
    # cannot record a second vote for P either.
    before = api.log_position()
    again = api.post("p@202", votes, {"choice": "against"})
    assert again.status_code == 409, again.text
    assert "already voted" in again.json()["detail"]
    for_p = api.post("staff", votes, {"choice": "against", "owner_id": p.id})
    assert for_p.status_code == 409
    # Unit 202 is not an owner of its own: it is P's.
    as_unit = api.post("staff", votes, {"choice": "against", "owner_id": h202})
    assert as_unit.status_code == 422
    assert as_unit.json()["detail"][0]["loc"] == ["body", "owner_id"]
    # Someone living in P's unit who is not P does not vote.
    not_owner = api.post("tenant@201", votes, {"choice": "for"})
    assert not_owner.status_code == 403
    assert "not in the electorate" in not_owner.json()["detail"]
    assert api.log_position() == before

    # Households without an owner person vote as before, by household.
    api.ok("resident", votes, {"choice": "for"})  # 101
    api.ok("resident2", votes, {"choice": "against"})  # 102
    last = api.ok("staff", votes, {"choice": "against", "owner_id": h103})
    c = view(api, f"/consultations/{cid}", last["position"])
    assert c["votes_cast"] == 4
    assert c["voted_area"] == "450"

    closed = api.ok("party_branch", f"/consultations/{cid}/close-vote")
    c = view(api, f"/consultations/{cid}", closed["position"])
    result = c["result"]
    # By owners: all 4 owners (450 of 450 m²) took part: 1/1 and 1/1.
    assert result["participation"]["owners"] == "1/1"
    assert result["participation"]["area"] == "1/1"
    assert result["participation"]["total_owners"] == 4
    assert result["participation"]["total_area_m2"] == "450"
    # For: P (180) and 101 (90): 270 of 450 m² = 3/5, more than half; but
    # 2 of 4 owners = 1/2, not more than half: rejected.
    # (Per household it would be 3 of 5 households for, 3/5, and adopted.)
    assert result["approval"]["area"] == "3/5"
    assert result["approval"]["owners"] == "1/2"
    assert result["approval"]["for_owners"] == 2
    assert result["counts"] == {"for": 2, "against": 2, "abstain": 0}
    assert c["outcome"] == "rejected"

    trail = view(api, f"/consultations/{cid}/history", closed["position"])["events"]
    cast = [e for e in trail if e["event_type"] == "VoteCast"]
    assert [(e["actor_id"], e["data"]["owner_id"], e["data"]["exclusive_area"]) for e in cast] == [
        (p.id, p.id, "180"),
        (world.actors["resident"].id, h101, "90"),
        (world.actors["resident2"].id, h102, "90"),
        (world.actors["staff"].id, h103, "90"),
    ]
    assert [e["data"]["on_behalf_of_owner"] for e in cast] == [False, False, False, True]


def test_quorum_counts_owners_not_households(api: Api) -> None:
    """P owns 201 (100 m²), 202 (80 m²) and 203 (90 m²); 101, 102 and 103
    are 90 m² each and have no owner person: 6 households, 540 m².

    By owners: P (270 m²), 101, 102, 103 = 4 owners. P and 101 vote: 360 of
    540 m² = 2/3 (enough: "at least") but 2 of 4 owners = 1/2, less than 2/3:
    no quorum. Per household it would be 4 of 6 households = 2/3 taking part,
    a quorum, and the motion adopted by all of them.
    """
    world = api.world
    p = world.services.people.register("业主甲", created_by="test")
    building = api.ok(
        "staff", f"/compounds/{world.compound_id}/buildings", {"name": "2号楼"}
    )["part_id"]
    h201 = add_household(api, building, "201", "100", owner_id=p.id)["part_id"]
    add_household(api, building, "202", "80", owner_id=p.id)
    add_household(api, building, "203", "90", owner_id=p.id)
    resident_credential(api, "p", p.id, h201)

    cid, convened = convene_by_owners(api)
    c = view(api, f"/consultations/{cid}", convened["position"])
    assert (c["electorate_size"], c["total_area"]) == (4, "540")

    votes = f"/consultations/{cid}/votes"
    api.ok("p", votes, {"choice": "for"})
    api.ok("resident", votes, {"choice": "for"})
    closed = api.ok("party_branch", f"/consultations/{cid}/close-vote")
    c = view(api, f"/consultations/{cid}", closed["position"])
    result = c["result"]
    assert result["participation"]["area"] == "2/3"
    assert result["participation"]["owners"] == "1/2"
    assert result["participation"]["owners_count"] == 2
    assert result["participation"]["total_owners"] == 4
    assert result["participation"]["reached"] is False
    assert result["outcome"] == "no_quorum"
    assert c["status"] == "no_quorum"


def test_an_owner_id_not_in_the_registry_is_refused_and_nothing_is_written(api: Api) -> None:
    world = api.world
    staff = world.actors["staff"]
    building = str(next(iter(world.services.app.get_compound(staff, world.compound_id).buildings)))
    path = f"/compounds/{world.compound_id}/households"
    before = api.log_position()
    for unknown in (str(uuid.uuid4()), "nobody", "  "):
        body = {
            "building_id": building,
            "number": "909",
            "exclusive_area": "90",
            "owner_id": unknown,
        }
        response = api.post("staff", path, body)
        assert response.status_code == 422, response.text
        (detail,) = response.json()["detail"]
        assert detail["loc"] == ["body", "owner_id"]
        assert "no such person" in detail["msg"]
    assert api.log_position() == before
    compound = world.services.app.get_compound(world.actors["staff"], world.compound_id)
    assert len(compound.households) == 3

    # A registered person is accepted, and the household shows the owner's id.
    owner = world.services.people.register("业主乙", created_by="test")
    body = {"building_id": building, "number": "909", "exclusive_area": "90", "owner_id": owner.id}
    added = api.ok("staff", path, body)
    row = view(api, f"/compounds/{world.compound_id}", added["position"])
    (household,) = [h for h in row["households"] if h["id"] == added["part_id"]]
    assert household["owner_id"] == owner.id
    assert household["owner_name"] == "业主乙"  # the registry's name, not the log's


def test_a_household_stored_before_persons_loads_and_is_its_own_owner(api: Api) -> None:
    """A HouseholdAdded event as release 0.1 stored it (same topic, no
    ``owner_id``, no ``class_version``) loads with no owner person, shows
    in the compound's view, and is one owner of a vote, keyed by its id."""
    world = api.world
    services = world.services
    app = services.app
    compound = app.repository.get(world.compound_id)
    assert isinstance(compound, Compound)
    building = next(iter(compound.buildings))
    household = compound.add_household(
        by=world.actors["staff"],
        building_id=building,
        number="104",
        exclusive_area=Decimal("75.5"),
    )
    (event,) = compound.collect_events()
    mapper = app.mapper
    assert mapper.cipher is None and mapper.compressor is None
    new = mapper.to_stored_event(event)
    state = mapper.transcoder.decode(new.state)
    assert state.pop("class_version") == 2
    assert state.pop("owner_id") is None
    state["owner_name"] = "老住户"  # display text, as releases before 0.4 wrote it
    old = StoredEvent(
        originator_id=new.originator_id,
        originator_version=new.originator_version,
        topic="domain.compound:Compound.HouseholdAdded",
        state=mapper.transcoder.encode(state),
    )
    assert new.topic == old.topic
    (position,) = app.recorder.insert_events([old])  # type: ignore[misc]

    loaded = app.get_compound(world.actors["staff"], world.compound_id)
    assert loaded.households[household]["owner_id"] is None
    assert loaded.households[household]["owner_name"] == "老住户"
    row = view(api, f"/compounds/{world.compound_id}", position)
    (shown,) = [h for h in row["households"] if h["id"] == str(household)]
    assert (shown["owner_id"], shown["owner_name"], shown["exclusive_area"]) == (
        None,
        "老住户",
        "75.5",
    )

    cid, convened = convene_by_owners(api)
    trail = view(api, f"/consultations/{cid}/history", convened["position"])["events"]
    (convening,) = [e for e in trail if e["event_type"] == "Convened"]
    assert convening["data"]["electorate"][-1] == {
        "owner_id": str(household),
        "exclusive_area": "75.5",
        "households": [str(household)],
    }
    assert convening["data"]["total_owners"] == 4

"""Compounds with their buildings and households, and parties (DESIGN 2.5)."""

from __future__ import annotations

import json
from decimal import Decimal
from uuid import UUID

import pytest
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    UUIDAsHex,
)

from domain.actor import Actor, Role
from domain.compound import Compound
from domain.errors import Conflict, InvalidValue
from domain.party import Party

STAFF = Actor("staff-1", Role.COMMUNITY_STAFF)
COMPOUND_ID = UUID("00000000-0000-4000-8000-000000000001")
OWNER_P = "6f1c2a3e-0b4d-4e5f-8a9b-0c1d2e3f4a5b"  # a person's id in the registry


def new_compound() -> Compound:
    return Compound.register(by=STAFF, name="幸福里小区", community="和平社区", address="和平路1号")


@pytest.fixture
def compound() -> Compound:
    return new_compound()


@pytest.fixture
def building(compound: Compound) -> UUID:
    return compound.add_building(by=STAFF, name="1号楼")


# ----- Compound ----------------------------------------------------------------


def test_register_compound(compound: Compound) -> None:
    assert compound.name == "幸福里小区"
    assert compound.community == "和平社区"
    assert compound.address == "和平路1号"
    assert compound.buildings == {}
    assert compound.households == {}
    (event,) = compound.pending_events
    assert isinstance(event, Compound.Registered)
    assert (event.actor_id, event.actor_role) == ("staff-1", "community_staff")
    assert event.timestamp.utcoffset() is not None


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "  "}, "name"),
        ({"name": "小" * 101}, "name"),
        ({"name": "小区\x00"}, "name"),
        ({"name": "小区", "community": "社" * 101}, "community"),
        ({"name": "小区", "address": "路" * 201}, "address"),
    ],
)
def test_register_compound_rejects_bad_text(kwargs: dict, field: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Compound.register(by=STAFF, **kwargs)

    assert refused.value.field == field


def test_add_building(compound: Compound) -> None:
    first = compound.add_building(by=STAFF, name="1号楼")
    second = compound.add_building(by=STAFF, name="2号楼")

    assert first != second
    assert compound.has_building(first) and compound.has_building(second)
    assert compound.buildings[first] == {"name": "1号楼"}
    assert compound.version == 3
    event = compound.pending_events[-1]
    assert isinstance(event, Compound.BuildingAdded)
    assert (event.building_id, event.name, event.actor_id) == (second, "2号楼", "staff-1")


@pytest.mark.parametrize("name", ["1号楼", " 1号楼 "])
def test_duplicate_building_name_is_a_conflict(
    compound: Compound, building: UUID, name: str
) -> None:
    version = compound.version

    with pytest.raises(Conflict):
        compound.add_building(by=STAFF, name=name)

    assert compound.version == version
    assert len(compound.buildings) == 1


def test_same_building_name_in_another_compound_is_fine(compound: Compound, building: UUID) -> None:
    other = new_compound()

    assert other.has_building(other.add_building(by=STAFF, name="1号楼"))


def test_building_needs_a_name(compound: Compound) -> None:
    with pytest.raises(InvalidValue) as refused:
        compound.add_building(by=STAFF, name=" ")

    assert refused.value.field == "name"


def test_add_household_names_its_owner_by_person_id_never_by_name(
    compound: Compound, building: UUID
) -> None:
    """A name is personal data (domain/personal.py): a household's event
    carries the owner's person id only, the name is the registry's."""
    household = compound.add_household(
        by=STAFF,
        building_id=building,
        number="2-301",
        exclusive_area=Decimal("89.45"),
        owner_id="person-1",
    )

    assert compound.has_household(household)
    assert compound.owner_of(household) == "person-1"
    assert compound.households[household] == {
        "building_id": building,
        "number": "2-301",
        "exclusive_area": Decimal("89.45"),
        "owner_name": None,
        "owner_id": "person-1",
    }
    event = compound.pending_events[-1]
    assert isinstance(event, Compound.HouseholdAdded)
    assert event.exclusive_area == Decimal("89.45")
    assert event.actor_role == "community_staff"
    assert event.owner_id == "person-1"
    assert event.owner_name is None


def test_a_household_is_owned_by_a_person_named_by_id(compound: Compound, building: UUID) -> None:
    """The owner is a person of the registry (the caller checks it exists);
    the event records the person's id, and a name only as display text."""
    first = compound.add_household(
        by=STAFF,
        building_id=building,
        number="101",
        exclusive_area=Decimal("100"),
        owner_id=f"  {OWNER_P}  ",
    )
    second = compound.add_household(
        by=STAFF, building_id=building, number="102", exclusive_area=Decimal("80"), owner_id=OWNER_P
    )

    assert compound.households[first]["owner_id"] == OWNER_P
    assert compound.households[second]["owner_id"] == OWNER_P
    added = compound.pending_events[-2:]
    assert [e.owner_id for e in added] == [OWNER_P, OWNER_P]  # type: ignore[attr-defined]
    assert Compound.HouseholdAdded.class_version == 2


@pytest.mark.parametrize("owner_id", ["x" * 101, "p\x00"])
def test_a_bad_owner_id_is_refused(compound: Compound, building: UUID, owner_id: str) -> None:
    version = compound.version
    with pytest.raises(InvalidValue) as refused:
        compound.add_household(
            by=STAFF,
            building_id=building,
            number="101",
            exclusive_area=Decimal("80"),
            owner_id=owner_id,
        )
    assert refused.value.field == "owner_id"
    assert compound.version == version


def _mapper() -> Mapper[UUID]:
    """A mapper as the application's: the library's JSON transcoder with its
    default transcodings (the app registers no others)."""
    transcoder = JSONTranscoder()
    for transcoding in (UUIDAsHex(), DecimalAsStr(), DatetimeAsISO()):
        transcoder.register(transcoding)
    return Mapper(transcoder=transcoder)


def test_a_household_event_stored_before_persons_loads_without_an_owner(
    compound: Compound, building: UUID
) -> None:
    """Version 1 of HouseholdAdded (stored before the person registry) has no
    ``owner_id`` and no ``class_version``: it is upcast to an owner of None."""
    compound.add_household(
        by=STAFF,
        building_id=building,
        number="101",
        exclusive_area=Decimal("90.5"),
    )
    mapper = _mapper()
    stored = [mapper.to_stored_event(e) for e in compound.collect_events()]
    new_state = json.loads(stored[-1].state)
    assert new_state["class_version"] == 2
    assert new_state["owner_id"] is None
    # The same event as release 0.1 stored it: same topic, no owner_id, no class_version.
    old_state = {k: v for k, v in new_state.items() if k not in ("owner_id", "class_version")}
    old_state["owner_name"] = "张三"  # display text, as releases before 0.4 wrote it
    stored[-1] = StoredEvent(
        originator_id=stored[-1].originator_id,
        originator_version=stored[-1].originator_version,
        topic=stored[-1].topic,
        state=json.dumps(old_state).encode(),
    )
    assert stored[-1].topic == "domain.compound:Compound.HouseholdAdded"

    events = [mapper.to_domain_event(s) for s in stored]
    old = events[-1]
    assert isinstance(old, Compound.HouseholdAdded)
    assert old.owner_id is None
    assert old.owner_name == "张三"
    assert old.exclusive_area == Decimal("90.5")
    loaded: Compound | None = None
    for event in events:
        loaded = event.mutate(loaded)  # type: ignore[attr-defined]
    assert loaded is not None
    (household,) = loaded.households.values()
    assert household["owner_id"] is None
    assert household["owner_name"] == "张三"

    # And the upcast alone, on a v1 state dict.
    state = {"household_id": "x", "owner_name": None}
    Compound.HouseholdAdded.upcast_v1_v2(state)
    assert state == {"household_id": "x", "owner_name": None, "owner_id": None}


def test_household_in_unknown_building_is_invalid(compound: Compound, building: UUID) -> None:
    other = new_compound()
    elsewhere = other.add_building(by=STAFF, name="9号楼")
    version = compound.version

    for unknown in (UUID("00000000-0000-4000-8000-00000000dead"), elsewhere):
        with pytest.raises(InvalidValue) as refused:
            compound.add_household(
                by=STAFF, building_id=unknown, number="101", exclusive_area=Decimal("80")
            )
        assert refused.value.field == "building_id"

    assert compound.version == version
    assert compound.households == {}


@pytest.mark.parametrize(
    "area", [Decimal("0"), Decimal("-1"), Decimal("-0.01"), Decimal("100000.01")]
)
def test_household_area_must_be_positive_and_sane(
    compound: Compound, building: UUID, area: Decimal
) -> None:
    version = compound.version

    with pytest.raises(InvalidValue) as refused:
        compound.add_household(by=STAFF, building_id=building, number="101", exclusive_area=area)

    assert refused.value.field == "exclusive_area"
    assert compound.version == version


@pytest.mark.parametrize("area", [Decimal("0.01"), Decimal("100000")])
def test_household_area_bounds_are_accepted(
    compound: Compound, building: UUID, area: Decimal
) -> None:
    household = compound.add_household(
        by=STAFF, building_id=building, number="101", exclusive_area=area
    )

    assert compound.households[household]["exclusive_area"] == area


def test_duplicate_household_number_in_a_building_is_a_conflict(
    compound: Compound, building: UUID
) -> None:
    compound.add_household(
        by=STAFF, building_id=building, number="101", exclusive_area=Decimal("80")
    )
    other_building = compound.add_building(by=STAFF, name="2号楼")

    with pytest.raises(Conflict):
        compound.add_household(
            by=STAFF, building_id=building, number="101", exclusive_area=Decimal("90")
        )
    # The same number in another building is another household.
    compound.add_household(
        by=STAFF, building_id=other_building, number="101", exclusive_area=Decimal("90")
    )

    assert len(compound.households) == 2


# ----- Party ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "kind", ["property_company", "owners_committee", "party_branch", "co_building_unit"]
)
def test_register_party(kind: str) -> None:
    party = Party.register(
        by=STAFF, compound_id=COMPOUND_ID, kind=kind, name="某某物业", contact="0571-12345678"
    )

    assert (party.compound_id, party.kind, party.name, party.contact) == (
        COMPOUND_ID,
        kind,
        "某某物业",
        "0571-12345678",
    )
    (event,) = party.pending_events
    assert isinstance(event, Party.Registered)
    assert (event.actor_id, event.actor_role) == ("staff-1", "community_staff")


@pytest.mark.parametrize(
    "kind",
    ["resident", "community_staff", "supervisor", "admin", "grid_worker", "", "Property_Company"],
)
def test_register_party_rejects_bad_kind(kind: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Party.register(by=STAFF, compound_id=COMPOUND_ID, kind=kind, name="某单位")

    assert refused.value.field == "kind"


@pytest.mark.parametrize("name", ["", "   ", "名" * 101, "物业\x00"])
def test_register_party_rejects_bad_name(name: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Party.register(by=STAFF, compound_id=COMPOUND_ID, kind="property_company", name=name)

    assert refused.value.field == "name"


def test_a_party_has_no_event_but_its_registration() -> None:
    """The application shares one kept copy of a party and never reads it again
    (LinliBase.get_party): an event that changed a party must end that first."""
    from eventsourcing.domain import Aggregate

    events = [
        value
        for value in vars(Party).values()
        if isinstance(value, type) and issubclass(value, Aggregate.Event)
    ]
    assert Party.Registered in events
    assert all(issubclass(e, Aggregate.Created) for e in events if e is not Party.Event)

"""Compounds (小区) with their buildings (楼栋) and households (户)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate

from domain.actor import Actor
from domain.errors import Conflict, InvalidValue
from domain.text import optional_text, required_text


class Compound(Aggregate):
    """A gated residential estate and what it is made of."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Registered(Event, Aggregate.Created):
        name: str
        community: str | None
        address: str | None

        def apply(self, compound: Compound) -> None:
            compound.name = self.name
            compound.community = self.community
            compound.address = self.address
            compound.buildings = {}
            compound.households = {}

    class BuildingAdded(Event):
        building_id: UUID
        name: str

        def apply(self, compound: Compound) -> None:
            compound.buildings[self.building_id] = {"name": self.name}

    class HouseholdAdded(Event):
        """A household (户, one exclusive part 专有部分) and who owns it.

        ``owner_id`` is the owning person's id in the person registry, or None
        when no owner person is recorded. ``owner_name`` is what releases
        before release 0.4 recorded as display text; a name is personal data,
        so new events leave it None (the name is in the registry, which an
        erasure blanks; domain/personal.py). Version 1 (before persons) had
        no ``owner_id``.
        """

        class_version = 2

        household_id: UUID
        building_id: UUID
        number: str
        exclusive_area: Decimal
        owner_name: str | None
        owner_id: str | None

        @staticmethod
        def upcast_v1_v2(state: dict[str, Any]) -> None:
            state["owner_id"] = None

        def apply(self, compound: Compound) -> None:
            compound.households[self.household_id] = {
                "building_id": self.building_id,
                "number": self.number,
                "exclusive_area": self.exclusive_area,
                "owner_name": self.owner_name,
                "owner_id": self.owner_id,
            }

    @classmethod
    def register(
        cls,
        *,
        by: Actor,
        name: str,
        community: str | None = None,
        address: str | None = None,
        id: UUID | None = None,  # noqa: A002 - the library's name
    ) -> Compound:
        return cls._create(
            cls.Registered,
            id=id,
            actor_id=by.id,
            actor_role=str(by.role),
            name=required_text("name", name, 100),
            community=optional_text("community", community, 100),
            address=optional_text("address", address, 200),
        )

    def add_building(self, *, by: Actor, name: str) -> UUID:
        name = required_text("name", name, 50)
        if any(b["name"] == name for b in self.buildings.values()):
            raise Conflict(f"building '{name}' already exists in this compound")
        building_id = uuid4()
        self.trigger_event(
            self.BuildingAdded,
            actor_id=by.id,
            actor_role=str(by.role),
            building_id=building_id,
            name=name,
        )
        return building_id

    def add_household(
        self,
        *,
        by: Actor,
        building_id: UUID,
        number: str,
        exclusive_area: Decimal,
        owner_id: str | None = None,
    ) -> UUID:
        """Add a household; ``owner_id`` is a registered person's id (the
        caller checks the registry)."""
        if building_id not in self.buildings:
            raise InvalidValue("building_id", "no such building in this compound")
        number = required_text("number", number, 30)
        if any(
            h["building_id"] == building_id and h["number"] == number
            for h in self.households.values()
        ):
            raise Conflict(f"household '{number}' already exists in this building")
        if not Decimal("0") < exclusive_area <= Decimal("100000"):
            raise InvalidValue("exclusive_area", "must be more than 0 and at most 100000 m²")
        household_id = uuid4()
        self.trigger_event(
            self.HouseholdAdded,
            actor_id=by.id,
            actor_role=str(by.role),
            household_id=household_id,
            building_id=building_id,
            number=number,
            exclusive_area=exclusive_area,
            owner_name=None,
            owner_id=optional_text("owner_id", owner_id, 100),
        )
        return household_id

    def has_building(self, building_id: UUID) -> bool:
        return building_id in self.buildings

    def has_household(self, household_id: UUID) -> bool:
        return household_id in self.households

    def owner_of(self, household_id: UUID) -> str | None:
        """The household's owner person's id, if one is recorded."""
        household = self.households.get(household_id)
        return household.get("owner_id") if household else None

"""A small world for application and API tests: one compound (and a second
one), its parties, and a credential for each role."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from domain.actor import PARTY_ROLES, Actor, Role
from infrastructure.store import Services


@dataclass
class World:
    services: Services
    compound_id: UUID
    other_compound_id: UUID
    households: list[UUID]
    parties: dict[str, UUID]
    other_property_company: UUID
    tokens: dict[str, str] = field(default_factory=dict)
    actors: dict[str, Actor] = field(default_factory=dict)

    def headers(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}


# Who registers the test compounds and parties: community staff of every
# compound (an administrator only issues credentials).
REGISTRAR = Actor("setup-staff", Role.COMMUNITY_STAFF, compound_ids=None)


def build_world(services: Services) -> World:
    app = services.app
    compound = app.register_compound(REGISTRAR, name="幸福里小区", community="和平社区").id
    other = app.register_compound(REGISTRAR, name="光明苑").id
    building, _ = app.add_building(REGISTRAR, compound, name="1号楼")
    households = [
        app.add_household(
            REGISTRAR, compound, building_id=building, number=f"10{i}", exclusive_area=Decimal("90")
        )[0]
        for i in range(1, 4)
    ]
    parties = {
        kind: app.register_party(REGISTRAR, compound_id=compound, kind=kind, name=f"{kind} 甲").id
        for kind in sorted(PARTY_ROLES)
    }
    other_pc = app.register_party(
        REGISTRAR, compound_id=other, kind="property_company", name="光明物业"
    ).id
    world = World(services, compound, other, households, parties, other_pc)
    credentials = services.credentials
    mine = [compound]

    def issue(name: str, role: Role, compounds: list[UUID] | None, **extra: UUID) -> None:
        person = services.people.register(name, created_by="test")
        issued = credentials.issue(person_id=person.id, role=role, compound_ids=compounds, **extra)
        world.tokens[name] = issued.token
        world.actors[name] = issued.actor

    issue("resident", Role.RESIDENT, mine, household_id=households[0])
    issue("resident2", Role.RESIDENT, mine, household_id=households[1])
    issue("grid_worker", Role.GRID_WORKER, mine)
    issue("staff", Role.COMMUNITY_STAFF, mine)
    issue("other_staff", Role.COMMUNITY_STAFF, [other])
    issue("supervisor", Role.SUPERVISOR, None)
    issue("admin", Role.ADMIN, None)
    for kind in sorted(PARTY_ROLES):
        issue(kind, Role(kind), mine, party_id=parties[kind])
    issue("other_property", Role.PROPERTY_COMPANY, [other], party_id=other_pc)
    return world


def commitment_in_effect(world: World, items: list[dict[str, object]]) -> UUID:
    """A service list for the world's property company, drafted and confirmed
    by all three parties, so in effect at version 1."""
    app = world.services.app
    commitment_id = app.draft_commitment(
        world.actors["party_branch"],
        compound_id=world.compound_id,
        provider_party_id=world.parties["property_company"],
        title="物业服务清单",
        items=items,
    ).id
    for who in ("party_branch", "owners_committee", "property_company"):
        app.confirm_commitment(world.actors[who], commitment_id, list_version=1)
    return commitment_id

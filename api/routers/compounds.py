"""Compounds, their buildings and households; and the parties that serve them."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends

from api.routing import Route
from api import responses as rs
from api import schemas as s
from api.deps import ExpectedVersion, ServicesDep, requires, wait_for_views
from api.export import Format, csv_response
from api.routers.needs import After
from application.access import ensure_compound_visible
from domain.actor import Actor, Role
from domain.errors import InvalidValue, NotFound
from infrastructure.store import Services

router = APIRouter(route_class=Route, tags=["compounds and parties"])


def _scope(actor: Actor) -> list[str] | None:
    return None if actor.compound_ids is None else [str(c) for c in actor.compound_ids]


# Who sees each household's owner (name and person id) and exclusive area:
# the roles that work with owners (community staff, the street's supervisors,
# grid workers, the party branch, the owners' committee, administrators).
# Residents and the providers' staff (property company, co-building units)
# see the buildings and the households' labels only.
OWNER_FIELDS = ("owner_name", "owner_id", "exclusive_area")
WITHOUT_OWNERS = frozenset({Role.RESIDENT, Role.PROPERTY_COMPANY, Role.CO_BUILDING_UNIT})


def for_reader(
    row: dict[str, Any], actor: Actor, names: dict[str, str] | None = None
) -> dict[str, Any]:
    """A compound's row as ``actor`` may read it; ``names`` are the owner
    persons' display names (the registry's, which the log does not hold)."""
    if actor.role not in WITHOUT_OWNERS:
        if not names:
            return row
        households = [
            {**h, "owner_name": names.get(h.get("owner_id") or "", h.get("owner_name"))}
            for h in row.get("households", ())
        ]
        return {**row, "households": households}
    households = [
        {k: v for k, v in household.items() if k not in OWNER_FIELDS}
        for household in row.get("households", ())
    ]
    return {**row, "households": households}


@router.post("/compounds", status_code=201, response_model=s.Recorded)
def register_compound(
    body: s.CompoundRegister,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("compound.register"))],
) -> s.Recorded:
    r = services.app.register_compound(actor, **body.model_dump())
    return s.Recorded(id=r.id, version=r.version, position=r.position)


@router.post("/compounds/{compound_id}/buildings", status_code=201, response_model=s.AddedPart)
def add_building(
    compound_id: UUID,
    body: s.BuildingAdd,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("compound.change"))],
    version: ExpectedVersion,
) -> s.AddedPart:
    part, r = services.app.add_building(
        actor, compound_id, name=body.name, expected_version=version
    )
    return s.AddedPart(id=r.id, version=r.version, position=r.position, part_id=part)


@router.post("/compounds/{compound_id}/households", status_code=201, response_model=s.AddedPart)
def add_household(
    compound_id: UUID,
    body: s.HouseholdAdd,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("compound.change"))],
    version: ExpectedVersion,
) -> s.AddedPart:
    fields = body.model_dump()
    owner_name = fields.pop("owner_name")
    if body.owner_id is not None:
        # The owner is a registered person; nothing is written for an unknown id.
        ensure_compound_visible(actor, compound_id)
        owner = services.people.get(body.owner_id.strip())
        if owner is None:
            raise InvalidValue("owner_id", "no such person")
        if owner_name is not None and owner_name.strip() != owner.display_name:
            raise InvalidValue(
                "owner_name",
                f"person {owner.id} is registered under another name; leave owner_name out",
            )
        fields["owner_id"] = owner.id
    elif owner_name is not None and owner_name.strip():
        # A name alone: the owner becomes a person of the registry (the name is
        # kept there, not in the log, so that it can be erased).
        compound = services.app.get_compound(actor, compound_id)  # 404 before any write
        if not compound.has_building(body.building_id):
            raise InvalidValue("building_id", "no such building in this compound")
        try:
            owner = services.people.register(owner_name, created_by=actor.id)
        except InvalidValue as error:
            raise InvalidValue("owner_name", error.message.removeprefix("name: ")) from None
        fields["owner_id"] = owner.id
    part, r = services.app.add_household(
        actor, compound_id, **fields, expected_version=version
    )
    return s.AddedPart(id=r.id, version=r.version, position=r.position, part_id=part)


@router.get("/compounds", response_model=rs.CompoundList, response_model_exclude_unset=True)
def list_compounds(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("compound.read"))],
    after: After = None,
    format: Format = "json",  # noqa: A002
) -> Any:
    wait_for_views(services, after)
    found = list(services.views.iter_cases("compound", _scope(actor)))
    names = _owner_names(services, found, actor)
    rows = (for_reader(row, actor, names) for row in found)
    if format == "csv":
        columns = ("id", "name", "community", "address", "buildings", "households", "version")
        return csv_response(rows, columns, "compounds.csv")
    return {"items": list(rows)}


@router.get("/compounds/{compound_id}", response_model=rs.Compound, response_model_exclude_unset=True)
def get_compound(
    compound_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("compound.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    ensure_compound_visible(actor, compound_id)
    row = services.views.case("compound", str(compound_id))
    if row is None:
        raise NotFound("compound not found")
    return for_reader(row, actor, _owner_names(services, [row], actor))


def _owner_names(services: Services, rows: list[dict[str, Any]], actor: Actor) -> dict[str, str]:
    if actor.role in WITHOUT_OWNERS:
        return {}
    owners = {h.get("owner_id") for row in rows for h in row.get("households", ())}
    return services.people.names(owners - {None})


@router.post("/parties", status_code=201, response_model=s.Recorded)
def register_party(
    body: s.PartyRegister,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("party.register"))],
) -> s.Recorded:
    r = services.app.register_party(actor, **body.model_dump())
    return s.Recorded(id=r.id, version=r.version, position=r.position)


@router.get("/parties", response_model=rs.PartyList, response_model_exclude_unset=True)
def list_parties(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("party.read"))],
    compound_id: UUID | None = None,
    after: After = None,
    format: Format = "json",  # noqa: A002
) -> Any:
    wait_for_views(services, after)
    scope = _scope(actor)
    if compound_id is not None:
        scope = [str(compound_id)] if scope is None or str(compound_id) in scope else []
    rows = services.views.iter_cases("party", scope)
    if format == "csv":
        columns = ("id", "compound_id", "kind", "kind_zh", "name", "contact", "version")
        return csv_response(rows, columns, "parties.csv")
    return {"items": list(rows)}

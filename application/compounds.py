"""Commands on compounds (with buildings and households) and parties."""

from __future__ import annotations

from decimal import Decimal
from uuid import UUID

from application.access import authorize, ensure_compound_visible
from application.base import LinliBase, Recorded
from domain.actor import Actor
from domain.compound import Compound
from domain.party import Party


class CompoundCommands(LinliBase):

    def register_compound(
        self, by: Actor, *, name: str, community: str | None = None, address: str | None = None
    ) -> Recorded:
        authorize(by, "compound.register")
        return self._create(
            Compound.register(
                by=by, name=name, community=community, address=address, id=self.new_id()
            )
        )

    def get_compound(self, by: Actor, compound_id: UUID) -> Compound:
        authorize(by, "compound.read")
        ensure_compound_visible(by, compound_id)
        return self._load(Compound, compound_id, "compound")

    def add_building(
        self, by: Actor, compound_id: UUID, *, name: str, expected_version: int | None = None
    ) -> tuple[UUID, Recorded]:
        authorize(by, "compound.change")
        ensure_compound_visible(by, compound_id)
        extra: dict[str, str] = {}
        recorded = self._run(
            compound_id,
            Compound,
            "compound",
            lambda c: extra.update(part_id=str(c.add_building(by=by, name=name))),
            expected_version,
            extra,
        )
        return UUID(recorded.extra["part_id"]), recorded

    def add_household(
        self,
        by: Actor,
        compound_id: UUID,
        *,
        building_id: UUID,
        number: str,
        exclusive_area: Decimal,
        owner_name: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[UUID, Recorded]:
        authorize(by, "compound.change")
        ensure_compound_visible(by, compound_id)
        extra: dict[str, str] = {}
        recorded = self._run(
            compound_id,
            Compound,
            "compound",
            lambda c: extra.__setitem__(
                "part_id",
                str(
                    c.add_household(
                    by=by,
                    building_id=building_id,
                    number=number,
                    exclusive_area=exclusive_area,
                        owner_name=owner_name,
                    )
                ),
            ),
            expected_version,
            extra,
        )
        return UUID(recorded.extra["part_id"]), recorded

    def register_party(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        kind: str,
        name: str,
        contact: str | None = None,
    ) -> Recorded:
        authorize(by, "party.register")
        self._visible_compound(by, compound_id, "compound_id")
        return self._create(
            Party.register(
                by=by,
                compound_id=compound_id,
                kind=kind,
                name=name,
                contact=contact,
                id=self.new_id(),
            )
        )

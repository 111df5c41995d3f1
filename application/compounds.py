"""Commands on compounds (with buildings and households) and parties."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal
from uuid import UUID

from application.access import authorize, ensure_compound_visible
from application.base import LinliBase, Recorded
from domain.actor import PARTY_ROLES, Actor, Role
from application import household_import
from application.household_import import HouseholdRow, Owner
from domain.compound import Compound
from domain.errors import InvalidValue, NotFound
from domain.party import Party


# Roles whose credential may cover every compound, present and future.
ALL_COMPOUND_ROLES = frozenset({Role.SUPERVISOR, Role.ADMIN, Role.COMMUNITY_STAFF})


class CompoundCommands(LinliBase):

    def check_credential_scope(
        self,
        role: Role,
        compound_ids: Sequence[UUID] | None,
        *,
        household_id: UUID | None = None,
        party_id: UUID | None = None,
    ) -> None:
        """Whether a credential of ``role`` for these compounds, household and
        party can be issued: each must exist and fit the role (DESIGN section 1).
        Raises InvalidValue naming the option at fault."""
        if compound_ids is None:
            if role not in ALL_COMPOUND_ROLES:
                raise InvalidValue("compound", f"a {role} credential names its compounds")
            compound_ids = ()
        elif not compound_ids:
            raise InvalidValue("compound", "name at least one compound, or every compound")
        compounds = {}
        for compound_id in compound_ids:
            try:
                compounds[compound_id] = self._load(Compound, compound_id, "compound")
            except NotFound:
                raise InvalidValue("compound", f"no such compound: {compound_id}") from None
        if role == Role.RESIDENT:
            if household_id is None:
                raise InvalidValue("household", "a resident's credential names their household")
            if len(compounds) != 1:
                raise InvalidValue("compound", "a resident's credential names exactly one compound")
            (compound,) = compounds.values()
            if not compound.has_household(household_id):
                raise InvalidValue(
                    "household", f"no such household in compound {compound.id}: {household_id}"
                )
        elif household_id is not None:
            raise InvalidValue("household", f"only a resident's credential names a household, not a {role}'s")
        if role in PARTY_ROLES:
            if party_id is None:
                raise InvalidValue("party", f"a {role} credential names the party it acts for")
            try:
                party = self.get_party(party_id)
            except NotFound:
                raise InvalidValue("party", f"no such party: {party_id}") from None
            if party.kind != role:
                raise InvalidValue("party", f"party {party_id} is of kind {party.kind}, not {role}")
            if set(compounds) != {party.compound_id}:
                raise InvalidValue(
                    "party", f"party {party_id} serves compound {party.compound_id} only"
                )
        elif party_id is not None:
            raise InvalidValue("party", f"only a party's staff credential names a party, not a {role}'s")

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
        owner_id: str | None = None,
        expected_version: int | None = None,
    ) -> tuple[UUID, Recorded]:
        """``owner_id`` is a registered person's id (the caller checks the registry)."""
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
                        owner_id=owner_id,
                    )
                ),
            ),
            expected_version,
            extra,
        )
        return UUID(recorded.extra["part_id"]), recorded

    def import_households(
        self,
        by: Actor,
        compound_id: UUID,
        rows: Sequence[HouseholdRow],
        owners: Mapping[str, Owner],
    ) -> tuple[int, Recorded]:
        """Add the rows' units that the compound does not have yet, in one save;
        ImportRefused (nothing written) if any row contradicts the file, the
        compound or ``owners`` (each owner key's registered person, which every
        key of a new row must have by now). Returns how many were added."""
        authorize(by, "compound.change")
        ensure_compound_visible(by, compound_id)
        added = {"households": 0}

        def change(compound: Compound) -> None:
            new = household_import.plan(compound, rows, owners)
            added["households"] = household_import.apply(
                compound, by, new, lambda key: _registered(owners, key)
            )

        recorded = self._run(compound_id, Compound, "compound", change, None, added)
        return added["households"], recorded

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


def _registered(owners: Mapping[str, Owner], key: str) -> str:
    person_id = owners[key].person_id
    if person_id is None:
        raise InvalidValue("owner_key", f"owner {key} is not registered as a person yet")
    return person_id

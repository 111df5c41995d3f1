"""Parties (责任主体): property companies, owners' committees, party branches, co-building units."""

from __future__ import annotations

from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import PARTY_ROLES, Actor
from domain.errors import InvalidValue
from domain.text import optional_text, required_text

PARTY_KIND_LABELS_ZH = {
    "property_company": "物业服务企业",
    "owners_committee": "业主委员会",
    "party_branch": "小区党支部",
    "co_building_unit": "共建单位",
}


class Party(Aggregate):
    """An organisation that acts on needs in one compound.

    A party never changes once registered: its only event is ``Registered``.
    The application shares one copy of a party between its commands and
    never reads it again (``LinliBase.get_party``); an event that changed a
    party would have to end that."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Registered(Event, Aggregate.Created):
        compound_id: UUID
        kind: str
        name: str
        contact: str | None

        def apply(self, party: Party) -> None:
            party.compound_id = self.compound_id
            party.kind = self.kind
            party.name = self.name
            party.contact = self.contact

    @classmethod
    def register(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        kind: str,
        name: str,
        contact: str | None = None,
        id: UUID | None = None,  # noqa: A002 - the library's name
    ) -> Party:
        if kind not in PARTY_ROLES:
            raise InvalidValue(
                "kind", f"'{kind}' is not one of {', '.join(sorted(PARTY_ROLES))}"
            )
        return cls._create(
            cls.Registered,
            id=id,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            kind=kind,
            name=required_text("name", name, 100),
            contact=optional_text("contact", contact, 100),
        )

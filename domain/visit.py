"""Household visits (入户摸排): a grid worker's monthly call on a household."""

from __future__ import annotations

from datetime import datetime, tzinfo
from uuid import UUID

from eventsourcing.domain import Aggregate

from domain.actor import Actor, Role
from domain.errors import InvalidValue, NotPermitted
from domain.text import optional_text
from domain.times import VISIT_CLOCK_SKEW, client_time


class HouseholdVisit(Aggregate):
    """One visit; needs registered on the spot carry the visit's id."""

    class Event(Aggregate.Event):
        actor_id: str
        actor_role: str

    class Recorded(Event, Aggregate.Created):
        compound_id: UUID
        building_id: UUID
        household_id: UUID
        visited_at: datetime
        visited_on: str
        notes: str | None
        need_ids: list[UUID]
        # The household owner's (domain/personal.py); None in events before
        # release 0.4 and for a household without an owner person.
        subject_id: str | None = None

        personal_fields = ("notes",)

        def apply(self, visit: HouseholdVisit) -> None:
            visit.compound_id = self.compound_id
            visit.building_id = self.building_id
            visit.household_id = self.household_id
            visit.visited_at = self.visited_at
            visit.visited_on = self.visited_on
            visit.notes = self.notes
            visit.need_ids = list(self.need_ids)

    @classmethod
    def record(
        cls,
        *,
        by: Actor,
        compound_id: UUID,
        building_id: UUID,
        household_id: UUID,
        visited_at: datetime,
        timezone: tzinfo,
        now: datetime,
        notes: str | None = None,
        need_ids: list[UUID] | None = None,
        household_owner_id: str | None = None,
        id: UUID | None = None,  # noqa: A002 - the library's name
    ) -> HouseholdVisit:
        if by.role not in (Role.GRID_WORKER, Role.COMMUNITY_STAFF):
            raise NotPermitted("household visits are recorded by grid workers or community staff")
        visited_at = client_time("visited_at", visited_at)
        if visited_at > now + VISIT_CLOCK_SKEW:
            raise InvalidValue(
                "visited_at", f"{visited_at.isoformat()} is in the future; record a visit after it"
            )
        return cls._create(
            cls.Recorded,
            id=id,
            timestamp=now,
            actor_id=by.id,
            actor_role=str(by.role),
            compound_id=compound_id,
            building_id=building_id,
            household_id=household_id,
            visited_at=visited_at,
            visited_on=visited_at.astimezone(timezone).date().isoformat(),
            notes=optional_text("notes", notes, 2000),
            need_ids=list(need_ids or []),
            subject_id=household_owner_id or None,
        )

"""Household visits (入户摸排), which may register needs on the spot."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from application.access import R, authorize, register_permissions
from application.base import LinliBase, Recorded
from domain.actor import Actor
from domain.errors import InvalidValue
from domain.need import Need
from domain.visit import HouseholdVisit

register_permissions(
    {
        "visit.record": frozenset({R.GRID_WORKER, R.COMMUNITY_STAFF}),
        "visit.read": frozenset(
            {R.GRID_WORKER, R.COMMUNITY_STAFF, R.SUPERVISOR, R.PARTY_BRANCH, R.OWNERS_COMMITTEE}
        ),
    }
)

MAX_NEEDS_PER_VISIT = 20


class VisitCommands(LinliBase):
    def record_visit(
        self,
        by: Actor,
        *,
        compound_id: UUID,
        household_id: UUID,
        visited_at: datetime | None = None,
        notes: str | None = None,
        needs: list[dict[str, Any]] | None = None,
    ) -> tuple[Recorded, list[UUID]]:
        """Record a visit and the needs registered on the spot, in one transaction."""
        authorize(by, "visit.record")
        compound = self._visible_compound(by, compound_id, "compound_id")
        household = compound.households.get(household_id)
        if household is None:
            raise InvalidValue("household_id", "no such household in this compound")
        needs = needs or []
        if len(needs) > MAX_NEEDS_PER_VISIT:
            raise InvalidValue("needs", f"at most {MAX_NEEDS_PER_VISIT} needs per visit")
        now = datetime.now(UTC)
        visit_id = self.new_id()
        registered = [
            Need.register(
                by=by,
                id=self.new_id(n),
                compound_id=compound_id,
                source="household_visit",
                building_id=household["building_id"],
                household_id=household_id,
                visit_id=visit_id,
                household_owner_id=household.get("owner_id"),
                **need,
            )
            for n, need in enumerate(needs, 1)
        ]
        visit = HouseholdVisit.record(
            by=by,
            id=visit_id,
            compound_id=compound_id,
            building_id=household["building_id"],
            household_id=household_id,
            visited_at=visited_at or now,
            timezone=self.deadline_policy.calendar.timezone,
            now=now,
            notes=notes,
            need_ids=[n.id for n in registered],
            household_owner_id=household.get("owner_id"),
        )
        recorded = self._create(
            visit, *registered, extra={"need_ids": [str(n.id) for n in registered]}
        )
        return recorded, [UUID(n) for n in recorded.extra["need_ids"]]

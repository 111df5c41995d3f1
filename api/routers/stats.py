"""The figures supervisors audit with (DESIGN 3.4)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query

from application.access import need_scope
from application.commitment_views import fulfilment
from application.figures import accepted_within, coverage, grouped_figures, month_range
from domain.actor import Actor
from domain.errors import InvalidValue

from api import responses as rs
from api.routing import Route
from api.deps import ServicesDep, requires, wait_for_views
from api.routers.needs import After
from api.routers.visits import Month

router = APIRouter(route_class=Route, tags=["audit"])


@router.get(
    "/stats",
    response_model=rs.Stats,
    response_model_exclude_unset=True,
    summary="the supervisors' figures per compound, party and month",
)
def stats(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("stats.read"))],
    compound_id: UUID | None = None,
    party_id: UUID | None = None,
    month_from: Month | None = None,
    month_to: Month | None = None,
    after: After = None,
) -> dict[str, Any]:
    """Response, resolution and satisfaction rates and the rest, per compound, party and month."""
    wait_for_views(services, after)
    zone = ZoneInfo(services.settings.timezone)
    now = datetime.now(UTC)
    months: list[str] | None = None
    if month_from or month_to:
        first, last = month_from or month_to, month_to or month_from
        assert first is not None and last is not None
        if first > last:
            raise InvalidValue("month_from", "must not be after month_to")
        months = month_range(first, last)
        if len(months) > 120:
            raise InvalidValue("month_to", "at most 120 months at once")
    scope = need_scope(actor)
    compound_ids = scope.get("compound_ids")
    if compound_id is not None:
        allowed = compound_ids is None or compound_id in compound_ids  # type: ignore[operator]
        compound_ids = [compound_id] if allowed else []
    compound_texts = None if compound_ids is None else [str(c) for c in compound_ids]  # type: ignore[union-attr]
    # Only the months' needs are read (by when they were accepted), not all.
    accepted_from, accepted_to = accepted_within(months, zone) if months else (None, None)
    rows = services.views.iter_needs(
        now=now,
        compound_ids=compound_texts,
        assigned_party_id=str(party_id) if party_id else None,
        accepted_from=accepted_from,
        accepted_to=accepted_to,
    )
    figures = grouped_figures(rows, now, zone, set(months) if months else None)
    this_month = now.astimezone(zone).strftime("%Y-%m")
    visit_months = months or [this_month]
    visit_coverage = []
    visits_by_compound = services.views.visited_households(compound_texts, visit_months)
    for compound in services.views.iter_cases("compound", compound_texts):
        visits = visits_by_compound.get(compound["id"], [])
        for month in visit_months:
            per_building = coverage(compound, visits, month)
            households = sum(b["households"] for b in per_building)
            visited = sum(b["visited"] for b in per_building)
            visit_coverage.append(
                {
                    "compound_id": compound["id"],
                    "month": month,
                    "households": households,
                    "visited": visited,
                    "rate": round(visited / households, 4) if households else None,
                }
            )
    calendar = services.app.deadline_policy.calendar
    commitment_fulfilment = []
    lists = [
        row
        for row in services.views.iter_cases("commitment", compound_texts)
        if party_id is None or row["provider_party_id"] == str(party_id)
    ]
    citing = services.views.needs_citing_each([row["id"] for row in lists])
    for row in lists:
        figures_of_list = fulfilment(row, citing[row["id"]], calendar, now)
        commitment_fulfilment.append(
            {
                key: figures_of_list[key]
                for key in ("commitment_id", "compound_id", "provider_party_id", "title", "status")
            }
            | {"totals": figures_of_list["totals"], "items": figures_of_list["items"]}
        )
    return {
        "generated_at": now.isoformat(),
        "months": months,
        **figures,
        "visit_coverage": visit_coverage,
        "commitment_fulfilment": commitment_fulfilment,
    }

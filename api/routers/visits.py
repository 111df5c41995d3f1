"""Household visits (入户摸排) and their coverage."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Query
from pydantic import Field

from application.access import ensure_compound_visible
from application.figures import coverage, month_range
from domain.actor import Actor
from domain.errors import InvalidValue, NotFound
from domain.times import FIRST_YEAR, LAST_YEAR

from api import responses as rs
from api.routing import Route
from api import schemas as s
from api.schemas import MAX_POSITION
from api.deps import ServicesDep, requires, wait_for_views
from api.export import VISIT_ZH, Format, LangQuery, export_response
from api.routers.needs import After

router = APIRouter(route_class=Route, tags=["visits"])

# YYYY-MM of a year in the domain's sane range, 2000 to 2199 (domain/times.py).
Month = Annotated[
    str,
    Query(
        pattern=r"^2[01]\d{2}-(0[1-9]|1[0-2])$",
        description=f"YYYY-MM, {FIRST_YEAR}-01 to {LAST_YEAR}-12",
    ),
]


class NeedOnTheSpot(s.Command):
    title: str = s.text(200)
    description: str = s.text(5000)
    category: s.Category = "other"
    location: str | None = Field(default=None, max_length=200)
    attachments: list[s.Ref] = Field(default_factory=list, max_length=20)


class VisitRecord(s.Command):
    compound_id: UUID
    household_id: UUID
    visited_at: s.Moment | None = Field(
        default=None,
        description=f"default: now; not in the future, not before {FIRST_YEAR}",
    )
    notes: str | None = Field(default=None, max_length=2000)
    needs: list[NeedOnTheSpot] = Field(default_factory=list, max_length=20)


class VisitRecorded(s.Recorded):
    need_ids: list[UUID]


VISIT_COLUMNS = (
    "id",
    "compound_id",
    "building_id",
    "household_id",
    "visited_at",
    "visited_on",
    "visitor_id",
    "visitor_role",
    "notes",
    "need_ids",
)


def _scope(actor: Actor, compound_id: UUID | None) -> list[str] | None:
    if compound_id is not None:
        return [str(compound_id)] if actor.covers(compound_id) else []
    return None if actor.compound_ids is None else [str(c) for c in actor.compound_ids]


@router.post("/visits", status_code=201, response_model=VisitRecorded)
def record_visit(
    body: VisitRecord,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("visit.record"))],
) -> VisitRecorded:
    recorded, need_ids = services.app.record_visit(
        actor,
        compound_id=body.compound_id,
        household_id=body.household_id,
        visited_at=body.visited_at,
        notes=body.notes,
        needs=[n.model_dump() for n in body.needs],
    )
    return VisitRecorded(
        id=recorded.id, version=recorded.version, position=recorded.position, need_ids=need_ids
    )


@router.get(
    "/visits",
    response_model=rs.VisitPage,
    response_model_exclude_unset=True,
    summary="household visits (入户摸排), oldest first",
)
def list_visits(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("visit.read"))],
    compound_id: UUID | None = None,
    month: Month | None = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
    format: Format = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    wait_for_views(services, after)
    scope = _scope(actor, compound_id)
    periods = [month] if month else None
    if format == "csv":
        rows = services.views.iter_cases("visit", scope, periods=periods)
        return export_response(
            rows, VISIT_COLUMNS, "visits.csv", lang=lang, zh=VISIT_ZH, services=services
        )
    rows, next_cursor = services.views.cases(
        "visit", scope, periods=periods, limit=limit, cursor=cursor
    )
    return {"items": rows, "next_cursor": next_cursor}


@router.get(
    "/visits/coverage",
    response_model=rs.VisitCoverage,
    response_model_exclude_unset=True,
    summary="visit coverage per building and month",
)
def visit_coverage(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("visit.read"))],
    compound_id: UUID,
    month_from: Month | None = None,
    month_to: Month | None = None,
    after: After = None,
) -> dict[str, Any]:
    """Households visited out of households, per building and month, and who is left."""
    wait_for_views(services, after)
    ensure_compound_visible(actor, compound_id)
    compound = services.views.case("compound", str(compound_id))
    if compound is None:
        raise NotFound("compound not found")
    this_month = datetime.now(UTC).astimezone(ZoneInfo(services.settings.timezone)).strftime("%Y-%m")
    first, last = month_from or month_to or this_month, month_to or month_from or this_month
    if first > last:
        raise InvalidValue("month_from", "must not be after month_to")
    months = month_range(first, last)
    if len(months) > 36:
        raise InvalidValue("month_to", "at most 36 months at once")
    visits = list(services.views.iter_cases("visit", [str(compound_id)], periods=months))
    rows = [row for month in months for row in coverage(compound, visits, month)]
    return {"compound_id": str(compound_id), "months": months, "items": rows}

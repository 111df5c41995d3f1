"""Household visits (入户走访): each building's coverage per month."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import Depends
from fastapi.responses import Response

from api.console import charts
from api.console.common import (
    Console,
    FigureFilters,
    compounds,
    console_session,
    page,
    page_router,
    query,
)
from api.routers import visits as visits_api

router = page_router()


@router.get("/visits")
@page
def visits_page(
    console: Annotated[Console, Depends(console_session("visit.read"))],
) -> Response:
    filters = query(console.request, FigureFilters)
    visible = compounds(console)
    chosen = filters.compound_id or (UUID(visible[0]["id"]) if visible else None)
    if chosen is None:
        return console.render("visits.html", compounds=[], coverage=None, filters=filters)
    zone = ZoneInfo(console.services.settings.timezone)
    today = datetime.now(UTC).astimezone(zone).date()
    month_to = filters.month_to or filters.month_from or today.strftime("%Y-%m")
    if filters.month_from:
        month_from = filters.month_from
    else:
        year, month = int(month_to[:4]), int(month_to[5:])
        month -= 2
        while month < 1:
            month += 12
            year -= 1
        month_from = f"{year:04d}-{month:02d}"
    coverage = visits_api.visit_coverage(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=chosen,
        month_from=month_from,
        month_to=month_to,
        after=None,
    )
    buildings: dict[str, dict[str, Any]] = {}
    for row in coverage["items"]:
        entry = buildings.setdefault(row["building_id"], {"name": row["building"], "months": {}})
        entry["months"][row["month"]] = row
    shown_months = coverage["months"][-6:]
    chart = charts.bar_chart(
        console.t("coverage"),
        [b["name"] for b in buildings.values()],
        [
            charts.Series(
                month,
                [
                    b["months"][month]["coverage"]["rate"] if month in b["months"] else None
                    for b in buildings.values()
                ],
            )
            for month in shown_months
        ],
    )
    return console.render(
        "visits.html",
        compounds=visible,
        compound_id=str(chosen),
        coverage=coverage,
        buildings=list(buildings.values()),
        months=coverage["months"],
        month_from=month_from,
        month_to=month_to,
        chart=chart,
        filters=filters,
    )

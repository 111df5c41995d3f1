"""Disputes: needs that went through a consultation (the audit's list), with its CSV."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

from fastapi import Depends
from fastapi.responses import Response

from api.console import common
from api.console.common import (
    CompoundFilter,
    Console,
    Cursor,
    compounds,
    console_session,
    page,
    page_router,
    query,
)
from api.routers import audit as audit_api

router = page_router()


class DisputeFilters(CompoundFilter):
    cursor: Cursor | None = None


def _disputes(
    console: Console, compound_id: UUID | None, *, csv: bool, cursor: int | None = None
) -> Any:
    return audit_api.disputes(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=compound_id,
        reported_from=None,
        reported_to=None,
        cursor=cursor,
        limit=common.PAGE_SIZE,
        after=None,
        format="csv" if csv else "json",
    )


@router.get("/disputes")
@page
def disputes_page(
    console: Annotated[Console, Depends(console_session("audit.read"))],
) -> Response:
    filters = query(console.request, DisputeFilters)
    chosen = filters.compound_id
    result = _disputes(console, chosen, csv=False, cursor=filters.cursor)
    base = [("compound_id", chosen)]
    return console.render(
        "disputes.html",
        rows=result["items"],
        compounds=compounds(console),
        compound_id=str(chosen) if chosen else "",
        csv_url=console.url("/console/disputes.csv", base),
        next_url=console.url("/console/disputes", [*base, ("cursor", result["next_cursor"])])
        if result.get("next_cursor") is not None
        else None,
        first_url=console.url("/console/disputes", base) if filters.cursor is not None else None,
    )


@router.get("/disputes.csv")
@page
def disputes_csv(
    console: Annotated[Console, Depends(console_session("audit.read"))],
) -> Response:
    chosen = query(console.request, CompoundFilter).compound_id
    return console.finish(_disputes(console, chosen, csv=True))

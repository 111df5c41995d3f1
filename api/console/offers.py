"""Offers (服务项目) of co-building units: the list, with the needs each served."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.responses import Response

from api.console import common
from api.console.common import (
    Console,
    Cursor,
    Query,
    compounds,
    console_session,
    listing,
    page,
    page_router,
    parties,
    party_name,
    query,
)
from api.routers import offers as offers_api
from domain.offer import OfferStatus

router = page_router()


class OfferFilters(Query):
    compound_id: UUID | None = None
    status: list[offers_api.StatusCode] | None = None  # type: ignore[valid-type]
    cursor: Cursor | None = None


@router.get("/offers")
@page
def offers_page(
    console: Annotated[Console, Depends(console_session("offer.read"))],
) -> Response:
    filters: OfferFilters = query(console.request, OfferFilters, lists=("status",))
    listed = offers_api.list_offers(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        party_id=None,
        status=filters.status,
        cursor=filters.cursor,
        limit=common.PAGE_SIZE,
        after=None,
    )
    rows, next_cursor = listing(listed)
    known = compounds(console)
    units = parties(console)
    base = [("compound_id", filters.compound_id), *[("status", v) for v in filters.status or []]]
    return console.render(
        "offers.html",
        filters=filters,
        rows=rows,
        compounds=known,
        compound_names={c["id"]: c["name"] for c in known},
        party_name=lambda pid: party_name(units, pid),
        statuses=[status.value for status in OfferStatus],
        next_url=console.url("/console/offers", [*base, ("cursor", next_cursor)])
        if next_cursor is not None
        else None,
        first_url=console.url("/console/offers", base) if filters.cursor is not None else None,
    )

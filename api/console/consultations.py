"""Consultations (协商议事): the list, and a consultation with its vote,
resolution, action items and trail."""

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
    after,
    compounds,
    console_session,
    id_in_path,
    listing,
    page,
    page_router,
    parties,
    party_name,
    query,
)
from api.routers import consultations as consultations_api
from api.routers import needs as needs_api
from domain.consultation import ConsultationStatus
from domain.errors import NotFound

router = page_router()


class ConsultationFilters(Query):
    compound_id: UUID | None = None
    status: list[consultations_api.StatusCode] | None = None  # type: ignore[valid-type]
    cursor: Cursor | None = None


@router.get("/consultations")
@page
def consultations_page(
    console: Annotated[Console, Depends(console_session("consultation.read"))],
) -> Response:
    filters: ConsultationFilters = query(console.request, ConsultationFilters, lists=("status",))
    listed = consultations_api.list_consultations(
        console.services,
        console.actor,  # type: ignore[arg-type]
        compound_id=filters.compound_id,
        status=filters.status,
        cursor=filters.cursor,
        limit=common.PAGE_SIZE,
        after=None,
        format="json",
    )
    rows, next_cursor = listing(listed)
    known = compounds(console)
    base = [("compound_id", filters.compound_id), *[("status", v) for v in filters.status or []]]
    return console.render(
        "consultations.html",
        filters=filters,
        rows=rows,
        compounds=known,
        compound_names={c["id"]: c["name"] for c in known},
        statuses=[status.value for status in ConsultationStatus],
        next_url=console.url("/console/consultations", [*base, ("cursor", next_cursor)])
        if next_cursor is not None
        else None,
        first_url=console.url("/console/consultations", base) if filters.cursor is not None else None,
    )


@router.get("/consultations/{consultation_id}")
@page
def consultation_page(
    consultation_id: str,
    console: Annotated[Console, Depends(console_session("consultation.read"))],
) -> Response:
    services, actor = console.services, console.actor
    assert actor is not None
    consultation_id = id_in_path("consultation_id", consultation_id)  # type: ignore[assignment]
    consultation = consultations_api.get_consultation(
        consultation_id, services, actor, after=after(console.request)
    )
    events = services.views.history(str(consultation_id))  # seen: checked just above
    needs = []
    for need_id in consultation["need_ids"]:
        try:
            row = needs_api.visible_need(services, actor, UUID(need_id))
        except NotFound:
            needs.append({"id": need_id, "visible": False})
        else:
            needs.append(
                {"id": need_id, "visible": True, "title": row["title"], "status": row["status"]}
            )
    known = parties(console)
    return console.render(
        "consultation.html",
        consultation=consultation,
        events=events,
        needs=needs,
        party_name=lambda pid: party_name(known, pid),
    )

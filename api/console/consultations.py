"""A consultation: its vote, resolution, action items and trail."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import Depends
from fastapi.responses import Response

from api.console.common import (
    Console,
    after,
    console_session,
    id_in_path,
    page,
    page_router,
    parties,
    party_name,
)
from api.routers import consultations as consultations_api
from api.routers import needs as needs_api
from domain.errors import NotFound

router = page_router()


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

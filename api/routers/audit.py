"""The dispute audit: needs that went through a consultation.

One row per need and consultation it went through: a need escalated, returned
and escalated again has a row for each consultation, in the order it went
through them (``consultation_no`` 1, 2, ...). The need's own fields (status,
resolution, evaluation, redos) are its current state on every row; the
consultation's fields (``consultation_id``, ``escalated_at``,
``returned_at``, ``consultation_outcome``, the vote, the actions) are that
row's consultation. Needs come newest first; a page holds ``limit`` needs
with all their rows, so one need's path is never split across pages.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from application.access import need_scope
from application.disputes import dispute_row
from domain.actor import Actor

from api import responses as rs
from api.routing import Route
from api.deps import ServicesDep, requires, wait_for_views
from api.export import DISPUTE_ZH, Format, LangQuery, export_response
from api.routers.needs import NO_PARTY, After, ReportedFrom, ReportedTo, _day_start
from api.schemas import MAX_POSITION

router = APIRouter(route_class=Route, tags=["audit"])

DISPUTE_COLUMNS = (
    "need_id",
    "compound_id",
    "title",
    "status",
    "reported_at",
    "accepted_at",
    "consultation_no",
    "escalated_at",
    "consultation_id",
    "consultation_topic",
    "method",
    "matter",
    "vote_outcome",
    "participation_area",
    "participation_owners",
    "approval_area",
    "approval_owners",
    "resolution",
    "actions_done",
    "actions_total",
    "consultation_closed_at",
    "returned_at",
    "consultation_outcome",
    "resolved_at",
    "evaluation",
    "evaluated_at",
    "redo_count",
    "need_history",
    "consultation_history",
)


def dispute_rows(
    need: dict[str, Any], consultation: Callable[[str], dict[str, Any] | None]
) -> Iterator[dict[str, Any]]:
    """One need's rows: one per consultation it went through."""
    for number, step in enumerate(need["consultations"], 1):
        row = dispute_row({**need, **step}, consultation(step["consultation_id"]))
        row["consultation_no"] = number
        yield row


@router.get(
    "/audit/disputes",
    response_model=rs.DisputePage,
    response_model_exclude_unset=True,
    summary="needs that went through a consultation, a row per need and consultation",
)
def disputes(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("audit.read"))],
    compound_id: UUID | None = None,
    reported_from: ReportedFrom = None,
    reported_to: ReportedTo = None,
    cursor: Annotated[
        int | None, Query(ge=0, le=MAX_POSITION, description="next_cursor of the page before")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=200, description="needs per page, each with all its rows")
    ] = 50,
    after: After = None,
    format: Annotated[Format, Query(description="csv: every row, streamed")] = "json",  # noqa: A002
    lang: LangQuery = "en",
) -> Any:
    """Every need that went through a consultation, from report to evaluation:
    a row per need and consultation, newest need first."""
    wait_for_views(services, after)
    scope = need_scope(actor)
    compound_ids = scope.get("compound_ids")
    if compound_id is not None:
        allowed = compound_ids is None or compound_id in compound_ids  # type: ignore[operator]
        compound_ids = [compound_id] if allowed else []
    party = scope.get("assigned_party_id", None) if "assigned_party_id" in scope else None
    filters: dict[str, Any] = {
        "now": datetime.now(UTC),
        "compound_ids": None if compound_ids is None else [str(c) for c in compound_ids],  # type: ignore[union-attr]
        "assigned_party_id": str(party or NO_PARTY) if "assigned_party_id" in scope else None,
        "disputed": True,
        "reported_from": _day_start(reported_from, services),
        "reported_to": _day_start(reported_to and reported_to + timedelta(days=1), services),
    }
    consultations: dict[str, Any] = {}

    def consultation(key: str) -> dict[str, Any] | None:
        if key not in consultations:
            consultations[key] = services.views.case("consultation", key)
        return consultations[key]

    if format == "csv":
        # Every row, the needs read a page at a time as the response is written.
        rows = (
            row
            for need in services.views.iter_needs(page_size=200, **filters)
            for row in dispute_rows(need, consultation)
        )
        return export_response(
            rows, DISPUTE_COLUMNS, "disputes.csv", lang=lang, zh=DISPUTE_ZH, services=services
        )
    needs, next_cursor = services.views.needs(limit=limit, cursor=cursor, **filters)
    items = [row for need in needs for row in dispute_rows(need, consultation)]
    return {"items": items, "next_cursor": next_cursor}

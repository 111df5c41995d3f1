"""The dispute audit: needs that went through a consultation."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from application.access import need_scope
from application.disputes import dispute_row
from domain.actor import Actor

from api.deps import ServicesDep, requires, wait_for_views
from api.export import Format, csv_response
from api.routers.needs import NO_PARTY, After, _day_start

router = APIRouter(tags=["audit"])

DISPUTE_COLUMNS = (
    "need_id",
    "compound_id",
    "title",
    "status",
    "reported_at",
    "accepted_at",
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


@router.get("/audit/disputes")
def disputes(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("audit.read"))],
    compound_id: UUID | None = None,
    reported_from: Annotated[date | None, Query(description="first day, inclusive")] = None,
    reported_to: Annotated[date | None, Query(description="last day, inclusive")] = None,
    after: After = None,
    format: Format = "json",  # noqa: A002
) -> Any:
    """Every need that went through a consultation, from report to evaluation."""
    wait_for_views(services, after)
    scope = need_scope(actor)
    compound_ids = scope.get("compound_ids")
    if compound_id is not None:
        allowed = compound_ids is None or compound_id in compound_ids  # type: ignore[operator]
        compound_ids = [compound_id] if allowed else []
    party = scope.get("assigned_party_id", None) if "assigned_party_id" in scope else None
    needs = services.views.iter_needs(
        now=datetime.now(UTC),
        compound_ids=None if compound_ids is None else [str(c) for c in compound_ids],  # type: ignore[union-attr]
        assigned_party_id=str(party or NO_PARTY) if "assigned_party_id" in scope else None,
        disputed=True,
        reported_from=_day_start(reported_from, services),
        reported_to=_day_start(reported_to and reported_to + timedelta(days=1), services),
    )
    consultations: dict[str, Any] = {}

    def rows() -> Any:
        for need in needs:
            key = need["consultation_id"]
            if key not in consultations:
                consultations[key] = services.views.case("consultation", key)
            yield dispute_row(need, consultations[key])

    if format == "csv":
        return csv_response(rows(), DISPUTE_COLUMNS, "disputes.csv")
    return {"items": list(rows())}

"""Offers (服务项目): what co-building units offer the compound (DESIGN 2.5)."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from fastapi import APIRouter, Depends, Query

from api import responses as rs
from api import schemas as s
from api.deps import ExpectedVersion, ServicesDep, requires, wait_for_views
from api.export import json_response
from api.routers.needs import After
from api.routing import Route
from api.schemas import MAX_POSITION
from application.offers import offer_page, offer_reading
from domain.actor import Actor
from domain.errors import NotFound
from domain.offer import OfferStatus

router = APIRouter(route_class=Route, prefix="/offers", tags=["offers"])

StatusCode = Literal[tuple(status.value for status in OfferStatus)]  # type: ignore[valid-type]


def _recorded(result: Any) -> s.Recorded:
    return s.Recorded(id=result.id, version=result.version, position=result.position)


def _compounds(actor: Actor, compound_id: UUID | None) -> list[str] | None:
    """The compounds a list may show: the credential's, or the one asked if it is among them."""
    scope = None if actor.compound_ids is None else sorted(str(c) for c in actor.compound_ids)
    if compound_id is None:
        return scope
    return [str(compound_id)] if scope is None or str(compound_id) in scope else []


def _visible_offer(services: Any, actor: Actor, offer_id: UUID) -> dict[str, Any]:
    row = offer_reading(services.views, str(offer_id))
    if row is None or not actor.covers(UUID(row["compound_id"])):
        raise NotFound("offer not found")
    return row


# ----- commands -------------------------------------------------------------


@router.post("", status_code=201, response_model=s.Recorded, summary="publish an offer (发布服务项目)")
def publish_offer(
    body: s.OfferPublish,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.publish"))],
) -> s.Recorded:
    return _recorded(services.app.publish_offer(actor, **body.model_dump()))


@router.post("/{offer_id}/change", response_model=s.Recorded, summary="change an offer")
def change_offer(
    offer_id: UUID,
    body: s.OfferChange,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.change"))],
    version: ExpectedVersion,
) -> s.Recorded:
    changes = body.model_dump(exclude_unset=True)
    reason = changes.pop("reason", None)
    return _recorded(
        services.app.change_offer(
            actor, offer_id, reason=reason, expected_version=version, **changes
        )
    )


@router.post("/{offer_id}/withdraw", response_model=s.Recorded, summary="withdraw an offer, with a reason")
def withdraw_offer(
    offer_id: UUID,
    body: s.WithReason,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.withdraw"))],
    version: ExpectedVersion,
) -> s.Recorded:
    return _recorded(
        services.app.withdraw_offer(actor, offer_id, reason=body.reason, expected_version=version)
    )


# ----- queries ----------------------------------------------------------------


@router.get(
    "",
    response_model=rs.OfferPage,
    response_model_exclude_unset=True,
    summary="list offers, oldest first",
)
def list_offers(
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.read"))],
    compound_id: UUID | None = None,
    party_id: Annotated[UUID | None, Query(description="the offering unit's party id")] = None,
    status: Annotated[list[StatusCode] | None, Query()] = None,
    cursor: Annotated[int | None, Query(ge=0, le=MAX_POSITION)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    after: After = None,
) -> Any:
    wait_for_views(services, after)
    rows, next_cursor = offer_page(
        services.views,
        _compounds(actor, compound_id),
        party_id=str(party_id) if party_id else None,
        status=status,
        limit=limit,
        cursor=cursor,
    )
    return s.Page(items=rows, next_cursor=next_cursor)


@router.get(
    "/{offer_id}",
    response_model=rs.Offer,
    response_model_exclude_unset=True,
    summary="an offer, with the needs served under it",
)
def get_offer(
    offer_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.read"))],
    after: After = None,
) -> dict[str, Any]:
    wait_for_views(services, after)
    return _visible_offer(services, actor, offer_id)


@router.get(
    "/{offer_id}/history",
    response_model=rs.OfferHistory,
    response_model_exclude_unset=True,
    summary="the offer's audit trail, with the needs served under it",
)
def offer_history(
    offer_id: UUID,
    services: ServicesDep,
    actor: Annotated[Actor, Depends(requires("offer.read"))],
    after: After = None,
) -> Any:
    wait_for_views(services, after)
    _visible_offer(services, actor, offer_id)
    return json_response(
        {"offer_id": str(offer_id)}, "events", services.views.iter_history(str(offer_id))
    )

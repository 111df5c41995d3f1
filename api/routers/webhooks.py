"""Outbound webhooks (issue 25, item 2): subscriptions and their delivery log.

* ``POST /webhooks``: subscribe a URL to event types in compounds of the
  caller's; the signing secret is answered this once.
* ``GET /webhooks``, ``GET /webhooks/{id}``: subscriptions (never the secret).
* ``GET /webhooks/{id}/deliveries``: the delivery log, newest first, paged
  with ``?before=``.
* ``POST /webhooks/{id}/pause``, ``/resume``, ``/replay`` (``from_position``).

Community staff of the compounds and administrators (``webhook.manage``,
``webhook.read``); a subscription with a compound the caller does not
cover answers 404. Delivery is done by infrastructure/webhooks.py.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query

from api import webhook_schemas as ws
from api.deps import ServicesDep, requires
from api.routing import Route
from domain.actor import Actor
from infrastructure.webhooks import Subscription

router = APIRouter(prefix="/webhooks", tags=["webhooks"], route_class=Route)

Manager = Annotated[Actor, Depends(requires("webhook.manage"))]
Reader = Annotated[Actor, Depends(requires("webhook.read"))]


def _answer(subscription: Subscription) -> ws.Webhook:
    return ws.Webhook(**vars(subscription))


@router.post(
    "",
    status_code=201,
    response_model=ws.WebhookCreated,
    summary="subscribe a URL to event types in compounds; the secret is answered once",
)
def create_webhook(body: ws.WebhookCreate, services: ServicesDep, actor: Manager) -> ws.WebhookCreated:
    """Each matching event is POSTed, one per request, in log order, at least
    once, signed: ``Linli-Signature: sha256=<hex HMAC-SHA256(secret,
    "<Linli-Timestamp>." + body)>``; ``Linli-Delivery`` is the same for every
    attempt of one event (drop duplicates by it)."""
    subscription, secret = services.webhooks.create(
        actor,
        url=body.url,
        event_types=body.event_types,
        compound_ids=body.compound_ids,
        personal_data=body.personal_data,
        from_position=body.from_position,
    )
    services.webhook_worker.wake()
    return ws.WebhookCreated(**vars(subscription), secret=secret)


@router.get("", response_model=ws.WebhookList, response_model_exclude_unset=True, summary="the subscriptions the caller sees")
def list_webhooks(services: ServicesDep, actor: Reader) -> ws.WebhookList:
    return ws.WebhookList(items=[_answer(s) for s in services.webhooks.list_for(actor)])


@router.get("/{webhook_id}", response_model=ws.Webhook, response_model_exclude_unset=True, summary="one subscription (never its secret)")
def read_webhook(webhook_id: str, services: ServicesDep, actor: Reader) -> ws.Webhook:
    return _answer(services.webhooks.visible(actor, webhook_id))


@router.get(
    "/{webhook_id}/deliveries",
    response_model=ws.WebhookDeliveries,
    response_model_exclude_unset=True,
    summary="a subscription's delivery log: attempts, status, latency; newest first",
)
def webhook_deliveries(
    webhook_id: str,
    services: ServicesDep,
    actor: Reader,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
) -> ws.WebhookDeliveries:
    services.webhooks.visible(actor, webhook_id)
    page = services.webhooks.deliveries(webhook_id, limit=limit, before=before)
    return ws.WebhookDeliveries(
        items=[ws.WebhookDelivery(**vars(d)) for d in page],
        next_before=page[-1].seq if len(page) == limit else None,
    )


@router.post("/{webhook_id}/pause", response_model=ws.Webhook, summary="stop delivering until resumed")
def pause_webhook(webhook_id: str, services: ServicesDep, actor: Manager) -> ws.Webhook:
    return _answer(services.webhooks.pause(actor, webhook_id))


@router.post(
    "/{webhook_id}/resume",
    response_model=ws.Webhook,
    summary="deliver again from where it stopped, failures forgotten",
)
def resume_webhook(webhook_id: str, services: ServicesDep, actor: Manager) -> ws.Webhook:
    found = services.webhooks.resume(actor, webhook_id)
    services.webhook_worker.wake()
    return _answer(found)


@router.post(
    "/{webhook_id}/replay",
    response_model=ws.Webhook,
    summary="deliver again every wanted event from a log position on",
)
def replay_webhook(
    webhook_id: str, body: ws.WebhookReplay, services: ServicesDep, actor: Manager
) -> ws.Webhook:
    """Replayed events carry the delivery ids they had the first time."""
    found = services.webhooks.replay(actor, webhook_id, body.from_position)
    services.webhook_worker.wake()
    return _answer(found)

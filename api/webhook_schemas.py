"""What the outbound webhooks' routes take and answer (api/routers/webhooks.py).

Every property is declared; a subscription is never answered with its
secret, except once, by ``POST /webhooks`` (``WebhookCreated.secret``).
"""

from __future__ import annotations

from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WebhookCreate(_Model):
    url: str = Field(
        min_length=1, max_length=2000, description="http or https URL the events are POSTed to",
        examples=["https://example.org/linli-hook"],
    )
    event_types: list[str] = Field(
        min_length=1, max_length=50,
        description="event types: exact (Need.Assigned), all of an aggregate (Need.*), or *",
        examples=[["Need.Assigned", "Consultation.*"]],
    )
    compound_ids: list[UUID] = Field(min_length=1, max_length=100, description="compounds of the caller's")
    personal_data: bool = Field(
        default=False,
        description="whether payloads carry personal data (who acted, free text, households)",
    )
    from_position: int | None = Field(
        default=None, ge=1, le=2**62, description="deliver from this log position on; default: events from now on"
    )


class WebhookReplay(_Model):
    from_position: int = Field(ge=1, le=2**62, description="deliver again every wanted event from this log position on")


class Webhook(_Model):
    id: str
    url: str
    event_types: list[str]
    compound_ids: list[str]
    personal_data: bool
    status: str = Field(description="active | paused")
    position: int = Field(description="the last log position delivered (or passed over)")
    failures: int = Field(description="consecutive failed attempts of the next event")
    next_attempt_at: str | None = Field(description="when the next attempt is due after a failure (UTC)")
    last_error: str | None
    paused_at: str | None
    paused_reason: str | None
    created_by: str = Field(description="the person id of who subscribed")
    created_by_role: str
    created_at: str


class WebhookCreated(Webhook):
    secret: str = Field(
        description="the signing secret: answered only here, once. Each delivery carries "
        "Linli-Signature: sha256=<hex HMAC-SHA256(secret, '<Linli-Timestamp>.' + body)>"
    )


class WebhookList(_Model):
    items: list[Webhook]


class WebhookDelivery(_Model):
    seq: int = Field(description="the attempt's number in the delivery log (for paging)")
    subscription_id: str
    delivery_id: str = Field(description="the same for every attempt of one event (Linli-Delivery)")
    notification_id: int = Field(description="the event's log position")
    attempt: int = Field(description="1 for the first attempt of this event after the last success")
    outcome: str = Field(description="delivered | failed")
    status_code: int | None
    error: str | None
    latency_ms: float
    attempted_at: str


class WebhookDeliveries(_Model):
    items: list[WebhookDelivery]
    next_before: int | None = Field(description="pass as ?before= for the next (older) page; null at the end")

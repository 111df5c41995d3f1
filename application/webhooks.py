"""Outbound webhooks (issue 25, item 2): what a subscription receives, pure.

A subscription names event types (``Need.Assigned``, a prefix ``Need.*``, or
``*``) and compounds; the delivery worker (infrastructure/webhooks.py) POSTs
each event of the log that matches, one per request, in log order.

This module decides, without I/O:

* which events a subscription wants (``wants``);
* the JSON body of a delivery (``payload``, ``body_bytes``): ids, codes and
  the summary in zh-CN and English, never a token; personal data (who
  acted, free text a person wrote, households, owners) only when the
  subscription was granted it;
* the delivery id a receiver drops duplicates by (``delivery_id``): the same
  for every attempt, and every replay, of one event to one subscription;
* the signature (``sign``, ``verify``):
  ``Linli-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>``
  with ``Linli-Timestamp`` the Unix time in seconds;
* the wait before the next attempt (``backoff``): exponential, capped, with
  jitter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import re
import uuid
from collections.abc import Iterable, Sequence
from typing import Any
from urllib.parse import urlsplit

from application.access import R, authorize, register_permissions
from application.readmodel import CASE_TYPES, event_data, event_name, plain, summaries, utc_text
from domain.actor import Actor
from domain.errors import InvalidValue, NotFound

# Community staff of the compounds, and administrators, subscribe and manage.
PERMISSIONS = {
    "webhook.manage": frozenset({R.COMMUNITY_STAFF, R.ADMIN}),
    "webhook.read": frozenset({R.COMMUNITY_STAFF, R.ADMIN}),
}
register_permissions(PERMISSIONS)

SIGNATURE_HEADER = "Linli-Signature"
TIMESTAMP_HEADER = "Linli-Timestamp"
DELIVERY_HEADER = "Linli-Delivery"
EVENT_HEADER = "Linli-Event"
SIGNATURE_PREFIX = "sha256="
# Delivery ids are UUID5s of "<subscription id>:<notification id>" in this namespace.
DELIVERY_NAMESPACE = uuid.UUID("5b0f4e0e-6c2d-5d7e-9a51-4c1e6b7f2a10")
# A receiver should refuse a timestamp further than this from its clock.
DEFAULT_TOLERANCE_SECONDS = 300

MAX_URL_LENGTH = 2000
MAX_EVENT_TYPES = 50
MAX_COMPOUNDS = 100
_PATTERN = re.compile(r"^(\*|[A-Z][A-Za-z]*\.\*|[A-Z][A-Za-z]*\.[A-Z][A-Za-z]*)$")

# Fields whose values are codes (enumerations, flags, numbers of items and
# versions, due times): sent to every subscription.
CODE_FIELDS = frozenset(
    {
        "category", "priority", "source", "status", "evaluation", "outcome", "result", "kind",
        "party_role", "party_kind", "provider_kind", "confirming_as", "method", "matter",
        "toward", "obtained_by", "within_limit", "resolved", "quorum_reached", "list_version",
        "superseded_version", "replaced_version", "based_on", "item_no", "commitment_item_no",
        "number", "respond_due", "resolve_due", "previous_due", "due_on", "visited_on",
        "on_behalf_of_reporter", "coordination", "cooperation", "total_owners", "total_area",
        "participating_owners", "participating_area", "for_owners", "for_area", "against_owners",
        "against_area", "abstain_owners", "abstain_area", "approval_area", "approval_owners",
        "participation_area", "participation_owners", "quorum_rule", "approval_rule",
        "electorate_source", "to_body",
    }
)
# Ids that name a person or a household: personal data.
PERSONAL_IDS = frozenset(
    {"actor_id", "reporter_id", "owner_id", "household_id", "speaker", "invited_others"}
)
# Free text a person wrote, names and contacts: blanked in the summary of a
# subscription without personal data.
FREE_TEXT = frozenset(
    {
        "title", "description", "comment", "text", "reason", "note", "notes", "location",
        "owner_name", "contact", "resolution", "topic", "motion", "place", "name", "address",
        "attachments", "items", "added", "changed", "removed", "electorate", "choice",
        "exclusive_area", "schedule", "capacity", "speaker", "owner_id",
    }
)


def known_event_types() -> set[str]:
    """Every event name of the registered case types (``Need.Assigned``, ...)."""
    names: set[str] = set()
    for case_type in CASE_TYPES:
        aggregate = case_type.aggregate
        for attribute in vars(aggregate).values():
            if isinstance(attribute, type) and issubclass(attribute, aggregate.Event):
                if attribute is not aggregate.Event:
                    names.add(attribute.__qualname__)
    return names


def validate_event_types(patterns: Sequence[str]) -> list[str]:
    """The patterns, checked: each an exact known event type, ``Aggregate.*`` of
    a known aggregate, or ``*``. Raises ``InvalidValue``."""
    if not patterns:
        raise InvalidValue("event_types", "name at least one event type (like Need.Assigned or Need.*)")
    if len(patterns) > MAX_EVENT_TYPES:
        raise InvalidValue("event_types", f"at most {MAX_EVENT_TYPES} event types")
    known = known_event_types()
    prefixes = {name.partition(".")[0] for name in known}
    out: list[str] = []
    for pattern in patterns:
        if not _PATTERN.match(pattern):
            raise InvalidValue("event_types", f"{pattern[:60]!r}: write Aggregate.Event, Aggregate.* or *")
        if pattern != "*":
            prefix, _, rest = pattern.partition(".")
            if (rest == "*" and prefix not in prefixes) or (rest != "*" and pattern not in known):
                raise InvalidValue("event_types", f"no such event type: {pattern}")
        if pattern not in out:
            out.append(pattern)
    return out


def validate_url(url: str) -> str:
    """An absolute http or https URL with a host. Raises ``InvalidValue``."""
    if any(ch.isspace() or ord(ch) < 32 or ord(ch) == 127 for ch in url):
        raise InvalidValue("url", "no spaces or control characters in the URL")
    if len(url) > MAX_URL_LENGTH:
        raise InvalidValue("url", f"at most {MAX_URL_LENGTH} characters")
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidValue("url", "not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise InvalidValue("url", "only http and https URLs are delivered to")
    if not parts.hostname:
        raise InvalidValue("url", "the URL names no host")
    if parts.username or parts.password:
        raise InvalidValue("url", "no credentials in the URL: verify the signature instead")
    return url


def matches(patterns: Iterable[str], event_type: str) -> bool:
    for pattern in patterns:
        if pattern == "*" or pattern == event_type:
            return True
        if pattern.endswith(".*") and event_type.startswith(pattern[:-1]):
            return True
    return False


def wants(
    patterns: Iterable[str], compound_ids: Iterable[str], event_type: str, compound_id: str | None
) -> bool:
    """Whether a subscription to ``patterns`` in ``compound_ids`` gets this event."""
    return compound_id is not None and compound_id in set(compound_ids) and matches(patterns, event_type)


def delivery_id(subscription_id: str, notification_id: int) -> str:
    """Stable across retries and replays of one event to one subscription."""
    return str(uuid.uuid5(DELIVERY_NAMESPACE, f"{subscription_id}:{notification_id}"))


def payload(
    event: Any,
    position: int,
    *,
    subscription_id: str,
    case_type: str | None,
    compound_id: str | None,
    personal_data: bool,
) -> dict[str, Any]:
    """The JSON document of one delivery."""
    name = event_name(event)
    data = event_data(event)
    ids = {
        key: value
        for key, value in data.items()
        if (key.endswith("_id") or key.endswith("_ids")) and key not in PERSONAL_IDS and value is not None
    }
    codes = {key: value for key, value in data.items() if key in CODE_FIELDS and value is not None}
    shown = data if personal_data else {
        key: (None if key in FREE_TEXT or key in PERSONAL_IDS else value) for key, value in data.items()
    }
    zh, en = summaries(name, dict(shown), (None, event))
    body: dict[str, Any] = {
        "delivery_id": delivery_id(subscription_id, position),
        "subscription_id": subscription_id,
        "event_type": name,
        "case_type": case_type,
        "case_id": plain(event.originator_id),
        "compound_id": compound_id,
        "version": event.originator_version,
        "position": position,
        "occurred_at": utc_text(event.timestamp),
        "actor_role": data.get("actor_role"),
        "ids": ids,
        "codes": codes,
        "summary_zh": zh,
        "summary_en": en,
        "personal_data": personal_data,
    }
    if personal_data:
        body["actor_id"] = data.get("actor_id")
        body["data"] = data
    return body


def body_bytes(document: dict[str, Any]) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON, keys sorted."""
    return json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def sign(secret: str, timestamp: int | str, body: bytes) -> str:
    """``sha256=`` + hex HMAC-SHA256 with the secret of ``"<timestamp>." + body``."""
    message = f"{timestamp}.".encode("ascii") + body
    return SIGNATURE_PREFIX + hmac.new(secret.encode("utf-8"), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    *,
    now: float | None = None,
    tolerance: float = DEFAULT_TOLERANCE_SECONDS,
) -> bool:
    """What a receiver checks: the signature, compared in constant time, and a
    timestamp within ``tolerance`` seconds of ``now`` (when given)."""
    try:
        moment = int(timestamp)
    except (TypeError, ValueError):
        return False
    if now is not None and abs(now - moment) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, moment, body), signature or "")


def backoff(
    failures: int, base: float, cap: float, rng: random.Random | None = None
) -> float:
    """Seconds to wait after ``failures`` consecutive failed attempts (>= 1):
    ``min(cap, base * 2 ** (failures - 1))``, of which a random part up to a
    half is taken off (jitter: receivers that fail together do not all come
    back at once)."""
    if failures < 1:
        return 0.0
    exponent = min(failures - 1, 60)
    delay = min(cap, base * (2.0**exponent))
    draw = (rng or random).random()
    return delay * (0.5 + 0.5 * draw)


# ----- who sees which subscription --------------------------------------------------------


def check_compounds(actor: Actor, compound_ids: Sequence[Any]) -> list[str]:
    """The compounds of a new subscription: at least one, each covered by the actor."""
    if not compound_ids:
        raise InvalidValue("compound_ids", "name at least one compound")
    if len(compound_ids) > MAX_COMPOUNDS:
        raise InvalidValue("compound_ids", f"at most {MAX_COMPOUNDS} compounds")
    out: list[str] = []
    for compound_id in compound_ids:
        if not actor.covers(compound_id):
            raise InvalidValue("compound_ids", f"no such compound: {compound_id}")
        if str(compound_id) not in out:
            out.append(str(compound_id))
    return out


def can_see(actor: Actor, compound_ids: Iterable[str]) -> bool:
    """An actor sees a subscription that covers only compounds of theirs."""
    if actor.compound_ids is None:
        return True
    mine = {str(c) for c in actor.compound_ids}
    return all(c in mine for c in compound_ids)


def ensure_visible(actor: Actor, action: str, compound_ids: Iterable[str] | None) -> None:
    """Raises ``NotPermitted`` for a role that may not, ``NotFound`` when out of sight."""
    authorize(actor, action)
    if compound_ids is None or not can_see(actor, compound_ids):
        raise NotFound("webhook subscription not found")

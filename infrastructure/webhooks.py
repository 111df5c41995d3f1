"""Outbound webhooks (issue 25, item 2): the tables and the delivery worker.

Two tables in the views' datastore (on both stores), registries rather than
views (nothing rebuilds them from the log):

* ``webhook_subscriptions``: one row per subscription, with its URL, event
  types, compounds, secret (kept to sign; answered once, at creation),
  whether it was granted personal data, its status (``active`` or
  ``paused``), its **position** in the notification log, its consecutive
  failures, when it is next tried, who made it, and a lease
  (``lease_owner``, ``lease_until``) held by the one worker delivering it.
* ``webhook_deliveries``: the delivery log, one row per attempt: the
  delivery id, the notification id, the attempt number, the HTTP status or
  the error, the latency in milliseconds, and when.

The worker follows the log as the view updater does (infrastructure/runner.py),
one subscription at a time: it reads the notifications after the
subscription's position, skips those the subscription does not want, and
POSTs the first it wants. After a 2xx it moves the position to that
notification **in the same transaction** as the delivery-log row, guarded by
the position it started from and its lease, as a tracking record is
guarded: a replay, a pause or another worker meanwhile makes the write
touch nothing, and the worker reads the row again. A crash between the 2xx
and the commit delivers that event once more, with the same delivery id:
at least once, in log order. A failure records the attempt and the next
time to try (exponential backoff with jitter); after
``webhook_max_failures`` consecutive failures the subscription pauses.

Several processes may run a worker: a subscription is claimed by a lease
that one worker holds at a time (renewed while it works, released when it
stops, and taken over by another worker when it lapses after a crash).
"""

from __future__ import annotations

import json
import logging
import os
import random
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from application import webhooks as rules
from application.readmodel import case_type_of, utc_text
from domain.actor import Actor
from domain.errors import InvalidValue, NotFound
from infrastructure.views import LinliViews

log = logging.getLogger(__name__)

SUBSCRIPTIONS = "webhook_subscriptions"
DELIVERIES = "webhook_deliveries"
SECRET_BYTES = 32
MAX_PAGE = 200
# Notifications read at once while following the log for one subscription.
READ_BATCH = 200
MAX_ERROR = 300
USER_AGENT = "Linli-Webhooks/1"


def _now() -> datetime:
    return datetime.now(UTC)


def _text(moment: datetime) -> str:
    text = utc_text(moment)
    assert text is not None
    return text


def _rowcount(c: Any) -> int:
    count = getattr(c, "rowcount", None)
    if count is None:  # the library's SQLite cursor wraps sqlite3's
        count = c.sqlite_cursor.rowcount
    return int(count)


@dataclass(frozen=True)
class Subscription:
    """A subscription as the API shows it: never its secret."""

    id: str
    url: str
    event_types: list[str]
    compound_ids: list[str]
    personal_data: bool
    status: str
    position: int
    failures: int
    next_attempt_at: str | None
    last_error: str | None
    paused_at: str | None
    paused_reason: str | None
    created_by: str
    created_by_role: str
    created_at: str


@dataclass(frozen=True)
class Delivery:
    """One attempt of the delivery log."""

    seq: int
    subscription_id: str
    delivery_id: str
    notification_id: int
    attempt: int
    outcome: str  # delivered | failed
    status_code: int | None
    error: str | None
    latency_ms: float
    attempted_at: str


def _subscription(row: Any) -> Subscription:
    return Subscription(
        id=row["id"],
        url=row["url"],
        event_types=json.loads(row["event_types"]),
        compound_ids=json.loads(row["compound_ids"]),
        personal_data=bool(row["personal_data"]),
        status=row["status"],
        position=int(row["position"]),
        failures=int(row["failures"]),
        next_attempt_at=row["next_attempt_at"],
        last_error=row["last_error"],
        paused_at=row["paused_at"],
        paused_reason=row["paused_reason"],
        created_by=row["created_by"],
        created_by_role=row["created_by_role"],
        created_at=row["created_at"],
    )


def _delivery(row: Any) -> Delivery:
    return Delivery(
        seq=int(row["seq"]),
        subscription_id=row["subscription_id"],
        delivery_id=row["delivery_id"],
        notification_id=int(row["notification_id"]),
        attempt=int(row["attempt"]),
        outcome=row["outcome"],
        status_code=None if row["status_code"] is None else int(row["status_code"]),
        error=row["error"],
        latency_ms=float(row["latency_ms"]),
        attempted_at=row["attempted_at"],
    )


class Webhooks:
    """The subscriptions and their delivery log, in the views' datastore."""

    def __init__(self, views: LinliViews, log_head: Any = None) -> None:
        self.views = views
        self.postgres = views.placeholder != "?"
        # The log's head (``recorder.max_notification_id``): where a new subscription starts.
        self.log_head = log_head

    def _sql(self, text: str) -> str:
        text = text.replace("{subs}", self.views.table(SUBSCRIPTIONS))
        text = text.replace("{deliveries}", self.views.table(DELIVERIES))
        placeholder = self.views.placeholder
        return text.replace("?", placeholder) if placeholder != "?" else text

    # ----- tables ---------------------------------------------------------------------

    def ddl(self) -> list[str]:
        big = "BIGINT" if self.postgres else "INTEGER"
        serial = (
            "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
            if self.postgres
            else "INTEGER PRIMARY KEY AUTOINCREMENT"
        )
        return [
            "CREATE TABLE IF NOT EXISTS {subs} ("
            "id TEXT PRIMARY KEY, url TEXT NOT NULL, event_types TEXT NOT NULL, "
            "compound_ids TEXT NOT NULL, secret TEXT NOT NULL, personal_data INTEGER NOT NULL, "
            f"status TEXT NOT NULL, position {big} NOT NULL, failures INTEGER NOT NULL DEFAULT 0, "
            "next_attempt_at TEXT, last_error TEXT, paused_at TEXT, paused_reason TEXT, "
            "created_by TEXT NOT NULL, created_by_role TEXT NOT NULL, created_at TEXT NOT NULL, "
            "lease_owner TEXT, lease_until TEXT)",
            f"CREATE TABLE IF NOT EXISTS {{deliveries}} (seq {serial}, "
            "subscription_id TEXT NOT NULL, delivery_id TEXT NOT NULL, "
            f"notification_id {big} NOT NULL, attempt INTEGER NOT NULL, outcome TEXT NOT NULL, "
            "status_code INTEGER, error TEXT, latency_ms REAL NOT NULL, attempted_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS webhook_deliveries_subscription "
            "ON {deliveries} (subscription_id, seq)",
        ]

    def create_tables(self) -> None:
        with self.views.writing() as c:
            for statement in self.ddl():
                c.execute(self._sql(statement))

    # ----- commands and queries of the API ----------------------------------------------

    def create(
        self,
        actor: Actor,
        *,
        url: str,
        event_types: list[str],
        compound_ids: list[Any],
        personal_data: bool = False,
        from_position: int | None = None,
    ) -> tuple[Subscription, str]:
        """A new subscription and its secret (answered this once). It starts at
        the log's head (events from now on), or at ``from_position``."""
        rules.authorize(actor, "webhook.manage")
        url = rules.validate_url(url)
        types = rules.validate_event_types(event_types)
        compounds = rules.check_compounds(actor, compound_ids)
        if from_position is not None and from_position < 1:
            raise InvalidValue("from_position", "a log position is 1 or more")
        head = int(self.log_head() or 0) if self.log_head is not None else 0
        position = head if from_position is None else from_position - 1
        secret = secrets.token_urlsafe(SECRET_BYTES)
        subscription_id = str(uuid.uuid4())
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "INSERT INTO {subs} (id, url, event_types, compound_ids, secret, personal_data, "
                    "status, position, failures, created_by, created_by_role, created_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'active', ?, 0, ?, ?, ?)"
                ),
                [
                    subscription_id, url, json.dumps(types), json.dumps(compounds), secret,
                    1 if personal_data else 0, position, actor.id, str(actor.role), _text(_now()),
                ],
            )
        found = self.get(subscription_id)
        assert found is not None
        return found, secret

    def get(self, subscription_id: str) -> Subscription | None:
        with self.views.reading() as c:
            c.execute(self._sql("SELECT * FROM {subs} WHERE id = ?"), [subscription_id])
            row = c.fetchone()
        return None if row is None else _subscription(row)

    def secret_of(self, subscription_id: str) -> str | None:
        with self.views.reading() as c:
            c.execute(self._sql("SELECT secret FROM {subs} WHERE id = ?"), [subscription_id])
            row = c.fetchone()
        return None if row is None else str(row["secret"])

    def visible(self, actor: Actor, subscription_id: str, action: str = "webhook.read") -> Subscription:
        """The subscription, if the actor may ``action`` it; else ``NotPermitted``/``NotFound``."""
        rules.authorize(actor, action)
        try:
            uuid.UUID(subscription_id)
        except ValueError:
            raise NotFound("webhook subscription not found") from None
        found = self.get(subscription_id)
        rules.ensure_visible(actor, action, None if found is None else found.compound_ids)
        assert found is not None
        return found

    def all(self) -> list[Subscription]:
        with self.views.reading() as c:
            c.execute(self._sql("SELECT * FROM {subs} ORDER BY created_at, id"))
            return [_subscription(row) for row in c.fetchall()]

    def list_for(self, actor: Actor) -> list[Subscription]:
        rules.authorize(actor, "webhook.read")
        return [s for s in self.all() if rules.can_see(actor, s.compound_ids)]

    def deliveries(self, subscription_id: str, *, limit: int = 50, before: int | None = None) -> list[Delivery]:
        """The delivery log of a subscription, newest first; ``before`` a ``seq``."""
        limit = max(1, min(limit, MAX_PAGE))
        clause, params = "subscription_id = ?", [subscription_id]
        if before is not None:
            clause += " AND seq < ?"
            params.append(before)
        with self.views.reading() as c:
            c.execute(
                self._sql(f"SELECT * FROM {{deliveries}} WHERE {clause} ORDER BY seq DESC LIMIT ?"),
                [*params, limit],
            )
            return [_delivery(row) for row in c.fetchall()]

    def pause(self, actor: Actor, subscription_id: str) -> Subscription:
        self.visible(actor, subscription_id, "webhook.manage")
        self._set_paused(subscription_id, f"paused by {actor.role} {actor.id}")
        return self._got(subscription_id)

    def resume(self, actor: Actor, subscription_id: str) -> Subscription:
        """Active again, tried at once, its failures forgotten; from the same position."""
        self.visible(actor, subscription_id, "webhook.manage")
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "UPDATE {subs} SET status = 'active', failures = 0, next_attempt_at = NULL, "
                    "paused_at = NULL, paused_reason = NULL WHERE id = ?"
                ),
                [subscription_id],
            )
        return self._got(subscription_id)

    def replay(self, actor: Actor, subscription_id: str, from_position: int) -> Subscription:
        """Deliver again from ``from_position`` (a notification id, 1 or more) on.
        The status stays as it is: a paused subscription replays once resumed."""
        self.visible(actor, subscription_id, "webhook.manage")
        if from_position < 1:
            raise InvalidValue("from_position", "a log position is 1 or more")
        head = int(self.log_head() or 0) if self.log_head is not None else None
        if head is not None and from_position > head + 1:
            raise InvalidValue("from_position", f"the log ends at position {head}")
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "UPDATE {subs} SET position = ?, failures = 0, next_attempt_at = NULL WHERE id = ?"
                ),
                [from_position - 1, subscription_id],
            )
        return self._got(subscription_id)

    def _got(self, subscription_id: str) -> Subscription:
        found = self.get(subscription_id)
        if found is None:
            raise NotFound("webhook subscription not found")
        return found

    def _set_paused(self, subscription_id: str, reason: str) -> None:
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "UPDATE {subs} SET status = 'paused', paused_at = ?, paused_reason = ? "
                    "WHERE id = ? AND status = 'active'"
                ),
                [_text(_now()), reason, subscription_id],
            )

    # ----- the worker's side ----------------------------------------------------------

    def due(self, owner: str, now: datetime) -> list[str]:
        """Active subscriptions whose next attempt is due and whose lease is free (or ours)."""
        at = _text(now)
        with self.views.reading() as c:
            c.execute(
                self._sql(
                    "SELECT id FROM {subs} WHERE status = 'active' "
                    "AND (next_attempt_at IS NULL OR next_attempt_at <= ?) "
                    "AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?) "
                    "ORDER BY created_at, id"
                ),
                [at, at, owner],
            )
            return [row["id"] for row in c.fetchall()]

    def claim(self, subscription_id: str, owner: str, lease_seconds: float) -> Any | None:
        """Take (or renew) the lease; the subscription's row (with its secret) if taken."""
        now = _now()
        at, until = _text(now), _text(now + timedelta(seconds=lease_seconds))
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "UPDATE {subs} SET lease_owner = ?, lease_until = ? WHERE id = ? "
                    "AND status = 'active' AND (lease_until IS NULL OR lease_until < ? OR lease_owner = ?)"
                ),
                [owner, until, subscription_id, at, owner],
            )
            if _rowcount(c) != 1:
                return None
            c.execute(self._sql("SELECT * FROM {subs} WHERE id = ?"), [subscription_id])
            row = c.fetchone()
        return None if row is None else dict(row)

    def release(self, owner: str) -> None:
        with self.views.writing() as c:
            c.execute(
                self._sql("UPDATE {subs} SET lease_owner = NULL, lease_until = NULL WHERE lease_owner = ?"),
                [owner],
            )

    def advance(self, subscription_id: str, owner: str, expected: int, position: int) -> bool:
        """Move past notifications the subscription does not want."""
        with self.views.writing() as c:
            c.execute(
                self._sql(
                    "UPDATE {subs} SET position = ? WHERE id = ? AND lease_owner = ? "
                    "AND position = ? AND status = 'active'"
                ),
                [position, subscription_id, owner, expected],
            )
            return _rowcount(c) == 1

    def record(
        self,
        subscription_id: str,
        owner: str,
        expected: int,
        attempt: Delivery,
        *,
        lease_seconds: float,
        next_attempt_at: datetime | None = None,
        pause: bool = False,
    ) -> bool:
        """One attempt, in one transaction with the subscription's state: a
        delivered one moves the position to its notification and clears the
        failures; a failed one counts a failure and sets the next attempt
        (and pauses the subscription, with ``pause``). Nothing is written,
        and False answered, if the subscription is no longer at ``expected``,
        no longer active or no longer leased to ``owner``."""
        now = _now()
        until = _text(now + timedelta(seconds=lease_seconds))
        with self.views.writing() as c:
            if attempt.outcome == "delivered":
                c.execute(
                    self._sql(
                        "UPDATE {subs} SET position = ?, failures = 0, next_attempt_at = NULL, "
                        "last_error = NULL, lease_until = ? WHERE id = ? AND lease_owner = ? "
                        "AND position = ? AND status = 'active'"
                    ),
                    [attempt.notification_id, until, subscription_id, owner, expected],
                )
            else:
                c.execute(
                    self._sql(
                        "UPDATE {subs} SET failures = failures + 1, next_attempt_at = ?, last_error = ?, "
                        "status = ?, paused_at = ?, paused_reason = ?, lease_until = ? "
                        "WHERE id = ? AND lease_owner = ? AND position = ? AND status = 'active'"
                    ),
                    [
                        None if next_attempt_at is None else _text(next_attempt_at),
                        attempt.error,
                        "paused" if pause else "active",
                        _text(now) if pause else None,
                        f"{attempt.attempt} consecutive failed attempts" if pause else None,
                        until,
                        subscription_id,
                        owner,
                        expected,
                    ],
                )
            if _rowcount(c) != 1:
                return False
            c.execute(
                self._sql(
                    "INSERT INTO {deliveries} (subscription_id, delivery_id, notification_id, attempt, "
                    "outcome, status_code, error, latency_ms, attempted_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
                ),
                [
                    subscription_id, attempt.delivery_id, attempt.notification_id, attempt.attempt,
                    attempt.outcome, attempt.status_code, attempt.error, attempt.latency_ms,
                    attempt.attempted_at,
                ],
            )
        return True


def deliveries_for_console(webhooks: Webhooks, actor: Actor, subscription_id: str, *,
                           limit: int = 50, before: int | None = None) -> list[dict[str, Any]]:
    """For the console's page: a subscription's delivery log, newest first, as
    plain rows (``NotFound``/``NotPermitted`` as the API answers them)."""
    webhooks.visible(actor, subscription_id)
    return [vars(d) for d in webhooks.deliveries(subscription_id, limit=limit, before=before)]


# ----- the worker ----------------------------------------------------------------------


@dataclass(frozen=True)
class WorkerSettings:
    timeout: float = 5.0
    backoff_base: float = 2.0
    backoff_cap: float = 600.0
    max_failures: int = 10
    poll_interval: float = 1.0
    lease_seconds: float = 30.0

    @classmethod
    def of(cls, settings: Any) -> WorkerSettings:
        timeout = settings.webhook_timeout_seconds
        return cls(
            timeout=timeout,
            backoff_base=settings.webhook_backoff_base_seconds,
            backoff_cap=settings.webhook_backoff_cap_seconds,
            max_failures=settings.webhook_max_failures,
            poll_interval=settings.webhook_poll_interval,
            # A lease outlives any one attempt.
            lease_seconds=max(settings.webhook_lease_seconds, 2 * timeout + 1),
        )


class WebhookWorker:
    """One thread per process that delivers every due subscription in turn."""

    def __init__(self, app: Any, webhooks: Webhooks, config: WorkerSettings) -> None:
        self.app = app
        self.webhooks = webhooks
        self.config = config
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: httpx.Client | None = None
        self._compounds: dict[str, str | None] = {}
        self._rng = random.Random()
        self.last_error: str | None = None
        # Whether the last round found no subscription due (``wake``).
        self._none_due = False

    # ----- running ---------------------------------------------------------------------

    def wake(self, position: int | None = None) -> None:
        """Start a round now. A save in this process (``position``, from
        ``on_recorded``) wakes the worker only if its last round found a
        subscription due: with none (the usual case, or all leased by another
        process's worker), a round per save is a query and a commit for
        nothing, on every command. A subscription made, resumed or replayed
        wakes it without a position, always; the poll finds the rest within
        ``poll_interval``."""
        if position is not None and self._none_due:
            return
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        if self.running:
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._loop, name="linli-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is None:
            return
        self._thread.join(timeout=self.config.timeout + 10)
        self._thread = None
        try:
            self.webhooks.release(self.owner)
        except Exception as error:  # the database is gone: the leases lapse by themselves
            log.warning("releasing the webhook leases failed: %s", error)
        if self._client is not None:
            self._client.close()
            self._client = None

    def run_forever(self) -> None:
        """For a process of its own (``python -m infrastructure.webhooks run``)."""
        try:
            self._loop()
        finally:
            self.webhooks.release(self.owner)

    def _loop(self) -> None:
        backoff = 0.1
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                busy = self.run_once()
            except Exception as error:  # keep going: each subscription stays at its position
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("webhook delivery round failed; retrying")
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.last_error = None
            backoff = 0.1
            if not busy:
                self._wake.wait(self.config.poll_interval)

    @property
    def client(self) -> httpx.Client:
        if self._client is None:
            self._client = httpx.Client(
                timeout=httpx.Timeout(self.config.timeout, connect=min(self.config.timeout, 3.0)),
                follow_redirects=False,
                headers={"User-Agent": USER_AGENT},
            )
        return self._client

    def run_once(self) -> bool:
        """Serve every due subscription once; whether any delivered or moved."""
        busy = False
        due = self.webhooks.due(self.owner, _now())
        self._none_due = not due
        for subscription_id in due:
            if self._stopping.is_set():
                break
            row = self.webhooks.claim(subscription_id, self.owner, self.config.lease_seconds)
            if row is None:
                continue
            busy = self._serve(row) or busy
        return busy

    # ----- one subscription ----------------------------------------------------------------

    def compound_of(self, event: Any, case_type: Any) -> str | None:
        """The compound of an event's case: on its creating event, or read once
        from the case's first events (and kept: a case never changes compound)."""
        case_id = str(event.originator_id)
        if case_type is not None and case_type.name == "compound":
            return case_id
        found = getattr(event, "compound_id", None)
        if found is not None:
            return str(found)
        if case_id in self._compounds:
            return self._compounds[case_id]
        compound = None
        for stored in self.app.recorder.select_events(event.originator_id, limit=5):
            first = self.app.mapper.to_domain_event(stored)
            value = getattr(first, "compound_id", None)
            if value is not None:
                compound = str(value)
                break
        if len(self._compounds) >= 100_000:
            self._compounds.clear()
        self._compounds[case_id] = compound
        return compound

    def _serve(self, row: dict[str, Any]) -> bool:
        """Deliver a claimed subscription's events in order until it is done,
        an attempt fails, or half its lease is used; whether it moved."""
        subscription_id = row["id"]
        types = json.loads(row["event_types"])
        compounds = json.loads(row["compound_ids"])
        position = int(row["position"])
        failures = int(row["failures"])
        personal = bool(row["personal_data"])
        until = time.monotonic() + self.config.lease_seconds / 2
        moved = False
        while not self._stopping.is_set() and time.monotonic() < until:
            notifications = self.app.recorder.select_notifications(start=position + 1, limit=READ_BATCH)
            if not notifications:
                return moved
            for notification in notifications:
                event = self.app.mapper.to_domain_event(notification)
                case_type = case_type_of(event)
                event_type = rules.event_name(event)
                if not rules.matches(types, event_type) or not rules.wants(
                    types, compounds, event_type, self.compound_of(event, case_type)
                ):
                    continue
                # Past the notifications it does not want, up to this one.
                if notification.id - 1 > position:
                    if not self.webhooks.advance(subscription_id, self.owner, position, notification.id - 1):
                        return moved
                    position = notification.id - 1
                    moved = True
                document = rules.payload(
                    event,
                    notification.id,
                    subscription_id=subscription_id,
                    case_type=None if case_type is None else case_type.name,
                    compound_id=self.compound_of(event, case_type),
                    personal_data=personal,
                )
                ok = self._attempt(row, document, notification.id, position, failures + 1)
                if ok is not True:
                    return moved or ok is False
                position, failures, moved = notification.id, 0, True
                if self._stopping.is_set() or time.monotonic() >= until:
                    return moved
            last = notifications[-1].id
            if last > position:
                if not self.webhooks.advance(subscription_id, self.owner, position, last):
                    return moved
                position, moved = last, True
        return moved

    def _attempt(
        self, row: dict[str, Any], document: dict[str, Any], notification_id: int, expected: int, attempt: int
    ) -> bool | None:
        """POST one event; True when delivered and recorded, False when it
        failed (recorded), None when the subscription moved meanwhile."""
        body = rules.body_bytes(document)
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            rules.DELIVERY_HEADER: document["delivery_id"],
            rules.EVENT_HEADER: document["event_type"],
            rules.TIMESTAMP_HEADER: str(timestamp),
            rules.SIGNATURE_HEADER: rules.sign(row["secret"], timestamp, body),
        }
        attempted_at = _text(_now())
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            with self.client.stream("POST", row["url"], content=body, headers=headers) as response:
                status = response.status_code
        except httpx.HTTPError as failure:
            error = f"{type(failure).__name__}: {failure}"[:MAX_ERROR] or type(failure).__name__
        latency = round((time.monotonic() - started) * 1000, 1)
        delivered = status is not None and 200 <= status < 300
        if status is not None and not delivered:
            error = f"HTTP {status}"
        outcome = Delivery(
            seq=0,
            subscription_id=row["id"],
            delivery_id=document["delivery_id"],
            notification_id=notification_id,
            attempt=attempt,
            outcome="delivered" if delivered else "failed",
            status_code=status,
            error=error,
            latency_ms=latency,
            attempted_at=attempted_at,
        )
        if delivered:
            recorded = self.webhooks.record(
                row["id"], self.owner, expected, outcome, lease_seconds=self.config.lease_seconds
            )
            return True if recorded else None
        wait = rules.backoff(attempt, self.config.backoff_base, self.config.backoff_cap, self._rng)
        pause = attempt >= self.config.max_failures
        recorded = self.webhooks.record(
            row["id"],
            self.owner,
            expected,
            outcome,
            lease_seconds=self.config.lease_seconds,
            next_attempt_at=_now() + timedelta(seconds=wait),
            pause=pause,
        )
        if recorded:
            log.info(
                "webhook %s: attempt %d of notification %d failed (%s)%s",
                row["id"], attempt, notification_id, error, "; paused" if pause else "",
            )
        return False if recorded else None


def iter_all_deliveries(webhooks: Webhooks, subscription_id: str) -> Iterator[Delivery]:
    """Every attempt of a subscription, newest first, page by page."""
    before = None
    while True:
        page = webhooks.deliveries(subscription_id, limit=MAX_PAGE, before=before)
        if not page:
            return
        yield from page
        before = page[-1].seq


def main(argv: list[str] | None = None) -> int:
    """``python -m infrastructure.webhooks run``: deliver webhooks in a
    process of its own (beside servers that do not), until interrupted."""
    import sys

    from infrastructure.settings import Settings
    from infrastructure.store import build_services

    args = sys.argv[1:] if argv is None else argv
    if args != ["run"]:
        print("usage: python -m infrastructure.webhooks run", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO)
    services = build_services(Settings())
    try:
        print("delivering webhooks; Ctrl-C to stop", flush=True)
        services.webhook_worker.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        services.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

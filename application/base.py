"""What every command of the Linli application shares: loading, saving, retrying."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
import json
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4, uuid5

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from application.recent import RecentAggregates
from domain.actor import Actor
from domain.calendar import DeadlinePolicy
from domain.compound import Compound
from domain.errors import Conflict, InvalidValue, NotFound
from domain.party import Party

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Recorded:
    """What a command returns: the aggregate's id and new version, the log
    position of its last event (to wait on the views with), and what else the
    command made (``extra``, e.g. the id of a building it added)."""

    id: UUID
    version: int
    position: int
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RequestKey:
    """An idempotency key: ``scope`` names the caller and their key, ``request``
    the command and its body. Set for the duration of one command."""

    scope: str
    request: str

    def new_id(self, n: int = 0) -> UUID:
        """Ids of aggregates a keyed command creates: a replay collides on them."""
        return uuid5(_KEY_NAMESPACE, f"{self.scope}:{n}")


_KEY_NAMESPACE = UUID("6f1c3c1e-4d0b-4a43-9d8e-6c0f3a9b2d11")
request_key: ContextVar[RequestKey | None] = ContextVar("linli_request_key", default=None)


class KeyReused(InvalidValue):
    """The same idempotency key came with another command or body (HTTP 422)."""

    def __init__(self) -> None:
        super().__init__(
            "Idempotency-Key", "this key was used for a different request; use a new key"
        )


class StaleVersion(Exception):
    """If-Match named a version that is no longer the current one (HTTP 412)."""

    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(
            f"the case is at version {actual}, not {expected}: reload and try again"
        )
        self.expected = expected
        self.actual = actual


class ConcurrentChange(Conflict):
    """A command kept losing version races (HTTP 409)."""


class LinliBase(Application):
    """Every command loads aggregates, applies one domain method and saves."""

    name = "Linli"
    max_retries = 5

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        deadline_policy: DeadlinePolicy,
        evaluation_window: timedelta = timedelta(days=7),
        kept_aggregates: int = 10_000,
    ) -> None:
        super().__init__(env)
        # Aggregates as this process's commands saved them (application/recent.py).
        self.kept = RecentAggregates(kept_aggregates)
        self.deadline_policy = deadline_policy
        self.evaluation_window = evaluation_window
        self._listeners: list[Callable[[int], None]] = []
        self._snapshotted: dict[type[Aggregate], bool] = {}

    # ----- plumbing ----------------------------------------------------

    def on_recorded(self, listener: Callable[[int], None]) -> None:
        """Call ``listener(position)`` after each save in this process."""
        self._listeners.append(listener)

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        super()._notify(recordings)
        if recordings and self._listeners:
            position = recordings[-1].notification.id
            for listener in self._listeners:
                listener(position)

    def _load(self, cls: type[A], aggregate_id: UUID, what: str) -> A:
        try:
            if self._may_have_snapshots(cls) or self.repository.cache:
                aggregate = self.repository.get(aggregate_id)
            else:
                aggregate = self._replay(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def _may_have_snapshots(self, cls: type[Aggregate]) -> bool:
        """Whether an aggregate loaded as ``cls`` may be one of a snapshotted class."""
        found = self._snapshotted.get(cls)
        if found is None:
            found = any(issubclass(k, cls) for k in (self.snapshotting_intervals or {}))
            self._snapshotted[cls] = found
        return found

    def _replay(self, aggregate_id: UUID) -> Aggregate:
        """An aggregate rebuilt from all its events, as ``repository.get`` does,
        without first asking the snapshot store for a snapshot that a class
        never snapshotted cannot have (a query per load saved). An aggregate
        of a snapshotted class replays to the same state (snapshots only
        shorten the replay), and then fails ``_load``'s class check anyway."""
        aggregate: Any = None
        for domain_event in self.repository.event_store.get(originator_id=aggregate_id):
            aggregate = domain_event.mutate(aggregate)  # type: ignore[attr-defined]
        if aggregate is None:
            raise AggregateNotFoundError(aggregate_id)
        return aggregate  # type: ignore[no-any-return]

    def new_id(self, n: int = 0) -> UUID:
        """An id for an aggregate a command creates: derived from the
        idempotency key when there is one, so that a replay collides."""
        key = request_key.get()
        return key.new_id(n) if key is not None else uuid4()

    def _commit(self, *aggregates: Aggregate, extra: dict[str, Any] | None = None) -> Recorded:
        """Save in one transaction; with an idempotency key, record the key and
        the result (for the first aggregate) in that same transaction."""
        primary = aggregates[0]
        key = request_key.get()
        kwargs: dict[str, Any] = {}
        if key is not None:
            # The command's position is that of the last event saved.
            last = next((a for a in reversed(aggregates) if a.pending_events), primary)
            kwargs["idempotency"] = {
                "scope": key.scope,
                "request": key.request,
                "aggregate_id": primary.id,
                "version": primary.version,
                "last_id": last.id,
                "last_version": last.version,
                "extra": json.dumps(extra or {}),
            }
        recordings = self._save_aggregates(aggregates, kwargs)
        position = recordings[-1].notification.id if recordings else 0
        recorded = Recorded(primary.id, primary.version, position, dict(extra or {}))
        # As saved, the next command on each starts here. Once kept, another
        # thread's command may take and change one: nothing here reads them after.
        for aggregate in aggregates:
            self.kept.keep(aggregate)
        return recorded

    def _save_aggregates(
        self, aggregates: tuple[Aggregate, ...], kwargs: dict[str, Any]
    ) -> list[Recording[UUID]]:
        """``Application.save`` of aggregates, step by step as the library
        does it, without asking of each object whether it is an event or an
        aggregate: a command saves only aggregates, and the two runtime
        Protocol checks that ask it walk the aggregate's class attributes. They
        were about a tenth of the instructions of a need command's
        application part (callgrind, the command mix without HTTP)."""
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for aggregate in aggregates:
            processing.events.extend(aggregate.collect_events())
            processing.aggregates[aggregate.id] = aggregate
        processing.saved_kwargs.update(kwargs)
        recordings = self._record(processing)
        self._take_snapshots(processing)
        self._notify(recordings)
        self.notify(processing.events)  # deprecated, as the library still calls it
        return recordings

    def _replayed(self) -> Recorded | None:
        """The result of an earlier command under this request's key, if any."""
        key = request_key.get()
        if key is None:
            return None
        found = self.recorder.find_idempotent(key.scope)  # type: ignore[attr-defined]
        if found is None:
            return None
        if found["request"] != key.request:
            raise KeyReused
        return Recorded(
            found["aggregate_id"], found["version"], found["position"], found["extra"]
        )

    def _run(
        self,
        aggregate_id: UUID,
        cls: type[A],
        what: str,
        change: Callable[[A], Any],
        expected_version: int | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Recorded:
        """Load, change and save one aggregate, retrying lost version races.

        The whole command is re-run on the new state, so a command that is no
        longer valid after another writer's change fails by its own rule.
        ``change`` may fill ``extra`` with what the response reports besides.
        """
        if (earlier := self._replayed()) is not None:
            return earlier
        # A kept copy may be stale (application/recent.py): it is tried once,
        # and a command that fails on it, by a rule or by colliding with what
        # another process saved, runs again on the stored state before it is
        # answered. Only a lost race on the stored state is retried with a wait.
        kept = self.kept.take(aggregate_id)
        attempt = 0
        while attempt < self.max_retries:
            from_kept = isinstance(kept, cls)
            aggregate: A = kept if from_kept else self._load(cls, aggregate_id, what)  # type: ignore[assignment]
            kept = None
            try:
                if expected_version is not None and aggregate.version != expected_version:
                    raise StaleVersion(expected_version, aggregate.version)
                change(aggregate)
            except Exception:
                if from_kept:
                    continue
                raise
            try:
                return self._commit(aggregate, extra=extra)
            except IntegrityError:
                if (earlier := self._replayed()) is not None:
                    return earlier  # the same keyed command, committed meanwhile
                if from_kept:
                    continue
                if expected_version is not None:
                    current = self._load(cls, aggregate_id, what).version
                    raise StaleVersion(expected_version, current) from None
                attempt += 1
                log.info("version race on %s %s, attempt %d", what, aggregate_id, attempt)
                time.sleep(0.005 * attempt)
        raise ConcurrentChange(f"{what} {aggregate_id} kept changing; try again")

    def _create(
        self, aggregate: Aggregate, *others: Aggregate, extra: dict[str, Any] | None = None
    ) -> Recorded:
        """Save new aggregates (and any others changed with them) at once."""
        if (earlier := self._replayed()) is not None:
            return earlier
        try:
            return self._commit(aggregate, *others, extra=extra)
        except IntegrityError:
            if (earlier := self._replayed()) is not None:
                return earlier
            raise

    def get_party(self, party_id: UUID) -> Party:
        # A party never changes once registered (domain/party.py): a copy kept
        # in this process is the stored party, and threads may share it.
        kept = self.kept.peek(party_id)
        if isinstance(kept, Party):
            return kept
        party = self._load(Party, party_id, "party")
        self.kept.keep(party)
        return party

    def party_serving(self, compound_id: UUID, party_id: UUID, field: str) -> Party:
        """A party named in a command: one of another compound is refused in
        the same words as one that does not exist, so that a caller learns
        nothing of other compounds' parties."""
        try:
            party = self.get_party(party_id)
        except NotFound:
            party = None
        if party is None or party.compound_id != compound_id:
            raise InvalidValue(field, f"no such party in this compound: {party_id}")
        return party

    def _visible_compound(self, by: Actor, compound_id: UUID, field: str) -> Compound:
        """A compound named in a command's body: unknown or not covered is a 422 on the field."""
        if not by.covers(compound_id):
            raise InvalidValue(field, "no such compound among yours")
        try:
            return self._load(Compound, compound_id, "compound")
        except NotFound:
            raise InvalidValue(field, "no such compound among yours") from None

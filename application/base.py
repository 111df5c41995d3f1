"""What every command of the Linli application shares: loading, saving, retrying."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError, Recording

from domain.actor import Actor
from domain.calendar import DeadlinePolicy
from domain.compound import Compound
from domain.errors import Conflict, InvalidValue, NotFound
from domain.party import Party

log = logging.getLogger(__name__)

A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Recorded:
    """What a command returns: the aggregate's id and new version, and the
    log position of its last event (to wait on the views with)."""

    id: UUID
    version: int
    position: int


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
    ) -> None:
        super().__init__(env)
        self.deadline_policy = deadline_policy
        self.evaluation_window = evaluation_window
        self._listeners: list[Callable[[int], None]] = []

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
            aggregate = self.repository.get(aggregate_id)
        except AggregateNotFoundError:
            raise NotFound(f"{what} not found") from None
        if not isinstance(aggregate, cls):
            raise NotFound(f"{what} not found")
        return aggregate

    def _save(self, *aggregates: Aggregate) -> int:
        recordings = self.save(*aggregates)
        if not recordings:
            return self.recorder.max_notification_id() or 0
        return recordings[-1].notification.id

    def _run(
        self,
        aggregate_id: UUID,
        cls: type[A],
        what: str,
        change: Callable[[A], Any],
        expected_version: int | None = None,
    ) -> Recorded:
        """Load, change and save one aggregate, retrying lost version races.

        The whole command is re-run on the new state, so a command that is no
        longer valid after another writer's change fails by its own rule.
        """
        for attempt in range(self.max_retries):
            aggregate = self._load(cls, aggregate_id, what)
            if expected_version is not None and aggregate.version != expected_version:
                raise StaleVersion(expected_version, aggregate.version)
            change(aggregate)
            try:
                position = self._save(aggregate)
            except IntegrityError:
                if expected_version is not None:
                    raise StaleVersion(expected_version, aggregate.version) from None
                log.info("version race on %s %s, attempt %d", what, aggregate_id, attempt + 1)
                time.sleep(0.005 * (attempt + 1))
                continue
            return Recorded(aggregate.id, aggregate.version, position)
        raise ConcurrentChange(f"{what} {aggregate_id} kept changing; try again")

    def _create(self, aggregate: Aggregate, *others: Aggregate) -> Recorded:
        position = self._save(aggregate, *others)
        return Recorded(aggregate.id, aggregate.version, position)

    def get_party(self, party_id: UUID) -> Party:
        return self._load(Party, party_id, "party")

    def _visible_compound(self, by: Actor, compound_id: UUID, field: str) -> Compound:
        """A compound named in a command's body: unknown or not covered is a 422 on the field."""
        if not by.covers(compound_id):
            raise InvalidValue(field, "no such compound among yours")
        try:
            return self._load(Compound, compound_id, "compound")
        except NotFound:
            raise InvalidValue(field, "no such compound among yours") from None

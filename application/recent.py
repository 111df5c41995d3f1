"""The aggregates a process's commands last saved, kept to be changed again.

A need goes through its commands one after another, mostly through one
worker (a client keeps its connection to one), so the state a command saved
is what the next command on that need starts from. Reading and replaying
the need's events again would only rebuild it.

What is kept may be stale: another process (a second worker, the command
line) may have saved to the aggregate since. That is safe for what a
command records, because each event takes the aggregate's next version: a
change made to a stale copy collides, as it is saved, with the event already
stored at that version, and nothing of it is written. It is not safe for a
command's answer, so a command that fails on a kept copy, by a rule or by
that collision, is run again on the stored state before it is answered
(``LinliBase._run``).

So that a stale copy is rare, not only safe, a process that learns that
another one saved to an aggregate forgets its copy (``forget``): on
PostgreSQL every save's notification names the aggregates and versions it
saved (``infrastructure/recorders.py``), and a serving process listens for
them. Until it hears, and where nothing tells it (SQLite), the collision
above is what keeps a stale copy from deciding anything.

A copy is taken out while a command works on it, so no two threads share
one; it is put back only when its changes were saved, so a failed command
leaves nothing half applied behind.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable
from uuid import UUID

from eventsourcing.domain import Aggregate


class RecentAggregates:
    """Up to ``size`` aggregates by id, the least recently kept dropped first."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[UUID, Aggregate] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate kept under ``aggregate_id``, no longer kept; or None."""
        with self._lock:
            return self._kept.pop(aggregate_id, None)

    def peek(self, aggregate_id: UUID) -> Aggregate | None:
        """The aggregate kept under ``aggregate_id``, still kept; or None. Only
        for aggregates that never change, which threads may share."""
        with self._lock:
            kept = self._kept.get(aggregate_id)
            if kept is not None:
                self._kept.move_to_end(aggregate_id)
            return kept

    def keep(self, aggregate: Aggregate) -> None:
        """Keep ``aggregate``, as saved, for the next command on it."""
        if self._size <= 0:
            return
        with self._lock:
            self._kept[aggregate.id] = aggregate
            self._kept.move_to_end(aggregate.id)
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)

    def forget(self, changed: Iterable[tuple[UUID, int]] | None) -> None:
        """Forget the copies older than the versions ``changed`` names: what
        another process saved. None: forget all (what changed is not known)."""
        with self._lock:
            if changed is None:
                self._kept.clear()
                return
            for aggregate_id, version in changed:
                kept = self._kept.get(aggregate_id)
                if kept is not None and kept.version < version:
                    del self._kept[aggregate_id]

    def __contains__(self, aggregate_id: object) -> bool:
        with self._lock:
            return aggregate_id in self._kept

    def __len__(self) -> int:
        with self._lock:
            return len(self._kept)

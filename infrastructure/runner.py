"""Keeps the views up to date with the application's notification log.

The library's ``ProjectionRunner`` needs a recorder subscription, which its
SQLite recorder does not implement; this runner polls
``select_notifications`` instead, on both stores, and applies a whole batch
of events with its tracking position in one transaction, which is also what
makes catching up over millions of events fast. Writes in this process wake
it at once. On PostgreSQL, writes of other processes wake it too: the
library's recorder issues ``NOTIFY <channel>`` in every insert transaction,
and a ``Listener`` (``infrastructure/listening.py``) with a connection of
its own ``LISTEN``s on that channel and wakes the loop. Polling every
``poll_interval`` stays as the fallback: on SQLite, and whenever the
listener is down.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import Tracking

from infrastructure.listening import Listener
from infrastructure.partitions import Helpers, catch_up_by_partitions
from infrastructure.views import CatchUpUnfinished, LinliViews, PositionMoved

log = logging.getLogger(__name__)

# How often, while requests wait on an event loop and the views are kept by
# another process, one thread reads their position for all of them.
WATCH_INTERVAL = 0.05


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ViewUpdater:
    def __init__(
        self,
        app: Application,
        views: LinliViews,
        *,
        batch_size: int = 2000,
        poll_interval: float = 0.2,
        batch_interval: float = 0.0,
        listen: Callable[[], Any] | None = None,
        channel: str | None = None,
    ) -> None:
        """``listen`` opens an autocommit psycopg connection for ``LISTEN channel``
        (PostgreSQL only); without it, writes of other processes are seen by polling.

        ``batch_interval``: the running loop applies a batch at most this often.
        An event that comes longer than that after the last batch is applied
        at once; events that come sooner wait for the rest of the interval and
        are applied together, in one transaction instead of one each. Under a
        steady stream of commands most of a small batch's cost is per batch
        (a query for the notifications, a transaction, the tracking row), so
        this trades at most ``batch_interval`` of view lag for that cost."""
        self.app = app
        self.views = views
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.batch_interval = batch_interval
        self._position = views.position(app.name)
        self._changed = threading.Condition()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.last_error: str | None = None
        self._listen = listen
        self._channel = channel
        self._listener: Listener | None = None
        # The batch read while the last one was being stored: (its start, its events).
        self._ahead: tuple[int, list[tuple[Any, int]]] | None = None
        # The highest log position this process's own saves reached (``wake``).
        self.recorded = 0
        # Coroutines waiting on an event loop for a position (``reached``):
        # (position, loop, future), released by whichever thread moves it.
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._waiters_lock = threading.Lock()
        self._watch: threading.Thread | None = None
        # Processes that catch up partitions beside this one (PostgreSQL).
        self.helpers: Helpers | None = None

    @property
    def position(self) -> int:
        return self._position

    def log_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def _read(self, start: int) -> list[tuple[Any, int]]:
        """The next batch of events from ``start``, decoded, with their positions."""
        notifications = self.app.recorder.select_notifications(start=start, limit=self.batch_size)
        events = self.app.mapper.to_domain_events(notifications)
        return [(event, n.id) for event, n in zip(events, notifications, strict=True)]

    def _read_ahead(self, start: int) -> None:
        """Best effort: a read that fails (no pooled connection to spare, say)
        must not undo the batch being stored; the next pass reads again."""
        try:
            self._ahead = (start, self._read(start))
        except Exception as error:
            log.warning("reading the next batch ahead failed (%s); reading it after", error)
            self._ahead = None

    def run_once(self) -> int:
        """Apply the next batch of events; return how many there were."""
        while True:
            start = self._position + 1
            ahead, self._ahead = self._ahead, None
            # Only a full batch read ahead is used: one that came short was read
            # before this pass cleared the loop's wake, and what was written
            # after it would wait for the next poll.
            if ahead is not None and ahead[0] == start and len(ahead[1]) == self.batch_size:
                items = ahead[1]
            else:
                items = self._read(start)
            if not items:
                return 0
            last = items[-1][1]
            tracking = Tracking(self.views.tracking_name(self.app.name), last)

            # A full batch: more are waiting (catching up). The next one is read
            # and decoded while the server stores this one's rows (PostgreSQL;
            # on SQLite it would only hold the batch's write lock longer).
            meanwhile = None
            if len(items) == self.batch_size and self.views.stores_while_waiting:
                meanwhile = lambda: self._read_ahead(last + 1)  # noqa: E731
            try:
                self.views.process_batch(
                    items, tracking, expected_position=self._position, meanwhile=meanwhile
                )
            except CatchUpUnfinished:
                # Finished here (up to the head) before anything else is applied.
                self._ahead = None
                before = self._position
                reached = catch_up_by_partitions(self, self.helpers, minimum=0)
                with self._changed:
                    self._position = reached if reached is not None else self.views.position(self.app.name)
                    self._changed.notify_all()
                self._release()
                if self._position > before:
                    return self._position - before
                continue
            except PositionMoved as moved:
                # Another writer, or a rebuild swapped in: go on from where the views are.
                log.info("views moved to position %d; resuming from there", moved.stored)
                with self._changed:
                    self._position = moved.stored
                    self._changed.notify_all()
                self._release()
                continue
            with self._changed:
                self._position = last
                self._changed.notify_all()
            self._release()
            return len(items)

    def catch_up(self, progress: Callable[[int, int], None] | None = None) -> int:
        """Apply every event there is; return how many positions that covered.
        Far behind, on PostgreSQL, the views are caught up by partitions in
        ``helpers``' processes beside this one (infrastructure/partitions.py),
        which end when it is done."""
        done = 0
        if self.helpers is not None:
            before = self._position
            helpers = self.helpers
            try:
                reached = catch_up_by_partitions(self, helpers, progress=progress)
            except Exception as error:
                # (A daemonic process may start none, a helper may die.) This
                # process goes on alone; what the shares did is finished by it.
                log.warning("catching up by partitions failed (%r); going on in one process", error)
                self.helpers = None
                reached = None
            finally:
                helpers.close()
            if reached is not None:
                with self._changed:
                    self._position = reached
                    self._changed.notify_all()
                self._release()
                done += reached - before
        while count := self.run_once():
            done += count
            if progress is not None:
                progress(count, self._position)
        return done

    def wake(self, position: int | None = None) -> None:
        if position is not None and position > self.recorded:
            self.recorded = position
        self._wake.set()

    def wait_for(self, position: int, timeout: float) -> bool:
        """Block until the views have reached ``position``; False on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._position < position:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._changed.wait(min(remaining, 0.05))
        if self._position < position and self._thread is None:
            # Views kept by another process: read their position.
            while (current := self.views.position(self.app.name)) < position:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(0.02)
            self._position = max(self._position, current)
            self._release()
        return self._position >= position

    # ----- waiting on an event loop, holding no thread ---------------------------

    async def reached(self, position: int, timeout: float) -> bool:
        """Whether the views reach ``position`` within ``timeout`` seconds,
        awaited on the running event loop: no thread is held while waiting.
        The thread that moves the position (this process's updater, or, when
        the views are kept by another process, one watcher thread reading
        their position for all waiters) releases the waiters it passed."""
        if self._position >= position:
            return True
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (position, loop, future)
        with self._waiters_lock:
            self._waiters.append(entry)
        self._release()  # moved meanwhile
        if self._thread is None:
            self._start_watch()
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._waiters_lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
        return self._position >= position

    @property
    def waiting(self) -> int:
        """How many coroutines wait in ``reached``."""
        return len(self._waiters)

    def _release(self) -> None:
        if not self._waiters:
            return
        with self._waiters_lock:
            due = [w for w in self._waiters if w[0] <= self._position]
            if not due:
                return
            self._waiters = [w for w in self._waiters if w[0] > self._position]
        for _, loop, future in due:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the loop was closed meanwhile
                pass

    def _start_watch(self) -> None:
        with self._waiters_lock:
            if self._watch is not None and self._watch.is_alive():
                return
            self._watch = threading.Thread(target=self._watching, name="linli-views-watch", daemon=True)
            self._watch.start()

    def _watching(self) -> None:
        """While coroutines wait and no updater runs here: read the views'
        position (kept by another process) every ``WATCH_INTERVAL`` s, one
        read for all the waiters."""
        while not self._stopping.is_set():
            with self._waiters_lock:
                if not self._waiters or self._thread is not None:
                    self._watch = None
                    return
            try:
                current = self.views.position(self.app.name)
            except Exception as error:  # the database is down: the waits time out
                log.debug("reading the views' position failed: %s", error)
            else:
                if current > self._position:
                    with self._changed:
                        self._position = max(self._position, current)
                        self._changed.notify_all()
                    self._release()
            self._stopping.wait(WATCH_INTERVAL)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="linli-views", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._listener is not None:
            self._listener.stop()
        if self.helpers is not None:
            self.helpers.close()

    # ----- being woken by other processes' writes (PostgreSQL) ------------------

    @property
    def listening(self) -> bool:
        """Whether a LISTEN connection is up."""
        return self._listener is not None and self._listener.listening

    @property
    def listener_error(self) -> str | None:
        return self._listener.error if self._listener is not None else None

    def _start_listener(self) -> None:
        if self._listen is None or self._channel is None or self._listener is not None:
            return
        # Whatever was written while no one listened is read when it connects.
        self._listener = Listener(
            self._listen,
            self._channel,
            on_connect=self._wake.set,
            on_notify=lambda _payload: self._wake.set(),
            name="linli-views-listen",
        )
        self._listener.start()

    def _loop(self) -> None:
        self._start_listener()
        backoff = 0.1
        applied_at = float("-inf")  # when the last batch that applied events began
        while not self._stopping.is_set():
            pause = applied_at + self.batch_interval - time.monotonic()
            if pause > 0 and self._stopping.wait(pause):
                break
            # Cleared before reading, so that a wake during the batch is not lost.
            self._wake.clear()
            began = time.monotonic()
            try:
                count = self.run_once()
            except Exception as error:  # keep going: the view stays at its last position
                self.last_error = f"{type(error).__name__}: {error}"
                log.exception("view update failed at position %d; retrying", self._position)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            self.last_error = None
            backoff = 0.1
            if count >= self.batch_size:
                applied_at = float("-inf")  # more are waiting: no pause
            elif count:
                applied_at = began
            if count < self.batch_size:
                self._wake.wait(self.poll_interval)

    def run_forever(self) -> None:
        """For ``linli projections run``: the loop in the calling thread."""
        self._loop()

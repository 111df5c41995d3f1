"""Queries of the views on PostgreSQL streaming replicas (issue 27 item 5).

Commands, the view updater, the registries (persons, credentials, console
sessions, board links, webhooks, person keys) and every write stay on the
primary. Only the views' own queries (``LinliViews._viewed``) may be
answered by a replica named in ``LINLI_POSTGRES_READ_HOSTS``.

A replica holds the views with their tracking row (``linli_views_tracking``),
so its views' position is read there. A thread per server (the primary and
each replica) reads that position every ``WATCH_INTERVAL`` seconds, on a
connection of its own with short timeouts; a request adds no query. A
replica is used while

- its last read succeeded less than ``max_lag`` seconds ago (it answers), and
- its views have what the primary's had ``max_lag`` seconds ago (it keeps up),

and, for a query that must see log position N (``?after=N``), once its
views are known to have reached N (``read_at_least``). Otherwise the query
goes to the primary, as it does when a replica fails it (the failure then
leaves that replica out until its next good reading). Positions only grow and
a standby's later snapshots see what its earlier ones saw, so a replica whose
views were read at N answers every later query with at least N.

Reads without ``?after=`` may therefore be up to ``max_lag`` seconds older
than the primary's views (plus the primary's own view lag), and two of them
may come from two replicas; a client that needs its own writes passes the
position its command returned.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any, TypeVar

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError, PersistenceError
from eventsourcing.postgres import PostgresDatastore

from infrastructure.settings import Settings

log = logging.getLogger(__name__)

T = TypeVar("T")

# How often each server's views' position is read; while requests wait for
# a replica (``?after=``), every FAST_INTERVAL.
WATCH_INTERVAL = 0.2
FAST_INTERVAL = 0.02
# The watchers' own connections: libpq waits at least 2 s to connect.
WATCH_CONNECT_TIMEOUT = 2
WATCH_STATEMENT_TIMEOUT_MS = 1000
# How long a query waits for a connection of a replica's pool before it is
# answered by the primary instead (a replica that has just gone away, before
# its watcher noticed).
CHECKOUT_TIMEOUT = 1.0

# The log position the views' queries of this request must see: set by
# ``read_at_least`` (api/deps.py ``wait_for_views``), in the request's own context.
_at_least: ContextVar[int] = ContextVar("linli_views_at_least", default=0)


def read_at_least(position: int) -> None:
    """The views' queries that follow in this context must see ``position``:
    a replica answers them only once its views are known to have reached it."""
    if position > _at_least.get():
        _at_least.set(position)


def views_at_least() -> int:
    """What ``read_at_least`` asked in this context (0: nothing)."""
    return _at_least.get()


class NotServed(Exception):
    """No replica answered; the caller reads the primary."""


@dataclass
class Server:
    """What the watcher last read of one server's views."""

    host: str
    port: int
    position: int = 0
    read_at: float = float("-inf")  # monotonic time of the last good reading
    error: str | None = "not read yet"
    # Set to have its watcher read at once (a request began to wait, or stop).
    wake: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def name(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


@dataclass
class Replica(Server):
    datastore: Any = None
    # Queries it answered, and queries it failed (each then answered by the primary).
    served: int = 0
    failed: int = 0
    # Set when a query failed here: left out until a reading after this time.
    failed_at: float = float("-inf")


class ReadReplicas:
    """The replicas of one process's views, their watchers, and the choice of
    one for a query."""

    def __init__(
        self,
        settings: Settings,
        *,
        position_statement: Any,
        tracking_name: str,
        make_datastore: Callable[[str, int], PostgresDatastore],
    ) -> None:
        self.settings = settings
        self.max_lag = settings.postgres_read_max_lag_seconds
        self.wait = settings.postgres_read_wait_seconds
        self._statement = position_statement
        self._tracking_name = tracking_name
        self.primary = Server(settings.postgres_host, settings.postgres_port)
        self.replicas = [
            Replica(host, port, datastore=make_datastore(host, port))
            for host, port in settings.read_hosts
        ]
        # (monotonic time, the primary's views' position) readings, oldest
        # first; replaced whole by the primary's watcher, read without a lock.
        self._samples: tuple[tuple[float, int], ...] = ()
        self._turn = itertools.count()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._threads: list[threading.Thread] = []
        self._started = False
        # Coroutines waiting for a replica to reach a position (``reached``).
        self._waiters: list[tuple[int, asyncio.AbstractEventLoop, asyncio.Future[None]]] = []
        self._fast = threading.Event()
        # Queries the primary answered, with replicas configured: none usable,
        # or after a replica failed them.
        self.primary_reads = 0

    # ----- choosing ---------------------------------------------------------------

    def usable(self, replica: Replica, now: float | None = None) -> bool:
        """Whether ``replica`` answers and keeps up (see the module's doc)."""
        now = time.monotonic() if now is None else now
        if replica.error is not None or now - replica.read_at > self.max_lag:
            return False
        if replica.failed_at >= replica.read_at:
            return False
        floor = self._primary_floor(now - self.max_lag)
        return floor is not None and replica.position >= floor

    def _primary_floor(self, cutoff: float) -> int | None:
        """The primary's views' position at ``cutoff`` (monotonic time): that
        of the last reading then or before; without one, the first reading's
        (the stricter); None before any."""
        samples = self._samples
        if not samples:
            return None
        floor = samples[0][1]
        for at, position in samples:
            if at > cutoff:
                break
            floor = position
        return floor

    def any_usable(self) -> bool:
        """Whether some replica answers and keeps up (then a query may wait
        for one to reach its position)."""
        now = time.monotonic()
        return any(self.usable(r, now) for r in self.replicas)

    def choose(self, at_least: int = 0) -> Replica | None:
        """A replica for a query that must see ``at_least``, in turn among the
        usable ones; None: the primary."""
        if not self._started:
            self.start()
        now = time.monotonic()
        found = [r for r in self.replicas if r.position >= at_least and self.usable(r, now)]
        if not found:
            return None
        return found[next(self._turn) % len(found)]

    def read(self, query: Callable[[Any], T]) -> T:
        """``query(cursor)`` in a read-only transaction of a chosen replica;
        ``NotServed`` when none is usable or the one chosen failed (the
        caller then reads the primary; a failure leaves the replica out until
        its watcher reads it again)."""
        replica = self.choose(_at_least.get())
        if replica is None:
            with self._lock:
                self.primary_reads += 1
            raise NotServed
        try:
            with replica.datastore.transaction(commit=False) as c:
                result = query(c)
        except PersistenceError as error:
            text = " ".join(str(error).split())[:200]
            with self._lock:
                replica.failed += 1
                self.primary_reads += 1
                # A lost connection or a query cancelled by the standby's
                # replay: left out until it is read again. Any other error is
                # the primary's to give (the query is the same there).
                if isinstance(error, (OperationalError, InterfaceError)):
                    replica.failed_at = time.monotonic()
            log.warning("read replica %s failed a query (%s); reading the primary", replica.name, text)
            raise NotServed from None
        with self._lock:
            replica.served += 1
        return result

    # ----- waiting for a replica, on the event loop ----------------------------------

    async def reached(self, position: int, timeout: float) -> bool:
        """Whether a usable replica is known to have reached ``position``
        within ``timeout`` s, awaited on the running loop (the watchers read
        every ``FAST_INTERVAL`` meanwhile and release the waiters)."""
        if self.choose(position) is not None:
            return True
        if timeout <= 0 or not self.any_usable():
            return False  # none to wait for: the primary answers at once
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        entry = (position, loop, future)
        with self._lock:
            self._waiters.append(entry)
        self._fast.set()
        for replica in self.replicas:
            replica.wake.set()
        try:
            await asyncio.wait_for(future, timeout)
        except TimeoutError:
            pass
        finally:
            with self._lock:
                if entry in self._waiters:
                    self._waiters.remove(entry)
                if not self._waiters:
                    self._fast.clear()
        return self.choose(position) is not None

    def _release(self) -> None:
        if not self._waiters:
            return
        now = time.monotonic()
        top = max((r.position for r in self.replicas if self.usable(r, now)), default=0)
        with self._lock:
            due = [w for w in self._waiters if w[0] <= top]
            self._waiters = [w for w in self._waiters if w[0] > top]
            if not self._waiters:
                self._fast.clear()
        for _, loop, future in due:
            try:
                loop.call_soon_threadsafe(_resolve, future)
            except RuntimeError:  # the loop closed meanwhile
                pass

    # ----- the watchers ---------------------------------------------------------------

    def start(self) -> None:
        """Start the watchers (once; ``choose`` does at its first call)."""
        with self._lock:
            if self._started:
                return
            self._started = True
            for server in (self.primary, *self.replicas):
                thread = threading.Thread(
                    target=self._watch, args=(server,), name=f"linli-read-watch-{server.name}", daemon=True
                )
                self._threads.append(thread)
                thread.start()

    def _watch(self, server: Server) -> None:
        conn: psycopg.Connection[Any] | None = None
        while not self._stopping.is_set():
            try:
                if conn is None or conn.closed or conn.broken:
                    conn = self._connect(server)
                row = conn.execute(self._statement, [self._tracking_name]).fetchone()
                position = int(row[0] or 0) if row else 0
            except Exception as error:  # noqa: BLE001 - down, unreachable, or no views there yet
                if server.error is None:
                    log.warning("read watcher: %s cannot be read (%s)", server.name, _one_line(error))
                server.error = _one_line(error)
                if conn is not None:
                    conn.close()
                    conn = None
            else:
                self._note(server, position)
            server.wake.wait(FAST_INTERVAL if self._fast.is_set() else WATCH_INTERVAL)
            server.wake.clear()
        if conn is not None:
            conn.close()

    def _connect(self, server: Server) -> psycopg.Connection[Any]:
        s = self.settings
        return psycopg.connect(
            host=server.host,
            port=server.port,
            dbname=s.postgres_db,
            user=s.postgres_user,
            password=s.postgres_password,
            autocommit=True,
            connect_timeout=WATCH_CONNECT_TIMEOUT,
            options=f"-c statement_timeout={WATCH_STATEMENT_TIMEOUT_MS}",
            tcp_user_timeout=WATCH_STATEMENT_TIMEOUT_MS * 2,
            application_name="linli-read-watch",
        )

    def _note(self, server: Server, position: int) -> None:
        now = time.monotonic()
        if server is self.primary:
            # Keep the readings since the cutoff, and the last one before it.
            cutoff = now - self.max_lag
            samples = (*self._samples, (now, position))
            first = 0
            while first + 1 < len(samples) and samples[first + 1][0] <= cutoff:
                first += 1
            self._samples = samples[first:]
            server.position, server.read_at, server.error = position, now, None
            return
        assert isinstance(server, Replica)
        was_down = server.error is not None and server.read_at > float("-inf")
        server.position, server.read_at, server.error = position, now, None
        if was_down:
            log.info("read replica %s answers again (views at %d)", server.name, position)
            # Whatever its pool held was ended with it: check them all at once.
            try:
                server.datastore.pool.check()
            except Exception as error:  # noqa: BLE001 - the next query finds out
                log.debug("checking %s's pool failed: %s", server.name, error)
        self._release()

    def status(self) -> list[dict[str, Any]]:
        """Each replica as the watchers see it (for operators and tests)."""
        now = time.monotonic()
        return [
            {
                "host": r.name,
                "position": r.position,
                "usable": self.usable(r, now),
                "error": r.error,
                "served": r.served,
                "failed": r.failed,
            }
            for r in self.replicas
        ]

    def close(self) -> None:
        self._stopping.set()
        for server in (self.primary, *self.replicas):
            server.wake.set()
        for thread in self._threads:
            thread.join(timeout=5)
        for replica in self.replicas:
            replica.datastore.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _one_line(error: Exception) -> str:
    text = " ".join(str(error).split())[:200]
    return f"{type(error).__name__}: {text}" if text else type(error).__name__

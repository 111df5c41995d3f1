"""Catching the views up over many events with more than one process.

A view row is a function of its own case's events only (a trail entry is
inserted, never changed), so the cases can be split into partitions that
are caught up side by side: partition ``k`` of ``n`` holds the cases whose
id's last byte is ``k`` modulo ``n``. Each process reads only its
partition's events (PostgreSQL filters them), decodes them and writes their
rows, with a tracking row of its own (``<views>#k/n``) in the same
transaction as its rows: exactly once, as a single updater is. Reading and
decoding, the larger part of the work, is then shared between the cores.

The coordinator (:func:`catch_up_by_partitions`) holds the views' own
tracking row locked for the whole catch-up, so no other updater applies
anything meanwhile (another process's updater waits for the row), and moves
it to where every partition stopped when all are done. Should the catch-up
stop half way (a crash, a killed process), partitions are left ahead of the
views' position; every updater checks for that when it locks the row
(``CatchUpUnfinished``) and finishes those partitions before it applies
anything.

An erasure is read by every partition: each draws its own rows that name the
person again. PostgreSQL only: SQLite has one writer at a time.
"""

from __future__ import annotations

import logging
import multiprocessing
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import Tracking

from infrastructure.views import PARTITION_MARK, PostgresViews, _like_escaped

if TYPE_CHECKING:
    from infrastructure.runner import ViewUpdater
    from infrastructure.settings import Settings

log = logging.getLogger(__name__)

# Events behind below which one process catches up alone: starting the other
# processes costs about a second, which a few tens of thousands of events repay.
FAR_BEHIND = 50_000

Progress = Callable[[int, int], None]  # (log positions covered, position reached)


def partition_name(tracking_name: str, share: int, count: int) -> str:
    return f"{tracking_name}{PARTITION_MARK}{share}/{count}"


def _views_on(views: PostgresViews, suffix: str) -> PostgresViews:
    """Views of the same datastore and log, on the tables of ``suffix``, read
    from the primary only."""
    mine = type(views)(views.datastore, views.log, suffix=suffix)
    mine.replicas = None
    mine.timezone = views.timezone
    return mine


def _partition_view(views: PostgresViews, share: int, count: int) -> PostgresViews:
    """The same tables, written for partition ``share`` of ``count`` only."""
    mine = _views_on(views, views.suffix)
    mine.partition = (share, count)
    return mine


def apply_share(
    app: Any,
    views: PostgresViews,
    share: int,
    count: int,
    after: int,
    stop: int,
    batch_size: int,
    progress: Progress | None = None,
    abandon: Callable[[], bool] = lambda: False,
) -> int:
    """Apply partition ``share``'s events after ``after`` up to ``stop``, a
    batch a transaction with the partition's tracking row; return how many.
    The next batch is read and decoded while the server stores this one.
    Stops after a batch for which ``abandon()`` is true (what was applied
    stays, with the partition's position)."""
    mine = _partition_view(views, share, count)
    name = partition_name(views.tracking_name(app.name), share, count)

    # The log positions a batch covers: about ``batch_size`` of them are this partition's.
    span = batch_size * count

    def read(start: int) -> tuple[int, list[tuple[Any, int]], int]:
        scanned = min(stop, start + span - 1)
        notifications = mine.partition_notifications(start, scanned)
        events = app.mapper.to_domain_events(notifications)
        return start, [(event, n.id) for event, n in zip(events, notifications, strict=True)], scanned

    applied = 0
    batch: tuple[int, list[tuple[Any, int]], int] | None = read(after + 1) if after < stop else None
    while batch is not None:
        start, items, scanned = batch
        following: list[tuple[int, list[tuple[Any, int]], int]] = []

        def read_next(scanned: int = scanned, into: list[Any] = following) -> None:
            if scanned < stop:
                into.append(read(scanned + 1))

        if items:
            mine.process_batch(items, Tracking(name, scanned), meanwhile=read_next)
        else:
            read_next()
        applied += len(items)
        if progress is not None:
            progress(scanned - start + 1, scanned)
        batch = following[0] if following else None
        if batch is not None and abandon():
            break
    return applied


# ----- the other processes ---------------------------------------------------

_worker: tuple[Any, PostgresViews] | None = None


def _start_worker(settings: dict[str, Any], suffix: str) -> None:
    """In a helper process: the application and the views, once."""
    global _worker
    from infrastructure.settings import Settings
    from infrastructure.store import build_services

    services = build_services(Settings(**settings))
    live = services.views
    assert isinstance(live, PostgresViews)
    _worker = (services.app, _views_on(live, suffix))


def _apply_in_worker(share: int, count: int, after: int, stop: int, batch_size: int) -> tuple[int, int]:
    """(events applied, this process's peak RSS in kB)."""
    assert _worker is not None
    app, views = _worker
    applied = apply_share(app, views, share, count, after, stop, batch_size)
    return applied, _peak_rss_kb()


def _peak_rss_kb() -> int:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Helpers:
    """The processes that catch partitions up beside this one, started at
    the first catch-up that needs them and kept until :meth:`close`."""

    settings: Settings
    count: int
    suffix: str = ""
    _executor: Executor | None = field(default=None, repr=False)
    # The helpers' peak RSS (kB), as each last reported it.
    peak_rss_kb: list[int] = field(default_factory=list)

    def executor(self) -> Executor:
        if self._executor is None:
            self._executor = ProcessPoolExecutor(
                max_workers=self.count - 1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=_start_worker,
                initargs=(self.settings.model_dump(), self.suffix),
            )
        return self._executor

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None


def catch_up_by_partitions(
    updater: ViewUpdater,
    helpers: Helpers | None,
    *,
    stop: int | None = None,
    progress: Progress | None = None,
    minimum: int | None = None,
) -> int | None:
    """Catch the updater's views up to ``stop`` (the log's head) by
    partitions, when they are at least ``minimum`` events behind or a
    catch-up by partitions is unfinished; return the position reached, or
    None when one process should go on alone. Without ``helpers`` (or with
    one process), the partitions are caught up here one after the other.
    ``minimum`` is ``FAR_BEHIND`` unless given."""
    if minimum is None:
        minimum = FAR_BEHIND
    views = updater.views
    if not isinstance(views, PostgresViews):
        return None
    if minimum and updater.log_position() - updater.position < minimum:
        # Not far behind: no lock and no transaction here. An unfinished
        # catch-up is found anyway by the updater's first batch (its lock).
        return None
    name = views.tracking_name(updater.app.name)
    table = views.tracking_table()
    count = helpers.count if helpers is not None else 1
    with views.datastore.transaction(commit=True) as c:
        # Held until the end: the catch-up may take minutes.
        c.execute("SET LOCAL idle_in_transaction_session_timeout = 0")
        c.execute(
            f"INSERT INTO {table} (application_name, notification_id) VALUES (%s, 0) "
            "ON CONFLICT (application_name) DO NOTHING",
            [name],
        )
        c.execute(
            f"SELECT notification_id FROM {table} WHERE application_name = %s FOR UPDATE", [name]
        )
        position = int(c.fetchone()["notification_id"])
        c.execute(
            f"SELECT application_name, notification_id FROM {table} "
            "WHERE application_name LIKE %s ESCAPE '!'",
            [_like_escaped(name + PARTITION_MARK) + "%"],
        )
        shares: dict[int, int] = {}
        unfinished = 0
        for row in c.fetchall():
            share_text, _, count_text = row["application_name"][len(name) + 1 :].partition("/")
            if int(row["notification_id"]) > position:
                # A catch-up stopped half way: finished with its own partitions.
                count = int(count_text)
                unfinished = max(unfinished, int(row["notification_id"]))
            shares[int(share_text)] = int(row["notification_id"])
        head = stop if stop is not None else updater.log_position()
        target = max(head, unfinished)
        if not unfinished and (count < 2 or target - position < minimum):
            return None
        starts = {k: max(position, shares.get(k, 0)) for k in range(count)}
        if unfinished:
            log.warning(
                "the views are at %d, partitions of an unfinished catch-up at up to %d: finishing it",
                position,
                unfinished,
            )
        batch = updater.batch_size
        pending = []
        if helpers is not None and helpers.count == count and count > 1:
            executor = helpers.executor()
            pending = [
                executor.submit(_apply_in_worker, k, count, starts[k], target, batch)
                for k in range(1, count)
            ]
            here = [0]
        else:
            here = list(range(count))

        def helper_failed() -> bool:
            return any(f.done() and f.exception() is not None for f in pending)

        try:
            for k in here:
                apply_share(
                    updater.app, views, k, count, starts[k], target, batch,
                    progress if k == 0 else None, abandon=helper_failed,
                )
        finally:
            # Never return while a helper still writes (a next catch-up would race it).
            wait(pending)
        if helpers is not None:
            helpers.peak_rss_kb = [f.result()[1] for f in pending]
        c.execute(
            f"UPDATE {table} SET notification_id = %s WHERE application_name = %s", [target, name]
        )
        # Partitions' rows live only while a catch-up is under way.
        c.execute(
            f"DELETE FROM {table} WHERE application_name LIKE %s ESCAPE '!'",
            [_like_escaped(name + PARTITION_MARK) + "%"],
        )
    return target

"""Rebuilding the views from the events while the service keeps running.

The new views are built in tables beside the live ones (``*_next``), with
their own tracking row. When they have caught up, one transaction locks the
live tracking row (so the live updater waits), applies the last few events
to the new tables, drops the old tables and gives the new ones their names.
The live updater then finds the views at the position it expects and goes on.
"""

from __future__ import annotations

from collections.abc import Callable

from eventsourcing.persistence import Tracking

from infrastructure.partitions import Helpers
from infrastructure.runner import ViewUpdater
from infrastructure.store import Services
from infrastructure.views import PARTITION_MARK, LinliViews, PostgresViews, SQLiteViews, _like_escaped

NEXT = "_next"

Progress = Callable[[int, int], None]  # (events applied in this step, position reached)


def next_views(services: Services) -> LinliViews:
    live = services.views
    cls = SQLiteViews if isinstance(live, SQLiteViews) else PostgresViews
    views = cls(live.datastore, live.log, suffix=NEXT)
    with views.writing() as c:
        views.drop_view_tables(c)
        name = views.tracking_name(services.app.name)
        # With those of an earlier rebuild's partitions (infrastructure/partitions.py).
        c.execute(
            views.sql(
                f"DELETE FROM {views.tracking_table()} "
                "WHERE application_name = ? OR application_name LIKE ? ESCAPE '!'"
            ),
            [name, _like_escaped(name + PARTITION_MARK) + "%"],
        )
    views.create_table()  # type: ignore[attr-defined]
    return views


def rebuild(services: Services, progress: Progress | None = None, batch_size: int = 2000) -> int:
    """Rebuild every view from the events; return the position the views are at."""
    app = services.app
    live = services.views
    target = next_views(services)
    builder = ViewUpdater(app, target, batch_size=batch_size)
    if services.updater.helpers is not None:
        builder.helpers = Helpers(services.settings, services.updater.helpers.count, suffix=NEXT)
    # Catch up until only a batch or so is left to do under the lock.
    while True:
        builder.catch_up(progress)
        if builder.log_position() - builder.position <= batch_size:
            break
    # Before the swap, not under its lock: the planner's statistics of the new
    # tables, which autovacuum may have taken while they were nearly empty.
    target.gather_statistics()
    events_table = app.recorder.events_table_name  # type: ignore[attr-defined]
    # Under the lock, read the log through the same connection: on SQLite a
    # second connection from the pool would wait for the writer we hold.
    with live.writing() as c:
        live_position = live.lock_position(c, live.tracking_name(app.name))
        log_position = live.max_notification_in(c, events_table)
        # Everything up to where the live views are (and beyond, if the log moved on).
        stop = max(live_position, log_position)
        start = builder.position + 1
        while start <= stop:
            notifications = live.notifications_in(c, events_table, start, stop, batch_size)
            if not notifications:
                break
            events = app.mapper.to_domain_events(notifications)
            target.apply(c, [(event, n.id) for event, n in zip(events, notifications, strict=True)])
            start = notifications[-1].id + 1
            if progress is not None:
                progress(len(notifications), notifications[-1].id)
        reached = start - 1
        target.rename_into(c, live)
        c.execute(
            live.sql(f"DELETE FROM {live.tracking_table()} WHERE application_name = ?"),
            [target.tracking_name(app.name)],
        )
        if reached > live_position:
            live._insert_tracking(c, Tracking(live.tracking_name(app.name), reached))  # type: ignore[attr-defined]  # noqa: SLF001
    return max(reached, live_position)

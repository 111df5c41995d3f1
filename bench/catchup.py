"""Projection catch-up, in a process of its own: ``python -m bench.catchup PG.json SCHEMA``.

1. The ceiling: read the notifications of the log in batches and decode
   them into domain events, as the view updater does, and nothing else.
2. From empty views (the view tables and their tracking table dropped), the
   application's own ``ViewUpdater.run_once`` applies the same events.

The log is taken in tenths, each first read and decoded, then applied, so
that the noise of a shared machine falls on both rates alike. Peak memory:
the process's peak RSS is reset (``/proc/self/clear_refs``) before the
first tenth and read after each, so that growth with the number of events
shows as a rising peak. Prints one JSON document.
"""

from __future__ import annotations

import json
import sys
import time
from typing import Any

from bench.common import Pg, proc_status, reset_peak_rss


def reset_views(pg: Pg, schema: str) -> None:
    with pg.connect(autocommit=True) as conn:
        for table in ("need_view", "case_view", "case_history", "linli_views_tracking",
                      "bkup1_linli_views_tracking"):
            conn.execute(f'DROP TABLE IF EXISTS "{schema}"."{table}"')


def read_and_decode(app: Any, start: int, stop: int, batch_size: int) -> int:
    """The ceiling: the notifications from ``start`` to ``stop`` read and decoded, nothing applied."""
    count = 0
    while start <= stop:
        notifications = app.recorder.select_notifications(start=start, limit=batch_size, stop=stop)
        if not notifications:
            break
        events = app.mapper.to_domain_events(notifications)
        count += len(events)
        start = notifications[-1].id + 1
    return count


def main() -> int:
    pg = Pg(**json.loads(sys.argv[1]))
    schema = sys.argv[2]
    from infrastructure.partitions import catch_up_by_partitions
    from infrastructure.store import build_services

    reset_views(pg, schema)
    services = build_services(pg.settings(schema))
    try:
        updater = services.updater
        helpers = updater.helpers
        total = updater.log_position()
        batch = updater.batch_size
        # The log in tenths: each tenth first read and decoded (the ceiling), then
        # applied by the view updater, so that the machine's noise falls on both alike.
        chunk = max(total // 10, 1)
        read_count = read_seconds = 0.0
        applied = 0
        seconds = 0.0
        rss_reset = reset_peak_rss()
        baseline = proc_status()
        marks: list[dict[str, Any]] = []
        start = 1
        while start <= total:
            stop = min(start + chunk - 1, total)
            began = time.perf_counter()
            read_count += read_and_decode(services.app, start, stop, batch)
            read_seconds += time.perf_counter() - began
            began = time.perf_counter()
            if helpers is not None:
                # By partitions, as a far-behind catch-up and a rebuild do
                # (the helper processes start within the first tenth's time).
                reached = catch_up_by_partitions(updater, helpers, stop=stop, minimum=0)
                assert reached == stop, (reached, stop)
                applied += stop - start + 1
            else:
                while updater.position < stop:
                    count = updater.run_once()
                    if count == 0:
                        break
                    applied += count
            seconds += time.perf_counter() - began
            status = proc_status()
            marks.append({"events": applied, "rss_mb": status.get("VmRSS", 0) / 1024,
                          "peak_mb": status.get("VmHWM", 0) / 1024})
            start = stop + 1
        end = proc_status()
        helper_peaks = list(helpers.peak_rss_kb) if helpers is not None else []
    finally:
        services.close()
    early = marks[0]["peak_mb"] if marks else 0.0
    result = {
        "events": total,
        "batch_size": batch,
        "read_decode": {"events": read_count, "seconds": read_seconds,
                        "rate": read_count / max(read_seconds, 1e-9)},
        "catch_up": {"events": applied, "seconds": seconds, "rate": applied / max(seconds, 1e-9)},
        "memory": {
            "peak_reset": rss_reset,
            "rss_before_mb": baseline.get("VmRSS", 0) / 1024,
            "peak_after_first_tenth_mb": early,
            "peak_end_mb": end.get("VmHWM", 0) / 1024,
            "growth_ratio": (end.get("VmHWM", 0) / 1024) / early if early else 0.0,
            "helpers_peak_mb": [kb / 1024 for kb in helper_peaks],
            "marks": marks,
        },
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

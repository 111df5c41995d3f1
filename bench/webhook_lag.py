"""Lag from commit to webhook delivery (issue 25, item 2).

``python -m bench.webhook_lag [--events N] [--store sqlite|postgres]``: a
store of its own (a temporary SQLite file, or a fresh schema of the
configured PostgreSQL, LINLI_POSTGRES_*), a receiver on 127.0.0.1 that
answers 204, one subscription to ``Need.Registered``, and N needs
registered one after another at a steady pace. For each event, the lag is
the time from the return of the command that committed it to the arrival
of its delivery at the receiver (one clock: all in one process). Prints
p50/p99/max in ms; ``measure()`` returns them for ``make bench``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from bench.common import summary_ms
from domain.actor import Actor, Role
from infrastructure.settings import Settings
from infrastructure.store import build_services

HOST = "127.0.0.1"


def _receiver(arrivals: dict[int, float]) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            at = time.perf_counter()
            arrivals.setdefault(int(json.loads(body)["position"]), at)
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _settings(store: str, directory: Path, base: Settings | None = None) -> Settings:
    if store == "sqlite":
        return Settings(store="sqlite", sqlite_path=directory / "webhook-lag.sqlite3")
    import psycopg

    base = base or Settings(store="postgres")
    schema = f"bench_webhooks_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(
        host=base.postgres_host, port=base.postgres_port, dbname=base.postgres_db,
        user=base.postgres_user, password=base.postgres_password, autocommit=True,
    ) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return base.model_copy(update={"postgres_schema": schema})


def _drop_schema(settings: Settings) -> None:
    import psycopg

    with psycopg.connect(
        host=settings.postgres_host, port=settings.postgres_port, dbname=settings.postgres_db,
        user=settings.postgres_user, password=settings.postgres_password, autocommit=True,
    ) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{settings.postgres_schema}" CASCADE')


def measure(
    events: int = 200, store: str = "sqlite", pace: float = 0.01, base: Settings | None = None
) -> dict[str, float]:
    """Lags in ms (``summary_ms``: p50, p99, ...) of ``events`` deliveries;
    on PostgreSQL in a schema of its own of ``base``'s database (dropped after)."""
    arrivals: dict[int, float] = {}
    committed: dict[int, float] = {}
    server = _receiver(arrivals)
    with tempfile.TemporaryDirectory(prefix="linli-webhook-lag-") as directory:
        settings = _settings(store, Path(directory), base).model_copy(
            update={"run_projections": False, "webhook_poll_interval": 0.5}
        )
        services = build_services(settings)
        try:
            staff = Actor("bench-staff", Role.COMMUNITY_STAFF, compound_ids=None)
            app = services.app
            compound = app.register_compound(staff, name="基准小区").id
            services.webhooks.create(
                staff, url=f"http://{HOST}:{server.server_address[1]}/hook",
                event_types=["Need.Registered"], compound_ids=[compound],
            )
            services.webhook_worker.start()
            for i in range(events):
                recorded = app.register_need(
                    staff, compound_id=compound, source="inspection", title=f"基准 {i}",
                    description="webhook lag",
                )
                committed[recorded.position] = time.perf_counter()
                time.sleep(pace)
            deadline = time.monotonic() + 30
            while len(arrivals) < events and time.monotonic() < deadline:
                time.sleep(0.01)
        finally:
            services.close()
            server.shutdown()
            server.server_close()
            if settings.store == "postgres":
                _drop_schema(settings)
    # A delivery may beat the command's return by a hair: no negative lags.
    lags = [max(0.0, arrivals[p] - committed[p]) for p in committed if p in arrivals]
    if len(lags) < events:
        raise RuntimeError(f"only {len(lags)} of {events} events were delivered within 30 s")
    return summary_ms(lags)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--store", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--pace", type=float, default=0.01, help="seconds between commands")
    args = parser.parse_args()
    result = measure(args.events, args.store, args.pace)
    print(
        f"webhook lag from commit to delivery ({args.store}, {args.events} events): "
        f"p50 {result['p50_ms']:.1f} ms, p99 {result['p99_ms']:.1f} ms, max {result['max_ms']:.1f} ms"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``make bench``: Linli as deployed, every figure a ratio to a baseline of the same run.

    python -m bench.run [--quick] [--out bench/results.json] [--events 1000000] [--optimize]

The machines are shared and noisy (absolute times drift up to 2x between
runs), so every figure is printed beside a baseline measured in the same
invocation, on the same PostgreSQL database, served the same way:

- library ceiling: an in-process loop saving a small aggregate with eventsourcing;
- naive endpoint: FastAPI + eventsourcing, one small aggregate created and
  saved per POST, loaded per GET (``bench/peers.py``);
- CRUD peer: FastAPI + psycopg, a case row updated and an audit row
  inserted in one transaction per command (``bench/peers.py``);
- generator ceiling: the load generator (``bench/load.py``, its own process)
  against a trivial endpoint.

Linli runs as deployed: ``linli serve --workers 2`` on PostgreSQL (the
supervising process keeps the views, the two workers serve); the command
and lag figures are measured again with the projections in their own process
(the workers started with ``LINLI_RUN_PROJECTIONS=false`` and one ``linli
projections run`` beside them, on the same database). The benchmark
creates its own database (``--db``, dropped and recreated at the start and
dropped at the end), talks only to 127.0.0.1, bounds every loop in count and
time, and kills every process it started. ``--quick`` runs every figure on
small sizes (the test suite runs it so that the benchmark never rots);
targets are judged by the full run only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench.webhook_lag import measure as webhook_lag
from bench.common import (
    HOST,
    ROOT,
    Pg,
    Server,
    code_facts,
    free_port,
    machine_facts,
    machine_text,
    proc_status,
    python_cmd,
    run_json,
    start_process,
    start_server,
    summary_ms,
    write_results,
)

console = Console(stderr=True)
LINLI_SCHEMA = "linli"  # commands, lag, then the 1 M events
SMALL_SCHEMA = "linli_small"  # the same world with 10 k events, for the queries
LIB_SCHEMA = "lib"


@dataclass(frozen=True)
class Sizes:
    small_events: int  # query latency "at 10 k"
    large_events: int  # query latency and catch-up "at 1 M"
    threads: int  # closed-loop HTTP clients
    warmup: float
    duration: float  # each throughput phase
    lag_duration: float
    query_requests: int  # per kind of query and store, all rounds together
    query_rounds: int  # alternate rounds against the small and the large store
    library_saves: int
    library_seconds: float
    commitment_events: int
    commitment_loads: int
    seed_processes: int
    webhook_events: int = 200  # commands whose deliveries are timed
    upkeep_rounds: int = 2  # rounds of commands with the tree's upkeep on, and off



FULL = Sizes(
    small_events=10_000,
    large_events=1_000_000,
    threads=16,
    warmup=2.0,
    duration=15.0,
    lag_duration=15.0,
    query_requests=400,
    query_rounds=2,
    library_saves=5_000,
    library_seconds=10.0,
    commitment_events=10_000,
    commitment_loads=300,
    seed_processes=2,
)
QUICK = Sizes(
    small_events=1_000,
    large_events=4_000,
    threads=4,
    warmup=0.3,
    duration=1.5,
    lag_duration=1.5,
    query_requests=30,
    query_rounds=1,
    library_saves=200,
    library_seconds=1.0,
    commitment_events=300,
    commitment_loads=20,
    seed_processes=1,
    webhook_events=30,
    upkeep_rounds=1,
)


def step(text: str) -> None:
    console.log(f"[bold cyan]{text}[/]")


# ----- baselines -------------------------------------------------------------------


def library_ceiling(pg: Pg, sizes: Sizes) -> dict[str, Any]:
    """Save a small aggregate in a loop, in this process, as fast as it goes."""
    from bench.peers import Thing, things_app

    pg.create_schema(LIB_SCHEMA)
    app = things_app(pg.as_dict(), LIB_SCHEMA, create_table=True)
    try:
        for _ in range(20):  # warm the pool and the statements
            app.save(Thing(name="门禁卡"))
        latencies = []
        began = time.perf_counter()
        deadline = began + sizes.library_seconds
        while len(latencies) < sizes.library_saves and time.perf_counter() < deadline:
            t0 = time.perf_counter()
            app.save(Thing(name="门禁卡"))
            latencies.append(time.perf_counter() - t0)
        seconds = time.perf_counter() - began
    finally:
        app.close()
    return {"saves": len(latencies), "seconds": seconds, "rate": len(latencies) / seconds,
            "latency": summary_ms(latencies)}


def load(server: Server, workload: str, sizes: Sizes, tmp: Path, **spec: Any) -> dict[str, Any]:
    """Run the load generator, a process of its own, against ``server``."""
    full = {
        "base_url": server.url,
        "workload": workload,
        "threads": sizes.threads,
        "warmup": sizes.warmup,
        "duration": sizes.duration,
        "max_requests": 200_000,
        **spec,
    }
    path = tmp / f"spec-{workload}-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(full))
    timeout = full["warmup"] + full["duration"] + 180
    result = run_json([sys.executable, "-m", "bench.load", str(path)], timeout=timeout)
    if result["ok"] == 0:
        raise RuntimeError(f"{workload} against {server.name}: no request succeeded: {result}")
    return result


LIGHT_RATE = 50.0  # requests/s: latency under light load


def light_spec(sizes: Sizes, requests: int) -> dict[str, Any]:
    """Latency under light load: requests at a fixed rate (open loop) over eight
    keep-alive connections, which the kernel spreads over both workers (with
    one or two clients, whether they share a worker decides the result), a
    bounded number of them after a warm-up that opens every worker's connections."""
    return {"threads": 8, "rate": LIGHT_RATE, "duration": 600.0, "warmup": 0.0,
            "warmup_requests": 60, "max_requests": requests}


# ----- Linli ---------------------------------------------------------------------------


LINLI_ENV: dict[str, str] = {}  # --linli-env


def linli_server(pg: Pg, schema: str, tmp: Path, optimize: bool, **settings: str) -> Server:
    """``linli serve --workers 2`` on ``schema``; ``settings`` (``LINLI_*``) win over --linli-env."""
    port = free_port()
    argv = [*python_cmd(optimize), "-m", "api.cli", "serve", "--workers", "2",
            "--host", HOST, "--port", str(port)]
    env = {**pg.linli_env(schema), **LINLI_ENV, **settings}
    return start_server(f"linli-{schema}", argv, port, env, tmp, "/healthz")


def projection_process(pg: Pg, schema: str, tmp: Path, optimize: bool, **settings: str) -> Server:
    """``linli projections run`` on ``schema``, with the servers' settings: it
    keeps the views and the Merkle tree (``LINLI_TRANSPARENCY_UPKEEP``); ready
    once it says it keeps the views (its listener catches up on connecting)."""
    argv = [*python_cmd(optimize), "-m", "api.cli", "projections", "run"]
    env = {**pg.linli_env(schema), **LINLI_ENV, **settings, "PYTHONUNBUFFERED": "1"}
    return start_process(f"projections-{schema}", argv, env, tmp,
                         lambda p: b"keeping the views up to date" in p.log.read_bytes())


def commands_and_lag(pg: Pg, server: Server, sizes: Sizes, tmp: Path, mix_data: dict[str, Any],
                     by_role: bool = False) -> dict[str, Any]:
    """The need-command mix, closed loop (``commands``; with ``by_role`` also each
    role on its own connection), then at half that rate with the views' tracking
    position watched (``lag``: from each command's answer to the views at its position)."""
    out = {"commands": load(server, "linli_mix", sizes, tmp, data=mix_data)}
    rate = out["commands"]["rate"]
    step(f"  commands {rate:.0f}/s")
    if by_role:
        out["commands_by_role"] = load(server, "linli_mix_by_role", sizes, tmp, data=mix_data)
        step(f"  commands, each role on its own connection {out['commands_by_role']['rate']:.0f}/s")
    out["lag"] = load(
        server, "linli_mix", sizes, tmp, data=mix_data, rate=max(rate / 2, 1.0),
        duration=sizes.lag_duration, warmup=0.0,
        watch={"pg": pg.as_dict(), "schema": LINLI_SCHEMA},
    )
    step(f"  lag p99 {out['lag']['lag']['p99_ms']:.0f} ms at {rate / 2:.0f} commands/s")
    return out


def linli_world(pg: Pg, schema: str, events: int) -> tuple[dict[str, Any], list[str]]:
    """A schema with a world and exactly ``events`` events, its views caught up."""
    from bench.seed import build_world, seed_needs
    from infrastructure.store import build_services

    pg.create_schema(schema)
    services = build_services(pg.settings(schema))
    try:
        world = build_world(services)
        world_events = services.app.recorder.max_notification_id() or 0
        seeded = seed_needs(services.app, world, events - world_events)
        services.updater.catch_up()
    finally:
        services.close()
    vacuum(pg, schema)
    return world, seeded["sample"]


def pooled(rounds: list[dict[str, Any]], events: int) -> dict[str, Any]:
    """The query rounds against one store as one measurement."""
    raw: dict[str, list[float]] = {}
    statuses: dict[str, int] = {}
    for r in rounds:
        for kind, values in r.pop("raw_s").items():
            raw.setdefault(kind, []).extend(values)
        for status, count in r["statuses"].items():
            statuses[status] = statuses.get(status, 0) + count
    return {
        "events": events,
        "rounds": len(rounds),
        "requests": sum(r["requests"] for r in rounds),
        "errors": sum(r["errors"] for r in rounds),
        "statuses": statuses,
        "rate": sum(r["rate"] for r in rounds) / len(rounds),
        "by_kind": {kind: summary_ms(values) for kind, values in sorted(raw.items())},
        "by_round": [{k: v["p50_ms"] for k, v in r["by_kind"].items()} for r in rounds],
    }


def vacuum(pg: Pg, schema: str) -> None:
    """Set hint bits and statistics after a bulk load, as autovacuum would in
    time, then write the load's dirty pages out (``CHECKPOINT``): queries are
    measured on a database that has settled, not while the server flushes the
    gigabytes just loaded (a checkpoint then stalls reads for hundreds of ms)."""
    with pg.connect(autocommit=True) as conn:
        for (table,) in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)
        ).fetchall():
            conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')
        conn.execute("CHECKPOINT")


def seed_in_children(pg: Pg, world: dict[str, Any], events: int, sizes: Sizes, tmp: Path) -> dict[str, Any]:
    """Seed ``events`` more events from child processes side by side."""
    import subprocess

    world_path = tmp / "world.json"
    world_path.write_text(json.dumps(world))
    share = [events // sizes.seed_processes] * sizes.seed_processes
    share[0] += events - sum(share)
    processes = []
    began = time.perf_counter()
    for i, count in enumerate(share):
        argv = [sys.executable, "-m", "bench.seed", LINLI_SCHEMA, str(count),
                str(10_000_000 * (i + 1)), str(world_path), json.dumps(pg.as_dict())]
        processes.append(subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    try:
        for p in processes:
            out, err = p.communicate(timeout=1500)
            if p.returncode != 0:
                raise RuntimeError(f"seeding failed: {err.decode(errors='replace')[-3000:]}")
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    seconds = time.perf_counter() - began
    sample = [need for r in results for need in r["sample"]]
    return {"events": sum(r["events"] for r in results), "seconds": seconds,
            "rate": sum(r["events"] for r in results) / seconds, "sample": sample}


def commitment_loads(services: Any, world: dict[str, Any], sizes: Sizes) -> dict[str, Any]:
    """Load a service list of 10 events and one of ``commitment_events``, in turn."""
    from uuid import UUID

    from domain.actor import Actor, Role
    from domain.commitment import ServiceCommitment

    app = services.app
    compound = world["compounds"][0]
    cid = UUID(compound["id"])
    compounds = frozenset({cid})
    parties = {k: UUID(v) for k, v in compound["parties"].items()}
    actors = {
        kind: Actor(f"bench-{kind}", Role(kind), compound_ids=compounds, party_id=parties[kind])
        for kind in ("party_branch", "owners_committee", "property_company")
    }
    staff = Actor("bench-inspector", Role.COMMUNITY_STAFF, compound_ids=compounds)
    items = [
        {"number": n, "title": f"项目 {n}", "standard": "标准", "frequency": "每周", "time_limit": "3wd"}
        for n in (1, 2, 3)
    ]

    def in_effect() -> UUID:
        commitment_id = app.draft_commitment(
            actors["party_branch"], compound_id=cid, provider_party_id=parties["property_company"],
            title="物业服务清单", items=items,
        ).id
        for kind in ("party_branch", "owners_committee", "property_company"):
            app.confirm_commitment(actors[kind], commitment_id, list_version=1)
        return commitment_id

    def inspect_to(commitment_id: UUID, events: int) -> None:
        while (commitment := app.repository.get(commitment_id)).version < events:
            for i in range(min(1000, events - commitment.version)):
                commitment.inspect(by=staff, item_no=1 + i % 3, result="met" if i % 4 else "not_met",
                                   note="巡查")
            app.save(commitment)

    short, long = in_effect(), in_effect()
    inspect_to(short, 10)
    inspect_to(long, sizes.commitment_events)
    assert isinstance(app.repository.get(long), ServiceCommitment)
    times: dict[str, list[float]] = {"short": [], "long": []}
    for _ in range(10):  # warm up
        app.repository.get(short), app.repository.get(long)
    for _ in range(sizes.commitment_loads):
        for name, commitment_id in (("short", short), ("long", long)):
            t0 = time.perf_counter()
            app.repository.get(commitment_id)
            times[name].append(time.perf_counter() - t0)
    return {
        "short_events": app.repository.get(short).version,
        "long_events": app.repository.get(long).version,
        "short": summary_ms(times["short"]),
        "long": summary_ms(times["long"]),
    }


# ----- the run -------------------------------------------------------------------------


def measure(pg: Pg, sizes: Sizes, optimize: bool, tmp: Path, stack: ExitStack) -> dict[str, Any]:
    from bench.peers import prepare
    from bench.seed import LIST_STATUS
    from infrastructure.store import build_services

    out: dict[str, Any] = {"baselines": {}, "linli": {}}
    base, linli = out["baselines"], out["linli"]

    step("library ceiling: an in-process save loop")
    base["library"] = library_ceiling(pg, sizes)

    step("peers (trivial, naive, CRUD), served by uvicorn with two workers")
    prepare(pg.as_dict())
    port = free_port()
    peers = start_server(
        "peers",
        [*python_cmd(optimize), "-m", "uvicorn", "bench.peers:create_app", "--factory",
         "--workers", "2", "--host", HOST, "--port", str(port), "--log-level", "warning"],
        port,
        {"BENCH_PG": json.dumps(pg.as_dict())},
        tmp,
        "/trivial",
    )
    stack.callback(peers.stop)
    base["generator"] = load(peers, "trivial", sizes, tmp)
    step(f"  generator ceiling {base['generator']['rate']:.0f} req/s")
    base["naive_write"] = load(peers, "naive_write", sizes, tmp)
    ids = base["naive_write"].pop("created_ids")
    base["naive_read"] = load(peers, "naive_read", sizes, tmp, data={"ids": ids})
    # Latency baselines under the queries' own light load.
    base["naive_read_light"] = load(peers, "naive_read", sizes, tmp, data={"ids": ids},
                                    **light_spec(sizes, 2 * sizes.query_requests))
    base["trivial_light"] = load(peers, "trivial", sizes, tmp,
                                 **light_spec(sizes, 2 * sizes.query_requests))
    step(f"  naive POST {base['naive_write']['rate']:.0f}/s, GET {base['naive_read']['rate']:.0f}/s")
    compound = "00000000-0000-4000-8000-000000000001"
    party = "00000000-0000-4000-8000-000000000002"
    base["crud"] = load(peers, "crud_mix", sizes, tmp, data={"compound_id": compound, "party_id": party})
    step(f"  CRUD mix {base['crud']['rate']:.0f}/s")
    base["peers_worker_peak_rss_mb"] = peers.peak_rss_mb()
    peers.stop()

    step(f"Linli: two stores of {sizes.small_events:,} events each, through the application")
    small_world, small_sample = linli_world(pg, SMALL_SCHEMA, sizes.small_events)
    world, sample = linli_world(pg, LINLI_SCHEMA, sizes.small_events)
    first = world["compounds"][0]

    step("Linli served: linli serve --workers 2")
    server = linli_server(pg, LINLI_SCHEMA, tmp, optimize)
    stack.callback(server.stop)
    mix_data = {"tokens": world["tokens"], "compound_id": first["id"],
                "party_id": first["parties"]["property_company"]}
    linli.update(commands_and_lag(pg, server, sizes, tmp, mix_data, by_role=True))
    linli["worker_peak_rss_mb"] = server.peak_rss_mb()
    server.stop()

    step("Linli served with the projections in their own process: "
         f"{RUN_PROJECTIONS}=false, and linli projections run")
    linli["separate"] = separate_projections(pg, sizes, tmp, optimize, stack, mix_data)

    step(f"commands with the Merkle tree's upkeep on and off, {sizes.upkeep_rounds} alternate round(s)")
    linli["upkeep"] = upkeep_cost(pg, sizes, tmp, optimize, stack, mix_data)
    step(f"  on {linli['upkeep']['on']['rate']:.0f}/s, off {linli['upkeep']['off']['rate']:.0f}/s, "
         f"ratio {linli['upkeep']['ratio']:.2f}")

    have = services_log_position(pg)
    more = sizes.large_events - have
    step(f"seeding {more:,} more events ({sizes.seed_processes} processes, through the application)")
    linli["seed"] = seed_in_children(pg, world, more, sizes, tmp)
    step(f"  seeded at {linli['seed']['rate']:.0f} events/s")
    vacuum(pg, LINLI_SCHEMA)

    step("projection catch-up from empty views (and the read-and-decode ceiling)")
    linli["catch_up"] = run_json(
        [sys.executable, "-m", "bench.catchup", json.dumps(pg.as_dict()), LINLI_SCHEMA], timeout=3000
    )
    step(f"  catch-up {linli['catch_up']['catch_up']['rate']:.0f} events/s, "
         f"read+decode {linli['catch_up']['read_decode']['rate']:.0f} events/s")
    # The seeding children keep no Merkle tree: left behind, the first query
    # round's server would hash the seeded events (about 17 s at 1 M) on the
    # same two cores while it is measured. Brought to the head first, as the
    # views are and as a deployment's upkeep thread keeps it.
    step("the Merkle tree brought to the log's head")
    services = build_services(pg.settings(LINLI_SCHEMA))
    try:
        services.transparency.catch_up()
    finally:
        services.close()
    vacuum(pg, LINLI_SCHEMA)

    # Queries against the small and the large store in alternate rounds, so
    # that the machine's drift falls on both alike; the rounds are pooled.
    step(f"queries at {sizes.small_events:,} and at {services_log_position(pg):,} events, "
         f"{sizes.query_rounds} alternate rounds")
    large_pool = sample + linli["seed"]["sample"]
    large_sample = random.Random(7).sample(large_pool, k=min(2000, len(large_pool)))
    stores = {
        "small": (SMALL_SCHEMA, small_world, small_sample),
        "large": (LINLI_SCHEMA, world, large_sample),
    }
    rounds: dict[str, list[dict[str, Any]]] = {"small": [], "large": []}
    per_round = max(3 * sizes.query_requests // sizes.query_rounds, 3)
    for _ in range(sizes.query_rounds):
        for name, (schema, store_world, need_ids) in stores.items():
            server = linli_server(pg, schema, tmp, optimize)
            stack.callback(server.stop)
            data = {"token": store_world["tokens"]["staff"],
                    "compound_id": store_world["compounds"][0]["id"],
                    "list_status": LIST_STATUS, "need_ids": need_ids}
            rounds[name].append(load(server, "linli_queries", sizes, tmp, data=data, raw=True,
                                     **light_spec(sizes, per_round)))
            if name == "large":
                linli["worker_peak_rss_after_queries_mb"] = server.peak_rss_mb()
            server.stop()
    linli["queries_small"] = pooled(rounds["small"], sizes.small_events)
    linli["queries_large"] = pooled(rounds["large"], services_log_position(pg))

    step(f"loading a service list of 10 and of {sizes.commitment_events:,} events")
    services = build_services(pg.settings(LINLI_SCHEMA))
    try:
        linli["commitment"] = commitment_loads(services, world, sizes)
    finally:
        services.close()

    step("the Merkle tree over the log (RFC 9162): hashed again from empty, then verified")
    linli["merkle"] = merkle_rates(pg.settings(LINLI_SCHEMA))

    step(f"webhook delivery lag: {sizes.webhook_events} commands, commit to the receiver's answer")
    linli["webhook_lag"] = webhook_lag(
        sizes.webhook_events, "postgres", base=pg.settings(LINLI_SCHEMA)
    )
    return out


UPKEEP_SETTING = "LINLI_TRANSPARENCY_UPKEEP"
RUN_PROJECTIONS = "LINLI_RUN_PROJECTIONS"


def separate_projections(pg: Pg, sizes: Sizes, tmp: Path, optimize: bool, stack: ExitStack,
                         mix_data: dict[str, Any]) -> dict[str, Any]:
    """The command and lag figures (``commands_and_lag``) with the projections
    in their own process: ``linli serve --workers 2`` with
    ``LINLI_RUN_PROJECTIONS=false`` (no view updater and no Merkle tree upkeep
    in any of its processes) and one ``linli projections run`` beside it, on
    the same store. Then two checks that the figures are that process's:
    the views (and the tree, when its upkeep is on) reach the log's head
    (``head``); and with that process stopped, a command the server still
    takes leaves the views where they were (``after_stop``)."""
    from bench.load import Client, LinliMix

    projections = projection_process(pg, LINLI_SCHEMA, tmp, optimize)
    stack.callback(projections.stop)
    server = linli_server(pg, LINLI_SCHEMA, tmp, optimize, **{RUN_PROJECTIONS: "false"})
    stack.callback(server.stop)
    out = commands_and_lag(pg, server, sizes, tmp, mix_data)
    upkeep = LINLI_ENV.get(UPKEEP_SETTING, "true").strip().lower() not in ("false", "0", "no", "off")
    out["head"] = reach_head(pg, LINLI_SCHEMA, tree=upkeep, timeout=30.0)
    step(f"  views at {out['head']['views']:,} and tree at {out['head']['tree']:,} "
         f"of {out['head']['log']:,} events after {out['head']['seconds']:.1f} s")
    out["projection_process_peak_rss_mb"] = proc_status(projections.process.pid).get("VmHWM", 0) / 1024
    projections.stop()

    method, path, body, headers = LinliMix(mix_data).request("register", None)
    client = Client(HOST, server.port)
    try:
        status, answer = client.call(method, path, body, headers)
    finally:
        client.close()
    if status >= 300 or not isinstance(answer, dict):
        raise RuntimeError(f"a command with the projection process stopped: {status} {answer}")
    time.sleep(1.0)  # far longer than a view batch takes (poll interval 0.2 s)
    with pg.connect(autocommit=True) as conn:
        views = views_position(conn, LINLI_SCHEMA)
    out["after_stop"] = {"command_position": answer["position"], "views": views,
                         "views_moved": views >= answer["position"]}
    out["worker_peak_rss_mb"] = server.peak_rss_mb()
    server.stop()
    return out


def views_position(conn: Any, schema: str) -> int:
    """The views' tracking position, as ``bench.load``'s watcher reads it for the lag."""
    from bench.load import views_position_sql

    row = conn.execute(views_position_sql(schema)).fetchone()
    return int(row[0]) if row else 0


def reach_head(pg: Pg, schema: str, tree: bool, timeout: float) -> dict[str, Any]:
    """Wait (at most ``timeout``) until the views' tracking position, and with
    ``tree`` the Merkle tree's, reach the log's head as it is now."""
    from infrastructure.transparency_log import POSITION

    began = time.perf_counter()
    with pg.connect(autocommit=True) as conn:
        log = services_log_position(pg, schema)
        while True:
            views = views_position(conn, schema)
            row = conn.execute(f'SELECT notification_id FROM "{schema}"."{POSITION}" '
                               "WHERE name = 'log'").fetchone()
            leaves = int(row[0]) if row else 0
            reached = views >= log and (leaves >= log or not tree)
            if reached or time.perf_counter() - began > timeout:
                break
            time.sleep(0.05)
    return {"log": log, "views": views, "tree": leaves, "tree_upkeep": tree, "reached": reached,
            "seconds": time.perf_counter() - began}


def upkeep_cost(pg: Pg, sizes: Sizes, tmp: Path, optimize: bool, stack: ExitStack,
                mix_data: dict[str, Any]) -> dict[str, Any]:
    """The need-command mix (as the command figure runs it) against Linli as
    deployed with the Merkle tree's upkeep thread on and with it off
    (``LINLI_TRANSPARENCY_UPKEEP=false``), on the same store, in alternate
    rounds (on, off; then off, on; ...) so that drift falls on both alike.
    Before each round the tree is brought up to date here, so that a round
    with the upkeep on pays for keeping up with its own commands, not for the
    backlog a round with it off left. Each round records the events written
    and the leaves the upkeep added meanwhile (none with it off)."""
    from infrastructure.store import build_services

    services = build_services(pg.settings(LINLI_SCHEMA))
    tlog = services.transparency
    rounds: dict[str, list[dict[str, Any]]] = {"on": [], "off": []}
    try:
        for r in range(sizes.upkeep_rounds):
            for mode in ("on", "off") if r % 2 == 0 else ("off", "on"):
                tlog.catch_up()
                events, leaves = tlog.log_position(), tlog.position()[1]
                server = linli_server(pg, LINLI_SCHEMA, tmp, optimize,
                                      **{UPKEEP_SETTING: "true" if mode == "on" else "false"})
                stack.callback(server.stop)
                result = load(server, "linli_mix", sizes, tmp, data=mix_data)
                server.stop()
                rounds[mode].append({
                    "rate": result["rate"], "requests": result["requests"],
                    "errors": result["errors"], "statuses": result["statuses"],
                    "p50_ms": result["latency"]["p50_ms"], "p99_ms": result["latency"]["p99_ms"],
                    "events": tlog.log_position() - events,
                    "leaves_added": tlog.position()[1] - leaves,
                })
        tlog.catch_up()
    finally:
        services.close()

    def pooled_mode(runs: list[dict[str, Any]]) -> dict[str, Any]:
        return {"rate": sum(x["rate"] for x in runs) / len(runs),
                "errors": sum(x["errors"] for x in runs), "rounds": runs}

    on, off = pooled_mode(rounds["on"]), pooled_mode(rounds["off"])
    return {"on": on, "off": off, "ratio": on["rate"] / off["rate"] if off["rate"] else 0.0}


def merkle_rates(settings: Any) -> dict[str, Any]:
    """Events per second of hashing the whole log into the tree's leaves
    (``linli audit rebuild``) and of ``linli audit verify`` (read every
    stored event, hash it, compare it with its leaf and the root)."""
    from infrastructure.store import build_services
    from infrastructure.transparency_log import verify

    services = build_services(settings)
    try:
        tlog = services.transparency
        began = time.perf_counter()
        leaves = tlog.rebuild()
        rebuilt = time.perf_counter() - began
        began = time.perf_counter()
        checked = verify(tlog)
        verified = time.perf_counter() - began
    finally:
        services.close()
    if not checked.ok:
        raise RuntimeError("verify found problems: " + "; ".join(checked.problems[:3]))
    return {
        "events": leaves,
        "rebuild": {"seconds": rebuilt, "rate": leaves / rebuilt if rebuilt else 0.0},
        "verify": {"seconds": verified, "rate": checked.events / verified if verified else 0.0},
    }


def services_log_position(pg: Pg, schema: str = LINLI_SCHEMA) -> int:
    with pg.connect() as conn:
        row = conn.execute(f'SELECT max(notification_id) FROM "{schema}"."linli_events"').fetchone()
    return int(row[0] or 0) if row else 0


# ----- figures, targets, the table ------------------------------------------------------


# Targets the in-process figures and the same ones with the projections in
# their own process share.
COMMANDS_VS_CRUD = 1.20  # commands/s of the need mix, against the CRUD peer's (issue 27 item 1; 0.80 before)
LAG_P99_MS = 200.0  # projection lag p99 at half the maximum command rate


def events_label(events: int) -> str:
    if events >= 1_000_000:
        return f"{events / 1_000_000:.3g}M"
    if events >= 1_000:
        return f"{events / 1_000:.3g}k"
    return str(events)


def figures(m: dict[str, Any]) -> list[dict[str, Any]]:
    base, linli = m["baselines"], m["linli"]
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, unit: str, baseline: str, base_value: float,
            target: str | None = None, check: Any = None, ratio: float | None = None) -> None:
        r = ratio if ratio is not None else (value / base_value if base_value else 0.0)
        result = "INFO" if check is None else ("PASS" if check(r, value) else "MISS")
        rows.append({"figure": name, "value": value, "unit": unit, "baseline": baseline,
                     "baseline_value": base_value, "ratio": r, "target": target or "-",
                     "result": result})

    commands = linli["commands"]
    naive, crud, lib = base["naive_write"], base["crud"], base["library"]
    add("commands/s, need mix over HTTP", commands["rate"], "/s", "naive POST (create+save)",
        naive["rate"], ">= 1.00", lambda r, v: r >= 1.0)
    add("commands/s, need mix over HTTP", commands["rate"], "/s", "CRUD peer, same mix",
        crud["rate"], f">= {COMMANDS_VS_CRUD:.2f}", lambda r, v: r >= COMMANDS_VS_CRUD)
    separate = linli["separate"]
    sep_commands = separate["commands"]
    add("commands/s, need mix, projections in their own process", sep_commands["rate"], "/s",
        "CRUD peer, same mix", crud["rate"], f">= {COMMANDS_VS_CRUD:.2f} (as in-process)",
        lambda r, v: r >= COMMANDS_VS_CRUD)
    add("commands/s, need mix, projections in their own process", sep_commands["rate"], "/s",
        "the same, projections in linli serve", commands["rate"])
    add("commands/s, need mix over HTTP", commands["rate"], "/s", "library ceiling (in-process saves)",
        lib["rate"])
    upkeep = linli["upkeep"]
    add("commands/s with the Merkle tree's upkeep on (same mix)", upkeep["on"]["rate"], "/s",
        f"the same, upkeep off ({UPKEEP_SETTING}=false), alternate rounds", upkeep["off"]["rate"],
        ">= 0.90", lambda r, v: r >= 0.9)
    by_role = linli["commands_by_role"]
    add("commands/s, each role on its own connection", by_role["rate"], "/s", "CRUD peer, same mix",
        crud["rate"])
    add("command p50", commands["latency"]["p50_ms"], "ms", "naive POST p50",
        naive["latency"]["p50_ms"])
    add("command p99", commands["latency"]["p99_ms"], "ms", "naive POST p99",
        naive["latency"]["p99_ms"])
    add("command p50", commands["latency"]["p50_ms"], "ms", "CRUD p50", crud["latency"]["p50_ms"])
    add("command p99", commands["latency"]["p99_ms"], "ms", "CRUD p99", crud["latency"]["p99_ms"])
    add("command p99, projections in their own process", sep_commands["latency"]["p99_ms"], "ms",
        "CRUD p99", crud["latency"]["p99_ms"])
    fastest = max(commands["rate"], naive["rate"], crud["rate"], base["naive_read"]["rate"])
    add("generator ceiling (trivial endpoint)", base["generator"]["rate"], "/s",
        "fastest rate measured above", fastest, ">= 2.00 (not the bottleneck)",
        lambda r, v: r >= 2.0)

    small, large = linli["queries_small"], linli["queries_large"]
    naive_get = base["naive_read_light"]["latency"]
    for kind, limit in (("need", 10.0), ("list", 20.0), ("history", 20.0)):
        for q in (small, large):
            p99 = q["by_kind"].get(kind, {}).get("p99_ms", 0.0)
            add(f"query {kind} p99 @{events_label(q['events'])} events", p99, "ms",
                f"naive GET p99, same {LIGHT_RATE:g} req/s", naive_get["p99_ms"], f"<= {limit:g} ms",
                lambda r, v, limit=limit: 0 < v <= limit)
        p50s = small["by_kind"].get(kind, {}).get("p50_ms", 0.0)
        p50l = large["by_kind"].get(kind, {}).get("p50_ms", 0.0)
        add(f"query {kind} p50 @{events_label(large['events'])}", p50l, "ms",
            f"same query p50 @{events_label(small['events'])}", p50s, "<= 1.30",
            lambda r, v: 0 < r <= 1.3)

    c = linli["catch_up"]
    helpers = c["memory"].get("helpers_peak_mb") or []
    by = f" ({1 + len(helpers)} processes, by partitions of the cases)" if helpers else ""
    add(f"catch-up from empty views, {events_label(c['events'])} events{by}", c["catch_up"]["rate"],
        "events/s", "read+decode only, one process", c["read_decode"]["rate"], ">= 0.75 (issue 27)",
        lambda r, v: r >= 0.75)
    mem = c["memory"]
    add("catch-up peak RSS at the end", mem["peak_end_mb"], "MB", "peak RSS after the first tenth",
        mem["peak_after_first_tenth_mb"], "<= 1.10 (flat)", lambda r, v: 0 < r <= 1.1)
    if helpers:
        add("catch-up peak RSS of the other process(es), at the end", max(helpers), "MB",
            "the catching-up process's own peak", mem["peak_end_mb"], "-", None)

    cm = linli["commitment"]
    add(f"load a service list of {cm['long_events']:,} events, p50", cm["long"]["p50_ms"], "ms",
        f"one of {cm['short_events']} events, p50", cm["short"]["p50_ms"], "<= 1.50",
        lambda r, v: 0 < r <= 1.5)

    lag = linli["lag"]
    add(f"projection lag p99 at {lag['rate']:.0f} commands/s (half max)", lag["lag"]["p99_ms"], "ms",
        "command p99 at that rate", lag["latency"]["p99_ms"], f"<= {LAG_P99_MS:g} ms",
        lambda r, v: lag["lag"]["count"] > 0 and v <= LAG_P99_MS)
    sep_lag = separate["lag"]
    add(f"projection lag p50, projections in their own process, at {sep_lag['rate']:.0f} commands/s "
        "(half its max)", sep_lag["lag"]["p50_ms"], "ms", "in-process lag p50", lag["lag"]["p50_ms"])
    add(f"projection lag p99, projections in their own process, at {sep_lag['rate']:.0f} commands/s "
        "(half its max)", sep_lag["lag"]["p99_ms"], "ms", "in-process lag p99", lag["lag"]["p99_ms"],
        f"<= {LAG_P99_MS:g} ms (as in-process; views at the head)",
        lambda r, v: sep_lag["lag"]["count"] > 0 and v <= LAG_P99_MS and separate["head"]["reached"]
        and not separate["after_stop"]["views_moved"])

    tree = linli["merkle"]
    add(f"Merkle tree from empty (audit rebuild), {events_label(tree['events'])} events",
        tree["rebuild"]["rate"], "events/s", "read+decode only (catch-up's baseline)",
        c["read_decode"]["rate"])
    add(f"audit verify, {events_label(tree['events'])} events", tree["verify"]["rate"], "events/s",
        "read+decode only (catch-up's baseline)", c["read_decode"]["rate"])

    hooks = linli["webhook_lag"]
    add("webhook delivery lag p50 (commit to delivered)", hooks["p50_ms"], "ms",
        "the same lag p99", hooks["p99_ms"])
    add("webhook delivery lag p99 (commit to delivered)", hooks["p99_ms"], "ms",
        "projection lag p99 (commit to views)", lag["lag"]["p99_ms"])

    peaks = [v for k, v in linli["worker_peak_rss_mb"].items() if k.startswith("worker")]
    peaks_q = [v for k, v in linli["worker_peak_rss_after_queries_mb"].items() if k.startswith("worker")]
    peer_peaks = [v for k, v in base["peers_worker_peak_rss_mb"].items() if k.startswith("worker")]
    add("peak RSS per Linli worker (max of 2), under command load", max(peaks, default=0), "MB",
        "peers' worker (naive + CRUD)", max(peer_peaks, default=0))
    add(f"peak RSS per Linli worker (max of 2), queries @{events_label(large['events'])}",
        max(peaks_q, default=0), "MB",
        "peers' worker (naive + CRUD)", max(peer_peaks, default=0))
    return rows


def render(rows: list[dict[str, Any]], machine: dict[str, Any], title: str) -> tuple[Table, str]:
    table = Table(title=title)
    for column in ("figure", "value", "baseline", "baseline value", "ratio", "target", "result"):
        table.add_column(column, justify="right" if column in ("value", "baseline value", "ratio") else "left")
    lines = [
        "| figure | value | baseline | baseline value | ratio | target | result |",
        "|---|---:|---|---:|---:|---|---|",
    ]
    for r in rows:
        value = f"{r['value']:,.1f} {r['unit']}"
        base = f"{r['baseline_value']:,.1f} {r['unit']}"
        ratio = f"{r['ratio']:.2f}"
        style = {"PASS": "green", "MISS": "red"}.get(r["result"], "dim")
        table.add_row(r["figure"], value, r["baseline"], base, ratio, r["target"],
                      f"[{style}]{r['result']}[/]")
        lines.append(f"| {r['figure']} | {value} | {r['baseline']} | {base} | {ratio} | "
                     f"{r['target']} | {r['result']} |")
    facts = machine_text(machine)
    return table, "\n".join(lines) + f"\n\nMachine: {facts}.\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="every figure on small sizes")
    parser.add_argument("--out", type=Path, help="default bench/results.json "
                        "(bench/results-quick.json with --quick); a .md table is written beside it")
    parser.add_argument("--db", default="linli_bench", help="database to (re)create on 127.0.0.1")
    # The server the tests use (127.0.0.1 always); LINLI_TEST_POSTGRES_* as for `make test`.
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("LINLI_TEST_POSTGRES_PORT", "5432")),
                        help="PostgreSQL port on 127.0.0.1 (LINLI_TEST_POSTGRES_PORT, 5432)")
    parser.add_argument("--pg-user", default=os.environ.get("LINLI_TEST_POSTGRES_USER", "postgres"),
                        help="(LINLI_TEST_POSTGRES_USER, postgres)")
    parser.add_argument("--pg-password", default=os.environ.get("LINLI_TEST_POSTGRES_PASSWORD", ""),
                        help="(LINLI_TEST_POSTGRES_PASSWORD, empty)")
    parser.add_argument("--events", type=int, help="events for the large figures (default 1 M)")
    parser.add_argument("--optimize", action="store_true", help="serve with python -O")
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    parser.add_argument("--linli-env", action="append", default=[], metavar="NAME=VALUE",
                        help="a setting for the Linli servers only, e.g. LINLI_PROJECTION_BATCH_INTERVAL=0.01 "
                        "(repeatable; the default measures Linli as deployed)")
    args = parser.parse_args(argv)

    # A terminated benchmark still stops its servers and drops its database.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    for setting in args.linli_env:
        name, _, value = setting.partition("=")
        if not name.startswith("LINLI_"):
            parser.error(f"--linli-env {setting}: a LINLI_ setting")
        LINLI_ENV[name] = value
    sizes = QUICK if args.quick else FULL
    if args.out is None:
        args.out = ROOT / "bench" / ("results-quick.json" if args.quick else "results.json")
    if args.events:
        sizes = Sizes(**{**sizes.__dict__, "large_events": args.events})
    pg = Pg(args.db, port=args.pg_port, user=args.pg_user, password=args.pg_password)
    started = time.perf_counter()
    step(f"database {pg.dbname} on {HOST}:{pg.port}, recreated")
    pg.recreate()
    machine = machine_facts(pg)
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="linli-bench-") as tmp_name:
        if not args.keep_db:
            stack.callback(pg.drop)
        tmp = Path(tmp_name)
        try:
            measured = measure(pg, sizes, args.optimize, tmp, stack)
        except BaseException:
            for log in sorted(tmp.glob("*.log")):
                console.print(f"[red]{log.name}[/]:\n{log.read_text(errors='replace')[-2000:]}")
            raise
    rows = figures(measured)
    mode = "quick" if args.quick else "full"
    title = f"Linli bench ({mode}, {time.strftime('%Y-%m-%d %H:%M')})"
    table, markdown = render(rows, machine, title)
    results = {
        "mode": mode,
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": time.perf_counter() - started,
        "optimized": args.optimize,
        "linli_env": LINLI_ENV,
        "sizes": sizes.__dict__,
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
        "code": code_facts(),
        "figures": rows,
        "measurements": measured,
        "bench_process_peak_rss_mb": proc_status().get("VmHWM", 0) / 1024,
    }
    write_results(args.out, results, title, markdown)
    Console(width=max(Console().width, 160)).print(table)
    console.log(f"results in {args.out} and {args.out.with_suffix('.md')} "
                f"({results['seconds']:.0f} s)")
    if not args.quick:
        missed = [r["figure"] for r in rows if r["result"] == "MISS"]
        if missed:
            console.log(f"[red]{len(missed)} target(s) missed[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``make bench SCALE=district``: a district's decade (issue 27 item 3).

    python -m bench.district [--events 10000000] [--db linli_district] [--out bench/district-results.json]

Not in CI, and not part of ``make bench``. It creates its own database on
127.0.0.1 (dropped and recreated at the start, dropped at the end unless
``--keep-db``) and builds two stores in it, each by ``bench/district_seed.py``
(the domain's own methods and ``Linli.save``, in child processes side by side):

- ``district_small``: 10 k events, 2 compounds and one year, so that one
  compound-month holds about as many events as one of the large store
  (10 M / 200 compounds / 120 months = ~417);
- ``district``: ``--events`` events, 200 compounds and ten years.

For the large store it reports the load time and rate, the bytes per event of
the event table (with its indexes) and of the views (``need_view``,
``case_view``, ``case_history`` with their indexes), a full rebuild of the
views by the real ``linli projections rebuild`` (timed, its peak RSS from
``/usr/bin/time -v``), and then, with ``linli serve --workers 2`` as
``bench/run.py`` starts it, the latency of five queries at both sizes in
alternate rounds (``bench/load.py``'s generator, open loop at a fixed rate):
a need, a filtered list (a compound's needs in progress, as ``bench/run.py``),
a need's history, ``/stats`` for one compound-month, and ``/stats`` for the
whole district-month with a district-wide supervisor's token. The month is
the sixth before the last month of history. The need, list and history
queries run at 50 requests/s (as ``bench/run.py``'s); the two ``/stats``
queries in a run of their own at ``--stats-rate`` (default 4/s), so that a
slow ``/stats`` does not queue the others (one client, so that a slow one
does not queue the next either).

Targets (issue 27 item 3): p99 need <= 10 ms, list and history <= 20 ms,
district stats <= 200 ms (one compound-month's stats are held to the same
200 ms); p50 at the large size <= 1.30 of the same query at 10 k; a full
rebuild of 10 M events <= 6 minutes (below 10 M judged on the rebuild time
projected linearly to 10 M). Results go to ``bench/district-results.json``
and a Markdown table beside it.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from uuid import UUID

from rich.console import Console
from rich.table import Table

from bench.common import (HOST, ROOT, Pg, children, cmdline, code_facts, free_port, machine_facts, machine_text,
                          proc_status, run_json, write_results,
                          start_server, summary_ms)
from bench.load import Workload
from bench.district_seed import LIST_STATUS, Shape

console = Console(stderr=True)
SMALL_SCHEMA = "district_small"
LARGE_SCHEMA = "district"
TEN_M = 10_000_000
REBUILD_TARGET_S = 360.0  # a full rebuild of 10 M events
VIEW_TABLES = ("need_view", "case_view", "case_history")
CHEAP_RATE = 50.0
TARGETS_MS = {"need": 10.0, "list": 20.0, "history": 20.0, "stats_compound": 200.0, "stats_district": 200.0}
LABELS = {"need": "a need", "list": f"filtered list (status={LIST_STATUS})", "history": "a need's history",
          "stats_compound": "/stats one compound-month", "stats_district": "/stats whole district-month"}


def step(text: str) -> None:
    console.log(f"[bold cyan]{text}[/]")


# ----- the workload (run by bench/load.py's machinery: python -m bench.district load SPEC) -----


class DistrictQueries(Workload):
    """The kinds in ``data["kinds"]``, in turn."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.auth = {"Authorization": f"Bearer {data['token']}"}
        self.supervisor = {"Authorization": f"Bearer {data['supervisor_token']}"}
        self.turn = itertools.count()
        self.kinds = data["kinds"]

    def step(self, client: Any) -> tuple[str, int, int | None]:
        d = self.data
        kind = self.kinds[next(self.turn) % len(self.kinds)]
        need = random.choice(d["need_ids"])
        month = d["month"]
        auth = self.auth
        if kind == "need":
            path = f"/needs/{need}"
        elif kind == "history":
            path = f"/needs/{need}/history"
        elif kind == "list":
            path = f"/needs?compound_id={d['compound_id']}&status={d['list_status']}&limit=20"
        elif kind == "stats_compound":
            path, auth = f"/stats?compound_id={d['compound_id']}&month_from={month}&month_to={month}", self.supervisor
        else:
            path, auth = f"/stats?month_from={month}&month_to={month}", self.supervisor
        status, body = client.call("GET", path, headers=auth)
        if status == 200 and kind == "list" and not body.get("items"):
            status = 598  # an empty page would measure nothing
        return kind, status, None


def load_main(spec_path: str) -> int:
    import bench.load as load

    class PatientClient(load.Client):
        """bench/load.py's client with a 600 s timeout (not 30 s): a district's
        /stats may take longer than 30 s, and is then measured, not failed."""

        def __init__(self, host: str, port: int) -> None:
            super().__init__(host, port)
            self.conn = load.http.client.HTTPConnection(host, port, timeout=600)

        def call(self, *a: Any, **kw: Any) -> tuple[int, Any]:
            status, body = super().call(*a, **kw)
            if status == 599:  # reconnected with the 30 s timeout: give it the long one again
                self.conn = load.http.client.HTTPConnection(self.host, self.port, timeout=600)
            return status, body

    load.Client = PatientClient  # type: ignore[misc]
    load.WORKLOADS["district_queries"] = DistrictQueries
    with open(spec_path) as f:
        spec = json.load(f)
    print(json.dumps(load.run(spec)))
    return 0


def run_load(url: str, tmp: Path, data: dict[str, Any], kinds: list[str], requests: int, rate: float,
             threads: int, warmup_requests: int) -> dict[str, Any]:
    spec = {"base_url": url, "workload": "district_queries", "threads": threads, "rate": rate,
            "duration": 3600.0, "warmup": 0.0, "warmup_requests": warmup_requests,
            "max_requests": requests, "raw": True, "data": {**data, "kinds": kinds}}
    path = tmp / f"spec-{time.monotonic_ns()}.json"
    path.write_text(json.dumps(spec))
    timeout = (requests + warmup_requests) / rate + 900
    return run_json([sys.executable, "-m", "bench.district", "load", str(path)], timeout=timeout)


# ----- building a store -------------------------------------------------------------------------


def vacuum(pg: Pg, schema: str) -> float:
    began = time.perf_counter()
    with pg.connect(autocommit=True) as conn:
        for (table,) in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall():
            conn.execute(f'VACUUM ANALYZE "{schema}"."{table}"')
        conn.execute("CHECKPOINT")
    return time.perf_counter() - began


def log_position(pg: Pg, schema: str) -> int:
    with pg.connect() as conn:
        row = conn.execute(f'SELECT max(notification_id) FROM "{schema}"."linli_events"').fetchone()
    return int(row[0] or 0) if row else 0


def sizes(pg: Pg, schema: str, events: int) -> dict[str, Any]:
    """Bytes of each table of the schema (with its indexes and TOAST), and per event."""
    with pg.connect() as conn:
        rows = conn.execute(
            "SELECT tablename, pg_total_relation_size(format('%%I.%%I', schemaname, tablename)), "
            "pg_relation_size(format('%%I.%%I', schemaname, tablename)) "
            "FROM pg_tables WHERE schemaname = %s", (schema,)).fetchall()
        counts = {t: conn.execute(f'SELECT count(*) FROM "{schema}"."{t}"').fetchone()[0]  # type: ignore[index]
                  for t in ("linli_events", "linli_snapshots", *VIEW_TABLES)}
    tables = {name: {"total_bytes": int(total), "heap_bytes": int(heap), "rows": counts.get(name)}
              for name, total, heap in rows}
    events_bytes = tables["linli_events"]["total_bytes"]
    views_bytes = sum(tables[t]["total_bytes"] for t in VIEW_TABLES if t in tables)
    schema_bytes = sum(t["total_bytes"] for t in tables.values())
    return {"events": events, "tables": tables, "events_table_bytes": events_bytes,
            "views_bytes": views_bytes, "schema_bytes": schema_bytes,
            "events_table_bytes_per_event": events_bytes / events, "views_bytes_per_event": views_bytes / events,
            "schema_bytes_per_event": schema_bytes / events}


def seed_in_children(pg: Pg, schema: str, world: dict[str, Any], events: int, procs: int,
                     tmp: Path) -> dict[str, Any]:
    world_path = tmp / f"world-{schema}.json"
    world_path.write_text(json.dumps(world))
    share = [events // procs] * procs
    share[0] += events - sum(share)
    processes = []
    began = time.perf_counter()
    for i, count in enumerate(share):
        argv = [sys.executable, "-m", "bench.district_seed", schema, str(count), str(i), str(procs),
                str(world_path), json.dumps(pg.as_dict())]
        processes.append(subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE))
    results = []
    try:
        for p in processes:
            out, err = p.communicate(timeout=4 * 3600)
            if p.returncode != 0:
                raise RuntimeError(f"seeding failed: {err.decode(errors='replace')[-3000:]}")
            results.append(json.loads(out.decode().strip().splitlines()[-1]))
    finally:
        for p in processes:
            if p.poll() is None:
                p.kill()
                p.wait()
    seconds = time.perf_counter() - began
    written = sum(r["events"] for r in results)
    by_kind: dict[str, int] = {}
    for r in results:
        for kind, n in r["by_kind"].items():
            by_kind[kind] = by_kind.get(kind, 0) + n
    return {"events": written, "seconds": seconds, "rate": written / seconds, "by_kind": by_kind,
            "needs": sum(r["needs"] for r in results),
            "sample": [n for r in results for n in r["sample"]],
            "sample_district": [n for r in results for n in r["sample_district"]],
            "per_process": [{k: v for k, v in r.items() if not k.startswith("sample")} for r in results]}


def _tree(pid: int) -> list[int]:
    """``pid`` and every process below it, from /proc."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children(p))
    return out


def rebuild(pg: Pg, schema: str, tmp: Path) -> dict[str, Any]:
    """``linli projections rebuild`` under ``/usr/bin/time -v``: wall time and
    peak RSS. The rebuild may catch up with helper processes beside it
    (``LINLI_CATCH_UP_PROCESSES``), so its process tree is also sampled from
    /proc every 0.2 s: each process's peak RSS (VmHWM, last seen), their sum,
    and the largest sum of RSS seen at one time. ``/usr/bin/time``'s figure is
    the largest single process's."""
    log = tmp / f"rebuild-{schema}.log"
    argv = ["/usr/bin/time", "-v", sys.executable, "-m", "api.cli", "projections", "rebuild"]
    began = time.perf_counter()
    peaks: dict[int, tuple[str, float]] = {}
    tree_max = 0.0
    processes = 0
    with open(log, "wb") as out:
        process = subprocess.Popen(argv, cwd=ROOT, env={**os.environ, **pg.linli_env(schema), "COLUMNS": "120"},
                                   stdout=out, stderr=subprocess.STDOUT)
        try:
            while process.poll() is None:
                now = 0.0
                for pid in _tree(process.pid)[1:]:  # not /usr/bin/time itself
                    status = proc_status(pid)
                    if not status:
                        continue
                    if "resource_tracker" in cmdline(pid):
                        continue
                    now += status.get("VmRSS", 0) / 1024
                    peaks[pid] = (cmdline(pid)[:80], status.get("VmHWM", 0) / 1024)
                tree_max = max(tree_max, now)
                processes = max(processes, len(peaks))
                time.sleep(0.2)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait()
    seconds = time.perf_counter() - began
    text = log.read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"linli projections rebuild failed ({process.returncode}):\n{text[-3000:]}")
    peak = re.search(r"Maximum resident set size \(kbytes\): (\d+)", text)
    reached = re.search(r"swapped in at position (\d+)", text)
    user = re.search(r"User time \(seconds\): ([\d.]+)", text)
    system = re.search(r"System time \(seconds\): ([\d.]+)", text)
    return {"seconds": seconds,
            "peak_rss_mb": int(peak.group(1)) / 1024 if peak else 0.0,  # the largest single process
            "processes": processes,
            "peak_rss_per_process_mb": {str(pid): v for pid, v in peaks.items()},
            "peak_rss_sum_mb": sum(v for _, v in peaks.values()),
            "rss_tree_max_mb": tree_max,
            "cpu_seconds": (float(user.group(1)) + float(system.group(1))) if user and system else None,
            "catch_up_processes_setting": os.environ.get("LINLI_CATCH_UP_PROCESSES", "default"),
            "position": int(reached.group(1)) if reached else None}


def build_store(pg: Pg, schema: str, events: int, shape: Shape, procs: int, tmp: Path) -> dict[str, Any]:
    """World, seed, vacuum, sizes, rebuild, Merkle tree at the head: one store."""
    from bench.district_seed import build_world
    from domain.actor import Role
    from infrastructure.store import build_services

    pg.create_schema(schema)
    began = time.perf_counter()
    services = build_services(pg.settings(schema))
    try:
        world = build_world(services, shape)
    finally:
        services.close()
    world_events = log_position(pg, schema)
    world_seconds = time.perf_counter() - began
    step(f"  {schema}: world of {shape.compounds} compounds, {world_events:,} events in {world_seconds:.1f} s; "
         f"seeding {max(events - world_events, 0):,} more ({procs} processes)")
    seeded = seed_in_children(pg, schema, world, max(events - world_events, 0), procs, tmp)
    total = log_position(pg, schema)
    load_seconds = time.perf_counter() - began
    out: dict[str, Any] = {
        "schema": schema, "shape": world["shape"], "events": total,
        "load": {"seconds": load_seconds, "rate": total / load_seconds, "world_events": world_events,
                 "world_seconds": world_seconds, "seed": {k: v for k, v in seeded.items()
                                                         if not k.startswith("sample")}},
    }
    step(f"  {schema}: {total:,} events loaded in {load_seconds:.1f} s ({total / load_seconds:,.0f} events/s); "
         f"by kind {seeded['by_kind']}")
    out["vacuum_after_load_seconds"] = vacuum(pg, schema)
    step(f"  {schema}: vacuum analyze + checkpoint {out['vacuum_after_load_seconds']:.1f} s; "
         f"rebuilding the views (linli projections rebuild)")
    out["rebuild"] = rebuild(pg, schema, tmp)
    rb = out["rebuild"]
    step(f"  {schema}: rebuild {rb['seconds']:.1f} s ({total / rb['seconds']:,.0f} events/s), "
         f"{rb['processes']} process(es), peak RSS {rb['peak_rss_mb']:.0f} MB the largest, "
         f"{rb['peak_rss_sum_mb']:.0f} MB summed, CPU {rb['cpu_seconds']} s")
    out["vacuum_after_rebuild_seconds"] = vacuum(pg, schema)
    out["sizes"] = sizes(pg, schema, total)
    # The seeders keep no Merkle tree: brought to the head here (as bench/run.py
    # does), or the first server would hash the whole log while measured.
    began = time.perf_counter()
    services = build_services(pg.settings(schema))
    try:
        services.transparency.catch_up()
    finally:
        services.close()
    out["merkle_catch_up_seconds"] = time.perf_counter() - began
    vacuum(pg, schema)
    step(f"  {schema}: Merkle tree at the head in {out['merkle_catch_up_seconds']:.1f} s; "
         f"event table {out['sizes']['events_table_bytes_per_event']:.0f} B/event, "
         f"views {out['sizes']['views_bytes_per_event']:.0f} B/event")
    month = world["months"][-7]
    # The compound queried (list, history, need, one compound-month's stats):
    # the one with the most needs in progress, so that the filtered list is
    # never empty (at small sizes a compound may have none); its staff's token.
    with pg.connect() as conn:
        compound_id = conn.execute(
            f'SELECT compound_id FROM "{schema}".need_view WHERE status = %s GROUP BY compound_id '
            "ORDER BY count(*) DESC, compound_id LIMIT 1", (LIST_STATUS,)).fetchone()[0]  # type: ignore[index]
        sample = [row[0] for row in conn.execute(
            f'SELECT id FROM "{schema}".need_view WHERE compound_id = %s ORDER BY md5(id) LIMIT 2000',
            (compound_id,)).fetchall()]
    services = build_services(pg.settings(schema))
    try:
        person = services.people.register(f"district-staff-{compound_id[:8]}", created_by="bench")
        token = services.credentials.issue(person_id=person.id, role=Role.COMMUNITY_STAFF,
                                           compound_ids=[UUID(compound_id)]).token
    finally:
        services.close()
    first = {"id": compound_id}
    out["query_data"] = {
        "token": token, "supervisor_token": world["tokens"]["supervisor"],
        "compound_id": compound_id, "list_status": LIST_STATUS, "month": month, "need_ids": sample,
    }
    with pg.connect() as conn:
        out["month_facts"] = {
            "month": month,
            "district_needs": conn.execute(f'SELECT count(*) FROM "{schema}".need_view').fetchone()[0],  # type: ignore[index]
            "compound_needs": conn.execute(f'SELECT count(*) FROM "{schema}".need_view WHERE compound_id = %s',
                                           (first["id"],)).fetchone()[0],  # type: ignore[index]
            "compound_in_progress": conn.execute(
                f'SELECT count(*) FROM "{schema}".need_view WHERE compound_id = %s AND status = %s',
                (first["id"], LIST_STATUS)).fetchone()[0],  # type: ignore[index]
        }
    return out


# ----- queries ---------------------------------------------------------------------------------


def linli_server(pg: Pg, schema: str, tmp: Path) -> Any:
    port = free_port()
    argv = [sys.executable, "-m", "api.cli", "serve", "--workers", "2", "--host", HOST, "--port", str(port)]
    return start_server(f"linli-{schema}", argv, port, pg.linli_env(schema), tmp, "/healthz")


def queries(pg: Pg, stores: dict[str, dict[str, Any]], args: argparse.Namespace, tmp: Path,
            stack: ExitStack) -> dict[str, Any]:
    """Alternate rounds against the small and the large store; pooled per store."""
    raw: dict[str, dict[str, list[float]]] = {name: {} for name in stores}
    statuses: dict[str, dict[str, int]] = {name: {} for name in stores}
    peak: dict[str, Any] = {}
    cheap = max(3 * args.query_requests // args.rounds, 3)
    stats = max(2 * args.stats_requests // args.rounds, 2)
    for r in range(args.rounds):
        for name, store in stores.items():
            server = linli_server(pg, store["schema"], tmp)
            stack.callback(server.stop)
            try:
                for kinds, requests, rate, threads, warm in (
                    (["need", "list", "history"], cheap, CHEAP_RATE, 8, 60),
                    # One client: a slow /stats is measured, not queued behind the last.
                    (["stats_compound", "stats_district"], stats, args.stats_rate, 1, 2),
                ):
                    result = run_load(server.url, tmp, store["query_data"], kinds, requests, rate, threads, warm)
                    for kind, values in result.pop("raw_s").items():
                        raw[name].setdefault(kind, []).extend(values)
                    for status, count in result["statuses"].items():
                        statuses[name][status] = statuses[name].get(status, 0) + count
                    step(f"  round {r + 1} {name}: " + ", ".join(
                        f"{k} p50 {v['p50_ms']:.1f} p99 {v['p99_ms']:.1f} ms"
                        for k, v in result["by_kind"].items()) + f" (statuses {result['statuses']})")
                peak[name] = server.peak_rss_mb()
            finally:
                server.stop()
    return {name: {"events": stores[name]["events"], "statuses": statuses[name],
                   "by_kind": {k: summary_ms(v) for k, v in sorted(raw[name].items())},
                   "worker_peak_rss_mb": peak.get(name)} for name in stores}


# ----- figures ---------------------------------------------------------------------------------


def label(events: int) -> str:
    return f"{events / 1e6:.3g}M" if events >= 1_000_000 else f"{events / 1e3:.3g}k"


def figures(m: dict[str, Any]) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []

    def add(name: str, value: float, unit: str, target: str = "-", ok: bool | None = None, note: str = "") -> None:
        rows.append({"figure": name, "value": value, "unit": unit, "target": target,
                     "result": "INFO" if ok is None else ("PASS" if ok else "MISS"), "note": note})

    large = m["large"]
    n = large["events"]
    scale = TEN_M / n
    lt = large["load"]
    add(f"load {label(n)} events ({m['procs']} seeding processes)", lt["seconds"], "s")
    add("load rate", lt["rate"], "events/s")
    if n != TEN_M:
        add("load time projected to 10M (at this rate)", TEN_M / lt["rate"], "s")
    sz = large["sizes"]
    add("event table incl. indexes, per event", sz["events_table_bytes_per_event"], "B")
    add("views (need_view, case_view, case_history) incl. indexes, per event", sz["views_bytes_per_event"], "B")
    add("whole schema (events, snapshots, views, ...) per event", sz["schema_bytes_per_event"], "B")
    if n != TEN_M:
        add("disk projected to 10M (whole schema)", sz["schema_bytes_per_event"] * TEN_M / 2**30, "GiB")
    rb = large["rebuild"]
    add(f"full rebuild (linli projections rebuild), {label(n)} events", rb["seconds"], "s",
        f"<= {REBUILD_TARGET_S:g} s at 10M" if n == TEN_M else "-",
        rb["seconds"] <= REBUILD_TARGET_S if n == TEN_M else None)
    add("rebuild rate", n / rb["seconds"], "events/s")
    if n != TEN_M:
        add("full rebuild projected to 10M (linear)", rb["seconds"] * scale, "s", f"<= {REBUILD_TARGET_S:g} s",
            rb["seconds"] * scale <= REBUILD_TARGET_S, note="projected")
    add("rebuild peak RSS, largest process", rb["peak_rss_mb"], "MB",
        note=f"{rb['processes']} process(es); summed {rb['peak_rss_sum_mb']:.0f} MB")
    if rb.get("cpu_seconds"):
        add("rebuild CPU (user+sys, all its processes) per event", rb["cpu_seconds"] / n * 1e6, "µs")
    q = m["queries"]
    qs, ql = q["small"], q["large"]
    for kind, limit in TARGETS_MS.items():
        for store in (qs, ql):
            p99 = store["by_kind"].get(kind, {}).get("p99_ms", 0.0)
            add(f"p99 {LABELS[kind]} @{label(store['events'])}", p99, "ms", f"<= {limit:g} ms", 0 < p99 <= limit)
        p50s = qs["by_kind"].get(kind, {}).get("p50_ms", 0.0)
        p50l = ql["by_kind"].get(kind, {}).get("p50_ms", 0.0)
        ratio = p50l / p50s if p50s else 0.0
        add(f"p50 ratio {LABELS[kind]} @{label(ql['events'])} / @{label(qs['events'])}", ratio, "x",
            "<= 1.30", 0 < ratio <= 1.3, note=f"p50 {p50l:.2f} / {p50s:.2f} ms")
    return rows


def render(rows: list[dict[str, Any]], machine: dict[str, Any], title: str) -> tuple[Table, str]:
    table = Table(title=title)
    for column in ("figure", "value", "target", "result", "note"):
        table.add_column(column, justify="right" if column == "value" else "left")
    lines = ["| figure | value | target | result | note |", "|---|---:|---|---|---|"]
    for r in rows:
        value = f"{r['value']:,.2f} {r['unit']}" if r["unit"] in ("x", "GiB") else f"{r['value']:,.1f} {r['unit']}"
        style = {"PASS": "green", "MISS": "red"}.get(r["result"], "dim")
        table.add_row(r["figure"], value, r["target"], f"[{style}]{r['result']}[/]", r["note"])
        lines.append(f"| {r['figure']} | {value} | {r['target']} | {r['result']} | {r['note']} |")
    facts = machine_text(machine)
    return table, "\n".join(lines) + f"\n\nMachine: {facts}.\n"


def render_again(path: Path) -> int:
    """Work out the figures and the tables again from a results file's measurements."""
    results = json.loads(path.read_text())
    rows = figures(results["measurements"])
    title = (f"Linli district bench ({label(results['measurements']['large']['events'])} events, "
             f"{results['when'][:16].replace('T', ' ')})")
    table, markdown = render(rows, results["machine"], title)
    results["figures"] = rows
    write_results(path, results, title, markdown)
    Console(width=max(Console().width, 160)).print(table)
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["load"]:
        return load_main(argv[1])
    if argv[:1] == ["render"]:  # the table again from a results file: render RESULTS.json
        return render_again(Path(argv[1]))
    parser = argparse.ArgumentParser(prog="python -m bench.district", description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=TEN_M, help="events of the large store (default 10 M)")
    parser.add_argument("--small-events", type=int, default=10_000)
    parser.add_argument("--compounds", type=int, default=200)
    parser.add_argument("--years", type=int, default=10)
    parser.add_argument("--procs", type=int, default=2, help="seeding processes side by side")
    parser.add_argument("--db", default="linli_district", help="database to (re)create on 127.0.0.1")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "district-results.json")
    parser.add_argument("--rounds", type=int, default=2, help="alternate query rounds per store")
    parser.add_argument("--query-requests", type=int, default=300,
                        help="need, list and history requests per kind and store, all rounds")
    parser.add_argument("--stats-requests", type=int, default=60,
                        help="/stats requests per kind and store, all rounds")
    parser.add_argument("--stats-rate", type=float, default=4.0, help="/stats requests per second")
    parser.add_argument("--pg-port", type=int, default=int(os.environ.get("LINLI_TEST_POSTGRES_PORT", "5432")))
    parser.add_argument("--pg-user", default=os.environ.get("LINLI_TEST_POSTGRES_USER", "postgres"))
    parser.add_argument("--pg-password", default=os.environ.get("LINLI_TEST_POSTGRES_PASSWORD", ""))
    parser.add_argument("--keep-db", action="store_true", help="leave the database for inspection")
    args = parser.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    pg = Pg(args.db, port=args.pg_port, user=args.pg_user, password=args.pg_password)
    started = time.perf_counter()
    step(f"database {pg.dbname} on {HOST}:{pg.port}, recreated")
    pg.recreate()
    machine = machine_facts(pg)
    measured: dict[str, Any] = {"procs": args.procs}
    with ExitStack() as stack, tempfile.TemporaryDirectory(prefix="linli-district-") as tmp_name:
        if not args.keep_db:
            stack.callback(pg.drop)
        tmp = Path(tmp_name)
        try:
            step(f"the small store: {args.small_events:,} events, 2 compounds, one year")
            measured["small"] = build_store(pg, SMALL_SCHEMA, args.small_events,
                                            Shape(compounds=2, years=1, buildings=2, households_per_building=20),
                                            1, tmp)
            step(f"the district: {args.events:,} events, {args.compounds} compounds, {args.years} years")
            measured["large"] = build_store(pg, LARGE_SCHEMA, args.events,
                                            Shape(compounds=args.compounds, years=args.years), args.procs, tmp)
            step(f"queries at {measured['small']['events']:,} and {measured['large']['events']:,} events, "
                 f"{args.rounds} alternate rounds")
            measured["queries"] = queries(pg, {"small": measured["small"], "large": measured["large"]},
                                          args, tmp, stack)
        except BaseException:
            for log in sorted(tmp.glob("*.log")):
                console.print(f"[red]{log.name}[/]:\n{log.read_text(errors='replace')[-2000:]}")
            raise
    for store in ("small", "large"):
        measured[store]["query_data"].pop("need_ids", None)
        for token in ("token", "supervisor_token"):
            measured[store]["query_data"].pop(token, None)
    rows = figures(measured)
    title = f"Linli district bench ({label(measured['large']['events'])} events, {time.strftime('%Y-%m-%d %H:%M')})"
    table, markdown = render(rows, machine, title)
    results = {
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "seconds": time.perf_counter() - started,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {**machine, "load_average_at_end": list(os.getloadavg())},
        "code": code_facts(),
        "figures": rows,
        "measurements": measured,
        "bench_process_peak_rss_mb": proc_status().get("VmHWM", 0) / 1024,
    }
    write_results(args.out, results, title, markdown)
    Console(width=max(Console().width, 160)).print(table)
    console.log(f"results in {args.out} and {args.out.with_suffix('.md')} ({results['seconds']:.0f} s)")
    missed = [r["figure"] for r in rows if r["result"] == "MISS"]
    if missed:
        console.log(f"[red]{len(missed)} target(s) missed[/]")
    return 0


if __name__ == "__main__":
    sys.exit(main())

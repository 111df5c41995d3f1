"""The load generator, run as a process of its own: ``python -m bench.load SPEC.json``.

Threads, each with one keep-alive HTTP/1.1 connection (the standard
library's ``http.client``: nothing to install, and cheaper per request than
the usual client libraries), run one workload against 127.0.0.1, closed-loop
(as fast as answers come) or open-loop at a fixed rate. Every run is bounded
by a duration and a request count. Prints one JSON document: the rate,
latencies per kind of request, status counts and, when asked to watch the
views, the projection lag of each command.

The spec (JSON): ``base_url``, ``workload``, ``threads``, ``duration``,
``warmup`` (seconds), ``warmup_requests``, ``max_requests``, optional ``rate`` (requests/s, open loop),
``data`` (ids and tokens the workload needs), optional ``raw`` (return every
latency, to pool several runs) and optional ``watch`` (``pg``, ``schema``:
poll the views' tracking position to measure lag).
"""

from __future__ import annotations

import bisect
import http.client
import itertools
import json
import random
import sys
import threading
import time
from collections import Counter, defaultdict
from typing import Any
from urllib.parse import urlsplit

from bench.common import HOST, summary_ms

JSON = {"Content-Type": "application/json"}


class Client:
    """One keep-alive connection; reconnects after a failure."""

    def __init__(self, host: str, port: int) -> None:
        if host != HOST:
            raise ValueError(f"the load generator only talks to {HOST}, not {host}")
        self.host = host
        self.port = port
        self.conn = http.client.HTTPConnection(host, port, timeout=30)

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, Any]:
        payload = None if body is None else json.dumps(body).encode()
        all_headers = {**(JSON if payload is not None else {}), **(headers or {})}
        try:
            self.conn.request(method, path, body=payload, headers=all_headers)
            response = self.conn.getresponse()
            data = response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=30)
            return 599, None
        if not data or not response.getheader("content-type", "").startswith("application/json"):
            return status, None
        try:
            return status, json.loads(data)
        except ValueError:
            return status, None

    def close(self) -> None:
        self.conn.close()


# ----- workloads: each thread asks its workload for the next request ------------


class Workload:
    """``step(client)`` makes one request; returns (kind, ok, log position or None)."""

    def __init__(self, data: dict[str, Any]) -> None:
        self.data = data

    def step(self, client: Client) -> tuple[str, int, int | None]:
        raise NotImplementedError


class Trivial(Workload):
    def step(self, client: Client) -> tuple[str, int, int | None]:
        status, _ = client.call("GET", "/trivial")
        return "trivial", status, None


class NaiveWrite(Workload):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.created: list[str] = []

    def step(self, client: Client) -> tuple[str, int, int | None]:
        status, body = client.call("POST", "/naive/things", {"name": "门禁卡"})
        if status == 201 and len(self.created) < 2000:
            self.created.append(body["id"])
        return "create", status, None


class NaiveRead(Workload):
    def step(self, client: Client) -> tuple[str, int, int | None]:
        thing = random.choice(self.data["ids"])
        status, _ = client.call("GET", f"/naive/things/{thing}")
        return "load", status, None


class Lifecycle(Workload):
    """Each thread takes one case at a time through the six commands:
    register, accept, assign, acknowledge, resolve, evaluate."""

    STEPS = ("register", "accept", "assign", "acknowledge", "resolve", "evaluate")

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.local = threading.local()

    def request(self, step: str, case: str | None) -> tuple[str, str, Any, dict[str, str]]:
        raise NotImplementedError

    def step(self, client: Client) -> tuple[str, int, int | None]:
        local = self.local
        if not hasattr(local, "index"):
            local.index, local.case = 0, None
        step = self.STEPS[local.index]
        method, path, body, headers = self.request(step, local.case)
        status, answer = client.call(method, path, body, headers)
        if status >= 300 or not isinstance(answer, dict):
            local.index, local.case = 0, None  # start again with a new case
            return step, status, None
        if step == "register":
            local.case = answer["id"]
        local.index = (local.index + 1) % len(self.STEPS)
        return step, status, answer.get("position")


class LinliMix(Lifecycle):
    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        tokens = data["tokens"]
        self.auth = {who: {"Authorization": f"Bearer {t}"} for who, t in tokens.items()}

    def request(self, step: str, case: str | None) -> tuple[str, str, Any, dict[str, str]]:
        d = self.data
        if step == "register":
            body = {
                "compound_id": d["compound_id"],
                "source": "household_visit",
                "title": "2号楼电梯停运",
                "description": "电梯自周一起停运，老人上下楼困难",
                "category": "facilities",
            }
            return "POST", "/needs", body, self.auth["grid_worker"]
        path = f"/needs/{case}/{step}"
        if step == "accept":
            return "POST", path, {"priority": "normal"}, self.auth["staff"]
        if step == "assign":
            return "POST", path, {"party_id": d["party_id"]}, self.auth["staff"]
        if step == "acknowledge":
            return "POST", path, None, self.auth["property_company"]
        if step == "resolve":
            return "POST", path, {"outcome": "已更换控制板，电梯恢复运行"}, self.auth["property_company"]
        return "POST", path, {"evaluation": "satisfied"}, self.auth["grid_worker"]


class LinliMixByRole(LinliMix):
    """The same mix, each role's commands on a keep-alive connection of its own,
    as the grid worker's, the staff's and the property company's clients would
    send them: a case's commands go through whichever worker each connection
    reached, so a worker often meets a need that another one saved last."""

    ROLES = {"register": "grid_worker", "accept": "staff", "assign": "staff",
             "acknowledge": "property_company", "resolve": "property_company",
             "evaluate": "grid_worker"}

    def step(self, client: Client) -> tuple[str, int, int | None]:
        local = self.local
        if not hasattr(local, "clients"):
            local.clients = {"grid_worker": client}
        role = self.ROLES[self.STEPS[getattr(local, "index", 0)]]
        if role not in local.clients:
            local.clients[role] = Client(client.host, client.port)
        return super().step(local.clients[role])


class CrudMix(Lifecycle):
    def request(self, step: str, case: str | None) -> tuple[str, str, Any, dict[str, str]]:
        if step == "register":
            body = {
                "compound_id": self.data["compound_id"],
                "source": "household_visit",
                "title": "2号楼电梯停运",
                "description": "电梯自周一起停运，老人上下楼困难",
                "category": "facilities",
            }
            return "POST", "/crud/cases", body, {}
        bodies = {
            "accept": {"priority": "normal"},
            "assign": {"party_id": self.data["party_id"]},
            "acknowledge": {},
            "resolve": {"outcome": "已更换控制板，电梯恢复运行"},
            "evaluate": {"evaluation": "satisfied", "obtained_by": "visit"},
        }
        return "POST", f"/crud/cases/{case}/{step}", bodies[step], {}


class LinliQueries(Workload):
    """A need, a filtered list of needs and a need's history, in turn."""

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.auth = {"Authorization": f"Bearer {data['token']}"}
        self.turn = itertools.count()

    def step(self, client: Client) -> tuple[str, int, int | None]:
        d = self.data
        kind = ("need", "list", "history")[next(self.turn) % 3]
        need = random.choice(d["need_ids"])
        if kind == "need":
            path = f"/needs/{need}"
        elif kind == "history":
            path = f"/needs/{need}/history"
        else:
            path = f"/needs?compound_id={d['compound_id']}&status={d['list_status']}&limit=20"
        status, body = client.call("GET", path, headers=self.auth)
        if status == 200 and kind == "list" and not body.get("items"):
            status = 598  # an empty page would measure nothing
        return kind, status, None


WORKLOADS = {
    "trivial": Trivial,
    "naive_write": NaiveWrite,
    "naive_read": NaiveRead,
    "crud_mix": CrudMix,
    "linli_mix": LinliMix,
    "linli_mix_by_role": LinliMixByRole,
    "linli_queries": LinliQueries,
}


# ----- watching the views, for the projection lag --------------------------------


def views_position_sql(schema: str) -> str:
    """The views' tracking position (whichever process keeps them writes it)."""
    return (
        f'SELECT notification_id FROM "{schema}"."linli_views_tracking" '
        "WHERE application_name = 'Linli'"
    )


class ViewWatcher(threading.Thread):
    """Polls the views' tracking position; remembers when each position was first seen."""

    def __init__(self, pg: dict[str, Any], schema: str, interval: float = 0.005) -> None:
        super().__init__(name="view-watcher", daemon=True)
        import psycopg

        self.conn = psycopg.connect(autocommit=True, connect_timeout=5, **pg)
        self.statement = views_position_sql(schema)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []  # (time, position) whenever it moved
        self.stopping = threading.Event()

    def position(self) -> int:
        row = self.conn.execute(self.statement).fetchone()
        return int(row[0]) if row else 0

    def run(self) -> None:
        last = -1
        while not self.stopping.is_set():
            position = self.position()
            if position != last:
                self.samples.append((time.perf_counter(), position))
                last = position
            self.stopping.wait(self.interval)

    def seen_at(self, position: int) -> float | None:
        """When the views were first seen at ``position`` or beyond (positions only grow);
        call once the watcher has stopped."""
        if not hasattr(self, "_positions"):
            self._positions = [p for _, p in self.samples]
        i = bisect.bisect_left(self._positions, position)
        return self.samples[i][0] if i < len(self.samples) else None


# ----- the run --------------------------------------------------------------------


def run(spec: dict[str, Any]) -> dict[str, Any]:
    url = urlsplit(spec["base_url"])
    host, port = url.hostname or HOST, url.port or 80
    workload = WORKLOADS[spec["workload"]](spec.get("data", {}))
    threads = int(spec.get("threads", 8))
    duration = float(spec.get("duration", 10))
    warmup = float(spec.get("warmup", 1))
    warmup_requests = int(spec.get("warmup_requests", 0))
    budget = int(spec.get("max_requests", 1_000_000)) + warmup_requests
    rate = spec.get("rate")
    watcher = None
    if spec.get("watch"):
        watcher = ViewWatcher(spec["watch"]["pg"], spec["watch"]["schema"])
        watcher.start()

    records: list[list[tuple[float, float, str, int, int | None, int]]] = [[] for _ in range(threads)]
    counter = itertools.count()
    start = time.perf_counter()
    measure_from = start + warmup
    stop_at = measure_from + duration

    def worker(n: int) -> None:
        client = Client(host, port)
        mine = records[n]
        try:
            while True:
                i = next(counter)
                if i >= budget:
                    return
                if rate:
                    planned = start + i / float(rate)
                    if planned >= stop_at:
                        return
                    delay = planned - time.perf_counter()
                    if delay > 0:
                        time.sleep(delay)
                began = time.perf_counter()
                if began >= stop_at:
                    return
                kind, status, position = workload.step(client)
                ended = time.perf_counter()
                mine.append((began, ended, kind, status, position, i))
        finally:
            client.close()

    pool = [threading.Thread(target=worker, args=(n,), daemon=True) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=duration + warmup + 120)
    finished = time.perf_counter()

    measured = [r for rs in records for r in rs if r[0] >= measure_from and r[5] >= warmup_requests]
    if warmup_requests and measured:
        measure_from = min(r[0] for r in measured)
    # From the first measured request to the last answer (requests begun before
    # the stop are counted, so their time is too).
    window = max(min(finished, stop_at) - measure_from, 1e-9)
    if measured:
        window = max(max(r[1] for r in measured) - measure_from, 1e-9)
    ok = [r for r in measured if r[3] < 300]
    statuses = Counter(str(r[3]) for r in measured)
    by_kind: dict[str, list[float]] = defaultdict(list)
    for r in ok:
        by_kind[r[2]].append(r[1] - r[0])
    result: dict[str, Any] = {
        "workload": spec["workload"],
        "threads": threads,
        "target_rate": rate,
        "window_s": window,
        "requests": len(measured),
        "ok": len(ok),
        "errors": len(measured) - len(ok),
        "statuses": dict(statuses),
        "rate": len(ok) / window,
        "latency": summary_ms([r[1] - r[0] for r in ok]),
        "by_kind": {kind: summary_ms(values) for kind, values in sorted(by_kind.items())},
    }
    if spec.get("raw"):
        result["raw_s"] = {kind: values for kind, values in sorted(by_kind.items())}
    if isinstance(workload, NaiveWrite):
        result["created_ids"] = workload.created[:1000]
    if watcher is not None:
        positions = [(r[1], r[4]) for r in ok if r[4] is not None]
        top = max((p for _, p in positions), default=0)
        deadline = time.perf_counter() + 30
        while watcher.samples and watcher.samples[-1][1] < top and time.perf_counter() < deadline:
            time.sleep(0.01)
        watcher.stopping.set()
        watcher.join(timeout=5)
        lags = []
        missing = 0
        for answered, position in sorted(positions):
            seen = watcher.seen_at(position)
            if seen is None:
                missing += 1
                continue
            lags.append(max(0.0, seen - answered))
        result["lag"] = {**summary_ms(lags), "never_seen": missing}
        watcher.conn.close()
    return result


def main() -> int:
    with open(sys.argv[1]) as f:
        spec = json.load(f)
    print(json.dumps(run(spec)))
    return 0


if __name__ == "__main__":
    sys.exit(main())

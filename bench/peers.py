"""The peers Linli is measured against, as one FastAPI app served like Linli.

- ``/trivial``: answers at once; shows the load generator's own ceiling.
- ``/naive/things``: the naive FastAPI + eventsourcing endpoint: each POST
  creates and saves one small aggregate, each GET loads one.
- ``/crud/cases``: the CRUD peer, as a conventional case app does it: each
  command checks and updates the case row and inserts an audit row, in one
  transaction (FastAPI + psycopg).

``python -m uvicorn bench.peers:create_app --factory --workers 2``; the
database comes from ``BENCH_PG`` (JSON: host, port, user, password, dbname).
Tables are made beforehand by ``prepare`` (two workers would race to).
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, ConfigDict, Field

NAIVE_SCHEMA = "naive"
CRUD_SCHEMA = "crud"
POOL_SIZE = 10  # as Linli's default LINLI_POSTGRES_POOL_SIZE


class Thing(Aggregate):
    """A small aggregate: a name, and renames."""

    def __init__(self, name: str) -> None:
        self.name = name

    @event("Renamed")
    def rename(self, name: str) -> None:
        self.name = name


class Things(Application):
    name = "Things"


def things_app(pg: dict[str, Any], schema: str, create_table: bool = False) -> Things:
    return Things(
        {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": pg["dbname"],
            "POSTGRES_HOST": pg["host"],
            "POSTGRES_PORT": str(pg["port"]),
            "POSTGRES_USER": pg["user"],
            "POSTGRES_PASSWORD": pg["password"],
            "POSTGRES_SCHEMA": schema,
            "POSTGRES_POOL_SIZE": str(POOL_SIZE),
            "POSTGRES_MAX_OVERFLOW": "10",
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_PRE_PING": "n",  # the library's default; Linli polls instead (no round trip)
            "CREATE_TABLE": "y" if create_table else "n",
        }
    )


# The CRUD peer's state machine: the same six commands as the need mix.
CRUD_TRANSITIONS = {
    "accept": ("reported", "accepted"),
    "assign": ("accepted", "assigned"),
    "acknowledge": ("assigned", "in_progress"),
    "resolve": ("in_progress", "resolved"),
    "evaluate": ("resolved", "closed"),
}
CRUD_DDL = [
    f"CREATE TABLE IF NOT EXISTS {CRUD_SCHEMA}.cases ("
    "id uuid PRIMARY KEY, compound_id uuid NOT NULL, status text NOT NULL, "
    "version int NOT NULL, title text NOT NULL, description text NOT NULL, "
    "category text NOT NULL, priority text, party_id uuid, outcome text, evaluation text, "
    "reported_at timestamptz NOT NULL, updated_at timestamptz NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS cases_compound ON {CRUD_SCHEMA}.cases (compound_id, status)",
    f"CREATE TABLE IF NOT EXISTS {CRUD_SCHEMA}.audit ("
    "id bigserial PRIMARY KEY, case_id uuid NOT NULL, action text NOT NULL, "
    "actor text NOT NULL, at timestamptz NOT NULL DEFAULT now(), data jsonb NOT NULL)",
    f"CREATE INDEX IF NOT EXISTS audit_case ON {CRUD_SCHEMA}.audit (case_id, id)",
]


def prepare(pg: dict[str, Any]) -> None:
    """Make the peers' schemas and tables, once, before the workers start."""
    import psycopg

    with psycopg.connect(autocommit=True, **pg) as conn:
        for schema in (NAIVE_SCHEMA, CRUD_SCHEMA):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
            conn.execute(f'CREATE SCHEMA "{schema}"')
        for statement in CRUD_DDL:
            conn.execute(statement)
    things_app(pg, NAIVE_SCHEMA, create_table=True).close()


class NewThing(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=200)


class NewCase(BaseModel):
    model_config = ConfigDict(extra="forbid")
    compound_id: UUID
    source: str = Field(min_length=1, max_length=50)
    title: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=5000)
    category: str = "other"


def create_app() -> FastAPI:
    pg = json.loads(os.environ["BENCH_PG"])
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        from psycopg.rows import dict_row
        from psycopg_pool import ConnectionPool

        state["things"] = things_app(pg, NAIVE_SCHEMA)
        pool = ConnectionPool(
            kwargs={**pg, "row_factory": dict_row},
            min_size=2,
            max_size=POOL_SIZE + 10,
            open=True,
        )
        state["pool"] = pool
        try:
            yield
        finally:
            pool.close()
            state["things"].close()

    app = FastAPI(title="Linli bench peers", lifespan=lifespan)

    # ----- the load generator's ceiling --------------------------------------

    @app.get("/trivial")
    async def trivial() -> dict[str, bool]:
        return {"ok": True}

    # ----- naive FastAPI + eventsourcing ----------------------------------------

    @app.post("/naive/things", status_code=201)
    def create_thing(body: NewThing) -> dict[str, Any]:
        thing = Thing(name=body.name)
        recordings = state["things"].save(thing)
        return {"id": str(thing.id), "version": thing.version, "position": recordings[-1].notification.id}

    @app.get("/naive/things/{thing_id}")
    def get_thing(thing_id: UUID) -> dict[str, Any]:
        try:
            thing = state["things"].repository.get(thing_id)
        except AggregateNotFoundError:
            raise HTTPException(404, "thing not found") from None
        return {"id": str(thing.id), "version": thing.version, "name": thing.name}

    # ----- the CRUD peer ----------------------------------------------------------

    @app.post("/crud/cases", status_code=201)
    def create_case(body: NewCase) -> dict[str, Any]:
        case_id = uuid4()
        with state["pool"].connection() as conn, conn.transaction():
            conn.execute(
                f"INSERT INTO {CRUD_SCHEMA}.cases (id, compound_id, status, version, title, "
                "description, category, reported_at, updated_at) "
                "VALUES (%s, %s, 'reported', 1, %s, %s, %s, now(), now())",
                (case_id, body.compound_id, body.title, body.description, body.category),
            )
            conn.execute(
                f"INSERT INTO {CRUD_SCHEMA}.audit (case_id, action, actor, data) "
                "VALUES (%s, 'register', %s, %s)",
                (case_id, "grid_worker", json.dumps(body.model_dump(mode="json"))),
            )
        return {"id": str(case_id), "version": 1}

    @app.post("/crud/cases/{case_id}/{action}")
    def change_case(case_id: UUID, action: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        if action not in CRUD_TRANSITIONS:
            raise HTTPException(404, "no such command")
        before, after = CRUD_TRANSITIONS[action]
        data = body or {}
        with state["pool"].connection() as conn, conn.transaction():
            row = conn.execute(
                f"SELECT status, version FROM {CRUD_SCHEMA}.cases WHERE id = %s FOR UPDATE",
                (case_id,),
            ).fetchone()
            if row is None:
                raise HTTPException(404, "case not found")
            if row["status"] != before:
                raise HTTPException(409, f"cannot {action} a case that is {row['status']}")
            version = row["version"] + 1
            conn.execute(
                f"UPDATE {CRUD_SCHEMA}.cases SET status = %s, version = %s, "
                "priority = COALESCE(%s, priority), party_id = COALESCE(%s, party_id), "
                "outcome = COALESCE(%s, outcome), evaluation = COALESCE(%s, evaluation), "
                "updated_at = now() WHERE id = %s",
                (
                    after,
                    version,
                    data.get("priority"),
                    data.get("party_id"),
                    data.get("outcome"),
                    data.get("evaluation"),
                    case_id,
                ),
            )
            conn.execute(
                f"INSERT INTO {CRUD_SCHEMA}.audit (case_id, action, actor, data) "
                "VALUES (%s, %s, %s, %s)",
                (case_id, action, "staff", json.dumps(data)),
            )
        return {"id": str(case_id), "version": version}

    return app

"""The application's event recorders: the library's own, plus one table.

An idempotency key is written in the same transaction as the events its
command recorded, by extending the recorders' ``_insert_events`` hook (as the
library's own process recorders add tracking records). A replay of the key
then collides on the key's primary key and nothing of it is written; the
first result can be read back, even after a crash right after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from psycopg.sql import SQL, Identifier

IDEMPOTENCY_TABLE = "linli_idempotency"


class SQLiteLinliRecorder(SQLiteApplicationRecorder):
    def construct_create_table_statements(self) -> list[str]:
        return [
            *super().construct_create_table_statements(),
            f"CREATE TABLE IF NOT EXISTS {IDEMPOTENCY_TABLE} ("
            "scope TEXT PRIMARY KEY, request TEXT NOT NULL, aggregate_id TEXT NOT NULL, "
            "version INTEGER NOT NULL, last_id TEXT NOT NULL, last_version INTEGER NOT NULL, "
            "extra TEXT NOT NULL)",
        ]

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._insert_events(c, stored_events, **kwargs)
        key = kwargs.get("idempotency")
        if key is not None:
            c.execute(
                f"INSERT INTO {IDEMPOTENCY_TABLE} VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    key["scope"],
                    key["request"],
                    key["aggregate_id"].hex,
                    key["version"],
                    key["last_id"].hex,
                    key["last_version"],
                    key["extra"],
                ),
            )
        return ids

    def find_idempotent(self, scope: str) -> dict[str, Any] | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT k.request, k.aggregate_id, k.version, k.extra, e.rowid AS position "
                f"FROM {IDEMPOTENCY_TABLE} k JOIN {self.events_table_name} e "
                "ON e.originator_id = k.last_id AND e.originator_version = k.last_version "
                "WHERE k.scope = ?",
                (scope,),
            )
            row = c.fetchone()
        return _found(row)


class PostgresLinliRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        table = Identifier(IDEMPOTENCY_TABLE)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} ("
                "scope text PRIMARY KEY, request text NOT NULL, aggregate_id uuid NOT NULL, "
                "version bigint NOT NULL, last_id uuid NOT NULL, last_version bigint NOT NULL, "
                "extra text NOT NULL)"
            ).format(schema, table)
        )
        self.insert_key_statement = SQL(
            "INSERT INTO {}.{} VALUES (%s, %s, %s, %s, %s, %s, %s) RETURNING scope"
        ).format(schema, table)
        self.find_key_statement = SQL(
            "SELECT k.request, k.aggregate_id, k.version, k.extra, e.notification_id AS position "
            "FROM {}.{} k JOIN {}.{} e "
            "ON e.originator_id = k.last_id AND e.originator_version = k.last_version "
            "WHERE k.scope = %s"
        ).format(schema, table, schema, Identifier(self.events_table_name))

    def _insert_events(self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        key = kwargs.get("idempotency")
        if key is not None:
            curs.execute(
                self.insert_key_statement,
                (
                    key["scope"],
                    key["request"],
                    key["aggregate_id"],
                    key["version"],
                    key["last_id"],
                    key["last_version"],
                    key["extra"],
                ),
            )
            # The library pipelines this insert with the events' own. Fetch its
            # result now, so that a concurrent replay of the key fails here as
            # a unique violation (an IntegrityError, answered from the first
            # result) rather than later as an aborted pipeline, which the
            # library takes for a lost connection and retries into a 503.
            curs.fetchone()
        super()._insert_events(curs, stored_events, **kwargs)

    def find_idempotent(self, scope: str) -> dict[str, Any] | None:
        with self.datastore.transaction(commit=False) as curs:
            curs.execute(self.find_key_statement, (scope,))
            row = curs.fetchone()
        return _found(row)


def _found(row: Any) -> dict[str, Any] | None:
    if row is None:
        return None
    aggregate_id = row["aggregate_id"]
    return {
        "request": row["request"],
        "aggregate_id": aggregate_id if isinstance(aggregate_id, UUID) else UUID(aggregate_id),
        "version": int(row["version"]),
        "extra": json.loads(row["extra"]),
        "position": int(row["position"]),
    }

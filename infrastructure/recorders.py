"""The application's event recorders: the library's own, plus one table.

An idempotency key is written in the same transaction as the events its
command recorded: on SQLite by extending the recorder's ``_insert_events``
hook (as the library's own process recorders add tracking records), on
PostgreSQL by the one statement that saves the events. A replay of the key
then collides on the key's primary key and nothing of it is written; the
first result can be read back, even after a crash right after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.sql import SQL, Identifier

IDEMPOTENCY_TABLE = "linli_idempotency"
KEY_FIELDS = ("scope", "request", "aggregate_id", "version", "last_id", "last_version", "extra")


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
    """The library's recorder, writing a command's events in one statement.

    The library pipelines six statements per save (begin, lock timeout, table
    lock, notify, insert, commit). ``insert_events`` instead calls a function
    that does the same in one round trip: in autocommit one statement is one
    transaction, so the table lock is held, as the library holds it, until
    the commit; the NOTIFY goes out at that commit. The idempotency key, when
    there is one, is inserted by the same function, so in the same transaction.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        keys = Identifier(IDEMPOTENCY_TABLE)
        events = Identifier(self.events_table_name)
        function = Identifier(f"{self.events_table_name}_insert")
        event_type = Identifier(self.stored_event_type_name)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} ("
                "scope text PRIMARY KEY, request text NOT NULL, aggregate_id uuid NOT NULL, "
                "version bigint NOT NULL, last_id uuid NOT NULL, last_version bigint NOT NULL, "
                "extra text NOT NULL)"
            ).format(schema, keys)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "events {schema}.{event_type}[], key_scope text, key_request text, "
                "key_aggregate_id uuid, key_version bigint, key_last_id uuid, "
                "key_last_version bigint, key_extra text) "
                "RETURNS TABLE (notification_id bigint) LANGUAGE plpgsql AS $body$ "
                "BEGIN "
                "IF cardinality(events) > 0 THEN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; "
                "NOTIFY {channel}; "
                "END IF; "
                "IF key_scope IS NOT NULL THEN "
                "INSERT INTO {schema}.{keys} VALUES (key_scope, key_request, "
                "key_aggregate_id, key_version, key_last_id, key_last_version, key_extra); "
                "END IF; "
                "RETURN QUERY INSERT INTO {schema}.{events} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT e.originator_id, e.originator_version, e.topic, e.state "
                "FROM unnest(events) AS e RETURNING t.notification_id; "
                "END $body$"
            ).format(
                schema=schema,
                function=function,
                event_type=event_type,
                lock_timeout=self.datastore.lock_timeout,
                events=events,
                channel=Identifier(self.channel_name),
                keys=keys,
            )
        )
        self.insert_statement = SQL(
            "SELECT notification_id FROM {}.{}(%s::{}.{}[], %s, %s, %s, %s, %s, %s, %s)"
        ).format(schema, function, schema, event_type)
        self.find_key_statement = SQL(
            "SELECT k.request, k.aggregate_id, k.version, k.extra, e.notification_id AS position "
            "FROM {}.{} k JOIN {}.{} e "
            "ON e.originator_id = k.last_id AND e.originator_version = k.last_version "
            "WHERE k.scope = %s"
        ).format(schema, keys, schema, events)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.insert_statement, self.insert_arguments(stored_events, **kwargs))
            return [row["notification_id"] for row in curs.fetchall()]

    def insert_arguments(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> tuple[Any, ...]:
        """The arguments of ``insert_statement``: the events, then the key's fields."""
        key = kwargs.get("idempotency") or {}
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        return (events, *(key.get(name) for name in KEY_FIELDS))

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

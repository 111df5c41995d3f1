"""The application's event recorders: the library's own, plus one table.

An idempotency key is written in the same transaction as the events its
command recorded: on SQLite by extending the recorder's ``_insert_events``
hook (as the library's own process recorders add tracking records), on
PostgreSQL by the one statement that saves the events. A replay of the key
then collides on the key's primary key and nothing of it is written; the
first result can be read back, even after a crash right after the commit.

On PostgreSQL every save holds the events table's lock until its commit is
flushed, so saves take turns. Saves that arrive while another is being
written wait and then go together, in one statement (``GroupCommit``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import retry
from psycopg.rows import tuple_row
from psycopg.sql import SQL, Composed, Identifier, Literal

IDEMPOTENCY_TABLE = "linli_idempotency"
KEY_FIELDS = ("scope", "request", "aggregate_id", "version", "last_id", "last_version", "extra")
# The longest payload the save's NOTIFY carries: PostgreSQL refuses one of
# 8000 bytes or more, and with it the save. About 190 aggregates fit.
NOTIFY_PAYLOAD_LIMIT = 7900


def changed_aggregates(payload: str) -> list[tuple[UUID, int]] | None:
    """The aggregates a save's notification names, each with the last version
    saved (``"id:version,id:version"``); None when it names none (a save of
    more than a notification holds), or when it cannot be read."""
    if not payload:
        return None
    try:
        return [(UUID(i), int(v)) for i, _, v in (part.partition(":") for part in payload.split(","))]
    except ValueError:
        return None


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


class Insert:
    """One save's events and its idempotency key (or None), waiting to be written."""

    __slots__ = ("events", "key", "ids", "error", "done", "leads")

    def __init__(self, events: Sequence[StoredEvent], key: dict[str, Any] | None) -> None:
        self.events = events
        self.key = key
        self.ids: list[int] = []
        self.error: BaseException | None = OperationalError("the save was not written")
        self.done = threading.Event()
        self.leads = False  # woken to write the next group, not with its result

    def result(self) -> list[int]:
        if self.error is not None:
            raise self.error
        return self.ids


class GroupCommit:
    """Saves of one process that arrive while another is being written go
    together, as one transaction, when it is done.

    The events table is locked from each save's insert until its commit is
    flushed to disk, so saves take turns whatever the number of threads.
    Here a save that finds none being written writes at once; those that
    arrive meanwhile queue, and the first of them then writes all that
    queued (up to ``most``) with one call of ``write``. Alone, a save waits
    for nothing. A group is all or nothing, so when one of its saves
    clashes (a version, an idempotency key) each is written again alone:
    only the clashing one fails, as it would have alone. Any other error is
    every save's of the group, as it would have been alone.
    """

    def __init__(self, write: Callable[[list[Insert]], list[int]], most: int = 100) -> None:
        self._write = write
        self._most = most
        self._lock = threading.Lock()
        self._queue: list[Insert] = []
        self._writing = False

    def queued(self) -> int:
        """How many saves wait to be written."""
        with self._lock:
            return len(self._queue)

    def insert(self, events: Sequence[StoredEvent], key: dict[str, Any] | None) -> list[int]:
        """Write ``events`` (and ``key``), alone or with others; their ids, in order."""
        mine = Insert(events, key)
        with self._lock:
            self._queue.append(mine)
            leads = not self._writing
            self._writing = True
        if not leads:
            mine.done.wait()
            if not mine.leads:
                return mine.result()
        with self._lock:  # the queue starts with this save: only a leader takes from it
            group, self._queue = self._queue[: self._most], self._queue[self._most :]
        try:
            self._write_group(group)
        finally:
            with self._lock:
                if self._queue:
                    self._queue[0].leads = True
                    self._queue[0].done.set()
                else:
                    self._writing = False
        return mine.result()

    def _write_group(self, group: list[Insert]) -> None:
        try:
            error = self._write_all(group)
            if isinstance(error, IntegrityError) and len(group) > 1:
                for one in group:
                    self._write_all([one])
        finally:
            for one in group:
                one.done.set()

    def _write_all(self, group: list[Insert]) -> Exception | None:
        """Write ``group`` in one call; each save gets its ids, or the error,
        which is returned."""
        try:
            ids = self._write(group)
        except Exception as error:
            for one in group:
                one.error = error if len(group) == 1 else _fresh(error)
            return error
        start = 0
        for one in group:
            one.ids = ids[start : start + len(one.events)]
            one.error = None
            start += len(one.events)
        return None


def _fresh(error: Exception) -> Exception:
    """An exception like ``error`` for another thread to raise (a traceback each)."""
    try:
        copy = type(error)(*error.args)
    except Exception:
        return error
    copy.__cause__ = error
    return copy


class PostgresLinliRecorder(PostgresApplicationRecorder):
    """The library's recorder, writing a command's events in one statement.

    The library pipelines six statements per save (begin, lock timeout, table
    lock, notify, insert, commit). ``insert_events`` instead calls a function
    that does the same in one round trip: in autocommit one statement is one
    transaction, so the table lock is held, as the library holds it, until
    the commit; the NOTIFY goes out at that commit. The idempotency keys, if
    any, are inserted by the same function, so in the same transaction.
    Saves made while another is being written go together in one such call
    (``GroupCommit``): the order of the log is still the order of commits.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        schema = Identifier(self.datastore.schema)
        keys = Identifier(IDEMPOTENCY_TABLE)
        events = Identifier(self.events_table_name)
        function = Identifier(f"{self.events_table_name}_insert")
        event_type = Identifier(self.stored_event_type_name)
        id_type = Identifier(self.datastore.originator_id_type)
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {}.{} ("
                "scope text PRIMARY KEY, request text NOT NULL, aggregate_id uuid NOT NULL, "
                "version bigint NOT NULL, last_id uuid NOT NULL, last_version bigint NOT NULL, "
                "extra text NOT NULL)"
            ).format(schema, keys)
        )
        # The functions of earlier versions took the events as an array of the
        # library's composite type, and at first one key, not arrays of them.
        self.sql_create_statements.append(
            SQL(
                "DROP FUNCTION IF EXISTS {}.{}({}.{}[], text, text, uuid, bigint, uuid, bigint, text)"
            ).format(schema, function, schema, event_type)
        )
        self.sql_create_statements.append(
            SQL(
                "DROP FUNCTION IF EXISTS {}.{}({}.{}[], text[], text[], uuid[], bigint[], uuid[], "
                "bigint[], text[])"
            ).format(schema, function, schema, event_type)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}("
                "ids {id_type}[], versions bigint[], topics text[], states bytea[], "
                "key_scope text[], key_request text[], "
                "key_aggregate_id uuid[], key_version bigint[], key_last_id uuid[], "
                "key_last_version bigint[], key_extra text[]) "
                "RETURNS TABLE (notification_id bigint) LANGUAGE plpgsql AS $body$ "
                "DECLARE changed text; "
                "BEGIN "
                "IF cardinality(ids) > 0 THEN "
                "SET LOCAL lock_timeout = '{lock_timeout}s'; "
                "LOCK TABLE {schema}.{events} IN EXCLUSIVE MODE; "
                # The notification names each aggregate saved and its last
                # version (``changed_aggregates``); empty when they would not
                # fit in one (PostgreSQL's limit is 8000 bytes).
                "SELECT string_agg(i::text || ':' || v::text, ',') INTO changed "
                "FROM (SELECT i, max(v) AS v FROM unnest(ids, versions) AS u(i, v) GROUP BY i) AS s; "
                "IF length(changed) > {payload_limit} THEN changed := ''; END IF; "
                "PERFORM pg_notify({channel}, changed); "
                "END IF; "
                "IF cardinality(key_scope) > 0 THEN "
                "INSERT INTO {schema}.{keys} SELECT * FROM unnest(key_scope, key_request, "
                "key_aggregate_id, key_version, key_last_id, key_last_version, key_extra); "
                "END IF; "
                "RETURN QUERY INSERT INTO {schema}.{events} AS t "
                "(originator_id, originator_version, topic, state) "
                "SELECT * FROM unnest(ids, versions, topics, states) "
                "RETURNING t.notification_id; "
                "END $body$"
            ).format(
                schema=schema,
                function=function,
                id_type=id_type,
                lock_timeout=self.datastore.lock_timeout,
                events=events,
                channel=Literal(self.channel_name),
                payload_limit=Literal(NOTIFY_PAYLOAD_LIMIT),
                keys=keys,
            )
        )
        # The statements as text, composed and quoted once rather than per call.
        # The arguments go in binary: the events' states as they are, not
        # escaped as text, then quoted as fields of a row, then of an array.
        self.insert_statement = SQL(
            "SELECT notification_id FROM {}.{}(%b::{}[], %b::bigint[], %b::text[], %b::bytea[], "
            "%b::text[], %b::text[], %b::uuid[], %b::bigint[], %b::uuid[], %b::bigint[], %b::text[])"
        ).format(schema, function, id_type).as_string()
        self.find_key_statement = SQL(
            "SELECT k.request, k.aggregate_id, k.version, k.extra, e.notification_id AS position "
            "FROM {}.{} k JOIN {}.{} e "
            "ON e.originator_id = k.last_id AND e.originator_version = k.last_version "
            "WHERE k.scope = %s"
        ).format(schema, keys, schema, events).as_string()
        self.group_commit = GroupCommit(self.write_together)
        self._select_texts: dict[tuple[bool, bool, bool, bool], str] = {}

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        """The library's query (``PostgresAggregateRecorder.select_events``),
        its columns named, each shape of it composed once: composing it per
        call took about a third of the Python time of loading an aggregate."""
        shape = (gt is not None, lte is not None, desc, limit is not None)
        text = self._select_texts.get(shape)
        if text is None:
            text = self._select_texts[shape] = self._select_statement(*shape).as_string()
        params = [originator_id, *(value for value in (gt, lte, limit) if value is not None)]
        # Binary, so that no bytea is unescaped; rows as tuples, in the order
        # of StoredEvent's fields, so that no dict is made per row.
        with self.datastore.get_connection() as conn, conn.cursor(
            binary=True, row_factory=tuple_row
        ) as curs:
            curs.execute(text, params, prepare=True)
            return [StoredEvent(*row) for row in curs.fetchall()]

    def _select_statement(self, gt: bool, lte: bool, desc: bool, limit: bool) -> Composed:
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state FROM {}.{} "
            "WHERE originator_id = %s"
        ).format(Identifier(self.datastore.schema), Identifier(self.events_table_name))
        if gt:
            statement += SQL(" AND originator_version > %s")
        if lte:
            statement += SQL(" AND originator_version <= %s")
        statement += SQL(" ORDER BY originator_version") + SQL(" DESC" if desc else " ASC")
        if limit:
            statement += SQL(" LIMIT %s")
        return statement

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        key = kwargs.get("idempotency")
        if not stored_events and key is None:
            return []
        return self.group_commit.insert(stored_events, key)

    def write_together(self, group: list[Insert]) -> list[int]:
        """Write the saves of ``group`` in one transaction; their ids, in order."""
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(self.insert_statement, self.insert_arguments(group))
            return [row["notification_id"] for row in curs.fetchall()]

    def insert_arguments(self, group: Sequence[Insert]) -> tuple[Any, ...]:
        """The arguments of ``insert_statement``: the events' fields, then the keys'."""
        events = [e for one in group for e in one.events]
        keys = [one.key for one in group if one.key is not None]
        return (
            [e.originator_id for e in events],
            [e.originator_version for e in events],
            [e.topic for e in events],
            [e.state for e in events],
            # No keys is NULL arrays (their cardinality is NULL, not > 0):
            # cheaper to send than seven empty ones.
            *(([key[name] for key in keys] if keys else None) for name in KEY_FIELDS),
        )

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

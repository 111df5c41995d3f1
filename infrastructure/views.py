"""The view tables of the read side, on SQLite and on PostgreSQL.

The view classes extend the library's own tracking recorders, so that view
rows and the tracking position are written in one transaction of the same
datastore; a position that does not advance raises ``IntegrityError`` and
the whole batch is rolled back. The SQL is written once, in the dialect both
stores share (``INSERT ... ON CONFLICT``); only placeholders and schema
qualification differ.

A case's audit trail is stored as the log positions of its events (its own,
and others' that concern it); each entry is rendered from its event when the
trail is read, as ``history_entry`` renders it. The trail therefore cannot
say anything the log does not, a better summary template applies to every
entry, and catching up writes three short columns per entry, not a document.
"""

from __future__ import annotations

import itertools
import logging
import json
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID

import orjson
import psycopg
from eventsourcing.persistence import Notification, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from eventsourcing.sqlite import SQLiteDatastore, SQLiteTrackingRecorder, SQLiteTransaction
from eventsourcing.utils import get_topic
from psycopg.rows import tuple_row

import application.projections  # noqa: F401 - registers the case types
from application.readmodel import CASE_TYPES, Row, case_type_of, history_entry, utc_text, uuid_text
from application.summaries import (
    DEFAULT_TIMEZONE,
    Ask,
    Facts,
    Names,
    answers,
    assignment_history,
    facts_of,
    wanted,
)
from domain.erasure import Erasure
from domain.need import Need
from infrastructure.read_replicas import NotServed, read_at_least, views_at_least

if TYPE_CHECKING:
    from infrastructure.read_replicas import ReadReplicas

log = logging.getLogger(__name__)
_T = TypeVar("_T")

OPEN_WITH_DEADLINES = ("accepted", "assigned", "in_progress", "escalated")

# Columns of need_view besides the JSON document, for filtering and ordering.
NEED_COLUMNS = (
    "id",
    "compound_id",
    "status",
    "category",
    "priority",
    "assigned_party_id",
    "reporter_id",
    "reporter_role",
    "household_id",
    "reported_at",
    "respond_due",
    "resolve_due",
    "responded_at",
    "commitment_id",
    "consultation_id",
    "registered_position",
    "offer_id",
    "raised_by_party_id",
    "accepted_at",
)
# Columns added to need_view after its first release: added to a table
# created before them when the views open (their rows hold none yet, except
# those filled from the documents, ``BACKFILLED``).
ADDED_NEED_COLUMNS = ("offer_id", "raised_by_party_id", "accepted_at")
# The figures find a month's needs by when they were accepted: the column
# is filled from the rows' documents when it is added.
BACKFILLED = ("accepted_at",)
VIEW_TABLES = ("need_view", "case_view", "case_history")
TABLES = (*VIEW_TABLES, "credentials", "persons", "console_sessions", "person_keys")
INDEXES = {
    "need_view": (
        "compound",
        "position",
        "party",
        "reporter",
        "household",
        "commitment",
        "offer",
        "raiser",
        "accepted",
        "compound_accepted",
    ),
    "case_view": ("type", "period"),
}


@dataclass(frozen=True)
class EventLog:
    """The application's log, as the views read it to render a trail: its
    events table (in the views' own datastore) and the mapper's decoder;
    ``erased(person_id)`` tells the decoder that a person's key is gone."""

    events_table: str
    decode: Callable[[Notification], Any]
    erased: Callable[[str], None] = lambda person_id: None


# A partition's tracking row is named after the views' own, with this and "k/n".
PARTITION_MARK = "#"
# Events every partition reads: an erasure draws again rows of every case.
TO_EVERY_PARTITION = (get_topic(Erasure.Recorded),)


class CatchUpUnfinished(Exception):
    """Partitions of a catch-up (infrastructure/partitions.py) are ahead of the
    views' position: that catch-up stopped half way and must be finished
    before anything else is applied."""

    def __init__(self, position: int, partitions: int) -> None:
        super().__init__(f"the views are at {position}, partitions of a catch-up at up to {partitions}")
        self.position = position
        self.partitions = partitions


class PositionMoved(Exception):
    """The views' stored position is not where this writer expected it (another
    writer, or a rebuild that was swapped in): re-read it and go on from there."""

    def __init__(self, stored: int) -> None:
        super().__init__(f"the views are at position {stored}")
        self.stored = stored


class LinliViews:
    """Case views, audit trails, and the registries of persons, credentials and
    console sessions, in one datastore. The registries are not views: nothing
    rebuilds them from the log, and a rebuild leaves them alone."""

    datastore: Any
    log: EventLog
    placeholder = "?"
    big_int = "INTEGER"
    suffix = ""  # "_next" for the tables a rebuild fills beside the live ones
    # (k, n): only the cases of partition k of n are this object's to write
    # (infrastructure/partitions.py); None: every case.
    partition: tuple[int, int] | None = None

    def table(self, name: str) -> str:
        return name + self.suffix if name in VIEW_TABLES else name

    def tracking_name(self, application_name: str) -> str:
        return application_name + self.suffix

    def sql(self, text: str) -> str:
        """Write ``{table}`` for tables, ``{sfx}`` in index names and ``?`` for parameters."""
        tables = {name: self.table(name) for name in TABLES}
        text = text.format(**tables, sfx=self.suffix)
        return text.replace("?", self.placeholder) if self.placeholder != "?" else text

    def view_ddl(self) -> list[str]:
        b = self.big_int
        return [
            "CREATE TABLE IF NOT EXISTS {need_view} ("
            "id TEXT PRIMARY KEY, compound_id TEXT NOT NULL, status TEXT NOT NULL, "
            "category TEXT NOT NULL, priority TEXT, assigned_party_id TEXT, "
            "reporter_id TEXT NOT NULL, reporter_role TEXT NOT NULL, household_id TEXT, "
            "reported_at TEXT NOT NULL, "
            "respond_due TEXT, "
            "resolve_due TEXT, responded_at TEXT, commitment_id TEXT, consultation_id TEXT, "
            f"registered_position {b} NOT NULL, doc TEXT NOT NULL, "
            "offer_id TEXT, raised_by_party_id TEXT, accepted_at TEXT)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_compound "
            "ON {need_view} (compound_id, registered_position)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_position ON {need_view} (registered_position)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_party "
            "ON {need_view} (assigned_party_id, registered_position)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_reporter "
            "ON {need_view} (reporter_id, registered_position)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_household "
            "ON {need_view} (household_id, registered_position)",
            "CREATE TABLE IF NOT EXISTS {case_history} ("
            f"case_id TEXT NOT NULL, position {b} NOT NULL, case_type TEXT NOT NULL, "
            "PRIMARY KEY (case_id, position))",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_commitment ON {need_view} (commitment_id)",
            "CREATE TABLE IF NOT EXISTS {case_view} ("
            "id TEXT PRIMARY KEY, case_type TEXT NOT NULL, compound_id TEXT, status TEXT, "
            f"period TEXT, first_position {b} NOT NULL, doc TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS case_view{sfx}_type "
            "ON {case_view} (case_type, compound_id, first_position)",
            "CREATE INDEX IF NOT EXISTS case_view{sfx}_period ON {case_view} (case_type, period)",
            "CREATE TABLE IF NOT EXISTS {credentials} ("
            "token_hash TEXT PRIMARY KEY, actor_id TEXT NOT NULL, role TEXT NOT NULL, "
            "doc TEXT NOT NULL, created_at TEXT NOT NULL, revoked_at TEXT)",
            # Persons (infrastructure/people.py): ``id`` is what events record as
            # who acted; the name is only for display. ``owner_key`` (a phone or
            # property certificate number) finds an owner again on a re-import.
            "CREATE TABLE IF NOT EXISTS {persons} ("
            "id TEXT PRIMARY KEY, display_name TEXT NOT NULL, owner_key TEXT UNIQUE, "
            "legacy INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, created_by TEXT NOT NULL)",
            # The console's server-side sessions: only a hash of the cookie's
            # session id is stored; a session lives while its credential does.
            "CREATE TABLE IF NOT EXISTS {console_sessions} ("
            "session_hash TEXT PRIMARY KEY, token_hash TEXT NOT NULL, "
            "created_at TEXT NOT NULL, last_seen_at TEXT NOT NULL)",
            "CREATE INDEX IF NOT EXISTS console_sessions_token ON {console_sessions} (token_hash)",
            # Each person's key for their personal data in the log
            # (infrastructure/personal_data.py); ``key_hex`` is NULL once erased.
            "CREATE TABLE IF NOT EXISTS {person_keys} ("
            "person_id TEXT PRIMARY KEY, key_hex TEXT, created_at TEXT NOT NULL, "
            "erased_at TEXT, erased_by TEXT)",
        ]

    def added_ddl(self) -> list[str]:
        """Indexes on the columns added after the first release."""
        return [
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_offer ON {need_view} (offer_id)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_raiser "
            "ON {need_view} (raised_by_party_id, registered_position)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_accepted ON {need_view} (accepted_at)",
            "CREATE INDEX IF NOT EXISTS need_view{sfx}_compound_accepted "
            "ON {need_view} (compound_id, accepted_at)",
        ]

    def create_view_tables(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in self.view_ddl():
                c.execute(self.sql(statement))
            need_view = self.table("need_view")
            for column in ADDED_NEED_COLUMNS:
                if not self.has_column(c, need_view, column):
                    c.execute(self.sql(f"ALTER TABLE {{need_view}} ADD COLUMN {column} TEXT"))
                    if column in BACKFILLED:
                        c.execute(
                            self.sql(f"UPDATE {{need_view}} SET {column} = {self.doc_field(column)}")
                        )
            for statement in self.added_ddl():
                c.execute(self.sql(statement))
            # Trails were once stored rendered: the positions they hold are
            # all a trail needs now, so the documents go (nothing is lost).
            if self.has_column(c, self.table("case_history"), "doc"):
                c.execute(self.sql("ALTER TABLE {case_history} DROP COLUMN doc"))

    def has_column(self, c: Any, table: str, column: str) -> bool:
        raise NotImplementedError

    def reclaim_erased_space(self) -> None:
        """Make the store let go of destroyed keys' old bytes where it can."""

    def gather_statistics(self) -> None:
        """Have the store's planner look at the view tables as they are now (a
        rebuild's, before they replace the live ones): PostgreSQL picks its plans
        by them, and with a new table's, read when it was nearly empty, scans a
        whole table where an index serves (4 against 180 ms for the lists'
        needs in /stats at 2 M events). SQLite plans without them."""

    def overwrite_freed(self, c: Any) -> None:
        """Within a transaction that destroys a key: have what it frees overwritten."""

    @contextmanager
    def reading(self) -> Iterator[Any]:
        """A read-only transaction on the views' own datastore (the primary):
        for the registries, and whatever must not read a replica."""
        with self.datastore.transaction(commit=False) as c:
            yield c

    # Where the views' queries may go besides (infrastructure/read_replicas.py,
    # set by ``build_services`` when LINLI_POSTGRES_READ_HOSTS names some).
    replicas: ReadReplicas | None = None

    def _viewed(self, query: Callable[[Any], _T]) -> _T:
        """``query(cursor)``, a read of the views alone, in one read-only
        transaction: on a replica when one may answer it, else (and when the
        replica fails it) on the primary, as ``reading`` does."""
        replicas = self.replicas
        if replicas is not None:
            try:
                return replicas.read(query)
            except NotServed:
                pass
        with self.reading() as c:
            return query(c)

    @contextmanager
    def writing(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as c:
            yield c

    # ----- writing the views --------------------------------------------

    def process_batch(
        self,
        items: Sequence[tuple[Any, int]],
        tracking: Tracking,
        expected_position: int | None = None,
        meanwhile: Callable[[], None] | None = None,
    ) -> None:
        """Apply events (with their log positions) and record ``tracking``, atomically.

        With ``expected_position``, first lock the tracking row and check the
        views are still there (before anything is written); else raise ``PositionMoved``.
        ``meanwhile`` is called once the batch's rows are sent and before its
        end is waited for: on PostgreSQL the server is still storing them then.
        """
        with self.writing() as c, self._pipelined(c):
            self._begin_batch(c)
            check = None
            if expected_position is not None:
                stored = self._lock_position_later(c, tracking.application_name)

                def check() -> None:
                    if (position := stored()) != expected_position:
                        raise PositionMoved(position)

            self._apply(c, items, check)
            if meanwhile is not None:
                meanwhile()
            self._insert_tracking(self._cursor(c), tracking)  # type: ignore[attr-defined]

    # Whether the server stores a batch's rows while ``process_batch`` waits
    # for its end, so that work given as ``meanwhile`` runs beside it.
    stores_while_waiting = False

    def _pipelined(self, c: Any) -> Any:
        """Where the statements of a batch go without waiting for each one's answer."""
        return nullcontext()

    def _cursor(self, c: Any) -> Any:
        """A cursor for a statement whose answer is read apart from the others'."""
        return c

    def _begin_batch(self, c: Any) -> None:
        """Settings for the transaction of one batch."""

    def _lock_position_later(self, c: Any, tracking_name: str) -> Callable[[], int]:
        """Lock the tracking row; the stored position comes from the function
        returned (on PostgreSQL, with the answers to the batch's first reads)."""
        stored = self.lock_position(c, tracking_name)
        return lambda: stored

    def lock_position(self, c: Any, tracking_name: str) -> int:
        """The stored position, with the tracking row locked until the transaction ends."""
        table = self.tracking_table()
        c.execute(
            self.sql(
                f"UPDATE {table} SET notification_id = notification_id "
                "WHERE application_name = ?"
            ),
            [tracking_name],
        )
        c.execute(
            self.sql(f"SELECT notification_id FROM {table} WHERE application_name = ?"),
            [tracking_name],
        )
        row = c.fetchone()
        return int(row["notification_id"]) if row else 0

    def tracking_table(self) -> str:
        return "tracking"

    def events_table(self, name: str) -> tuple[str, str]:
        """The application's events table and its notification id column."""
        return name, "rowid"

    def notifications_in(
        self, c: Any, events_table: str, start: int, stop: int, limit: int
    ) -> list[Notification]:
        """Read the log within the open transaction ``c``, as the library's
        ``select_notifications`` does; used where taking a second connection
        from the pool while holding the writer would deadlock."""
        table, column = self.events_table(events_table)
        c.execute(
            self.sql(
                f"SELECT {column} AS id, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE {column} >= ? AND {column} <= ? ORDER BY {column} LIMIT ?"
            ),
            [start, stop, limit],
        )
        return [_notification(row) for row in c.fetchall()]

    def max_notification_in(self, c: Any, events_table: str) -> int:
        table, column = self.events_table(events_table)
        c.execute(self.sql(f"SELECT MAX({column}) AS top FROM {table}"))
        row = c.fetchone()
        return int(row["top"] or 0)

    def apply(self, c: Any, items: Sequence[tuple[Any, int]]) -> None:
        """Apply events to the view rows within the open transaction ``c``."""
        with self._pipelined(c):
            self._apply(c, items, None)

    def _apply(
        self, c: Any, items: Sequence[tuple[Any, int]], check: Callable[[], None] | None
    ) -> None:
        """Read the rows of the batch's cases that exist already (``check`` runs
        then, before the first write), then work out the rows and the trail
        event by event. A need's row goes out as soon as the batch has no more
        events for it, its trail entries at once."""
        typed = []
        lookup: dict[str, list[str]] = {"need_view": [], "case_view": []}
        last: dict[str, int] = {}  # where each case's last event in the batch is
        erased: list[str] = []
        share = self.partition
        for event, position in items:
            case_type = case_type_of(event)
            if case_type is None:
                continue
            if case_type.name == "erasure":
                erased.append(event.person_id)
            if share is not None and event.originator_id.bytes[15] % share[1] != share[0]:
                continue  # another partition's case (an erasure comes to every one)
            key = uuid_text(event.originator_id)
            if key not in last and event.originator_version != 1:
                # (A case whose first event here is its first of all has no row yet.)
                lookup["need_view" if case_type.name == "need" else "case_view"].append(key)
            last[key] = len(typed)
            typed.append((event, position, case_type, key))
        found = self._docs_of(c, lookup)
        if check is not None:
            check()
        needs, cases = found["need_view"], found["case_view"]
        with self._trail(c) as add, self._need_rows(c) as put:
            for i, (event, position, case_type, key) in enumerate(typed):
                name = case_type.name
                rows = needs if name == "need" else cases
                previous = rows.get(key)
                row = case_type.project(previous, event, position)
                row.setdefault("case_type", name)
                row["first_position"] = previous["first_position"] if previous else position
                rows[key] = row
                add((key, position, name))
                for other in case_type.related(event, row):
                    add((other, position, name))
                if rows is needs and last[key] == i:
                    put(row)
        self._write_cases(c, cases)
        if erased:
            upto = items[-1][1]
            for person_id in erased:
                self._draw_again_without(c, person_id, upto)

    def _draw_again_without(self, c: Any, person_id: str, upto: int) -> None:
        """After a person's erasure: draw every case row that may hold their
        personal data again from its events up to ``upto`` (the batch's
        last position), which now read without it. A row may hold it where
        its document names the person (as subject, speaker or owner); a row
        drawn again that held none comes out the same."""
        self.log.erased(person_id)
        pattern = "%" + _like_escaped(orjson.dumps(person_id).decode()) + "%"
        table, column = self.events_table(self.log.events_table)
        for view in ("need_view", "case_view"):
            cursor = self._cursor(c)
            cursor.execute(
                self.sql(f"SELECT id, doc FROM {{{view}}} WHERE doc LIKE ? ESCAPE '!'"), [pattern]
            )
            found = [
                (row["id"], _load(row["doc"])["case_type"])
                for row in cursor.fetchall()
                if self.partition is None
                or UUID(row["id"]).bytes[15] % self.partition[1] == self.partition[0]
            ]
            rows: dict[str, Row] = {}
            for case_id, name in found:
                case_type = next(t for t in CASE_TYPES if t.name == name)
                cursor = self._cursor(c)
                cursor.execute(
                    self.sql(
                        f"SELECT {column} AS id, originator_id, originator_version, topic, state "
                        f"FROM {table} WHERE originator_id = ? AND {column} <= ? "
                        "ORDER BY originator_version"
                    ),
                    [self._originator_ids([case_id])[0], upto],
                )
                row: Row | None = None
                for stored in cursor.fetchall():
                    previous = row
                    row = case_type.project(previous, self.log.decode(_notification(stored)), stored["id"])
                    row.setdefault("case_type", name)
                    row["first_position"] = previous["first_position"] if previous else stored["id"]
                if row is not None:
                    rows[case_id] = row
            if view == "need_view":
                with self._need_rows(c) as put:
                    for row in rows.values():
                        put(row)
            else:
                self._write_cases(c, rows)

    @contextmanager
    def _trail(self, c: Any) -> Iterator[Callable[[tuple[str, int, str]], None]]:
        """Where the batch's trail entries go: here, inserted at the end."""
        history: list[tuple[str, int, str]] = []
        yield history.append
        if history:
            c.executemany(
                self.sql(
                    "INSERT INTO {case_history} (case_id, position, case_type) VALUES (?, ?, ?)"
                ),
                history,
            )

    def _docs_of(self, c: Any, ids: dict[str, list[str]]) -> dict[str, dict[str, Row]]:
        """By table, the documents of the rows with these ids (those there are).
        Where the store allows, every query is sent before the first answer is read."""
        pending = []
        for table, keys in ids.items():
            unique = sorted(set(keys))
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                marks = ",".join("?" * len(chunk))
                cursor = self._cursor(c)
                cursor.execute(
                    self.sql(f"SELECT id, doc FROM {{{table}}} WHERE id IN ({marks})"), chunk
                )
                # One cursor for all: read each answer before the next query.
                pending.append((table, cursor.fetchall() if cursor is c else cursor))
        found: dict[str, dict[str, Row]] = {table: {} for table in ids}
        for table, answer in pending:
            rows = answer if isinstance(answer, list) else answer.fetchall()
            for row in rows:
                found[table][row["id"]] = _load(row["doc"])
        return found

    @contextmanager
    def _need_rows(self, c: Any) -> Iterator[Callable[[Row], None]]:
        """Where the batch's need rows go, each once and final: here, upserted at the end."""
        needs: list[Row] = []
        yield needs.append
        if needs:
            columns = ", ".join((*NEED_COLUMNS, "doc"))
            marks = ", ".join("?" * (len(NEED_COLUMNS) + 1))
            updates = ", ".join(f"{col} = excluded.{col}" for col in (*NEED_COLUMNS[1:], "doc"))
            c.executemany(
                self.sql(
                    f"INSERT INTO {{need_view}} ({columns}) VALUES ({marks}) "
                    f"ON CONFLICT (id) DO UPDATE SET {updates}"
                ),
                [(*(row.get(col) for col in NEED_COLUMNS), _dump(row)) for row in needs],
            )

    def _write_cases(self, c: Any, cases: dict[str, Row]) -> None:
        """Upsert the batch's rows of the other case types."""
        if cases:
            c.executemany(
                self.sql(
                    "INSERT INTO {case_view} (id, case_type, compound_id, status, period, "
                    "first_position, doc) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE "
                    "SET compound_id = excluded.compound_id, status = excluded.status, "
                    "period = excluded.period, doc = excluded.doc"
                ),
                [
                    (
                        key,
                        row["case_type"],
                        row.get("compound_id"),
                        row.get("status"),
                        row.get("period"),
                        row["first_position"],
                        _dump(row),
                    )
                    for key, row in cases.items()
                ],
            )

    # ----- reading the views ----------------------------------------------

    def doc_field(self, name: str) -> str:
        """SQL for the text of a view document's top-level field ``name``."""
        return f"json_extract(doc, '$.{name}')"

    def need(self, need_id: str) -> Row | None:
        def query(c: Any) -> Any:
            c.execute(self.sql("SELECT doc FROM {need_view} WHERE id = ?"), [need_id])
            return c.fetchone()

        row = self._viewed(query)
        return _load(row["doc"]) if row else None

    def needs(
        self,
        *,
        now: datetime,
        limit: int,
        cursor: int | None = None,
        compound_ids: list[str] | None = None,
        reporter_id: str | None = None,
        household_id: str | None = None,
        assigned_party_id: str | None = None,
        own_party_id: str | None = None,
        raised_by_party_id: str | None = None,
        toward: str | None = None,
        status: list[str] | None = None,
        category: list[str] | None = None,
        priority: list[str] | None = None,
        overdue: bool | None = None,
        reported_from: str | None = None,
        reported_to: str | None = None,
        accepted_from: str | None = None,
        accepted_to: str | None = None,
        disputed: bool | None = None,
        keyword: str | None = None,
    ) -> tuple[list[Row], int | None]:
        """A page of needs, newest first, and the cursor of the next page.

        ``keyword``: the title or the description contains it, ignoring case
        (SQLite folds ASCII letters only; Chinese has no case), read from the
        document; ``%``, ``_`` and ``\\`` in it match themselves."""
        where: list[str] = []
        params: list[Any] = []

        def any_of(column: str, values: list[str] | None) -> None:
            if values is not None:
                if not values:
                    where.append("1 = 0")
                    return
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)

        any_of("compound_id", compound_ids)
        any_of("status", status)
        any_of("category", category)
        any_of("priority", priority)
        for value, condition in (
            (assigned_party_id, "assigned_party_id = ?"),
            (raised_by_party_id, "raised_by_party_id = ?"),
            (reported_from, "reported_at >= ?"),
            (reported_to, "reported_at < ?"),
            (accepted_from, "accepted_at >= ?"),
            (accepted_to, "accepted_at < ?"),
            (cursor, "registered_position < ?"),
        ):
            if value is not None:
                where.append(condition)
                params.append(value)
        if reporter_id is not None and household_id is not None:
            # Their own reports, and what others collected at their door (a
            # household member's own report is theirs alone).
            where.append("(reporter_id = ? OR (household_id = ? AND reporter_role <> ?))")
            params.extend([reporter_id, household_id, "resident"])
        elif reporter_id is not None:
            where.append("reporter_id = ?")
            params.append(reporter_id)
        if own_party_id is not None:
            # A party's staff: the needs it has, and those it raised toward the compound.
            where.append("(assigned_party_id = ? OR raised_by_party_id = ?)")
            params.extend([own_party_id, own_party_id])
        if toward is not None:
            where.append(f"{self.doc_field('toward')} = ?")
            params.append(toward)
        if disputed is not None:
            where.append(f"consultation_id IS {'NOT ' if disputed else ''}NULL")
        if overdue is not None:
            marks = ",".join("?" * len(OPEN_WITH_DEADLINES))
            test = (
                f"(status IN ({marks}) AND ((responded_at IS NULL AND respond_due < ?) "
                "OR resolve_due < ?))"
            )
            where.append(test if overdue else f"NOT {test}")
            now_text = utc_text(now)
            params.extend([*OPEN_WITH_DEADLINES, now_text, now_text])
        if keyword:
            escaped = keyword.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            title, description = self.doc_field("title"), self.doc_field("description")
            where.append(
                f"(LOWER({title}) LIKE ? ESCAPE '\\' OR LOWER({description}) LIKE ? ESCAPE '\\')"
            )
            params.extend([f"%{escaped}%"] * 2)
        clause = f"WHERE {' AND '.join(where)} " if where else ""
        params.append(limit + 1)

        def query(c: Any) -> list[Row]:
            c.execute(
                self.sql(
                    f"SELECT doc FROM {{need_view}} {clause}"
                    "ORDER BY registered_position DESC LIMIT ?"
                ),
                params,
            )
            return [_load(r["doc"]) for r in c.fetchall()]

        rows = self._viewed(query)
        next_cursor = rows[limit - 1]["registered_position"] if len(rows) > limit else None
        return rows[:limit], next_cursor

    def iter_needs(self, page_size: int = 1000, **filters: Any) -> Iterator[Row]:
        """Every need matching ``filters``, newest first, read a page at a time
        (each page from views that have what the caller's had to see, also
        when the pages are read later, as a streamed answer is)."""
        at_least = views_at_least()

        def pages() -> Iterator[Row]:
            cursor = None
            while True:
                read_at_least(at_least)
                rows, cursor = self.needs(limit=page_size, cursor=cursor, **filters)
                yield from rows
                if cursor is None:
                    return

        return pages()

    def iter_cases(self, case_type: str, compound_ids: list[str] | None, **filters: Any) -> Iterator[Row]:
        at_least = views_at_least()

        def pages() -> Iterator[Row]:
            cursor = None
            while True:
                read_at_least(at_least)
                rows, cursor = self.cases(case_type, compound_ids, cursor=cursor, **filters)
                yield from rows
                if cursor is None:
                    return

        return pages()

    def history_page(
        self, case_id: str, *, limit: int, after: int | None = None
    ) -> tuple[list[Row], int | None]:
        """A page of a case's trail, oldest first, from just past the log
        position ``after``; and the cursor of the next page (None at the end).
        Keyset pagination on (case_id, position), the table's primary key."""
        where = "h.case_id = ?" if after is None else "h.case_id = ? AND h.position > ?"
        params: list[Any] = [case_id] if after is None else [case_id, after]

        def query(c: Any) -> tuple[list[Any], list[Row]]:
            found = self._trail_events(c, f"{where} ORDER BY h.position LIMIT ?", [*params, limit + 1])
            return found, self._entries(c, found[:limit], case_id)

        found, rows = self._viewed(query)
        next_after = int(found[limit - 1]["id"]) if len(found) > limit else None
        return rows, next_after

    def iter_history(self, case_id: str, page_size: int = 500) -> Iterator[Row]:
        """A case's whole trail, oldest first, read a page at a time (for
        exports that stream: memory stays at one page however long the trail).
        Events recorded meanwhile come at the end, never in the middle.

        The first page is read at once, so that a database that is down fails
        the request before its answer starts, as any other read does."""
        rows, after = self.history_page(case_id, limit=page_size)
        at_least = views_at_least()

        def the_rest(after: int | None) -> Iterator[Row]:
            while after is not None:
                read_at_least(at_least)
                rows, after = self.history_page(case_id, limit=page_size, after=after)
                yield from rows

        return itertools.chain(rows, the_rest(after))

    def history(self, case_id: str) -> list[Row]:
        """A case's whole trail, oldest first, as a list (in one read)."""

        def query(c: Any) -> list[Row]:
            found = self._trail_events(c, "h.case_id = ? ORDER BY h.position", [case_id])
            return self._entries(c, found, case_id)

        return self._viewed(query)

    def _trail_events(self, c: Any, clause: str, params: list[Any]) -> list[Any]:
        """The events on trails, with their positions: the rows of the log
        that the trail rows ``WHERE clause`` point at."""
        table, column = self.events_table(self.log.events_table)
        c.execute(
            self.sql(
                f"SELECT e.{column} AS id, h.case_type, e.originator_id, e.originator_version, "
                f"e.topic, e.state FROM {{case_history}} h JOIN {table} e ON e.{column} = h.position "
                f"WHERE {clause}"
            ),
            params,
        )
        return c.fetchall()

    def _entries(self, c: Any, rows: Sequence[Any], trail_case: str | None = None) -> list[Row]:
        """Trail entries, rendered from the rows of the log that hold their
        events, each naming who acted by the registry's display name too.
        Their summaries name what the events name by ``_names`` (looked up
        for the page at once); ``trail_case`` is the case whose trail it is."""
        decode = self.log.decode
        events = [decode(_notification(row)) for row in rows]
        names = self._names(c, events, [int(row["id"]) for row in rows], trail_case)
        entries = [
            history_entry(event, int(row["id"]), row["case_type"], names)
            for event, row in zip(events, rows, strict=True)
        ]
        persons = names.persons
        for entry in entries:
            entry["actor_name"] = persons.get(entry["actor_id"])
        return entries

    # The deployment's time zone: the trail's summaries give local times
    # (``build_services`` sets the configured one).
    timezone: tzinfo = DEFAULT_TIMEZONE

    @property
    def facts(self) -> Facts:
        """Facts of the case views that summaries name things by, kept
        between reads (they never change; see application/summaries.py)."""
        kept = self.__dict__.get("_facts")
        if kept is None:
            kept = self.__dict__["_facts"] = Facts()
        return kept

    def _names(
        self, c: Any, events: Sequence[Any], positions: Sequence[int], trail_case: str | None
    ) -> Names:
        """What the summaries of a page of events name, in a few queries for the
        whole page: the persons; the parties, compounds, consultations and
        service lists not kept from earlier reads (one query), and needs'
        titles (one); rarely, needs' earlier assignments from the log (one:
        for the entries of a need whose first event is not on the page), and
        the compounds of lists' and consultations' households (one)."""
        want = wanted(events, trail_case, positions)
        # The views are at least here: a list read now knows its events up to it.
        read_through = max(positions, default=0)
        histories = dict(want.histories)
        if want.holders:
            histories.update(assignment_history(self._assignments(c, sorted(want.holders))))
            for steps in histories.values():
                for _, party_id, _, _ in steps:
                    if party_id is not None:
                        want.case(party_id)
        kept = self.facts
        facts: dict[str, Any] = {}

        def known(case_id: str, ask: Ask | None) -> bool:
            found = kept.get(case_id)
            if answers(found, ask):
                facts[case_id] = found
                return True
            return False

        cases = [case_id for case_id, ask in want.cases.items() if not known(case_id, ask)]
        needs = [need_id for need_id in want.needs if not known(need_id, None)]
        persons = self.person_names(c, want.persons)
        self._read_facts(c, "case_view", cases, want.cases, facts, read_through)
        self._read_facts(c, "need_view", needs, {}, facts, read_through)
        # The households of a list's or a consultation's compound (an opinion's
        # household; an owner who votes and is no registered person).
        compounds: dict[str, Ask] = {}
        for case_id, ask in want.cases.items():
            households = {h for h in ask.compound_households if h not in persons}
            compound_id = getattr(facts.get(case_id), "compound_id", None)
            if households and compound_id:
                compounds.setdefault(compound_id, Ask()).households.update(households)
        for compound_id, ask in compounds.items():
            if compound_id in want.cases:
                ask.buildings |= want.cases[compound_id].buildings
                ask.households |= want.cases[compound_id].households
        missing = [case_id for case_id, ask in compounds.items() if not known(case_id, ask)]
        self._read_facts(c, "case_view", missing, compounds, facts, read_through)
        return Names(persons, facts, histories, self.timezone, trail_case)

    def _read_facts(
        self,
        c: Any,
        table: str,
        ids: Sequence[str],
        asks: dict[str, Ask],
        facts: dict[str, Any],
        read_through: int,
    ) -> None:
        """Read the documents of ``ids`` from ``table`` into ``facts`` (and keep them)."""
        kept = self.facts
        for start in range(0, len(ids), 500):
            chunk = sorted(ids[start : start + 500])
            c.execute(
                self.sql(
                    f"SELECT id, doc FROM {{{table}}} WHERE id IN ({', '.join('?' * len(chunk))})"
                ),
                chunk,
            )
            for row in c.fetchall():
                doc = _load(row["doc"])
                if table == "need_view":
                    doc.setdefault("case_type", "need")
                ask = asks.get(row["id"])
                found = facts_of(
                    doc, ask.households if ask else (), kept.get(row["id"]), read_through
                )
                if found is not None:
                    facts[row["id"]] = found
                    kept.put(row["id"], found)

    def _assignments(self, c: Any, need_ids: Sequence[str]) -> list[Any]:
        """The Assigned and Evaluated events of these needs, from the log."""
        table, _ = self.events_table(self.log.events_table)
        topics = [get_topic(Need.Assigned), get_topic(Need.Evaluated)]
        events = []
        for start in range(0, len(need_ids), 500):
            chunk = need_ids[start : start + 500]
            c.execute(
                self.sql(
                    f"SELECT 0 AS id, originator_id, originator_version, topic, state FROM {table} "
                    f"WHERE originator_id IN ({', '.join('?' * len(chunk))}) AND topic IN (?, ?)"
                ),
                [*self._originator_ids(chunk), *topics],
            )
            events += [self.log.decode(_notification(row)) for row in c.fetchall()]
        return events

    def _originator_ids(self, ids: Sequence[str]) -> list[Any]:
        """Aggregate ids as the events table's ``originator_id`` column holds
        them: here (SQLite) as the library writes a UUID, its hex digits."""
        return [UUID(i).hex for i in ids]

    def person_names(self, c: Any, person_ids: Iterable[str | None]) -> dict[str, str]:
        """Display names of those of ``person_ids`` that are registered persons."""
        wanted = sorted({p for p in person_ids if p})
        found: dict[str, str] = {}
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            c.execute(
                self.sql(
                    f"SELECT id, display_name FROM {{persons}} WHERE id IN ({', '.join('?' * len(chunk))})"
                ),
                chunk,
            )
            found.update((r["id"], r["display_name"]) for r in c.fetchall())
        return found

    def case(self, case_type: str, case_id: str) -> Row | None:
        def query(c: Any) -> Any:
            c.execute(
                self.sql("SELECT doc FROM {case_view} WHERE id = ? AND case_type = ?"),
                [case_id, case_type],
            )
            return c.fetchone()

        row = self._viewed(query)
        return _load(row["doc"]) if row else None

    def cases(
        self,
        case_type: str,
        compound_ids: list[str] | None,
        *,
        status: list[str] | None = None,
        periods: list[str] | None = None,
        limit: int = 1000,
        cursor: int | None = None,
        party_id: str | None = None,
    ) -> tuple[list[Row], int | None]:
        """A page of one type's cases, oldest first, and the next page's cursor;
        ``party_id``: only the cases whose document names that party (an offer's)."""
        where = ["case_type = ?"]
        params: list[Any] = [case_type]
        if party_id is not None:
            where.append(f"{self.doc_field('party_id')} = ?")
            params.append(party_id)
        for column, values in (
            ("compound_id", compound_ids),
            ("status", status),
            ("period", periods),
        ):
            if values is not None:
                if not values:
                    return [], None
                where.append(f"{column} IN ({','.join('?' * len(values))})")
                params.extend(values)
        if cursor is not None:
            where.append("first_position > ?")
            params.append(cursor)
        params.append(limit + 1)

        def query(c: Any) -> list[Row]:
            c.execute(
                self.sql(
                    f"SELECT doc FROM {{case_view}} WHERE {' AND '.join(where)} "
                    "ORDER BY first_position LIMIT ?"
                ),
                params,
            )
            return [_load(r["doc"]) for r in c.fetchall()]

        rows = self._viewed(query)
        next_cursor = rows[limit - 1]["first_position"] if len(rows) > limit else None
        return rows[:limit], next_cursor

    def visited_households(
        self, compound_ids: list[str] | None, periods: list[str]
    ) -> dict[str, list[Row]]:
        """By compound, the households visited in each of ``periods`` (months),
        each once a month: ``{"household_id", "period"}``. One query for any
        number of compounds, reading no visit's whole document."""
        if not periods or (compound_ids is not None and not compound_ids):
            return {}
        where = [f"case_type = ? AND period IN ({','.join('?' * len(periods))})"]
        params: list[Any] = ["visit", *periods]
        if compound_ids is not None:
            where.append(f"compound_id IN ({','.join('?' * len(compound_ids))})")
            params.extend(compound_ids)

        def query(c: Any) -> list[Any]:
            c.execute(
                self.sql(
                    f"SELECT DISTINCT compound_id, period, {self.doc_field('household_id')} "
                    f"AS household_id FROM {{case_view}} WHERE {' AND '.join(where)}"
                ),
                params,
            )
            return c.fetchall()

        found: dict[str, list[Row]] = {}
        for row in self._viewed(query):
            found.setdefault(row["compound_id"], []).append(
                {"household_id": row["household_id"], "period": row["period"]}
            )
        return found

    def needs_citing(self, commitment_id: str) -> list[Row]:
        """Needs assigned under an item of a service commitment."""

        def query(c: Any) -> list[Row]:
            c.execute(
                self.sql("SELECT doc FROM {need_view} WHERE commitment_id = ?"), [commitment_id]
            )
            return [_load(r["doc"]) for r in c.fetchall()]

        return self._viewed(query)

    def needs_citing_each(self, commitment_ids: Sequence[str]) -> dict[str, list[Row]]:
        """``needs_citing`` of many lists at once (a query per 500 lists)."""
        found: dict[str, list[Row]] = {i: [] for i in commitment_ids}
        unique = sorted(found)

        def query(c: Any) -> list[Any]:
            rows = []
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                c.execute(
                    self.sql(
                        "SELECT commitment_id, doc FROM {need_view} "
                        f"WHERE commitment_id IN ({','.join('?' * len(chunk))})"
                    ),
                    chunk,
                )
                rows += c.fetchall()
            return rows

        if unique:
            for row in self._viewed(query):
                found[row["commitment_id"]].append(_load(row["doc"]))
        return found

    def needs_serving(self, offer_id: str) -> list[str]:
        """The ids of the needs served under an offer (assigned citing it), oldest first."""

        def query(c: Any) -> list[str]:
            c.execute(
                self.sql(
                    "SELECT id FROM {need_view} WHERE offer_id = ? ORDER BY registered_position"
                ),
                [offer_id],
            )
            return [r["id"] for r in c.fetchall()]

        return self._viewed(query)

    def needs_served(self, offer_ids: Sequence[str]) -> dict[str, list[str]]:
        """By offer, the ids of the needs served under it (none: an empty list)."""
        found: dict[str, list[str]] = {offer_id: [] for offer_id in offer_ids}
        unique = sorted(found)

        def query(c: Any) -> list[tuple[str, str]]:
            pairs = []
            for start in range(0, len(unique), 500):
                chunk = unique[start : start + 500]
                c.execute(
                    self.sql(
                        f"SELECT id, offer_id FROM {{need_view}} WHERE offer_id IN "
                        f"({','.join('?' * len(chunk))}) ORDER BY registered_position"
                    ),
                    chunk,
                )
                pairs += [(r["offer_id"], r["id"]) for r in c.fetchall()]
            return pairs

        for offer_id, need_id in self._viewed(query):
            found[offer_id].append(need_id)
        return found

    def dump_all(self) -> dict[str, list[Row]]:
        """Every view row, in a stable order, to compare a view with a replay
        (which may be in another store); on the primary."""
        out: dict[str, list[Row]] = {}
        with self.reading() as c:
            for table in ("need_view", "case_view"):
                c.execute(self.sql(f"SELECT doc FROM {{{table}}} ORDER BY id"))
                out[table] = [_load(r["doc"]) for r in c.fetchall()]
            # The trails as stored (their entries are rendered from the log, which a
            # replay into another store does not have).
            c.execute(
                self.sql(
                    "SELECT case_id, position, case_type FROM {case_history} "
                    "ORDER BY case_id, position"
                )
            )
            out["case_history"] = [
                {"case_id": r["case_id"], "position": int(r["position"]), "case_type": r["case_type"]}
                for r in c.fetchall()
            ]
        return out

    def position(self, application_name: str) -> int:
        return self.max_tracking_id(self.tracking_name(application_name)) or 0  # type: ignore[attr-defined]

    def drop_view_tables(self, c: Any) -> None:
        for name in VIEW_TABLES:
            c.execute(self.sql(f"DROP TABLE IF EXISTS {{{name}}}"))

    def rename_into(self, c: Any, live: LinliViews) -> None:
        """Within ``c``: drop ``live``'s view tables and give these tables their names."""
        live.drop_view_tables(c)
        for name in VIEW_TABLES:
            c.execute(self.sql(f"ALTER TABLE {{{name}}} RENAME TO {self.bare(live.table(name))}"))
        for table, kinds in INDEXES.items():
            for kind in kinds:
                self.rename_index(c, table, f"{table}{self.suffix}_{kind}", f"{table}_{kind}")

    def bare(self, name: str) -> str:
        return name

    def rename_index(self, c: Any, table: str, old: str, new: str) -> None:
        raise NotImplementedError


_json_dump = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _dump(row: Row) -> str:
    """A row as compact JSON text, non-ASCII as it is: what ``json.dumps(row,
    ensure_ascii=False, separators=(",", ":"))`` writes, by orjson (several times
    faster; the read side writes one or two documents per event)."""
    try:
        return orjson.dumps(row, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # what orjson will not write (an int beyond 64 bits): as before
        return _json_dump(row)


def _dump_all(rows: Sequence[Any]) -> str:
    """A JSON array of the rows, each element written as ``_dump`` writes it."""
    try:
        return orjson.dumps(rows, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:
        return _json_dump(rows)


@contextmanager
def _in_chunks(size: int, send: Callable[[list[Any]], None]) -> Iterator[Callable[[Any], None]]:
    """A function that collects items and passes them to ``send``, ``size`` at
    a time as they come, and the rest at the end (not after an error)."""
    chunk: list[Any] = []

    def add(item: Any) -> None:
        chunk.append(item)
        if len(chunk) >= size:
            send(chunk)
            chunk.clear()

    yield add
    if chunk:
        send(chunk)


def _lines(docs: Sequence[str]) -> str:
    """Documents of ``_dump`` one a line, for ``string_to_table(text, E'\\n')``:
    the server splits them apart without parsing them, where a JSON array
    would be lexed again and again. Compact JSON has no line break: one within
    a string is written as ``\\n``."""
    return "\n".join(docs)


def _notification(row: Any) -> Notification:
    """A row of the events table (its notification id as ``id``) as the library's notification."""
    originator_id = row["originator_id"]
    return Notification(
        id=row["id"],
        originator_id=originator_id if isinstance(originator_id, UUID) else UUID(originator_id),
        originator_version=row["originator_version"],
        topic=row["topic"],
        state=bytes(row["state"]),
    )


def _load(text: str) -> Any:
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:  # NaN or Infinity, which json.dumps would have written
        return json.loads(text)


def _like_escaped(text: str) -> str:
    return text.replace("!", "!!").replace("%", "!%").replace("_", "!_")


class _Immediate(SQLiteTransaction):
    """A writing transaction that takes SQLite's write lock at its start."""

    def __enter__(self) -> Any:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


class SQLiteViews(LinliViews, SQLiteTrackingRecorder):
    def __init__(self, datastore: SQLiteDatastore, log: EventLog, suffix: str = "") -> None:
        super().__init__(datastore)
        self.log = log
        self.suffix = suffix

    @contextmanager
    def writing(self) -> Iterator[Any]:
        # BEGIN IMMEDIATE, not the library's deferred BEGIN: a transaction
        # that reads before it writes (a credential checks its person first)
        # would otherwise fail at once with "database is locked" when another
        # process (linli beside a running server) committed in between; with
        # the lock taken first, it waits its turn (the busy timeout) instead.
        with self.datastore.get_connection(commit=True) as conn, _Immediate(conn, commit=True) as c, c:
            yield c

    def has_column(self, c: Any, table: str, column: str) -> bool:
        c.execute("SELECT 1 FROM pragma_table_info(?) WHERE name = ?", [table, column])
        return c.fetchone() is not None

    def overwrite_freed(self, c: Any) -> None:
        c.execute("PRAGMA secure_delete = ON")

    def reclaim_erased_space(self) -> None:
        # The key's page goes back to the file at a checkpoint; its old bytes
        # in freed space are zeroed where secure_delete is on (see erase).
        # Outside a transaction (a checkpoint cannot run inside one); best
        # effort: readers still on an older snapshot make it stop short.
        with self.datastore.get_connection(commit=True) as conn:
            conn.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def rename_index(self, c: Any, table: str, old: str, new: str) -> None:
        # SQLite cannot rename an index: build it again under the live name.
        c.execute(f"SELECT sql FROM sqlite_master WHERE type = 'index' AND name = '{old}'")
        row = c.fetchone()
        c.execute(f"DROP INDEX IF EXISTS {old}")
        if row is not None:
            statement = row["sql"].replace(old, new, 1).replace(f"{table}{self.suffix}", table, 1)
            c.execute(statement)

    def create_table(self) -> None:
        super().create_table()
        self.create_view_tables()


class PostgresViews(LinliViews, PostgresTrackingRecorder):
    placeholder = "%s"
    big_int = "BIGINT"

    def __init__(self, datastore: PostgresDatastore, log: EventLog, suffix: str = "") -> None:
        super().__init__(datastore, tracking_table_name="linli_views_tracking")
        self.log = log
        self.suffix = suffix

    def has_column(self, c: Any, table: str, column: str) -> bool:
        c.execute(
            "SELECT 1 FROM information_schema.columns "
            "WHERE table_schema = %s AND table_name = %s AND column_name = %s",
            [self.datastore.schema, self.bare(table).strip('"'), column],
        )
        return c.fetchone() is not None

    def table(self, name: str) -> str:
        return f'"{self.datastore.schema}"."{super().table(name)}"'

    def tracking_table(self) -> str:
        return f'"{self.datastore.schema}"."{self.tracking_table_name}"'

    def bare(self, name: str) -> str:
        return name.rsplit(".", 1)[-1]

    def events_table(self, name: str) -> tuple[str, str]:
        return f'"{self.datastore.schema}"."{name}"', "notification_id"

    def _originator_ids(self, ids: Sequence[str]) -> list[Any]:
        return [UUID(i) for i in ids]

    def doc_field(self, name: str) -> str:
        return f"(doc::json ->> '{name}')"

    def gather_statistics(self) -> None:
        with self.datastore.get_connection() as conn:
            conn.execute(self.sql("ANALYZE {need_view}, {case_view}, {case_history}"))

    def reclaim_erased_space(self) -> None:
        # The old row versions holding a destroyed key go (VACUUM runs outside
        # a transaction: the pool's connections are in autocommit mode).
        with self.datastore.get_connection() as conn:
            conn.execute(f"VACUUM {self.table('person_keys')}")

    def rename_index(self, c: Any, table: str, old: str, new: str) -> None:
        schema = self.datastore.schema
        c.execute(f'ALTER INDEX IF EXISTS "{schema}"."{old}" RENAME TO "{new}"')

    def _begin_batch(self, c: Any) -> None:
        # The views are derived from the log and their position commits with
        # them: a crash can lose only whole, recent batches, which the updater
        # applies again from the position that survived (exactly once still).
        # Not waiting for each batch's WAL flush shortens every batch. With
        # read replicas, a batch is flushed (not waiting for any standby):
        # the primary streams only flushed WAL, and an unflushed batch would
        # reach them up to three WAL writer delays (0.6 s) later.
        if self.replicas is None:
            c.execute("SET LOCAL synchronous_commit = off")
        else:
            c.execute("SET LOCAL synchronous_commit = local")

    def lock_position(self, c: Any, tracking_name: str) -> int:
        """As the shared one, in one statement (``RETURNING``)."""
        return self._lock_position_later(c, tracking_name)()

    def _lock_position_later(self, c: Any, tracking_name: str) -> Callable[[], int]:
        """Also: whether a catch-up by partitions stopped half way (its rows
        ahead of the views' position), which must be finished first."""
        cursor = self._cursor(c)
        table = self.tracking_table()
        cursor.execute(
            f"WITH locked AS (UPDATE {table} SET notification_id = notification_id "
            "WHERE application_name = %s RETURNING notification_id) "
            "SELECT (SELECT notification_id FROM locked) AS notification_id, "
            f"(SELECT MAX(notification_id) FROM {table} "
            "WHERE application_name LIKE %s ESCAPE '!') AS partitions",
            [tracking_name, _like_escaped(tracking_name + PARTITION_MARK) + "%"],
        )

        def stored() -> int:
            row = cursor.fetchone()
            position = int(row["notification_id"] or 0)
            if row["partitions"] is not None and row["partitions"] > position:
                raise CatchUpUnfinished(position, int(row["partitions"]))
            return position

        return stored

    def partition_notifications(self, start: int, stop: int) -> list[Notification]:
        """The notifications from ``start`` to ``stop`` of the cases of this
        object's partition, and every erasure (each partition draws its own
        rows that name the person again). A short range, read by the index on
        the position: with a limit instead, the server reads the rest of the
        log for every batch."""
        assert self.partition is not None
        share, count = self.partition
        table, column = self.events_table(self.log.events_table)
        # Tuples, not the datastore's dicts: a row a notification, read by the hundred thousand.
        with self.datastore.get_connection() as conn, conn.cursor(row_factory=tuple_row) as cursor:
            cursor.execute(
                f"SELECT {column}, originator_id, originator_version, topic, state "
                f"FROM {table} WHERE {column} >= %s AND {column} <= %s "
                "AND (get_byte(uuid_send(originator_id), 15) %% %s = %s OR topic = ANY(%s)) "
                f"ORDER BY {column}",
                [start, stop, count, share, list(TO_EVERY_PARTITION)],
            )
            return [
                Notification(
                    id=position, originator_id=originator_id, originator_version=version,
                    topic=topic, state=bytes(state),
                )
                for position, originator_id, version, topic, state in cursor.fetchall()
            ]

    stores_while_waiting = True

    def _pipelined(self, c: Any) -> Any:
        """A batch's statements go in one pipeline: each is sent at once and
        its answer read at the end, so that the server stores the rows while
        the rest of the batch is worked out (reads wait for their answers)."""
        return c.connection.pipeline()

    def _cursor(self, c: Any) -> Any:
        # In a pipeline, answers come later: a cursor of its own for each read.
        return c.connection.cursor()

    # Rows a statement: a batch's statements go one after the other as their
    # rows are worked out, and the server stores each while the next is made.
    NEED_CHUNK = 20
    TRAIL_CHUNK = 200

    @contextmanager
    def _need_rows(self, c: Any) -> Iterator[Callable[[Row], None]]:
        """The need rows go ``NEED_CHUNK`` a statement, as soon as they are
        final: their columns as one JSON array of objects, and their documents
        as one text, a line each (see ``_lines``)."""
        columns = ", ".join((*NEED_COLUMNS, "doc"))
        types = ", ".join(
            f"{col} {'bigint' if col == 'registered_position' else 'text'}" for col in NEED_COLUMNS
        )
        updates = ", ".join(f"{col} = excluded.{col}" for col in (*NEED_COLUMNS[1:], "doc"))
        statement = self.sql(
            f"INSERT INTO {{need_view}} ({columns}) SELECT {columns} FROM ROWS FROM ("
            f"json_to_recordset(?::json) AS ({types}), string_to_table(?::text, E'\\n')"
            f") AS r({columns}) ON CONFLICT (id) DO UPDATE SET {updates}"
        )

        def send(rows: list[Row]) -> None:
            c.execute(
                statement,
                [
                    _dump_all([{col: row.get(col) for col in NEED_COLUMNS} for row in rows]),
                    _lines([_dump(row) for row in rows]),
                ],
            )

        with _in_chunks(self.NEED_CHUNK, send) as put:
            yield put

    @contextmanager
    def _trail(self, c: Any) -> Iterator[Callable[[tuple[str, int, str]], None]]:
        """The insert-only trail goes ``TRAIL_CHUNK`` rows a statement, as they
        are made: the rows as one JSON array of [case id, position, case type]."""
        statement = self.sql(
            "INSERT INTO {case_history} (case_id, position, case_type) "
            "SELECT r->>0, (r->>1)::bigint, r->>2 FROM json_array_elements(?::json) AS r"
        )

        def send(rows: list[tuple[str, int, str]]) -> None:
            c.execute(statement, [_dump_all(rows)])

        with _in_chunks(self.TRAIL_CHUNK, send) as add:
            yield add

    def create_table(self) -> None:
        super().create_table()
        self.create_view_tables()
        self.compress_documents_fast()

    def compress_documents_fast(self) -> None:
        """Documents are compressed with LZ4 where the server has it (PostgreSQL
        14 and later, built with it, as Debian's is): a need's document (about
        2 KB) is compressed at every write, and pglz, the default, took a
        sixth of the server's time of a catch-up. Rows stored before keep
        their compression; both read the same."""
        with self.datastore.get_connection() as conn:
            if conn.info.server_version < 140000:
                return
            for table in ("need_view", "case_view"):
                # Asked first: the ALTER takes a lock on the table, every start.
                found = conn.execute(
                    "SELECT attcompression FROM pg_attribute "
                    "WHERE attrelid = %s::regclass AND attname = 'doc'",
                    [self.table(table)],
                ).fetchone()
                if found is not None and found["attcompression"] == "l":
                    continue
                try:
                    with conn.transaction():
                        conn.execute(
                            f"ALTER TABLE {self.table(table)} ALTER COLUMN doc SET COMPRESSION lz4"
                        )
                except psycopg.Error as error:  # a server built without LZ4
                    log.info("documents of %s stay compressed with pglz: %s", table, error)
                    return

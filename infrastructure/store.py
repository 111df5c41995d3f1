"""Builds the application, its views and credentials for the configured store."""

from __future__ import annotations

import re
import select
import sqlite3
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from eventsourcing.postgres import PostgresDatastore

from application.app import Linli
from domain.actor import Actor
from infrastructure.board_links import BoardLinks, create_board_links_table
from infrastructure.calendar import deadline_policy
from infrastructure.credentials import Credentials
from infrastructure.people import People, UnknownPerson
from infrastructure.personal_data import StoredPersonKeys
from infrastructure.listening import Listener
from infrastructure.partitions import Helpers
from infrastructure.read_replicas import CHECKOUT_TIMEOUT, ReadReplicas
from infrastructure.recorders import changed_aggregates
from infrastructure.runner import ViewUpdater
from infrastructure.settings import Settings
from infrastructure.transparency_log import TransparencyLog
from infrastructure.views import EventLog, LinliViews, PostgresViews, SQLiteViews
from infrastructure.webhooks import WebhookWorker, Webhooks, WorkerSettings


# Personal fields of events are stored encrypted (infrastructure/personal_data.py).
PERSONAL_DATA_MAPPER = "infrastructure.personal_data:PersonalDataMapper"


def application_env(settings: Settings) -> dict[str, str]:
    if settings.store == "sqlite":
        settings.sqlite_path.parent.mkdir(parents=True, exist_ok=True)
        return {
            "PERSISTENCE_MODULE": "eventsourcing.sqlite",
            "SQLITE_DBNAME": str(settings.sqlite_path),
            "SQLITE_LOCK_TIMEOUT": "10",
            "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:SQLiteLinliRecorder",
            "MAPPER_TOPIC": PERSONAL_DATA_MAPPER,
        }
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": settings.postgres_db,
        "POSTGRES_HOST": settings.postgres_host,
        "POSTGRES_PORT": str(settings.postgres_port),
        "POSTGRES_USER": settings.postgres_user,
        "POSTGRES_PASSWORD": settings.postgres_password,
        "POSTGRES_SCHEMA": settings.postgres_schema,
        "POSTGRES_POOL_SIZE": str(settings.postgres_pool_size),
        "POSTGRES_MAX_OVERFLOW": str(settings.postgres_max_overflow),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        # Pooled connections are checked by ``idle_connection_alive`` instead
        # (see ``check_pooled_connections``): no round trip per checkout.
        "POSTGRES_PRE_PING": "n",
        "APPLICATION_RECORDER_TOPIC": "infrastructure.recorders:PostgresLinliRecorder",
        "MAPPER_TOPIC": PERSONAL_DATA_MAPPER,
    }


@dataclass(frozen=True)
class Erased:
    """What ``Services.erase_person`` did: the log position of the erasure (or
    of the head, when it had been recorded before), and credentials revoked."""

    person_id: str
    position: int
    new: bool
    credentials_revoked: int


@dataclass
class Services:
    """Everything a process of Linli uses, built once at start-up."""

    settings: Settings
    app: Linli
    views: LinliViews
    credentials: Credentials
    people: People
    updater: ViewUpdater
    other_writers: Listener | None = None
    # Streaming replicas that may answer the views' queries
    # (LINLI_POSTGRES_READ_HOSTS, infrastructure/read_replicas.py); None: none.
    read_replicas: ReadReplicas | None = None
    # The public notice boards' links (infrastructure/board_links.py), in the
    # views' datastore; its table is made by ``build_services``.
    board_links: BoardLinks = field(init=False)
    # The Merkle tree over the log and its checkpoints (issue 26,
    # infrastructure/transparency_log.py); its thread runs once started.
    transparency: TransparencyLog = field(init=False)
    # Outbound webhooks (issue 25 item 2, infrastructure/webhooks.py): the
    # subscriptions and delivery log, and the worker that delivers them; a
    # serving process starts the worker (api/app.py's lifespan).
    webhooks: Webhooks = field(init=False)
    webhook_worker: WebhookWorker = field(init=False)

    def __post_init__(self) -> None:
        self.board_links = BoardLinks(self.views)
        self.transparency = TransparencyLog.for_services(self)
        self.app.on_recorded(self.transparency.wake)
        self.webhooks = Webhooks(self.views, self.app.recorder.max_notification_id)
        with schema_lock(self.settings):
            self.webhooks.create_tables()
        self.webhook_worker = WebhookWorker(self.app, self.webhooks, WorkerSettings.of(self.settings))
        self.app.on_recorded(self.webhook_worker.wake)

    @property
    def person_keys(self) -> StoredPersonKeys:
        return self.app.mapper.keys  # type: ignore[attr-defined,no-any-return]

    def erase_person(self, by: Actor, person_id: str, reason: str) -> Erased:
        """Erase a person's personal data (PIPL Art. 47; domain/personal.py).

        The decision goes into the log first (who, when, why); then the
        person's key is destroyed, their name and owner key blanked in the
        registry and their credentials revoked. The views draw the person's
        rows again when they reach the erasure (LinliViews). Run again after a
        failure, it completes what the first run left (and records nothing new).
        UnknownPerson for an id not in the registry."""
        if self.people.get(person_id) is None:
            raise UnknownPerson(person_id)
        recorded, new = self.app.erase_person(by, person_id, reason)
        self.person_keys.destroy(person_id, by.id)
        self.people.erase(person_id)
        revoked = self.credentials.revoke_person(person_id)
        # Copies of cases as this process saved them hold the texts opened.
        self.app.kept.forget(None)
        return Erased(person_id, recorded.position, new, revoked)

    def listen_for_other_writers(self) -> None:
        """For a serving process: forget the kept copies of aggregates that
        other processes save (PostgreSQL; elsewhere nothing tells)."""
        if self.other_writers is not None:
            self.other_writers.start()

    def probe_positions(self) -> tuple[int, int]:
        """The log's head and the views' position, read on a connection of
        the probe's own with short timeouts (``PROBE_CONNECT_TIMEOUT``,
        ``PROBE_STATEMENT_TIMEOUT_MS``), not through the pool and the library's
        retries: a readiness check must fail fast when the database does not
        answer. Raises what the driver raises."""
        recorder: Any = self.app.recorder
        views: Any = self.views
        tracking = views.tracking_name(self.app.name)
        if self.settings.store == "sqlite":
            conn = sqlite3.connect(
                self.settings.sqlite_path, timeout=PROBE_STATEMENT_TIMEOUT_MS / 1000
            )
            try:
                conn.execute("PRAGMA query_only = ON")
                head = conn.execute(recorder.select_max_notification_id_statement).fetchone()[0]
                at = conn.execute(views.select_max_tracking_id_statement, [tracking]).fetchone()[0]
            finally:
                conn.close()
            return head or 0, at or 0
        with connect(
            self.settings,
            connect_timeout=PROBE_CONNECT_TIMEOUT,
            options=f"-c statement_timeout={PROBE_STATEMENT_TIMEOUT_MS}",
            application_name="linli-probe",
            tcp_user_timeout=PROBE_STATEMENT_TIMEOUT_MS * 2,
        ) as conn:
            head = conn.execute(recorder.max_notification_id_statement).fetchone()[0]
            at = conn.execute(views.max_tracking_id_statement, [tracking]).fetchone()[0]
        return head or 0, at or 0

    def close(self) -> None:
        self.webhook_worker.stop()
        self.updater.stop()
        self.transparency.stop()
        if self.other_writers is not None:
            self.other_writers.stop()
        if self.read_replicas is not None:
            self.read_replicas.close()
        self.app.close()


def idle_connection_alive(conn: psycopg.Connection[Any]) -> bool:
    """Whether a connection that is not in use is still open at both ends.

    An idle connection has nothing to read. When the server ends it (a
    restart, a shutdown, ``pg_terminate_backend``) it sends an error and
    closes it, so its socket turns readable: one ``poll`` with no wait tells,
    where the library's pre-ping sends an empty query on every checkout and
    waits for the answer. A connection with anything else to read (a
    notice) counts as ended too: the pool opens another.
    """
    if conn.closed or conn.broken:
        return False
    poll = select.poll()
    poll.register(conn.fileno(), select.POLLIN)
    return not poll.poll(0)


def check_pooled_connections(pool: Any) -> None:
    """Have the library's connection pool check each connection it hands out
    with ``idle_connection_alive``. On the first ended one, the pool checks
    all its idle connections at once: a restart ends them all, and the pool
    waits a second or more before each retry of a checkout."""
    if not hasattr(pool, "_check"):  # where psycopg_pool keeps its ``check`` argument
        raise RuntimeError("psycopg_pool changed: cannot set the pool's connection check")
    pool_ref = weakref.ref(pool)  # the pool holds the check: no reference cycle

    def check(conn: psycopg.Connection[Any]) -> None:
        if idle_connection_alive(conn):
            return
        conn.close()  # so that the pool drops it and opens another
        if (owner := pool_ref()) is not None:
            owner.check()
        raise psycopg.OperationalError("the server ended this pooled connection")

    pool._check = check


# The readiness probe's own connection (``Services.probe_positions``): libpq
# waits at least 2 s to connect whatever is asked; the probe's caller bounds
# its own wait shorter (api/deps.py) and shares one probe among callers.
PROBE_CONNECT_TIMEOUT = 2
PROBE_STATEMENT_TIMEOUT_MS = 800


def connect(settings: Settings, **options: Any) -> psycopg.Connection[Any]:
    """A connection of its own to the configured PostgreSQL, in autocommit."""
    options.setdefault("connect_timeout", 5)
    return psycopg.connect(
        host=settings.postgres_host,
        port=settings.postgres_port,
        dbname=settings.postgres_db,
        user=settings.postgres_user,
        password=settings.postgres_password,
        autocommit=True,
        **options,
    )


class DatabaseUnreachable(Exception):
    """The configured database cannot be used; the message says which and where."""


def where(settings: Settings) -> str:
    """The configured database, in words an operator finds in the settings."""
    if settings.store == "sqlite":
        return f"SQLite file {settings.sqlite_path} (LINLI_SQLITE_PATH)"
    return (
        f"PostgreSQL database \"{settings.postgres_db}\" at {_address(settings)} "
        "(LINLI_POSTGRES_HOST, LINLI_POSTGRES_PORT, LINLI_POSTGRES_DB)"
    )


def _address(settings: Settings) -> str:
    return f"{settings.postgres_host}:{settings.postgres_port}"


def check_database(settings: Settings) -> None:
    """Raise ``DatabaseUnreachable`` naming the database, where it is and what
    is wrong, if the configured store cannot be opened: for a process that
    starts, before anything else uses it."""
    if settings.store == "sqlite":
        path = settings.sqlite_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            sqlite3.connect(path, timeout=5).close()
        except (OSError, sqlite3.Error) as error:
            raise DatabaseUnreachable(f"{where(settings)}: cannot open it: {error}") from None
        return
    try:
        with connect(settings, connect_timeout=5) as conn:
            schema = conn.execute(
                "SELECT 1 FROM pg_namespace WHERE nspname = %s", [settings.postgres_schema]
            ).fetchone()
    except psycopg.Error as error:
        raise DatabaseUnreachable(_unreachable(settings, error)) from None
    if schema is None:
        raise DatabaseUnreachable(
            f"PostgreSQL database \"{settings.postgres_db}\" at {_address(settings)} has no "
            f"schema \"{settings.postgres_schema}\" (LINLI_POSTGRES_SCHEMA): create it or name another"
        )


def _unreachable(settings: Settings, error: psycopg.Error) -> str:
    """What went wrong connecting, on one line, naming the settings to look at."""
    text = " ".join(str(error).split())
    db, at = f"\"{settings.postgres_db}\"", _address(settings)
    user = f"\"{settings.postgres_user}\""
    if re.search(r'database "[^"]*" does not exist', text):
        return f"PostgreSQL at {at} has no database {db} (LINLI_POSTGRES_DB): create it or name another"
    if re.search(r'role "[^"]*" does not exist', text):
        return f"PostgreSQL at {at} has no user {user} (LINLI_POSTGRES_USER)"
    if "authentication failed" in text or "no password supplied" in text:
        return (
            f"PostgreSQL at {at} refused user {user}: wrong or missing password "
            "(LINLI_POSTGRES_USER, LINLI_POSTGRES_PASSWORD)"
        )
    reach = f"cannot reach PostgreSQL at {at} (LINLI_POSTGRES_HOST, LINLI_POSTGRES_PORT)"
    if "Connection refused" in text:
        return f"{reach}: connection refused; is the server running and listening there?"
    if "timeout" in text.lower():
        return f"{reach}: no answer within 5 s"
    if "translate host name" in text or "Name or service not known" in text:
        return f"{reach}: unknown host name"
    return f"{reach} as user {user}, database {db}: {text[:300]}"


@contextmanager
def schema_lock(settings: Settings) -> Iterator[None]:
    """Serialize the creation of tables between processes starting at once.

    The library's PostgreSQL recorders run ``CREATE OR REPLACE FUNCTION`` and
    ``CREATE TABLE IF NOT EXISTS`` at every start; two sessions doing so at the
    same moment can fail with "tuple concurrently updated". An advisory lock
    keyed on the schema makes them take turns. SQLite needs none.
    """
    if settings.store != "postgres":
        yield
        return
    with connect(settings) as conn:
        conn.execute("SELECT pg_advisory_lock(hashtext(%s))", [f"linli:{settings.postgres_schema}"])
        try:
            yield
        finally:
            conn.execute(
                "SELECT pg_advisory_unlock(hashtext(%s))", [f"linli:{settings.postgres_schema}"]
            )


def _listen(settings: Settings, name: str) -> Callable[[], psycopg.Connection[Any]]:
    """How a ``Listener`` opens its connection to PostgreSQL, named ``name``."""

    def listen() -> psycopg.Connection[Any]:
        return connect(
            settings,
            application_name=name,
            keepalives=1,
            keepalives_idle=10,
            keepalives_interval=5,
            keepalives_count=3,
        )

    return listen


def _listening(settings: Settings, app: Linli) -> dict[str, Any]:
    """On PostgreSQL: how the view updater LISTENs for the NOTIFY that every
    save issues, from any process."""
    if settings.store != "postgres":
        return {}
    return {
        "listen": _listen(settings, "linli-views-listen"),
        "channel": app.recorder.channel_name,  # type: ignore[attr-defined]
    }


def _other_writers(settings: Settings, app: Linli) -> Listener | None:
    """On PostgreSQL, with copies kept: a listener that makes the application
    forget its copies of what other processes save (application/recent.py)."""
    if settings.store != "postgres" or settings.kept_aggregates == 0:
        return None
    return Listener(
        _listen(settings, "linli-kept-listen"),
        app.recorder.channel_name,  # type: ignore[attr-defined]
        # Connected anew: whatever was saved meanwhile is not known.
        on_connect=lambda: app.kept.forget(None),
        on_notify=lambda payload: app.kept.forget(changed_aggregates(payload)),
        name="linli-kept-listen",
    )


def build_services(settings: Settings) -> Services:
    with schema_lock(settings):
        app = Linli(
            application_env(settings),
            deadline_policy=deadline_policy(settings),
            evaluation_window=timedelta(days=settings.evaluation_window_days),
            kept_aggregates=settings.kept_aggregates,
        )
        datastore = app.factory.datastore  # type: ignore[attr-defined]
        if settings.store == "postgres":
            check_pooled_connections(datastore.pool)
        mapper: Any = app.mapper
        log = EventLog(
            app.recorder.events_table_name,  # type: ignore[attr-defined]
            mapper.to_domain_event,
            lambda person_id: mapper.keys.erased(person_id),
        )
        views: LinliViews = (
            SQLiteViews(datastore, log)
            if settings.store == "sqlite"
            else PostgresViews(datastore, log)
        )
        views.create_table()  # type: ignore[attr-defined]
        create_board_links_table(views)
        views.timezone = ZoneInfo(settings.timezone)
        mapper.keys = StoredPersonKeys(views)
        people = People(views)
        people.adopt_legacy_credentials()
    updater = ViewUpdater(
        app,
        views,
        batch_size=settings.projection_batch_size,
        poll_interval=settings.projection_poll_interval,
        batch_interval=settings.projection_batch_interval,
        **_listening(settings, app),
    )
    app.on_recorded(updater.wake)
    if settings.store == "postgres" and settings.catch_up_processes > 1:
        updater.helpers = Helpers(settings, settings.catch_up_processes)
    views.replicas = _read_replicas(settings, views, app)
    return Services(
        settings,
        app,
        views,
        Credentials(views),
        people,
        updater,
        _other_writers(settings, app),
        read_replicas=views.replicas,
    )


def _read_replicas(settings: Settings, views: LinliViews, app: Linli) -> ReadReplicas | None:
    """With LINLI_POSTGRES_READ_HOSTS: the replicas that may answer the views'
    queries, each with a connection pool like the primary's (opened at its
    first query; its watchers start at the first query too)."""
    if settings.store != "postgres" or not settings.read_hosts:
        return None

    def datastore(host: str, port: int) -> PostgresDatastore:
        replica = PostgresDatastore(
            dbname=settings.postgres_db,
            host=host,
            port=port,
            user=settings.postgres_user,
            password=settings.postgres_password,
            # The pool's wait for a connection: a replica that has just gone
            # away costs a query this long before the primary answers it.
            connect_timeout=CHECKOUT_TIMEOUT,
            idle_in_transaction_session_timeout=5,
            pool_size=settings.postgres_pool_size,
            max_overflow=settings.postgres_max_overflow,
            schema=settings.postgres_schema,
        )
        replica.pool.kwargs["connect_timeout"] = 2  # libpq's own, for each new connection
        check_pooled_connections(replica.pool)
        return replica

    recorder: Any = views
    return ReadReplicas(
        settings,
        position_statement=recorder.max_tracking_id_statement,
        tracking_name=views.tracking_name(app.name),
        make_datastore=datastore,
    )

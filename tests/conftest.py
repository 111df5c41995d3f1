"""Fixtures: every application and API test runs on SQLite and on PostgreSQL.

PostgreSQL tests use a fresh database for the session and a fresh schema
for each test. When the server cannot be reached they are skipped, except
under CI=true, where that is a failure.
"""

from __future__ import annotations

import os
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from infrastructure.settings import Settings
from infrastructure.store import Services, build_services

PG = {
    "host": os.environ.get("LINLI_TEST_POSTGRES_HOST", "127.0.0.1"),
    "port": int(os.environ.get("LINLI_TEST_POSTGRES_PORT", "5432")),
    "user": os.environ.get("LINLI_TEST_POSTGRES_USER", "postgres"),
    "password": os.environ.get("LINLI_TEST_POSTGRES_PASSWORD", ""),
}


def until(condition: Callable[[], bool], timeout: float = 5.0) -> bool:
    """Whether ``condition()`` came true within ``timeout`` seconds (polled)."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)
    return True


SKIP_REASON = (
    "PostgreSQL not reachable at {host}:{port} as {user}; set LINLI_TEST_POSTGRES_HOST, "
    "LINLI_TEST_POSTGRES_PORT, LINLI_TEST_POSTGRES_USER and LINLI_TEST_POSTGRES_PASSWORD"
)


def _admin_connection(dbname: str = "postgres") -> psycopg.Connection:
    return psycopg.connect(dbname=dbname, autocommit=True, connect_timeout=3, **PG)


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str]:
    try:
        admin = _admin_connection()
    except psycopg.OperationalError as error:
        message = SKIP_REASON.format(**PG) + f" ({error})"
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true needs PostgreSQL: " + message)
        pytest.skip(message)
    name = f"linli_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    yield name
    with _admin_connection() as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def settings_for(store: str, request: pytest.FixtureRequest, tmp_path: Path, **overrides) -> Settings:
    if store == "sqlite":
        path = tmp_path / f"linli-{uuid.uuid4().hex[:8]}.sqlite3"
        return Settings(**{"store": "sqlite", "sqlite_path": path, **overrides})
    database = request.getfixturevalue("postgres_database")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    with _admin_connection(database) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    return Settings(
        store="postgres",
        postgres_host=PG["host"],
        postgres_port=PG["port"],
        postgres_user=PG["user"],
        postgres_password=PG["password"],
        postgres_db=database,
        postgres_schema=schema,
        postgres_pool_size=5,
        **overrides,
    )


@pytest.fixture(params=["sqlite", "postgres"])
def store(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture
def make_settings(store: str, request: pytest.FixtureRequest, tmp_path: Path):
    def make(**overrides) -> Settings:
        """Settings for a fresh, empty store (a new SQLite file or PostgreSQL schema)."""
        return settings_for(store, request, tmp_path, **overrides)

    return make


@pytest.fixture
def services(make_settings) -> Iterator[Services]:
    built = build_services(make_settings(projection_poll_interval=0.05))
    built.updater.start()
    yield built
    built.close()

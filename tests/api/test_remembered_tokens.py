"""The API remembers a valid token's caller for LINLI_AUTH_CACHE_SECONDS
(infrastructure.credentials.Credentials.recent), so that a command does not
read the credentials table on every request. A revocation made in the same
process is refused at once; one made by another process (the CLI, another
worker) within that many seconds; with 0, every request reads the table."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient

import infrastructure.credentials as credentials_module
from api.app import create_app
from application.readmodel import utc_text
from infrastructure.credentials import Credentials, token_hash
from infrastructure.store import Services, build_services
from tests.world import World, build_world


class Clock:
    """Stands in for time.monotonic in infrastructure.credentials."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(credentials_module.time, "monotonic", fake)
    return fake


def revoke_elsewhere(services: Services, token: str) -> None:
    """Revoke as another process would: in the table, unseen by this one."""
    with services.views.writing() as c:
        c.execute(
            services.views.sql("UPDATE {credentials} SET revoked_at = ? WHERE token_hash = ?"),
            [utc_text(datetime.now(UTC)), token_hash(token)],
        )


def test_the_default_bound_is_short() -> None:
    from infrastructure.settings import Settings

    assert 0 < Settings().auth_cache_seconds <= 2


def test_a_revocation_in_this_process_is_refused_at_once(
    client: TestClient, world: World
) -> None:
    headers = world.headers("grid_worker")
    assert client.get("/needs", headers=headers).status_code == 200  # now remembered
    assert client.get("/needs", headers=headers).status_code == 200
    # Another Credentials of this process, as `linli token revoke` run in-process makes.
    assert Credentials(world.services.views).revoke(token=world.tokens["grid_worker"]) == 1
    assert client.get("/needs", headers=headers).status_code == 401
    # The others' tokens are read again, and still valid.
    assert client.get("/needs", headers=world.headers("staff")).status_code == 200


def test_a_revocation_by_id_or_by_issuer_is_refused_at_once(client: TestClient, world: World) -> None:
    credentials = world.services.credentials
    issued = credentials.issue(person_id=world.services.people.register("临时", created_by="test").id, role=world.actors["staff"].role,
                               compound_ids=[world.compound_id], issued_by="demo")
    other = credentials.issue(person_id=world.services.people.register("临时2", created_by="test").id, role=world.actors["staff"].role,
                              compound_ids=[world.compound_id])
    for token in (issued.token, other.token):
        assert client.get("/needs", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    credentials.revoke_issued_by("demo")
    assert client.get("/needs", headers={"Authorization": f"Bearer {issued.token}"}).status_code == 401
    assert credentials.revoke(token_id=other.token_id) == 1
    assert client.get("/needs", headers={"Authorization": f"Bearer {other.token}"}).status_code == 401


def test_a_revocation_by_another_process_is_refused_within_the_bound(
    client: TestClient, world: World, clock: Clock
) -> None:
    bound = world.services.settings.auth_cache_seconds
    headers = world.headers("grid_worker")
    assert client.get("/needs", headers=headers).status_code == 200
    revoke_elsewhere(world.services, world.tokens["grid_worker"])
    clock.now += bound * 0.9
    assert client.get("/needs", headers=headers).status_code == 200  # remembered, not yet read
    clock.now += bound * 0.1
    assert client.get("/needs", headers=headers).status_code == 401


@pytest.fixture
def uncached(make_settings) -> Iterator[tuple[TestClient, World]]:  # noqa: ANN001
    built = build_services(make_settings(auth_cache_seconds=0))
    try:
        world = build_world(built)
        with TestClient(create_app(services=built)) as test_client:
            yield test_client, world
    finally:
        built.close()


def test_with_no_cache_every_request_reads_the_table(uncached: tuple[TestClient, World]) -> None:
    client, world = uncached
    headers = world.headers("grid_worker")
    assert client.get("/needs", headers=headers).status_code == 200
    revoke_elsewhere(world.services, world.tokens["grid_worker"])
    assert client.get("/needs", headers=headers).status_code == 401


def test_bad_tokens_are_never_remembered(world: World) -> None:
    credentials = Credentials(world.services.views)
    assert credentials.authenticate_remembering("linli_nope", 60) is None
    assert credentials.recent("linli_nope", 60) is None
    assert credentials._remembered == {}


def test_a_read_that_races_a_revocation_is_not_remembered(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    credentials = Credentials(world.services.views)
    token = world.tokens["staff"]
    read = credentials.authenticate

    def read_while_revoked(t: str):  # noqa: ANN202
        actor = read(t)  # read before the revocation commits...
        credentials_module._revoked_here()  # ...which completes before it is remembered
        return actor

    monkeypatch.setattr(credentials, "authenticate", read_while_revoked)
    assert credentials.authenticate_remembering(token, 60) is not None
    assert credentials.recent(token, 60) is None
    monkeypatch.setattr(credentials, "authenticate", read)
    assert credentials.authenticate_remembering(token, 60) is not None
    assert credentials.recent(token, 60) == world.actors["staff"]


def test_remembered_for_at_most_max_age(world: World, clock: Clock) -> None:
    credentials = Credentials(world.services.views)
    token = world.tokens["staff"]
    assert credentials.recent(token, 5) is None
    credentials.authenticate_remembering(token, 5)
    assert credentials.recent(token, 5) == world.actors["staff"]
    assert credentials.recent(token, 0) is None  # 0: never answer from memory
    clock.now += 5
    assert credentials.recent(token, 5) is None

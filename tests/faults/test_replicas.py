"""Reads of the views on a PostgreSQL streaming replica (issue 27 item 5):
read-your-writes through the replica, the primary answering while the
replica's replay is paused (it falls behind) and while it is stopped, and the
replica used again once it is back and caught up.

Two private clusters (never the machine's shared one): a primary, and a hot
standby made from it by ``pg_basebackup -R`` that streams its WAL, each on a
free port of 127.0.0.1. Linli runs in this process (its services are looked
at: each replica counts the queries it answered) with its commands and the
registries on the primary and LINLI_POSTGRES_READ_HOSTS naming the replica.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure import read_replicas
from infrastructure.read_replicas import ReadReplicas, Replica
from infrastructure.settings import Settings
from infrastructure.store import build_services
from tests.api.client import Api
from tests.faults.conftest import (
    PrivateCluster,
    free_port,
    private_cluster,
    private_directory,
    wait_until,
)
from tests.world import build_world

pytestmark = pytest.mark.slow

MAX_LAG = 2.0


@pytest.fixture
def replicated() -> Iterator[tuple[PrivateCluster, PrivateCluster]]:
    """A primary (WAL for replicas, replication connections from 127.0.0.1
    trusted) and a streaming hot standby of it."""
    with private_cluster(options="-c wal_level=replica -c max_wal_senders=4") as primary:
        with open(primary.data / "pg_hba.conf", "a") as hba:
            hba.write("\nhost replication all 127.0.0.1/32 trust\n")
        reloaded = primary.pg_ctl("reload")
        assert reloaded.returncode == 0, reloaded.stderr
        with private_directory() as (base, as_postgres):
            replica = PrivateCluster(primary.bindir, base, free_port(), as_postgres, "-c hot_standby=on")
            copied = replica.run(
                "pg_basebackup",
                "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                "-D", str(replica.data), "-R", "-X", "stream", "-c", "fast", "--no-sync",
            )  # fmt: skip
            assert copied.returncode == 0, f"pg_basebackup failed: {copied.stdout}{copied.stderr}"
            replica.start_on_a_free_port()
            try:
                with replica.connect() as conn:
                    assert conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]
                yield primary, replica
            finally:
                if replica.running():
                    replica.stop("immediate")


def the_replica(replicas: ReadReplicas | None) -> Replica:
    assert replicas is not None, "LINLI_POSTGRES_READ_HOSTS made no replicas"
    return replicas.replicas[0]


def test_reads_go_to_a_replica_that_has_them_and_to_the_primary_otherwise(
    replicated: tuple[PrivateCluster, PrivateCluster], monkeypatch: pytest.MonkeyPatch
) -> None:
    primary, standby = replicated
    settings = Settings(
        store="postgres",
        postgres_host="127.0.0.1",
        postgres_port=primary.port,
        postgres_db="linli",
        postgres_pool_size=2,
        postgres_max_overflow=2,
        postgres_read_hosts=f"127.0.0.1:{standby.port}",
        postgres_read_max_lag_seconds=MAX_LAG,
        postgres_read_wait_seconds=2.0,
        projection_poll_interval=0.05,
        webhooks_deliver=False,
        transparency_upkeep=False,
    )
    services = build_services(settings)
    try:
        services.updater.start()
        world = build_world(services)
        replicas = services.read_replicas
        replica = the_replica(replicas)
        assert replicas is not None
        with TestClient(create_app(services=services)) as client:
            api = Api(client, world)
            wait_until(lambda: replicas.choose() is not None, 15, "the replica to be used",
                       detail=lambda: str(replicas.status()))  # fmt: skip

            # 1. Read-your-writes through the replica: the position a command
            # returned, as ?after=, is answered there with the new state.
            for n in range(3):
                need = api.register(title=f"电梯停运 {n}")
                served, on_primary = replica.served, replicas.primary_reads
                got = api.get("staff", f"/needs/{need['id']}", after=need["position"])
                assert got.status_code == 200, got.text
                assert got.json()["title"] == f"电梯停运 {n}"
                assert replica.served > served, replicas.status()
                assert replicas.primary_reads == on_primary, "a view query went to the primary"
            listed = api.get("staff", "/needs", after=need["position"])
            assert listed.status_code == 200 and listed.json()["items"][0]["id"] == need["id"]
            assert f'linli_replica_usable{{replica="{replica.name}"}} 1.0' in client.get("/metrics").text

            # The replica's replay paused: it falls behind. A read that must
            # see a new write waits a little for it, then the primary answers.
            with standby.connect() as conn:
                conn.execute("SELECT pg_wal_replay_pause()")
            try:
                paused = api.register(title="回放暂停时登记")
                served, on_primary = replica.served, replicas.primary_reads
                got = api.get("staff", f"/needs/{paused['id']}", after=paused["position"])
                assert got.status_code == 200 and got.json()["title"] == "回放暂停时登记"
                assert replica.served == served and replicas.primary_reads > on_primary
                # More than MAX_LAG behind the primary's views: left out also
                # for reads that ask no position (else they would miss the need).
                wait_until(lambda: not replicas.status()[0]["usable"], 3 * MAX_LAG + 5,
                           "the paused replica to be left out")  # fmt: skip
                served = replica.served
                mine = api.get("staff", "/needs").json()["items"]
                assert mine[0]["id"] == paused["id"]
                assert replica.served == served
            finally:
                with standby.connect() as conn:
                    conn.execute("SELECT pg_wal_replay_resume()")
            wait_until(lambda: replicas.choose(paused["position"]) is not None, 10,
                       "the resumed replica to catch up")  # fmt: skip
            served = replica.served
            assert api.get("staff", f"/needs/{paused['id']}", after=paused["position"]).status_code == 200
            assert replica.served > served

            # 2. The replica stopped: reads go on, answered by the primary.
            standby.stop("immediate")
            stopped_at = time.monotonic()
            answers = []
            while time.monotonic() - stopped_at < 1.5:
                need = api.register(title="备库停机时登记")
                got = api.get("staff", f"/needs/{need['id']}", after=need["position"])
                answers.append((got.status_code, got.json().get("title")))
                answers.append((api.get("staff", "/needs").status_code, None))
            assert {status for status, _ in answers} == {200}, answers
            assert all(title == "备库停机时登记" for _, title in answers[::2])
            assert not replicas.status()[0]["usable"]
            assert f'linli_replica_usable{{replica="{replica.name}"}} 0.0' in client.get("/metrics").text
            # With no replica to wait for, ?after= waits for none.
            need = api.register(title="备库停机时登记")
            began = time.monotonic()
            got = api.get("staff", f"/needs/{need['id']}", after=need["position"])
            assert got.status_code == 200 and time.monotonic() - began < settings.postgres_read_wait_seconds
            served, on_primary = replica.served, replicas.primary_reads
            assert api.get("staff", f"/needs/{need['id']}").status_code == 200
            assert replica.served == served and replicas.primary_reads > on_primary

            # 3. Back and caught up: used again.
            standby.start()
            wait_until(lambda: replicas.choose(need["position"]) is not None, 20,
                       "the restarted replica to be used again",
                       detail=lambda: str(replicas.status()) + standby.log())  # fmt: skip
            again = api.register(title="备库恢复后登记")
            served, on_primary = replica.served, replicas.primary_reads
            got = api.get("staff", f"/needs/{again['id']}", after=again["position"])
            assert got.status_code == 200 and got.json()["title"] == "备库恢复后登记"
            assert replica.served > served and replicas.primary_reads == on_primary, replicas.status()

            # 4. The replica stopped before its watcher could tell: the query
            # it fails is answered by the primary, and leaves it out.
            monkeypatch.setattr(read_replicas, "WATCH_INTERVAL", 60.0)
            replicas.max_lag = 60.0
            time.sleep(0.5)  # each watcher has read once more, and now waits a minute
            standby.stop("immediate")
            assert replicas.choose() is replica
            failed, on_primary = replica.failed, replicas.primary_reads
            began = time.monotonic()
            got = api.get("staff", f"/needs/{again['id']}", after=again["position"])
            assert got.status_code == 200 and got.json()["title"] == "备库恢复后登记"
            assert time.monotonic() - began < read_replicas.CHECKOUT_TIMEOUT + 2
            assert replica.failed == failed + 1 and replicas.primary_reads > on_primary
            assert replicas.choose() is None
            assert api.get("staff", "/needs").status_code == 200
            assert replica.failed == failed + 1
    finally:
        services.close()

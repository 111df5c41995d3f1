"""A store written by release 0.1.0, before persons, still loads and reads.

``tests/fixtures/linli-0.1.0.sqlite3`` was made by that release (see
``tests/fixtures/make_0_1_0_store.py``): the demo compound, a household
registered with an owner's name, a need reported by a resident whose
credential said ``--actor 张三``, and three credentials of that time, whose
tokens ``linli-0.1.0.json`` keeps. On PostgreSQL the same events and
credentials are copied into a fresh schema, as a dump of that release would
restore them. Nothing in the event store is rewritten: a legacy credential is
attached, at start, to a person whose id is the text its events carry.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from fastapi.testclient import TestClient

from api.app import create_app
from domain.actor import Role
from infrastructure.settings import Settings
from infrastructure.store import Services, build_services

FIXTURES = Path(__file__).parent.parent / "fixtures"
OLD = json.loads((FIXTURES / "linli-0.1.0.json").read_text(encoding="utf-8"))


def _old_rows() -> tuple[list[StoredEvent], list[Any]]:
    with sqlite3.connect(FIXTURES / "linli-0.1.0.sqlite3") as db:
        events = [
            StoredEvent(UUID(o), v, t, s)
            for o, v, t, s in db.execute(
                "SELECT originator_id, originator_version, topic, state FROM stored_events ORDER BY rowid"
            )
        ]
        credentials = db.execute(
            "SELECT token_hash, actor_id, role, doc, created_at, revoked_at FROM credentials"
        ).fetchall()
    return events, credentials


@pytest.fixture
def old_store(store: str, make_settings, tmp_path: Path) -> Iterator[Services]:  # noqa: ANN001
    if store == "sqlite":
        path = tmp_path / "linli-0.1.0.sqlite3"
        shutil.copy(FIXTURES / "linli-0.1.0.sqlite3", path)
        settings = Settings(store="sqlite", sqlite_path=path, projection_poll_interval=0.05)
    else:
        settings = make_settings(projection_poll_interval=0.05)
        events, credentials = _old_rows()
        restore = build_services(settings)
        try:
            restore.app.recorder.insert_events(events)
            with restore.views.writing() as c:
                for row in credentials:
                    c.execute(
                        restore.views.sql(
                            "INSERT INTO {credentials} (token_hash, actor_id, role, doc, created_at, "
                            "revoked_at) VALUES (?, ?, ?, ?, ?, ?)"
                        ),
                        list(row),
                    )
        finally:
            restore.close()
    services = build_services(settings)  # the upgrade: this release starts on that store
    services.updater.catch_up()
    services.updater.start()
    yield services
    services.close()


def test_credentials_of_0_1_0_still_work_and_name_their_legacy_person(old_store: Services) -> None:
    with TestClient(create_app(services=old_store)) as client:
        resident = {"Authorization": f"Bearer {OLD['tokens']['resident']}"}
        staff = {"Authorization": f"Bearer {OLD['tokens']['staff']}"}
        mine = client.get("/needs", headers=resident)
        assert mine.status_code == 200, mine.text
        assert [n["id"] for n in mine.json()["items"]] == [OLD["need_id"]]
        trail = client.get(f"/needs/{OLD['need_id']}/history", headers=staff).json()["events"]
        assert [(e["actor_id"], e["actor_name"], e["actor_role"]) for e in trail] == [
            ("张三", "张三", "resident")
        ]
        # The household 0.1.0 registered with an owner's name still reads.
        compound = client.get(f"/compounds/{OLD['compound_id']}", headers=staff).json()
        owned = [h for h in compound["households"] if h.get("owner_name")]
        assert [(h["number"], h["owner_name"]) for h in owned] == [("401", "李四")]
        # The new release's commands go on with the old aggregates.
        accepted = client.post(
            f"/needs/{OLD['need_id']}/accept",
            json={"priority": "normal", "category": "facilities"},
            headers=staff,
        )
        assert accepted.status_code == 200, accepted.text

    legacy = {p.id: p for p in old_store.people.all() if p.legacy}
    assert set(legacy) == {"张三", "王芳", "demo-property"}
    assert legacy["张三"].display_name == "张三"


def test_a_new_person_of_a_legacy_name_is_another_person(old_store: Services) -> None:
    """After the upgrade, a credential issued for a new 张三 does not reach the
    legacy 张三's report."""
    person = old_store.people.register("张三", created_by="test")
    assert person.id != "张三"
    issued = old_store.credentials.issue(
        person_id=person.id,
        role=Role.RESIDENT,
        compound_ids=[UUID(OLD["compound_id"])],
        household_id=UUID(OLD["household_id"]),
    )
    with TestClient(create_app(services=old_store)) as client:
        theirs = {"Authorization": f"Bearer {issued.token}"}
        assert client.get(f"/needs/{OLD['need_id']}", headers=theirs).status_code == 404


def test_adopting_legacy_credentials_is_done_once(old_store: Services) -> None:
    persons = old_store.people.all()
    assert old_store.people.adopt_legacy_credentials() == 0
    assert old_store.people.all() == persons

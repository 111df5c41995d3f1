"""Erasing a person's personal data (PIPL Art. 47; issue 26 item 5), on
SQLite and PostgreSQL: ``linli people erase`` destroys their key, and their
name, owner key and texts then appear in no answer, export, page or readable
column of the database, while ``linli audit verify`` passes and the figures
are those from before."""

from __future__ import annotations

import os
import sqlite3
from decimal import Decimal
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI

from api.cli import main
from domain.actor import Role
from domain.personal import ERASED
from infrastructure.store import Services
from tests.api.client import Api
from tests.api.test_console_pages import browser

# The app with the console, and the API client, as the console's pages test them.
from tests.api.test_console_pages import api, app  # noqa: F401  (fixtures)
from tests.world import REGISTRAR, World

# What the erased resident (who also owns their household) said and is called.
THEIRS = {
    "name": "居民殷素素EZ1",
    "owner_key": "13900001111",
    "title": "诉求标题EZ2",
    "description": "诉求描述EZ3",
    "location": "诉求位置EZ4",
    "note": "进展备注EZ5",
    "comment": "评价意见EZ6",
    "withdrawn": "撤回原因EZ7",
    "visit_notes": "走访备注EZ8",
    "opinion": "议事意见EZ9",
    "list_opinion": "清单意见EZ0",
}
# Another resident's, which stays.
KEPT_TITLE = "邻居诉求KEEP1"



def settle(services: Services) -> int:
    position = services.app.recorder.max_notification_id() or 0
    assert services.updater.wait_for(position, 20)
    return position


def point_the_command_line_at(services: Services, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in [n for n in os.environ if n.startswith("LINLI_")]:
        monkeypatch.delenv(name)
    s = services.settings
    monkeypatch.setenv("LINLI_STORE", s.store)
    if s.store == "sqlite":
        monkeypatch.setenv("LINLI_SQLITE_PATH", str(s.sqlite_path))
        return
    for name, value in {
        "HOST": s.postgres_host,
        "PORT": str(s.postgres_port),
        "USER": s.postgres_user,
        "PASSWORD": s.postgres_password,
        "DB": s.postgres_db,
        "SCHEMA": s.postgres_schema,
    }.items():
        monkeypatch.setenv(f"LINLI_POSTGRES_{name}", value)


def every_readable_value(services: Services) -> str:
    """Every column of every table of the store (events' stored state as
    text), as one text to search."""
    s = services.settings
    parts: list[str] = []
    if s.store == "sqlite":
        conn = sqlite3.connect(s.sqlite_path)
        try:
            tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
            for table in tables:
                for row in conn.execute(f'SELECT * FROM "{table}"'):
                    parts += [_text(v) for v in row]
        finally:
            conn.close()
        return "\n".join(parts)
    with psycopg.connect(
        host=s.postgres_host, port=s.postgres_port, user=s.postgres_user,
        password=s.postgres_password, dbname=s.postgres_db, autocommit=True,
    ) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = %s",
                [s.postgres_schema],
            )
        ]
        for table in tables:
            for row in conn.execute(f'SELECT * FROM "{s.postgres_schema}"."{table}"'):
                parts += [_text(v) for v in row]
    return "\n".join(parts)


def _text(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        raw = bytes(value)
        # As stored, and as JSON would escape it.
        return raw.decode("utf-8", "replace") + raw.decode("unicode_escape", "replace")
    return str(value)


def seed(api: Api) -> dict[str, str]:
    """The resident's needs, visit, opinions and list opinion, and another's need."""
    world, services = api.world, api.world.services
    app, compound = services.app, world.compound_id
    pc = str(world.parties["property_company"])
    person = services.people.register(THEIRS["name"], created_by="test", owner_key=THEIRS["owner_key"])
    building, _ = app.add_building(REGISTRAR, compound, name="7号楼")
    household, _ = app.add_household(
        REGISTRAR, compound, building_id=building, number="701", exclusive_area=Decimal("70"),
        owner_id=person.id,
    )
    issued = services.credentials.issue(
        person_id=person.id, role=Role.RESIDENT, compound_ids=[compound], household_id=household
    )
    world.tokens["erased"], world.actors["erased"] = issued.token, issued.actor

    need = api.ok("erased", "/needs", {
        "compound_id": str(compound), "source": "self_report", "title": THEIRS["title"],
        "description": THEIRS["description"], "location": THEIRS["location"],
    })["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": pc})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/notes", {"text": THEIRS["note"]})
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已修复"})
    api.ok("erased", f"/needs/{need}/evaluate", {
        "evaluation": "satisfied", "comment": THEIRS["comment"], "resolved": True,
    })
    withdrawn = api.ok("erased", "/needs", {
        "compound_id": str(compound), "source": "self_report", "title": "第二件", "description": "无",
    })["id"]
    api.ok("erased", f"/needs/{withdrawn}/withdraw", {"reason": THEIRS["withdrawn"]})
    still_open = api.ok("erased", "/needs", {
        "compound_id": str(compound), "source": "self_report", "title": "第三件", "description": "无",
    })["id"]
    api.ok("staff", f"/needs/{still_open}/accept", {"priority": "normal"})
    visit = api.ok("grid_worker", "/visits", {
        "compound_id": str(compound), "household_id": str(household), "notes": THEIRS["visit_notes"],
    })["id"]
    consultation = api.ok("party_branch", "/consultations", {
        "compound_id": str(compound), "topic": "楼道堆物",
    })["id"]
    api.ok("erased", f"/consultations/{consultation}/opinions", {"text": THEIRS["opinion"]})
    draft = api.ok("party_branch", "/commitments", {
        "compound_id": str(compound), "provider_party_id": pc, "title": "服务清单",
        "items": [{"number": 1, "title": "保洁", "standard": "每日", "frequency": "每日", "time_limit": "24h"}],
    })["id"]
    api.ok("erased", f"/commitments/{draft}/opinions", {"text": THEIRS["list_opinion"]})
    kept = api.ok("resident2", "/needs", {
        "compound_id": str(compound), "source": "self_report", "title": KEPT_TITLE, "description": "楼上漏水",
    })["id"]
    return {
        "person": person.id, "need": need, "withdrawn": withdrawn, "open": still_open, "visit": visit,
        "consultation": consultation, "commitment": draft, "kept": kept,
    }


def pages(api: Api, app: FastAPI, ids: dict[str, str]) -> dict[str, str]:
    """What staff and supervisors read of the resident's cases: answers,
    trails, exports and console pages, by path."""
    compound = api.world.compound_id
    paths = [
        f"/needs/{ids['need']}",
        f"/needs/{ids['need']}/history",
        f"/needs/{ids['need']}/history?format=csv&lang=zh",
        f"/needs/{ids['withdrawn']}/history",
        f"/needs?compound_id={compound}",
        f"/needs?compound_id={compound}&format=csv&lang=zh",
        f"/visits?compound_id={compound}",
        f"/consultations/{ids['consultation']}",
        f"/consultations/{ids['consultation']}/history",
        f"/commitments/{ids['commitment']}",
        f"/commitments/{ids['commitment']}/history",
        f"/compounds/{compound}",
    ]
    read = {}
    for path in paths:
        response = api.client.get(path, headers=api.world.headers("staff"))
        assert response.status_code == 200, (path, response.text)
        read[path] = response.text
    staff = browser(app, api.world, "staff")
    for path in (f"/console/needs/{ids['need']}", "/console/needs", "/console/consultations"):
        response = staff.get(path)
        assert response.status_code == 200, (path, response.text)
        read[path] = response.text
    return read


def figures(api: Api) -> Any:
    answer = api.get("supervisor", "/stats", compound_id=str(api.world.compound_id)).json()
    answer.pop("generated_at")
    return answer


def test_erased_data_reads_as_erased_everywhere_and_the_record_stays_whole(
    api: Api, app: FastAPI, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    services = api.world.services
    ids = seed(api)
    settle(services)

    # Sealed from the start: the texts were never in the log as written.
    notifications = services.app.recorder.select_notifications(start=1, limit=100_000)  # type: ignore[attr-defined]
    stored = "\n".join(_text(n.state) for n in notifications)
    for what in ("title", "description", "note", "comment", "withdrawn", "visit_notes", "opinion", "list_opinion"):
        assert THEIRS[what] not in stored, what
    # ... and readable to those who may read them, until the erasure.
    before = pages(api, app, ids)
    assert THEIRS["title"] in before[f"/needs/{ids['need']}"]
    assert THEIRS["visit_notes"] in before[f"/visits?compound_id={api.world.compound_id}"]
    assert THEIRS["opinion"] in before[f"/consultations/{ids['consultation']}"]
    stats_before = figures(api)

    point_the_command_line_at(services, monkeypatch)
    admin = api.world.actors["admin"].id
    capsys.readouterr()
    assert main(["people", "erase", ids["person"], "--reason", "本人申请删除个人信息", "--by", admin]) == 0
    out = capsys.readouterr().out
    assert "erased" in out and "1 credential(s) revoked" in out
    settle(services)

    after = pages(api, app, ids)
    for path, text in after.items():
        for what, value in THEIRS.items():
            assert value not in text, (path, what)
    assert ERASED in after[f"/needs/{ids['need']}"]
    assert ERASED in after[f"/visits?compound_id={api.world.compound_id}"]
    assert ERASED in after[f"/consultations/{ids['consultation']}"]
    assert ERASED in after[f"/commitments/{ids['commitment']}"]
    assert ERASED in after[f"/console/needs/{ids['need']}"]
    erased = services.people.get(ids["person"])
    assert erased is not None and (erased.display_name, erased.owner_key) == (ERASED, None)
    # Another resident's need is as it was.
    kept = api.get("staff", f"/needs/{ids['kept']}").json()
    assert kept["title"] == KEPT_TITLE

    # Nowhere in the database's readable columns.
    stored = every_readable_value(services)
    for what, value in THEIRS.items():
        assert value not in stored, what

    # The record of how the case was handled, and the figures, are unchanged.
    need = api.get("staff", f"/needs/{ids['need']}").json()
    assert (need["status"], need["evaluation"]) == ("closed", "satisfied")
    assert figures(api) == stats_before
    # The trail still shows every step, in order.
    trail = api.get("staff", f"/needs/{ids['need']}/history").json()["events"]
    assert [e["event_type"] for e in trail][:2] == ["Registered", "Accepted"]

    # The log verifies: no stored byte changed.
    capsys.readouterr()
    assert main(["audit", "verify"]) == 0, capsys.readouterr().out
    # Views rebuilt from the log read the same: the key is gone for good.
    assert main(["projections", "rebuild"]) == 0
    settle(services)
    rebuilt = api.get("staff", f"/needs/{ids['need']}").json()
    assert (rebuilt["title"], rebuilt["description"], rebuilt["status"]) == (ERASED, ERASED, "closed")
    history = api.client.get(f"/needs/{ids['need']}/history", headers=api.world.headers("staff")).text
    assert not any(value in history for value in THEIRS.values())

    # The person can no longer sign in, and their case takes no new text.
    assert api.get("erased", f"/needs/{ids['need']}").status_code == 401
    head = api.log_position()
    refused = api.post("staff", f"/needs/{ids['open']}/notes", {"text": "补充说明"})
    assert refused.status_code == 409 and "erased" in refused.text, refused.text
    assert api.log_position() == head
    api.ok("staff", f"/needs/{ids['open']}/assign", {"party_id": str(api.world.parties["property_company"])})
    api.ok("staff", f"/needs/{ids['kept']}/notes", {"text": "无关"})

    # Erasing again completes and records nothing new; unknown ids and
    # non-administrators are refused (exit 2), nothing written.
    head = api.log_position()
    assert main(["people", "erase", ids["person"], "--reason", "再次", "--by", admin]) == 0
    assert "recorded before" in capsys.readouterr().out
    assert api.log_position() == head
    assert main(["people", "erase", "no-such-person", "--reason", "x", "--by", admin]) == 2
    staff = api.world.actors["staff"].id
    assert main(["people", "erase", ids["person"], "--reason", "x", "--by", staff]) == 2
    assert api.log_position() == head


def test_a_household_owner_given_by_name_becomes_a_person_and_the_log_holds_no_name(
    api: Api,
) -> None:
    world = api.world
    building = api.ok("staff", f"/compounds/{world.compound_id}/buildings", {"name": "8号楼"})["part_id"]
    added = api.ok("staff", f"/compounds/{world.compound_id}/households", {
        "building_id": building, "number": "801", "exclusive_area": "80", "owner_name": "业主张无忌NM1",
    })
    settle(world.services)
    compound = api.get("staff", f"/compounds/{world.compound_id}").json()
    (household,) = [h for h in compound["households"] if h["id"] == added["part_id"]]
    owner = world.services.people.get(household["owner_id"])
    assert owner is not None and owner.display_name == "业主张无忌NM1"
    events = world.services.app.recorder.select_events(world.compound_id)  # type: ignore[attr-defined]
    assert not any("业主张无忌NM1".encode() in e.state for e in events)
    assert not any("\\u4e1a\\u4e3b\\u5f20".encode() in e.state for e in events)

    # A name that is not the named person's is refused, nothing written.
    head = api.log_position()
    refused = api.post("staff", f"/compounds/{world.compound_id}/households", {
        "building_id": building, "number": "802", "exclusive_area": "80",
        "owner_id": owner.id, "owner_name": "别人",
    })
    assert refused.status_code == 422 and "owner_name" in refused.text
    assert api.log_position() == head


def test_a_destroyed_key_leaves_no_trace_in_the_sqlite_files(services: Services) -> None:
    """SQLite: the key's bytes are overwritten (secure_delete) and the WAL
    checkpointed, so the files on disk no longer hold it."""
    if services.settings.store != "sqlite":
        pytest.skip("PostgreSQL vacuums the table; its WAL is the server's (README)")
    keys = services.person_keys
    key = keys.for_sealing("person-k").hex().encode()
    for n in range(20):
        keys.for_sealing(f"person-{n}")
    path = services.settings.sqlite_path

    def on_disk() -> bool:  # the database file, its WAL and shared memory
        return any(key in p.read_bytes() for p in path.parent.glob(path.name + "*"))

    assert on_disk()
    keys.destroy("person-k", "admin-1")
    assert keys.for_opening("person-k") is None and keys.erased_at("person-k")
    assert not on_disk()

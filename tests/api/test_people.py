"""Persons, not names (issue 20): one identity per person, credentials that
are checked when issued, what exists listed for operators, households
imported from a file, admins who only issue credentials.

Credentials here are issued as an operator issues them, through ``linli``'s
own command line (run in-process against the test's store), and used through
HTTP; every test runs on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.cli import console as cli_console
from api.cli import main
from infrastructure.settings import Settings
from infrastructure.store import Services
from tests.world import World


def settings_env(settings: Settings) -> dict[str, str]:
    """The environment under which ``linli`` opens the same store."""
    if settings.store == "sqlite":
        return {"LINLI_STORE": "sqlite", "LINLI_SQLITE_PATH": str(settings.sqlite_path)}
    return {
        "LINLI_STORE": "postgres",
        "LINLI_POSTGRES_HOST": settings.postgres_host,
        "LINLI_POSTGRES_PORT": str(settings.postgres_port),
        "LINLI_POSTGRES_USER": settings.postgres_user,
        "LINLI_POSTGRES_PASSWORD": settings.postgres_password,
        "LINLI_POSTGRES_DB": settings.postgres_db,
        "LINLI_POSTGRES_SCHEMA": settings.postgres_schema,
        "LINLI_POSTGRES_POOL_SIZE": "2",
    }


@dataclass
class Cli:
    """``linli ARGS...`` against the test's store: (exit status, stdout)."""

    capsys: pytest.CaptureFixture[str]

    def __call__(self, *argv: str) -> tuple[int, str]:
        self.capsys.readouterr()
        code = main(list(argv))
        return code, self.capsys.readouterr().out

    def json(self, *argv: str) -> list[dict[str, Any]]:
        code, out = self(*argv, "--json")
        assert code == 0, out
        return json.loads(out)  # type: ignore[no-any-return]

    def token(self, *argv: str) -> tuple[str, str]:
        """Issue a credential: (the person's id, the token)."""
        code, out = self("token", "create", *argv)
        assert code == 0, out
        lines = out.strip().splitlines()
        person_id = lines[0].rsplit("(", 1)[1].rstrip(")")
        return person_id, lines[-1]


@pytest.fixture
def cli(services: Services, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Cli:
    for name, value in settings_env(services.settings).items():
        monkeypatch.setenv(name, value)
    return Cli(capsys)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def log_position(services: Services) -> int:
    return services.app.recorder.max_notification_id() or 0


def register_need(client: TestClient, token: str, compound_id: uuid.UUID, **fields: str) -> dict[str, Any]:
    body = {
        "compound_id": str(compound_id),
        "source": "self_report",
        "title": "楼道灯不亮",
        "description": "三楼楼道灯坏了",
        **fields,
    }
    response = client.post("/needs", json=body, headers=bearer(token))
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


# ----- one identity per person --------------------------------------------------------


def test_two_residents_of_one_name_are_two_persons(
    client: TestClient, world: World, cli: Cli, services: Services
) -> None:
    """Two 张三 of two households: the second cannot list, read, withdraw or
    evaluate the first's report (404, nothing written); the trail names the
    first by their own id."""
    c = str(world.compound_id)
    first, first_token = cli.token("--name", "张三", "--role", "resident", "--compound", c,
                                   "--household", str(world.households[0]))
    second, second_token = cli.token("--name", "张三", "--role", "resident", "--compound", c,
                                     "--household", str(world.households[1]))
    assert first != second
    need = register_need(client, first_token, world.compound_id)
    after = {"after": need["position"]}

    listed = client.get("/needs", params=after, headers=bearer(second_token)).json()
    assert [n["id"] for n in listed["items"]] == []
    own = client.get("/needs", params=after, headers=bearer(first_token)).json()
    assert [n["id"] for n in own["items"]] == [need["id"]]

    before = log_position(services)
    assert client.get(f"/needs/{need['id']}", params=after, headers=bearer(second_token)).status_code == 404
    assert client.get(f"/needs/{need['id']}/history", headers=bearer(second_token)).status_code == 404
    for command, body in (("withdraw", {"reason": "不需要了"}), ("evaluate", {"evaluation": "unsatisfied", "comment": "没修"})):
        refused = client.post(f"/needs/{need['id']}/{command}", json=body, headers=bearer(second_token))
        assert refused.status_code == 404, (command, refused.text)
    assert log_position(services) == before

    history = client.get(f"/needs/{need['id']}/history", headers=world.headers("supervisor")).json()
    assert [(e["actor_id"], e["actor_name"], e["actor_role"]) for e in history["events"]] == [
        (first, "张三", "resident")
    ]
    people = {p["id"]: p for p in cli.json("people", "list")}
    assert people[first]["display_name"] == people[second]["display_name"] == "张三"


def test_a_resident_named_like_a_staff_member_is_another_person(
    client: TestClient, world: World, cli: Cli, services: Services
) -> None:
    c = str(world.compound_id)
    staff, staff_token = cli.token("--name", "王芳", "--role", "community_staff", "--compound", c)
    resident, resident_token = cli.token("--name", "王芳", "--role", "resident", "--compound", c,
                                         "--household", str(world.households[2]))
    need = register_need(client, staff_token, world.compound_id, source="hotline")
    after = {"after": need["position"]}
    listed = client.get("/needs", params=after, headers=bearer(resident_token)).json()
    assert listed["items"] == []
    before = log_position(services)
    assert client.get(f"/needs/{need['id']}", headers=bearer(resident_token)).status_code == 404
    refused = client.post(f"/needs/{need['id']}/evaluate", json={"evaluation": "unsatisfied", "comment": "差"},
                          headers=bearer(resident_token))
    assert refused.status_code == 404
    assert log_position(services) == before
    trail = client.get(f"/needs/{need['id']}/history", headers=world.headers("supervisor")).json()["events"]
    assert [(e["actor_id"], e["actor_role"]) for e in trail] == [(staff, "community_staff")]
    assert resident != staff


def test_a_second_credential_for_a_person_names_their_id(
    client: TestClient, world: World, cli: Cli
) -> None:
    c = str(world.compound_id)
    person, phone = cli.token("--name", "李四", "--role", "grid_worker", "--compound", c)
    code, out = cli("token", "create", "--person", person, "--role", "grid_worker", "--compound", c)
    assert code == 0
    assert person in out.splitlines()[0]
    new_phone = out.strip().splitlines()[-1]
    need = register_need(client, phone, world.compound_id, source="household_visit")
    again = client.get(f"/needs/{need['id']}/history", params={"after": need["position"]},
                       headers=bearer(new_phone)).json()
    assert again["events"][0]["actor_id"] == person
    tokens = [t for t in cli.json("token", "list") if t["person_id"] == person]
    assert len(tokens) == 2
    assert {t["person"] for t in tokens} == {"李四"}


# ----- credentials are checked --------------------------------------------------------


REFUSALS: list[tuple[str, Callable[[World], list[str]], str]] = [
    ("unknown compound", lambda w: ["--role", "community_staff", "--compound", str(uuid.uuid4())],
     "--compound: no such compound"),
    ("unknown party", lambda w: ["--role", "property_company", "--compound", str(w.compound_id),
                                 "--party", str(uuid.uuid4())], "--party: no such party"),
    ("party of another kind", lambda w: ["--role", "property_company", "--compound", str(w.compound_id),
                                         "--party", str(w.parties["owners_committee"])],
     "is of kind owners_committee, not property_company"),
    ("party of another compound", lambda w: ["--role", "property_company", "--compound", str(w.compound_id),
                                             "--party", str(w.other_property_company)],
     f"serves compound"),
    ("household of no such compound's", lambda w: ["--role", "resident", "--compound", str(w.other_compound_id),
                                                   "--household", str(w.households[0])],
     "--household: no such household in compound"),
    ("resident without household", lambda w: ["--role", "resident", "--compound", str(w.compound_id)],
     "--household: a resident's credential names their household"),
    ("party staff without party", lambda w: ["--role", "co_building_unit", "--compound", str(w.compound_id)],
     "--party: a co_building_unit credential names the party it acts for"),
    ("a party on a role that has none", lambda w: ["--role", "grid_worker", "--compound", str(w.compound_id),
                                                   "--party", str(w.parties["property_company"])],
     "--party: only a party's staff credential names a party"),
    ("a grid worker of every compound", lambda w: ["--role", "grid_worker", "--all-compounds"],
     "--compound: a grid_worker credential names its compounds"),
]


@pytest.mark.parametrize(("case", "argv", "words"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_token_create_refuses_what_does_not_exist_or_fit(
    world: World, cli: Cli, case: str, argv: Callable[[World], list[str]], words: str
) -> None:
    tokens, people = cli.json("token", "list"), cli.json("people", "list")
    code, out = cli("token", "create", "--name", "某人", *argv(world))
    assert code == 2, out
    assert len(out.strip().splitlines()) == 1, out
    assert words in out
    assert cli.json("token", "list") == tokens
    assert cli.json("people", "list") == people


def test_token_create_for_an_unknown_person_is_refused(world: World, cli: Cli) -> None:
    tokens = cli.json("token", "list")
    code, out = cli("token", "create", "--person", "nobody", "--role", "supervisor", "--all-compounds")
    assert code == 2
    assert out.strip() == "--person: no such person: nobody (see `linli people list`)"
    assert cli.json("token", "list") == tokens


# ----- roles as DESIGN section 1 says --------------------------------------------------


def test_an_administrator_issues_credentials_and_writes_nothing(
    client: TestClient, world: World, services: Services
) -> None:
    c = str(world.compound_id)
    building = client.post(f"/compounds/{c}/buildings", json={"name": "9号楼"}, headers=world.headers("staff"))
    assert building.status_code == 201
    building_id = building.json()["part_id"]
    before = log_position(services)
    for path, body in (
        ("/compounds", {"name": "新小区"}),
        (f"/compounds/{c}/buildings", {"name": "10号楼"}),
        (f"/compounds/{c}/households", {"building_id": building_id, "number": "101", "exclusive_area": "80"}),
        ("/parties", {"compound_id": c, "kind": "co_building_unit", "name": "志愿队"}),
    ):
        refused = client.post(path, json=body, headers=world.headers("admin"))
        assert refused.status_code == 403, (path, refused.text)
    assert log_position(services) == before


def test_another_compounds_party_is_refused_like_an_unknown_one(
    client: TestClient, world: World, services: Services
) -> None:
    """Naming a party of another compound reveals nothing: the answer is the
    one for a party that does not exist, but for the id it names."""
    need = register_need(client, world.tokens["resident"], world.compound_id)["id"]
    ok = client.post(f"/needs/{need}/accept", json={"priority": "normal", "category": "facilities"},
                     headers=world.headers("staff"))
    assert ok.status_code == 200
    before = log_position(services)
    answers = []
    for party in (world.other_property_company, uuid.uuid4()):
        refused = client.post(f"/needs/{need}/assign", json={"party_id": str(party)}, headers=world.headers("staff"))
        assert refused.status_code == 422
        answers.append(refused.json()["detail"][0]["msg"].replace(str(party), "PARTY"))
    assert answers[0] == answers[1] == "party_id: no such party in this compound: PARTY"
    assert log_position(services) == before


# ----- what exists, for operators ------------------------------------------------------


def test_operators_list_what_exists_by_compound(world: World, cli: Cli) -> None:
    here, there = str(world.compound_id), str(world.other_compound_id)
    assert {c["name"] for c in cli.json("compounds", "list")} == {"幸福里小区", "光明苑"}
    assert [c["id"] for c in cli.json("compounds", "list", "--compound", there)] == [there]
    parties = cli.json("parties", "list", "--compound", here)
    assert {p["kind"] for p in parties} == {"property_company", "owners_committee", "party_branch", "co_building_unit"}
    assert {p["compound"] for p in parties} == {"幸福里小区"}
    assert [p["name"] for p in cli.json("parties", "list", "--compound", there)] == ["光明物业"]
    households = cli.json("households", "list", "--compound", here)
    assert sorted((h["building"], h["unit"], h["exclusive_area"]) for h in households) == [
        ("1号楼", "101", "90"), ("1号楼", "102", "90"), ("1号楼", "103", "90")
    ]
    assert cli.json("households", "list", "--compound", there) == []
    theirs = {t["person"] for t in cli.json("token", "list", "--compound", there)}
    assert theirs == {"other_staff", "other_property", "supervisor", "admin"}
    people = {p["display_name"]: p for p in cli.json("people", "list", "--compound", there)}
    assert set(people) == theirs
    assert people["other_staff"]["roles"] == ["community_staff"]
    code, out = cli("people", "list", "--compound", str(uuid.uuid4()))
    assert code == 2 and "no such compound" in out


def test_lists_read_as_tables_for_people(world: World, cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    """A table names people and roles in Chinese; codes stay in --json."""
    monkeypatch.setattr(cli_console, "width", 160)  # a terminal's, not a pipe's 80
    code, out = cli("token", "list", "--compound", str(world.other_compound_id))
    assert code == 0
    assert "系统管理员" in out and "物业服务企业" in out and "光明物业" in out
    assert "property_company" not in out


# ----- households from a file ----------------------------------------------------------


CSV = (
    "building,unit,exclusive_area,owner_name,owner_key\n"
    "2号楼,101,100.00,孙业主,13800000001\n"
    "2号楼,102,80.00,孙业主,13800000001\n"
    "2号楼,201,95.50,钱业主,13800000002\n"
    "2号楼,202,60,,\n"
)


def test_households_import_all_and_again_nothing(
    world: World, cli: Cli, services: Services, tmp_path: Path
) -> None:
    """One owner of two units is one person with both; a re-run of the same
    file writes nothing."""
    here = str(world.compound_id)
    staff = world.actors["staff"].id
    sheet = tmp_path / "households.csv"
    sheet.write_text(CSV, encoding="utf-8")
    code, out = cli("households", "import", str(sheet), "--compound", here, "--by", staff)
    assert code == 0, out
    assert "4 household(s) added" in out
    rows = {(h["building"], h["unit"]): h for h in cli.json("households", "list", "--compound", here)}
    assert rows[("2号楼", "101")]["owner_id"] == rows[("2号楼", "102")]["owner_id"]
    assert rows[("2号楼", "101")]["owner"] == "孙业主"
    assert rows[("2号楼", "201")]["owner"] == "钱业主"
    assert rows[("2号楼", "202")]["owner_id"] is None
    owners = [p for p in cli.json("people", "list", "--compound", here) if p["units_owned"]]
    assert sorted((p["display_name"], p["units_owned"]) for p in owners) == [("孙业主", 2), ("钱业主", 1)]

    position, people = log_position(services), cli.json("people", "list")
    code, out = cli("households", "import", str(sheet), "--compound", here, "--by", staff)
    assert code == 0, out
    assert "0 household(s) added, 4 already registered" in out
    assert log_position(services) == position
    assert cli.json("people", "list") == people
    # The events name the importer by their person id, in their role.
    compound = services.app.get_compound(world.actors["staff"], world.compound_id)
    assert len(compound.households) == 3 + 4


def test_a_households_file_with_refused_rows_writes_nothing(
    world: World, cli: Cli, services: Services, tmp_path: Path
) -> None:
    here = str(world.compound_id)
    sheet = tmp_path / "bad.csv"
    sheet.write_text(
        "楼栋,房号,专有面积,业主姓名,业主标识\n"
        "3号楼,101,88,周业主,13900000001\n"  # line 2: fine
        "3号楼,102,-5,吴业主,13900000002\n"  # line 3: no area
        "3号楼,103,70,郑业主,13900000001\n"  # line 4: that key is 周业主's
        "3号楼,101,88,周业主,13900000001\n"  # line 5: line 2 again
        "1号楼,101,120,冯业主,13900000003\n"  # line 6: registered with 90 m²
        "3号楼,104,70,王业主,\n",  # line 7: a name without a key
        encoding="utf-8",
    )
    position, people = log_position(services), cli.json("people", "list")
    code, out = cli("households", "import", str(sheet), "--compound", here, "--by", world.actors["staff"].id)
    assert code == 2, out
    refused = dict(
        line.removeprefix(f"{sheet}:").split(": ", 1)
        for line in out.splitlines()
        if line.startswith(str(sheet))
    )
    assert list(refused) == ["3", "4", "5", "6", "7"]
    assert "exclusive_area" in refused["3"]
    assert "周业主 on line 2" in refused["4"]
    assert "line 2" in refused["5"]
    assert "90 m²" in refused["6"]
    assert "owner_key" in refused["7"]
    assert "nothing imported: 5 row(s) refused" in out
    assert log_position(services) == position
    assert cli.json("people", "list") == people


def test_only_a_compounds_staff_imports_its_households(world: World, cli: Cli, tmp_path: Path) -> None:
    sheet = tmp_path / "households.csv"
    sheet.write_text(CSV, encoding="utf-8")
    for who in ("other_staff", "grid_worker"):
        code, out = cli("households", "import", str(sheet), "--compound", str(world.compound_id),
                        "--by", world.actors[who].id)
        assert code == 2
        assert "holds no active community staff credential" in out

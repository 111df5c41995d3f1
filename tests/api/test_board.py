"""The public notice board (公示栏, DESIGN 3.6) through HTTP, on SQLite and
PostgreSQL: what it shows, that it shows nothing personal, its link's
rotation, and who may make and read the link."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from fastapi.testclient import TestClient

from domain.actor import Role
from tests.api.client import Api
from tests.world import REGISTRAR, World

UUID_TEXT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


def settle(world: World) -> int:
    """Wait until the views show every event written so far."""
    position = world.services.app.recorder.max_notification_id() or 0
    assert world.services.updater.wait_for(position, 10)
    return position


def due(days: int) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def new_link(api: Api, who: str = "staff") -> dict[str, Any]:
    return api.ok(who, f"/compounds/{api.world.compound_id}/board-link")


# ----- a compound with something on every part of the board ------------------------------

# Strings only a person's record holds: none may appear on the board.
PERSONAL = {
    "resident_name": "居民杨过RZ",
    "owner_name": "业主郭靖XJ",
    "household": "8-808XJ",
    "need_title": "诉求标题PQ7",
    "need_description": "诉求描述PQ8",
    "outcome": "办理结果RS6",
    "note": "进展备注NT3",
    "comment": "评价意见CM9",
    "consultation_opinion": "议事意见OP1",
    "list_opinion": "清单意见OP2",
    "voter_1": "业主欧阳锋ZQ1",
    "voter_2": "业主黄药师ZQ2",
    "voter_3": "业主洪七公ZQ3",
    "visit_notes": "走访备注VN4",
    "visit_need": "现场诉求VN5",
    "supervision": "督办意见SV2",
}
TOPIC = "9号楼加装电梯方案"
MOTION = "同意9号楼加装电梯，费用按面积分摊"
ITEMS = [
    {"number": 1, "title": "楼道保洁", "standard": "每日清扫一次，每周湿拖两次", "frequency": "每日", "time_limit": "24h"},
    {"number": 2, "title": "电梯维保", "standard": "故障2小时内到场", "frequency": "每月", "time_limit": "2h"},
]


@dataclass
class Seeded:
    commitment: str
    consultation: str
    person_ids: list[str]
    household_ids: list[str]


def seed(api: Api) -> Seeded:
    world, services = api.world, api.world.services
    app = services.app
    compound = world.compound_id
    pc = str(world.parties["property_company"])

    # A resident and an owner with names of their own, in a household with its label.
    owner = services.people.register(PERSONAL["owner_name"], created_by="test")
    building, _ = app.add_building(REGISTRAR, compound, name="9号楼")
    household, _ = app.add_household(
        REGISTRAR, compound, building_id=building, number=PERSONAL["household"],
        exclusive_area=Decimal("88.5"), owner_id=owner.id,
    )
    person = services.people.register(PERSONAL["resident_name"], created_by="test")
    issued = services.credentials.issue(
        person_id=person.id, role=Role.RESIDENT, compound_ids=[compound], household_id=household
    )
    world.tokens["named_resident"] = issued.token
    world.actors["named_resident"] = issued.actor

    # A service list in effect, a resident's opinion, an inspection, a need under item 2.
    commitment = api.ok("party_branch", "/commitments", {
        "compound_id": str(compound), "provider_party_id": pc, "title": "2026年物业服务清单",
        "items": ITEMS,
    })["id"]
    api.ok("named_resident", f"/commitments/{commitment}/opinions", {"text": PERSONAL["list_opinion"]})
    for who in ("party_branch", "owners_committee", "property_company"):
        api.ok(who, f"/commitments/{commitment}/confirm", {"list_version": 1})
    api.ok("staff", f"/commitments/{commitment}/inspections", {"item_no": 1, "result": "met", "note": "抽查合格"})
    api.ok("staff", f"/commitments/{commitment}/inspections", {"item_no": 1, "result": "not_met", "note": "三楼未清扫"})

    # The resident's need, handled under item 2 and evaluated: the rates.
    need = api.ok("named_resident", "/needs", {
        "compound_id": str(compound), "source": "self_report", "household_id": str(household),
        "title": PERSONAL["need_title"], "description": PERSONAL["need_description"],
    })["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": pc, "commitment_id": commitment, "commitment_item_no": 2})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/notes", {"text": PERSONAL["note"]})
    api.ok("supervisor", f"/needs/{need}/supervise", {"text": PERSONAL["supervision"]})
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": PERSONAL["outcome"]})
    api.ok("named_resident", f"/needs/{need}/evaluate", {
        "evaluation": "basically_satisfied", "comment": PERSONAL["comment"], "resolved": True,
    })

    # A vote of three owners, adopted, published, with two action items, one done.
    consultation = api.ok("party_branch", "/consultations", {"compound_id": str(compound), "topic": TOPIC})["id"]
    api.ok("owners_committee", f"/consultations/{consultation}/convene", {
        "meets_at": "2026-03-10T19:00:00+08:00", "place": "社区党群服务中心", "method": "vote",
        "motion": MOTION, "matter": "ordinary",
        "electorate": [
            {"owner_id": PERSONAL["voter_1"], "exclusive_area": "100"},
            {"owner_id": PERSONAL["voter_2"], "exclusive_area": "80"},
            {"owner_id": PERSONAL["voter_3"], "exclusive_area": "120"},
        ],
    })
    api.ok("named_resident", f"/consultations/{consultation}/opinions", {"text": PERSONAL["consultation_opinion"]})
    for voter, choice in (("voter_1", "for"), ("voter_2", "for"), ("voter_3", "against")):
        api.ok("staff", f"/consultations/{consultation}/votes", {"choice": choice, "owner_id": PERSONAL[voter]})
    api.ok("party_branch", f"/consultations/{consultation}/close-vote")
    api.ok("party_branch", f"/consultations/{consultation}/publish", {"note": "张贴于各楼栋"})
    api.ok("staff", f"/consultations/{consultation}/actions", {"items": [
        {"title": "委托设计单位出具方案", "party_id": pc, "due_on": due(30)},
        {"title": "组织施工并验收", "party_id": str(world.parties["owners_committee"]), "due_on": due(90)},
    ]})
    api.ok("property_company", f"/consultations/{consultation}/actions/1/complete", {"note": "已出图"})

    # A visit to the named household, with a need on the spot.
    api.ok("grid_worker", "/visits", {
        "compound_id": str(compound), "household_id": str(household), "notes": PERSONAL["visit_notes"],
        "needs": [{"title": PERSONAL["visit_need"], "description": PERSONAL["visit_need"] + "，详情"}],
    })
    settle(world)
    return Seeded(
        commitment=commitment,
        consultation=consultation,
        person_ids=[person.id, owner.id, *(a.id for a in world.actors.values())],
        household_ids=[str(household), *(str(h) for h in world.households)],
    )


@pytest.fixture
def seeded(api: Api) -> Seeded:
    return seed(api)


# ----- what the board shows ------------------------------------------------------------


def test_the_board_shows_the_lists_the_vote_the_rates_and_the_coverage(
    api: Api, client: TestClient, seeded: Seeded
) -> None:
    link = new_link(api)
    assert link["path"].startswith("/board/") and link["url"].endswith(link["path"])
    data = client.get(link["data_path"])
    assert data.status_code == 200, data.text
    b = data.json()
    assert b["compound"]["name"] == "幸福里小区"
    assert b["generated_at"].endswith("+08:00")

    # The service list in effect: its items, standards and this month's fulfilment.
    (listed,) = b["service_lists"]
    assert listed["title"] == "2026年物业服务清单"
    assert listed["provider"] == {"name": "property_company 甲", "kind": "property_company", "kind_zh": "物业服务企业"}
    assert listed["status_zh"] == "公示生效" or listed["status"] == "in_effect"
    items = {i["number"]: i for i in listed["items"]}
    assert items[1]["standard"] == "每日清扫一次，每周湿拖两次"
    assert items[1]["time_limit_zh"] == "24 小时"
    assert items[1]["fulfilment"]["inspections_met"] == 1
    assert items[1]["fulfilment"]["inspections_not_met"] == 1
    assert items[1]["fulfilment"]["rate"] == 0.5
    assert items[2]["fulfilment"]["needs_assigned"] == 1
    assert items[2]["fulfilment"]["needs_resolved"] == 1

    # The vote: participation and approval by heads and by area, exact.
    (outcome,) = b["consultations"]
    assert outcome["topic"] == TOPIC
    assert outcome["outcome"] == "adopted" and outcome["outcome_zh"] == "通过"
    assert outcome["resolution"] == MOTION
    vote = outcome["vote"]
    assert vote["participation_owners"]["fraction"] == "1/1"
    assert vote["participation_area"] == {"fraction": "1/1", "numerator": 1, "denominator": 1, "percent": 100.0}
    assert vote["approval_owners"] == {"fraction": "2/3", "numerator": 2, "denominator": 3, "percent": 66.67}
    assert vote["approval_area"]["fraction"] == "3/5" and vote["approval_area"]["percent"] == 60.0
    assert vote["counts"] == {"for": 2, "against": 1, "abstain": 0}
    assert vote["quorum_reached"] is True and vote["approved"] is True
    assert [(a["title"], a["done"], a["party"]["name"]) for a in outcome["actions"]] == [
        ("委托设计单位出具方案", True, "property_company 甲"),
        ("组织施工并验收", False, "owners_committee 甲"),
    ]
    assert outcome["actions_done"] == 1 and outcome["actions_total"] == 2

    # The property company's rates this month.
    (rates,) = [r for r in b["rates"] if r["party"]["kind"] == "property_company" and r["month"] == b["month"]]
    assert rates["accepted"] == 1
    for name in ("response_rate", "resolution_rate", "confirmed_resolution_rate", "satisfaction_rate"):
        assert rates[name] == {"numerator": 1, "denominator": 1, "rate": 1.0}, name

    # Coverage by building: the visit to 9号楼 this month.
    this_month = {c["building"]: c for c in b["visit_coverage"] if c["month"] == b["month"]}
    assert this_month["9号楼"] == {"month": b["month"], "building": "9号楼", "households": 1, "visited": 1, "rate": 1.0}
    assert this_month["1号楼"]["visited"] == 0 and this_month["1号楼"]["households"] == 3
    assert b["offers"] == []

    # The page shows the same, in Chinese.
    page = client.get(link["path"])
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    for shown in ("幸福里小区", "公示栏", "楼道保洁", "每日清扫一次，每周湿拖两次", "24 小时", TOPIC, MOTION,
                  "通过", "2/3", "66.67%", "3/5", "60%", "委托设计单位出具方案", "响应率", "办结率",
                  "解决率", "满意率", "9号楼", "1/1", "北京时间"):
        assert shown in html, shown


def test_nothing_personal_on_any_public_page(api: Api, client: TestClient, seeded: Seeded) -> None:
    link = new_link(api)
    css = client.get("/board/static/board.css")
    assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
    answers = {
        "page": client.get(link["path"]),
        "data": client.get(link["data_path"]),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, name
        text = answer.text
        for what, personal in PERSONAL.items():
            assert personal not in text, f"{what} ({personal}) on the board's {name}"
        for person in seeded.person_ids:
            assert person not in text, f"a person's id on the board's {name}"
        for household in seeded.household_ids:
            assert household not in text, f"a household's id on the board's {name}"
        # No ids at all: of compounds, cases, parties, buildings.
        assert UUID_TEXT.search(text) is None, f"an id on the board's {name}: {UUID_TEXT.search(text)}"
    # What was seeded did reach the views the board reads.
    assert PERSONAL["need_title"] in api.get("staff", "/needs").text
    assert "楼道保洁" in answers["page"].text


def test_the_page_is_served_with_the_security_headers(api: Api, client: TestClient) -> None:
    link = new_link(api)
    page = client.get(link["path"])
    assert page.status_code == 200
    headers = page.headers
    assert "default-src 'none'" in headers["content-security-policy"]
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "no-referrer"
    assert headers["cache-control"] == "no-store"
    assert "noindex" in headers["x-robots-tag"]
    assert '<html lang="zh-CN">' in page.text
    assert 'name="viewport"' in page.text


# ----- the link -------------------------------------------------------------------------


def test_a_rotated_link_answers_404_and_the_new_one_200(api: Api, client: TestClient) -> None:
    world = api.world
    settle(world)
    first = new_link(api, "staff")
    assert client.get(first["path"]).status_code == 200
    assert client.get(first["data_path"]).status_code == 200
    token = first["path"].rsplit("/", 1)[-1]
    assert len(token) >= 22  # at least 128 bits of token_urlsafe

    second = new_link(api, "party_branch")
    assert second["path"] != first["path"]
    for path in (first["path"], first["data_path"]):
        gone = client.get(path)
        assert gone.status_code == 404
        # The same as a path that never existed: no hint that it once did.
        assert gone.json() == client.get("/no-such-path").json() == {"detail": "Not Found"}
    assert client.get(second["path"]).status_code == 200
    assert client.get(second["data_path"]).status_code == 200
    for unknown in ("x", "A" * 43, "A" * 500, token[:-1] + ("A" if token[-1] != "A" else "B")):
        assert client.get(f"/board/{unknown}").status_code == 404
        assert client.get(f"/board/{unknown}/data").status_code == 404

    # The current link and every rotation: who made it, as what, when; no old token.
    state = api.get("staff", f"/compounds/{world.compound_id}/board-link")
    assert state.status_code == 200, state.text
    body = state.json()
    assert body["link"]["path"] == second["path"]
    assert body["link"]["replaced_links"] == 1
    made = [(r["created_by"], r["created_by_role"], r["replaced_by"], r["replaced_by_role"]) for r in body["rotations"]]
    staff, branch = world.actors["staff"].id, world.actors["party_branch"].id
    assert made == [
        (staff, "community_staff", branch, "party_branch"),
        (branch, "party_branch", None, None),
    ]
    assert all(r["created_at"].endswith("+00:00") for r in body["rotations"])
    assert token not in state.text

    # The tokens are secrets: never in the event log.
    recorder = world.services.app.recorder
    for notification in recorder.select_notifications(start=1, limit=10_000):
        assert token.encode() not in notification.state
        assert second["path"].rsplit("/", 1)[-1].encode() not in notification.state


def test_the_link_before_any_is_made(api: Api, client: TestClient) -> None:
    state = api.get("party_branch", f"/compounds/{api.world.compound_id}/board-link")
    assert state.status_code == 200
    assert state.json() == {"compound_id": str(api.world.compound_id), "link": None, "rotations": []}


def test_an_idempotency_key_makes_one_link(api: Api, client: TestClient) -> None:
    path = f"/compounds/{api.world.compound_id}/board-link"
    first = api.ok("staff", path, headers={"Idempotency-Key": "board-1"})
    again = api.ok("staff", path, headers={"Idempotency-Key": "board-1"})
    assert again["path"] == first["path"]
    assert client.get(first["path"]).status_code == 200
    other = api.ok("staff", path, headers={"Idempotency-Key": "board-2"})
    assert other["path"] != first["path"]
    assert client.get(first["path"]).status_code == 404


def test_who_may_make_and_read_the_link(api: Api, client: TestClient) -> None:
    world = api.world
    path = f"/compounds/{world.compound_id}/board-link"
    for method in ("GET", "POST"):
        assert client.request(method, path).status_code == 401
        forged = {"Authorization": "Bearer linli_not-a-token"}
        assert client.request(method, path, headers=forged).status_code == 401
    for who in ("resident", "grid_worker", "owners_committee", "property_company",
                "co_building_unit", "supervisor", "admin"):
        assert api.post(who, path).status_code == 403, who
        assert api.get(who, path).status_code == 403, who
    # Staff of another compound: as if it did not exist.
    assert api.post("other_staff", path).status_code == 404
    assert api.get("other_staff", path).status_code == 404
    missing = "/compounds/00000000-0000-4000-8000-000000000000/board-link"
    assert api.post("staff", missing).status_code == 404
    for who in ("staff", "party_branch"):
        assert api.post(who, path).status_code == 201, who
        assert api.get(who, path).status_code == 200, who
    # Nothing about the link is public but the board itself.
    assert client.get(path).status_code == 401


def test_the_answers_validate_against_the_published_schema(
    api: Api, client: TestClient, seeded: Seeded
) -> None:
    """As tests/api/test_response_models.py checks every GET route: each answer
    validates against its route's model and the OpenAPI document, unchanged."""
    import jsonschema_rs

    from api import board_schemas as bs

    new_link(api)
    document = client.get("/openapi.json").json()
    link = api.get("staff", f"/compounds/{api.world.compound_id}/board-link").json()
    asked = {
        "/board/{token}/data": (bs.Board, client.get(link["link"]["data_path"])),
        "/compounds/{compound_id}/board-link": (
            bs.BoardLinkState, api.get("staff", f"/compounds/{api.world.compound_id}/board-link")
        ),
    }
    for template, (model, answer) in asked.items():
        assert answer.status_code == 200, template
        schema = document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["$ref"].endswith("/" + model.__name__)
        validator = jsonschema_rs.validator_for(
            {**schema, "components": document["components"]}, validate_formats=True
        )
        body = answer.json()
        validator.validate(body)
        shown = model.model_validate(body)
        assert shown.model_dump(mode="json", by_alias=True, exclude_unset=True) == body, template
    assert "security" not in document["paths"]["/board/{token}/data"]["get"]
    assert document["paths"]["/compounds/{compound_id}/board-link"]["post"]["security"] == [{"HTTPBearer": []}]


def test_the_board_shows_the_units_offers_and_what_they_served(api: Api, client: TestClient) -> None:
    """Issue 24 items 1 and 4: a co-building unit's offer in force is on the
    board with the count of needs served under it, never those needs' texts."""
    from tests.api.test_offers import publish, served_need

    offer = publish(api, title="四点半课堂", category="education", capacity=30)
    served_need(api, offer["id"], "孩子放学无人照看QX1")
    withdrawn = publish(api, title="已撤回的服务WD")
    api.ok("co_building_unit", f"/offers/{withdrawn['id']}/withdraw", {"reason": "志愿者不足"})
    link = new_link(api)
    settle(api.world)
    board = client.get(link["data_path"]).json()
    (shown,) = board["offers"]
    assert shown["title"] == "四点半课堂" and shown["needs_served"] == 1
    assert shown["capacity"] == 30 and shown["category_zh"]
    unit = api.world.parties["co_building_unit"]
    names = {p["id"]: p["name"] for p in api.get("staff", "/parties").json()["items"]}
    assert shown["provider"]["name"] == names[str(unit)]
    page = client.get(link["path"]).text
    assert "四点半课堂" in page and "已服务诉求 1 件" in page
    assert "孩子放学无人照看QX1" not in page and "已撤回的服务WD" not in page

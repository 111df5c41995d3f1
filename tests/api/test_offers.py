"""Offers (服务项目) of co-building units through HTTP, on each store (DESIGN 2.5)."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from fastapi.testclient import TestClient

from tests.api.client import Api
from tests.world import World


def offer_body(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "compound_id": str(world.compound_id),
        "category": "elderly_care",
        "title": "独居老人陪伴",
        "description": "志愿者每周上门陪伴、代购",
        "capacity": 10,
        "schedule": "每周二、四下午",
        "starts_on": date.today().isoformat(),
        "ends_on": (date.today() + timedelta(days=180)).isoformat(),
        **fields,
    }


def publish(api: Api, **fields: Any) -> dict[str, Any]:
    return api.ok("co_building_unit", "/offers", offer_body(api.world, **fields))


def served_need(api: Api, offer_id: str, title: str) -> str:
    """A need assigned to the unit citing its offer, acknowledged, resolved and closed."""
    unit = str(api.world.parties["co_building_unit"])
    need = api.register(title=title, household_id=str(api.world.households[0]))["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": unit, "offer_id": offer_id})
    api.ok("co_building_unit", f"/needs/{need}/acknowledge")
    api.ok("co_building_unit", f"/needs/{need}/resolve", {"outcome": "已安排志愿者上门"})
    api.ok("resident", f"/needs/{need}/evaluate", {"evaluation": "satisfied"})
    return need


def test_an_offer_served_by_two_needs_counts_them(client: TestClient, world: World) -> None:
    api = Api(client, world)
    offer = publish(api)["id"]
    first = served_need(api, offer, "独居老人需要陪伴")
    second = served_need(api, offer, "老人需代购药品")
    api.register(title="不相关的诉求")  # not served under the offer
    position = api.log_position()

    got = api.get("resident", f"/offers/{offer}", after=position)
    assert got.status_code == 200, got.text
    shown = got.json()
    assert shown["needs_served"] == 2
    assert shown["served_need_ids"] == [first, second]
    assert (shown["status"], shown["status_zh"], shown["allowed_commands"]) == (
        "published", "已发布", ["change", "withdraw"],
    )
    assert shown["party_id"] == str(world.parties["co_building_unit"])

    need = api.get("staff", f"/needs/{first}", after=position).json()
    assert need["offer_id"] == offer

    listed = api.get("grid_worker", "/offers", compound_id=str(world.compound_id), after=position).json()
    assert [(o["id"], o["needs_served"]) for o in listed["items"]] == [(offer, 2)]
    assert listed["next_cursor"] is None

    # The offer's trail shows its own events and the needs served under it, in Chinese.
    trail = api.get("resident", f"/offers/{offer}/history", after=position).json()["events"]
    assert trail[0]["summary_zh"].startswith("co_building_unit 甲（共建单位） 发布服务项目「独居老人陪伴」：类别 为老服务")
    assigned = [e for e in trail if e["event"] == "Need.Assigned"]
    assert len(assigned) == 2
    assert "依据服务项目「独居老人陪伴」" in assigned[0]["summary_zh"]
    assert assigned[0]["summary_zh"].startswith("诉求「独居老人需要陪伴」：")


def test_an_offer_is_changed_and_withdrawn_by_its_unit(client: TestClient, world: World) -> None:
    api = Api(client, world)
    offer = publish(api)["id"]
    changed = api.ok("co_building_unit", f"/offers/{offer}/change", {"capacity": 15, "schedule": None, "reason": "志愿者增加"})
    assert changed["version"] == 2
    nothing = api.post("co_building_unit", f"/offers/{offer}/change", {"capacity": 15})
    assert nothing.status_code == 422
    refused = api.post("property_company", f"/offers/{offer}/withdraw", {"reason": "x"})
    assert refused.status_code == 403
    no_reason = api.post("co_building_unit", f"/offers/{offer}/withdraw", {})
    assert no_reason.status_code == 422 and "reason" in no_reason.text
    withdrawn = api.ok("co_building_unit", f"/offers/{offer}/withdraw", {"reason": "项目结束"})
    again = api.post("co_building_unit", f"/offers/{offer}/change", {"title": "新项目"})
    assert again.status_code == 409
    detail = again.json()["detail"]
    assert detail["current_status"] == "withdrawn" and detail["allowed"] == []
    assert detail["message"].startswith("cannot change when status is 'withdrawn'")

    shown = api.get("supervisor", f"/offers/{offer}", after=withdrawn["position"]).json()
    assert (shown["status"], shown["capacity"], shown["schedule"], shown["changes"]) == ("withdrawn", 15, None, 1)
    assert shown["withdraw_reason"] == "项目结束" and shown["allowed_commands"] == []
    listed = api.get("staff", "/offers", status="published", after=withdrawn["position"]).json()
    assert listed["items"] == []
    by_party = api.get(
        "staff", "/offers", party_id=str(world.parties["co_building_unit"]), after=withdrawn["position"]
    ).json()
    assert [o["id"] for o in by_party["items"]] == [offer]
    trail = api.get("staff", f"/offers/{offer}/history").json()["events"]
    assert [e["summary_zh"] for e in trail[1:]] == [
        "修改服务项目「独居老人陪伴」：名额、时间安排；理由：志愿者增加",
        "撤回服务项目：项目结束",
    ]


def test_an_assignment_citing_an_offer_is_checked(client: TestClient, world: World) -> None:
    api = Api(client, world)
    offer = publish(api)["id"]
    unit = str(world.parties["co_building_unit"])
    pc = str(world.parties["property_company"])
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})

    def refused(body: dict[str, Any], words: str) -> None:
        answer = api.post("staff", f"/needs/{need}/assign", body)
        assert answer.status_code == 422, answer.text
        detail = answer.json()["detail"]
        assert any(e["loc"] == ["body", "offer_id"] and words in e["msg"] for e in detail), detail

    refused({"party_id": pc, "offer_id": offer}, "not the assigned party's own offer")
    refused({"party_id": unit, "offer_id": "00000000-0000-4000-8000-000000000099"}, "no such offer")
    withdrawn = publish(api, title="已结束的项目")["id"]
    api.ok("co_building_unit", f"/offers/{withdrawn}/withdraw", {"reason": "结束"})
    refused({"party_id": unit, "offer_id": withdrawn}, "withdrawn")


def test_offers_are_read_within_ones_compounds_and_published_by_units_only(
    client: TestClient, world: World
) -> None:
    api = Api(client, world)
    offer = publish(api)
    assert api.post("property_company", "/offers", offer_body(world)).status_code == 403
    away = api.post("co_building_unit", "/offers", offer_body(world, compound_id=str(world.other_compound_id)))
    assert away.status_code == 422 and "compound_id" in away.text
    bad = api.post("co_building_unit", "/offers", offer_body(world, ends_on="2000-01-01"))
    assert bad.status_code == 422 and "ends_on" in bad.text
    assert api.get("other_property", f"/offers/{offer['id']}", after=offer["position"]).status_code == 404
    assert api.get("other_property", "/offers", after=offer["position"]).json()["items"] == []
    assert api.get("admin", "/offers").status_code == 403


def test_the_needs_csv_says_whom_a_need_was_raised_by_and_which_offer_served_it(
    client: TestClient, world: World
) -> None:
    """Both ways in the export (DESIGN 2.5): the English columns gain
    ``toward``, ``raised_by_party_id`` and ``offer_id`` at the end (the
    others keep their places); the Chinese export names the party and the offer."""
    import csv
    import io

    from api.export import NEED_COLUMNS

    api = Api(client, world)
    offer = publish(api)["id"]
    served = served_need(api, offer, "独居老人需要陪伴")
    unit = str(world.parties["co_building_unit"])
    raised = api.ok("co_building_unit", "/needs", {
        "compound_id": str(world.compound_id), "source": "party_request",
        "title": "活动场地协调", "description": "需要社区协调活动室",
    })["id"]
    position = api.log_position()

    english = api.get("staff", "/needs", compound_id=str(world.compound_id), format="csv", after=position)
    rows = {r["id"]: r for r in csv.DictReader(io.StringIO(english.text.lstrip("\ufeff")))}
    assert list(NEED_COLUMNS[-4:]) == ["version", "toward", "raised_by_party_id", "offer_id"]
    assert (rows[served]["offer_id"], rows[served]["toward"]) == (offer, "")
    assert (rows[raised]["toward"], rows[raised]["raised_by_party_id"]) == ("compound", unit)

    chinese = api.get(
        "staff", "/needs", compound_id=str(world.compound_id), format="csv", lang="zh", after=position
    )
    zh = {r["诉求编号"]: r for r in csv.DictReader(io.StringIO(chinese.text.lstrip("\ufeff")))}
    assert (zh[served]["服务项目"], zh[served]["服务项目编号"]) == ("独居老人陪伴", offer)
    assert (zh[raised]["提出方向"], zh[raised]["提出单位"]) == ("向小区提出", "co_building_unit 甲")


def test_the_console_lists_offers_with_labels_names_and_needs_served(world: World) -> None:
    """The offers page (服务项目): the unit's name, Chinese labels, the period
    and how many needs each served; filtered by status."""
    from fastapi import FastAPI

    from tests.api.test_console_pages import browser, console_app

    app: FastAPI = console_app(world.services)
    with TestClient(app) as client:
        api = Api(client, world)
        offer = publish(api)["id"]
        served_need(api, offer, "独居老人需要陪伴")
        position = api.log_position()
        grid = browser(app, world, "grid_worker")
        page = grid.get("/console/offers", after=position)
        assert page.status_code == 200, page.text
        html = page.text
        assert 'href="/console/offers"' in html
        row = html[html.index(f'data-offer-id="{offer}"'):]
        row = row[: row.index("</tr>")]
        for shown in ("独居老人陪伴", "co_building_unit 甲", "已发布", "为老服务", "每周二、四下午"):
            assert shown in row, shown
        assert '<td data-label="已服务诉求" class="num">1</td>' in row
        withdrawn = grid.get("/console/offers", status="withdrawn", after=position).text
        assert 'id="no-offers"' in withdrawn and offer not in withdrawn

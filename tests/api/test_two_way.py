"""Both ways (DESIGN 2.5) through HTTP, on each store: a co-building unit's
need toward the compound, and the provider's evaluation of the compound's
side, in the trail and in the figures."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from fastapi.testclient import TestClient

from application.figures import two_way_figures
from tests.api.client import Api
from tests.world import World


def raise_toward_compound(api: Api, who: str = "co_building_unit") -> str:
    return api.ok(who, "/needs", {
        "compound_id": str(api.world.compound_id),
        "source": "party_request",
        "toward": "compound",
        "category": "public_service",
        "title": "借用活动室开展四点半课堂",
        "description": "每周二、四 16:30-18:00，需要活动室和 2 名志愿者",
    })["id"]


def test_a_units_need_toward_the_compound_runs_its_whole_lifecycle(
    client: TestClient, world: World
) -> None:
    api = Api(client, world)
    branch = str(world.parties["party_branch"])
    unit = str(world.parties["co_building_unit"])
    need = raise_toward_compound(api)
    position = api.log_position()

    # The unit sees it in its list from the start (its party raised it);
    # another party, and residents, do not.
    mine = api.get("co_building_unit", "/needs", after=position).json()["items"]
    assert [n["id"] for n in mine] == [need]
    assert (mine[0]["toward"], mine[0]["raised_by_party_id"], mine[0]["household_id"]) == (
        "compound", unit, None,
    )
    assert api.get("property_company", f"/needs/{need}").status_code == 404
    assert api.get("resident", "/needs").json()["items"] == []
    raised = api.get("staff", "/needs", toward="compound", raised_by_party_id=unit).json()["items"]
    assert [n["id"] for n in raised] == [need]

    api.ok("party_branch", f"/needs/{need}/accept", {"priority": "normal"})
    wrong = api.post("staff", f"/needs/{need}/assign", {"party_id": str(world.parties["property_company"])})
    assert wrong.status_code == 422 and "party branch" in wrong.text
    api.ok("staff", f"/needs/{need}/assign", {"party_id": branch})
    assert api.post("co_building_unit", f"/needs/{need}/acknowledge").status_code == 403
    api.ok("party_branch", f"/needs/{need}/acknowledge")
    api.ok("co_building_unit", f"/needs/{need}/notes", {"text": "家长约 30 人"})
    api.ok("staff", f"/needs/{need}/resolve", {"outcome": "二楼活动室每周二、四下午留用"})
    # The raising party's staff evaluate, not a resident nor staff for it without saying how.
    assert api.post("resident", f"/needs/{need}/evaluate", {"evaluation": "satisfied"}).status_code == 404
    closed = api.ok("co_building_unit", f"/needs/{need}/evaluate", {"evaluation": "satisfied", "resolved": True})

    shown = api.get("co_building_unit", f"/needs/{need}", after=closed["position"]).json()
    assert (shown["status"], shown["evaluation"], shown["source"]) == ("closed", "satisfied", "party_request")
    assert [e["party_id"] for e in shown["episodes"]] == [branch]
    trail = api.get("co_building_unit", f"/needs/{need}/history").json()["events"]
    assert "由 co_building_unit 甲（共建单位） 向小区提出" in trail[0]["summary_zh"]
    assert "来源 共建单位/物业提出" in trail[0]["summary_zh"]
    assert trail[-1]["summary_zh"] == "评价：满意；居民认为问题已解决。诉求归档"
    assert trail[-1]["actor_role_zh"] == "共建单位"
    # The party branch resolved it: no provider evaluates the compound's side of it.
    side = api.post("co_building_unit", f"/needs/{need}/evaluate-compound",
                    {"coordination": "satisfied", "cooperation": "satisfied"})
    assert side.status_code == 403


def test_the_provider_evaluates_the_compounds_side_and_the_figures_carry_both_ways(
    client: TestClient, world: World
) -> None:
    api = Api(client, world)
    pc = str(world.parties["property_company"])
    need = api.to_in_progress()  # the property company has it
    early = api.post("property_company", f"/needs/{need}/evaluate-compound",
                     {"coordination": "satisfied", "cooperation": "satisfied"})
    assert early.status_code == 409
    assert early.json()["detail"]["current_status"] == "in_progress"
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "电梯已修复"})
    api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "basically_satisfied", "obtained_by": "phone"})
    bad = api.post("property_company", f"/needs/{need}/evaluate-compound",
                   {"coordination": "great", "cooperation": "satisfied"})
    assert bad.status_code == 422 and "coordination" in bad.text
    assert api.post("co_building_unit", f"/needs/{need}/evaluate-compound",
                    {"coordination": "satisfied", "cooperation": "satisfied"}).status_code == 404
    done = api.ok("property_company", f"/needs/{need}/evaluate-compound", {
        "coordination": "satisfied", "cooperation": "unsatisfied", "comment": "部分居民不让进户",
    })
    again = api.post("property_company", f"/needs/{need}/evaluate-compound",
                     {"coordination": "satisfied", "cooperation": "satisfied"})
    assert again.status_code == 409

    shown = api.get("supervisor", f"/needs/{need}", after=done["position"]).json()
    side = shown["compound_side_evaluation"]
    assert (side["party_id"], side["coordination"], side["cooperation"], side["comment"]) == (
        pc, "satisfied", "unsatisfied", "部分居民不让进户",
    )
    trail = api.get("supervisor", f"/needs/{need}/history").json()["events"]
    assert trail[-1]["summary_zh"] == (
        "property_company 甲（物业服务企业） 评价小区方面：协调配合满意，居民配合不满意；意见：部分居民不让进户"
    )

    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    stats = api.get("supervisor", "/stats", party_id=pc, after=done["position"]).json()
    [row] = [r for r in stats["two_way"] if r["party_id"] == pc and r["month"] == month]
    assert row["compound_id"] == str(world.compound_id)
    assert row["residents"] == {
        "evaluated": 1, "satisfied": 0, "basically_satisfied": 1, "unsatisfied": 0,
        "satisfaction_rate": {"numerator": 1, "denominator": 1, "rate": 1.0},
    }
    assert row["compound_side"]["evaluated"] == 1
    assert row["compound_side"]["coordination"]["satisfied"] == 1
    assert row["compound_side"]["coordination"]["satisfaction_rate"]["rate"] == 1.0
    assert row["compound_side"]["cooperation"]["unsatisfied"] == 1
    assert row["compound_side"]["cooperation"]["satisfaction_rate"] == {
        "numerator": 0, "denominator": 1, "rate": 0.0,
    }
    # The same figures, for the monthly report, from the view rows alone.
    rows = list(world.services.views.iter_needs(now=datetime.now(UTC)))
    assert row in two_way_figures(rows, ZoneInfo("Asia/Shanghai"), {month})

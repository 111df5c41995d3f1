"""Consultations (协商议事) through HTTP, on SQLite and PostgreSQL: from needs
in dispute through a vote to an adopted resolution, its action items and the
needs back with their parties; and every refusal writing nothing."""

from __future__ import annotations

import uuid
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.client import Api
from tests.world import World

MEETS_AT = "2026-03-10T19:00:00+08:00"
MOTION = "使用专项维修资金更换2号楼电梯"


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


def due(days: int = 30) -> str:
    return (date.today() + timedelta(days=days)).isoformat()


def propose(api: Api, need_ids: list[str] | None = None, who: str = "party_branch") -> dict:
    body = {
        "compound_id": str(api.world.compound_id),
        "topic": "2号楼电梯反复停运，物业与业委会对维修方案有分歧",
        "need_ids": need_ids or [],
    }
    return api.ok(who, "/consultations", body)


def convene_vote(api: Api, consultation: str, **changes: Any) -> dict:
    body = {
        "meets_at": MEETS_AT,
        "place": "社区党群服务中心",
        "method": "vote",
        "motion": MOTION,
        "matter": "ordinary",
        "invited_party_ids": [str(api.world.parties["property_company"])],
        "invited_others": ["街道城建科"],
        **changes,
    }
    return api.ok("owners_committee", f"/consultations/{consultation}/convene", body)


def owner(api: Api, i: int) -> str:
    return str(api.world.households[i])


def view(api: Api, path: str, position: int, who: str = "supervisor") -> dict:
    response = api.get(who, path, after=position)
    assert response.status_code == 200, response.text
    return response.json()


# ----- the whole path -------------------------------------------------------------


def test_two_disputed_needs_to_an_adopted_resolution_its_actions_and_back(api: Api) -> None:
    need_a = api.to_in_progress()
    need_b = api.to_in_progress()

    # Proposed with both needs: they are escalated in the same transaction.
    proposed = propose(api, [need_a, need_b])
    cid = proposed["id"]
    assert proposed["version"] == 1
    for need in (need_a, need_b):
        row = view(api, f"/needs/{need}", proposed["position"])
        assert row["status"] == "escalated"
        assert row["consultation_id"] == cid
        assert row["version"] == 5

    # Convened: the electorate is the compound's three households of 90 m².
    convened = convene_vote(api, cid)
    c = view(api, f"/consultations/{cid}", convened["position"])
    assert c["status"] == "convened"
    assert c["status_zh"] == "已召集"
    assert c["need_ids"] == [need_a, need_b]
    assert c["electorate_source"] == "households"
    assert c["electorate_size"] == 3
    assert c["total_area"] == "270"
    assert c["matter"] == "ordinary"
    assert set(c["allowed_commands"]) >= {"vote", "close_vote", "record_opinion"}

    api.ok("property_company", f"/consultations/{cid}/opinions", {"text": "电机老化，建议整体更换"})
    api.ok("resident", f"/consultations/{cid}/opinions", {"text": "同意更换，尽快施工"})

    # Two residents vote themselves; staff record the third owner's vote.
    api.ok("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    api.ok("resident2", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": owner(api, 1)})
    on_behalf = {"choice": "against", "owner_id": owner(api, 2)}
    last = api.ok("staff", f"/consultations/{cid}/votes", on_behalf)
    c = view(api, f"/consultations/{cid}", last["position"], who="resident")
    assert c["votes_cast"] == 3
    assert c["voted_area"] == "270"
    assert c["result"] is None  # no running count of the choices while the vote is open
    assert len(c["opinions"]) == 2

    closed = api.ok("party_branch", f"/consultations/{cid}/close-vote")
    c = view(api, f"/consultations/{cid}", closed["position"])
    assert c["status"] == "adopted"
    assert c["outcome"] == "adopted"
    result = c["result"]
    assert result["outcome"] == "adopted"
    assert result["participation"]["area"] == "1/1"
    assert result["participation"]["owners"] == "1/1"
    assert result["participation"]["reached"] is True
    assert result["approval"]["area"] == "2/3"
    assert result["approval"]["owners"] == "2/3"
    assert result["approval"]["for_area_m2"] == "180"
    assert result["counts"] == {"for": 2, "against": 1, "abstain": 0}
    assert c["resolution"] == MOTION

    # Both needs are back with their party, the outcome recorded on them,
    # atomically with the vote's closing (the same log position is enough).
    for need in (need_a, need_b):
        row = view(api, f"/needs/{need}", closed["position"])
        assert row["status"] == "assigned"
        assert row["consultation_outcome"] == "adopted"
        assert row["consultation_resolution"] == MOTION
        assert row["version"] == 6
        assert "acknowledge" in row["allowed_commands"]

    # The adopted resolution is worded, published and split into action items.
    api.ok("owners_committee", f"/consultations/{cid}/resolution", {"text": "决议：更换2号楼电梯"})
    api.ok("party_branch", f"/consultations/{cid}/publish", {"note": "张贴于各楼栋公告栏七日"})
    pc = str(api.world.parties["property_company"])
    oc = str(api.world.parties["owners_committee"])
    added = api.ok(
        "staff",
        f"/consultations/{cid}/actions",
        {
            "items": [
                {"title": "采购并安装新电梯", "party_id": pc, "due_on": due(60)},
                {"title": "监督施工并组织验收", "party_id": oc, "due_on": due(90)},
            ]
        },
    )
    assert added["numbers"] == [1, 2]
    done = api.ok("property_company", f"/consultations/{cid}/actions/1/complete", {"note": "已安装"})
    c = view(api, f"/consultations/{cid}", done["position"])
    assert c["status"] == "published"
    assert c["actions_total"] == 2
    assert c["actions_done"] == 1
    assert [i["done"] for i in c["action_items"]] == [True, False]
    assert c["action_items"][0]["completed_by"] == api.world.actors["property_company"].id
    assert c["action_items"][1]["overdue"] is False

    last = api.ok("owners_committee", f"/consultations/{cid}/actions/2/complete")
    c = view(api, f"/consultations/{cid}", last["position"])
    assert c["status"] == "closed"
    assert c["status_zh"] == "已办结"
    assert c["actions_done"] == 2
    assert c["resolution"] == "决议：更换2号楼电梯"
    assert c["allowed_commands"] == []

    # The consultation's trail, in order, with who did what.
    trail = view(api, f"/consultations/{cid}/history", last["position"])["events"]
    assert [e["event_type"] for e in trail] == [
        "Proposed",
        "Convened",
        "OpinionRecorded",
        "OpinionRecorded",
        "VoteCast",
        "VoteCast",
        "VoteCast",
        "VoteClosed",
        "ResolutionRecorded",
        "ResolutionPublished",
        "ActionItemAdded",
        "ActionItemAdded",
        "ActionItemCompleted",
        "ActionItemCompleted",
        "Closed",
    ]
    votes = [e for e in trail if e["event_type"] == "VoteCast"]
    assert [(v["actor_id"], v["data"]["on_behalf_of_owner"]) for v in votes] == [
        (api.world.actors["resident"].id, False),
        (api.world.actors["resident2"].id, False),
        (api.world.actors["staff"].id, True),
    ]
    assert "赞成" in votes[0]["summary_zh"] and "本人" in votes[0]["summary_zh"]
    assert "代为录入" in votes[2]["summary_zh"]
    assert "on the owner's behalf" in votes[2]["summary_en"]
    closing = trail[7]
    assert closing["data"]["participation_area"] == "1/1"
    assert closing["data"]["approval_owners"] == "2/3"
    assert "2/3" in closing["summary_zh"] and "通过" in closing["summary_zh"]
    assert closing["summary_en"].startswith("vote closed: adopted")
    assert all(e["summary_zh"] != e["event"] for e in trail)  # every event has a summary

    # A need's trail shows its own events and its consultation's, in log order.
    need_trail = view(api, f"/needs/{need_a}/history", last["position"])["events"]
    names = [e["event"] for e in need_trail]
    assert names[:4] == ["Need.Registered", "Need.Accepted", "Need.Assigned", "Need.Acknowledged"]
    assert names[4:6] == ["Consultation.Proposed", "Need.Escalated"]
    assert "Consultation.VoteClosed" in names
    assert names.index("Consultation.VoteClosed") < names.index("Need.ReturnedFromConsultation")
    assert names[-1] == "Consultation.Closed"
    assert [e["position"] for e in need_trail] == sorted(e["position"] for e in need_trail)
    assert {e["case_type"] for e in need_trail} == {"need", "consultation"}


def test_a_vote_is_cast_once_by_an_owner_of_the_electorate_while_it_is_open(api: Api) -> None:
    cid = propose(api)["id"]
    electorate = [
        {"owner_id": owner(api, 0), "exclusive_area": "90.5"},
        {"owner_id": "业主-王", "exclusive_area": 120},
        {"owner_id": "业主-李", "exclusive_area": "88.25"},
    ]
    convene_vote(api, cid, electorate=electorate)
    api.ok("resident", f"/consultations/{cid}/votes", {"choice": "abstain"})

    before = api.log_position()
    again = api.post("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    assert again.status_code == 409
    assert "already voted" in again.json()["detail"]
    for_them = api.post(
        "staff", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": owner(api, 0)}
    )
    assert for_them.status_code == 409
    # resident2's household is not in this electorate.
    outsider = api.post("resident2", f"/consultations/{cid}/votes", {"choice": "for"})
    assert outsider.status_code == 403
    assert "not in the electorate" in outsider.json()["detail"]
    unknown = api.post("staff", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": "业主-赵"})
    assert unknown.status_code == 422
    assert unknown.json()["detail"][0]["loc"][-1] == "owner_id"
    assert "not in the electorate" in unknown.json()["detail"][0]["msg"]
    nameless = api.post("staff", f"/consultations/{cid}/votes", {"choice": "for"})
    assert nameless.status_code == 422
    assert nameless.json()["detail"][0]["loc"][-1] == "owner_id"
    pretending = api.post(
        "resident", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": "业主-王"}
    )
    assert pretending.status_code == 403
    assert api.post("supervisor", f"/consultations/{cid}/votes", {"choice": "for"}).status_code == 403
    assert api.log_position() == before

    api.ok("staff", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": "业主-王"})
    closed = api.ok("staff", f"/consultations/{cid}/close-vote")
    # 2 of 3 owners (2/3, enough), 210.5 of 298.75 m² (more than 2/3): abstaining
    # takes part; 120 of 210.5 m² and 1 of 2 owners for: not more than half.
    c = view(api, f"/consultations/{cid}", closed["position"])
    assert c["status"] == "rejected"
    assert c["result"]["participation"]["owners"] == "2/3"
    assert c["result"]["participation"]["area"] == "842/1195"
    assert c["result"]["approval"]["owners"] == "1/2"
    assert c["result"]["approval"]["area"] == "240/421"

    before = api.log_position()
    late = api.post("staff", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": "业主-李"})
    assert late.status_code == 409
    detail = late.json()["detail"]
    assert detail["current_status"] == "rejected"
    assert detail["allowed"] == []
    assert "vote" in detail["message"]
    assert api.post("staff", f"/consultations/{cid}/close-vote").status_code == 409
    assert api.post("staff", f"/consultations/{cid}/publish").status_code == 409
    assert api.log_position() == before


def test_no_quorum_returns_the_needs_with_that_outcome(api: Api) -> None:
    need = api.to_in_progress()
    cid = propose(api, [need], who="staff")["id"]
    convene_vote(api, cid, matter="raise_maintenance_fund")
    api.ok("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    closed = api.ok("owners_committee", f"/consultations/{cid}/close-vote")
    c = view(api, f"/consultations/{cid}", closed["position"])
    assert c["status"] == "no_quorum"
    assert c["result"]["participation"] == {
        "area": "1/3",
        "owners": "1/3",
        "area_m2": "90",
        "total_area_m2": "270",
        "owners_count": 1,
        "total_owners": 3,
        "rule": c["result"]["participation"]["rule"],
        "reached": False,
    }
    assert "3/4" in c["result"]["approval"]["rule"]
    row = view(api, f"/needs/{need}", closed["position"])
    assert row["status"] == "assigned"
    assert row["consultation_outcome"] == "no_quorum"
    assert row["consultation_resolution"] is None


def test_consensus_with_a_need_attached_later(api: Api) -> None:
    first = api.to_in_progress()
    cid = propose(api, [first])["id"]
    # A second need joins the open consultation through the need's own route.
    second = api.to_in_progress()
    attached = api.ok("staff", f"/needs/{second}/escalate", {"consultation_id": cid})
    assert attached["id"] == second
    assert attached["version"] == 5
    api.ok(
        "party_branch",
        f"/consultations/{cid}/convene",
        {"meets_at": MEETS_AT, "place": "2号楼下", "method": "consensus"},
    )
    before = api.log_position()
    vote = api.post("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    assert vote.status_code == 409
    assert "record_resolution" in vote.json()["detail"]["allowed"]
    assert api.log_position() == before

    agreed = api.ok("party_branch", f"/consultations/{cid}/resolution", {"text": "物业七日内修复，费用由物业承担"})
    c = view(api, f"/consultations/{cid}", agreed["position"])
    assert c["status"] == "agreed"
    assert c["outcome"] == "consensus"
    assert c["need_ids"] == [first, second]
    for need in (first, second):
        row = view(api, f"/needs/{need}", agreed["position"])
        assert row["status"] == "assigned"
        assert row["consultation_outcome"] == "consensus"
        assert row["consultation_resolution"] == "物业七日内修复，费用由物业承担"
    trail = [e["event"] for e in view(api, f"/needs/{second}/history", agreed["position"])["events"]]
    assert "Consultation.NeedAttached" in trail
    assert "Consultation.Proposed" not in trail  # before it joined
    assert trail[-2:] == ["Consultation.ConsensusReached", "Need.ReturnedFromConsultation"]

    api.ok("party_branch", f"/consultations/{cid}/publish")
    pc = str(api.world.parties["property_company"])
    item = {"title": "修复", "party_id": pc, "due_on": due(7)}
    api.ok("staff", f"/consultations/{cid}/actions", {"items": [item]})
    # Another party's staff may not complete it; a coordinator may.
    before = api.log_position()
    assert api.post("co_building_unit", f"/consultations/{cid}/actions/1/complete").status_code == 403
    assert api.post("staff", f"/consultations/{cid}/actions/2/complete").status_code == 404
    assert api.log_position() == before
    last = api.ok("staff", f"/consultations/{cid}/actions/1/complete")
    assert view(api, f"/consultations/{cid}", last["position"])["status"] == "closed"


def test_cancelling_returns_the_needs(api: Api) -> None:
    need = api.to_in_progress()
    cid = propose(api, [need])["id"]
    assert api.post("staff", f"/consultations/{cid}/cancel", {"reason": " "}).status_code == 422
    cancelled = api.ok("staff", f"/consultations/{cid}/cancel", {"reason": "双方已和解"})
    row = view(api, f"/needs/{need}", cancelled["position"])
    assert row["status"] == "assigned"
    assert row["consultation_outcome"] == "cancelled"
    c = view(api, f"/consultations/{cid}", cancelled["position"])
    assert c["status"] == "cancelled"
    assert c["cancel_reason"] == "双方已和解"


# ----- refusals write nothing ---------------------------------------------------------


def test_proposing_with_a_need_that_cannot_be_escalated_writes_nothing(api: Api) -> None:
    ready = api.to_in_progress()
    reported = api.register()["id"]
    before = api.log_position()
    response = api.post(
        "party_branch",
        "/consultations",
        {"compound_id": str(api.world.compound_id), "topic": "电梯", "need_ids": [ready, reported]},
    )
    assert response.status_code == 422
    detail = response.json()["detail"][0]
    assert detail["loc"][-1] == "need_ids"
    assert "reported" in detail["msg"]
    for bad in ([str(uuid.uuid4())], [ready, ready]):
        response = api.post(
            "party_branch",
            "/consultations",
            {"compound_id": str(api.world.compound_id), "topic": "电梯", "need_ids": bad},
        )
        assert response.status_code == 422
        assert response.json()["detail"][0]["loc"][-1] == "need_ids"
    assert api.log_position() == before
    assert view(api, f"/needs/{ready}", before)["status"] == "in_progress"


def test_escalating_a_need_checks_the_consultation_and_the_need(api: Api) -> None:
    cid = propose(api)["id"]
    need = api.to_in_progress()
    reported = api.register()["id"]
    other_cid = api.ok(
        "other_staff", "/consultations", {"compound_id": str(api.world.other_compound_id), "topic": "x"}
    )["id"]
    before = api.log_position()
    cases = [
        ("staff", reported, {"consultation_id": cid}, 409),  # the need is only 'reported'
        ("staff", need, {"consultation_id": str(uuid.uuid4())}, 422),
        ("staff", need, {"consultation_id": other_cid}, 422),
        ("staff", need, {}, 422),
        ("staff", need, {"consultation_id": cid, "why": "x"}, 422),
        ("resident", need, {"consultation_id": cid}, 403),
        ("property_company", need, {"consultation_id": cid}, 403),
        ("other_staff", need, {"consultation_id": other_cid}, 404),
    ]
    for who, need_id, body, status in cases:
        response = api.post(who, f"/needs/{need_id}/escalate", body)
        assert response.status_code == status, (who, body, response.text)
        if status == 422:
            expected = "why" if "why" in body else "consultation_id"
            assert response.json()["detail"][0]["loc"][-1] == expected
    stale = api.post(
        "staff", f"/needs/{need}/escalate", {"consultation_id": cid}, headers={"If-Match": "3"}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 4
    assert api.log_position() == before

    api.ok("staff", f"/consultations/{cid}/cancel", {"reason": "议题撤回"})
    late = api.post("staff", f"/needs/{need}/escalate", {"consultation_id": cid})
    assert late.status_code == 422
    assert "cancelled" in late.json()["detail"][0]["msg"]


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("", {"topic": ""}, "topic"),
        ("", {"topic": "x" * 201}, "topic"),
        ("", {"topic": "电梯\x00"}, "topic"),
        ("", {"need_ids": ["nope"]}, "need_ids"),
        ("", {"colour": "red"}, "colour"),
        ("", {"compound_id": str(uuid.UUID(int=7))}, "compound_id"),
        ("/convene", {"method": "lottery"}, "method"),
        ("/convene", {"meets_at": "2026-03-10T19:00:00"}, "meets_at"),
        ("/convene", {"motion": None}, "motion"),
        ("/convene", {"matter": "item_9"}, "matter"),
        ("/convene", {"matter": None}, "matter"),
        ("/convene", {"place": ""}, "place"),
        ("/convene", {"electorate": []}, "electorate"),
        ("/convene", {"electorate": [{"owner_id": "a", "exclusive_area": 0}]}, "exclusive_area"),
        ("/convene", {"electorate": [{"owner_id": "a", "exclusive_area": "1e9"}]}, "exclusive_area"),
        ("/convene", {"electorate": [{"owner_id": "a", "exclusive_area": "NaN"}]}, "exclusive_area"),
        ("/convene", {"electorate": [{"owner_id": "a", "exclusive_area": "1.234"}]}, "exclusive_area"),
        ("/convene", {"electorate": [{"owner_id": "", "exclusive_area": 1}]}, "owner_id"),
        (
            "/convene",
            {
                "electorate": [
                    {"owner_id": "a", "exclusive_area": 1},
                    {"owner_id": "a", "exclusive_area": 2},
                ]
            },
            "electorate",
        ),
        ("/convene", {"invited_party_ids": [str(uuid.UUID(int=9))]}, "invited_party_ids"),
        ("/convene", {"invited_party_ids": ["{other_party}"]}, "invited_party_ids"),
        ("/convene", {"method": "consensus"}, "motion"),  # a consensus meeting has no motion
        ("/opinions", {"text": ""}, "text"),
        ("/opinions", {"text": "x", "speaker": "y" * 101}, "speaker"),
        ("/votes", {"choice": "maybe"}, "choice"),
        ("/cancel", {}, "reason"),
    ],
)
def test_bad_fields_get_422_naming_the_field_and_write_nothing(
    api: Api, path: str, body: dict[str, Any], field: str
) -> None:
    if not path:
        target = "/consultations"
        full = {"compound_id": str(api.world.compound_id), "topic": "电梯", **body}
    else:
        cid = propose(api)["id"]
        if path in ("/opinions", "/votes"):
            convene_vote(api, cid)
        target = f"/consultations/{cid}{path}"
        full = dict(body)
        if path == "/convene":
            other = str(api.world.other_property_company)
            parties = [other if p == "{other_party}" else p for p in body.get("invited_party_ids", [])]
            full = {
                "meets_at": MEETS_AT,
                "place": "活动室",
                "method": "vote",
                "motion": MOTION,
                "matter": "ordinary",
                **body,
                "invited_party_ids": parties,
            }
    before = api.log_position()
    response = api.post("staff", target, full)
    assert response.status_code == 422, response.text
    # The field named last (a list item's index is not a field).
    locations = [[p for p in d["loc"] if not isinstance(p, int)][-1] for d in response.json()["detail"]]
    assert field in locations, response.text
    assert api.log_position() == before


def test_action_items_check_their_fields_and_party(api: Api) -> None:
    cid = propose(api)["id"]
    convene_vote(api, cid)
    for who in ("resident", "resident2"):
        api.ok(who, f"/consultations/{cid}/votes", {"choice": "for"})
    api.ok("staff", f"/consultations/{cid}/close-vote")
    pc = str(api.world.parties["property_company"])
    # Before publication: not yet.
    item = {"title": "x", "party_id": pc, "due_on": due()}
    early = api.post("staff", f"/consultations/{cid}/actions", {"items": [item]})
    assert early.status_code == 409
    assert early.json()["detail"]["allowed"] == ["publish", "record_resolution"]
    api.ok("staff", f"/consultations/{cid}/publish")
    before = api.log_position()
    cases = [
        ({"items": []}, "items"),
        ({"items": [{"title": "x", "party_id": pc, "due_on": "2020-01-01"}]}, "due_on"),
        ({"items": [{"title": "x", "party_id": pc, "due_on": "tomorrow"}]}, "due_on"),
        ({"items": [{"title": "", "party_id": pc, "due_on": due()}]}, "title"),
        ({"items": [{"title": "x", "party_id": str(uuid.uuid4()), "due_on": due()}]}, "party_id"),
        (
            {"items": [{**item, "party_id": str(api.world.other_property_company)}]},
            "party_id",
        ),
    ]
    for body, field in cases:
        response = api.post("staff", f"/consultations/{cid}/actions", body)
        assert response.status_code == 422, response.text
        assert field in [str(d["loc"][-1]) for d in response.json()["detail"]]
    assert api.post("resident", f"/consultations/{cid}/actions", cases[0][0]).status_code == 403
    bad_number = api.post("staff", f"/consultations/{cid}/actions/0/complete")
    assert bad_number.status_code == 422
    assert api.log_position() == before


@pytest.mark.parametrize(
    ("who", "path", "body"),
    [
        ("resident", "", {"topic": "x"}),
        ("grid_worker", "", {"topic": "x"}),
        ("property_company", "", {"topic": "x"}),
        ("supervisor", "", {"topic": "x"}),
        ("property_company", "/convene", {"meets_at": MEETS_AT, "place": "x", "method": "consensus"}),
        ("resident", "/close-vote", None),
        ("grid_worker", "/close-vote", None),
        ("co_building_unit", "/resolution", {"text": "x"}),
        ("supervisor", "/publish", None),
        ("resident", "/cancel", {"reason": "x"}),
        ("supervisor", "/opinions", {"text": "x"}),
        ("admin", "/opinions", {"text": "x"}),
    ],
)
def test_a_role_that_may_not_act_gets_403_and_nothing_is_written(
    api: Api, who: str, path: str, body: dict | None
) -> None:
    cid = propose(api)["id"]
    target = "/consultations" + (f"/{cid}{path}" if path else "")
    if not path:
        body = {"compound_id": str(api.world.compound_id), **(body or {})}
    before = api.log_position()
    response = api.post(who, target, body)
    assert response.status_code == 403, response.text
    assert api.log_position() == before


def test_other_compounds_do_not_see_it(api: Api) -> None:
    need = api.to_in_progress()
    created = propose(api, [need])
    cid = created["id"]
    outsider = "other_staff"
    assert api.get(outsider, f"/consultations/{cid}", after=created["position"]).status_code == 404
    assert api.get(outsider, f"/consultations/{cid}/history").status_code == 404
    assert api.get(outsider, "/consultations").json()["items"] == []
    assert api.get("admin", f"/consultations/{cid}").status_code == 403
    before = api.log_position()
    response = api.post(
        outsider,
        f"/consultations/{cid}/convene",
        {"meets_at": MEETS_AT, "place": "x", "method": "consensus"},
    )
    assert response.status_code == 404
    proposing_here = api.post(
        outsider, "/consultations", {"compound_id": str(api.world.compound_id), "topic": "x"}
    )
    assert proposing_here.status_code == 422
    assert proposing_here.json()["detail"][0]["loc"][-1] == "compound_id"
    assert api.log_position() == before
    # Everybody of the compound sees the consultation, residents too.
    assert api.get("resident", f"/consultations/{cid}").status_code == 200
    assert api.get("co_building_unit", f"/consultations/{cid}/history").status_code == 200
    assert api.get("staff", f"/consultations/{uuid.uuid4()}").status_code == 404
    assert api.post("staff", f"/consultations/{uuid.uuid4()}/close-vote").status_code == 404


def test_if_match_makes_a_command_conditional(api: Api) -> None:
    cid = propose(api)["id"]
    body = {"meets_at": MEETS_AT, "place": "x", "method": "consensus"}
    stale = api.post("staff", f"/consultations/{cid}/convene", body, headers={"If-Match": "4"})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    fresh = api.post("staff", f"/consultations/{cid}/convene", body, headers={"If-Match": '"1"'})
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 2


def test_list_filters_and_pagination(api: Api) -> None:
    ids = [propose(api)["id"] for _ in range(5)]
    last = api.ok("staff", f"/consultations/{ids[1]}/cancel", {"reason": "重复"})
    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, "after": last["position"]}
        if cursor is not None:
            params["cursor"] = cursor
        page = api.get("staff", "/consultations", **params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == ids
    cancelled = api.get("resident", "/consultations", status="cancelled").json()["items"]
    assert [c["id"] for c in cancelled] == [ids[1]]
    assert cancelled[0]["status_zh"] == "已取消"
    assert len(api.get("staff", "/consultations", status="proposed").json()["items"]) == 4
    mine = api.get("staff", "/consultations", compound_id=str(api.world.compound_id)).json()
    assert len(mine["items"]) == 5
    other = api.get("staff", "/consultations", compound_id=str(api.world.other_compound_id)).json()
    assert other["items"] == []
    assert api.get("staff", "/consultations", status="nonsense").status_code == 422
    assert api.get("staff", "/consultations", limit=0).status_code == 422


def test_the_conclusion_and_the_needs_are_saved_together_and_retried_on_a_race(
    api: Api, services
) -> None:  # noqa: ANN001
    """A need changed by someone else between loading and saving makes the
    whole save fail (the vote's closing included) and the command re-run."""
    need_a = api.to_in_progress()
    need_b = api.to_in_progress()
    cid = propose(api, [need_a, need_b])["id"]
    convene_vote(api, cid)
    for who in ("resident", "resident2"):
        api.ok(who, f"/consultations/{cid}/votes", {"choice": "for"})

    app = services.app
    original = app._return_needs
    interfered: list[int] = []
    writes: list[int] = []

    def racing(by, consultation):  # noqa: ANN001, ANN202
        needs = original(by, consultation)
        if not interfered:
            # Another writer adds a note to need B after it was loaded.
            interfered.append(app.add_need_note(by, uuid.UUID(need_b), text="业委会补充说明").version)
        writes.append(len(needs))
        return needs

    app._return_needs = racing  # type: ignore[method-assign]
    try:
        closed = api.ok("staff", f"/consultations/{cid}/close-vote")
    finally:
        app._return_needs = original  # type: ignore[method-assign]
    assert writes == [2, 2]  # the first attempt lost the race and was re-run

    trail = view(api, f"/consultations/{cid}/history", closed["position"])["events"]
    assert [e["event_type"] for e in trail].count("VoteClosed") == 1
    b = view(api, f"/needs/{need_b}", closed["position"])
    assert b["status"] == "assigned"
    assert b["notes"] == 1
    assert b["version"] == 7
    b_history = view(api, f"/needs/{need_b}/history", closed["position"])["events"]
    b_trail = [e["event_type"] for e in b_history]
    assert b_trail.count("ReturnedFromConsultation") == 1
    a = view(api, f"/needs/{need_a}", closed["position"])
    assert a["status"] == "assigned"
    assert a["version"] == 6


def test_odd_input_gets_a_4xx_never_a_500(api: Api) -> None:
    cid = propose(api)["id"]
    base = {"meets_at": MEETS_AT, "place": "x", "method": "vote", "motion": "m", "matter": "ordinary"}
    odd: list[tuple[str, Any]] = [
        ("/convene", {**base, "electorate": [{"owner_id": "a", "exclusive_area": "Infinity"}]}),
        ("/convene", {**base, "electorate": [{"owner_id": "a", "exclusive_area": "-0"}]}),
        ("/convene", {**base, "electorate": [{"owner_id": "a", "exclusive_area": True}]}),
        ("/convene", {**base, "electorate": [{"owner_id": "   ", "exclusive_area": 1}]}),
        ("/convene", {**base, "electorate": [{"owner_id": "a\u0007", "exclusive_area": 1}]}),
        ("/convene", {**base, "electorate": "households"}),
        ("/convene", {**base, "meets_at": "9999-12-31T23:59:59+14:00", "place": " "}),
        ("/convene", {**base, "motion": "   "}),
        ("/convene", [base]),
        ("/convene", "vote"),
        ("/publish", [1, 2]),
        ("/publish", {"note": 5}),
        ("/actions/99999999999/complete", None),
        ("/actions/x/complete", None),
        ("/votes", {"choice": "for", "owner_id": "a"}),  # not convened yet
        ("/resolution", {"text": "\u0000"}),
    ]
    before = api.log_position()
    for path, body in odd:
        response = api.post("staff", f"/consultations/{cid}{path}", body)
        assert 400 <= response.status_code < 500, (path, body, response.text)
    assert api.log_position() == before
    response = api.post(
        "staff",
        "/consultations",
        {"compound_id": str(api.world.compound_id), "topic": "x", "description": "坏\u0000"},
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "description"
    assert api.log_position() == before

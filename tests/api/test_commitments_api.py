"""Service commitments (服务清单) through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from application.commitment_views import commitment_row, fulfilment, provider_fulfilment
from domain.actor import Actor, Role
from domain.calendar import WorkingCalendar
from domain.commitment import ServiceCommitment
from tests.api.client import Api
from tests.world import REGISTRAR, World


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


def item(number: int, **fields: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": f"服务项目 {number}",
        "standard": f"服务标准 {number}",
        "frequency": "每日",
        "time_limit": "24h",
        **fields,
    }


ITEMS = [
    item(1, title="楼道保洁"),
    item(2, title="电梯维保", time_limit="2h"),
    item(3, title="绿化养护", time_limit="3wd"),
]
CONFIRMERS = ("party_branch", "owners_committee", "property_company")


def draft(api: Api, provider: str = "property_company", **fields: Any) -> str:
    body = {
        "compound_id": str(api.world.compound_id),
        "provider_party_id": str(api.world.parties[provider]),
        "title": "幸福里物业服务清单",
        "items": ITEMS,
        **fields,
    }
    return api.ok("party_branch", "/commitments", body)["id"]


def confirm_all(
    api: Api, cid: str, list_version: int, confirmers: tuple[str, ...] = CONFIRMERS
) -> dict:
    for who in confirmers:
        last = api.ok(who, f"/commitments/{cid}/confirm", {"list_version": list_version})
    return last


def in_effect(api: Api, provider: str = "property_company", **fields: Any) -> str:
    cid = draft(api, provider, **fields)
    confirm_all(api, cid, 1, ("party_branch", "owners_committee", provider))
    return cid


def inspection(item_no: int, result: str = "met", note: str = "检查") -> dict[str, Any]:
    return {"item_no": item_no, "result": result, "note": note}


def view(api: Api, cid: str, who: str = "staff") -> dict:
    response = api.get(who, f"/commitments/{cid}", after=api.log_position())
    assert response.status_code == 200, response.text
    return response.json()


def field_of(response: Any) -> list[str]:
    assert response.status_code == 422, response.text
    return [str(d["loc"][-1]) for d in response.json()["detail"]]


# ----- the whole walk ------------------------------------------------------------


def test_a_list_from_draft_through_two_amendments_inspections_and_termination(api: Api) -> None:
    cid = draft(api)
    assert view(api, cid)["status"] == "draft"

    # 征求意见: a resident speaks, a grid worker records a neighbour's opinion.
    api.ok("resident", f"/commitments/{cid}/opinions", {"text": "电梯维保请提前通知", "item_no": 2})
    neighbour = str(api.world.households[1])
    api.ok(
        "grid_worker",
        f"/commitments/{cid}/opinions",
        {"text": "希望每周两次清扫", "household_id": neighbour},
    )
    # The draft is revised after the opinions; the revision supersedes version 1.
    api.ok("party_branch", f"/commitments/{cid}/confirm", {"list_version": 1})
    api.ok(
        "owners_committee",
        f"/commitments/{cid}/amend",
        {"reason": "采纳居民意见", "change": [item(1, title="楼道保洁", frequency="每周两次")]},
    )
    v = view(api, cid)
    assert v["status"] == "draft"
    assert v["pending_version"] == 2
    assert v["awaiting_confirmation_from"] == ["party_branch", "owners_committee", "provider"]
    assert v["pending"]["items"][0]["frequency"] == "每周两次"
    last = confirm_all(api, cid, 2)
    assert last["version"] == 9  # 3 confirmations and TookEffect after 5 events

    v = view(api, cid)
    assert v["status"] == "in_effect"
    assert v["status_zh"] == "已生效"
    assert v["in_effect_version"] == 2
    assert v["pending"] is None
    assert [i["number"] for i in v["in_effect_items"]] == [1, 2, 3]
    assert [x["state"] for x in v["versions"]] == ["superseded", "in_effect"]
    assert set(v["allowed_commands"]) == {"amend", "inspect", "suspend", "terminate"}

    # 履约检查 on the version in effect.
    api.ok("staff", f"/commitments/{cid}/inspections", inspection(1, "met", "干净"))
    api.ok(
        "owners_committee",
        f"/commitments/{cid}/inspections",
        {"item_no": 3, "result": "not_met", "note": "草坪未修剪", "attachments": ["photo-7"]},
    )

    # First amendment of the list in effect: version 3, version 2 stays in effect.
    api.ok(
        "party_branch",
        f"/commitments/{cid}/amend",
        {
            "reason": "业主大会决定调整",
            "add": [item(4, title="垃圾分类督导", time_limit="1wd")],
            "change": [item(2, title="电梯维保", time_limit="1h")],
            "remove": [3],
        },
    )
    v = view(api, cid)
    assert v["status"] == "in_effect"
    assert v["in_effect_version"] == 2
    assert v["pending_version"] == 3
    assert [i["number"] for i in v["in_effect_items"]] == [1, 2, 3]
    # Item 3 is still in the version in effect, so it can still be inspected.
    api.ok("staff", f"/commitments/{cid}/inspections", inspection(3, "met", "已修剪"))
    confirm_all(api, cid, 3)
    v = view(api, cid)
    assert v["in_effect_version"] == 3
    assert [i["number"] for i in v["in_effect_items"]] == [1, 2, 4]
    before = api.log_position()
    refused = api.post("staff", f"/commitments/{cid}/inspections", inspection(3))
    assert "item_no" in field_of(refused)
    assert "item 3" in refused.text
    assert api.log_position() == before

    # Second amendment.
    api.ok(
        "owners_committee",
        f"/commitments/{cid}/amend",
        {"reason": "督导并入保洁", "remove": [4], "change": [item(1, title="楼道保洁及分类督导")]},
    )
    confirm_all(api, cid, 4)
    v = view(api, cid)
    assert v["in_effect_version"] == 4
    assert [i["title"] for i in v["in_effect_items"]] == ["楼道保洁及分类督导", "电梯维保"]
    assert v["inspections"]["1"]["met"] == 1
    assert v["inspections"]["3"] == {**v["inspections"]["3"], "met": 1, "not_met": 1}

    # Suspend, resume, terminate.
    api.ok("staff", f"/commitments/{cid}/suspend", {"reason": "物业交接"})
    suspended = api.post("staff", f"/commitments/{cid}/inspections", inspection(1))
    assert suspended.status_code == 409
    assert suspended.json()["detail"]["current_status"] == "suspended"
    api.ok("party_branch", f"/commitments/{cid}/resume", {"reason": "交接完成"})
    done = api.ok("party_branch", f"/commitments/{cid}/terminate", {"reason": "合同期满"})
    v = view(api, cid)
    assert v["status"] == "terminated"
    assert v["status_reason"] == "合同期满"
    assert v["allowed_commands"] == []
    for path, body in (
        ("inspections", {"item_no": 1, "result": "met", "note": "x"}),
        ("amend", {"reason": "x", "remove": [2]}),
        ("resume", {"reason": "x"}),
        ("confirm", {"list_version": 4}),
    ):
        who = "party_branch"
        response = api.post(who, f"/commitments/{cid}/{path}", body)
        assert response.status_code == 409, (path, response.text)
        assert response.json()["detail"]["current_status"] == "terminated"
    assert api.log_position() == done["position"]

    # Every version stays readable.
    states = []
    for n, numbers in ((1, [1, 2, 3]), (2, [1, 2, 3]), (3, [1, 2, 4]), (4, [1, 2])):
        version = api.get("supervisor", f"/commitments/{cid}/versions/{n}").json()
        assert version["list_version"] == n
        assert [i["number"] for i in version["items"]] == numbers
        states.append(version["state"])
    assert states == ["superseded", "replaced", "replaced", "ended"]
    v3 = api.get("supervisor", f"/commitments/{cid}/versions/3").json()
    assert v3["based_on"] == 2
    assert v3["reason"] == "业主大会决定调整"
    assert v3["removed"] == [3]
    assert [i["number"] for i in v3["added"]] == [4]
    assert {c["party"] for c in v3["confirmed_by"]} == {
        "party_branch",
        "owners_committee",
        "provider",
    }
    v1 = api.get("resident", f"/commitments/{cid}/versions/1").json()
    assert [o["text"] for o in v1["opinions"]] == ["电梯维保请提前通知", "希望每周两次清扫"]
    assert v1["opinions"][1]["household_id"] == neighbour
    assert api.get("staff", f"/commitments/{cid}/versions/5").status_code == 404
    assert api.get("staff", f"/commitments/{cid}/versions/0").status_code == 422

    # The trail shows who changed what, in order.
    events = api.get("supervisor", f"/commitments/{cid}/history").json()["events"]
    names = [e["event_type"] for e in events]
    assert names[:4] == ["Drafted", "OpinionRecorded", "OpinionRecorded", "Confirmed"]
    assert names.count("Amended") == 3
    assert names.count("TookEffect") == 3
    assert names.count("ItemInspected") == 3
    assert names[-3:] == ["Suspended", "Resumed", "Terminated"]
    assert [e["version"] for e in events] == list(range(1, len(events) + 1))
    amendments = [e for e in events if e["event_type"] == "Amended"]
    assert [(e["actor_name"], e["actor_role"]) for e in amendments] == [
        ("owners_committee", "owners_committee"),
        ("party_branch", "party_branch"),
        ("owners_committee", "owners_committee"),
    ]
    assert amendments[1]["reason"] == "业主大会决定调整"
    assert amendments[1]["data"]["removed"] == [3]
    assert amendments[1]["data"]["changed"][0]["time_limit"] == "1h"
    assert all(e["summary_zh"] and e["summary_en"] for e in events)
    assert "业主大会决定调整" in amendments[1]["summary_zh"]
    took_effect = [e for e in events if e["event_type"] == "TookEffect"]
    assert [e["data"]["list_version"] for e in took_effect] == [2, 3, 4]
    assert [e["actor_role"] for e in took_effect] == ["property_company"] * 3
    assert events[-1]["reason"] == "合同期满"


# ----- confirmations ----------------------------------------------------------------


def test_wrong_second_and_superseded_confirmations_are_refused_and_write_nothing(
    api: Api,
) -> None:
    cid = draft(api)
    before = api.log_position()
    for who, status in (
        ("staff", 403),  # not a confirming role
        ("resident", 403),
        ("co_building_unit", 403),  # a provider kind, but not this list's provider
        ("other_property", 404),  # another compound's property company does not see it
    ):
        response = api.post(who, f"/commitments/{cid}/confirm", {"list_version": 1})
        assert response.status_code == status, (who, response.text)
    assert api.log_position() == before

    api.ok("owners_committee", f"/commitments/{cid}/confirm", {"list_version": 1})
    before = api.log_position()
    again = api.post("owners_committee", f"/commitments/{cid}/confirm", {"list_version": 1})
    assert again.status_code == 409
    assert "already confirmed" in again.json()["detail"]
    assert api.log_position() == before

    api.ok("party_branch", f"/commitments/{cid}/amend", {"reason": "修订", "remove": [3]})
    before = api.log_position()
    stale = api.post("property_company", f"/commitments/{cid}/confirm", {"list_version": 1})
    assert stale.status_code == 409
    assert "superseded" in stale.json()["detail"]
    assert "version 2" in stale.json()["detail"]
    unknown = api.post("property_company", f"/commitments/{cid}/confirm", {"list_version": 7})
    assert "list_version" in field_of(unknown)
    assert api.log_position() == before
    # The committee's confirmation of version 1 does not count for version 2.
    confirm_all(api, cid, 2, ("property_company", "party_branch"))
    assert view(api, cid)["status"] == "draft"
    assert view(api, cid)["awaiting_confirmation_from"] == ["owners_committee"]
    api.ok("owners_committee", f"/commitments/{cid}/confirm", {"list_version": 2})
    assert view(api, cid)["status"] == "in_effect"
    # Nothing is pending now: a confirmation is an illegal transition.
    late = api.post("party_branch", f"/commitments/{cid}/confirm", {"list_version": 2})
    assert late.status_code == 409
    assert "confirm" not in late.json()["detail"]["allowed"]


def test_a_party_branch_credential_of_another_party_cannot_confirm(
    api: Api, world: World
) -> None:
    cid = draft(api)
    # A party-branch credential whose party is this compound's owners' committee.
    issued = world.services.credentials.issue(
        person_id=world.services.people.register("impostor", created_by="test").id,
        role=Role.PARTY_BRANCH,
        compound_ids=[world.compound_id],
        party_id=world.parties["owners_committee"],
    )
    world.tokens["impostor"] = issued.token
    before = api.log_position()
    response = api.post("impostor", f"/commitments/{cid}/confirm", {"list_version": 1})
    assert response.status_code == 403
    assert api.log_position() == before


def test_only_the_branch_and_the_committee_draft_and_amend(api: Api) -> None:
    body = {
        "compound_id": str(api.world.compound_id),
        "provider_party_id": str(api.world.parties["property_company"]),
        "title": "清单",
        "items": ITEMS,
    }
    before = api.log_position()
    for who in ("staff", "property_company", "resident", "supervisor", "admin"):
        assert api.post(who, "/commitments", body).status_code == 403, who
    assert api.log_position() == before
    cid = in_effect(api)
    before = api.log_position()
    for who in ("staff", "property_company", "resident"):
        response = api.post(who, f"/commitments/{cid}/amend", {"reason": "x", "remove": [1]})
        assert response.status_code == 403, who
    for who in ("property_company", "resident", "grid_worker", "supervisor"):
        response = api.post(who, f"/commitments/{cid}/inspections", inspection(1))
        assert response.status_code == 403, who
    for path, body in (
        ("suspend", {"reason": "x"}),
        ("terminate", {"reason": "x"}),
        ("opinions", {"text": "x"}),
    ):
        response = api.post("property_company", f"/commitments/{cid}/{path}", body)
        assert response.status_code == 403, path
    assert api.log_position() == before


# ----- bad input -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"items": [item(1), item(2), item(1)]}, "items[2].number", "more than once"),
        ({"items": [item(1, title="")]}, "title", ""),
        ({"items": [item(1, title="   ")]}, "items[0].title", "empty"),
        ({"items": [item(1, time_limit="-3h")]}, "items[0].time_limit", "positive"),
        ({"items": [item(1, time_limit="0wd")]}, "items[0].time_limit", "positive"),
        ({"items": [item(1, time_limit="9000h")]}, "items[0].time_limit", "year"),
        ({"items": [item(1, time_limit="999wd")]}, "items[0].time_limit", "year"),
        ({"items": [item(1, time_limit="tomorrow")]}, "items[0].time_limit", "like"),
        ({"items": [item(0)]}, "number", ""),
        ({"items": [item(1001)]}, "number", ""),
        ({"items": [item("1")]}, "number", ""),
        ({"items": [{**item(1), "price": 5}]}, "price", ""),
        ({"items": []}, "items", ""),
        ({"colour": "red"}, "colour", ""),
        ({"title": ""}, "title", ""),
        ({"compound_id": "not-a-uuid"}, "compound_id", ""),
        ({"provider_party_id": "{owners_committee}"}, "provider_party_id", "not a party of kind"),
        ({"provider_party_id": "{other_property}"}, "provider_party_id", "no such party"),
        ({"provider_party_id": "{random}"}, "provider_party_id", "no such party"),
        ({"compound_id": "{other_compound}"}, "compound_id", ""),
    ],
)
def test_bad_drafts_get_422_naming_the_problem_and_write_nothing(
    api: Api, change: dict[str, Any], field: str, words: str
) -> None:
    world = api.world
    names = {
        "{owners_committee}": str(world.parties["owners_committee"]),
        "{other_property}": str(world.other_property_company),
        "{random}": str(uuid.uuid4()),
        "{other_compound}": str(world.other_compound_id),
    }
    change = {k: names.get(v, v) if isinstance(v, str) else v for k, v in change.items()}
    body = {
        "compound_id": str(world.compound_id),
        "provider_party_id": str(world.parties["property_company"]),
        "title": "清单",
        "items": ITEMS,
        **change,
    }
    before = api.log_position()
    response = api.post("party_branch", "/commitments", body)
    assert field in field_of(response)
    assert words in response.text
    assert api.log_position() == before


@pytest.mark.parametrize(
    ("path", "body", "field", "words"),
    [
        ("amend", {"reason": "x", "remove": [9]}, "remove", "item 9 is not in version 1"),
        ("amend", {"reason": "x", "change": [item(9)]}, "change", "not in version 1"),
        ("amend", {"reason": "x", "add": [item(1)]}, "add", "already in version 1"),
        ("amend", {"reason": "x", "add": [item(5), item(5)]}, "add[1].number", "more than once"),
        (
            "amend",
            {"reason": "x", "add": [item(5, time_limit="-2h")]},
            "add[0].time_limit",
            "positive",
        ),
        ("amend", {"reason": "x"}, "add", "at least one"),
        ("amend", {"reason": "x", "remove": [1, 2, 3]}, "remove", "at least one item"),
        ("amend", {"remove": [1]}, "reason", ""),
        ("amend", {"reason": "  ", "remove": [1]}, "reason", "required"),
        ("inspections", {"item_no": 7, "result": "met", "note": "x"}, "item_no", "item 7"),
        ("inspections", {"item_no": 1, "result": "partly", "note": "x"}, "result", ""),
        ("inspections", {"item_no": 1, "result": "met", "note": ""}, "note", ""),
        ("inspections", {"item_no": 1, "result": "met", "note": " "}, "note", "empty"),
        ("confirm", {}, "list_version", ""),
        ("confirm", {"list_version": "one"}, "list_version", ""),
        ("suspend", {"reason": " "}, "reason", "required"),
        ("opinions", {"text": "x", "item_no": 8}, "item_no", "not in version"),
    ],
)
def test_bad_commands_get_422_naming_the_problem_and_write_nothing(
    api: Api, path: str, body: dict[str, Any], field: str, words: str
) -> None:
    cid = in_effect(api)
    who = {"inspections": "staff", "confirm": "party_branch", "suspend": "staff"}.get(
        path, "party_branch"
    )
    if path == "opinions":
        api.ok("party_branch", f"/commitments/{cid}/amend", {"reason": "x", "remove": [3]})
    before = api.log_position()
    response = api.post(who, f"/commitments/{cid}/{path}", body)
    assert field in field_of(response)
    assert words in response.text
    assert api.log_position() == before


def test_if_match_makes_a_command_conditional(api: Api) -> None:
    cid = draft(api)
    path = f"/commitments/{cid}/confirm"
    stale = api.post("party_branch", path, {"list_version": 1}, headers={"If-Match": "3"})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    fresh = api.post("party_branch", path, {"list_version": 1}, headers={"If-Match": "1"})
    assert fresh.status_code == 200
    assert fresh.json()["version"] == 2


def test_an_idempotency_key_records_a_draft_and_an_inspection_once(api: Api) -> None:
    body = {
        "compound_id": str(api.world.compound_id),
        "provider_party_id": str(api.world.parties["property_company"]),
        "title": "清单",
        "items": ITEMS,
    }
    headers = {"Idempotency-Key": "draft-2026-03"}
    first = api.ok("party_branch", "/commitments", body, headers=headers)
    position = api.log_position()
    again = api.post("party_branch", "/commitments", body, headers=headers)
    assert again.status_code == 201
    assert again.json() == first
    assert api.log_position() == position

    # A double click: two requests with one key at once draft one list.
    headers = {"Idempotency-Key": "double-click"}
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def send() -> None:
        barrier.wait()
        answers.append(api.post("owners_committee", "/commitments", body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [a.status_code for a in answers] == [201, 201]
    assert answers[0].json() == answers[1].json()
    listed = api.get("staff", "/commitments", after=api.log_position()).json()["items"]
    assert len(listed) == 2

    cid = first["id"]
    confirm_all(api, cid, 1)
    headers = {"Idempotency-Key": "inspection-1"}
    checked = api.ok("staff", f"/commitments/{cid}/inspections", inspection(1), headers=headers)
    position = api.log_position()
    again = api.ok("staff", f"/commitments/{cid}/inspections", inspection(1), headers=headers)
    assert again == checked
    assert api.log_position() == position
    assert view(api, cid)["inspections"]["1"]["met"] == 1


# ----- reading ---------------------------------------------------------------------------


def test_lists_are_seen_within_ones_compounds_filtered_and_paginated(api: Api) -> None:
    first = in_effect(api)
    second = draft(api, title="第二份清单")
    volunteers = draft(api, "co_building_unit", title="志愿服务清单")
    last = api.ok("staff", f"/commitments/{first}/suspend", {"reason": "整改"})

    listed = api.get("resident", "/commitments", after=last["position"]).json()
    assert [c["id"] for c in listed["items"]] == [first, second, volunteers]
    assert listed["items"][0]["status_zh"] == "已暂停"
    by_status = api.get("staff", "/commitments", status="draft").json()["items"]
    assert [c["id"] for c in by_status] == [second, volunteers]
    pc = str(api.world.parties["property_company"])
    by_provider = api.get("staff", "/commitments", party_id=pc).json()["items"]
    assert [c["id"] for c in by_provider] == [first, second]
    cb = str(api.world.parties["co_building_unit"])
    assert [c["id"] for c in api.get("staff", "/commitments", party_id=cb).json()["items"]] == [
        volunteers
    ]
    assert api.get("staff", "/commitments", compound_id=str(api.world.compound_id)).json()["items"]
    assert api.get("staff", "/commitments", status="nonsense").status_code == 422

    seen: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 1, "party_id": pc}
        if cursor is not None:
            params["cursor"] = cursor
        page = api.get("staff", "/commitments", **params).json()
        seen += [c["id"] for c in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [first, second]
    pages = api.get("staff", "/commitments", limit=2).json()
    assert len(pages["items"]) == 2 and pages["next_cursor"] is not None

    # Another compound's staff see none of it; an administrator reads no cases.
    assert api.get("other_staff", "/commitments").json()["items"] == []
    assert api.get("other_staff", f"/commitments/{first}").status_code == 404
    assert api.get("other_staff", f"/commitments/{first}/history").status_code == 404
    assert api.get("other_staff", f"/commitments/{first}/versions/1").status_code == 404
    assert api.get("other_staff", f"/commitments/{first}/fulfilment").status_code == 404
    assert api.get("other_staff", "/commitments", compound_id=str(api.world.compound_id)).json()[
        "items"
    ] == []
    response = api.post("other_staff", f"/commitments/{first}/resume", {"reason": "x"})
    assert response.status_code == 404
    assert api.get("admin", "/commitments").status_code == 403
    assert api.get("staff", f"/commitments/{uuid.uuid4()}").status_code == 404
    unknown = api.post("staff", f"/commitments/{uuid.uuid4()}/suspend", {"reason": "x"})
    assert unknown.status_code == 404


def test_lists_trails_and_figures_export_as_csv(api: Api) -> None:
    cid = in_effect(api)
    api.ok("staff", f"/commitments/{cid}/inspections", inspection(2, "not_met", "电梯停运"))
    position = api.log_position()
    listed = api.get("staff", "/commitments", format="csv", after=position)
    assert listed.status_code == 200
    assert listed.headers["content-type"].startswith("text/csv")
    text = listed.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = text.splitlines()
    assert lines[0].lstrip("\ufeff").startswith("id,compound_id,title")
    assert len(lines) == 2 and cid in lines[1] and "已生效" in lines[1]
    trail = api.get("staff", f"/commitments/{cid}/history", format="csv").content.decode("utf-8")
    assert len(trail.splitlines()) == 1 + 6  # drafted, 3 confirmed, took effect, inspected
    assert "电梯停运" in trail
    figures = api.get("staff", f"/commitments/{cid}/fulfilment", format="csv").content
    rows = figures.decode("utf-8").splitlines()
    assert len(rows) == 1 + 3
    assert rows[2].split(",")[1:3] == ["2", "电梯维保"]


def test_provider_fulfilment_path_is_not_read_as_an_id(api: Api) -> None:
    response = api.get("staff", "/commitments/fulfilment")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "party_id"
    empty = api.get("staff", "/commitments/fulfilment", party_id=str(uuid.uuid4())).json()
    assert empty["lists"] == []
    assert empty["totals"]["fulfilment_rate"] is None


# ----- needs citing an item ------------------------------------------------------------------


def accepted_need(api: Api) -> str:
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    return need


def assign(
    api: Api, need: str, cid: str | None, item_no: int | None, party: str = "property_company"
) -> Any:
    body: dict[str, Any] = {"party_id": str(api.world.parties[party])}
    if cid is not None:
        body["commitment_id"] = cid
    if item_no is not None:
        body["commitment_item_no"] = item_no
    return api.post("staff", f"/needs/{need}/assign", body)


def test_a_need_cites_an_item_of_the_version_in_effect_or_gets_422(api: Api) -> None:
    cid = in_effect(api)
    drafted_only = draft(api, title="未生效清单")
    volunteers = in_effect(api, "co_building_unit", title="志愿服务清单")
    api.ok("party_branch", f"/commitments/{cid}/amend", {"reason": "新增", "add": [item(5)]})
    need = accepted_need(api)
    before = api.log_position()
    for commitment, item_no, field, words in (
        (cid, 9, "commitment_item_no", "item 9 is not in version 1"),
        (cid, 5, "commitment_item_no", "not in version 1"),  # only in the pending draft
        (drafted_only, 1, "commitment_id", "not taken effect"),
        (volunteers, 1, "commitment_id", "not the assigned party's"),
        (str(uuid.uuid4()), 1, "commitment_id", "no such"),
    ):
        response = assign(api, need, commitment, item_no)
        assert field in field_of(response), (commitment, item_no)
        assert words in response.text
    assert field_of(assign(api, need, cid, None)) == ["commitment_item_no"]
    assert api.log_position() == before

    done = assign(api, need, cid, 2)
    assert done.status_code == 200, done.text
    row = api.get("staff", f"/needs/{need}", after=done.json()["position"]).json()
    assert row["commitment_id"] == cid
    assert row["commitment_item_no"] == 2
    trail = api.get("staff", f"/needs/{need}/history").json()["events"]
    assert trail[-1]["data"]["commitment_id"] == cid  # the id is data; people read the item
    assert "第 2 项" in trail[-1]["summary_zh"] and cid not in trail[-1]["summary_zh"]

    # A suspended list is not cited.
    api.ok("staff", f"/commitments/{cid}/suspend", {"reason": "整改"})
    other = accepted_need(api)
    before = api.log_position()
    response = assign(api, other, cid, 1)
    assert "commitment_id" in field_of(response)
    assert "suspended" in response.text
    assert api.log_position() == before


def test_another_compounds_list_is_not_cited(api: Api, world: World) -> None:
    app = world.services.app
    there_id = world.other_compound_id
    branch = app.register_party(REGISTRAR, compound_id=there_id, kind="party_branch", name="支部").id
    committee = app.register_party(
        REGISTRAR, compound_id=there_id, kind="owners_committee", name="业委会"
    ).id
    there = frozenset({world.other_compound_id})
    b = Actor("b2", Role.PARTY_BRANCH, there, party_id=branch)
    o = Actor("o2", Role.OWNERS_COMMITTEE, there, party_id=committee)
    p = Actor("p2", Role.PROPERTY_COMPANY, there, party_id=world.other_property_company)
    theirs = app.draft_commitment(
        b,
        compound_id=there_id,
        provider_party_id=world.other_property_company,
        title="光明苑清单",
        items=ITEMS,
    ).id
    for who in (b, o, p):
        app.confirm_commitment(who, theirs, list_version=1)
    need = accepted_need(api)
    response = assign(api, need, str(theirs), 1)
    assert "commitment_id" in field_of(response)


# ----- fulfilment --------------------------------------------------------------------------------


def need_under(api: Api, cid: str, item_no: int) -> str:
    need = accepted_need(api)
    response = assign(api, need, cid, item_no)
    assert response.status_code == 200, response.text
    api.ok("property_company", f"/needs/{need}/acknowledge")
    return need


def resolve_at(api: Api, need: str, late_by: timedelta) -> None:
    """Resolve the need ``late_by`` after its assignment (a past/future timestamp set
    through the aggregate, since the API always stamps the present)."""
    app = api.world.services.app
    aggregate = app.repository.get(uuid.UUID(need))
    assigned = [e for e in app.events.get(aggregate.id) if type(e).__name__ == "Assigned"][-1]
    aggregate.resolve(
        by=api.world.actors["property_company"], outcome="已处理", now=assigned.timestamp + late_by
    )
    app.save(aggregate)


def test_fulfilment_figures_equal_a_hand_count(api: Api) -> None:
    inspect = lambda cid, n, result: api.ok(  # noqa: E731
        "staff", f"/commitments/{cid}/inspections", inspection(n, result)
    )
    a = in_effect(api)  # items 1 (24h), 2 (2h), 3 (3wd)
    b = in_effect(api, title="第二份清单")
    volunteers = in_effect(api, "co_building_unit", title="志愿服务清单")

    inspect(a, 1, "met")
    inspect(a, 1, "met")
    inspect(a, 1, "not_met")
    inspect(a, 2, "not_met")
    inspect(b, 1, "met")
    inspect(volunteers, 1, "not_met")

    n1 = need_under(api, a, 1)
    api.ok("property_company", f"/needs/{n1}/resolve", {"outcome": "已清扫"})  # within 24h
    n2 = need_under(api, a, 1)
    resolve_at(api, n2, timedelta(hours=30))  # late for 24h
    n3 = need_under(api, a, 2)
    resolve_at(api, n3, timedelta(minutes=90))  # within 2h
    need_under(api, a, 2)  # open, not yet past its 2h
    n5 = accepted_need(api)
    assert assign(api, n5, a, 2).status_code == 200
    api.ok("staff", f"/needs/{n5}/withdraw", {"reason": "居民自行解决"})  # assigned, never assessed
    n6 = accepted_need(api)
    assert assign(api, n6, None, None).status_code == 200  # cites nothing
    n7 = need_under(api, b, 1)  # list b, resolved within
    last = api.ok("property_company", f"/needs/{n7}/resolve", {"outcome": "好了"})

    figures = api.get("supervisor", f"/commitments/{a}/fulfilment", after=last["position"]).json()
    by_item = {i["number"]: i for i in figures["items"]}
    counts = lambda i: (  # noqa: E731
        i["inspections_met"],
        i["inspections_not_met"],
        i["needs_assigned"],
        i["needs_resolved"],
        i["needs_resolved_within_limit"],
        i["needs_overdue"],
        i["fulfilled"],
        i["assessed"],
        i["fulfilment_rate"],
    )
    # Hand count. item 1: inspections 2 met, 1 not; needs n1 (in time), n2 (late).
    assert counts(by_item[1]) == (2, 1, 2, 2, 1, 0, 3, 5, 0.6)
    # item 2: inspection 1 not met; needs n3 (in time), n4 (open), n5 (withdrawn).
    assert counts(by_item[2]) == (0, 1, 3, 1, 1, 0, 1, 2, 0.5)
    # item 3: nothing yet.
    assert counts(by_item[3]) == (0, 0, 0, 0, 0, 0, 0, 0, None)
    assert counts(figures["totals"]) == (2, 2, 5, 3, 2, 0, 4, 7, round(4 / 7, 4))
    assert by_item[2]["title"] == "电梯维保"
    assert by_item[2]["time_limit"] == "2h"

    provider = api.get(
        "staff", "/commitments/fulfilment", party_id=str(api.world.parties["property_company"])
    ).json()
    assert [entry["commitment_id"] for entry in provider["lists"]] == [a, b]
    assert provider["lists"][1]["totals"]["fulfilled"] == 2  # b: one inspection met, n7 in time
    assert provider["lists"][1]["totals"]["assessed"] == 2
    assert counts(provider["totals"]) == (3, 2, 6, 4, 3, 0, 6, 9, round(6 / 9, 4))
    volunteers_figures = api.get(
        "staff", "/commitments/fulfilment", party_id=str(api.world.parties["co_building_unit"])
    ).json()
    assert counts(volunteers_figures["totals"]) == (0, 1, 0, 0, 0, 0, 0, 1, 0.0)


# A pure test of the figures: fixed times, working days, an overdue need, and the
# time limit that was in effect when each need was assigned.

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)  # Monday 09:00 in Shanghai
COMPOUND = uuid.UUID("00000000-0000-4000-8000-000000000001")
PROVIDER = uuid.UUID("00000000-0000-4000-8000-0000000000b1")
BRANCH = Actor("b", Role.PARTY_BRANCH, frozenset({COMPOUND}), party_id=uuid.uuid4())
COMMITTEE = Actor("o", Role.OWNERS_COMMITTEE, frozenset({COMPOUND}), party_id=uuid.uuid4())
PROVIDER_STAFF = Actor("p", Role.PROPERTY_COMPANY, frozenset({COMPOUND}), party_id=PROVIDER)


def _row_of(c: ServiceCommitment) -> dict[str, Any]:
    row = None
    for position, event in enumerate(c.collect_events(), start=1):
        row = commitment_row(row, event, position)
        row.setdefault("first_position", 1)
    assert row is not None
    return row


def _need(
    cid: str, item_no: int, assigned: datetime, resolved: datetime | None, status: str
) -> dict[str, Any]:
    text = lambda t: t.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f+00:00")  # noqa: E731
    return {
        "commitment_id": cid,
        "commitment_item_no": item_no,
        "assigned_at": text(assigned),
        "resolved_at": text(resolved) if resolved else None,
        "status": status,
    }


def test_fulfilment_uses_working_days_and_the_limit_in_effect_at_assignment() -> None:
    c = ServiceCommitment.draft(
        by=BRANCH,
        compound_id=COMPOUND,
        provider_party_id=PROVIDER,
        provider_kind="property_company",
        title="清单",
        items=[item(1, time_limit="24h"), item(2, time_limit="3wd")],
        now=T0,
    )
    for i, who in enumerate((BRANCH, COMMITTEE, PROVIDER_STAFF)):
        c.confirm(by=who, list_version=1, now=T0 + timedelta(minutes=i + 1))
    # From Monday 9 March, item 1 promises 48h instead of 24h.
    changed_on = T0 + timedelta(days=7)
    c.amend(by=BRANCH, reason="放宽", change=[item(1, time_limit="48h")], now=changed_on)
    for i, who in enumerate((BRANCH, COMMITTEE, PROVIDER_STAFF)):
        c.confirm(by=who, list_version=2, now=changed_on + timedelta(minutes=i + 1))
    row = _row_of(c)
    cid = row["id"]
    friday = T0 + timedelta(days=4)
    needs = [
        # assigned under version 1 (24h), resolved after 30h: late
        _need(cid, 1, T0 + timedelta(hours=1), T0 + timedelta(hours=31), "resolved"),
        # assigned under version 2 (48h), resolved after 30h: in time
        _need(cid, 1, changed_on + timedelta(hours=1), changed_on + timedelta(hours=31), "closed"),
        # 3 working days from Friday 09:00 is Wednesday 09:00 (the weekend does not count)
        _need(cid, 2, friday, friday + timedelta(days=5), "resolved"),
        _need(cid, 2, friday, friday + timedelta(days=5, minutes=1), "resolved"),
        # still open, assigned under version 2 and past its 48h: overdue
        _need(cid, 1, changed_on + timedelta(hours=2), None, "in_progress"),
        # open but within its limit at ``now``: not assessed
        _need(cid, 2, changed_on + timedelta(days=2), None, "assigned"),
        # another list's need is ignored
        _need(str(uuid.uuid4()), 1, T0, T0, "resolved"),
    ]
    now = changed_on + timedelta(days=3)
    figures = fulfilment(row, needs, WorkingCalendar.of(), now)
    one, two = figures["items"]
    needs_counts = lambda i: (  # noqa: E731
        i["needs_assigned"],
        i["needs_resolved"],
        i["needs_resolved_within_limit"],
    )
    assert needs_counts(one) == (3, 2, 1)
    assert one["needs_overdue"] == 1
    assert (one["fulfilled"], one["assessed"], one["fulfilment_rate"]) == (1, 3, round(1 / 3, 4))
    assert one["time_limit"] == "48h"
    assert needs_counts(two) == (3, 2, 1)
    assert two["needs_overdue"] == 0
    assert (two["fulfilled"], two["assessed"]) == (1, 2)
    assert figures["totals"]["fulfilment_rate"] == round(2 / 5, 4)
    # A public holiday makes the same resolution count as in time.
    holiday = WorkingCalendar.of(holidays=[(friday + timedelta(days=3)).date()])  # the Monday
    later = fulfilment(row, needs, holiday, now)
    assert later["items"][1]["needs_resolved_within_limit"] == 2
    assert provider_fulfilment(str(PROVIDER), [figures, later], now)["totals"]["assessed"] == 10

"""The need lifecycle through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.api.client import Api
from tests.world import World


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


def test_grid_worker_records_the_evaluation_on_the_reporters_behalf(api: Api) -> None:
    need = api.to_in_progress()
    resolved = api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已更换电机"})
    assert resolved["version"] == 5
    # Another resident can neither see nor evaluate it.
    other = api.post("resident", f"/needs/{need}/evaluate", {"evaluation": "satisfied"})
    assert other.status_code == 404
    done = api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "satisfied", "obtained_by": "phone"})
    history = api.get("supervisor", f"/needs/{need}/history", after=done["position"]).json()
    last = history["events"][-1]
    assert last["event_type"] == "Evaluated"
    # Who is the person's id; the registry's name is beside it for display.
    assert last["actor_id"] == api.world.actors["staff"].id
    assert last["actor_name"] == "staff"
    assert last["data"]["on_behalf_of_reporter"] is True


def test_lifecycle_of_a_residents_own_need(api: Api) -> None:
    need = api.register("resident", source="self_report")["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "urgent", "category": "facilities"})
    pc = str(api.world.parties["property_company"])
    api.ok("staff", f"/needs/{need}/assign", {"party_id": pc})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已修复"})
    last = api.ok("resident", f"/needs/{need}/evaluate", {"evaluation": "basically_satisfied"})
    assert last["version"] == 6

    view = api.get("resident", f"/needs/{need}", after=last["position"]).json()
    assert view["status"] == "closed"
    assert view["status_zh"] == "已归档"
    assert view["category"] == "facilities"
    assert view["responded_within_limit"] is True
    assert view["resolved_within_limit"] is True
    assert view["evaluation"] == "basically_satisfied"
    assert view["version"] == 6

    history = api.get("supervisor", f"/needs/{need}/history").json()["events"]
    assert [e["event_type"] for e in history] == [
        "Registered",
        "Accepted",
        "Assigned",
        "Acknowledged",
        "Resolved",
        "Evaluated",
    ]
    assert [e["actor_name"] for e in history] == [
        "resident",
        "staff",
        "staff",
        "property_company",
        "property_company",
        "resident",
    ]
    assert history[0]["actor_role"] == "resident"
    assert history[3]["actor_role"] == "property_company"
    assert all(e["occurred_at"].endswith("+00:00") for e in history)
    assert history[4]["summary_zh"].startswith("办结")
    assert history[4]["summary_en"].startswith("resolved")
    assert "已修复" in history[4]["summary_zh"]


def test_unsatisfied_evaluation_reopens_and_counts_the_redo(api: Api) -> None:
    need = api.register("resident", source="self_report")["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "low"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": str(api.world.parties["property_company"])})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已处理"})
    missing = api.post("resident", f"/needs/{need}/evaluate", {"evaluation": "unsatisfied"})
    assert missing.status_code == 422
    assert "comment" in missing.text
    last = api.ok(
        "resident", f"/needs/{need}/evaluate", {"evaluation": "unsatisfied", "comment": "仍然漏水"}
    )
    view = api.get("resident", f"/needs/{need}", after=last["position"]).json()
    assert view["status"] == "assigned"
    assert view["redo_count"] == 1
    assert "acknowledge" in view["allowed_commands"]


def test_illegal_transition_names_status_and_allowed_commands_and_writes_nothing(
    api: Api,
) -> None:
    need = api.register()["id"]
    before = api.log_position()
    response = api.post("staff", f"/needs/{need}/close", {"reason": "无人评价"})
    assert response.status_code == 409
    detail = response.json()["detail"]
    assert detail["current_status"] == "reported"
    assert set(detail["allowed"]) >= {"accept", "reject", "merge", "withdraw"}
    assert "close" not in detail["allowed"]
    assert "reported" in detail["message"]
    assert api.log_position() == before


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"source": "carrier_pigeon"}, "source"),
        ({"category": "weather"}, "category"),
        ({"title": ""}, "title"),
        ({"title": "x" * 201}, "title"),
        ({"colour": "red"}, "colour"),
        ({"compound_id": "not-a-uuid"}, "compound_id"),
        ({"title": "坏了\x00"}, "title"),
    ],
)
def test_bad_fields_get_422_naming_the_field_and_write_nothing(
    api: Api, body: dict[str, Any], field: str
) -> None:
    before = api.log_position()
    base = {
        "compound_id": str(api.world.compound_id),
        "source": "household_visit",
        "title": "电梯",
        "description": "坏了",
    }
    response = api.post("grid_worker", "/needs", {**base, **body})
    assert response.status_code == 422, response.text
    locations = [d["loc"][-1] for d in response.json()["detail"]]
    assert field in locations
    assert api.log_position() == before


def test_reasons_are_required_where_the_rules_ask(api: Api) -> None:
    need = api.register()["id"]
    response = api.post("staff", f"/needs/{need}/reject", {"reason": "   "})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "reason"
    done = api.ok("staff", f"/needs/{need}/reject", {"reason": "不属于小区事务"})
    history = api.get("staff", f"/needs/{need}/history", after=done["position"]).json()["events"]
    assert history[-1]["reason"] == "不属于小区事务"


def test_assigning_a_party_of_another_compound_is_refused(api: Api) -> None:
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    response = api.post(
        "staff", f"/needs/{need}/assign", {"party_id": str(api.world.other_property_company)}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "party_id"


def test_only_the_assigned_partys_staff_acknowledge(api: Api) -> None:
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{need}/assign", {"party_id": str(api.world.parties["owners_committee"])})
    response = api.post("co_building_unit", f"/needs/{need}/acknowledge")
    assert response.status_code == 404  # not assigned to them: they cannot see it
    response = api.post("party_branch", f"/needs/{need}/acknowledge")
    assert response.status_code == 403
    api.ok("owners_committee", f"/needs/{need}/acknowledge")


def test_supervision_notice_keeps_the_status(api: Api) -> None:
    need = api.to_in_progress()
    last = api.ok("supervisor", f"/needs/{need}/supervise", {"text": "请三日内办结"})
    view = api.get("supervisor", f"/needs/{need}", after=last["position"]).json()
    assert view["status"] == "in_progress"
    assert view["supervision_notices"] == 1
    assert api.post("staff", f"/needs/{need}/supervise", {"text": "x"}).status_code == 403


def test_deadline_extension_is_kept_in_the_trail(api: Api) -> None:
    need = api.to_in_progress()
    view = api.get("staff", f"/needs/{need}", after=api.log_position()).json()
    refused = api.post("staff", f"/needs/{need}/extend", {"reason": "x", "resolve_due": view["accepted_at"]})
    assert refused.status_code == 422
    last = api.ok("staff", f"/needs/{need}/extend", {"reason": "需采购配件", "working_days": 3})
    view2 = api.get("staff", f"/needs/{need}", after=last["position"]).json()
    assert view2["resolve_due"] > view["resolve_due"]
    assert view2["extensions"] == 1
    entry = api.get("staff", f"/needs/{need}/history").json()["events"][-1]
    assert entry["event_type"] == "DeadlineExtended"
    assert entry["reason"] == "需采购配件"
    assert entry["data"]["previous_due"] == view["resolve_due"]


def test_merge_transfer_withdraw(api: Api) -> None:
    first = api.register()["id"]
    second = api.register()["id"]
    api.ok("staff", f"/needs/{second}/merge", {"into_need_id": first, "reason": "重复登记"})
    third = api.register()["id"]
    api.ok("staff", f"/needs/{third}/accept", {"priority": "low"})
    api.ok("staff", f"/needs/{third}/transfer", {"to_body": "街道城管科", "reason": "占道经营"})
    own = api.register("resident", source="self_report")["id"]
    last = api.ok("resident", f"/needs/{own}/withdraw", {"reason": "已自行解决"})
    statuses = {
        n["id"]: n["status"]
        for n in api.get("staff", "/needs", after=last["position"]).json()["items"]
    }
    assert statuses[second] == "merged"
    assert statuses[third] == "transferred"
    assert statuses[own] == "withdrawn"
    assert statuses[first] == "reported"
    itself = api.post("staff", f"/needs/{first}/merge", {"into_need_id": first, "reason": "x"})
    assert itself.status_code == 422


def test_if_match_makes_a_command_conditional(api: Api) -> None:
    need = api.register()
    stale = api.post(
        "staff", f"/needs/{need['id']}/accept", {"priority": "normal"}, headers={"If-Match": "7"}
    )
    assert stale.status_code == 412
    assert stale.json()["current_version"] == 1
    fresh = api.post(
        "staff",
        f"/needs/{need['id']}/accept",
        {"priority": "normal"},
        headers={"If-Match": f'"{need["version"]}"'},
    )
    assert fresh.status_code == 200
    bad = api.post("staff", f"/needs/{need['id']}/notes", {"text": "x"}, headers={"If-Match": "abc"})
    assert bad.status_code == 422


def test_list_filters_and_stable_pagination(api: Api) -> None:
    ids = [api.register(title=f"诉求 {i}")["id"] for i in range(7)]
    api.ok("staff", f"/needs/{ids[0]}/accept", {"priority": "urgent"})
    last = api.ok("staff", f"/needs/{ids[1]}/reject", {"reason": "重复"})
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 3, "after": last["position"]}
        if cursor is not None:
            params["cursor"] = cursor
        page = api.get("staff", "/needs", **params).json()
        seen += [n["id"] for n in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == list(reversed(ids))
    accepted = api.get("staff", "/needs", status="accepted").json()["items"]
    assert [n["id"] for n in accepted] == [ids[0]]
    two = api.client.get(
        "/needs?status=accepted&status=rejected", headers=api.world.headers("staff")
    ).json()["items"]
    assert {n["id"] for n in two} == {ids[0], ids[1]}
    assert api.get("staff", "/needs", priority="urgent").json()["items"][0]["id"] == ids[0]
    assert api.get("staff", "/needs", overdue="true").json()["items"] == []
    assert len(api.get("staff", "/needs", overdue="false").json()["items"]) == 7
    assert api.get("staff", "/needs", status="nonsense").status_code == 422
    today = api.get("staff", f"/needs/{ids[0]}").json()["reported_at"][:10]
    assert api.get("staff", "/needs", reported_from="2000-01-01", reported_to="2000-12-31").json()[
        "items"
    ] == []
    assert len(api.get("staff", "/needs", reported_from=today, limit=50).json()["items"]) >= 1


def test_overdue_needs_are_flagged(api: Api, services) -> None:  # noqa: ANN001
    # A response limit of one hour on urgent needs, then look at the view
    # from two hours later through the views' own filter.
    from datetime import UTC, datetime, timedelta

    need = api.register()["id"]
    last = api.ok("staff", f"/needs/{need}/accept", {"priority": "urgent"})
    api.get("staff", f"/needs/{need}", after=last["position"])
    later = datetime.now(UTC) + timedelta(hours=3)
    rows, _ = services.views.needs(now=later, limit=10, overdue=True)
    assert [r["id"] for r in rows] == [need]
    rows, _ = services.views.needs(now=datetime.now(UTC), limit=10, overdue=True)
    assert rows == []


def test_read_your_writes_times_out_with_503_when_views_are_behind(api: Api) -> None:
    far = api.log_position() + 1000
    api.world.services.settings.view_wait_timeout = 0.2  # type: ignore[misc]
    response = api.get("staff", "/needs", after=far)
    assert response.status_code == 503
    assert "Retry-After" in response.headers


def test_unknown_need_is_404(api: Api) -> None:
    assert api.get("staff", f"/needs/{uuid.uuid4()}").status_code == 404
    assert api.post("staff", f"/needs/{uuid.uuid4()}/accept", {"priority": "low"}).status_code == 404

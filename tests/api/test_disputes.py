"""The dispute audit: from two disputed needs to the vote, the actions and the evaluations."""

from __future__ import annotations

import csv
import io

import pytest

from tests.api.client import Api
from tests.api.test_consultations_api import convene_vote, due, owner, propose
from tests.world import World


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    return Api(client, world)


def test_the_dispute_audit_follows_each_need_through_its_consultation(api: Api) -> None:
    disputed = [api.to_in_progress(), api.to_in_progress()]
    calm = api.to_in_progress()
    cid = propose(api, disputed)["id"]
    convene_vote(api, cid)
    api.ok("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    api.ok("resident2", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": owner(api, 1)})
    api.ok("staff", f"/consultations/{cid}/votes", {"choice": "against", "owner_id": owner(api, 2)})
    api.ok("party_branch", f"/consultations/{cid}/close-vote")
    api.ok("party_branch", f"/consultations/{cid}/publish", {"note": "公示七日"})
    pc = str(api.world.parties["property_company"])
    api.ok("staff", f"/consultations/{cid}/actions", {"items": [{"title": "更换电梯", "party_id": pc, "due_on": due()}]})
    api.ok("property_company", f"/consultations/{cid}/actions/1/complete")
    for need in disputed:
        api.ok("property_company", f"/needs/{need}/acknowledge")
        api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "按决议更换"})
        last = api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "satisfied", "obtained_by": "visit"})

    rows = api.get("supervisor", "/audit/disputes", after=last["position"]).json()["items"]
    assert {r["need_id"] for r in rows} == set(disputed)
    assert calm not in {r["need_id"] for r in rows}
    for row in rows:
        assert row["consultation_id"] == cid
        assert row["method"] == "vote"
        assert row["vote_outcome"] == "adopted"
        assert row["participation_area"] == "1/1"
        assert row["approval_owners"] == "2/3"
        assert row["actions_done"] == row["actions_total"] == 1
        assert row["action_items"][0]["title"] == "更换电梯"
        assert row["consultation_status"] == "closed"
        assert row["consultation_outcome"] == "adopted"
        assert row["escalated_at"] < row["returned_at"] < row["resolved_at"] < row["evaluated_at"]
        assert row["evaluation"] == "satisfied"
        assert row["need_history"] == f"/needs/{row['need_id']}/history"
        assert api.get("supervisor", row["consultation_history"]).status_code == 200

    exported = api.get("supervisor", "/audit/disputes", format="csv")
    assert exported.content.startswith("\ufeff".encode())
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {line["need_id"] for line in lines} == set(disputed)
    assert {line["approval_area"] for line in lines} == {"2/3"}

    assert api.get("other_staff", "/audit/disputes").json()["items"] == []
    assert api.get("supervisor", "/audit/disputes", reported_to="2000-01-01").json()["items"] == []
    assert api.get("resident", "/audit/disputes").status_code == 403


def _twice_disputed(api: Api) -> tuple[str, str, str, int]:
    """A need escalated to a consultation that is called off, back with its
    party, then escalated to a second one that reaches consensus, and resolved."""
    need = api.to_in_progress()
    first = propose(api, [need])["id"]
    api.ok("staff", f"/consultations/{first}/cancel", {"reason": "议题需重新准备"})
    second = propose(api, [need])["id"]
    api.ok(
        "party_branch",
        f"/consultations/{second}/convene",
        {"meets_at": "2026-03-10T19:00:00+08:00", "place": "2号楼下", "method": "consensus"},
    )
    api.ok("party_branch", f"/consultations/{second}/resolution", {"text": "物业七日内修复"})
    api.ok("property_company", f"/needs/{need}/acknowledge")
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已修复"})
    last = api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "satisfied", "obtained_by": "visit"})
    return need, first, second, last["position"]


def test_a_need_through_two_consultations_has_a_row_for_each(api: Api) -> None:
    need, first, second, last = _twice_disputed(api)
    rows = api.get("supervisor", "/audit/disputes", after=last).json()["items"]
    assert [(r["need_id"], r["consultation_no"], r["consultation_id"]) for r in rows] == [
        (need, 1, first),
        (need, 2, second),
    ]
    one, two = rows
    # Each row's consultation fields are that consultation's.
    assert one["consultation_outcome"] == "cancelled" and one["consultation_status"] == "cancelled"
    assert one["consultation_resolution"] is None and one["method"] is None
    assert two["consultation_outcome"] == "consensus" and two["method"] == "consensus"
    assert two["consultation_resolution"] == two["resolution"] == "物业七日内修复"
    assert one["escalated_at"] < one["returned_at"] < two["escalated_at"] < two["returned_at"]
    assert one["consultation_history"] == f"/consultations/{first}/history"
    assert two["consultation_history"] == f"/consultations/{second}/history"
    # The need's own fields are its current state on both rows.
    for row in rows:
        assert row["status"] == "closed" and row["evaluation"] == "satisfied"
        assert row["resolved_at"] > two["returned_at"]
        assert row["need_history"] == f"/needs/{need}/history"
    # The case itself names its latest consultation.
    case = api.get("supervisor", f"/needs/{need}").json()
    assert case["consultation_id"] == second
    assert case["consultation_outcome"] == "consensus"
    assert [step["consultation_id"] for step in case["consultations"]] == [first, second]

    exported = api.get("supervisor", "/audit/disputes", format="csv")
    lines = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [(line["consultation_no"], line["consultation_id"]) for line in lines] == [
        ("1", first),
        ("2", second),
    ]
    assert [line["consultation_outcome"] for line in lines] == ["cancelled", "consensus"]


def test_pages_of_disputes_continue_where_the_previous_stopped(api: Api) -> None:
    twice, _, _, _ = _twice_disputed(api)
    others = [api.to_in_progress() for _ in range(3)]
    last = propose(api, others)["position"]
    newest_first = [*reversed(others), twice]

    everything = api.get("supervisor", "/audit/disputes", after=last).json()
    assert everything["next_cursor"] is None
    assert [r["need_id"] for r in everything["items"]] == [*reversed(others), twice, twice]

    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 2} if cursor is None else {"limit": 2, "cursor": cursor}
        page = api.get("supervisor", "/audit/disputes", **params).json()
        pages += 1
        seen.extend(r["need_id"] for r in page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    # Two needs a page; the need with two consultations keeps both rows together.
    assert pages == 2
    assert seen == [r["need_id"] for r in everything["items"]]
    assert list(dict.fromkeys(seen)) == newest_first
    # A new dispute does not move the pages already read.
    first_page = api.get("supervisor", "/audit/disputes", limit=2).json()
    later = propose(api, [api.to_in_progress()])["position"]
    again = api.get("supervisor", "/audit/disputes", limit=2, cursor=first_page["next_cursor"], after=later)
    assert [r["need_id"] for r in again.json()["items"]] == [others[0], twice, twice]
    assert api.get("supervisor", "/audit/disputes", limit=0).status_code == 422
    assert api.get("supervisor", "/audit/disputes", cursor=-1).status_code == 422


@pytest.mark.parametrize(
    ("parameter", "day"),
    [
        ("reported_from", "0001-01-01"),
        ("reported_to", "9999-12-31"),
        ("reported_from", "1999-12-31"),
        ("reported_to", "2200-01-01"),
    ],
)
def test_days_outside_the_range_are_refused_naming_the_parameter(
    api: Api, parameter: str, day: str
) -> None:
    for fmt in ("json", "csv"):
        response = api.get("supervisor", "/audit/disputes", format=fmt, **{parameter: day})
        assert response.status_code == 422, response.text
        [error] = response.json()["detail"]
        assert error["loc"] == ["query", parameter]


def test_the_first_and_last_days_of_the_range_are_answered(api: Api) -> None:
    response = api.get(
        "supervisor", "/audit/disputes", reported_from="2000-01-01", reported_to="2199-12-31"
    )
    assert response.status_code == 200
    assert response.json() == {"items": [], "next_cursor": None}

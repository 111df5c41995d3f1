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
        last = api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "satisfied"})

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

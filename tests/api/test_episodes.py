"""Each party judged on its own episodes (issue 22; DESIGN 2.1 and 3.4).

接诉即办's response rate (响应率) charges a party for the needs it had: an
episode begins each time a party gets a need (assignment, reassignment,
redo, return from a consultation), its limits run from that moment, and a
party's figures count only its episodes. Each case below is counted by hand.

The needs are driven through the domain with chosen times (the API takes the
clock's), saved through the application, and read through ``GET /stats`` and
the need's view on both stores. Times: Monday 2 November 2026, 10:00 in
Beijing (T0); urgent needs: respond within 2 h, resolve within 1 working day.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

from fastapi.testclient import TestClient

from domain.need import Need
from tests.world import World

T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)  # 10:00 in Beijing, a Monday


def moment(text: str) -> datetime:
    return datetime.fromisoformat(text)


def minutes(n: float) -> datetime:
    return T0 + timedelta(minutes=n)


class Case:
    """One need, changed through the domain at chosen times."""

    def __init__(self, world: World, title: str) -> None:
        self.world = world
        self.app = world.services.app
        self.id = self.app.register_need(
            world.actors["grid_worker"],
            compound_id=world.compound_id,
            source="household_visit",
            title=title,
            description="手工计数",
        ).id

    def do(self, change: Callable[[Need], Any]) -> Case:
        need = self.app.repository.get(self.id)
        change(need)
        self.app.save(need)
        return self

    def accept(self, at: datetime) -> Case:
        staff = self.world.actors["staff"]
        return self.do(lambda n: n.accept(by=staff, priority="urgent", policy=self.app.deadline_policy, now=at))

    def assign(self, party: str, at: datetime, reason: str | None = None) -> Case:
        staff = self.world.actors["staff"]
        party_id = self.world.parties[party]
        return self.do(
            lambda n: n.assign(
                by=staff, party_id=party_id, party_role=party, reason=reason,
                policy=self.app.deadline_policy, now=at,
            )
        )

    def acknowledge(self, party: str, at: datetime) -> Case:
        return self.do(lambda n: n.acknowledge(by=self.world.actors[party], now=at))

    def resolve(self, party: str, at: datetime) -> Case:
        return self.do(lambda n: n.resolve(by=self.world.actors[party], outcome="已处理", now=at))

    def evaluate(self, evaluation: str, at: datetime, **extra: Any) -> Case:
        return self.do(
            lambda n: n.evaluate(
                by=self.world.actors["staff"], evaluation=evaluation, obtained_by="phone",
                policy=self.app.deadline_policy, now=at, **extra,
            )
        )


def stats(client: TestClient, world: World) -> dict[str, dict[str, Any]]:
    position = world.services.app.recorder.max_notification_id()
    answer = client.get("/stats", params={"after": position}, headers=world.headers("supervisor"))
    assert answer.status_code == 200, answer.text
    return {row["party_id"]: row for row in answer.json()["party"]}


def view(client: TestClient, world: World, need_id: UUID) -> dict[str, Any]:
    position = world.services.app.recorder.max_notification_id()
    answer = client.get(f"/needs/{need_id}", params={"after": position}, headers=world.headers("supervisor"))
    assert answer.status_code == 200, answer.text
    return answer.json()  # type: ignore[no-any-return]


def test_a_party_is_credited_with_its_timely_response_and_the_next_charged_only_for_its_own(
    client: TestClient, world: World
) -> None:
    """A acknowledges in time, staff reassign the need to B, B never acknowledges:
    A's response is 1/1, B's 0/1 once B's own deadline has passed, and the need
    is overdue (it was never overdue before: B was charged with A's response)."""
    need = (
        Case(world, "甲及时响应后改派")
        .accept(minutes(0))
        .assign("property_company", minutes(10))
        .acknowledge("property_company", minutes(20))
        .assign("co_building_unit", minutes(30), reason="属共建单位服务范围")
    )
    parties = stats(client, world)
    a, b = parties[str(world.parties["property_company"])], parties[str(world.parties["co_building_unit"])]
    assert a["response_rate"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    # B's deadline, 2 h after it got the need (12:30 Beijing), has long passed now.
    assert b["response_rate"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert (a["overdue_open"], b["overdue_open"]) == (0, 1)
    row = view(client, world, need.id)
    assert row["overdue"] is True
    assert [(e["party_id"], e["started_by"], e["responded_within_limit"]) for e in row["episodes"]] == [
        (str(world.parties["property_company"]), "assigned", True),
        (str(world.parties["co_building_unit"]), "reassigned", None),
    ]
    assert moment(row["respond_due"]) == moment("2026-11-02T04:30:00+00:00")  # the current episode's


def test_a_party_given_a_need_late_is_judged_from_when_it_got_it(
    client: TestClient, world: World
) -> None:
    """A misses its response deadline; the need is reassigned; B acknowledges a
    minute later: A 0/1, B 1/1 (not 0/1 on A's deadline)."""
    (
        Case(world, "甲超时未响应后改派")
        .accept(minutes(0))
        .assign("property_company", minutes(0))
        .assign("co_building_unit", minutes(180), reason="甲未响应")
        .acknowledge("co_building_unit", minutes(181))
    )
    parties = stats(client, world)
    a, b = parties[str(world.parties["property_company"])], parties[str(world.parties["co_building_unit"])]
    assert a["response_rate"] == {"numerator": 0, "denominator": 1, "rate": 0.0}
    assert b["response_rate"] == {"numerator": 1, "denominator": 1, "rate": 1.0}


def test_no_lateness_before_a_party_had_the_need(client: TestClient, world: World) -> None:
    """An urgent need (2 h) assigned 3 h after acceptance and acknowledged a
    minute later is a timely response: the clock starts at the assignment."""
    need = (
        Case(world, "受理三小时后派单")
        .accept(minutes(0))
        .assign("property_company", minutes(180))
        .acknowledge("property_company", minutes(181))
    )
    a = stats(client, world)[str(world.parties["property_company"])]
    assert a["response_rate"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    row = view(client, world, need.id)
    assert row["responded_within_limit"] is True
    # The acceptance's own deadlines stay in the record.
    assert moment(row["accepted_respond_due"]) == moment("2026-11-02T04:00:00+00:00")
    assert moment(row["episodes"][0]["respond_due"]) == moment("2026-11-02T07:00:00+00:00")


def test_a_redo_is_judged_against_its_own_limits(client: TestClient, world: World) -> None:
    """After an unsatisfied evaluation (重办) two days on, the redo episode's
    deadlines run from the evaluation: the need is not overdue at once, and a
    response 30 minutes later and a resolution the next morning are in time."""
    redo_at = minutes(2 * 24 * 60)  # Wednesday 10:00
    need = (
        Case(world, "重办按新时限")
        .accept(minutes(0))
        .assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(30))
        .resolve("property_company", minutes(60))
        .evaluate("unsatisfied", redo_at, comment="仍然漏水", resolved=False)
    )
    row = view(client, world, need.id)
    assert [e["started_by"] for e in row["episodes"]] == ["assigned", "redo"]
    assert moment(row["respond_due"]) == moment("2026-11-04T04:00:00+00:00")  # 2 h after the redo
    assert moment(row["resolve_due"]) == moment("2026-11-05T02:00:00+00:00")  # 1 working day after
    need.acknowledge("property_company", redo_at + timedelta(minutes=30))
    need.resolve("property_company", redo_at + timedelta(hours=20))  # Thursday 06:00
    need.evaluate("satisfied", redo_at + timedelta(days=1), resolved=True)
    a = stats(client, world)[str(world.parties["property_company"])]
    # Two episodes, each acknowledged and resolved within its own limits.
    assert a["response_rate"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    assert a["resolution_rate"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    assert a["resolved_within_limit"] == 2
    assert a["redos"] == 1
    # 满意率 over the two evaluated episodes; 解决率 over the evaluations that said
    # whether the matter is resolved: the first said no, the second yes.
    assert a["satisfaction_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert a["confirmed_resolution_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}


def test_a_redo_right_after_the_evaluation_is_not_overdue(world: World) -> None:
    """The domain's own check, at the moment of the redo (before: overdue at once,
    on the first deadlines)."""
    case = (
        Case(world, "重办不立即超时")
        .accept(minutes(0))
        .assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(30))
        .resolve("property_company", minutes(60))
        .evaluate("unsatisfied", minutes(3 * 24 * 60), comment="没修好")
    )
    need = world.services.app.repository.get(case.id)
    assert not need.is_overdue(minutes(3 * 24 * 60 + 1))
    assert need.is_overdue(minutes(3 * 24 * 60 + 121))  # 2 h on, unacknowledged


# ----- exclusions from a party's assessment (不纳入考评) ---------------------------


def test_an_exclusion_changes_the_adjusted_figures_and_not_the_raw_ones(
    client: TestClient, world: World
) -> None:
    """Two needs of the property company, one late and one in time: raw 1/2.
    The supervisor leaves the late one out of its assessment with a reason:
    adjusted 1/1, raw still 1/2; revoked, adjusted is 1/2 again. Both are
    events in the trail; only a supervisor may do either."""
    pc = str(world.parties["property_company"])
    late = (
        Case(world, "要求不合理")
        .accept(minutes(0))
        .assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(300))
    )
    (
        Case(world, "按时响应")
        .accept(minutes(0))
        .assign("property_company", minutes(0))
        .acknowledge("property_company", minutes(30))
    )
    a = stats(client, world)[pc]
    assert a["response_rate"] == a["adjusted"]["response_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}

    body = {"party_id": pc, "reason": "复核认定诉求不合理"}
    path = f"/needs/{late.id}/exclusions"
    assert client.post(path, json=body, headers=world.headers("staff")).status_code == 403
    excluded = client.post(path, json=body, headers=world.headers("supervisor"))
    assert excluded.status_code == 200, excluded.text
    again = client.post(path, json=body, headers=world.headers("supervisor"))
    assert again.status_code == 409
    other = client.post(
        path, json={**body, "party_id": str(world.parties["co_building_unit"])}, headers=world.headers("supervisor")
    )
    assert other.status_code == 422 and "never had" in other.text
    no_reason = client.post(path, json={"party_id": pc, "reason": " "}, headers=world.headers("supervisor"))
    assert no_reason.status_code == 422

    a = stats(client, world)[pc]
    assert a["response_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert a["adjusted"]["response_rate"] == {"numerator": 1, "denominator": 1, "rate": 1.0}
    assert (a["accepted"], a["adjusted"]["accepted"]) == (2, 1)

    revoked = client.post(
        f"/needs/{late.id}/exclusions/{pc}/revoke", json={"reason": "复核后恢复"}, headers=world.headers("supervisor")
    )
    assert revoked.status_code == 200, revoked.text
    a = stats(client, world)[pc]
    assert a["adjusted"]["response_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    trail = client.get(
        f"/needs/{late.id}/history", params={"after": revoked.json()["position"]}, headers=world.headers("supervisor")
    ).json()["events"]
    assert [(e["event_type"], e["reason"]) for e in trail[-2:]] == [
        ("ExcludedFromAssessment", "复核认定诉求不合理"),
        ("ExclusionRevoked", "复核后恢复"),
    ]

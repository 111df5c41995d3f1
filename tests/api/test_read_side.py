"""Visits and coverage, the figures, CSV exports, metrics: on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

import pytest

from application.figures import grouped_figures
from tests.api.client import Api
from tests.world import World, build_world


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    return Api(client, world)


def test_a_visit_registers_needs_on_the_spot_in_one_transaction(api: Api) -> None:
    household = str(api.world.households[0])
    before = api.log_position()
    visit = api.ok(
        "grid_worker",
        "/visits",
        {
            "compound_id": str(api.world.compound_id),
            "household_id": household,
            "notes": "老人独居，需关注",
            "needs": [
                {"title": "水龙头漏水", "description": "厨房水龙头", "category": "facilities"},
                {"title": "楼道堆物", "description": "三楼楼道堆放纸箱", "category": "safety"},
            ],
        },
    )
    assert len(visit["need_ids"]) == 2
    assert api.log_position() == before + 3
    for need_id in visit["need_ids"]:
        view = api.get("staff", f"/needs/{need_id}", after=visit["position"]).json()
        assert view["household_id"] == household
        assert view["source"] == "household_visit"
    # The resident of that household sees the needs collected at their door.
    mine = api.get("resident", "/needs").json()["items"]
    assert {n["id"] for n in mine} == set(visit["need_ids"])
    listed = api.get("staff", "/visits").json()["items"]
    assert [v["id"] for v in listed] == [visit["id"]]
    assert listed[0]["need_ids"] == visit["need_ids"]


def test_a_visit_with_a_bad_need_writes_nothing(api: Api) -> None:
    before = api.log_position()
    response = api.post(
        "grid_worker",
        "/visits",
        {
            "compound_id": str(api.world.compound_id),
            "household_id": str(api.world.households[0]),
            "needs": [{"title": "好", "description": "好"}, {"title": "", "description": "x"}],
        },
    )
    assert response.status_code == 422
    assert api.log_position() == before
    wrong = api.post(
        "grid_worker",
        "/visits",
        {"compound_id": str(api.world.compound_id), "household_id": str(api.world.parties["party_branch"])},
    )
    assert wrong.status_code == 422
    assert wrong.json()["detail"][0]["loc"][-1] == "household_id"
    assert api.post("resident", "/visits", {}).status_code == 403


def test_coverage_counts_by_local_month_across_a_holiday_month(api: Api) -> None:
    """National Day: a visit late on 30 September UTC is 1 October in Shanghai."""
    h1, h2, h3 = (str(h) for h in api.world.households)
    compound = str(api.world.compound_id)
    for household, at in (
        (h1, "2026-09-30T17:00:00+00:00"),
        (h2, "2026-10-05T10:00:00+08:00"),
        (h2, "2026-10-06T10:00:00+08:00"),
        (h3, "2026-09-15T10:00:00+08:00"),
    ):
        last = api.ok(
            "grid_worker",
            "/visits",
            {"compound_id": compound, "household_id": household, "visited_at": at},
        )
    response = api.get(
        "supervisor",
        "/visits/coverage",
        compound_id=compound,
        month_from="2026-09",
        month_to="2026-10",
        after=last["position"],
    ).json()
    by_month = {row["month"]: row for row in response["items"]}
    assert by_month["2026-10"]["households"] == 3
    assert by_month["2026-10"]["visited"] == 2
    assert by_month["2026-10"]["coverage"]["rate"] == round(2 / 3, 4)
    assert [h["number"] for h in by_month["2026-10"]["not_visited"]] == ["103"]
    assert by_month["2026-09"]["visited"] == 1
    future = api.post(
        "grid_worker",
        "/visits",
        {"compound_id": compound, "household_id": h1, "visited_at": "2099-01-01T00:00:00+00:00"},
    )
    assert future.status_code == 422
    bad = api.get("supervisor", "/visits/coverage", compound_id=compound, month_from="2026-13")
    assert bad.status_code == 422


def _scenario(api: Api) -> dict[str, str]:
    """Eight accepted needs, one only reported, and one visit; see the hand count below.

    W's transfer is recorded through the domain with a timestamp just past its
    response deadline (the API takes the clock's time): W sat unacknowledged
    with its party past the deadline, then left it.
    """
    pc = str(api.world.parties["property_company"])
    oc = str(api.world.parties["owners_committee"])
    a = api.register("resident", source="self_report", title="A")["id"]
    b = api.register("resident", source="self_report", title="B")["id"]
    c = api.register(title="C")["id"]
    d = api.register(title="D")["id"]
    e = api.register(title="E")["id"]
    f = api.register(title="F")["id"]
    g = api.register(title="G")["id"]
    h = api.register(title="H")["id"]
    w = api.register(title="W")["id"]
    for need, priority, party in (
        (a, "urgent", pc),
        (b, "normal", pc),
        (c, "low", oc),
        (f, "normal", pc),
        (w, "urgent", oc),
    ):
        api.ok("staff", f"/needs/{need}/accept", {"priority": priority})
        api.ok("staff", f"/needs/{need}/assign", {"party_id": party})
    for need in (a, b):
        api.ok("property_company", f"/needs/{need}/acknowledge")
        api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已处理"})
    api.ok("resident", f"/needs/{a}/evaluate", {"evaluation": "satisfied"})
    api.ok("resident", f"/needs/{b}/evaluate", {"evaluation": "unsatisfied", "comment": "没修好"})
    api.ok("staff", f"/needs/{d}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{d}/transfer", {"to_body": "街道", "reason": "非小区事务"})
    # F: assigned, withdrawn at once, long before its response deadline.
    api.ok("staff", f"/needs/{f}/withdraw", {"reason": "居民已自行解决"})
    # G rejected and H merged into C, both after acceptance.
    api.ok("staff", f"/needs/{g}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{g}/reject", {"reason": "不属于受理范围"})
    api.ok("staff", f"/needs/{h}/accept", {"priority": "low"})
    api.ok("staff", f"/needs/{h}/merge", {"into_need_id": c, "reason": "与C重复"})
    # W: transferred a minute after its response deadline, unacknowledged.
    services = api.world.services
    due = api.get("staff", f"/needs/{w}", after=api.log_position()).json()["respond_due"]
    need = services.app.repository.get(UUID(w))
    need.transfer(
        by=api.world.actors["staff"],
        to_body="区住建委",
        reason="需区级协调",
        now=datetime.fromisoformat(due) + timedelta(minutes=1),
    )
    services.app.save(need)
    # One household of three visited this month.
    api.ok(
        "grid_worker",
        "/visits",
        {"compound_id": str(api.world.compound_id), "household_id": str(api.world.households[0])},
    )
    return {"a": a, "b": b, "c": c, "d": d, "e": e, "f": f, "g": g, "h": h, "w": w, "pc": pc, "oc": oc}


def _hours(start: str, end: str) -> float:
    return (datetime.fromisoformat(end) - datetime.fromisoformat(start)) / timedelta(hours=1)


def _recorded_at(api: Api, need: str) -> dict[str, list[str]]:
    """When each kind of event of the need was recorded, from its own trail."""
    at: dict[str, list[str]] = {}
    for event in api.get("supervisor", f"/needs/{need}/history").json()["events"]:
        at.setdefault(event["event_type"], []).append(event["occurred_at"])
    return at


def test_figures_equal_a_hand_count(api: Api) -> None:
    ids = _scenario(api)
    stats = api.get("supervisor", "/stats", after=api.log_position()).json()
    [compound] = stats["compound"]
    # Accepted: A, B, C, D, F, G, H, W (E was never accepted).
    assert compound["accepted"] == 8
    # Episodes: A1, B1 (pc, each acknowledged and resolved in time, evaluated),
    # B2 (pc's redo, begun by B's unsatisfied evaluation), C1 (oc), F1 (pc, ended
    # by the withdrawal), W1 (oc, ended by the transfer); D, G, H never assigned.
    # Response settled: A1 and B1 acknowledged in time; B2, C1 and W1 not yet due
    # (W's transfer is recorded a minute past its deadline, which is still ahead);
    # F1 ended before its deadline.
    assert compound["response_rate"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    # Resolution settled: A1 and B1 resolved (B1's resolution stands for its own
    # episode; the redo is judged as B2); B2 and C1 not yet due; F1 and W1 ended by
    # a withdrawal and a transfer: not the party's.
    assert compound["resolution_rate"] == {"numerator": 2, "denominator": 2, "rate": 1.0}
    assert compound["resolved_within_limit"] == 2
    # Evaluated: A1 satisfied, B1 unsatisfied.
    assert compound["satisfaction_rate"] == {"numerator": 1, "denominator": 2, "rate": 0.5}
    assert compound["redos"] == 1
    # B's redo has fresh deadlines: nothing is overdue at once.
    assert compound["overdue_open"] == 0
    # Medians, from the events' own timestamps: to respond over A1 and B1 (the
    # assignment that began the episode to its acknowledgement; the median of two
    # is their mean); to resolve over A1 and B1 (assignment to resolution).
    a, b = _recorded_at(api, ids["a"]), _recorded_at(api, ids["b"])
    to_respond = [_hours(n["Assigned"][0], n["Acknowledged"][0]) for n in (a, b)]
    assert compound["median_hours_to_respond"] == round(sum(to_respond) / 2, 2)
    to_resolve = [_hours(n["Assigned"][0], n["Resolved"][0]) for n in (a, b)]
    assert compound["median_hours_to_resolve"] == round(sum(to_resolve) / 2, 2)
    parties = {row["party_id"]: row for row in stats["party"]}
    assert parties[ids["pc"]]["accepted"] == 3  # A, B, F
    assert parties[ids["pc"]]["satisfaction_rate"]["rate"] == 0.5
    assert parties[ids["oc"]]["accepted"] == 2  # C, W
    assert parties[ids["oc"]]["response_rate"]["denominator"] == 0
    assert parties[ids["oc"]]["median_hours_to_respond"] is None
    assert parties["unassigned"]["accepted"] == 3  # D, G, H
    month = datetime.now(UTC).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m")
    assert [row["month"] for row in stats["month"]] == [month]
    # Visit coverage this month: household 101 of 101, 102, 103 (the other
    # compound has no households).
    coverage = {row["compound_id"]: row for row in stats["visit_coverage"]}
    visits = coverage[str(api.world.compound_id)]
    assert (visits["month"], visits["households"], visits["visited"]) == (month, 3, 1)
    assert visits["rate"] == round(1 / 3, 4)
    # A resident may not read the figures.
    assert api.get("resident", "/stats").status_code == 403


def test_figures_a_month_later_count_what_fell_due(api: Api) -> None:
    _scenario(api)
    api.get("staff", "/needs", after=api.log_position())
    rows = list(api.world.services.views.iter_needs(now=datetime.now(UTC)))
    later = datetime.now(UTC) + timedelta(days=40)
    [compound] = grouped_figures(rows, later, ZoneInfo("Asia/Shanghai"))["compound"]
    # Response settled: A1 and B1 in time; B2 (the redo) and C1 passed their
    # deadlines unacknowledged; W1's passed while its party still had it. F1 ended
    # before its deadline: its response never fell due.
    assert compound["response_rate"] == {"numerator": 2, "denominator": 5, "rate": 0.4}
    # A1 and B1 resolved; B2 and C1 are now due and not resolved. F1 and W1 ended
    # by a withdrawal and a transfer: not the party's to resolve.
    assert compound["resolution_rate"] == {"numerator": 2, "denominator": 4, "rate": 0.5}
    assert compound["resolved_within_limit"] == 2
    assert compound["overdue_open"] == 2


def test_csv_exports_open_as_utf8_with_bom_and_round_trip_chinese(api: Api) -> None:
    need = api.to_in_progress()
    api.ok("property_company", f"/needs/{need}/notes", {"text": "已联系厂家，预计周三到货 😀"})
    response = api.get("staff", "/needs", format="csv", after=api.log_position())
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.content.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert [r["title"] for r in rows] == ["2号楼电梯停运"]
    assert rows[0]["status"] == "in_progress" and rows[0]["status_zh"] == "办理中"
    for column in ("reported_at", "accepted_at", "assigned_at", "responded_at", "resolved_at"):
        assert column in rows[0]
    assert rows[0]["responded_at"] != ""
    history = api.get("staff", f"/needs/{need}/history", format="csv")
    trail = list(csv.DictReader(io.StringIO(history.content.decode("utf-8-sig"))))
    assert [r["event"] for r in trail][-1] == "Need.NoteAdded"
    assert "😀" in trail[-1]["summary_zh"]
    visits = api.get("staff", "/visits", format="csv")
    assert visits.content.startswith("\ufeff".encode())


def test_large_csv_export_streams_every_row(api: Api) -> None:
    for i in range(450):
        api.world.services.app.register_need(
            api.world.actors["grid_worker"],
            compound_id=api.world.compound_id,
            source="household_visit",
            title=f"诉求{i}",
            description="批量",
        )
    response = api.get("staff", "/needs", format="csv", after=api.log_position())
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert len(rows) == 450
    assert len({r["id"] for r in rows}) == 450


def test_metrics_and_security_headers(api: Api) -> None:
    api.register()
    api.get("staff", "/needs")
    response = api.client.get("/metrics")
    assert response.status_code == 200
    text = response.text
    assert 'linli_http_requests_total{method="GET",route="/needs",status="200"}' in text
    assert 'linli_commands_total{command="register_need"}' in text
    assert "linli_view_lag" in text
    assert "linli_log_position" in text
    health = api.client.get("/healthz")
    assert health.headers["X-Content-Type-Options"] == "nosniff"
    assert health.headers["X-Frame-Options"] == "DENY"
    ready = api.client.get("/readyz").json()
    assert ready["status"] in ("ready", "catching up")


def test_readyz_reports_not_ready_while_the_views_are_far_behind(make_settings) -> None:  # noqa: ANN001
    from fastapi.testclient import TestClient

    from api.app import create_app
    from infrastructure.store import build_services

    services = build_services(make_settings(projection_batch_size=1))
    try:
        world = build_world(services)  # the updater is not running: the views stay behind
        with TestClient(create_app(services=services)) as client:
            behind = client.get("/readyz")
            assert behind.status_code == 503
            assert behind.json()["lag"] == services.app.recorder.max_notification_id()
            services.updater.catch_up()
            assert client.get("/readyz").status_code == 200
        assert world.compound_id
    finally:
        services.close()


def test_readyz_is_not_ready_while_the_view_updater_keeps_failing(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A projection that fails on an event (a bug) stops the views there: the
    service says so at once, with the error, rather than only once far behind."""
    services = api.world.services
    api.register()
    assert services.updater.wait_for(api.log_position(), 10)
    assert api.client.get("/readyz").status_code == 200

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("a projection bug")

    monkeypatch.setattr(services.views, "process_batch", broken)
    api.register()
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while services.updater.last_error is None and datetime.now(UTC) < deadline:
        services.updater.wake()
        api.client.get("/healthz")
    stuck = api.client.get("/readyz")
    assert stuck.status_code == 503
    assert stuck.json()["lag"] == 1
    assert "a projection bug" in stuck.json()["last_error"]
    monkeypatch.undo()
    services.updater.wake()
    assert services.updater.wait_for(api.log_position(), 10)
    deadline = datetime.now(UTC) + timedelta(seconds=10)
    while services.updater.last_error is not None and datetime.now(UTC) < deadline:
        services.updater.wake()
    assert api.client.get("/readyz").status_code == 200


def test_figures_carry_commitment_fulfilment_and_the_lists_trail_shows_its_needs(api: Api) -> None:
    from tests.api.test_commitments_api import in_effect, inspection, need_under

    cid = in_effect(api)
    api.ok("staff", f"/commitments/{cid}/inspections", inspection(1, "met"))
    api.ok("staff", f"/commitments/{cid}/inspections", inspection(1, "not_met"))
    need = need_under(api, cid, 1)
    last = api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已清扫"})
    stats = api.get("supervisor", "/stats", after=last["position"]).json()
    [listed] = stats["commitment_fulfilment"]
    assert listed["commitment_id"] == cid
    totals = listed["totals"]
    assert (totals["inspections_met"], totals["inspections_not_met"]) == (1, 1)
    assert (totals["needs_assigned"], totals["needs_resolved_within_limit"]) == (1, 1)
    trail = api.get("supervisor", f"/commitments/{cid}/history").json()["events"]
    mine = [e["event"] for e in trail if e["case_id"] == need]
    assert mine == ["Need.Assigned", "Need.Resolved"]


@pytest.mark.parametrize(
    "path", ["/compounds", "/parties", "/consultations", "/commitments", "/visits", "/audit/disputes"]
)
def test_every_list_comes_as_csv_with_a_bom(api: Api, path: str) -> None:
    response = api.get("supervisor", path, format="csv", after=api.log_position())
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode())
    header = next(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert "id" in header or "need_id" in header


def test_a_long_trail_is_exported_whole_and_in_order_as_json_and_csv(api: Api) -> None:
    """A trail longer than the pages the export reads (500 events) comes out
    whole and in order, streamed (no Content-Length: never built in memory)."""
    app = api.world.services.app
    need_id = api.to_in_progress()
    need = app.repository.get(UUID(need_id))
    staff = api.world.actors["staff"]
    for i in range(1, 1201):
        need.add_note(by=staff, text=f"第{i}次进展")
    position = app.save(need)[-1].notification.id

    response = api.get("staff", f"/needs/{need_id}/history", after=position)
    assert response.status_code == 200
    assert "content-length" not in response.headers
    body = response.json()
    assert body["need_id"] == need_id
    events = body["events"]
    assert len(events) == 4 + 1200  # registered, accepted, assigned, acknowledged, notes
    positions = [e["position"] for e in events]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    assert events[-1]["data"]["text"] == "第1200次进展"

    exported = api.get("staff", f"/needs/{need_id}/history", format="csv")
    assert "content-length" not in exported.headers
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert [int(r["position"]) for r in rows] == positions

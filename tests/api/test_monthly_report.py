"""The monthly circulated report (月度通报; issue 24, item 5; DESIGN 3.4, 3.6).

November 2026 in the test world's compound (幸福里小区), counted by hand.
Times: Monday 2 November 2026, 10:00 in Beijing (T0); urgent needs: respond
within 2 h, resolve within 1 working day.

* 按时 (property company): acknowledged at 30 min, resolved at 90, evaluated
  satisfied, resolved (回访: yes).
* 超时 (property company): acknowledged at 300 min (late), resolved at 600,
  evaluated unsatisfied, not resolved: redone (重办); the redo episode is
  never acknowledged, and its limits have long passed: overdue now.
* 共建 (co-building unit): acknowledged at 60, resolved at 120, evaluated
  basically satisfied, resolved.
* 待派 (accepted, never assigned): 未派单.
* 十二月 (property company, accepted on 1 December): in no November figure.

Property company: response 1/3 (33.3%), resolution 2/3 (66.7%), confirmed
resolution 1/2, satisfaction 1/2 (50.0%), 1 overdue, 1 redo, 2 accepted.
Co-building unit: 1/1 everywhere. Visits: 2 of the 3 households in November.
A service list with two items: item 1 inspected met, item 2 not met.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from pydantic import BaseModel

from api import report_pdf
from api.report_schemas import MonthlyReport
from api.routers.reports import report_html
from tests.api.test_commitments_api import item
from tests.api.test_episodes import Case, minutes
from tests.world import World, commitment_in_effect

PC, CBU = "property_company 甲", "co_building_unit 甲"


def head(world: World) -> int:
    return world.services.app.recorder.max_notification_id() or 0


def report(client: TestClient, world: World, who: str = "supervisor", **query: Any) -> Any:
    params = {"compound_id": str(world.compound_id), "month": "2026-11", "after": head(world), **query}
    params = {k: v for k, v in params.items() if v is not None}
    return client.get("/reports/monthly", params=params, headers=world.headers(who))


@pytest.fixture
def november(world: World) -> World:
    app = world.services.app
    Case(world, "按时").accept(minutes(0)).assign("property_company", minutes(0)).acknowledge(
        "property_company", minutes(30)
    ).resolve("property_company", minutes(90)).evaluate("satisfied", minutes(120), resolved=True)
    Case(world, "超时").accept(minutes(0)).assign("property_company", minutes(0)).acknowledge(
        "property_company", minutes(300)
    ).resolve("property_company", minutes(600)).evaluate(
        "unsatisfied", minutes(700), resolved=False, comment="还在漏水"
    )
    served = Case(world, "共建").accept(minutes(0)).assign("co_building_unit", minutes(0)).acknowledge(
        "co_building_unit", minutes(60)
    ).resolve("co_building_unit", minutes(120)).evaluate("basically_satisfied", minutes(180), resolved=True)
    # The unit's evaluation of the compound's side, the other direction (双向评价).
    app.evaluate_compound_side(
        world.actors["co_building_unit"], served.id, coordination="satisfied", cooperation="unsatisfied"
    )
    Case(world, "待派").accept(minutes(0))
    december = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)
    Case(world, "十二月").accept(december).assign("property_company", december)
    for household, day in ((world.households[0], 5), (world.households[1], 20)):
        app.record_visit(
            world.actors["grid_worker"], compound_id=world.compound_id, household_id=household,
            visited_at=datetime(2026, 11, day, 2, 0, tzinfo=UTC),
        )
    app.record_visit(
        world.actors["grid_worker"], compound_id=world.compound_id, household_id=world.households[2],
        visited_at=december,
    )
    commitment = commitment_in_effect(world, [item(1, title="楼道保洁"), item(2, title="电梯维保")])
    staff = world.actors["staff"]
    app.inspect_commitment_item(staff, commitment, item_no=1, result="met", note="干净")
    app.inspect_commitment_item(staff, commitment, item_no=2, result="not_met", note="未按时维保")
    return world


def _undeclared(value: Any) -> set[str]:
    """Fields of a validated answer that its models do not list."""
    found: set[str] = set()
    if isinstance(value, BaseModel):
        found |= {f"{type(value).__name__}.{key}" for key in value.model_extra or {}}
        for name in type(value).model_fields:
            found |= _undeclared(getattr(value, name))
    elif isinstance(value, list):
        for item_ in value:
            found |= _undeclared(item_)
    return found


def ratio(n: int, d: int) -> dict[str, Any]:
    return {"numerator": n, "denominator": d, "rate": round(n / d, 4) if d else None}


def test_the_json_report_counts_the_month_per_party(client: TestClient, november: World) -> None:
    world = november
    answer = report(client, world)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    # The answer is its model's, every field declared (as tests/api/test_response_models.py asks).
    shown = MonthlyReport.model_validate(body)
    assert shown.model_dump(mode="json", exclude_unset=True) == body
    assert _undeclared(shown) == set()
    assert (body["month"], body["month_zh"], body["complete"]) == ("2026-11", "2026年11月", True)
    (compound,) = body["compounds"]
    assert compound["compound"] == "幸福里小区" and compound["community"] == "和平社区"
    parties = {p["party"]: p for p in compound["parties"]}
    # Every party of the compound, by kind, then the needs no party had.
    assert list(parties) == ["party_branch 甲", "owners_committee 甲", PC, CBU, "未派单"]
    pc = parties[PC]
    assert pc["kind_zh"] == "物业服务企业"
    assert pc["accepted"] == 2
    assert pc["response_rate"] == ratio(1, 3)
    assert pc["resolution_rate"] == ratio(2, 3)
    assert pc["confirmed_resolution_rate"] == ratio(1, 2)
    assert pc["satisfaction_rate"] == ratio(1, 2)
    assert (pc["overdue_open"], pc["redos"]) == (1, 1)
    assert pc["adjusted"]["response_rate"] == ratio(1, 3)  # nothing excluded
    cbu = parties[CBU]
    for rate in ("response_rate", "resolution_rate", "confirmed_resolution_rate", "satisfaction_rate"):
        assert cbu[rate] == ratio(1, 1), rate
    assert parties["未派单"]["accepted"] == 1
    assert parties["party_branch 甲"]["accepted"] == 0
    assert parties["party_branch 甲"]["response_rate"] == ratio(0, 0)
    assert compound["totals"]["accepted"] == 4  # the December need is not November's
    assert compound["totals"]["response_rate"] == ratio(2, 4)

    evaluations = {e["party"]: e for e in compound["evaluations"]["by_residents"]}
    assert (evaluations[PC]["satisfied"], evaluations[PC]["unsatisfied"]) == (1, 1)
    assert evaluations[CBU]["basically_satisfied"] == 1
    assert evaluations[CBU]["satisfaction_rate"] == ratio(1, 1)
    # The other direction: the unit's evaluation of the compound's side, per aspect.
    by_providers = compound["evaluations"]["by_providers"]
    assert [(e["party"], e["aspect_zh"]) for e in by_providers] == [(CBU, "协调配合"), (CBU, "居民配合")]
    coordination, cooperation = by_providers
    assert (coordination["satisfied"], coordination["satisfaction_rate"]) == (1, ratio(1, 1))
    assert (cooperation["unsatisfied"], cooperation["satisfaction_rate"]) == (1, ratio(0, 1))

    visits = compound["visits"]
    assert (visits["households"], visits["visited"]) == (3, 2)
    assert visits["coverage"] == ratio(2, 3)
    assert [b["building"] for b in visits["buildings"]] == ["1号楼"]

    (service_list,) = compound["fulfilment"]
    assert service_list["provider"] == PC and service_list["status_zh"]
    met, not_met = service_list["items"]
    assert (met["title"], met["fulfilment_rate"]) == ("楼道保洁", 1.0)
    assert (not_met["title"], not_met["fulfilment_rate"]) == ("电梯维保", 0.0)
    assert compound["consultations"] == {"proposed": 0, "concluded": 0, "outcomes": [], "items": []}
    assert compound["assessment"] is None


def test_the_closed_assessment_appears_with_its_recorded_rates(
    client: TestClient, november: World
) -> None:
    world = november
    closed = client.post(
        "/assessments", json={"compound_id": str(world.compound_id), "month": "2026-11"},
        headers=world.headers("supervisor"),
    )
    assert closed.status_code == 201, closed.text
    body = report(client, world, "staff").json()
    assert _undeclared(MonthlyReport.model_validate(body)) == set()
    assessment = body["compounds"][0]["assessment"]
    assert assessment["assessment_id"] == closed.json()["id"]
    assert assessment["position"] < closed.json()["position"]
    assert [p["party"] for p in assessment["parties"]] == [PC, CBU, "未派单"]  # as the parties above
    recorded = {p["party"]: p for p in assessment["parties"]}
    assert recorded[PC]["response_rate"] == ratio(1, 3)
    assert recorded[CBU]["satisfaction_rate"] == ratio(1, 1)
    assert len(assessment["closed_at"]) == len("2026-12-07 10:00")  # local time, to the minute


def test_the_printable_page_names_the_parties_and_prints_on_a4(
    client: TestClient, november: World
) -> None:
    answer = report(client, november, format="html")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/html")
    page = answer.text
    assert "@page { size: A4;" in page and "@media print" in page
    assert 'name="viewport"' in page
    for text in ("幸福里小区 2026年11月月度通报", PC, CBU, "未派单", "33.3%", "1/3", "66.7%", "楼道保洁",
                 "入户摸排覆盖", "本月尚未关账考评", "服务方对小区方的评价"):
        assert text in page, text
    assert "format=pdf" in page  # a link to the PDF of the same report
    assert str(november.parties["property_company"]) not in page  # names, not ids


def _fonts(reader: PdfReader) -> list[dict[str, Any]]:
    fonts = []
    for page in reader.pages:
        for font in page["/Resources"]["/Font"].values():
            font = font.get_object()
            for descendant in font.get("/DescendantFonts", [font]):
                fonts.append(descendant.get_object()["/FontDescriptor"].get_object())
    return fonts


def test_the_pdf_embeds_a_chinese_font_and_reads_back_the_names_and_rates(
    client: TestClient, november: World
) -> None:
    answer = report(client, november, format="pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert "filename*=UTF-8''" in answer.headers["content-disposition"]
    reader = PdfReader(io.BytesIO(answer.content))
    width, height = (float(v) for v in reader.pages[0].mediabox[2:])
    assert (round(width), round(height)) == (595, 842)  # A4 in points
    descriptors = _fonts(reader)
    assert descriptors and all("/FontFile2" in d or "/FontFile3" in d for d in descriptors)
    text = "".join(page.extract_text() for page in reader.pages)
    for expected in ("幸福里小区", "2026年11月月度通报", PC, CBU, "未派单", "响应率", "满意率",
                     "33.3% (1/3)", "66.7% (2/3)", "50.0% (1/2)", "100.0% (1/1)", "楼道保洁",
                     "居民配合", "0.0% (0/1)"):
        assert expected in text, expected


def test_a_supervisor_gets_every_compound_and_staff_their_own(client: TestClient, november: World) -> None:
    world = november
    everything = report(client, world, compound_id=None).json()
    assert [c["compound"] for c in everything["compounds"]] == ["光明苑", "幸福里小区"]
    theirs = report(client, world, "staff", compound_id=None).json()
    assert [c["compound"] for c in theirs["compounds"]] == ["幸福里小区"]
    pdf = report(client, world, compound_id=None, format="pdf")
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert "光明苑" in text and "光明物业" in text and PC in text


def test_who_may_read_which_compound_and_month(client: TestClient, world: World) -> None:
    assert report(client, world, "party_branch").status_code == 200
    assert report(client, world, "owners_committee").status_code == 200
    for who in ("resident", "property_company", "admin"):
        assert report(client, world, who).status_code == 403, who
    outside = report(client, world, "other_staff")
    assert outside.status_code == 404
    unknown = report(client, world, compound_id=str(uuid4()))
    assert unknown.status_code == 404
    for month in ("2026-13", "26-11", "1999-12", "2099-01"):
        refused = report(client, world, month=month)
        assert refused.status_code == 422, month
        assert "month" in refused.json()["detail"][0]["loc"], refused.text
    assert client.get("/reports/monthly").status_code == 401


def test_without_a_month_it_is_last_months_and_this_month_is_marked_so_far(
    client: TestClient, world: World
) -> None:
    app = world.services.app
    now = datetime.now(UTC)
    zone_now = now + timedelta(hours=8)  # Asia/Shanghai has no daylight saving
    last = (zone_now.replace(day=1) - timedelta(days=1)).strftime("%Y-%m")
    assert report(client, world, month=None).json()["month"] == last
    # A consultation agreed this month shows with its outcome in this month's report.
    consultation = app.propose_consultation(
        world.actors["party_branch"], compound_id=world.compound_id, topic="停车位划分"
    ).id
    app.convene_consultation(
        world.actors["party_branch"], consultation, meets_at=now + timedelta(days=1),
        place="社区党群服务中心", method="consensus",
    )
    app.record_consultation_resolution(world.actors["party_branch"], consultation, text="按楼栋轮换")
    body = report(client, world, month=zone_now.strftime("%Y-%m")).json()
    assert _undeclared(MonthlyReport.model_validate(body)) == set()
    assert body["complete"] is False
    consultations = body["compounds"][0]["consultations"]
    assert (consultations["proposed"], consultations["concluded"]) == (1, 1)
    assert consultations["outcomes"] == [{"outcome": "consensus", "outcome_zh": "协商一致", "count": 1}]
    (row,) = consultations["items"]
    assert (row["topic"], row["resolution"], row["method_zh"]) == ("停车位划分", "按楼栋轮换", "协商一致")
    page = report(client, world, month=zone_now.strftime("%Y-%m"), format="html").text
    assert "本月尚未结束" in page and "停车位划分" in page


def test_without_a_chinese_font_the_pdf_is_refused_with_503_naming_what_is_missing(
    client: TestClient, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(report_pdf, "_found", None)
    monkeypatch.setattr(report_pdf, "_from_fontconfig", lambda: [])
    monkeypatch.setattr(report_pdf, "KNOWN_PLACES", ())
    answer = report(client, world, format="pdf")
    assert answer.status_code == 503
    assert "fonts-wqy-microhei" in answer.json()["detail"]
    assert report(client, world, format="html").status_code == 200  # the page needs no font of ours


def test_the_page_escapes_what_people_typed() -> None:
    shown = report_html({
        "month": "2026-11", "month_zh": "2026年11月", "complete": True, "generated_at": "2026-12-01 09:00",
        "timezone": "Asia/Shanghai",
        "compounds": [{
            "compound_id": "c", "compound": "<script>x</script>", "community": None,
            "totals": {**_zero(), "adjusted": _zero()}, "parties": [], "fulfilment": [],
            "consultations": {"proposed": 0, "concluded": 0, "outcomes": [], "items": []},
            "visits": {"households": 0, "visited": 0, "coverage": ratio(0, 0), "buildings": []},
            "evaluations": {"by_residents": [], "by_providers": []}, "assessment": None,
        }],
    })
    assert "<script>x" not in shown and "&lt;script&gt;" in shown


def _zero() -> dict[str, Any]:
    return {
        "accepted": 0, "resolved_within_limit": 0, "overdue_open": 0, "redos": 0,
        **{r: ratio(0, 0) for r in ("response_rate", "resolution_rate", "confirmed_resolution_rate",
                                    "satisfaction_rate")},
    }

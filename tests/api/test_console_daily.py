"""What staff need every day in the console (issue 21 item 6), through HTTP on
SQLite and PostgreSQL: registering a need (a 12345 hotline referral), a
supervisor's supervision notice (督办), the list of consultations, keyword
search (``GET /needs?q=``) and the building and household columns of the
needs list, and each role's to-do counts on the home page."""

from __future__ import annotations

import csv
import io
import re
from typing import Any
from urllib.parse import parse_qsl, urlsplit
from uuid import uuid4

from fastapi import FastAPI

from tests.api.client import Api
from tests.api.test_console_pages import (
    browser,
    chinese,
    error_detail,
    error_text,
    overdue_need,
    rows_of,
    settle,
)
from tests.world import World

# The app with the console, the API client and a browser, as the console's pages test them.
from tests.api.test_console_pages import api, app  # noqa: F401  (fixtures)


def hotline_form(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "compound_id": str(world.compound_id),
        "source": "hotline",
        "category": "facilities",
        "title": "1号楼电梯困人",
        "description": "12345 工单 2026-0001：电梯停在 3 楼，有人被困",
        "household_id": str(world.households[0]),
        "location": "1号楼电梯",
        **fields,
    }


def row_html(page: Any, need_id: str) -> str:
    found = re.search(rf'data-need-id="{need_id}">(.*?)</tr>', page.text, re.S)
    assert found, page.text
    return found.group(1)


def todo(page: Any, key: str) -> tuple[str, str] | None:
    """The home page's to-do ``key`` (e.g. "todo-reported"): its count and link."""
    found = re.search(
        rf'<a href="([^"]+)" id="{key}"[^>]*><span class="count">([^<]+)</span>', page.text
    )
    if not found:
        return None
    return found.group(2), found.group(1).replace("&amp;", "&")


# ----- registering a need --------------------------------------------------------------------


def test_staff_register_a_hotline_referral_from_the_console(
    app: FastAPI, world: World, api: Api
) -> None:
    settle(world)  # the form lists the compound's households from the views
    b = browser(app, world, "staff")
    listed = b.get("/console/needs")
    assert 'href="/console/needs/new"' in listed.text and "登记诉求" in listed.text
    form = b.get("/console/needs/new")
    assert form.status_code == 200
    html = form.text
    assert "12345 转办" in html and "入户摸排" in html  # the sources, labelled
    assert ">1号楼 101<" in html  # households by building and number, not ids
    for name in ("compound_id", "source", "title", "description"):
        assert re.search(rf'<(select|input|textarea)[^>]*name="{name}"[^>]*required', html), name
    for name in ("building_id", "household_id", "location", "category"):
        assert not re.search(rf'name="{name}"[^>]*required', html), name
    assert html.count('class="req"') == 4
    # The only compound of the signed-in staff is chosen already.
    assert f'<option value="{world.compound_id}" selected>' in html

    done = b.post("/console/needs", hotline_form(world))
    assert done.status_code == 303, done.text
    location = urlsplit(done.headers["location"])
    need_id = location.path.rsplit("/", 1)[1]
    assert location.path == f"/console/needs/{need_id}"
    assert dict(parse_qsl(location.query))["done"] == "register"
    case = b.client.get(done.headers["location"])
    assert case.status_code == 200
    assert "已记录：登记诉求" in case.text
    assert "1号楼电梯困人" in case.text and "12345 转办" in case.text
    assert re.search(r'id="need-place">1号楼 101<', case.text)

    # The same command as POST /needs: the API reads what the form recorded.
    need = api.get("staff", f"/needs/{need_id}").json()
    assert need["source"] == "hotline" and need["category"] == "facilities"
    assert need["status"] == "reported"
    assert need["household_id"] == str(world.households[0])
    assert need["reporter_id"] == world.actors["staff"].id
    assert need["location"] == "1号楼电梯"

    # A grid worker registers one too; a supervisor may not (and sees no button).
    grid = browser(app, world, "grid_worker")
    assert grid.post("/console/needs", hotline_form(world, source="household_visit")).status_code == 303
    supervisor = browser(app, world, "supervisor")
    assert "/console/needs/new" not in supervisor.get("/console/needs").text
    refused = supervisor.get("/console/needs/new")
    assert refused.status_code == 403
    assert "您的角色（街道督查）无权登记诉求" in error_text(refused) or chinese(error_text(refused))
    assert supervisor.post("/console/needs", hotline_form(world)).status_code == 403
    settle(world)
    assert len(api.get("supervisor", "/needs").json()["items"]) == 2


def test_a_bad_registration_names_the_field_in_chinese_and_keeps_the_form(
    app: FastAPI, world: World, api: Api
) -> None:
    settle(world)
    b = browser(app, world, "staff")
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"title": ""}, "title", "「标题」"),
        ({"description": ""}, "description", "「描述」"),
        ({"compound_id": ""}, "compound_id", "「小区」"),
        ({"source": ""}, "source", "「来源」"),
        ({"source": "fax"}, "source", "「来源」"),
        ({"category": "weather"}, "category", "「类别」"),
        ({"title": "长" * 201}, "title", "「标题」最多 200 个字"),
        ({"compound_id": "not-an-id"}, "compound_id", "「小区」"),
        ({"compound_id": str(world.other_compound_id)}, "compound_id", "您负责的小区中没有这个小区"),
        ({"household_id": str(uuid4())}, "household_id", "本小区没有这户住户"),
        ({"building_id": str(uuid4())}, "building_id", "本小区没有这个楼栋"),
        ({"location": "东" * 201}, "location", "「位置」"),
    ]
    for change, field, said in cases:
        sent = hotline_form(world, **change)
        page = b.post("/console/needs", sent)
        assert page.status_code == 422, (change, page.status_code, page.text[:300])
        assert said in error_text(page), (change, error_text(page))
        assert chinese(error_text(page)), error_text(page)
        assert error_detail(page).startswith(field), (change, error_detail(page))
        # The form again, as it was sent, the field at fault marked.
        assert 'id="form-register"' in page.text
        assert re.search(rf'name="{field}"[^>]*aria-invalid="true"', page.text), field
        if field != "description":
            assert "12345 工单 2026-0001" in page.text
    # A resident reports for themself only.
    resident = browser(app, world, "resident")
    page = resident.post("/console/needs", hotline_form(world))
    assert page.status_code == 422
    assert "居民只能以「居民自报」的方式登记诉求" in error_text(page)
    assert resident.post("/console/needs", hotline_form(world, source="self_report")).status_code == 303
    # A form from elsewhere records nothing.
    assert b.post("/console/needs", {"csrf": "x", **hotline_form(world)}, csrf=False).status_code == 403
    settle(world)
    assert len(api.get("staff", "/needs").json()["items"]) == 1
    # In English, the API's words.
    english = b.client.post(
        "/console/needs?lang=en", data={"csrf": b.csrf(), **hotline_form(world, title="")}
    )
    assert english.status_code == 422 and "title" in error_text(english)


# ----- the supervision notice ------------------------------------------------------------------


def test_a_supervisor_records_a_supervision_notice_from_the_case_page(
    app: FastAPI, world: World, api: Api
) -> None:
    need = overdue_need(world, assigned=True)
    settle(world)
    supervisor = browser(app, world, "supervisor")
    case = supervisor.get(f"/console/needs/{need}")
    assert 'id="form-supervise"' in case.text
    assert re.search(r'<textarea name="text"[^>]*required', case.text)
    assert 'id="form-supervise"' not in browser(app, world, "staff").get(f"/console/needs/{need}").text

    empty = supervisor.post(f"/console/needs/{need}/supervise", {"text": "", "version": "3"})
    assert empty.status_code == 422
    assert "「内容」" in error_text(empty) and chinese(error_text(empty))
    assert re.search(r'name="text"[^>]*aria-invalid="true"', empty.text)

    done = supervisor.post(
        f"/console/needs/{need}/supervise", {"text": "超时未响应，请于今日内联系居民", "version": "3"}
    )
    assert done.status_code == 303, done.text
    assert "done=supervise" in done.headers["location"]
    after = supervisor.client.get(done.headers["location"])
    assert "已记录：督办" in after.text
    assert "超时未响应，请于今日内联系居民" in after.text
    state = api.get("supervisor", f"/needs/{need}").json()
    assert state["supervision_notices"] == 1 and state["status"] == "assigned"
    history = api.get("supervisor", f"/needs/{need}/history").json()["events"]
    assert "督办" in history[-1]["summary_zh"]

    # A stale version: the 412, in Chinese, the text kept.
    stale = supervisor.post(f"/console/needs/{need}/supervise", {"text": "再次督办", "version": "3"})
    assert stale.status_code == 412 and chinese(error_text(stale))
    assert "再次督办" in stale.text
    # Others may not, even by posting the form.
    assert browser(app, world, "staff").post(
        f"/console/needs/{need}/supervise", {"text": "x"}
    ).status_code == 403

    # A closed case takes no notice: no form, and the 409 in Chinese.
    closed = api.register()["id"]
    api.ok("staff", f"/needs/{closed}/reject", {"reason": "重复"})
    settle(world)
    page = supervisor.get(f"/console/needs/{closed}")
    assert 'id="form-supervise"' not in page.text
    refused = supervisor.post(f"/console/needs/{closed}/supervise", {"text": "请办理"})
    assert refused.status_code == 409 and "不予受理" in error_text(refused)


# ----- consultations ------------------------------------------------------------------------


def test_the_list_of_consultations_filters_by_compound_and_status(
    app: FastAPI, world: World, api: Api
) -> None:
    home = str(world.compound_id)
    other = str(world.other_compound_id)
    first = api.ok("staff", "/consultations", {"compound_id": home, "topic": "停车位划分"})["id"]
    second = api.ok("staff", "/consultations", {"compound_id": home, "topic": "加装电梯"})["id"]
    api.ok(
        "staff",
        f"/consultations/{second}/convene",
        {"meets_at": "2030-05-06T19:30:00+08:00", "place": "社区党群服务中心", "method": "consensus"},
    )
    away = api.ok("other_staff", "/consultations", {"compound_id": other, "topic": "光明苑绿化"})["id"]
    settle(world)

    staff = browser(app, world, "staff")
    assert 'href="/console/consultations"' in staff.get("/console").text  # in the nav
    page = staff.get("/console/consultations")
    assert page.status_code == 200
    listed = re.findall(r'data-consultation-id="([^"]+)"', page.text)
    assert listed == [first, second]
    assert f'href="/console/consultations/{first}"' in page.text
    assert "停车位划分" in page.text and "已提议" in page.text and "已召集" in page.text
    assert "2030-05-06 19:30" in page.text and "社区党群服务中心" in page.text
    assert "幸福里小区" in page.text and home not in page.text.replace(f'value="{home}"', "")
    assert away not in page.text

    convened = staff.get("/console/consultations", status="convened")
    assert re.findall(r'data-consultation-id="([^"]+)"', convened.text) == [second]
    none = staff.get("/console/consultations", status="closed")
    assert "没有符合条件的协商议事" in none.text

    supervisor = browser(app, world, "supervisor")
    everywhere = re.findall(r'data-consultation-id="([^"]+)"', supervisor.get("/console/consultations").text)
    assert set(everywhere) == {first, second, away}
    only_other = supervisor.get("/console/consultations", compound_id=other)
    assert re.findall(r'data-consultation-id="([^"]+)"', only_other.text) == [away]

    for params, field in [({"status": "lost"}, "status"), ({"compound_id": "x"}, "compound_id")]:
        bad = staff.get("/console/consultations", **params)
        assert bad.status_code == 422 and error_detail(bad).startswith(field)
        assert chinese(error_text(bad))
    assert browser(app, world, "admin").get("/console/consultations").status_code == 403


# ----- keyword search and the building/household columns -------------------------------------------


def test_get_needs_q_matches_title_or_description_ignoring_case_and_wildcards(
    world: World, api: Api
) -> None:
    lift = api.register(title="Lift 停运", description="整栋楼没有电梯")["id"]
    rate = api.register(title="物业费上涨", description="涨幅 50% 太高")["id"]
    other = api.register(title="绿化带", description="涨幅 500 元 a_b")["id"]
    settle(world)

    def found(q: str, **more: Any) -> list[str]:
        response = api.get("staff", "/needs", q=q, **more)
        assert response.status_code == 200, response.text
        return [n["id"] for n in response.json()["items"]]

    assert found("lift") == [lift] == found("LIFT")
    assert found("电梯") == [lift]  # in the description
    assert found("停运") == [lift]  # in the title
    assert found("50%") == [rate]  # % is itself, not "anything"
    assert found("%") == [rate]
    assert found("a_b") == [other] and found("_") == [other]
    assert found("  涨幅  ") == [other, rate]  # spaces around ignored
    assert set(found("")) == {lift, rate, other}
    assert found("不存在的词") == []
    assert found("涨幅", status="accepted") == []
    # Scope still applies: the other compound's staff finds nothing.
    assert api.get("other_staff", "/needs", q="涨幅").json()["items"] == []
    # The CSV of a search.
    exported = api.get("staff", "/needs", q="涨幅", format="csv")
    rows = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert {r["id"] for r in rows} == {rate, other}

    too_long = api.get("staff", "/needs", q="字" * 101)
    assert too_long.status_code == 422
    assert too_long.json()["detail"][0]["loc"] == ["query", "q"]
    assert api.get("staff", "/needs", q="字" * 100).status_code == 200
    assert api.get("staff", "/needs", q="a\x00b").status_code == 422
    assert api.get("staff", "/needs", q="a\nb").status_code == 422


def test_get_needs_documents_q() -> None:
    from api.app import create_app

    parameters = create_app().openapi()["paths"]["/needs"]["get"]["parameters"]
    q = next(p for p in parameters if p["name"] == "q")
    assert q["in"] == "query" and not q.get("required")
    schema = q["schema"]
    text = schema.get("anyOf", [schema])[0]
    assert text["maxLength"] == 100
    assert "title or description" in q["description"]


def test_the_needs_list_searches_and_shows_building_and_household_by_name(
    app: FastAPI, world: World, api: Api
) -> None:
    household = api.register(title="漏水", household_id=str(world.households[1]))["id"]
    building_id = str(next(iter(world.services.app.repository.get(world.compound_id).buildings)))
    building = api.register(title="楼道灯", description="晚上不亮", building_id=building_id)["id"]
    nowhere = api.register(title="东门路灯", description="晚上不亮")["id"]
    settle(world)
    b = browser(app, world, "staff")
    page = b.get("/console/needs")
    assert "<th>楼栋</th>" in page.text and "<th>住户</th>" in page.text
    assert re.search(r'class="building">1号楼<', row_html(page, household))
    assert re.search(r'class="household">1号楼 102<', row_html(page, household))
    assert re.search(r'class="building">1号楼<', row_html(page, building))
    assert re.search(r'class="household">—<', row_html(page, building))
    assert re.search(r'class="building">—<', row_html(page, nowhere))
    assert str(world.households[1]) not in page.text

    searched = b.get("/console/needs", q="晚上")
    assert set(rows_of(searched)) == {building, nowhere}
    assert 'value="晚上"' in searched.text
    link = re.search(r'href="([^"]+)" id="export-csv"', searched.text).group(1)  # type: ignore[union-attr]
    assert "q=%E6%99%9A%E4%B8%8A" in link
    exported = b.client.get(link.replace("&amp;", "&"))
    ids = {r["id"] for r in csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig")))}
    assert ids == {building, nowhere}
    assert rows_of(b.get("/console/needs", q="晚上", status="accepted")) == []

    too_long = b.get("/console/needs", q="字" * 101)
    assert too_long.status_code == 422
    assert "「关键词」最多 100 个字" in error_text(too_long)
    control = b.get("/console/needs", q="a\tb")
    assert control.status_code == 422 and "「关键词」" in error_text(control)


def test_a_search_keeps_its_keyword_from_page_to_page(
    app: FastAPI, world: World, api: Api, monkeypatch: Any
) -> None:
    from tests.api.test_console_pages import console_module

    made = [api.register(title=f"噪音 {n}")["id"] for n in range(3)]
    api.register(title="别的")
    settle(world)
    monkeypatch.setattr(console_module, "PAGE_SIZE", 2)
    b = browser(app, world, "staff")
    first = b.get("/console/needs", q="噪音")
    assert rows_of(first) == [made[2], made[1]]
    next_url = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1)  # type: ignore[union-attr]
    assert rows_of(b.client.get(next_url.replace("&amp;", "&"))) == [made[0]]


# ----- the home page's to-do counts -----------------------------------------------------------


def test_the_home_page_counts_what_each_role_acts_on_and_links_to_it(
    app: FastAPI, world: World, api: Api
) -> None:
    api.register(title="待受理一")
    api.register(title="待受理二")
    accepted = api.register(title="待派单")["id"]
    api.ok("staff", f"/needs/{accepted}/accept", {"priority": "normal"})
    late = overdue_need(world, assigned=True)  # assigned to the property company, overdue
    working = api.to_in_progress()
    resolved = api.to_in_progress()
    api.ok("property_company", f"/needs/{resolved}/resolve", {"outcome": "已修复"})
    mine = api.register("resident", source="self_report", title="我家门口")["id"]
    api.ok("staff", f"/needs/{mine}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{mine}/assign", {"party_id": str(world.parties["property_company"])})
    api.ok("property_company", f"/needs/{mine}/acknowledge")
    api.ok("property_company", f"/needs/{mine}/resolve", {"outcome": "已处理"})
    api.ok("staff", "/consultations", {"compound_id": str(world.compound_id), "topic": "停车"})
    settle(world)

    def todos_of(who: str) -> dict[str, tuple[str, str]]:
        page = browser(app, world, who).get("/console")
        assert page.status_code == 200
        keys = re.findall(r'id="(todo-[a-z-]+)"', page.text)
        return {key: todo(page, key) for key in keys}  # type: ignore[misc]

    staff = todos_of("staff")
    assert {k: v[0] for k, v in staff.items()} == {
        "todo-reported": "2",
        "todo-accepted": "1",
        "todo-overdue": "1",
        "todo-resolved": "2",
        "todo-proposed": "1",
    }
    assert staff["todo-reported"][1] == "/console/needs?status=reported"
    assert staff["todo-overdue"][1] == "/console/needs?overdue=true"
    assert staff["todo-proposed"][1] == "/console/consultations?status=proposed"
    # Each link lists exactly what it counts.
    b = browser(app, world, "staff")
    for key, (count, url) in staff.items():
        listed = b.client.get(url)
        assert listed.status_code == 200
        found = rows_of(listed) or re.findall(r'data-consultation-id="([^"]+)"', listed.text)
        assert len(found) == int(count), (key, url)
    assert rows_of(b.client.get(staff["todo-overdue"][1])) == [late]

    company = todos_of("property_company")
    assert {k: v[0] for k, v in company.items()} == {
        "todo-assigned": "1",  # the overdue one, not yet acknowledged
        "todo-in-progress": "1",
        "todo-overdue": "1",
        # Needs its party raised toward the compound, awaiting its evaluation;
        # never the residents' needs it resolved itself.
        "todo-resolved": "0",
    }
    pc = str(world.parties["property_company"])
    assert company["todo-resolved"][1] == f"/console/needs?status=resolved&raised_by_party_id={pc}"
    raised = browser(app, world, "property_company").client.get(company["todo-resolved"][1])
    assert raised.status_code == 200 and rows_of(raised) == []
    assert company["todo-in-progress"][1] == f"/console/needs?status=in_progress&party_id={pc}"
    listed = rows_of(browser(app, world, "property_company").client.get(company["todo-in-progress"][1]))
    assert listed == [working]

    # The owners' committee sees every need but acts on its own: none.
    committee = todos_of("owners_committee")
    assert {k: v[0] for k, v in committee.items()} == {
        "todo-assigned": "0",
        "todo-in-progress": "0",
        "todo-overdue": "0",
        "todo-proposed": "1",
    }
    assert {k: v[0] for k, v in todos_of("supervisor").items()} == {"todo-overdue": "1"}
    assert {k: v[0] for k, v in todos_of("resident").items()} == {"todo-resolved": "1"}
    assert {k: v[0] for k, v in todos_of("grid_worker").items()} == {"todo-resolved": "2"}
    assert todos_of("admin") == {}
    assert todos_of("other_staff")["todo-reported"][0] == "0"

    zh = browser(app, world, "staff").get("/console").text
    for word in ("我的待办", "待受理", "待派单", "超时", "待评价", "待召集的议事"):
        assert word in zh
    en = browser(app, world, "staff").get("/console", lang="en").text
    assert "To accept" in en and "Awaiting evaluation" in en

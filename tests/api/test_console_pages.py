"""The web console (``/console``) through TestClient, on SQLite and PostgreSQL:
sign-in and its cookie, CSRF, language, every page, every command from the
case page, and that the console shows and refuses exactly what the API does."""

from __future__ import annotations

import csv
import importlib
import io
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from api import schemas as s
from api.app import create_app
from api.console import router as console_router
from domain.need import Need
from infrastructure.store import Services
from tests.api.client import Api
from tests.api.test_commitments_api import ITEMS, confirm_all, draft, inspection, item
from tests.api.test_consultations_api import convene_vote, due, owner, propose
from tests.world import World

# Where the console's page size lives (read when a list is drawn).
console_module = importlib.import_module("api.console.common")
CSRF = re.compile(r'name="csrf" value="([^"]*)"')
# Staff recording an evaluation for the reporter say how they obtained it.
ON_BEHALF: dict[str, str] = {"obtained_by": "phone"}


def routes_of(app: FastAPI) -> list[Any]:
    """Every route with its full path. FastAPI >= 0.16x keeps an included router
    as one entry of ``app.routes``, whose ``effective_route_contexts()`` are its
    routes (with ``path``, ``methods`` and ``dependant``); older versions copy
    the routes themselves into ``app.routes``."""
    found: list[Any] = []
    for route in app.routes:
        if hasattr(route, "effective_route_contexts"):
            found.extend(route.effective_route_contexts())
        else:
            found.append(route)
    return found


def console_app(services: Services | None = None) -> FastAPI:
    """The app with the console, whether or not ``create_app`` includes it yet."""
    app = create_app(services=services)
    if not any(getattr(r, "path", "").startswith("/console") for r in routes_of(app)):
        app.include_router(console_router)
    return app


@pytest.fixture
def app(services: Services) -> Iterator[FastAPI]:
    built = console_app(services)
    with TestClient(built):  # runs the lifespan once: app.state.services
        yield built


@pytest.fixture
def api(app: FastAPI, world: World) -> Api:
    return Api(TestClient(app), world)


class Browser:
    """One person's browser: its own cookie jar, redirects not followed."""

    def __init__(self, app: FastAPI, world: World) -> None:
        self.client = TestClient(app, follow_redirects=False)
        self.world = world

    def sign_in(self, who: str, next_path: str = "/console") -> Any:
        form = self.client.get("/console/sign-in")
        pre = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
        return self.client.post(
            "/console/sign-in",
            data={"token": self.world.tokens[who], "csrf": pre, "next": next_path},
        )

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params)

    def csrf(self) -> str:
        return CSRF.search(self.get("/console").text).group(1)  # type: ignore[union-attr]

    def post(self, path: str, data: dict[str, Any], *, csrf: bool = True) -> Any:
        if csrf:
            data = {"csrf": self.csrf(), **data}
        return self.client.post(path, data=data)


def browser(app: FastAPI, world: World, who: str | None = None) -> Browser:
    b = Browser(app, world)
    if who is not None:
        assert b.sign_in(who).status_code == 303
    return b


def settle(world: World) -> int:
    """Wait until the views show every event written so far."""
    position = world.services.app.recorder.max_notification_id() or 0
    assert world.services.updater.wait_for(position, 10)
    return position


def overdue_need(
    world: World, title: str = "3号楼屋顶漏水", days: int = 10, *, assigned: bool = False
) -> str:
    """A need reported and accepted ``days`` ago (and, if ``assigned``, given to
    the property company then): its response deadline has passed."""
    app = world.services.app
    past = datetime.now(UTC) - timedelta(days=days)
    need = Need.register(
        by=world.actors["grid_worker"],
        id=uuid4(),
        compound_id=world.compound_id,
        source="household_visit",
        title=title,
        description="顶层雨后漏水",
        household_id=world.households[2],
        now=past,
    )
    need.accept(by=world.actors["staff"], priority="urgent", policy=app.deadline_policy, now=past)
    if assigned:
        need.assign(
            by=world.actors["staff"],
            party_id=world.parties["property_company"],
            party_role="property_company",
            now=past,
        )
    app.save(need)
    return str(need.id)


def _unescaped(text: str) -> str:
    return text.replace("&#39;", "'").replace("&#34;", '"').replace("&amp;", "&")


def error_text(page: Any) -> str:
    """What the page says went wrong, in its language (Chinese unless asked)."""
    found = re.search(r'id="error">([^<]*)<', page.text)
    assert found, page.text
    return _unescaped(found.group(1))


def error_detail(page: Any) -> str:
    """The API's own words for it: folded away beneath in Chinese, the text itself in English."""
    found = re.search(r'id="error-detail">([^<]*)<', page.text)
    return _unescaped(found.group(1)) if found else error_text(page)


CHINESE = re.compile(r"[\u4e00-\u9fff]")


def chinese(text: str) -> bool:
    """Chinese words, and no English sentence left in them."""
    return bool(CHINESE.search(text)) and re.search(r"[A-Za-z]{3,} [A-Za-z]{2,}", text) is None


def rows_of(page: Any) -> list[str]:
    return re.findall(r'<tr class="need[^"]*" data-need-id="([^"]+)"', page.text)


# ----- routes, sign-in, cookies, CSRF, language ---------------------------------------


def test_every_console_route_declares_who_may_call_it() -> None:
    app = console_app()
    console_routes = [
        r
        for r in routes_of(app)
        if getattr(r, "dependant", None) is not None and r.path.startswith("/console")
    ]
    assert len(console_routes) >= 20

    def actions(dependant: Any) -> set[str]:
        found = set()
        for dep in dependant.dependencies:
            action = getattr(dep.call, "linli_action", None)
            if action:
                found.add(action)
            found |= actions(dep)
        return found

    public = set()
    for route in console_routes:
        declared = actions(route.dependant)
        assert declared, f"{route.methods} {route.path} declares no action"
        if declared == {"public"}:
            public.add(route.path)
    assert public == {
        "/console/sign-in",
        "/console/sign-out",
        "/console/static/{name}",
    }


def test_sign_in_keeps_a_session_id_in_an_httponly_strict_cookie(
    app: FastAPI, world: World
) -> None:
    b = browser(app, world)
    first = b.get("/console/needs", status="reported")
    assert first.status_code == 303
    assert (
        first.headers["location"] == "/console/sign-in?next=%2Fconsole%2Fneeds%3Fstatus%3Dreported"
    )

    form = b.get("/console/sign-in")
    assert form.status_code == 200
    assert '<html lang="zh-CN">' in form.text and "访问令牌" in form.text
    assert 'type="password"' in form.text and 'method="post"' in form.text
    assert "frame-ancestors 'none'" in form.headers["content-security-policy"]
    pre = CSRF.search(form.text).group(1)  # type: ignore[union-attr]
    token = world.tokens["staff"]

    # Without the form's CSRF value, or with a bad token: no session.
    refused = b.client.post("/console/sign-in", data={"token": token, "csrf": "forged"})
    assert refused.status_code == 403
    assert "linli_console=" not in refused.headers.get("set-cookie", "")
    pre = CSRF.search(refused.text).group(1)  # type: ignore[union-attr]  # each form draws anew
    bad = b.client.post("/console/sign-in", data={"token": "linli_nope", "csrf": pre})
    assert bad.status_code == 401
    assert "invalid or revoked token" in bad.text
    assert "linli_nope" not in bad.text
    assert "linli_console=" not in bad.headers.get("set-cookie", "")

    pre = CSRF.search(b.get("/console/sign-in").text).group(1)  # type: ignore[union-attr]
    done = b.client.post(
        "/console/sign-in", data={"token": token, "csrf": pre, "next": "/console/needs"}
    )
    assert done.status_code == 303
    assert done.headers["location"] == "/console/needs"
    cookies = done.headers.get_list("set-cookie")
    session = next(c for c in cookies if c.startswith("linli_console="))
    assert token not in session  # a session id (tests/api/test_console_sessions.py)
    assert re.fullmatch(r"linli_console=[A-Za-z0-9_-]{43}", session.split(";")[0])
    assert "HttpOnly" in session
    assert "SameSite=strict" in session
    assert "Path=/console" in session
    assert "Secure" not in session  # plain http://127.0.0.1
    assert all(token not in v for k, v in done.headers.multi_items() if k != "set-cookie")
    page = b.get("/console/needs")
    assert page.status_code == 200
    assert token not in page.text
    assert "staff" in page.text

    # Only a path inside the console is followed after sign-in.
    other = browser(app, world)
    pre = CSRF.search(other.get("/console/sign-in").text).group(1)  # type: ignore[union-attr]
    elsewhere = other.client.post(
        "/console/sign-in", data={"token": token, "csrf": pre, "next": "//evil.example/x"}
    )
    assert elsewhere.headers["location"] == "/console"


def test_sign_out_needs_the_sessions_csrf_token_and_a_revoked_token_signs_out(
    app: FastAPI, world: World
) -> None:
    b = browser(app, world, "staff")
    assert b.post("/console/sign-out", {}, csrf=False).status_code == 403
    assert b.post("/console/sign-out", {"csrf": "0" * 64}, csrf=False).status_code == 403
    assert b.get("/console").status_code == 200
    out = b.post("/console/sign-out", {})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/sign-in"
    assert b.get("/console").status_code == 303

    # Each sign-in draws a new CSRF token.
    first = browser(app, world, "staff").csrf()
    second = browser(app, world, "staff").csrf()
    assert first != second and len(first) == 64

    revoked = browser(app, world, "grid_worker")
    assert revoked.get("/console/needs").status_code == 200
    world.services.credentials.revoke(token=world.tokens["grid_worker"])
    again = revoked.get("/console/needs")
    assert again.status_code == 303
    assert again.headers["location"].startswith("/console/sign-in")


def test_chinese_by_default_english_on_request_and_remembered(app: FastAPI, world: World) -> None:
    b = browser(app, world, "supervisor")
    home = b.get("/console")
    assert '<html lang="zh-CN">' in home.text and "诉求" in home.text
    english = b.get("/console", lang="en")
    assert '<html lang="en">' in english.text and "Needs" in english.text
    assert "linli_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in b.get("/console/needs").text
    assert 'href="/console/needs?lang=zh"' in b.get("/console/needs").text
    assert '<html lang="zh-CN">' in b.get("/console/figures", lang="zh").text
    assert '<html lang="zh-CN">' in b.get("/console/needs").text


def test_static_css_is_public_and_nothing_else_is_served(app: FastAPI, world: World) -> None:
    b = browser(app, world)
    css = b.get("/console/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert "max-age" in css.headers["cache-control"]
    assert b.get("/console/static/router.py").status_code == 404
    assert b.get("/console/static/..%2Frouter.py").status_code == 404


# ----- the needs list and the case page ----------------------------------------------------


def test_needs_list_filters_paginates_highlights_and_exports_like_the_api(
    app: FastAPI, world: World, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    late = overdue_need(world, assigned=True)
    pc = str(world.parties["property_company"])
    redo = api.to_in_progress()
    api.ok("property_company", f"/needs/{redo}/resolve", {"outcome": "已处理"})
    api.ok("staff", f"/needs/{redo}/evaluate", {"evaluation": "unsatisfied", "comment": "仍漏水", **ON_BEHALF})
    fresh = api.register(title="楼道堆物", category="safety")["id"]
    settle(world)

    b = browser(app, world, "staff")
    page = b.get("/console/needs")
    assert set(rows_of(page)) == {late, redo, fresh}
    assert re.search(rf'<tr class="need overdue" data-need-id="{late}"', page.text)
    assert re.search(rf'<tr class="need redo" data-need-id="{redo}"', page.text)
    assert re.search(rf'<tr class="need" data-need-id="{fresh}"', page.text)

    assert rows_of(b.get("/console/needs", overdue="true")) == [late]
    assert set(rows_of(b.get("/console/needs", overdue="false"))) == {redo, fresh}
    assert rows_of(b.get("/console/needs", status="reported")) == [fresh]
    assert rows_of(b.get("/console/needs", category="safety")) == [fresh]
    assert set(rows_of(b.get("/console/needs", party_id=pc))) == {late, redo}
    other = str(world.other_compound_id)
    assert rows_of(b.get("/console/needs", compound_id=other)) == []
    assert "没有符合条件的诉求" in b.get("/console/needs", compound_id=other).text

    monkeypatch.setattr(console_module, "PAGE_SIZE", 2)
    first = b.get("/console/needs")
    assert rows_of(first) == [fresh, redo]
    next_url = re.search(r'href="([^"]+)" id="next-page"', first.text).group(1)  # type: ignore[union-attr]
    second = b.client.get(next_url.replace("&amp;", "&"))
    assert rows_of(second) == [late]
    assert 'id="next-page"' not in second.text and 'id="first-page"' in second.text

    # The CSV link keeps the filters and answers what the API's CSV answers.
    filtered = b.get("/console/needs", overdue="true", party_id=pc)
    link = re.search(r'href="([^"]+)" id="export-csv"', filtered.text).group(1)  # type: ignore[union-attr]
    exported = b.client.get(link.replace("&amp;", "&"))
    assert exported.status_code == 200
    assert exported.headers["content-disposition"] == 'attachment; filename="needs.csv"'
    assert exported.content.startswith("\ufeff".encode())
    from_api = api.get("staff", "/needs", format="csv", overdue="true", party_id=pc)
    ours = list(csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"))))
    theirs = list(csv.DictReader(io.StringIO(from_api.content.decode("utf-8-sig"))))
    assert [r["id"] for r in ours] == [r["id"] for r in theirs] == [late]
    assert ours[0].keys() == theirs[0].keys()


def test_bad_filters_are_a_422_page_naming_the_field_never_a_500(
    app: FastAPI, world: World
) -> None:
    b = browser(app, world, "supervisor")
    for path, params, field in [
        ("/console/needs", {"compound_id": "nope"}, "compound_id"),
        ("/console/needs", {"status": "lost"}, "status"),
        ("/console/needs", {"overdue": "maybe"}, "overdue"),
        ("/console/needs", {"cursor": "-1"}, "cursor"),
        ("/console/needs.csv", {"category": "weather"}, "category"),
        ("/console/figures", {"month_from": "2026-13"}, "month_from"),
        ("/console/figures", {"month_from": "2026-05", "month_to": "2026-01"}, "month_from"),
        ("/console/visits", {"month_to": "soon"}, "month_to"),
        ("/console/disputes", {"compound_id": "1"}, "compound_id"),
    ]:
        page = b.get(path, **params)
        assert page.status_code == 422, (path, params, page.text)
        assert error_detail(page).startswith(field), error_detail(page)
        assert chinese(error_text(page)), error_text(page)
    mangled = b.get("/console/needs/not-a-uuid")
    assert mangled.status_code == 422 and "text/html" in mangled.headers["content-type"]
    assert "链接中的「诉求编号」" in error_text(mangled)
    assert b.get(f"/console/needs/{uuid4()}").status_code == 404
    assert b.get(f"/console/needs/{uuid4()}", after="x").status_code == 404


def test_case_page_shows_state_deadlines_and_the_timeline_with_its_links(
    app: FastAPI, world: World, api: Api
) -> None:
    cid = draft(api)
    confirm_all(api, cid, 1)
    need = api.register(title="电梯异响")["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    pc = str(world.parties["property_company"])
    api.ok(
        "staff",
        f"/needs/{need}/assign",
        {"party_id": pc, "commitment_id": cid, "commitment_item_no": 2, "reason": "清单第 2 项"},
    )
    consultation = propose(api, [need])["id"]
    settle(world)

    b = browser(app, world, "supervisor")
    page = b.get(f"/console/needs/{need}")
    assert page.status_code == 200
    text = page.text
    assert "电梯异响" in text and "协商中" in text  # escalated
    assert f'href="/console/consultations/{consultation}" id="consultation-link"' in text
    assert f'href="/console/commitments/{cid}" id="commitment-link"' in text
    assert "第 2 项" in text
    history = api.get("supervisor", f"/needs/{need}/history").json()["events"]
    assert text.count('<tr class="event') == len(history)
    for event in history:
        assert f'data-event="{event["event"]}"' in text
        assert event["summary_zh"].split("（")[0][:6] in text
    assert "清单第 2 项" in text  # the assignment's reason
    assert "社区工作人员" in text and "小区党支部" in text  # roles
    assert "commitment-link" in text.split('id="timeline"')[1]  # the item on the trail
    assert "consultation-link" in text.split('id="timeline"')[1]
    assert 'id="commands"' not in text  # a supervisor changes no case's state
    assert "<script" not in text

    english = b.get(f"/console/needs/{need}", lang="en").text
    assert "Timeline" in english and "escalated to the consultation" in english

    trail = b.get(f"/console/needs/{need}/history.csv")
    assert trail.status_code == 200 and trail.content.startswith("\ufeff".encode())
    assert trail.content == api.get("supervisor", f"/needs/{need}/history", format="csv").content


def test_the_console_sees_what_the_api_sees(app: FastAPI, world: World, api: Api) -> None:
    mine = api.register("resident", source="self_report", title="我的诉求")["id"]
    theirs = api.register("resident2", source="self_report", title="邻居的诉求")["id"]
    assigned = api.to_in_progress()
    unassigned = api.register(title="未派单")["id"]
    titles = {
        mine: "我的诉求",
        theirs: "邻居的诉求",
        assigned: "2号楼电梯停运",
        unassigned: "未派单",
    }
    settle(world)

    for who in (
        "resident",
        "resident2",
        "property_company",
        "owners_committee",
        "other_staff",
        "supervisor",
    ):
        b = browser(app, world, who)
        listed = set(rows_of(b.get("/console/needs")))
        from_api = {n["id"] for n in api.get(who, "/needs").json()["items"]}
        assert listed == from_api, who
        for need in (mine, theirs, assigned, unassigned):
            expected = api.get(who, f"/needs/{need}").status_code
            page = b.get(f"/console/needs/{need}")
            assert page.status_code == expected, (who, need)
            if expected == 404:
                assert error_detail(page) == "need not found"
                assert error_text(page).startswith("找不到该诉求，或您无权查看")
                assert titles[need] not in page.text
            else:
                assert titles[need] in page.text

    resident = browser(app, world, "resident")
    assert resident.get(f"/console/needs/{theirs}/history.csv").status_code == 404
    for path, action in [
        ("/console/disputes", "audit read"),
        ("/console/figures", "stats read"),
        ("/console/visits", "visit read"),
    ]:
        page = resident.get(path)
        assert page.status_code == 403
        assert error_detail(page) == f"role 'resident' may not {action}"
        assert error_text(page).startswith("您的角色（居民/业主）无权查看")
    nav = resident.get("/console").text
    assert 'href="/console/needs"' in nav and 'href="/console/disputes"' not in nav

    admin = browser(app, world, "admin")
    assert admin.get("/console").status_code == 200
    refused = admin.get("/console/needs")
    assert refused.status_code == 403
    assert error_detail(refused) == api.get("admin", "/needs").json()["detail"]
    assert chinese(error_text(refused))


# ----- commands from the case page -----------------------------------------------------------


def test_staff_and_parties_take_the_common_commands_from_the_case_page(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.register("resident", source="self_report", title="水管漏水")["id"]
    settle(world)
    staff = browser(app, world, "staff")
    page = staff.get(f"/console/needs/{need}")
    assert 'id="form-accept"' in page.text and 'id="form-assign"' not in page.text

    accepted = staff.post(
        f"/console/needs/{need}/accept", {"priority": "urgent", "category": "facilities"}
    )
    assert accepted.status_code == 303
    target = accepted.headers["location"]
    assert re.fullmatch(rf"/console/needs/{need}\?after=\d+&done=accept", target)
    shown = staff.client.get(target)
    assert 'id="done"' in shown.text and "已受理" in shown.text and 'id="form-assign"' in shown.text

    pc = str(world.parties["property_company"])
    assert (
        staff.post(f"/console/needs/{need}/assign", {"party_id": pc, "commitment": ""}).status_code
        == 303
    )

    company = browser(app, world, "property_company")
    assert company.post(f"/console/needs/{need}/acknowledge", {}).status_code == 303
    done = company.post(f"/console/needs/{need}/resolve", {"outcome": "已更换阀门"})
    assert done.status_code == 303

    resident = browser(app, world, "resident")
    page = resident.client.get(done.headers["location"])
    assert 'id="form-evaluate"' in page.text and "已更换阀门" in page.text
    redo = resident.post(
        f"/console/needs/{need}/evaluate", {"evaluation": "unsatisfied", "comment": "仍在漏"}
    )
    assert redo.status_code == 303
    view = api.get("resident", f"/needs/{need}", after=settle(world)).json()
    assert view["status"] == "assigned"
    assert view["redo_count"] == 1
    assert view["priority"] == "urgent" and view["category"] == "facilities"
    history = api.get("supervisor", f"/needs/{need}/history").json()["events"]
    who = {actor.id: name for name, actor in world.actors.items()}  # events record person ids
    assert [(e["event_type"], who.get(e["actor_id"])) for e in history] == [
        ("Registered", "resident"),
        ("Accepted", "staff"),
        ("Assigned", "staff"),
        ("Acknowledged", "property_company"),
        ("Resolved", "property_company"),
        ("Evaluated", "resident"),
    ]
    # Reassigning after a redo needs a reason: the domain's message, on the page.
    refused = staff.post(f"/console/needs/{need}/assign", {"party_id": pc})
    assert refused.status_code == 422
    from_api = api.post("staff", f"/needs/{need}/assign", {"party_id": pc})
    assert error_detail(refused) == from_api.json()["detail"][0]["msg"]
    assert "改派诉求时必须填写「理由」" in error_text(refused)
    assert 'id="form-assign"' in refused.text  # the case page, with the form again


def test_refused_commands_show_the_apis_status_and_message_and_write_nothing(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.to_in_progress()
    settle(world)
    before = api.log_position()
    staff = browser(app, world, "staff")

    # Illegal transition: the same 409 and message as the API.
    page = staff.post(f"/console/needs/{need}/accept", {"priority": "low"})
    from_api = api.post("staff", f"/needs/{need}/accept", {"priority": "low"})
    assert page.status_code == from_api.status_code == 409
    assert error_detail(page) == from_api.json()["detail"]["message"]
    assert "in_progress" in error_detail(page)
    assert error_text(page).startswith("这件诉求现在是「办理中」，不能受理。现在可以：")

    # A value the schema refuses: 422 naming the field, as the API does.
    page = staff.post(f"/console/needs/{need}/assign", {"party_id": "nobody"})
    from_api = api.post("staff", f"/needs/{need}/assign", {"party_id": "nobody"})
    assert page.status_code == from_api.status_code == 422
    assert error_detail(page).startswith("party_id: ")
    assert from_api.json()["detail"][0]["msg"] in error_detail(page)
    assert error_text(page).startswith("「责任方」不是有效的编号")

    # A role that may not: 403 with the API's words.
    resident = browser(app, world, "resident")
    page = resident.post(f"/console/needs/{need}/accept", {"priority": "low"})
    from_api = api.post("resident", f"/needs/{need}/accept", {"priority": "low"})
    assert page.status_code == from_api.status_code == 403
    assert error_detail(page) == from_api.json()["detail"] == "role 'resident' may not need accept"
    assert error_text(page).startswith("您的角色（居民/业主）无权受理诉求。")

    # The staff of another party: the domain refuses, as through the API.
    branch = browser(app, world, "party_branch")
    page = branch.post(f"/console/needs/{need}/resolve", {"outcome": "x"})
    from_api = api.post("party_branch", f"/needs/{need}/resolve", {"outcome": "x"})
    assert page.status_code == from_api.status_code
    assert error_detail(page) == from_api.json()["detail"]
    assert error_text(page).startswith("只有承办这件诉求的责任方的工作人员才能办结")

    # Not visible: 404, the same as the API.
    outsider = browser(app, world, "other_staff")
    page = outsider.post(
        f"/console/needs/{need}/assign",
        {"party_id": str(world.other_property_company), "reason": "x"},
    )
    assert page.status_code == 404 and error_detail(page) == "need not found"

    # A stale form (the page showed an older version): 412 and the API's message.
    page = staff.post(
        f"/console/needs/{need}/assign",
        {"party_id": str(world.parties["co_building_unit"]), "reason": "改派", "version": "2"},
    )
    assert page.status_code == 412
    assert error_detail(page) == "the case is at version 4, not 2: reload and try again"
    assert "您打开页面时是第 2 版，现在是第 4 版" in error_text(page)

    # No CSRF token, a forged one, or no session: nothing is done.
    assert (
        staff.post(f"/console/needs/{need}/resolve", {"outcome": "x"}, csrf=False).status_code
        == 403
    )
    forged = staff.post(
        f"/console/needs/{need}/resolve", {"outcome": "x", "csrf": "f" * 64}, csrf=False
    )
    assert forged.status_code == 403 and "刷新页面" in error_text(forged)
    stranger = browser(app, world)
    anonymous = stranger.post(f"/console/needs/{need}/acknowledge", {}, csrf=False)
    assert anonymous.status_code == 303
    assert anonymous.headers["location"] == f"/console/sign-in?next=%2Fconsole%2Fneeds%2F{need}"
    # A JSON body is not a form: refused by the CSRF check.
    posted = staff.client.post(f"/console/needs/{need}/acknowledge", json={"csrf": staff.csrf()})
    assert posted.status_code == 403

    assert api.log_position() == before


# ----- disputes, consultations, commitments, figures, visits ---------------------------------


def test_disputes_open_the_case_and_the_consultation_with_vote_fractions_and_actions(
    app: FastAPI, world: World, api: Api
) -> None:
    disputed = api.to_in_progress()
    calm = api.to_in_progress()
    cid = propose(api, [disputed])["id"]
    convene_vote(api, cid)
    api.ok("resident", f"/consultations/{cid}/votes", {"choice": "for"})
    api.ok("resident2", f"/consultations/{cid}/votes", {"choice": "for", "owner_id": owner(api, 1)})
    api.ok("staff", f"/consultations/{cid}/votes", {"choice": "against", "owner_id": owner(api, 2)})
    api.ok("party_branch", f"/consultations/{cid}/close-vote")
    api.ok("party_branch", f"/consultations/{cid}/publish", {"note": "公示七日"})
    pc = str(world.parties["property_company"])
    api.ok(
        "staff",
        f"/consultations/{cid}/actions",
        {"items": [{"title": "更换电梯", "party_id": pc, "due_on": due()}]},
    )
    settle(world)

    b = browser(app, world, "supervisor")
    page = b.get("/console/disputes")
    assert page.status_code == 200
    assert f'data-need-id="{disputed}"' in page.text and f'data-need-id="{calm}"' not in page.text
    assert f'href="/console/needs/{disputed}" class="case-link"' in page.text
    assert f'href="/console/consultations/{cid}" class="consultation-link"' in page.text
    assert "1/1 / 1/1" in page.text and "2/3 / 2/3" in page.text
    exported = b.get("/console/disputes.csv")
    assert exported.content == api.get("supervisor", "/audit/disputes", format="csv").content

    consultation = b.get(f"/console/consultations/{cid}")
    assert consultation.status_code == 200
    text = consultation.text
    assert 'id="vote-result"' in text and "2/3" in text and "1/1" in text
    assert "更换电梯" in text and "公示七日" in text
    assert f'href="/console/needs/{disputed}" class="case-link"' in text
    # Everyone of the compound sees a consultation; a resident does not see others' needs in it.
    seen = browser(app, world, "resident").get(f"/console/consultations/{cid}")
    assert seen.status_code == 200 and "无权查看" in seen.text
    assert (
        browser(app, world, "other_staff").get(f"/console/consultations/{cid}").status_code == 404
    )
    assert (
        browser(app, world, "staff")
        .get("/console/disputes", compound_id=str(world.other_compound_id))
        .status_code
        == 200
    )


def test_commitments_in_effect_versions_side_by_side_and_fulfilment(
    app: FastAPI, world: World, api: Api
) -> None:
    cid = draft(api)
    confirm_all(api, cid, 1)
    api.ok(
        "owners_committee",
        f"/commitments/{cid}/amend",
        {
            "reason": "采纳居民意见",
            "change": [item(1, title="楼道保洁", frequency="每周两次")],
            "add": [item(4, title="外墙清洗")],
            "remove": [3],
        },
    )
    confirm_all(api, cid, 2)
    api.ok("party_branch", f"/commitments/{cid}/inspections", inspection(1))
    api.ok("party_branch", f"/commitments/{cid}/inspections", inspection(2, "not_met"))
    settle(world)

    b = browser(app, world, "staff")
    listed = b.get("/console/commitments")
    assert f'href="/console/commitments/{cid}"' in listed.text and "已生效" in listed.text
    page = b.get(f"/console/commitments/{cid}")
    assert page.status_code == 200
    text = page.text
    assert text.count('<th class="version">') == 2
    assert 'class="changed"' in text and 'class="added"' in text and 'class="removed"' in text
    assert "每周两次" in text and "外墙清洗" in text and ITEMS[2]["title"] in text
    assert "<svg" in text and 'id="fulfilment"' in text
    figures = api.get("staff", f"/commitments/{cid}/fulfilment").json()
    totals = figures["totals"]
    assert f"{totals['fulfilled']}/{totals['assessed']} (50.0%)" in text
    assert b.get(f"/console/commitments/{uuid4()}").status_code == 404
    assert browser(app, world, "other_staff").get(f"/console/commitments/{cid}").status_code == 404


def test_figures_charts_with_numbers_and_visit_coverage(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.to_in_progress()
    api.ok("property_company", f"/needs/{need}/resolve", {"outcome": "已修好"})
    api.ok("staff", f"/needs/{need}/evaluate", {"evaluation": "satisfied", **ON_BEHALF})
    overdue_need(world)
    api.ok(
        "grid_worker",
        "/visits",
        {"compound_id": str(world.compound_id), "household_id": str(world.households[0])},
    )
    settle(world)

    b = browser(app, world, "supervisor")
    page = b.get("/console/figures")
    assert page.status_code == 200
    # two charts, each drawn for a wide screen and for a phone
    assert page.text.count('class="chart wide"') == 2
    assert page.text.count('class="chart narrow"') == 2
    stats = api.get("supervisor", "/stats").json()
    for row in stats["month"]:
        assert f'data-month="{row["month"]}"' in page.text
        rate = row["response_rate"]
        assert f"{rate['numerator']}/{rate['denominator']}" in page.text
    assert "满意率" in page.text and "办结率" in page.text and "解决率" in page.text
    english = b.get("/console/figures", lang="en")
    assert "Satisfaction rate" in english.text
    month = datetime.now(UTC).strftime("%Y-%m")
    scoped = b.get(
        "/console/figures", compound_id=str(world.compound_id), month_from=month, month_to=month
    )
    assert scoped.status_code == 200

    visits = b.get("/console/visits", compound_id=str(world.compound_id))
    assert visits.status_code == 200
    assert "1号楼" in visits.text and "1/3" in visits.text and "<svg" in visits.text
    assert "102" in visits.text  # a household not visited
    outsider = browser(app, world, "other_staff").get(
        "/console/visits", compound_id=str(world.compound_id)
    )
    assert outsider.status_code == 404 and error_detail(outsider) == "compound not found"
    assert error_text(outsider).startswith("找不到该小区")


# ----- bad versions, an unavailable database ------------------------------------------


@pytest.mark.parametrize("version", ["²", "١", "1" * 10, "-1", " 3", "3.0"])
def test_a_version_that_is_not_ascii_digits_is_a_422_on_the_case_page(
    app: FastAPI, world: World, api: Api, version: str
) -> None:
    """``str.isdigit`` is true for "²" (``int`` then raises: a 500) and "١"
    (``int`` reads it as 1); the form's version is ASCII digits or nothing."""
    need = api.register()["id"]
    settle(world)
    before = api.log_position()
    staff = browser(app, world, "staff")
    page = staff.post(f"/console/needs/{need}/accept", {"priority": "low", "version": version})
    assert page.status_code == 422, page.text
    assert error_detail(page).startswith("version: ")
    assert "版本号无效" in error_text(page)
    assert 'id="form-accept"' in page.text  # the case page, with the form again
    assert api.log_position() == before
    # The version the page shows is still taken.
    shown = api.get("staff", f"/needs/{need}").json()["version"]
    done = staff.post(f"/console/needs/{need}/accept", {"priority": "low", "version": str(shown)})
    assert done.status_code == 303


def test_console_503_answers_say_when_to_retry(
    app: FastAPI, world: World, api: Api, store: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from eventsourcing.persistence import OperationalError

    from api.errors import RETRY_AFTER_SECONDS

    need = api.register()["id"]
    settle(world)
    staff = browser(app, world, "staff")
    views = world.services.views

    # A page whose read fails after sign-in: on SQLite for real (its table is
    # gone: sqlite3.OperationalError), on PostgreSQL as the pool would report it.
    if store == "sqlite":
        with views.writing() as c:
            c.execute("ALTER TABLE need_view RENAME TO need_view_away")
    else:
        def down(*args: Any, **kwargs: Any) -> Any:
            raise OperationalError("server closed the connection unexpectedly")

        monkeypatch.setattr(views, "needs", down)
    try:
        page = staff.get("/console/needs")
    finally:
        if store == "sqlite":
            with views.writing() as c:
                c.execute("ALTER TABLE need_view_away RENAME TO need_view")
        monkeypatch.undo()
    assert page.status_code == 503
    assert page.headers["Retry-After"] == RETRY_AFTER_SECONDS
    assert error_detail(page) == "the database is unavailable; try again shortly"
    assert error_text(page).startswith("数据库暂时连不上")
    assert "text/html" in page.headers["content-type"]

    # A command whose write fails: the case page again, with 503 and Retry-After.
    def refused(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("could not write the events")

    monkeypatch.setattr(world.services.app.recorder, "insert_events", refused)
    posted = staff.post(f"/console/needs/{need}/accept", {"priority": "low"})
    monkeypatch.undo()
    assert posted.status_code == 503
    assert posted.headers["Retry-After"] == RETRY_AFTER_SECONDS
    assert error_detail(posted) == "the database is unavailable; try again shortly"
    # The API answers the same failure the same way.
    monkeypatch.setattr(world.services.app.recorder, "insert_events", refused)
    from_api = api.post("staff", f"/needs/{need}/accept", {"priority": "low"})
    monkeypatch.undo()
    assert from_api.status_code == 503
    assert from_api.headers["Retry-After"] == RETRY_AFTER_SECONDS

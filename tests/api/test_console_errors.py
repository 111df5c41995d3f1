"""The console says what went wrong in Chinese, and what to do: every class of
error the API answers (422, 401, 403, 404, 409, 412, 503), through the case
page's forms where a person meets it, with the API's own words kept beneath;
in English the API's words themselves. The forms mark and check their
required fields in the browser."""

from __future__ import annotations

import re
from typing import Any
from uuid import uuid4

import pytest
from eventsourcing.persistence import IntegrityError
from fastapi import FastAPI

from api.console.problems import ACTIONS, COMMANDS, problem_of
from api.errors import ViewsBehind
from application.access import PERMISSIONS
from application.base import ConcurrentChange
from domain.errors import Conflict, DomainError, IllegalTransition, InvalidValue, NotPermitted
from domain.need import TRANSITIONS, NeedStatus
from tests.api.client import Api
from tests.api.test_console_pages import (  # noqa: F401  (api, app: fixtures)
    CSRF,
    api,
    app,
    browser,
    chinese,
    error_detail,
    error_text,
    settle,
)
from tests.world import World


def form_of(page: Any, form_id: str) -> str:
    found = re.search(rf'<form [^>]*id="{form_id}">(.*?)</form>', page.text, re.S)
    assert found, page.text
    return found.group(1)


def field_tag(form: str, name: str) -> str:
    found = re.search(rf'<(?:input|select|textarea)[^>]*name="{name}"[^>]*>', form)
    assert found, form
    return found.group(0)


# ----- each class of error, through the case page ------------------------------------------


def test_a_missing_field_is_named_in_chinese_and_marked_on_the_form_again(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.to_in_progress()
    settle(world)
    company = browser(app, world, "property_company")
    page = company.post(f"/console/needs/{need}/resolve", {"outcome": ""})
    assert page.status_code == 422
    assert error_detail(page) == "outcome: Field required"
    assert error_text(page) == "「办理结果」是必填项，请填写或选择。请修改后重试。"
    assert chinese(error_text(page))
    # The case page again, its form with the field at fault marked.
    outcome = field_tag(form_of(page, "form-resolve"), "outcome")
    assert 'aria-invalid="true"' in outcome and "required" in outcome
    # Too long, in a field the schema limits: the limit, in Chinese.
    page = company.post(f"/console/needs/{need}/resolve", {"outcome": "修" * 5001})
    assert page.status_code == 422
    assert "「办理结果」最多 5000 个字" in error_text(page)
    # The same in English: the API's words, as they were.
    english = company.client.post(
        f"/console/needs/{need}/resolve?lang=en", data={"csrf": company.csrf(), "outcome": ""}
    )
    assert english.status_code == 422
    assert error_text(english) == "outcome: Field required"
    assert 'id="error-detail"' not in english.text


def test_a_bad_token_at_sign_in_is_told_in_chinese(app: FastAPI, world: World) -> None:
    b = browser(app, world)
    pre = CSRF.search(b.get("/console/sign-in").text).group(1)  # type: ignore[union-attr]
    page = b.client.post("/console/sign-in", data={"token": "linli_nope", "csrf": pre})
    assert page.status_code == 401
    assert error_detail(page) == "invalid or revoked token"
    assert error_text(page).startswith("访问令牌无效或已被吊销。请检查是否完整粘贴了令牌")
    assert "linli_nope" not in page.text


def test_a_role_that_may_not_is_told_which_role_and_what(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.to_in_progress()
    settle(world)
    grid_worker = browser(app, world, "grid_worker")
    page = grid_worker.post(f"/console/needs/{need}/resolve", {"outcome": "已修好"})
    assert page.status_code == 403
    assert error_detail(page) == "role 'grid_worker' may not need resolve"
    assert error_text(page) == (
        "您的角色（网格员/楼栋长）无权办结诉求。"
        "如需办理，请交由有此权限的人员，或联系管理员调整您的权限。"
    )
    assert 'id="need-title"' in page.text  # on the case page, not a bare error


def test_an_illegal_transition_names_the_status_and_what_is_allowed_now(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})
    settle(world)
    staff = browser(app, world, "staff")
    page = staff.post(f"/console/needs/{need}/accept", {"priority": "low"})
    assert page.status_code == 409
    from_api = api.post("staff", f"/needs/{need}/accept", {"priority": "low"}).json()["detail"]
    assert error_detail(page) == from_api["message"]
    said = error_text(page)
    assert said.startswith("这件诉求现在是「已受理」，不能受理。现在可以：")
    for command in from_api["allowed"]:
        assert COMMANDS[command] in said
    assert said.endswith("请刷新页面，确认最新情况后再操作。")
    assert chinese(said)


def test_a_stale_form_says_both_versions_and_to_reload(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.register()["id"]
    settle(world)
    staff = browser(app, world, "staff")
    page = staff.post(f"/console/needs/{need}/accept", {"priority": "low", "version": "1"})
    assert page.status_code == 303
    settle(world)
    page = staff.post(
        f"/console/needs/{need}/assign",
        {"party_id": str(world.parties["property_company"]), "version": "1"},
    )
    assert page.status_code == 412
    assert error_detail(page) == "the case is at version 2, not 1: reload and try again"
    assert error_text(page) == (
        "这件诉求已经被别人更新：您打开页面时是第 1 版，现在是第 2 版。"
        "本次操作没有执行，请刷新页面，确认最新情况后再操作。"
    )


def test_a_case_not_visible_and_an_address_that_names_no_page_are_404s_in_chinese(
    app: FastAPI, world: World, api: Api
) -> None:
    need = api.register("resident", source="self_report")["id"]
    settle(world)
    other = browser(app, world, "resident2")
    for page in (
        other.get(f"/console/needs/{need}"),
        other.post(f"/console/needs/{need}/evaluate", {"evaluation": "satisfied"}),
        other.get(f"/console/needs/{uuid4()}"),
    ):
        assert page.status_code == 404
        assert error_detail(page) == "need not found"
        assert error_text(page).startswith("找不到该诉求，或您无权查看。请回到列表重新查找")
        assert "找不到" in page.text.split("<h1>")[1]  # the page's title says it too
    nowhere = other.get("/console/nowhere")
    assert nowhere.status_code == 404 and "text/html" in nowhere.headers["content-type"]
    assert error_text(nowhere).startswith("没有这个页面")
    assert browser(app, world).get("/console/nowhere").status_code == 404  # signed out too
    assert other.get("/console/").headers["location"] == "/console"


def test_views_behind_and_a_database_down_are_503s_that_say_to_wait(
    app: FastAPI, world: World, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    need = api.register()["id"]
    settle(world)
    staff = browser(app, world, "staff")
    monkeypatch.setattr(world.services.settings, "view_wait_timeout", 0.05)
    # Beyond the log's head: said at once, without waiting.
    page = staff.get(f"/console/needs/{need}", after=str(10**12))
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert error_text(page) == "刚记录的变动还在同步，请过几秒钟刷新页面。"
    assert "beyond the log's head" in error_detail(page)
    # A position written but not reached by the views in time.
    world.services.updater.stop()
    written = api.register()["position"]
    page = staff.get(f"/console/needs/{need}", after=str(written))
    assert page.status_code == 503 and page.headers["Retry-After"]
    assert error_text(page) == "刚记录的变动还在同步，请过几秒钟刷新页面。"
    assert error_detail(page).startswith("the views have not reached log position")


# ----- what every error says, whichever one it is -------------------------------------------


def test_every_permission_and_every_need_command_has_chinese_words() -> None:
    assert set(PERMISSIONS) <= set(ACTIONS)
    assert set(TRANSITIONS) <= set(COMMANDS)
    for action in PERMISSIONS:
        role, _, what = action.partition(".")
        message = f"role 'resident' may not {role} {what}"
        said = problem_of(NotPermitted(message)).zh  # type: ignore[union-attr]
        assert said.startswith("您的角色（居民/业主）无权") and chinese(said), said
    for status in NeedStatus:
        for command in TRANSITIONS:
            if status in TRANSITIONS[command]:
                continue
            allowed = [c for c in TRANSITIONS if status in TRANSITIONS[c]]
            said = problem_of(IllegalTransition(command, status, allowed)).zh  # type: ignore[union-attr]
            assert chinese(said) and str(status) not in said, said


@pytest.mark.parametrize(
    ("error", "status", "words"),
    [
        (InvalidValue("reason", "a reason is required for reassigning a need"), 422, "改派诉求时必须填写「理由」"),
        (InvalidValue("commitment_item_no", "cite a commitment and an item number together"), 422, "同时选择「服务清单」"),
        (InvalidValue("commitment_id", "the service list has not taken effect yet"), 422, "还没有生效"),
        (InvalidValue("commitment_item_no", "item 7 is not in version 2, the version in effect"), 422, "第 7 项不在现行的第 2 版"),
        (InvalidValue("comment", "must not contain the control character U+0007"), 422, "控制字符（U+0007）"),
        (InvalidValue("title", "must be at most 200 characters, got 201"), 422, "「标题」最多 200 个字，现在有 201 个"),
        (InvalidValue("month_from", "must not be after month_to"), 422, "「起始月份」不能晚于「截止月份」"),
        (InvalidValue("party_id", "a party of kind 'community_staff' cannot handle needs"), 422, "不承办诉求"),
        (InvalidValue("whatever", "a rule nobody wrote words for"), 422, "的值不符合要求"),
        (NotPermitted("only the staff of the assigned party may acknowledge this need"), 403, "才能响应"),
        (NotPermitted("only the reporter, or community staff or a grid worker on their behalf, evaluates"), 403, "才能评价这件诉求"),
        (NotPermitted("something else entirely"), 403, "您没有权限执行此操作"),
        (IllegalTransition("close", NeedStatus.CLOSED, []), 409, "已办理完毕，不能再做任何操作"),
        (IllegalTransition("close before the evaluation window ends at 2026-03-01T04:00:00+00:00", NeedStatus.RESOLVED, ["evaluate"]), 409, "评价期到 2026-03-01 12:00 才结束"),
        (ConcurrentChange("need 1 kept changing; try again"), 409, "别人也修改了这件诉求"),
        (IntegrityError("duplicate key"), 409, "别人也修改了这件诉求"),
        (Conflict("some clash"), 409, "与当前情况冲突"),
        (DomainError("some rule"), 422, "不符合办理规则"),
        (ViewsBehind("the views have not reached log position 9 within 5 s"), 503, "还在同步"),
    ],
)
def test_each_error_reads_in_chinese(error: Exception, status: int, words: str) -> None:
    problem = problem_of(error, "Asia/Shanghai")
    assert problem is not None
    assert problem.status == status
    assert words in problem.zh, problem.zh
    assert chinese(problem.zh), problem.zh
    assert problem.message("en") == problem.detail  # English: the API's own words


def test_an_unexpected_error_is_not_dressed_up() -> None:
    assert problem_of(RuntimeError("boom")) is None


# ----- required fields, checked in the browser before sending ----------------------------------


def test_the_case_pages_forms_mark_and_check_their_required_fields(
    app: FastAPI, world: World, api: Api
) -> None:
    fresh = api.register()["id"]
    working = api.to_in_progress()
    settle(world)
    staff = browser(app, world, "staff")
    page = staff.get(f"/console/needs/{fresh}")
    assert "带 * 的为必填项" in page.text
    accept = form_of(page, "form-accept")
    assert "required" in field_tag(accept, "priority")
    assert "required" not in field_tag(accept, "category")

    # The first assignment: a party is required, a note is not.
    staff.post(f"/console/needs/{fresh}/accept", {"priority": "normal"})
    settle(world)
    assign = form_of(staff.get(f"/console/needs/{fresh}"), "form-assign")
    assert "required" in field_tag(assign, "party_id")
    assert "required" not in field_tag(assign, "reason")
    assert 'maxlength="2000"' in field_tag(assign, "reason")
    assert '<option value="">' in assign  # nothing chosen for the person
    # Reassigning: the reason is required, as the domain requires it.
    assign = form_of(staff.get(f"/console/needs/{working}"), "form-assign")
    assert "required" in field_tag(assign, "reason")
    assert assign.count('class="req"') == 2

    company = browser(app, world, "property_company")
    resolve = form_of(company.get(f"/console/needs/{working}"), "form-resolve")
    outcome = field_tag(resolve, "outcome")
    assert "required" in outcome and 'maxlength="5000"' in outcome
    assert 'class="req"' in resolve

    sign_in = browser(app, world).get("/console/sign-in").text
    assert re.search(r'<input type="password" name="token" id="token" required maxlength="200"', sign_in)
    figures = browser(app, world, "supervisor").get("/console/figures").text
    assert figures.count('pattern="[0-9]{4}-(0[1-9]|1[0-2])"') == 2

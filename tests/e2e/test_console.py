"""The console in headless Chromium against the running service: sign in, find
an overdue need, open its timeline, follow it to its consultation, export
CSV, take a command from the case page, switch language, and a resident who
cannot see another resident's case. Screenshots of each page go to
``test-artifacts/console/``."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Server, screenshot, sign_in


def test_staff_find_an_overdue_need_and_follow_it_to_its_consultation(
    context: Any, server: Server
) -> None:
    seeded = server.seeded
    page = context.new_page()
    page.goto("/console/needs")
    assert "/console/sign-in" in page.url  # not signed in: to the sign-in page
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    screenshot(page, "01-sign-in")

    page.fill("#token", seeded.tokens["staff"])
    page.click("#sign-in button[type=submit]")
    page.wait_for_url(re.compile(r"/console/needs$"))
    assert seeded.tokens["staff"] not in page.url
    cookie = next(c for c in context.cookies() if c["name"] == "linli_console")
    assert cookie["httpOnly"] is True
    assert cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False
    assert cookie["path"] == "/console"
    assert page.locator("#needs-table tr.need.overdue").count() >= 1
    assert page.locator("#needs-table tr.need.redo").count() >= 1
    screenshot(page, "02-needs")

    page.select_option("#overdue-filter", "true")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r"overdue=true"))
    rows = page.locator("#needs-table tr.need")
    assert rows.count() >= 1
    assert rows.count() == page.locator("#needs-table tr.need.overdue").count()
    screenshot(page, "03-needs-overdue")

    page.click(f"#needs-table a:text('{seeded.overdue_title}')")
    page.wait_for_url(re.compile(rf"/console/needs/{seeded.overdue_need}$"))
    assert page.locator("#overdue-badge").is_visible()
    timeline = page.locator("#timeline")
    for event in ("Need.Registered", "Need.Accepted", "Need.Assigned"):
        assert timeline.locator(f"tr[data-event='{event}']").count() == 1, event
    assigned = timeline.locator("tr[data-event='Need.Assigned']")
    assert "e2e-staff" in assigned.inner_text()
    assert "社区工作人员" in assigned.inner_text()
    assert "外墙维修属物业服务范围" in assigned.inner_text()  # the reason
    # People by their names: the ids stay in the machine-readable fields.
    assert page.locator("#reporter").inner_text().startswith("e2e-grid-worker")
    assert re.search(r"[0-9a-f]{8}-[0-9a-f]{4}", page.locator("#reporter").inner_text()) is None
    screenshot(page, "04-case-timeline")

    # The need that went to an owners' vote: its trail, then its consultation.
    page.goto("/console/needs")
    page.click(f"#needs-table a:text('{seeded.disputed_title}')")
    page.wait_for_url(re.compile(rf"/console/needs/{seeded.disputed_need}$"))
    timeline = page.locator("#timeline")
    for event in (
        "Need.Registered",
        "Need.Accepted",
        "Need.Assigned",
        "Need.Escalated",
        "Consultation.VoteClosed",
        "Need.ReturnedFromConsultation",
    ):
        assert timeline.locator(f"tr[data-event='{event}']").count() >= 1, event
    assert "屋面维修属物业服务范围" in timeline.locator("tr[data-event='Need.Assigned']").inner_text()

    page.click("#consultation-link")
    page.wait_for_url(re.compile(rf"/console/consultations/{seeded.consultation}$"))
    assert page.locator("#consultation-topic").inner_text().startswith(seeded.consultation_topic)
    result = page.locator("#vote-result").inner_text()
    assert "1/1" in result  # every owner and all the area took part
    assert "5/6" in result  # ten of twelve owners for
    assert "维修3号楼屋顶防水层" in page.locator("#action-items").inner_text()
    screenshot(page, "05-consultation")


def test_csv_export_of_the_overdue_needs(context: Any, server: Server) -> None:
    page = sign_in(context, server.seeded.tokens["supervisor"], then="/console/needs?overdue=true")
    assert page.locator("#needs-table tr.need").count() >= 1
    with page.expect_download() as download:
        page.click("#export-csv")
    saved = Path(download.value.path())
    raw = saved.read_bytes()
    assert raw.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(raw.decode("utf-8-sig"))))
    assert server.seeded.overdue_need in {row["id"] for row in rows}
    assert {row["overdue"] for row in rows} == {"true"}
    assert download.value.suggested_filename == "needs.csv"


def test_a_resident_cannot_see_another_residents_case(context: Any, server: Server) -> None:
    seeded = server.seeded
    page = sign_in(context, seeded.tokens["resident_b"], then="/console/needs")
    listed = page.locator("#needs-table").inner_text()
    assert seeded.other_resident_title in listed
    assert seeded.resident_title not in listed
    assert seeded.overdue_title not in listed
    assert seeded.disputed_title not in listed
    screenshot(page, "06-resident-needs")

    answer = page.goto(f"/console/needs/{seeded.resident_need}")
    assert answer is not None and answer.status == 404
    assert page.locator("#error").inner_text().startswith("找不到该诉求，或您无权查看")
    assert page.locator("#error-detail").text_content() == "need not found"  # folded away
    assert seeded.resident_title not in page.content()
    screenshot(page, "07-resident-other-case-404")

    answer = page.goto("/console/disputes")
    assert answer is not None and answer.status == 403
    assert page.locator("#error").inner_text().startswith("您的角色（居民/业主）无权查看争议审计")
    assert page.locator("#error-detail").text_content() == "role 'resident' may not audit read"
    # The resident's own case opens.
    answer = page.goto(f"/console/needs/{seeded.other_resident_need}")
    assert answer is not None and answer.status == 200


def test_supervisor_pages_disputes_commitments_figures_and_visits(
    context: Any, server: Server
) -> None:
    seeded = server.seeded
    page = sign_in(context, seeded.tokens["supervisor"], then="/console/disputes")
    row = page.locator(f"#disputes-table tr[data-need-id='{seeded.disputed_need}']")
    assert row.count() == 1
    assert "5/6" in row.inner_text()
    screenshot(page, "08-disputes")
    row.locator("a.consultation-link").click()
    page.wait_for_url(re.compile(rf"/console/consultations/{seeded.consultation}$"))
    page.goto("/console/disputes")
    page.locator(f"#disputes-table tr[data-need-id='{seeded.disputed_need}'] a.case-link").click()
    page.wait_for_url(re.compile(rf"/console/needs/{seeded.disputed_need}$"))
    assert page.locator("#commands").count() == 0  # a supervisor changes no case's state

    page.goto("/console/commitments")
    screenshot(page, "09-commitments")
    page.click(f"#commitments-table a[href='/console/commitments/{seeded.commitment}']")
    page.wait_for_url(re.compile(rf"/console/commitments/{seeded.commitment}$"))
    assert page.locator("#versions th.version").count() == 2
    assert page.locator("#versions td.changed").count() == 1
    assert page.locator("#versions td.added").count() == 1
    assert page.locator("#fulfilment svg.chart:visible").count() == 1
    screenshot(page, "10-commitment")

    page.goto("/console/figures")
    assert page.locator("svg.chart:visible").count() == 2
    assert page.locator("#per-month table tbody tr").count() >= 1
    assert "响应率" in page.locator("#per-month").inner_text()
    screenshot(page, "11-figures")

    page.goto("/console/visits")
    table = page.locator("#coverage-table").inner_text()
    assert "1号楼" in table and "5/6" in table
    screenshot(page, "12-visits")


def test_staff_accept_from_the_case_page_and_a_stale_form_gets_the_apis_message(
    context: Any, server: Server
) -> None:
    seeded = server.seeded
    page = sign_in(context, seeded.tokens["staff"], then=f"/console/needs/{seeded.reported_need}")
    stale = context.new_page()
    stale.goto(f"/console/needs/{seeded.reported_need}")

    page.select_option("#form-accept select[name=priority]", "urgent")
    page.click("#form-accept button[type=submit]")
    page.wait_for_selector("#done")
    assert page.locator("#need-status").inner_text() == "已受理"
    assert page.locator("#timeline tr[data-event='Need.Accepted']").count() == 1
    assert page.locator("#form-assign").count() == 1
    screenshot(page, "13-case-accepted")

    # The other tab still shows the form of version 1: refused as the API refuses it.
    stale.click("#form-accept button[type=submit]")
    stale.wait_for_selector("#error")
    assert "您打开页面时是第 1 版，现在是第 2 版" in stale.locator("#error").inner_text()
    assert stale.locator("#error-detail").text_content() == (
        "the case is at version 2, not 1: reload and try again"
    )
    screenshot(stale, "14-case-stale-form")


def test_english_switch_is_remembered(context: Any, server: Server) -> None:
    page = sign_in(context, server.seeded.tokens["supervisor"], then="/console/figures")
    page.click("#lang-switch")
    page.wait_for_url(re.compile(r"lang=en"))
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Response rate" in page.locator("#per-month").inner_text()
    page.goto(f"/console/needs/{server.seeded.overdue_need}")
    assert page.locator("html").get_attribute("lang") == "en"
    assert "Timeline" in page.locator("#timeline h2").inner_text()
    screenshot(page, "15-case-english")
    page.click("#sign-out")
    page.wait_for_url(re.compile(r"/console/sign-in"))
    assert not [c for c in context.cookies() if c["name"] == "linli_console"]
    page.goto("/console/needs")
    assert "/console/sign-in" in page.url


def test_no_token_reaches_the_server_log(browser: Any, server: Server) -> None:
    logged = server.log_path.read_text(errors="replace")
    assert "/console/" in logged  # the requests were logged ...
    for token in server.seeded.tokens.values():
        assert token not in logged  # ... but never a token


def test_staff_register_a_hotline_referral_find_it_by_keyword_and_a_supervisor_supervises_it(
    context: Any, server: Server
) -> None:
    seeded = server.seeded
    page = sign_in(context, seeded.tokens["staff"])
    reported_before = int(page.locator("#todo-reported .count").inner_text())
    page.click("#register-need")
    page.wait_for_selector("#form-register")
    # Sent without a title: the browser refuses it before anything is sent.
    page.select_option("#form-register select[name=source]", "hotline")
    page.fill("#form-register textarea[name=description]", "12345 工单 0427：2号楼地下车库积水")
    before = page.url
    page.click("#form-register button[type=submit]")
    assert page.url == before
    title = page.locator("#form-register input[name=title]")
    assert title.evaluate("el => el.validity.valueMissing") is True
    title.fill("地下车库积水")
    page.select_option("#form-register select[name=category]", "facilities")
    page.click("#form-register button[type=submit]")
    page.wait_for_selector("#done")
    assert "已记录：登记诉求" in page.locator("#done").inner_text()
    assert page.locator("#need-title").inner_text().startswith("地下车库积水")
    assert page.locator("#need-status").inner_text() == "已登记"
    case_path = "/console/" + page.url.split("/console/", 1)[1].split("?")[0]
    screenshot(page, "21-registered")

    page.goto("/console")
    page.wait_for_selector("#todo-reported")
    assert int(page.locator("#todo-reported .count").inner_text()) == reported_before + 1
    page.click("#todo-reported")
    page.wait_for_url(re.compile(r"status=reported"))
    assert page.locator("#needs-table tr.need", has_text="地下车库积水").count() == 1

    page.fill("#need-filters input[name=q]", "车库")
    page.click("#apply-filters")
    page.wait_for_url(re.compile(r"q=%E8%BD%A6%E5%BA%93"))
    rows = page.locator("#needs-table tr.need")
    assert rows.count() == 1 and "地下车库积水" in rows.first.inner_text()
    screenshot(page, "22-needs-search")

    other = context.browser.new_context(base_url=server.base_url, locale="zh-CN")
    supervisor = sign_in(other, seeded.tokens["supervisor"], then=case_path)
    supervisor.fill("#form-supervise textarea[name=text]", "请今日内派单处理")
    supervisor.click("#form-supervise button[type=submit]")
    supervisor.wait_for_selector("#done")
    assert "督办" in supervisor.locator("#done").inner_text()
    assert "请今日内派单处理" in supervisor.locator("#timeline").inner_text()
    assert supervisor.locator("#need-status").inner_text() == "已登记"
    screenshot(supervisor, "23-supervised")
    other.close()


def test_the_list_of_consultations_links_to_each(context: Any, server: Server) -> None:
    page = sign_in(context, server.seeded.tokens["staff"], then="/console/consultations")
    assert page.locator("nav a.here").inner_text() == "协商议事"
    row = page.locator("#consultations-table tr.consultation", has_text=server.seeded.consultation_topic)
    assert row.count() == 1
    row.locator("a.consultation-link").click()
    page.wait_for_selector("#consultation-topic")
    assert server.seeded.consultation_topic in page.locator("#consultation-topic").inner_text()
    screenshot(page, "24-consultations")

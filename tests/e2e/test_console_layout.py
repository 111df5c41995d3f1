"""Every console page at a laptop's width (1366 px) and a phone's (390 px): no
page is wider than the window (nothing scrolls sideways; a wide table
scrolls inside its own box), and every chart fits. Screenshots of each go to
``test-artifacts/console/layout-<width>-*.png``."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest

from tests.e2e.conftest import ARTIFACTS, Server, screenshot

WIDTHS = {"laptop": (1366, 900), "phone": (390, 844)}

WIDER_THAN_THE_WINDOW = """() => {
  const width = window.innerWidth;
  const root = document.documentElement;
  // Elements that stick out of the window (a box that scrolls inside itself
  // keeps its content in: its own right edge is what counts).
  const out = [];
  for (const el of document.body.querySelectorAll('*')) {
    const box = el.getBoundingClientRect();
    const inside = el.parentElement && el.parentElement.closest('.scroll-x');
    if (box.right > width + 0.5 && !inside) {
      out.push(el.tagName.toLowerCase() + (el.id ? '#' + el.id : '') +
               (el.className && typeof el.className === 'string' ? '.' + el.className.split(' ').join('.') : '') +
               ' right=' + Math.round(box.right));
    }
  }
  return {scrollWidth: root.scrollWidth, innerWidth: width, out: out.slice(0, 8)};
}"""

CHARTS_FIT = """() => Array.from(document.querySelectorAll('svg.chart')).map(svg => {
  const box = svg.getBoundingClientRect();
  const parent = svg.parentElement.getBoundingClientRect();
  return {left: box.left, right: box.right, window: window.innerWidth, parent: parent.right,
          viewBox: svg.getAttribute('viewBox'), width: box.width};
})"""


@pytest.fixture(params=list(WIDTHS), ids=list(WIDTHS))
def sized(request: pytest.FixtureRequest, browser: Any, server: Server) -> Iterator[Any]:
    width, height = WIDTHS[request.param]
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(
        base_url=server.base_url,
        viewport={"width": width, "height": height},
        locale="zh-CN",
        is_mobile=request.param == "phone",
        has_touch=request.param == "phone",
    )
    context.set_default_timeout(10_000)
    try:
        yield context, width
    finally:
        context.close()


def pages(server: Server) -> list[tuple[str, str]]:
    seeded = server.seeded
    return [
        ("02-home", "/console"),
        ("03-needs", "/console/needs"),
        ("04-case-overdue", f"/console/needs/{seeded.overdue_need}"),
        ("05-case-disputed", f"/console/needs/{seeded.disputed_need}"),
        ("06-case-redo", f"/console/needs/{seeded.redo_need}"),
        ("07-disputes", "/console/disputes"),
        ("08-consultation", f"/console/consultations/{seeded.consultation}"),
        ("09-commitments", "/console/commitments"),
        ("10-commitment", f"/console/commitments/{seeded.commitment}"),
        ("11-figures", "/console/figures"),
        ("12-visits", "/console/visits"),
        ("13-not-found", "/console/nowhere"),
        ("15-register", "/console/needs/new"),
        ("16-consultations", "/console/consultations"),
        ("17-needs-search", "/console/needs?" + urlencode({"q": "漏水"})),
        ("18-offers", "/console/offers"),
    ]


def sideways(page: Any, width: int) -> list[str]:
    """What makes the page wider than a window ``width`` wide: empty when nothing."""
    found = []
    measured = page.evaluate(WIDER_THAN_THE_WINDOW)
    # A phone's browser widens its layout viewport (zooming out) for a page too
    # wide: then the window itself is wider than the phone.
    if measured["innerWidth"] != width:
        found.append(f"the window is {measured['innerWidth']} px wide, not {width}")
    if measured["scrollWidth"] > measured["innerWidth"]:
        found.append(f"the page is {measured['scrollWidth']} px wide")
    found += [f"sticks out: {what}" for what in measured["out"]]
    for chart in page.evaluate(CHARTS_FIT):
        if not chart["viewBox"]:
            found.append("a chart without a viewBox")
        if chart["left"] < 0 or chart["right"] > chart["window"] + 0.5:
            found.append(f"a chart reaches {chart['right']:.0f} px")
    return found


def test_no_console_page_is_wider_than_the_window(sized: Any, server: Server) -> None:
    context, width = sized
    wider: dict[str, list[str]] = {}
    page = context.new_page()
    page.goto("/console/sign-in?next=" + quote("/console"))
    wider["sign-in"] = sideways(page, width)
    screenshot(page, f"layout-{width}-01-sign-in")
    page.fill("#token", server.seeded.tokens["staff"])
    page.click("#sign-in button[type=submit]")
    page.wait_for_url("**/console")

    for name, path in pages(server):
        answer = page.goto(path)
        assert answer is not None
        assert answer.status == (404 if name.endswith("not-found") else 200), (name, answer.status)
        wider[name] = sideways(page, width)
        screenshot(page, f"layout-{width}-{name}")

    # A refusal on the case page: the message, its details, the form again.
    page.goto(f"/console/needs/{server.seeded.overdue_need}")
    page.fill("#form-assign input[name=reason]", "改派")
    page.select_option("#form-assign select[name=party_id]", index=1)
    page.evaluate("document.querySelector('#form-assign input[name=version]').value = '1'")
    page.click("#form-assign button[type=submit]")
    page.wait_for_selector("#error")
    page.click("#problem details summary")
    wider["case-refused"] = sideways(page, width)
    screenshot(page, f"layout-{width}-14-case-refused")

    # A registration refused by the server (the browser's own check taken off):
    # the message, the form again with the field marked.
    page.goto("/console/needs/new")
    page.select_option("#form-register select[name=source]", "hotline")
    page.fill("#form-register textarea[name=description]", "12345 工单：东门路灯不亮")
    page.evaluate("document.querySelector('#form-register input[name=title]').required = false")
    page.click("#form-register button[type=submit]")
    page.wait_for_selector("#error")
    assert page.locator("#form-register input[name=title][aria-invalid=true]").count() == 1
    wider["register-refused"] = sideways(page, width)
    screenshot(page, f"layout-{width}-18-register-refused")

    # A supervisor's case page, with the supervision notice's form.
    page.click("#sign-out")
    page.wait_for_url("**/console/sign-in")
    page.goto("/console/sign-in?next=" + quote(f"/console/needs/{server.seeded.overdue_need}"))
    page.fill("#token", server.seeded.tokens["supervisor"])
    page.click("#sign-in button[type=submit]")
    page.wait_for_selector("#form-supervise")
    wider["case-supervisor"] = sideways(page, width)
    screenshot(page, f"layout-{width}-19-case-supervisor")
    page.goto("/console")
    wider["home-supervisor"] = sideways(page, width)
    screenshot(page, f"layout-{width}-20-home-supervisor")

    assert {name: found for name, found in wider.items() if found} == {}


def test_the_browser_checks_required_fields_before_sending(context: Any, server: Server) -> None:
    from tests.e2e.conftest import sign_in

    page = sign_in(context, server.seeded.tokens["staff"], then=f"/console/needs/{server.seeded.overdue_need}")
    before = page.url
    # Reassigning without a reason: the browser refuses to send the form.
    page.select_option("#form-assign select[name=party_id]", index=1)
    page.click("#form-assign button[type=submit]")
    assert page.url == before
    reason = page.locator("#form-assign input[name=reason]")
    assert reason.evaluate("el => el.validity.valueMissing") is True
    assert page.locator("#error").count() == 0

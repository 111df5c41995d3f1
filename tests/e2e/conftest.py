"""End-to-end fixtures: a seeded store, the real server in a subprocess, and
headless Chromium (Debian's ``chromium`` package) driven by Playwright.

No browser is ever downloaded: Playwright launches ``/usr/bin/chromium``
(``LINLI_E2E_CHROMIUM`` to point elsewhere). Without it, or without the
``playwright`` package, the tests are skipped, except under CI=true, where
that is a failure.

The store is seeded through the application before the server starts: the
demo compound, two needs accepted and assigned ten days ago (so their
response deadlines passed), one of which went through an owners' vote, a
service list amended once, needs of two residents, a redo and household
visits. Each role signs in with
a token issued here (never printed, never in a URL).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import uuid4

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "console"
CHROMIUM = Path(os.environ.get("LINLI_E2E_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def _unavailable(reason: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true needs the end-to-end browser: {reason}")
    pytest.skip(reason)


@dataclass
class Seeded:
    """What the store holds before the server starts, and who may sign in."""

    compound_id: str
    overdue_need: str = ""
    overdue_title: str = "2号楼外墙渗水"
    disputed_need: str = ""
    disputed_title: str = "3号楼屋顶漏水"
    reported_need: str = ""
    reported_title: str = "东门路灯不亮"
    consultation: str = ""
    consultation_topic: str = "3号楼屋顶漏水维修费用分摊争议"
    commitment: str = ""
    resident_need: str = ""
    resident_title: str = "楼道灯不亮"
    other_resident_need: str = ""
    other_resident_title: str = "车位长期被占"
    redo_need: str = ""
    tokens: dict[str, str] = field(default_factory=dict)


def _item(number: int, title: str, limit: str, **changes: Any) -> dict[str, Any]:
    return {
        "number": number,
        "title": title,
        "standard": f"{title}按合同标准执行",
        "frequency": "每日",
        "time_limit": limit,
        **changes,
    }


def seed_store(settings: Any) -> Seeded:
    from application.demo import seed
    from domain.actor import Actor, Role
    from domain.need import Need
    from infrastructure.store import build_services

    services = build_services(settings)
    try:
        app = services.app
        demo = seed(app)
        compound = demo.compound_id
        parties = demo.parties
        homes = demo.households
        mine = frozenset({compound})
        # The seed's people, registered once: their events and their credentials
        # name the same person ids.
        ids = {
            name: services.people.register(name, created_by="test").id
            for name in (
                "e2e-staff", "e2e-grid-worker", "e2e-party-branch", "e2e-owners-committee",
                "e2e-property", "e2e-resident-a", "e2e-resident-b", "e2e-supervisor", "e2e-unit",
            )
        }
        staff = Actor(ids["e2e-staff"], Role.COMMUNITY_STAFF, compound_ids=mine)
        grid = Actor(ids["e2e-grid-worker"], Role.GRID_WORKER, compound_ids=mine)
        branch = Actor(
            ids["e2e-party-branch"], Role.PARTY_BRANCH, mine, party_id=parties["party_branch"]
        )
        committee = Actor(
            ids["e2e-owners-committee"],
            Role.OWNERS_COMMITTEE,
            mine,
            party_id=parties["owners_committee"],
        )
        property_staff = Actor(
            ids["e2e-property"], Role.PROPERTY_COMPANY, mine, party_id=parties["property_company"]
        )
        resident_a = Actor(ids["e2e-resident-a"], Role.RESIDENT, mine, household_id=homes[0])
        resident_b = Actor(ids["e2e-resident-b"], Role.RESIDENT, mine, household_id=homes[1])
        seeded = Seeded(compound_id=str(compound))
        now = datetime.now(UTC)

        # Two needs reported, accepted and assigned ten days ago: their response
        # deadlines have passed. (Assigned then: an assignment made now would
        # start the company's own limits now.) The second goes to an owners'
        # vote below, and comes back with new limits.
        past = now - timedelta(days=10)
        late = []
        for title, description, home, reason in (
            (
                seeded.overdue_title,
                "2号楼东侧外墙雨后渗水，影响三户。",
                homes[5],
                "外墙维修属物业服务范围",
            ),
            (
                seeded.disputed_title,
                "3号楼顶层雨后漏水，物业与业委会对维修费用由谁承担有分歧。",
                homes[4],
                "屋面维修属物业服务范围",
            ),
        ):
            need = Need.register(
                by=grid,
                id=uuid4(),
                compound_id=compound,
                source="household_visit",
                title=title,
                description=description,
                category="facilities",
                household_id=home,
                now=past,
            )
            need.accept(
                by=staff,
                priority="urgent",
                policy=app.deadline_policy,
                now=past + timedelta(minutes=20),
            )
            need.assign(
                by=staff,
                party_id=parties["property_company"],
                party_role="property_company",
                reason=reason,
                now=past + timedelta(minutes=40),
            )
            app.save(need)
            late.append(need)
        seeded.overdue_need = str(late[0].id)
        seeded.disputed_need = str(late[1].id)
        need = late[1]

        # A service list, amended once and confirmed by all three each time.
        items = [
            _item(1, "楼道保洁", "24h"),
            _item(2, "二次供水设施维护", "2h"),
            _item(3, "屋面及公共部位维修", "3wd"),
        ]
        cid = app.draft_commitment(
            branch,
            compound_id=compound,
            provider_party_id=parties["property_company"],
            title="幸福里物业服务清单",
            items=items,
        ).id
        for who in (branch, committee, property_staff):
            app.confirm_commitment(who, cid, list_version=1)
        app.amend_commitment(
            committee,
            cid,
            reason="采纳居民意见：增加清扫频次",
            change=[_item(1, "楼道保洁", "24h", frequency="每日两次")],
            add=[_item(4, "电梯日常巡检", "4h")],
        )
        for who in (branch, committee, property_staff):
            app.confirm_commitment(who, cid, list_version=2)
        app.inspect_commitment_item(branch, cid, item_no=1, result="met", note="抽查楼道整洁")
        app.inspect_commitment_item(branch, cid, item_no=4, result="not_met", note="巡检记录缺失")
        seeded.commitment = str(cid)

        # The disputed need goes to an owners' vote, which adopts a resolution.
        consultation = app.propose_consultation(
            branch,
            compound_id=compound,
            topic=seeded.consultation_topic,
            need_ids=[need.id],
        ).id
        app.convene_consultation(
            committee,
            consultation,
            meets_at=now + timedelta(days=1),
            place="社区党群服务中心",
            method="vote",
            motion="使用专项维修资金维修3号楼屋顶防水层",
            matter="ordinary",
            invited_party_ids=[parties["property_company"]],
            invited_others=["街道城建科"],
        )
        for i, home in enumerate(homes):
            choice = "for" if i < 10 else "against"
            app.cast_consultation_vote(staff, consultation, choice=choice, owner_id=str(home))
        app.close_consultation_vote(branch, consultation)
        app.publish_consultation_resolution(branch, consultation, note="张贴于各楼栋公告栏七日")
        app.add_consultation_actions(
            staff,
            consultation,
            items=[
                (
                    "维修3号楼屋顶防水层",
                    parties["property_company"],
                    date.today() + timedelta(days=30),
                ),
                ("组织维修验收", parties["owners_committee"], date.today() + timedelta(days=45)),
            ],
        )
        app.complete_consultation_action(property_staff, consultation, 1, note="已进场施工")
        seeded.consultation = str(consultation)

        # Two residents' own needs.
        seeded.resident_need = str(
            app.register_need(
                resident_a,
                compound_id=compound,
                source="self_report",
                title=seeded.resident_title,
                description="1号楼一单元三楼楼道灯不亮。",
            ).id
        )
        seeded.other_resident_need = str(
            app.register_need(
                resident_b,
                compound_id=compound,
                source="self_report",
                title=seeded.other_resident_title,
                description="地面车位 12 号长期被外来车辆占用。",
            ).id
        )

        # A need done under the list's item 2, evaluated unsatisfied: a redo.
        redo = app.register_need(
            grid,
            compound_id=compound,
            source="household_visit",
            title="二次供水水质浑浊",
            description="2号楼自来水发黄。",
            category="property_service",
            household_id=homes[8],
        ).id
        app.accept_need(staff, redo, priority="normal")
        app.assign_need(
            staff,
            redo,
            party_id=parties["property_company"],
            commitment_id=cid,
            commitment_item_no=2,
        )
        app.acknowledge_need(property_staff, redo)
        app.resolve_need(property_staff, redo, outcome="已清洗水箱")
        app.evaluate_need(staff, redo, evaluation="unsatisfied", comment="仍有异味", obtained_by="phone")
        seeded.redo_need = str(redo)

        # A need handled and closed to the resident's satisfaction.
        done = app.register_need(
            grid,
            compound_id=compound,
            source="household_visit",
            title="单元门禁损坏",
            description="1号楼单元门禁无法刷卡。",
            category="facilities",
            household_id=homes[3],
        ).id
        app.accept_need(staff, done, priority="urgent")
        app.assign_need(staff, done, party_id=parties["property_company"])
        app.acknowledge_need(property_staff, done)
        app.resolve_need(property_staff, done, outcome="已更换门禁读卡器")
        app.evaluate_need(staff, done, evaluation="satisfied", obtained_by="visit")

        # Household visits: most of building 1 this month, a few last month.
        for home in homes[:5]:
            app.record_visit(grid, compound_id=compound, household_id=home, notes="入户走访")
        for home in homes[6:8]:
            app.record_visit(
                grid,
                compound_id=compound,
                household_id=home,
                visited_at=now - timedelta(days=31),
                notes="上月走访",
            )

        # A co-building unit's offer (服务项目), for the offers page.
        unit = Actor(
            ids["e2e-unit"], Role.CO_BUILDING_UNIT, mine, party_id=parties["co_building_unit"]
        )
        app.publish_offer(
            unit,
            compound_id=compound,
            title="独居老人每周上门陪伴与代购",
            description="志愿者每周上门陪伴老人聊天、代购生活用品和药品。",
            starts_on=now.date(),
            ends_on=now.date() + timedelta(days=180),
            category="elderly_care",
            capacity=20,
            schedule="每周二、四下午两点至五点",
        )

        # A need just registered, for staff to accept from its case page.
        seeded.reported_need = str(
            app.register_need(
                grid,
                compound_id=compound,
                source="inspection",
                title=seeded.reported_title,
                description="巡查发现小区东门路灯不亮。",
                category="facilities",
            ).id
        )

        credentials = services.credentials
        issue = credentials.issue
        seeded.tokens = {
            "staff": issue(
                person_id=ids["e2e-staff"],
                role=Role.COMMUNITY_STAFF,
                compound_ids=[compound],
                issued_by="e2e",
            ).token,
            "supervisor": issue(
                person_id=ids["e2e-supervisor"], role=Role.SUPERVISOR, compound_ids=None, issued_by="e2e"
            ).token,
            "resident_a": issue(
                person_id=ids["e2e-resident-a"],
                role=Role.RESIDENT,
                compound_ids=[compound],
                household_id=homes[0],
                issued_by="e2e",
            ).token,
            "resident_b": issue(
                person_id=ids["e2e-resident-b"],
                role=Role.RESIDENT,
                compound_ids=[compound],
                household_id=homes[1],
                issued_by="e2e",
            ).token,
        }
        return seeded
    finally:
        services.close()


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    base_url: str
    seeded: Seeded
    log_path: Path


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    from infrastructure.settings import Settings

    folder = tmp_path_factory.mktemp("e2e")
    database = folder / "linli.sqlite3"
    seeded = seed_store(Settings(store="sqlite", sqlite_path=database))
    port = _free_port()
    env = {
        **os.environ,
        "LINLI_STORE": "sqlite",
        "LINLI_SQLITE_PATH": str(database),
        "LINLI_HOST": "127.0.0.1",
        "LINLI_PORT": str(port),
        "LINLI_PROJECTION_POLL_INTERVAL": "0.05",
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "api.cli", "serve", "--port", str(port)]
    log_path = folder / "server.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                pytest.fail(f"the server exited early:\n{log_path.read_text(errors='replace')}")
            try:
                with urllib.request.urlopen(base_url + "/readyz", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(
                    f"the server did not get ready:\n{log_path.read_text(errors='replace')}"
                )
            time.sleep(0.2)
        yield Server(base_url, seeded, log_path)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing: apt-get install -y chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is missing: pip install -e '.[test]'")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def context(browser: Any, server: Server) -> Iterator[Any]:
    """A fresh browser profile (no cookies) per test, in a desktop-sized window."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    fresh = browser.new_context(
        base_url=server.base_url,
        viewport={"width": 1366, "height": 900},
        locale="zh-CN",
        accept_downloads=True,
    )
    fresh.set_default_timeout(10_000)
    try:
        yield fresh
    finally:
        fresh.close()


def screenshot(page: Any, name: str) -> Path:
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(context: Any, token: str, *, then: str = "/console") -> Any:
    page = context.new_page()
    page.goto(f"/console/sign-in?next={quote(then)}")
    page.fill("#token", token)
    page.click("#sign-in button[type=submit]")
    page.wait_for_load_state()
    assert "/console/sign-in" not in page.url, page.content()
    return page

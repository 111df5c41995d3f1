"""Bad input: size limits on bodies and fields, unknown fields, Unicode.

The field limits are read from the OpenAPI schema of every command, so that
a new route is covered as soon as it exists: each string field over its
``maxLength``, each list over its ``maxItems`` and each unknown field gets a
422 that names it, and writes nothing. Text people type is stored exactly as
sent (Chinese, emoji with their joiners, mixed scripts, combining marks),
except that control characters other than newline, carriage return and tab
are refused with a 422 naming the field (``domain/text.py``). Each test runs
on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from api.security import HEADERS as SECURITY_HEADERS
from application.access import PERMISSIONS
from domain.actor import Role
from tests.api.client import Api
from tests.api.test_access_matrix import _sign_in, api_routes, route_actions
from tests.world import World

# Who calls a command: the first member of the world whose role may.
CALLER_BY_ROLE = {
    Role.COMMUNITY_STAFF: "staff",
    Role.PARTY_BRANCH: "party_branch",
    Role.OWNERS_COMMITTEE: "owners_committee",
    Role.PROPERTY_COMPANY: "property_company",
    Role.CO_BUILDING_UNIT: "co_building_unit",
    Role.GRID_WORKER: "grid_worker",
    Role.SUPERVISOR: "supervisor",
    Role.RESIDENT: "resident",
    Role.ADMIN: "admin",
}
UNKNOWN = "linli_no_such_field"


@pytest.fixture
def api(client: TestClient, world: World) -> Api:
    return Api(client, world)


# ----- the commands and their bodies, from the OpenAPI schema ----------------------------------


def _callers() -> dict[str, str]:
    """'/path' of each command -> the member who calls it."""
    callers = {}
    for route in api_routes(create_app()):
        actions = route_actions(route.dependant) - {"public"}
        if "POST" in route.methods and actions:
            (action,) = actions
            callers[route.path] = next(m for r, m in CALLER_BY_ROLE.items() if r in PERMISSIONS[action])
    return callers


@functools.cache
def _commands() -> list[tuple[str, str, dict[str, Any], dict[str, Any]]]:
    """(path, caller, body schema, all component schemas) of every command with a JSON body."""
    spec = create_app().openapi()
    callers = _callers()
    found = []
    for path, operations in spec["paths"].items():
        operation = operations.get("post")
        if not operation or "requestBody" not in operation:
            continue
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        found.append((path, callers.get(path, "staff"), schema, spec["components"]["schemas"]))
    return found


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = components[schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _variants(schema: dict[str, Any], components: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The non-null shapes a schema allows (``X | None`` is an anyOf)."""
    schema = _resolve(schema, components)
    if "anyOf" in schema:
        for variant in schema["anyOf"]:
            yield from _variants(variant, components)
    elif schema.get("type") != "null":
        yield schema


def _limits(
    schema: dict[str, Any], components: dict[str, Any], loc: tuple[Any, ...] = ()
) -> Iterator[tuple[str, tuple[Any, ...], Any]]:
    """(kind, loc, a value over the limit) for each bounded string and list,
    and an unknown field for each closed object, walking into nested objects
    and lists of objects."""
    for shape in _variants(schema, components):
        kind = shape.get("type")
        if kind == "object":
            if shape.get("additionalProperties") is False:
                yield "unknown", (*loc, UNKNOWN), 1
            for name, prop in shape.get("properties", {}).items():
                yield from _limits(prop, components, (*loc, name))
        elif kind == "array":
            if "maxItems" in shape:
                element = next(_variants(shape["items"], components))
                filler: Any = {} if element.get("type") == "object" else "a"
                yield "items", loc, [filler] * (shape["maxItems"] + 1)
            yield from _limits(shape["items"], components, (*loc, 0))
        elif kind == "string" and "maxLength" in shape:
            # Chinese, so that the limit is seen to count characters, not bytes.
            yield "length", loc, "长" * (shape["maxLength"] + 1)


def _body_for(loc: tuple[Any, ...], value: Any) -> Any:
    """The smallest body carrying ``value`` at ``loc``."""
    for step in reversed(loc):
        value = [value] if isinstance(step, int) else {step: value}
    return value


def _path(template: str) -> str:
    return (
        template.replace("{list_version}", "1")
        .replace("{number}", "1")
        .replace("{", "")
        .replace("}", "")
        .replace("need_id", str(uuid.uuid4()))
        .replace("compound_id", str(uuid.uuid4()))
        .replace("commitment_id", str(uuid.uuid4()))
        .replace("consultation_id", str(uuid.uuid4()))
    )


EXPECTED_TYPE = {"unknown": "extra_forbidden", "length": "string_too_long", "items": "too_long"}


def test_the_schema_walk_finds_the_limits() -> None:
    """Guards the walk: the fields the issue names are among those it checks."""
    found = {
        (path, kind, loc)
        for path, _, schema, comps in _commands()
        for kind, loc, _ in _limits(schema, comps)
    }
    assert ("/needs", "length", ("title",)) in found
    assert ("/needs", "length", ("description",)) in found
    assert ("/needs", "items", ("attachments",)) in found
    assert ("/needs", "length", ("attachments", 0)) in found
    assert ("/needs", "unknown", (UNKNOWN,)) in found
    assert ("/commitments", "length", ("items", 0, "title")) in found
    assert ("/commitments", "unknown", ("items", 0, UNKNOWN)) in found
    assert len({path for path, *_ in found}) >= 30


def test_every_field_over_its_limit_and_every_unknown_field_is_a_422_naming_it(
    client: TestClient, world: World
) -> None:
    before = world.services.app.recorder.max_notification_id()
    failures = []
    for template, caller, schema, components in _commands():
        for kind, loc, value in _limits(schema, components):
            body = _body_for(loc, value)
            response = client.post(_path(template), json=body, headers=world.headers(caller))
            where = f"POST {template} {kind} {'.'.join(map(str, loc))}"
            if response.status_code != 422:
                failures.append(f"{where}: {response.status_code} {response.text[:200]}")
                continue
            errors = response.json()["detail"]
            named = [e for e in errors if tuple(e["loc"]) == ("body", *loc)]
            if not named or named[0]["type"] != EXPECTED_TYPE[kind]:
                failures.append(f"{where}: no {EXPECTED_TYPE[kind]} error at {loc}: {errors[:3]}")
    assert failures == [], "\n".join(failures)
    assert world.services.app.recorder.max_notification_id() == before


def test_a_limit_counts_characters_not_bytes(api: Api) -> None:
    """200 Chinese characters (600 bytes) are a valid title; 201 are not."""
    title, description = "灯" * 200, "述" * 5000
    need = api.register(title=title, description=description)
    view = api.get("staff", f"/needs/{need['id']}", after=need["position"]).json()
    assert (view["title"], view["description"]) == (title, description)
    too_long = api.post("grid_worker", "/needs", _need_body(api.world, title="灯" * 201))
    assert too_long.status_code == 422
    assert [e["loc"] for e in too_long.json()["detail"]] == [["body", "title"]]


def test_an_unknown_field_is_refused_even_beside_valid_ones(api: Api) -> None:
    before = api.log_position()
    response = api.post("grid_worker", "/needs", {**_need_body(api.world), "priority": "urgent"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["body", "priority"], "extra_forbidden")
    ]
    assert api.log_position() == before


# ----- whole bodies -------------------------------------------------------------------------


def _need_body(world: World, **fields: Any) -> dict[str, Any]:
    return {
        "compound_id": str(world.compound_id),
        "source": "household_visit",
        "title": "电梯停运",
        "description": "2号楼电梯停运",
        **fields,
    }


def test_a_two_megabyte_body_is_refused_with_413_and_writes_nothing(api: Api) -> None:
    before = api.log_position()
    body = _need_body(api.world, description="长" * 700_000)  # about 2 MB of UTF-8
    announced = api.post("grid_worker", "/needs", body)
    assert announced.status_code == 413, announced.text[:200]
    assert announced.json()["detail"]
    for name in SECURITY_HEADERS:
        assert name in announced.headers

    def chunks() -> Iterator[bytes]:  # no Content-Length: the body is streamed
        raw = json.dumps(body, ensure_ascii=False).encode()
        for start in range(0, len(raw), 64 * 1024):
            yield raw[start : start + 64 * 1024]

    streamed = api.client.post(
        "/needs",
        content=chunks(),
        headers={**api.world.headers("grid_worker"), "Content-Type": "application/json"},
    )
    assert streamed.status_code == 413, streamed.text[:200]
    assert api.log_position() == before


def test_a_body_under_the_size_limit_with_a_field_over_its_own_is_a_422(api: Api) -> None:
    before = api.log_position()
    body = _need_body(api.world, description="长" * 300_000)  # 900 KB
    response = api.post("grid_worker", "/needs", body)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert [e["loc"] for e in errors] == [["body", "description"]]
    assert api.log_position() == before


def test_a_422_does_not_echo_a_large_field_back(api: Api) -> None:
    """FastAPI's own 422 handler echoes each invalid value ('input'): a 900 KB
    field came back as a 900 KB answer, and whatever a client pasted by mistake
    was reflected (found here; api/errors.py now leaves 'input' out)."""
    body = _need_body(api.world, description="长" * 300_000)  # 900 KB
    response = api.post("grid_worker", "/needs", body)
    assert response.status_code == 422
    assert len(response.content) < 10_000


MALFORMED = {
    "deep": b"[" * 300_000 + b"]" * 300_000,  # nested deeper than any parser recurses
    "not utf-8": b'{"title": "\xff\xfe"}',
    "truncated": b'{"title": ',
    "empty": b"",
    "null": b"null",
    "a string": b'"just a string"',
    "an array": b"[1, 2, 3]",
    "duplicate keys": b'{"compound_id": "x", "compound_id": "y"}',
}


def test_malformed_json_is_a_4xx_and_writes_nothing(api: Api) -> None:
    before = api.log_position()
    headers = {**api.world.headers("grid_worker"), "Content-Type": "application/json"}
    answers = {
        name: api.client.post("/needs", content=raw, headers=headers).status_code
        for name, raw in MALFORMED.items()
    }
    assert {name: status for name, status in answers.items() if not 400 <= status < 500} == {}
    assert api.log_position() == before


def test_bad_command_headers_are_a_422_naming_the_header(api: Api) -> None:
    need = api.register()["id"]
    before = api.log_position()
    for header, value in [
        ("Idempotency-Key", "k" * 201),
        ("Idempotency-Key", "a\tb"),
        ("If-Match", "yesterday"),
    ]:
        response = api.post(
            "staff", f"/needs/{need}/accept", {"priority": "low"}, headers={header: value}
        )
        assert response.status_code == 422, (header, value, response.text)
        assert response.json()["detail"][0]["loc"] == ["header", header.lower()]
    assert api.log_position() == before


# ----- Unicode --------------------------------------------------------------------------------

TEXTS = {
    "chinese": "电梯停运，请尽快维修。楼道灯不亮（三楼）",
    "astral emoji": "漏水了😀💧🚰",
    "zwj family": "一家人👨\u200d👩\u200d👧 和 👩🏽\u200d🔧 师傅",
    "flags and skin tones": "🇨🇳 👍🏽 ☺︎ ✌️",
    "mixed scripts": "العربية русский 日本語 한국어 Ελληνικά עברית",
    "combining marks": "Cafe\u0301 vs Caf\u00e9; Z\u0351\u0358a\u0300lgo; ก\u0e34\u0e48",
    "cjk extension b": "𠀀𠀁𪚥 (U+20000)",
    "inner whitespace": "第一行\n第二行\r\n\t缩进  两个空格",
    "lookalikes and zero width": "pаypal (Cyrillic а); soft\u00adhyphen; a\u200bb; \ufeffBOM inside",
    "private use and noncharacters": "\ue000\uf8ff \ufdd0 \U0010fffd",
}


def test_text_is_stored_and_returned_exactly(api: Api) -> None:
    """Through the command, the view, the history and the CSV export; no
    normalisation (a decomposed é stays two code points)."""
    assert len(TEXTS["combining marks"].split(" vs ")[0]) == 5
    created = {}
    for name, text in TEXTS.items():
        need = api.register(title=text[:200], description=text, location=text[:200])["id"]
        created[name] = (need, api.ok("staff", f"/needs/{need}/notes", {"text": text})["position"])
    last = max(position for _, position in created.values())
    exported = api.get("staff", "/needs", format="csv", compound_id=str(api.world.compound_id), after=last)
    assert exported.content.startswith("\ufeff".encode())
    rows = csv.DictReader(io.StringIO(exported.content.decode("utf-8-sig"), newline=""))
    titles = {row["title"] for row in rows}
    wrong = []
    for name, (need, position) in created.items():
        text = TEXTS[name]
        view = api.get("staff", f"/needs/{need}", after=position).json()
        events = api.get("supervisor", f"/needs/{need}/history").json()["events"]
        stored = {
            "title": view["title"],
            "description": view["description"],
            "location": view["location"],
            "registered description": events[0]["data"]["description"],
            "note": events[-1]["data"]["text"],
        }
        sent = {key: text[:200] if key in ("title", "location") else text for key in stored}
        if stored != sent:
            wrong.append(f"{name}: sent {sent!r}, got {stored!r}")
        if text[:200] not in titles:
            wrong.append(f"{name}: not in the CSV export")
    assert wrong == []


def test_names_are_stored_exactly_too(api: Api) -> None:
    name = "幸福里👨\u200d👩\u200d👧小区 Résidence\u0301 العربية"
    created = api.ok("staff", "/compounds", {"name": name, "address": TEXTS["mixed scripts"]})
    staff = api.world.services.credentials.issue(
        person_id=api.world.services.people.register("全能 staff", created_by="test").id, role=Role.COMMUNITY_STAFF, compound_ids=None
    )
    view = api.client.get(
        f"/compounds/{created['id']}",
        params={"after": created["position"]},
        headers={"Authorization": f"Bearer {staff.token}"},
    ).json()
    assert view["name"] == name
    assert view["address"] == TEXTS["mixed scripts"]


CONTROLS = {
    "NUL": "\x00",
    "BEL": "\x07",
    "BS": "\x08",
    "ESC": "\x1b",
    "US": "\x1f",
    "DEL": "\x7f",
    "NEL (C1)": "\x85",
    "CSI (C1)": "\x9b",
}


def test_a_control_character_is_a_422_naming_the_field(api: Api) -> None:
    """Anywhere inside the text; newline, carriage return and tab are text."""
    before = api.log_position()
    wrong = []
    for field in ("title", "description", "location"):
        for name, char in CONTROLS.items():
            body = _need_body(api.world, **{field: f"灯{char}坏了"})
            response = api.post("grid_worker", "/needs", body)
            errors = response.json()["detail"] if response.status_code == 422 else []
            if [e["loc"] for e in errors] != [["body", field]] or f"U+{ord(char):04X}" not in errors[0]["msg"]:
                wrong.append(f"{field} with {name}: {response.status_code} {response.text[:150]}")
    assert wrong == []
    assert api.log_position() == before


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/needs/{need}/notes", {"text": "进展\x1b[31m红字"}),
        ("/needs/{need}/reject", {"reason": "重复\x00"}),
        ("/needs/{need}/transfer", {"to_body": "住建局\x08", "reason": "不属本小区"}),
        ("/needs/{need}/assign", {"party_id": "{party}", "reason": "改\x1f派"}),
        ("/compounds", {"name": "新\x0c小区"}),
    ],
    ids=["note", "reason", "to_body", "assign reason", "compound name"],
)
def test_control_characters_are_refused_in_every_kind_of_text(
    api: Api, path: str, body: dict[str, str]
) -> None:
    need = api.register()["id"]
    api.ok("staff", f"/needs/{need}/accept", {"priority": "normal"})  # transfer and assign need it
    party = str(api.world.parties["property_company"])
    body = {k: v.replace("{party}", party) for k, v in body.items()}
    before = api.log_position()
    response = api.post("staff", path.format(need=need), body)
    assert response.status_code == 422, response.text
    (error,) = response.json()["detail"]
    assert error["loc"][-1] in body
    assert api.log_position() == before


def test_a_zero_width_joiner_is_not_a_control_character(api: Api) -> None:
    """U+200D is a format character (Cf) that emoji sequences need."""
    need = api.register(title="👨\u200d👩\u200d👧")
    view = api.get("staff", f"/needs/{need['id']}", after=need["position"]).json()
    assert view["title"] == "👨\u200d👩\u200d👧"


def test_a_bidirectional_override_is_refused(api: Api) -> None:
    """Bidirectional embeddings, overrides and isolates (U+202A-U+202E,
    U+2066-U+2069, category Cf) make '\\u202egnp.exe' read reversed in every UI
    and CSV (Trojan Source); they are refused like control characters, while
    U+200D stays (test_a_zero_width_joiner_is_not_a_control_character)."""
    accepted = []
    for char in ("\u202a", "\u202b", "\u202c", "\u202d", "\u202e", "\u2066", "\u2067", "\u2068", "\u2069"):
        response = api.post("grid_worker", "/needs", _need_body(api.world, title=f"{char}gnp.exe"))
        if response.status_code != 422 or response.json()["detail"][0]["loc"] != ["body", "title"]:
            accepted.append(f"U+{ord(char):04X}: {response.status_code}")
    assert accepted == []


def test_a_lone_surrogate_is_a_422_naming_the_field(api: Api) -> None:
    """A lone UTF-16 surrogate sent as a JSON escape ('\\ud800'): pydantic
    refuses the field (string_unicode), and FastAPI's own 422 handler, echoing
    the input, failed to encode it: a 500 on every route with a JSON body
    (found here; api/errors.py now answers without the input)."""
    before = api.log_position()
    raw = json.dumps(_need_body(api.world, title="PLACEHOLDER")).replace("PLACEHOLDER", "a\\ud800b")
    client = TestClient(api.client.app, raise_server_exceptions=False)
    response = client.post(
        "/needs",
        content=raw.encode(),
        headers={**api.world.headers("grid_worker"), "Content-Type": "application/json"},
    )
    assert api.log_position() == before
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["loc"] == ["body", "title"]


# ----- numbers --------------------------------------------------------------------------------


def _integer_query_parameters() -> list[tuple[str, str]]:
    """(path, name) of each integer query parameter of a query, but ``after``
    (a log position the views are waited for: 503 when it is not reached)."""
    spec = create_app().openapi()
    found = []
    for path, operations in spec["paths"].items():
        for parameter in operations.get("get", {}).get("parameters", []):
            shapes = list(_variants(parameter["schema"], spec["components"]["schemas"]))
            if (
                parameter["in"] == "query"
                and parameter["name"] != "after"
                and any(s.get("type") == "integer" for s in shapes)
            ):
                found.append((path, parameter["name"]))
    return found


def test_an_integer_beyond_64_bits_is_never_a_500(api: Api) -> None:
    """?cursor= of 2**63 or more used to reach the SQLite driver, which raises
    OverflowError: a 500 on SQLite for every list with a cursor, the console's
    too (found here; the cursors are now bounded by MAX_POSITION)."""
    parameters = _integer_query_parameters()
    assert ("/needs", "cursor") in parameters
    client = TestClient(api.client.app, raise_server_exceptions=False)
    headers = api.world.headers("staff")
    cookie, _ = _sign_in(client, api.world.tokens["staff"])
    client.cookies.clear()
    failures = []
    for path, name in [*parameters, ("/console/needs", "cursor")]:
        for value in (2**63, 10**30):
            caller = {"Cookie": cookie} if path.startswith("/console") else headers
            response = client.get(
                path, params={name: str(value)}, headers=caller, follow_redirects=False
            )
            if response.status_code >= 500:
                failures.append(f"GET {path}?{name}={value} -> {response.status_code}")
    assert failures == []


# ----- times and dates ------------------------------------------------------------------------

# Valid ISO 8601 that cannot be converted to UTC or to Shanghai time: each was
# accepted and either answered 500 or stored an event the views then failed on
# for good (OverflowError in utc_text; every later ?after= read a 503). Now
# every client time lies in years 2000 to 2199 (domain/times.py).
FAR_FUTURE = ("9999-12-31T23:00:00-05:00", "9999-12-31T23:00:00-14:00")
FAR_PAST = ("0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00+05:00")


def _refused(response: Any, loc: list[str], words: str = "") -> str | None:
    """None when the answer is a 422 naming ``loc`` (with ``words`` in its message)."""
    if response.status_code != 422:
        return f"{response.status_code} {response.text[:200]}"
    errors = response.json()["detail"]
    if [e["loc"] for e in errors] != [loc] or words not in errors[0]["msg"]:
        return f"422 but {errors}"
    return None


def _views_keep_up(api: Api, need: str) -> None:
    """A later command's position is reached by the views (a poisoned event
    would hold them back: 503)."""
    later = api.ok("staff", f"/needs/{need}/notes", {"text": "之后的一条记录"})
    view = api.get("staff", f"/needs/{need}", after=later["position"])
    assert view.status_code == 200, view.text[:200]
    assert view.json()["version"] == later["version"]
    listed = api.get("staff", "/needs", after=later["position"])
    assert listed.status_code == 200, listed.text[:200]


def test_a_deadline_outside_the_sane_range_is_a_422_and_the_views_keep_up(api: Api) -> None:
    need = api.to_in_progress()
    current = api.get("staff", f"/needs/{need}", after=api.log_position()).json()["resolve_due"]
    before = api.log_position()
    wrong = {}
    for resolve_due in (*FAR_FUTURE, *FAR_PAST, "2200-01-01T00:00:00+00:00"):
        body = {"reason": "等配件", "resolve_due": resolve_due}
        response = api.post("staff", f"/needs/{need}/extend", body)
        wrong[resolve_due] = _refused(response, ["body", "resolve_due"])
    assert {k: v for k, v in wrong.items() if v} == {}
    assert api.log_position() == before
    _views_keep_up(api, need)
    assert api.get("staff", f"/needs/{need}").json()["resolve_due"] == current


def test_a_deadline_moves_at_most_a_year_past_the_current_one(api: Api) -> None:
    need = api.to_in_progress()
    current = datetime.fromisoformat(
        api.get("staff", f"/needs/{need}", after=api.log_position()).json()["resolve_due"]
    )
    before = api.log_position()
    too_far = (current + timedelta(days=366, seconds=1)).isoformat()
    response = api.post("staff", f"/needs/{need}/extend", {"reason": "x", "resolve_due": too_far})
    assert _refused(response, ["body", "resolve_due"], "at most 366 days") is None
    earlier = (current - timedelta(days=1)).isoformat()
    response = api.post("staff", f"/needs/{need}/extend", {"reason": "x", "resolve_due": earlier})
    assert _refused(response, ["body", "resolve_due"], "later than the current deadline") is None
    assert api.log_position() == before
    a_year = (current + timedelta(days=366)).isoformat()
    extended = api.ok("staff", f"/needs/{need}/extend", {"reason": "x", "resolve_due": a_year})
    view = api.get("staff", f"/needs/{need}", after=extended["position"]).json()
    assert datetime.fromisoformat(view["resolve_due"]) == current + timedelta(days=366)


def test_a_meeting_time_outside_the_sane_range_is_a_422_and_the_views_keep_up(api: Api) -> None:
    proposal = {"compound_id": str(api.world.compound_id), "topic": "停车位划分"}
    consultation = api.ok("party_branch", "/consultations", proposal)["id"]
    before = api.log_position()
    wrong = {}
    for meets_at in (*FAR_PAST, *FAR_FUTURE, "1999-12-31T23:59:59+00:00"):
        body = {"meets_at": meets_at, "place": "社区党群服务中心", "method": "consensus"}
        response = api.post("staff", f"/consultations/{consultation}/convene", body)
        wrong[meets_at] = _refused(response, ["body", "meets_at"], "2000 to 2199")
    assert {k: v for k, v in wrong.items() if v} == {}
    assert api.log_position() == before
    convened = api.ok(
        "staff",
        f"/consultations/{consultation}/convene",
        {"meets_at": "2026-03-10T19:00:00+08:00", "place": "会议室", "method": "consensus"},
    )
    view = api.get("staff", f"/consultations/{consultation}", after=convened["position"])
    assert view.status_code == 200, view.text[:200]
    assert view.json()["meets_at"] == "2026-03-10T11:00:00.000000+00:00"
    _views_keep_up(api, api.register()["id"])


def test_a_visit_at_an_impossible_time_is_a_422_not_a_500(api: Api) -> None:
    """0001-01-01T00:00:00+05:00 raised OverflowError converting it to Shanghai
    time (a 500); a visit may also not be in the future."""
    client = TestClient(api.client.app, raise_server_exceptions=False)
    now = datetime.now(UTC)
    body = {
        "compound_id": str(api.world.compound_id),
        "household_id": str(api.world.households[0]),
    }
    before = api.log_position()
    wrong = {}
    for visited_at, words in [
        *((t, "2000 to 2199") for t in (*FAR_PAST, *FAR_FUTURE)),
        ((now + timedelta(hours=1)).isoformat(), "in the future"),
    ]:
        response = client.post(
            "/visits",
            json={**body, "visited_at": visited_at},
            headers=api.world.headers("grid_worker"),
        )
        wrong[visited_at] = _refused(response, ["body", "visited_at"], words)
    assert {k: v for k, v in wrong.items() if v} == {}
    assert api.log_position() == before
    long_ago = (now - timedelta(days=3 * 365)).isoformat()
    recent = api.ok("grid_worker", "/visits", {**body, "visited_at": long_ago})
    listed = api.get("staff", "/visits", after=recent["position"])
    assert listed.status_code == 200, listed.text[:200]
    assert [v["id"] for v in listed.json()["items"]] == [recent["id"]]
    _views_keep_up(api, api.register()["id"])


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("reported_from", "0001-01-01"),
        ("reported_to", "9999-12-31"),
        ("reported_from", "1999-12-31"),
        ("reported_to", "2200-01-01"),
    ],
)
def test_a_query_day_outside_the_sane_range_is_a_422_naming_it(
    api: Api, name: str, value: str
) -> None:
    """Turning the day into its local midnight in UTC overflowed: a 500."""
    client = TestClient(api.client.app, raise_server_exceptions=False)
    for kind in ("json", "csv"):
        params = {name: value, "format": kind}
        response = client.get("/needs", params=params, headers=api.world.headers("staff"))
        assert response.status_code == 422, response.text[:200]
        assert [e["loc"] for e in response.json()["detail"]] == [["query", name]]


def test_the_ends_of_the_query_days_are_accepted(api: Api) -> None:
    need = api.register()
    response = api.get(
        "staff",
        "/needs",
        reported_from="2000-01-01",
        reported_to="2199-12-31",
        after=need["position"],
    )
    assert response.status_code == 200, response.text[:200]
    assert need["id"] in [n["id"] for n in response.json()["items"]]


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [
        ("/visits", "month", "0000-01"),
        ("/visits", "month", "9999-12"),
        ("/visits/coverage", "month_to", "9999-12"),
        ("/visits/coverage", "month_from", "1999-12"),
        ("/stats", "month_to", "2200-01"),
        ("/stats", "month_from", "0000-12"),
    ],
)
def test_a_month_outside_the_sane_range_is_a_422_naming_it(
    api: Api, path: str, name: str, value: str
) -> None:
    client = TestClient(api.client.app, raise_server_exceptions=False)
    params = {"compound_id": str(api.world.compound_id), name: value}
    response = client.get(path, params=params, headers=api.world.headers("staff"))
    assert response.status_code == 422, response.text[:200]
    assert [e["loc"] for e in response.json()["detail"]] == [["query", name]]


@pytest.mark.parametrize(
    ("path", "params", "name"),
    [
        ("/stats", {"month_from": "2026-05", "month_to": "2026-01"}, "month_from"),
        ("/visits/coverage", {"month_from": "2026-05", "month_to": "2026-01"}, "month_from"),
        ("/visits/coverage", {"month_from": "2020-01", "month_to": "2026-01"}, "month_to"),
    ],
)
def test_a_rule_refusing_a_query_parameter_names_it_in_the_query(
    api: Api, path: str, params: dict[str, str], name: str
) -> None:
    client = TestClient(api.client.app, raise_server_exceptions=False)
    params = {"compound_id": str(api.world.compound_id), **params}
    response = client.get(path, params=params, headers=api.world.headers("staff"))
    assert response.status_code == 422, response.text[:200]
    assert [e["loc"] for e in response.json()["detail"]] == [["query", name]]


def test_the_openapi_document_offers_if_match_on_the_conditional_commands() -> None:
    """``expected_version`` reads the header itself, so ``api.app`` documents it:
    on each route that depends on it and on no other, with the rule as a pattern."""
    import re

    from api.deps import depends_on, expected_version
    from tests.api.test_access import all_routes

    spec = create_app().openapi()
    conditional = {
        (route.path, method.lower())
        for route in all_routes()
        if getattr(route, "dependant", None) is not None and depends_on(route.dependant, expected_version)
        for method in route.methods
    }
    assert ("/needs/{need_id}/accept", "post") in conditional and len(conditional) > 20
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            found = [p for p in operation.get("parameters", []) if p["name"] == "If-Match"]
            assert len(found) == ((path, method) in conditional), (method, path)
            for parameter in found:
                pattern = re.compile(parameter["schema"]["pattern"])
                assert pattern.match('"3"') and pattern.match("3") and not pattern.match("yesterday")


def test_a_title_of_only_zero_width_characters_is_refused_like_an_empty_one(api: Api) -> None:
    """Issue 23 item 7: nothing a reader would see is no title."""
    before = api.log_position()
    for title in ("\u200b", "\u200b\u2060\ufeff", " \u00ad "):
        response = api.post("grid_worker", "/needs", _need_body(api.world, title=title))
        assert response.status_code == 422, (repr(title), response.text)
        (error,) = response.json()["detail"]
        assert error["loc"] == ["body", "title"] and "empty" in error["msg"]
    assert api.log_position() == before

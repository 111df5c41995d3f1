"""Every GET route declares what it answers (issue 23, item 3).

The OpenAPI document names a model (a ``$ref``) for the JSON answer of every
GET route, and those models list their fields: a client generated from the
schema gets types, not dictionaries. The routes' real answers, from a world
where every kind of case went through its steps, validate against their
models on SQLite and PostgreSQL; and what the routes publish is unchanged
(the models keep every field, and the CSV exports still answer CSV).
"""

from __future__ import annotations

import sys

from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from pydantic import BaseModel

from api import responses as r
from api.app import create_app
from tests.api.client import Api
from tests.api.test_access_matrix import api_routes
from tests.api.test_commitments_api import confirm_all, in_effect, inspection, item
from tests.api.test_consultations_api import convene_vote, due, owner, propose
from tests.api.test_episodes import Case, minutes
from tests.world import World

# ----- a world where every kind of case went through its steps ---------------------


@dataclass
class Populated:
    needs: dict[str, str]
    consultations: dict[str, str]
    commitment: str
    assessment: str
    position: int
    offer: str = ""  # a co-building unit's offer, with a need served under it


def populate(api: Api) -> Populated:
    """Needs at every step (redone, extended, excluded, escalated twice),
    consultations by vote, by consensus and cancelled, a service list with an
    amendment pending, an inspection and a need under an item, a visit with a
    need on the spot, and a closed month with figures per party."""
    world = api.world
    pc = str(world.parties["property_company"])
    # November: a need acknowledged in time, then resolved, and a closed month.
    Case(world, "按时").accept(minutes(0)).assign("property_company", minutes(0)).acknowledge(
        "property_company", minutes(30)
    ).resolve("property_company", minutes(90)).evaluate("satisfied", minutes(120), resolved=True)
    assessment = api.ok(
        "supervisor", "/assessments", {"compound_id": str(world.compound_id), "month": "2026-11"}
    )["id"]

    redone = api.to_in_progress()
    api.ok("property_company", f"/needs/{redone}/notes", {"text": "已派人查看", "attachments": ["a.jpg"]})
    api.ok("staff", f"/needs/{redone}/extend", {"reason": "等配件", "working_days": 2})
    api.ok("supervisor", f"/needs/{redone}/supervise", {"text": "尽快办结"})
    api.ok("property_company", f"/needs/{redone}/resolve", {"outcome": "已修"})
    api.ok("staff", f"/needs/{redone}/evaluate", {"evaluation": "unsatisfied", "comment": "又坏了", "obtained_by": "phone", "resolved": False})
    api.ok("supervisor", f"/needs/{redone}/exclusions", {"party_id": pc, "reason": "不可抗力"})
    reported = api.register("resident", source="self_report", household_id=str(world.households[0]))["id"]

    voted = [api.to_in_progress(), api.to_in_progress()]
    vote = propose(api, voted)["id"]
    convene_vote(api, vote)
    api.ok("resident", f"/consultations/{vote}/opinions", {"text": "同意更换"})
    api.ok("resident", f"/consultations/{vote}/votes", {"choice": "for"})
    api.ok("resident2", f"/consultations/{vote}/votes", {"choice": "for", "owner_id": owner(api, 1)})
    api.ok("staff", f"/consultations/{vote}/votes", {"choice": "against", "owner_id": owner(api, 2)})
    api.ok("party_branch", f"/consultations/{vote}/close-vote")
    api.ok("party_branch", f"/consultations/{vote}/publish", {"note": "公示七日"})
    api.ok("staff", f"/consultations/{vote}/actions", {"items": [
        {"title": "更换电梯", "party_id": pc, "due_on": due()},
        {"title": "公示账目", "party_id": pc, "due_on": due(60)},
    ]})
    api.ok("property_company", f"/consultations/{vote}/actions/1/complete", {"note": "已换"})
    api.ok("property_company", f"/needs/{voted[0]}/acknowledge")
    api.ok("property_company", f"/needs/{voted[0]}/resolve", {"outcome": "按决议更换"})
    api.ok("staff", f"/needs/{voted[0]}/evaluate", {"evaluation": "satisfied", "obtained_by": "visit"})

    twice = api.to_in_progress()
    cancelled = propose(api, [twice])["id"]
    api.ok("staff", f"/consultations/{cancelled}/cancel", {"reason": "议题需重新准备"})
    consensus = propose(api, [twice])["id"]
    api.ok("party_branch", f"/consultations/{consensus}/convene", {
        "meets_at": "2026-03-10T19:00:00+08:00", "place": "2号楼下", "method": "consensus",
    })
    api.ok("party_branch", f"/consultations/{consensus}/resolution", {"text": "物业七日内修复"})
    proposed = propose(api)["id"]

    commitment = in_effect(api, items=[item(1, title="楼道保洁"), item(2, title="电梯维保", time_limit="2h")])
    api.ok("staff", f"/commitments/{commitment}/inspections", inspection(1))
    api.ok("staff", f"/commitments/{commitment}/inspections", inspection(2, "not_met"))
    cited = api.register()["id"]
    api.ok("staff", f"/needs/{cited}/accept", {"priority": "urgent"})
    api.ok("staff", f"/needs/{cited}/assign", {"party_id": pc, "commitment_id": commitment, "commitment_item_no": 2})
    api.ok("property_company", f"/needs/{cited}/acknowledge")
    api.ok("property_company", f"/needs/{cited}/resolve", {"outcome": "已维保"})
    api.ok("party_branch", f"/commitments/{commitment}/amend", {
        "reason": "增加绿化", "add": [item(3, title="绿化养护", time_limit="3wd")], "remove": [1],
    })
    api.ok("resident", f"/commitments/{commitment}/opinions", {"text": "保留保洁", "item_no": 2})
    confirm_all(api, commitment, 2, ("party_branch",))

    visit = api.ok("grid_worker", "/visits", {
        "compound_id": str(world.compound_id), "household_id": str(world.households[1]),
        "notes": "独居老人", "needs": [{"title": "楼道灯坏", "description": "三楼楼道灯不亮"}],
    })
    # Both ways (DESIGN 2.5): a unit's offer and a need served under it, whose
    # compound side the unit evaluated; and a need the unit raised toward the compound.
    unit = str(world.parties["co_building_unit"])
    offer = api.ok("co_building_unit", "/offers", {
        "compound_id": str(world.compound_id), "category": "elderly_care", "title": "独居老人陪伴",
        "description": "每周上门", "capacity": 10, "starts_on": "2026-01-01",
    })["id"]
    api.ok("co_building_unit", f"/offers/{offer}/change", {"schedule": "每周二下午"})
    served = api.register()["id"]
    api.ok("staff", f"/needs/{served}/accept", {"priority": "normal"})
    api.ok("staff", f"/needs/{served}/assign", {"party_id": unit, "offer_id": offer})
    api.ok("co_building_unit", f"/needs/{served}/acknowledge")
    api.ok("co_building_unit", f"/needs/{served}/resolve", {"outcome": "已上门"})
    api.ok("staff", f"/needs/{served}/evaluate", {"evaluation": "satisfied", "obtained_by": "visit"})
    api.ok("co_building_unit", f"/needs/{served}/evaluate-compound", {
        "coordination": "satisfied", "cooperation": "basically_satisfied", "comment": "配合良好",
    })
    toward = api.ok("co_building_unit", "/needs", {
        "compound_id": str(world.compound_id), "source": "party_request", "toward": "compound",
        "title": "借用活动室", "description": "周六上午",
    })["id"]
    return Populated(
        offer=offer,
        needs={"redone": redone, "reported": reported, "voted": voted[0], "twice": twice,
               "cited": cited, "visited": visit["need_ids"][0], "served": served, "toward": toward},
        consultations={"vote": vote, "cancelled": cancelled, "consensus": consensus, "proposed": proposed},
        commitment=commitment,
        assessment=assessment,
        position=api.log_position(),
    )


# ----- what each GET route is asked, with the populated world's ids ------------------


# The modules that declare answer models: api/responses.py, and the feature
# modules whose models would import api.responses in a cycle.
MODEL_MODULES = {
    "api.responses", "api.report_schemas", "api.board_schemas", "api.integrity_schemas",
    "api.webhook_schemas",
}


def requests_of(world: World, p: Populated) -> dict[str, list[tuple[str, str, dict[str, Any]]]]:
    """Per GET route (its path template): the requests made of it, as
    ``(who, path, query)``. Each route of the app must have some."""
    pc = str(world.parties["property_company"])
    compound = str(world.compound_id)
    c = p.commitment
    link = world.services.board_links.rotate(world.compound_id, world.actors["staff"])
    hook, _ = world.services.webhooks.create(
        world.actors["staff"], url="http://127.0.0.1:9/hook", event_types=["Need.*"],
        compound_ids=[world.compound_id], from_position=1,
    )
    return {
        "/needs": [("supervisor", "/needs", {}), ("resident", "/needs", {}),
                   ("property_company", "/needs", {"limit": 2})],
        "/needs/{need_id}": [("supervisor", f"/needs/{n}", {}) for n in p.needs.values()],
        "/needs/{need_id}/history": [("supervisor", f"/needs/{n}/history", {}) for n in p.needs.values()],
        "/compounds": [("supervisor", "/compounds", {}), ("resident", "/compounds", {})],
        "/compounds/{compound_id}": [("staff", f"/compounds/{compound}", {}),
                                     ("resident", f"/compounds/{compound}", {}),
                                     ("property_company", f"/compounds/{compound}", {})],
        "/parties": [("supervisor", "/parties", {}), ("resident", "/parties", {})],
        "/commitments": [("supervisor", "/commitments", {}), ("resident", "/commitments", {})],
        "/commitments/fulfilment": [("supervisor", "/commitments/fulfilment", {"party_id": pc})],
        "/commitments/{commitment_id}": [("resident", f"/commitments/{c}", {})],
        "/commitments/{commitment_id}/history": [("supervisor", f"/commitments/{c}/history", {})],
        "/commitments/{commitment_id}/versions/{list_version}": [
            ("supervisor", f"/commitments/{c}/versions/1", {}),
            ("supervisor", f"/commitments/{c}/versions/2", {}),
        ],
        "/commitments/{commitment_id}/fulfilment": [("supervisor", f"/commitments/{c}/fulfilment", {})],
        "/consultations": [("supervisor", "/consultations", {}), ("resident", "/consultations", {"limit": 1})],
        "/consultations/{consultation_id}": [
            ("supervisor", f"/consultations/{k}", {}) for k in p.consultations.values()
        ],
        "/consultations/{consultation_id}/history": [
            ("supervisor", f"/consultations/{k}/history", {}) for k in p.consultations.values()
        ],
        "/visits": [("supervisor", "/visits", {}), ("grid_worker", "/visits", {"month": "2026-12"})],
        "/visits/coverage": [
            ("staff", "/visits/coverage", {"compound_id": compound}),
            ("staff", "/visits/coverage", {"compound_id": compound, "month_from": "2026-10", "month_to": "2026-12"}),
        ],
        "/stats": [("supervisor", "/stats", {}),
                   ("supervisor", "/stats", {"month_from": "2026-11", "month_to": "2026-12"}),
                   ("staff", "/stats", {})],
        "/audit/disputes": [("supervisor", "/audit/disputes", {}), ("supervisor", "/audit/disputes", {"limit": 1})],
        "/offers": [("resident", "/offers", {}), ("supervisor", "/offers", {"status": "published", "limit": 1})],
        "/offers/{offer_id}": [("resident", f"/offers/{p.offer}", {})],
        "/offers/{offer_id}/history": [("supervisor", f"/offers/{p.offer}/history", {})],
        "/board/{token}/data": [(None, f"/board/{link.token}/data", {})],  # type: ignore[list-item]
        "/compounds/{compound_id}/board-link": [("staff", f"/compounds/{compound}/board-link", {})],
        "/audit/checkpoints": [("supervisor", "/audit/checkpoints", {})],
        "/audit/proofs/inclusion": [
            ("supervisor", "/audit/proofs/inclusion", {"need_id": n}) for n in p.needs.values()
        ],
        "/audit/proofs/consistency": [("supervisor", "/audit/proofs/consistency", {"from": 1})],
        "/webhooks": [("staff", "/webhooks", {}), ("admin", "/webhooks", {})],
        "/webhooks/{webhook_id}": [("staff", f"/webhooks/{hook.id}", {})],
        "/webhooks/{webhook_id}/deliveries": [("staff", f"/webhooks/{hook.id}/deliveries", {})],
        "/reports/monthly": [
            ("supervisor", "/reports/monthly", {"compound_id": compound, "month": "2026-11"}),
            ("supervisor", "/reports/monthly", {}),
            ("staff", "/reports/monthly", {}),
        ],
        "/assessments": [("supervisor", "/assessments", {})],
        "/assessments/{assessment_id}": [("supervisor", f"/assessments/{p.assessment}", {})],
        "/healthz": [(None, "/healthz", {})],  # type: ignore[list-item]
        "/readyz": [(None, "/readyz", {})],  # type: ignore[list-item]
    }


# Answers that are not JSON objects: Prometheus text.
NOT_JSON = {"/metrics"}
# The parts of an answer that are open-ended by design: a trail entry's ``data``
# (the event's own fields).
OPEN_ENDED = {("HistoryEntry", "data")}


def get_routes() -> dict[str, APIRoute]:
    """The app's GET routes in its schema, by path."""
    return {
        route.path: route
        for route in api_routes(create_app())
        if "GET" in route.methods and route.include_in_schema
    }


# ----- the schema ------------------------------------------------------------------


def _resolve(schema: dict[str, Any], components: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return components[ref.rsplit("/", 1)[-1]] if ref else schema


def _untyped_objects(
    name: str, components: dict[str, Any], seen: set[str] | None = None
) -> list[str]:
    """The objects reachable from the component ``name`` whose properties
    are not declared (``{"type": "object"}`` with no ``properties``, of
    anything), but for the open-ended parts."""
    seen = set() if seen is None else seen
    if name in seen:
        return []
    seen.add(name)
    found: list[str] = []
    model = components[name]
    if not model.get("properties"):
        found.append(name)

    def walk(schema: dict[str, Any], where: str) -> None:
        if "$ref" in schema:
            found.extend(_untyped_objects(schema["$ref"].rsplit("/", 1)[-1], components, seen))
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in schema.get(key, []):
                walk(option, where)
        if schema.get("type") == "array" and "items" in schema:
            walk(schema["items"], where)
        if schema.get("type") == "object":
            values = schema.get("additionalProperties")
            if isinstance(values, dict) and values:
                walk(values, where)
            elif not schema.get("properties"):
                found.append(where)

    for field, schema in model.get("properties", {}).items():
        if (name, field) not in OPEN_ENDED:
            walk(schema, f"{name}.{field}")
    return found


def test_every_get_route_names_a_model_whose_fields_are_declared() -> None:
    document = create_app().openapi()
    components = document["components"]["schemas"]
    checked = []
    for path, operations in document["paths"].items():
        if "get" not in operations or path in NOT_JSON:
            continue
        answer = operations["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert "$ref" in answer, f"GET {path} answers an undeclared shape: {answer}"
        name = answer["$ref"].rsplit("/", 1)[-1]
        assert _untyped_objects(name, components) == [], f"GET {path}"
        checked.append(path)
    assert set(checked) == set(get_routes()) - NOT_JSON


def test_every_get_route_declares_its_model_in_the_code() -> None:
    """The model is the route's ``response_model`` (what FastAPI checks the
    answer against), one a module of answer models names; and the answer leaves
    out the fields a row does not carry rather than adding them as null."""
    for path, route in get_routes().items():
        if path in NOT_JSON:
            continue
        model = route.response_model
        assert isinstance(model, type) and issubclass(model, BaseModel), path
        module = sys.modules[model.__module__]
        assert model.__module__ in MODEL_MODULES, (path, model)
        assert getattr(module, model.__name__, None) is model, (path, model)
        if path not in ("/healthz", "/readyz"):
            assert route.response_model_exclude_unset, path


def test_the_csv_exports_still_answer_csv_and_the_schema_says_so() -> None:
    document = create_app().openapi()
    for path, operations in document["paths"].items():
        get = operations.get("get")
        if get and any(
            p["name"] == "format" and "csv" in p["schema"].get("enum", ["csv"])
            for p in get.get("parameters", [])
        ):
            assert set(get["responses"]["200"]["content"]) == {"application/json", "text/csv"}, path


# ----- the real answers -------------------------------------------------------------


def _undeclared(value: Any, where: str, found: set[str]) -> None:
    """Fields of a validated answer that its models do not list."""
    if isinstance(value, BaseModel):
        for key in value.model_extra or {}:
            found.add(f"{type(value).__name__}.{key}")
        for name in type(value).model_fields:
            _undeclared(getattr(value, name), where, found)
    elif isinstance(value, list):
        for item in value:
            _undeclared(item, where, found)
    elif isinstance(value, dict):
        for item in value.values():
            _undeclared(item, where, found)


@pytest.fixture
def populated(client: TestClient, world: World) -> Populated:
    return populate(Api(client, world))


def test_the_answers_validate_against_their_models_unchanged(
    client: TestClient, world: World, populated: Populated
) -> None:
    """Every GET route's answers, on this store: each validates against the
    route's model and against the published schema; each is what the model
    gives back (no field dropped, none added); and the models list every
    field the answers carry."""
    import jsonschema_rs

    document = client.get("/openapi.json").json()
    routes = get_routes()
    asked = requests_of(world, populated)
    assert set(asked) == set(routes) - NOT_JSON, "a GET route without requests here"
    position = world.services.app.recorder.max_notification_id()
    undeclared: set[str] = set()
    for template, requests in asked.items():
        route = routes[template]
        model = route.response_model
        schema = document["paths"][template]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        validator = jsonschema_rs.validator_for(
            {**schema, "components": document["components"]}, validate_formats=True
        )
        for who, path, query in requests:
            params = dict(query)
            if "after" in {p.name for p in route.dependant.query_params}:
                params["after"] = position
            headers = world.headers(who) if who else {}
            answer = client.get(path, params=params, headers=headers)
            assert answer.status_code == 200, (path, who, answer.text[:300])
            body = answer.json()
            validator.validate(body)
            shown = model.model_validate(body)
            assert shown.model_dump(mode="json", by_alias=True, exclude_unset=True) == body, path
            _undeclared(shown, path, undeclared)
    # /readyz names what is not ready (an object of its own).
    assert undeclared == set(), "fields the models do not describe"


def test_a_residents_view_of_a_compound_validates_without_owners(
    client: TestClient, world: World
) -> None:
    """The households' owner fields are optional in the model: a reader who
    may not see them gets the households without them, and the model says so."""
    head = world.services.app.recorder.max_notification_id() or 0
    answer = client.get(
        f"/compounds/{world.compound_id}", params={"after": head}, headers=world.headers("resident")
    )
    assert answer.status_code == 200
    compound = r.Compound.model_validate(answer.json())
    assert [h.number for h in compound.households] == ["101", "102", "103"]
    assert not r.Household.model_fields["owner_name"].is_required()
    assert not r.Household.model_fields["exclusive_area"].is_required()


def test_the_csv_exports_bypass_the_models(
    client: TestClient, world: World, populated: Populated
) -> None:
    for path in (
        "/needs", "/commitments", "/consultations", "/visits", "/audit/disputes",
        f"/commitments/{populated.commitment}/fulfilment",
        f"/commitments/{populated.commitment}/history",
        f"/consultations/{populated.consultations['vote']}/history",
        f"/needs/{populated.needs['twice']}/history",
        f"/assessments/{populated.assessment}",
        "/compounds", "/parties",
    ):
        for lang in ("en", "zh"):
            query = {"format": "csv", "lang": lang, "after": populated.position}
            answer = client.get(path, params=query, headers=world.headers("supervisor"))
            assert answer.status_code == 200, (path, answer.text[:200])
            assert answer.headers["content-type"].startswith("text/csv"), path
            assert len(answer.content.decode("utf-8-sig").splitlines()) >= 2, path


def test_a_row_written_before_episodes_still_validates() -> None:
    """A need row from an earlier release (no episodes, consultations or
    exclusions) validates, and nothing is added to it."""
    old = {
        "id": "0d1aaae3-c950-4568-9151-cee9fefa41f2", "compound_id": "25513c46-d387-4d5b-be02-07c3015b0107",
        "building_id": None, "household_id": None, "reporter_id": "someone", "reporter_role": "grid_worker",
        "source": "hotline", "category": "other", "title": "t", "description": "d", "location": None,
        "attachments": [], "status": "reported", "priority": None, "reported_at": "2026-01-01T00:00:00.000000+00:00",
        "registered_position": 1, "accepted_at": None, "respond_due": None, "resolve_due": None,
        "assigned_party_id": None, "assigned_party_role": None, "assigned_at": None, "commitment_id": None,
        "commitment_item_no": None, "responded_at": None, "responded_within_limit": None, "resolved_at": None,
        "resolved_within_limit": None, "outcome": None, "evaluation": None, "evaluation_comment": None,
        "evaluated_at": None, "closed_at": None, "final_reason": None, "merged_into": None,
        "transferred_to": None, "redo_count": 0, "extensions": 0, "notes": 0, "supervision_notices": 0,
        "consultation_id": None, "version": 1, "updated_at": "2026-01-01T00:00:00.000000+00:00",
        "position": 1, "case_type": "need", "first_position": 1, "status_zh": "已登记", "overdue": False,
        "allowed_commands": [],
    }
    assert r.Need.model_validate(old).model_dump(mode="json", exclude_unset=True) == old


# ----- what the schema says of the inputs ------------------------------------------------


def _date_inputs(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every query parameter and request-body field (also nested) that is a
    day or a moment: (operation, name, its schema)."""
    components = document["components"]["schemas"]

    def resolve(schema: dict[str, Any]) -> dict[str, Any]:
        ref = schema.get("$ref")
        return components[ref.rsplit("/", 1)[-1]] if ref else schema

    def kinds(schema: dict[str, Any]) -> list[dict[str, Any]]:
        schema = resolve(schema)
        return [schema, *(resolve(s) for s in schema.get("anyOf", []))]

    found: list[tuple[str, str, dict[str, Any]]] = []

    def fields(where: str, model: dict[str, Any], seen: set[int]) -> None:
        if id(model) in seen:
            return
        seen.add(id(model))
        for name, schema in model.get("properties", {}).items():
            for kind in kinds(schema):
                if kind.get("format") in ("date", "date-time"):
                    found.append((where, name, kind))
                for inner in (kind, kind.get("items", {})):
                    inner = resolve(inner)
                    if inner.get("properties"):
                        fields(where, inner, seen)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            for parameter in operation.get("parameters", []):
                for kind in kinds(parameter["schema"]):
                    if kind.get("format") in ("date", "date-time"):
                        found.append((where, parameter["name"], kind))
            body = operation.get("requestBody", {}).get("content", {}).get("application/json")
            if body:
                fields(where, resolve(body["schema"]), set())
    return found


def test_every_day_and_moment_a_client_gives_states_its_years() -> None:
    """Issue 23 item 3: the schema says the date bounds the server enforces
    (years 2000 to 2199), as a pattern on the year."""
    import re

    found = _date_inputs(create_app().openapi())
    assert len(found) >= 10  # days of queries and bodies, moments of bodies
    for where, name, schema in found:
        pattern = schema.get("pattern")
        assert pattern, (where, name)
        sample = "2026-11-02" if schema["format"] == "date" else "2026-11-02T10:00:00+08:00"
        assert re.search(pattern, sample), (where, name, pattern)
        assert not re.search(pattern, "1999" + sample[4:]), (where, name, pattern)
        assert not re.search(pattern, "2200" + sample[4:]), (where, name, pattern)


def test_a_day_outside_the_years_is_refused_naming_it(client: TestClient, world: World) -> None:
    staff = world.headers("staff")
    for day in ("1999-12-31", "2200-01-01"):
        answer = client.get("/needs", params={"reported_from": day}, headers=staff)
        assert answer.status_code == 422, answer.text
        assert answer.json()["detail"][0]["loc"] == ["query", "reported_from"]

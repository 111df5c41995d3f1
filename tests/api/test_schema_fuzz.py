"""Schemathesis against the OpenAPI schema: no 5xx, responses match the schema,
and no rejected request leaves an event behind.

The schema is read from the app (``/openapi.json``) at collection time, so
every operation is a test of its own; the requests go to an app built on a
fresh SQLite store for this module. All the phases run: examples, coverage
and fuzzing per operation, then the stateful phase, which chains calls
through the links schemathesis infers (an id one command returns feeds the
next). Each operation is called by a member of the test world whose role it
admits, so that requests get past the role check into the application's
rules; generated ids are sometimes swapped for ids of real objects.

Every POST passes an ASGI guard that reads the log position before and
after it: an answer other than 2xx with a moved log fails the run.

The checks: no server error (no carve-outs but the read-your-writes 503),
every status code documented (a body that is not UTF-8 gets FastAPI's 400,
documented with the other error answers), the schema of documented answers,
content types and headers, invalid bodies and headers rejected.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck
from hypothesis import strategies as st
from pydantic import TypeAdapter
from schemathesis.checks import not_a_server_error
from schemathesis.core.parameters import ParameterLocation
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.app import create_app
from api.security import HEADERS as SECURITY_HEADERS
from application.access import PERMISSIONS
from domain.actor import Actor, Role
from infrastructure.settings import Settings
from infrastructure.store import Services, build_services
from tests.api.test_access_matrix import _sign_in, api_routes, route_actions
from tests.world import World, build_world

# ----- the app under test, behind one ASGI entry point ---------------------------


class EventGuard:
    """ASGI middleware: records, for each POST, its status and the log
    position before and after it."""

    def __init__(self, app: FastAPI, services: Services) -> None:
        self.app = app
        self.services = services
        self.last: tuple[str, int, int, int] | None = None

    def position(self) -> int:
        return self.services.app.recorder.max_notification_id() or 0

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        before = self.position()
        status = 0

        async def sending(message: dict) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            self.last = (scope["path"], status, before, self.position())


class Dispatch:
    """The ASGI app schemathesis talks to: the module's app while its fixture
    is active, and a store-less app (for ``/openapi.json`` only) before.

    Like a server, it keeps going when the app raises after answering 500
    (the 500 is what the checks judge)."""

    def __init__(self) -> None:
        self.current: EventGuard | None = None
        self.schema_only = create_app()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            # The module's fixture owns the services; there is nothing to start.
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        app: Any = self.current
        if app is None:
            if scope.get("path") != "/openapi.json":
                raise RuntimeError("the fuzzed app is called outside its fixture")
            app = self.schema_only
        try:
            await app(scope, receive, send)
        except Exception:  # Starlette re-raises after sending its 500
            pass


DISPATCH = Dispatch()
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", DISPATCH)


# ----- who calls which operation ------------------------------------------------------

# World members, most capable first: an operation is called by the first
# whose role its permission admits.
PREFERENCE = {
    "staff": Role.COMMUNITY_STAFF,
    "party_branch": Role.PARTY_BRANCH,
    "owners_committee": Role.OWNERS_COMMITTEE,
    "property_company": Role.PROPERTY_COMPANY,
    "co_building_unit": Role.CO_BUILDING_UNIT,
    "grid_worker": Role.GRID_WORKER,
    "supervisor": Role.SUPERVISOR,
    "resident": Role.RESIDENT,
    "admin": Role.ADMIN,
}


def _callers() -> dict[tuple[str, str], str | None]:
    """(METHOD, path) -> the world member who calls it; None for public routes."""
    callers: dict[tuple[str, str], str | None] = {}
    for route in api_routes(create_app()):
        actions = route_actions(route.dependant) - {"public"}
        member = None
        if actions:
            roles = set.intersection(*(set(PERMISSIONS[a]) for a in actions))
            member = next((m for m, role in PREFERENCE.items() if role in roles), "staff")
        for method in route.methods:
            callers[(method, route.path)] = member
    return callers


CALLERS = _callers()


# ----- the environment: a store, a world, objects in several states -------------------


@dataclass
class FuzzEnv:
    services: Services
    world: World
    guard: EventGuard
    ids: dict[str, list[str]] = field(default_factory=dict)

    def headers_for(self, method: str, path: str) -> dict[str, str]:
        member = CALLERS.get((method.upper(), path)) or "staff"
        return self.world.headers(member)


def _seed(world: World) -> dict[str, list[str]]:
    """Real ids for the fuzzer to aim at: needs in several states, a service
    list, a consultation, both compounds, their parties and households."""
    app = world.services.app
    staff = world.actors["staff"]
    pc = world.actors["property_company"]
    pc_party = world.parties["property_company"]

    def need(title: str) -> uuid.UUID:
        return app.register_need(
            world.actors["grid_worker"],
            compound_id=world.compound_id,
            source="household_visit",
            title=title,
            description="楼道灯不亮 🔦",
            household_id=world.households[0],
        ).id

    reported = need("已登记")
    accepted = need("已受理")
    app.accept_need(staff, accepted, priority="normal")
    in_progress = need("办理中")
    app.accept_need(staff, in_progress, priority="urgent")
    app.assign_need(staff, in_progress, party_id=pc_party)
    app.acknowledge_need(pc, in_progress)
    resolved = need("已办结")
    app.accept_need(staff, resolved, priority="low")
    app.assign_need(staff, resolved, party_id=pc_party)
    app.acknowledge_need(pc, resolved)
    app.resolve_need(pc, resolved, outcome="已修好")
    item = {"number": 1, "title": "保洁", "standard": "每日", "frequency": "每日", "time_limit": "24h"}
    commitment = app.draft_commitment(
        world.actors["party_branch"],
        compound_id=world.compound_id,
        provider_party_id=pc_party,
        title="物业服务清单",
        items=[item],
    ).id
    consultation = app.propose_consultation(
        staff, compound_id=world.compound_id, topic="停车位划分", description="协商"
    ).id
    outsider = Actor("seed-other", Role.COMMUNITY_STAFF, frozenset({world.other_compound_id}))
    foreign = app.register_need(
        outsider,
        compound_id=world.other_compound_id,
        source="hotline",
        title="别的小区",
        description="x",
    ).id
    needs = [reported, accepted, in_progress, resolved, foreign]
    return {
        "need_id": [str(n) for n in needs],
        "into_need_id": [str(reported), str(accepted)],
        "commitment_id": [str(commitment)],
        "consultation_id": [str(consultation)],
        "compound_id": [str(world.compound_id), str(world.other_compound_id)],
        "party_id": [str(p) for p in world.parties.values()] + [str(world.other_property_company)],
        "provider_party_id": [str(pc_party)],
        "household_id": [str(h) for h in world.households],
        "building_id": [str(b) for b in app.repository.get(world.compound_id).buildings],
    }


def _open_env(path: Path) -> FuzzEnv:
    """A fresh store with the world and the seed objects, behind the event guard."""
    settings = Settings(
        store="sqlite", sqlite_path=path, projection_poll_interval=0.05, view_wait_timeout=0.2
    )
    services = build_services(settings)
    services.updater.start()
    try:
        world = build_world(services)
        app = create_app(services=services)
        app.state.services = services  # what the lifespan does for services a test owns
        return FuzzEnv(services, world, EventGuard(app, services), _seed(world))
    except BaseException:
        services.close()
        raise


@pytest.fixture(scope="module")
def fuzz_env(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzEnv]:
    env = _open_env(tmp_path_factory.mktemp("fuzz") / "linli.sqlite3")
    DISPATCH.current = env.guard
    try:
        yield env
    finally:
        DISPATCH.current = None
        env.services.close()


_ENV: dict[str, FuzzEnv] = {}


@pytest.fixture
def env(fuzz_env: FuzzEnv) -> Iterator[FuzzEnv]:
    _ENV["current"] = fuzz_env
    yield fuzz_env
    _ENV.clear()


# ----- aiming generated ids at real objects ------------------------------------------


def _is_uuid(value: Any) -> bool:
    try:
        uuid.UUID(value)
    except (TypeError, ValueError, AttributeError):
        return False
    return True


def _aimed(values: Any) -> st.SearchStrategy[Any]:
    """The generated values, or the same with their well-formed ids replaced
    by ids of real objects (a value a negative case broke is kept)."""
    current = _ENV.get("current")
    if current is None or not isinstance(values, dict):
        return st.just(values)
    known = {k: current.ids[k] for k, v in values.items() if k in current.ids and _is_uuid(v)}
    if not known:
        return st.just(values)
    real = st.fixed_dictionaries({k: st.sampled_from(v) for k, v in known.items()})
    return st.one_of(st.just(values), real.map(lambda chosen: {**values, **chosen}))


@SCHEMA.hook
def flatmap_path_parameters(context: Any, path_parameters: dict[str, Any]) -> Any:
    return _aimed(path_parameters)


@SCHEMA.hook
def flatmap_body(context: Any, body: Any) -> Any:
    return _aimed(body)


@SCHEMA.hook
def flatmap_query(context: Any, query: dict[str, Any]) -> Any:
    return _aimed(query)


# ----- regressions of bugs the fuzzing found ---------------------------------------------


def _csv_export(case: Any, response: Any) -> bool:
    return (case.query or {}).get("format") == "csv" and response.headers.get(
        "content-type", [""]
    )[0].startswith("text/csv")


# ----- the checks ---------------------------------------------------------------------------


def no_server_error(ctx: Any, response: Any, case: Any) -> None:
    """No 5xx, except the read-your-writes answer: 503 with Retry-After when
    ``?after=`` names a position the log has not reached."""
    if response.status_code == 503 and _after_beyond_the_log(case):
        assert "retry-after" in response.headers, "a 503 without Retry-After"
        return
    not_a_server_error(ctx, response, case)


def _after_beyond_the_log(case: Any) -> bool:
    wanted = _position_sent((case.query or {}).get("after"))
    return wanted is not None and wanted > _ENV["current"].guard.position()


_AS_THE_APP_READS = TypeAdapter(int)


def _position_sent(value: Any) -> int | None:
    """The ``after`` position the app reads from a query value: the last of a
    repeated one (as Starlette does), parsed as the route's validation parses
    it (pydantic, which reads "1414.0" as 1414 where ``int`` refuses it)."""
    if isinstance(value, list):
        value = value[-1] if value else None
    if value is None:
        return None
    try:
        return _AS_THE_APP_READS.validate_python(value)  # type: ignore[no-any-return]
    except ValueError:
        return None


def test_the_fuzz_checks_read_after_as_the_app_does() -> None:
    """A 503 for ``?after=1414.0`` beyond the log is the read-your-writes answer,
    not a server error: the checks read the position as the app does."""
    assert _position_sent("1414.0") == 1414
    assert _position_sent(["x", " 7 "]) == 7
    assert _position_sent(["7", "x"]) is None
    assert _position_sent("0x10") is None and _position_sent([]) is None and _position_sent(None) is None


def content_type_documented(ctx: Any, response: Any, case: Any) -> None:
    if _csv_export(case, response):
        return  # test_the_schema_documents_the_csv_exports
    content_type_conformance(ctx, response, case)


def invalid_bodies_and_headers_rejected(ctx: Any, response: Any, case: Any) -> None:
    """Schemathesis's negative-data check, for bodies, headers and paths.

    Left out: the query string, where FastAPI ignores unknown parameters by
    design and pydantic reads ``reported_to=0`` as a Unix time (1970-01-01);
    and 413, which rejects a body over 1 MB before it is parsed."""
    meta = case.meta
    if meta is None or response.status_code == 413:
        return
    negative = {
        location
        for location, component in meta.components.items()
        if component.mode.is_negative
    }
    if not negative or ParameterLocation.QUERY in negative:
        return
    negative_data_rejection(ctx, response, case)


def security_headers_present(ctx: Any, response: Any, case: Any) -> None:
    missing = [name for name in SECURITY_HEADERS if name.lower() not in response.headers]
    assert not missing, f"security headers missing: {missing}"


def no_event_from_a_rejected_request(ctx: Any, response: Any, case: Any) -> None:
    if case.method.upper() != "POST":
        return
    last = _ENV["current"].guard.last
    assert last is not None, "the POST did not pass the event guard"
    path, status, before, after = last
    assert status == response.status_code, (last, response.status_code)
    if not 200 <= status < 300:
        assert after == before, (
            f"POST {path} answered {status} but the log moved from {before} to {after}"
        )


CHECKS = [
    no_server_error,
    response_schema_conformance,
    status_code_conformance,
    content_type_documented,
    response_headers_conformance,
    invalid_bodies_and_headers_rejected,
    security_headers_present,
    no_event_from_a_rejected_request,
]

SETTINGS = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "database": None,
}


# ----- stateless: examples, coverage and fuzzing, each operation ---------------------------


def test_every_operation_of_the_schema_has_a_caller() -> None:
    operations = {(m.upper(), p) for p, ops in create_app().openapi()["paths"].items() for m in ops}
    assert operations <= set(CALLERS)
    public = {op for op in operations if CALLERS[op] is None}
    # The public notice board is read without a credential, at its link.
    assert public == {
        ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/board/{token}/data")
    }


@SCHEMA.parametrize()
@hypothesis.settings(max_examples=6, **SETTINGS)
def test_operation_as_a_permitted_caller(case: Any, env: FuzzEnv) -> None:
    headers = env.headers_for(case.method, case.operation.path)
    response = case.call(headers=headers)
    case.validate_response(response, checks=CHECKS, headers=headers)


@SCHEMA.parametrize()
@hypothesis.settings(max_examples=3, **SETTINGS)
def test_operation_without_a_token(case: Any, env: FuzzEnv) -> None:
    """401 on every guarded route, unless the request is refused before anyone
    is asked who sent it: a method the route does not take (405), a body over
    1 MB (413) or one that is not JSON (400, 422 json_invalid: FastAPI reads the
    body before it solves the dependencies), a bad Idempotency-Key (422: the
    app-wide dependency runs before the route's)."""
    if case.headers:
        case.headers = {k: v for k, v in case.headers.items() if k.lower() != "authorization"}
    response = case.call()
    case.validate_response(response, checks=CHECKS)
    public = CALLERS.get((case.method.upper(), case.operation.path)) is None
    if not public and response.status_code not in (400, 405, 413):
        assert response.status_code == 401 or _refused_before_authentication(response), (
            response.status_code,
            response.text[:300],
        )


def _refused_before_authentication(response: Any) -> bool:
    if response.status_code != 422:
        return False
    detail = response.json().get("detail")
    return isinstance(detail, list) and (
        detail[0].get("loc") == ["header", "idempotency-key"]
        or detail[0].get("type") == "json_invalid"
    )


# ----- stateful: chains of calls ------------------------------------------------------------


def test_stateful_workflows(env: FuzzEnv, tmp_path: Path) -> None:
    """Each scenario starts from a store of its own, so that a replayed
    scenario meets the same state (Hypothesis requires it)."""
    writes: list[int] = []

    # The cases' own workflows: the operations around them (subscriptions,
    # checkpoints and proofs, the board's link, reports) are fuzzed one by one
    # above; in a chain they would mostly dilute the steps that write.
    cases = SCHEMA.exclude(
        path_regex=r"^/(webhooks|audit/checkpoints|audit/proofs|reports|compounds/\{compound_id\}/board-link)"
    )

    class Workflow(cases.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            self.env = _open_env(tmp_path / f"scenario-{uuid.uuid4().hex}.sqlite3")
            self.start = self.env.guard.position()
            DISPATCH.current = self.env.guard
            _ENV["current"] = self.env

        def teardown(self) -> None:
            writes.append(self.env.guard.position() - self.start)
            DISPATCH.current = env.guard
            _ENV["current"] = env
            self.env.services.close()
            super().teardown()

        def get_call_kwargs(self, case: Any) -> dict[str, Any]:
            return {"headers": self.env.headers_for(case.method, case.operation.path)}

        def after_call(self, response: Any, case: Any) -> None:
            # The views catch up after a write in the background: wait for them,
            # so that the next step reads the same answers when Hypothesis
            # replays a scenario (else its data generation looks flaky).
            self.env.services.updater.wait_for(self.env.guard.position(), 10)
            super().after_call(response, case)

        def validate_response(
            self, response: Any, case: Any, additional_checks: Any = None, **kwargs: Any
        ) -> None:
            case.validate_response(response, checks=CHECKS, headers=kwargs.get("headers"))

    Workflow.run(
        # Derandomized: the same scenarios each run, so that whether one of
        # them writes does not depend on the luck of the draw (it did, now and then).
        settings=hypothesis.settings(
            max_examples=15, stateful_step_count=8, derandomize=True, **SETTINGS
        )
    )
    assert any(writes), "no workflow step got as far as writing an event"


# ----- the bugs the fuzzing found, pinned -------------------------------------------------------


@pytest.fixture
def http(fuzz_env: FuzzEnv) -> TestClient:
    return TestClient(fuzz_env.guard.app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    ("path", "month_from", "month_to"),
    [
        ("/stats", "0000-01", "0000-01"),
        ("/stats", "9999-12", "9999-12"),
        ("/visits/coverage", "0000-01", "0000-02"),
        ("/visits/coverage", "9999-12", None),
        ("/console/figures", "0000-01", None),
        ("/console/figures", None, "9999-12"),
    ],
)
def test_a_month_out_of_range_is_a_422_not_a_500(
    http: TestClient, fuzz_env: FuzzEnv, path: str, month_from: str | None, month_to: str | None
) -> None:
    params = {"compound_id": str(fuzz_env.world.compound_id)}
    if month_from:
        params["month_from"] = month_from
    if month_to:
        params["month_to"] = month_to
    headers = fuzz_env.world.headers("staff")
    if path.startswith("/console"):
        cookie, _ = _sign_in(http, fuzz_env.world.tokens["staff"])
        http.cookies.clear()
        headers = {"Cookie": cookie}
    response = http.get(path, params=params, headers=headers)
    assert response.status_code == 422, response.text[:300]


def _operations() -> dict[tuple[str, str], dict[str, Any]]:
    paths = create_app().openapi()["paths"]
    return {(m.upper(), p): op for p, ops in paths.items() for m, op in ops.items()}


def test_the_schema_documents_the_csv_exports() -> None:
    undocumented = [
        f"{method} {path}"
        for (method, path), op in _operations().items()
        if any(
            p["name"] == "format" and "csv" in p["schema"].get("enum", ["csv"])
            for p in op.get("parameters", [])
        )
        and "text/csv" not in op["responses"].get("200", {}).get("content", {})
    ]
    assert undocumented == []


def test_the_schema_documents_the_error_answers() -> None:
    missing = {}
    for (method, path), op in _operations().items():
        if "security" not in op:
            continue
        wanted = {"401", "403"}
        if "{" in path:
            wanted.add("404")
        if method == "POST":
            wanted |= {"409", "413"}
        if re.search(r"\{\w+_id\}", path) and method == "POST":
            wanted.add("412")
        if any(p["name"] == "after" for p in op.get("parameters", [])):
            wanted.add("503")
        lacking = wanted - set(op["responses"])
        if lacking:
            missing[f"{method} {path}"] = sorted(lacking)
    assert missing == {}


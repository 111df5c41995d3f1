"""api.routing.Route: a plain ``def`` endpoint runs in the thread pool, in one
trip, with its parameters, dependencies, context and response model intact."""

from __future__ import annotations

import threading
from contextvars import ContextVar
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from api.routing import Route

caller: ContextVar[str] = ContextVar("caller", default="nobody")


class Answer(BaseModel):
    doubled: int = Field(ge=0)
    caller: str
    off_the_loop: bool


class Body(BaseModel):
    n: int = Field(ge=0, le=100)


loop_threads: set[int] = set()


async def who(name: str = "anon") -> str:
    loop_threads.add(threading.get_ident())
    caller.set(name)  # as a request sets its idempotency key
    return name


Caller = Annotated[str, Depends(who)]


def _app() -> FastAPI:
    router = APIRouter(route_class=Route)

    @router.post("/double/{k}", response_model=Answer)
    def double(k: int, body: Body, name: Caller) -> dict[str, object]:
        return {
            "doubled": 2 * k * body.n,
            "caller": caller.get(),
            "off_the_loop": threading.get_ident() not in loop_threads,
        }

    @router.post("/negative", response_model=Answer)
    def negative() -> dict[str, object]:
        return {"doubled": -1, "caller": "", "off_the_loop": True}

    app = FastAPI()
    app.include_router(router)
    return app


def test_a_plain_endpoint_runs_off_the_event_loop_with_its_context_and_parameters() -> None:
    with TestClient(_app()) as client:
        answer = client.post("/double/3?name=网格员", json={"n": 7})
        assert answer.status_code == 200
        assert answer.json() == {"doubled": 42, "caller": "网格员", "off_the_loop": True}


def test_parameters_are_still_validated_by_name() -> None:
    with TestClient(_app()) as client:
        bad_path = client.post("/double/x", json={"n": 1})
        bad_body = client.post("/double/1", json={"n": 101})
    assert bad_path.status_code == 422 and bad_path.json()["detail"][0]["loc"] == ["path", "k"]
    assert bad_body.status_code == 422 and bad_body.json()["detail"][0]["loc"] == ["body", "n"]


def test_the_response_model_still_checks_the_answer() -> None:
    with TestClient(_app(), raise_server_exceptions=False) as client:
        assert client.post("/negative").status_code == 500


def test_the_openapi_description_is_that_of_the_endpoint() -> None:
    operation = _app().openapi()["paths"]["/double/{k}"]["post"]
    assert {p["name"] for p in operation["parameters"]} == {"k", "name"}
    assert operation["operationId"].startswith("double")


def test_endpoints_run_side_by_side_in_the_pool_the_lifespan_gives() -> None:
    """As many plain endpoints at once as the pool has threads, each in it:
    twenty requests meet at a barrier that only twenty endpoints running
    together can pass (the event loop's own default pool has far fewer threads)."""
    from concurrent.futures import ThreadPoolExecutor as Clients
    from contextlib import asynccontextmanager

    from api.routing import ENDPOINT_THREADS, use_endpoint_threads

    together = ENDPOINT_THREADS // 2
    # The timeout only bounds how long a failure takes: on a loaded machine twenty
    # requests may need many seconds to arrive, and a smaller pool never lets them pass.
    barrier = threading.Barrier(together, timeout=120)

    @asynccontextmanager
    async def lifespan(_: FastAPI):  # noqa: ANN202
        use_endpoint_threads()
        yield

    router = APIRouter(route_class=Route)

    @router.post("/meet")
    def meet() -> dict[str, str]:
        barrier.wait()
        return {"thread": threading.current_thread().name}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    with TestClient(app) as client, Clients(together) as clients:
        answers = list(clients.map(lambda _: client.post("/meet"), range(together)))
    assert [a.status_code for a in answers] == [200] * together
    assert all(a.json()["thread"].startswith("linli-endpoint") for a in answers)

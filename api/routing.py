"""Routes whose plain ``def`` endpoints cost one thread hop, not two.

FastAPI runs a plain ``def`` endpoint in the thread pool, and then, in a
second trip to the pool, validates what it returned against the route's
response model. Each trip wakes a pool thread and hands the GIL over twice,
which under load costs more CPU than the validation itself. ``Route`` wraps
such an endpoint in a coroutine that makes the one trip for the endpoint;
FastAPI then treats it as ``async def`` and validates the (small) answer on
the event loop. The endpoint's signature, and so its parameters, its
dependencies and its OpenAPI description, are unchanged.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from typing import Any

from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool


def in_one_thread_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function that runs it in the thread pool."""

    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def hop(**values: Any) -> Any:
        return await run_in_threadpool(endpoint, **values)

    return hop


class Route(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint):
            endpoint = in_one_thread_hop(endpoint)
        super().__init__(path, endpoint, **kwargs)

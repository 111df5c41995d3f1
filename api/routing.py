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

import asyncio
import contextvars
import functools
import inspect
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from fastapi.routing import APIRoute

ENDPOINT_THREADS = 40  # as many endpoints at once as anyio's default limiter admits


def use_endpoint_threads() -> None:
    """Give the running event loop the pool the endpoints run in, as its
    default executor; the app's lifespan calls it (without, the loop's own
    default pool serves, of a few threads only)."""
    pool = ThreadPoolExecutor(ENDPOINT_THREADS, thread_name_prefix="linli-endpoint")
    asyncio.get_running_loop().set_default_executor(pool)


def in_one_thread_hop(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """``endpoint`` as a coroutine function that runs it in the event loop's
    default executor, in a copy of the request's context (as anyio would: the
    idempotency key is a context variable). Through asyncio directly, not
    anyio's ``to_thread``, whose limiter and cancel scope cost a request
    more CPU than the hand-over itself (measured with py-spy under the
    benchmark's command mix)."""

    @functools.wraps(endpoint)  # FastAPI reads the signature through __wrapped__
    async def hop(**values: Any) -> Any:
        call = functools.partial(contextvars.copy_context().run, endpoint, **values)
        return await asyncio.get_running_loop().run_in_executor(None, call)

    return hop


class Route(APIRoute):
    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        if inspect.isfunction(endpoint) and not inspect.iscoroutinefunction(endpoint):
            endpoint = in_one_thread_hop(endpoint)
        super().__init__(path, endpoint, **kwargs)

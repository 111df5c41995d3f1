from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from infrastructure.store import Services
from tests.world import World, build_world


@pytest.fixture
def world(services: Services) -> World:
    return build_world(services)


@pytest.fixture
def client(services: Services) -> Iterator[TestClient]:
    with TestClient(create_app(services=services)) as test_client:
        yield test_client

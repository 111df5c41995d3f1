"""The domain is pure: no web framework, no database, no outer layer.

Every module under ``domain/`` is parsed with ``ast`` (nothing is imported
to check it), and every import statement, including imports inside
functions and ``importlib.import_module("...")`` / ``__import__("...")`` with
a literal name, is compared with the forbidden list.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

DOMAIN = Path(__file__).resolve().parents[2] / "domain"

FORBIDDEN = (
    "fastapi",
    "starlette",
    "psycopg",
    "psycopg_pool",
    "sqlite3",
    "pydantic",
    "pydantic_settings",
    "uvicorn",
    "httpx",
    "application",
    "infrastructure",
    "api",
    "eventsourcing.application",
    "eventsourcing.persistence",
    "eventsourcing.postgres",
    "eventsourcing.sqlite",
)


def imported_modules(source: str) -> set[str]:
    """Absolute names of every module the source imports."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: stays inside the domain package
                continue
            assert node.module is not None
            names.add(node.module)
            # "from eventsourcing import persistence" imports a submodule.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Call) and node.args:
            func = node.func
            called = (
                func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", None)
            )
            first = node.args[0]
            if (
                called in ("import_module", "__import__")
                and isinstance(first, ast.Constant)
                and isinstance(first.value, str)
            ):
                names.add(first.value)
    return names


def forbidden_in(source: str) -> set[str]:
    return {
        name
        for name in imported_modules(source)
        for banned in FORBIDDEN
        if name == banned or name.startswith(banned + ".")
    }


MODULES = sorted(DOMAIN.rglob("*.py"))


def test_the_domain_modules_are_found() -> None:
    names = {p.name for p in MODULES}
    assert {"need.py", "calendar.py", "actor.py", "errors.py", "text.py"} <= names
    assert {"compound.py", "party.py"} <= names


@pytest.mark.parametrize("module", MODULES, ids=lambda p: str(p.relative_to(DOMAIN)))
def test_domain_module_imports_nothing_outer(module: Path) -> None:
    assert forbidden_in(module.read_text(encoding="utf-8")) == set()


def test_domain_uses_only_the_domain_part_of_eventsourcing() -> None:
    used = set().union(*(imported_modules(p.read_text(encoding="utf-8")) for p in MODULES))
    eventsourcing = {n for n in used if n == "eventsourcing" or n.startswith("eventsourcing.")}

    assert eventsourcing <= {"eventsourcing.domain"} | {
        n for n in eventsourcing if n.startswith("eventsourcing.domain.")
    }


@pytest.mark.parametrize(
    ("source", "found"),
    [
        ("import fastapi", {"fastapi"}),
        ("from starlette.requests import Request", {"starlette.requests"}),
        ("import psycopg.rows as rows", {"psycopg.rows"}),
        ("def f():\n    import sqlite3\n", {"sqlite3"}),
        ("from pydantic import BaseModel", {"pydantic"}),
        ("import uvicorn, json", {"uvicorn"}),
        ("import httpx", {"httpx"}),
        ("from application.app import LinliApp", {"application.app"}),
        ("from infrastructure import store", {"infrastructure", "infrastructure.store"}),
        ("import api.main", {"api.main"}),
        ("from eventsourcing.application import Application", {"eventsourcing.application"}),
        ("from eventsourcing import persistence", {"eventsourcing.persistence"}),
        ("from eventsourcing.postgres import Factory", {"eventsourcing.postgres"}),
        ("import eventsourcing.sqlite", {"eventsourcing.sqlite"}),
        ("import importlib\nimportlib.import_module('fastapi')", {"fastapi"}),
        ("__import__('psycopg')", {"psycopg"}),
    ],
)
def test_the_check_catches_forbidden_imports(source: str, found: set[str]) -> None:
    assert found <= forbidden_in(source)


@pytest.mark.parametrize(
    "source",
    [
        "from eventsourcing.domain import Aggregate",
        "import datetime, zoneinfo, decimal, uuid",
        "from domain.errors import InvalidValue",
        "from . import text",
        "import apix\nimport application_helpers",
    ],
)
def test_the_check_allows_pure_imports(source: str) -> None:
    assert forbidden_in(source) == set()

"""The execute route never pays for the listing: no tool's schema is built to run one."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import pytest

from navai_adapters._http import NavaiHttpHandler, NavaiRequest, build_handler
from navai_core._functions import _schema

from .conftest import HERE


@pytest.fixture
def handler() -> Iterator[NavaiHttpHandler]:
    built = build_handler(
        env={"OPENAI_API_KEY": "sk-test"},
        functions_base_dir=HERE,
        functions_folders="app_functions",
    )
    try:
        yield built
    finally:
        assert built.registry is not None
        built.registry.close()


@pytest.fixture
def schemas(monkeypatch: pytest.MonkeyPatch) -> list[object]:
    """Every object schema built while the test runs (a spy on the schema builder)."""
    built: list[object] = []
    original = _schema.SchemaBatch.object_schema

    def spy(self: _schema.SchemaBatch, *args: Any, **kwargs: Any) -> Any:
        built.append(args)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(_schema.SchemaBatch, "object_schema", spy)
    return built


def _execute(name: str, payload: object) -> NavaiRequest:
    return NavaiRequest(
        "POST",
        "/navai/functions/execute",
        httpx.Headers({"content-type": "application/json"}),
        msgspec.json.encode({"function_name": name, "payload": payload}),
    )


def _no_listing(handler: NavaiHttpHandler) -> bool:
    registry = handler.registry
    assert registry is not None
    snapshot = registry._snapshot
    return snapshot._items is None and all(e._definition is None for e in snapshot.entries)


def test_execute_builds_no_schema_known_or_unknown(
    handler: NavaiHttpHandler, schemas: list[object]
) -> None:
    with httpx.Client() as client:
        known = handler.handle(_execute(" ADD ", {"a": 1, "b": 2}), client=client)
        unknown = handler.handle(_execute("missing", None), client=client)
    assert msgspec.json.decode(known.body) == {
        "ok": True,
        "function_name": "add",
        "source": "app_functions/tools.py#add",
        "result": 3,
    }
    assert unknown.status == 404
    assert "add" in msgspec.json.decode(unknown.body)["available_functions"]
    assert schemas == []
    assert _no_listing(handler)


def test_aexecute_builds_no_schema_known_or_unknown(
    handler: NavaiHttpHandler, schemas: list[object]
) -> None:
    async def both() -> tuple[int, int]:
        async with httpx.AsyncClient() as client:
            known = await handler.ahandle(_execute("nap", {"seconds": 0}), client=client)
            unknown = await handler.ahandle(_execute("missing", None), client=client)
        return known.status, unknown.status

    assert asyncio.run(both()) == (200, 404)
    assert schemas == []
    assert _no_listing(handler)


def test_the_spy_sees_a_listing(handler: NavaiHttpHandler, schemas: list[object]) -> None:
    with httpx.Client() as client:
        listed = handler.handle(NavaiRequest("GET", "/navai/functions"), client=client)
    assert listed.status == 200
    assert schemas  # the spy is wired where the listing builds schemas

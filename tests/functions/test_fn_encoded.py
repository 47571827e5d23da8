"""The HTTP layer's pair: results encoded once, with the tool's name and source."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import msgspec
import pytest

from navai_core import NavaiFunctionRegistry
from navai_core._functions import EncodedResult, ToolRef
from navai_core.exceptions import (
    FunctionExecutionError,
    FunctionTimeoutError,
    InvalidArgumentsError,
    ResultTooLargeError,
    UnknownFunctionError,
)

pytestmark = pytest.mark.usefixtures("pool_path")

TOOLS = """
import asyncio
import dataclasses
import time


@dataclasses.dataclass
class Point:
    x: int
    y: int


def Get_Point(x: int, y: int = 2) -> Point:
    return Point(x, y)


async def apoint(x: int) -> tuple[int, ...]:
    return (x, x)


def fails() -> None:
    raise ValueError("no such order")


def big(size: int) -> str:
    return "x" * size


def slow(seconds: float) -> None:
    time.sleep(seconds)


class Cart:
    def total(self, n: int) -> int:
        return n * 2
"""

Make = Callable[..., NavaiFunctionRegistry]


@pytest.fixture
def registry(one: Make) -> NavaiFunctionRegistry:
    return one(TOOLS, max_result_bytes=64, timeout_seconds=0.5)


def test_execute_encoded_gives_name_source_and_the_json(registry: NavaiFunctionRegistry) -> None:
    encoded = registry.execute_encoded("  GET_POINT ", {"x": 1})
    assert isinstance(encoded, EncodedResult)
    assert (encoded.name, encoded.source) == ("get_point", "tools.py#Get_Point")
    assert isinstance(encoded.json, msgspec.Raw)
    assert bytes(encoded.json) == b'{"x":1,"y":2}'
    assert encoded.decode() == {"x": 1, "y": 2}
    # Inside a response, msgspec writes the encoding as it is.
    body = msgspec.json.encode({"ok": True, "result": encoded.json})
    assert body == b'{"ok":true,"result":{"x":1,"y":2}}'


def test_execute_is_the_decoded_encoding(registry: NavaiFunctionRegistry) -> None:
    calls = (("get_point", {"x": 3}), ("apoint", {"x": 4}), ("cart_total", {"methodArgs": [5]}))
    for name, payload in calls:
        assert registry.execute(name, payload) == registry.execute_encoded(name, payload).decode()
    assert registry.execute("apoint", {"x": 4}) == [4, 4]


@pytest.mark.asyncio
async def test_aexecute_encoded_runs_sync_and_async_tools(registry: NavaiFunctionRegistry) -> None:
    sync, async_ = await asyncio.gather(
        registry.aexecute_encoded("get_point", {"x": 1, "y": 5}),
        registry.aexecute_encoded("apoint", {"x": 7}),
    )
    assert (sync.name, bytes(sync.json)) == ("get_point", b'{"x":1,"y":5}')
    assert (async_.name, async_.source, bytes(async_.json)) == (
        "apoint",
        "tools.py#apoint",
        b"[7,7]",
    )
    assert await registry.aexecute("apoint", {"x": 7}) == async_.decode()


def test_the_encoded_pair_fails_as_execute_does(registry: NavaiFunctionRegistry) -> None:
    cases: list[tuple[str, Any, type[Exception]]] = [
        ("missing", None, UnknownFunctionError),
        ("get_point", {"x": "one"}, InvalidArgumentsError),
        ("fails", None, FunctionExecutionError),
        ("big", {"size": 100}, ResultTooLargeError),
        ("slow", {"seconds": 2}, FunctionTimeoutError),
    ]
    for name, payload, error in cases:
        with pytest.raises(error) as sync_caught:
            registry.execute_encoded(name, payload)
        with pytest.raises(error) as async_caught:
            asyncio.run(registry.aexecute_encoded(name, payload))
        with pytest.raises(error) as plain_caught:
            registry.execute(name, payload)
        assert str(sync_caught.value) == str(async_caught.value) == str(plain_caught.value)


def test_an_unknown_name_lists_names_without_building_schemas(
    registry: NavaiFunctionRegistry,
) -> None:
    with pytest.raises(UnknownFunctionError) as caught:
        registry.execute("missing")
    assert list(caught.value.available) == registry.names
    assert registry._snapshot._items is None  # no listing was built
    assert all(entry._definition is None for entry in registry._snapshot.entries)


def test_executing_builds_no_listing(registry: NavaiFunctionRegistry) -> None:
    registry.execute_encoded("get_point", {"x": 1})
    registry.execute("apoint", {"x": 1})
    assert all(entry._definition is None for entry in registry._snapshot.entries)


def test_lookup_names_the_tool_without_its_listing(registry: NavaiFunctionRegistry) -> None:
    assert registry.lookup(" Get_Point") == ToolRef("get_point", "tools.py#Get_Point")
    assert registry.lookup("missing") is None
    assert registry.lookup(None) is None  # type: ignore[arg-type] - names come from requests
    assert all(entry._definition is None for entry in registry._snapshot.entries)
    definition = registry.get("get_point")
    assert definition is not None
    assert registry.lookup("get_point") == ToolRef(definition.name, definition.source)

"""The example functions folder served by the README's main command."""

from __future__ import annotations

from pathlib import Path

import pytest

from navai_core import FunctionContext, load_navai_functions
from navai_core.exceptions import FunctionExecutionError

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "functions"


@pytest.fixture(scope="module")
def examples():
    registry = load_navai_functions(EXAMPLES, ".", env={})
    yield registry
    registry.close()


def test_examples_load_cleanly(examples):
    assert examples.warnings == []
    assert examples.names == [
        "get_order_status",
        "cart_total",
        "cart_add_item",
        "cart_catalog",
        "get_time",
        "greet_caller",
        "get_weather",
        "get_forecast",
    ]
    for item in examples.items:
        assert not item.description.startswith("Call exported function"), item.name


def test_weather(examples):
    first = examples.execute("get_weather", {"city": "Madrid"})
    assert first == examples.execute("get_weather", {"value": "Madrid"})  # deterministic
    assert first["unit"] == "celsius"
    fahrenheit = examples.execute("get_weather", {"args": ["Madrid", "fahrenheit"]})
    assert fahrenheit["temperature"] == round(first["temperature"] * 9 / 5 + 32)
    assert len(examples.execute("get_forecast", {"city": "Oslo", "days": 2})) == 2
    with pytest.raises(FunctionExecutionError, match="days must be between 1 and 7"):
        examples.execute("get_forecast", {"city": "Oslo", "days": 9})
    assert examples.get("get_weather").parameters["properties"]["unit"]["enum"] == [
        "celsius",
        "fahrenheit",
    ]


def test_orders(examples):
    assert examples.execute("get_order_status", {"order_id": "a-1001"}) == {
        "order_id": "A-1001",
        "status": "shipped",
        "placed_on": "2025-03-14",
        "lines": [{"sku": "mug", "quantity": 2}],
    }
    with pytest.raises(FunctionExecutionError, match="No order with id"):
        examples.execute("get_order_status", {"order_id": "zzz"})
    assert examples.execute(
        "cart_total",
        {"constructorArgs": {"lines": [{"sku": "mug", "quantity": 2}]}, "methodArgs": ["USD"]},
    ) == {"total": 25.0, "currency": "USD", "items": 1}
    assert examples.execute("cart_add_item", {"methodArgs": {"sku": "tea"}}) == [
        {"sku": "tea", "quantity": 1}
    ]
    assert examples.execute("cart_catalog")["kettle"] == 39.9


@pytest.mark.asyncio
async def test_time_tools(examples):
    result = await examples.aexecute("get_time", {"timezone": "Europe/Madrid"})
    assert result == {
        "timezone": "Europe/Madrid",
        "time": "2025-06-01T14:00:00+02:00",
        "weekday": "Sunday",
    }
    context = FunctionContext("greet_caller", headers={"Accept-Language": "fr-FR,fr;q=0.9"})
    assert await examples.aexecute("greet_caller", {"name": "Léa"}, context) == "Bonjour, Léa!"
    assert examples.execute("greet_caller") == "Hello, there!"
    assert "context" not in examples.get("greet_caller").parameters["properties"]

"""Running functions: threads, the background loop, timeouts, results, errors, logging."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import threading
import time

import pytest

from navai_core import FunctionContext
from navai_core.exceptions import (
    FunctionExecutionError,
    FunctionTimeoutError,
    ResultNotSerializableError,
)

# Every test runs with the pool's hand-back, then with loop.run_in_executor.
pytestmark = pytest.mark.usefixtures("pool_path")

TOOLS = """
import asyncio
import contextvars
import dataclasses
import datetime
import decimal
import enum
import threading
import time
import uuid

import attrs

from navai_core import navai_function
from navai_core.exceptions import ToolError

VAR = contextvars.ContextVar("navai_test_var", default="unset")
STATE = {"active": 0, "peak": 0, "threads": set(), "cancelled": 0, "started": 0}
LOCK = threading.Lock()


def add(a: int, b: int) -> int:
    return a + b


async def aadd(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def sleepy(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


async def asleepy(seconds: float) -> str:
    STATE["started"] += 1
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        STATE["cancelled"] += 1
        raise
    return "slept"


@navai_function(timeout=0.1)
def quick_timeout(seconds: float) -> str:
    time.sleep(seconds)
    return "slept"


def where() -> dict:
    return {"thread": threading.current_thread().name, "var": VAR.get()}


async def awhere() -> dict:
    return {"loop": id(asyncio.get_running_loop()), "thread": threading.current_thread().name, "var": VAR.get()}


def tracked(seconds: float) -> int:
    with LOCK:
        STATE["active"] += 1
        STATE["peak"] = max(STATE["peak"], STATE["active"])
        STATE["threads"].add(threading.get_ident())
    time.sleep(seconds)
    with LOCK:
        STATE["active"] -= 1
    return 1


class Color(enum.Enum):
    RED = "red"


@attrs.define
class Point:
    x: int
    y: int


@dataclasses.dataclass
class Box:
    point: Point
    color: Color
    tags: frozenset


def rich() -> dict:
    return {
        "box": Box(Point(1, 2), Color.RED, frozenset({"a"})),
        "when": datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc),
        "day": datetime.date(2025, 1, 2),
        "set": {3},
        "tuple": (1, "two"),
        "id": uuid.UUID(int=1),
        "price": decimal.Decimal("1.50"),
        1: "int key",
        "nan": float("nan"),
    }


class Handle:
    pass


def unserializable() -> dict:
    return {"handle": Handle()}


def cyclic() -> list:
    items = []
    items.append(items)
    return items


def fails() -> None:
    raise ValueError("secret detail 42")


def fails_empty() -> None:
    raise KeyError


def tool_error() -> None:
    raise ToolError("Order not found.")


async def afails() -> None:
    raise RuntimeError("async boom")


def raises_timeout() -> None:
    raise TimeoutError("upstream timed out")


def with_context(ctx: "FunctionContext") -> str:
    return ctx.function_name

from navai_core import FunctionContext
"""


@pytest.fixture
def registry(one):
    return one(TOOLS, timeout_seconds=2.0)


def module_globals(registry) -> dict:
    """The loaded tools module's namespace (to reach its state and context variable)."""
    return registry._snapshot.by_name["where"].pending.candidate.func.__globals__


def state(registry) -> dict:
    return module_globals(registry)["STATE"]


def module_var(registry) -> contextvars.ContextVar:
    return module_globals(registry)["VAR"]


# --- where functions run ------------------------------------------------------------------


def test_sync_path(registry):
    assert registry.execute("add", {"a": 1, "b": 2}) == 3
    assert registry.execute("aadd", {"a": 1, "b": 2}) == 3
    assert registry.execute("where")["thread"].startswith("navai-function-")


@pytest.mark.asyncio
async def test_async_path(registry):
    assert await registry.aexecute("add", {"a": 1, "b": 2}) == 3
    assert await registry.aexecute("aadd", {"a": 1, "b": 2}) == 3
    assert (await registry.aexecute("where"))["thread"].startswith("navai-function-")
    # async functions are awaited on the caller's loop
    assert (await registry.aexecute("awhere"))["loop"] == id(asyncio.get_running_loop())


def test_async_functions_from_sync_code_share_one_background_loop(registry):
    first = registry.execute("awhere")
    second = registry.execute("awhere")
    assert first["loop"] == second["loop"]
    assert first["thread"] == "navai-async-functions"


def test_context_variables_reach_threads_and_the_background_loop(registry):
    var = module_var(registry)
    token = var.set("from caller")
    try:
        assert registry.execute("where")["var"] == "from caller"
        assert registry.execute("awhere")["var"] == "from caller"
    finally:
        var.reset(token)
    assert registry.execute("where")["var"] == "unset"


@pytest.mark.asyncio
async def test_context_variables_reach_threads_on_the_async_path(registry):
    var = module_var(registry)
    var.set("async caller")
    assert (await registry.aexecute("where"))["var"] == "async caller"
    assert (await registry.aexecute("awhere"))["var"] == "async caller"


@pytest.mark.asyncio
async def test_event_loop_stays_responsive_while_a_sync_function_sleeps(registry):
    ticks = 0
    stop = asyncio.Event()

    async def ticker():
        nonlocal ticks
        while not stop.is_set():
            ticks += 1
            await asyncio.sleep(0.01)

    task = asyncio.create_task(ticker())
    assert await registry.aexecute("sleepy", {"seconds": 0.3}) == "slept"
    stop.set()
    await task
    assert ticks >= 10


def test_max_concurrency_bounds_threads(one):
    registry = one(TOOLS, max_concurrency=2)
    with concurrent.futures.ThreadPoolExecutor(6) as callers:
        results = list(
            callers.map(lambda _: registry.execute("tracked", {"seconds": 0.05}), range(6))
        )
    assert results == [1] * 6
    shared = state(registry)
    assert shared["peak"] <= 2
    assert len(shared["threads"]) <= 2
    assert registry._runner.pool.thread_count == 2


@pytest.mark.asyncio
async def test_max_concurrency_bounds_the_async_path_too(one):
    registry = one(TOOLS, max_concurrency=2)
    results = await asyncio.gather(
        *(registry.aexecute("tracked", {"seconds": 0.05}) for _ in range(6))
    )
    assert results == [1] * 6
    assert state(registry)["peak"] <= 2


def test_idle_threads_are_reused(registry):
    for _ in range(5):
        registry.execute("add", {"a": 1, "b": 1})
    assert registry._runner.pool.thread_count == 1


# --- timeouts -----------------------------------------------------------------------------


def wait_for(condition, seconds: float = 2.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.005)


def test_sync_function_timeout_on_the_sync_path(one):
    registry = one(TOOLS, timeout_seconds=0.05)
    started = time.monotonic()
    with pytest.raises(FunctionTimeoutError) as caught:
        registry.execute("sleepy", {"seconds": 0.5})
    assert time.monotonic() - started < 0.4  # the caller did not wait for the function
    assert caught.value.function_name == "sleepy"
    assert caught.value.timeout_seconds == 0.05
    assert caught.value.status_code == 504
    assert "did not finish within 0.05 seconds" in str(caught.value)


def test_async_function_timeout_on_the_sync_path_cancels_it(one):
    registry = one(TOOLS, timeout_seconds=0.05)
    with pytest.raises(FunctionTimeoutError):
        registry.execute("asleepy", {"seconds": 5})
    wait_for(lambda: state(registry)["cancelled"] == 1)


@pytest.mark.asyncio
async def test_timeouts_on_the_async_path(one):
    registry = one(TOOLS, timeout_seconds=0.05)
    with pytest.raises(FunctionTimeoutError):
        await registry.aexecute("sleepy", {"seconds": 0.3})
    with pytest.raises(FunctionTimeoutError):
        await registry.aexecute("asleepy", {"seconds": 5})
    assert state(registry)["cancelled"] == 1


def test_per_function_timeout_overrides_the_default(registry):
    assert registry.get("quick_timeout").timeout_seconds == 0.1
    assert registry.get("sleepy").timeout_seconds == 2.0
    with pytest.raises(FunctionTimeoutError) as caught:
        registry.execute("quick_timeout", {"seconds": 0.3})
    assert caught.value.timeout_seconds == 0.1
    assert registry.execute("quick_timeout", {"seconds": 0}) == "slept"


def test_waiting_in_the_queue_counts_toward_the_timeout(one):
    registry = one(TOOLS, max_concurrency=1, timeout_seconds=1)
    blocker = threading.Thread(target=registry.execute, args=("tracked", {"seconds": 0.3}))
    blocker.start()
    wait_for(lambda: state(registry)["active"] == 1)  # the only worker is busy
    with pytest.raises(FunctionTimeoutError):
        registry.execute("quick_timeout", {"seconds": 0})  # 0.1 s budget, all in the queue
    blocker.join()


def test_a_function_raising_timeout_error_is_a_failure_not_a_timeout(registry):
    with pytest.raises(FunctionExecutionError) as caught:
        registry.execute("raises_timeout")
    assert caught.value.details == "upstream timed out"


@pytest.mark.asyncio
async def test_a_function_raising_timeout_error_on_the_async_path(registry):
    with pytest.raises(FunctionExecutionError, match="upstream timed out"):
        await registry.aexecute("raises_timeout")


# --- results ------------------------------------------------------------------------------


def test_results_are_json_ready(registry):
    assert registry.execute("rich") == {
        "box": {"point": {"x": 1, "y": 2}, "color": "red", "tags": ["a"]},
        "when": "2025-01-02T03:04:05Z",
        "day": "2025-01-02",
        "set": [3],
        "tuple": [1, "two"],
        "id": "00000000-0000-0000-0000-000000000001",
        "price": "1.50",
        "1": "int key",
        "nan": None,
    }


@pytest.mark.asyncio
async def test_results_are_json_ready_on_the_async_path(registry):
    assert (await registry.aexecute("rich"))["tuple"] == [1, "two"]


def test_unserializable_result_names_the_type(registry, caplog):
    with pytest.raises(ResultNotSerializableError) as caught:
        registry.execute("unserializable")
    message = (
        "Function 'unserializable' returned a value that cannot be sent as JSON: objects of "
        "type 'Handle' are not supported. Return dicts, lists, str, int, float, bool, None, "
        "or attrs/dataclass instances."
    )
    assert str(caught.value) == message
    assert caught.value.details == message
    assert isinstance(caught.value, TypeError)
    assert message in caplog.text


def test_other_encoding_errors_are_not_serializable_either(registry):
    with pytest.raises(
        ResultNotSerializableError, match="cannot be sent as JSON: maximum recursion"
    ):
        registry.execute("cyclic")


# --- errors -------------------------------------------------------------------------------


def test_function_errors_carry_the_message_and_log_the_traceback(registry, caplog):
    with caplog.at_level("ERROR", logger="navai"), pytest.raises(FunctionExecutionError) as caught:
        registry.execute("fails")
    error = caught.value
    assert error.details == "secret detail 42"
    assert error.function_name == "fails"
    assert error.status_code == 200
    assert "Traceback" not in str(error)
    assert isinstance(error.__cause__, ValueError)
    record = next(record for record in caplog.records if record.levelname == "ERROR")
    assert record.exc_info is not None
    assert "Traceback" in caplog.text
    assert 'raise ValueError("secret detail 42")' in caplog.text
    assert "tools.py#fails" in caplog.text


def test_an_exception_without_a_message_gives_its_type(registry):
    with pytest.raises(FunctionExecutionError) as caught:
        registry.execute("fails_empty")
    assert caught.value.details == "KeyError"


@pytest.mark.asyncio
async def test_async_function_errors(registry, caplog):
    with pytest.raises(FunctionExecutionError) as caught:
        await registry.aexecute("afails")
    assert caught.value.details == "async boom"
    assert "Traceback" in caplog.text
    with pytest.raises(FunctionExecutionError, match="async boom"):
        registry.execute("afails")


def test_mask_errors_hides_messages_but_not_tool_errors(one, caplog):
    registry = one(TOOLS, mask_errors=True)
    with pytest.raises(FunctionExecutionError) as caught:
        registry.execute("fails")
    assert caught.value.details == "The function failed. See the server log for details."
    assert "secret detail 42" not in str(caught.value)
    assert "secret detail 42" in caplog.text  # the server log still has it
    with pytest.raises(FunctionExecutionError) as caught:
        registry.execute("tool_error")
    assert caught.value.details == "Order not found."


def test_tool_errors_are_sent_without_a_traceback_in_the_log(registry, caplog):
    with caplog.at_level("INFO", logger="navai"), pytest.raises(FunctionExecutionError) as caught:
        registry.execute("tool_error")
    assert caught.value.details == "Order not found."
    assert "Traceback" not in caplog.text
    assert "Order not found." in caplog.text


def test_env_mask_errors(one):
    registry = one(TOOLS, env={"NAVAI_MASK_FUNCTION_ERRORS": "yes"})
    assert registry.mask_errors is True
    with pytest.raises(FunctionExecutionError, match="See the server log"):
        registry.execute("fails")


# --- lifecycle ----------------------------------------------------------------------------


def test_close_is_idempotent_and_stops_calls(registry):
    assert registry.execute("aadd", {"a": 1, "b": 1}) == 2
    loop = registry._runner.loop.loop
    registry.close()
    registry.close()
    assert loop.is_closed()
    with pytest.raises(RuntimeError, match="closed"):
        registry.execute("add", {"a": 1, "b": 1})


@pytest.mark.asyncio
async def test_closed_registry_refuses_async_calls_too(registry):
    registry.close()
    with pytest.raises(RuntimeError, match="closed"):
        await registry.aexecute("add", {"a": 1, "b": 1})


def test_context_manager_closes(one):
    with one(TOOLS) as registry:
        assert registry.execute("add", {"a": 2, "b": 2}) == 4
    with pytest.raises(RuntimeError):
        registry.execute("add", {"a": 2, "b": 2})


def test_close_cancels_what_still_runs_on_the_background_loop(one):
    registry = one(TOOLS, timeout_seconds=5)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            registry.execute("asleepy", {"seconds": 5})
        except FunctionExecutionError as exc:
            errors.append(exc)

    caller = threading.Thread(target=call)
    caller.start()
    wait_for(lambda: state(registry)["started"] == 1)
    registry.close()
    caller.join(2)
    assert not caller.is_alive()
    assert state(registry)["cancelled"] == 1
    assert [error.details for error in errors] == ["The call was cancelled."]


def test_context_defaults_to_the_function_name(registry):
    assert registry.execute("with_context") == "with_context"
    assert registry.execute("with_context", None, FunctionContext("other")) == "with_context"


def test_repr_and_len(registry):
    assert "functions=" in repr(registry)
    assert len(registry) == len(registry.names) == len(registry.items)


def test_a_result_whose_encoding_fails_otherwise_is_not_serializable(one):
    registry = one(
        """
        import datetime

        class BrokenZone(datetime.tzinfo):
            def utcoffset(self, dt):
                raise LookupError("no offset today")

        def when() -> datetime.datetime:
            return datetime.datetime(2025, 1, 1, tzinfo=BrokenZone())
        """
    )
    with pytest.raises(ResultNotSerializableError, match="cannot be sent as JSON: no offset today"):
        registry.execute("when")

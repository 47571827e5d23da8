"""A function's fault is that call's failure: exits, odd exceptions, oversized results.

The HTTP side of the same guarantees is in tests/security/test_function_faults.py.
"""

from __future__ import annotations

import asyncio
import logging

import pytest

from navai_core import FunctionContext, load_navai_functions
from navai_core.exceptions import (
    FunctionExecutionError,
    InvalidOptionError,
    ResultNotSerializableError,
    ResultTooLargeError,
)

from .conftest import Load

# Every test runs with the pool's hand-back, then with loop.run_in_executor.
pytestmark = pytest.mark.usefixtures("pool_path")

FAULTS = """
import asyncio
import sys

from navai_core.exceptions import ToolError


class Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")


class UnprintableToolError(ToolError):
    def __str__(self):
        raise RuntimeError("no message for you either")


def leave():
    sys.exit(3)


def leave_quietly():
    sys.exit()


async def aleave():
    sys.exit(4)


def interrupt():
    raise KeyboardInterrupt


async def ainterrupt():
    raise KeyboardInterrupt


def unprintable():
    raise Unprintable


def unprintable_tool_error():
    raise UnprintableToolError("x")


def cancelled():
    raise asyncio.CancelledError


async def acancelled():
    raise asyncio.CancelledError


def text(size: int) -> str:
    return "x" * size


async def atext(size: int) -> str:
    return "x" * size


def shout(size: int) -> None:
    raise RuntimeError("y" * size)


def ok() -> str:
    return "ok"
"""


@pytest.fixture
def faults(tree, load: Load):
    tree({"faults.py": FAULTS})
    return load(max_result_bytes=100)


@pytest.mark.parametrize(
    ("name", "details"),
    [
        ("leave", "SystemExit: 3"),
        ("leave_quietly", "SystemExit"),
        ("aleave", "SystemExit: 4"),
        ("interrupt", "KeyboardInterrupt"),
        ("ainterrupt", "KeyboardInterrupt"),
        ("unprintable", "Unprintable"),
        ("unprintable_tool_error", "UnprintableToolError"),
        ("cancelled", "CancelledError"),
    ],
)
def test_exits_and_odd_exceptions_fail_the_call_only(faults, name: str, details: str) -> None:
    for _ in range(3):
        with pytest.raises(FunctionExecutionError) as sync_error:
            faults.execute(name)
        assert sync_error.value.details == details
        with pytest.raises(FunctionExecutionError) as async_error:
            asyncio.run(faults.aexecute(name))
        assert async_error.value.details == details
    assert faults.execute("ok") == "ok"
    assert asyncio.run(faults.aexecute("ok")) == "ok"


def test_an_async_function_raising_cancelled_error_is_its_failure(faults) -> None:
    with pytest.raises(FunctionExecutionError) as caught:
        asyncio.run(faults.aexecute("acancelled"))
    assert caught.value.details == "The call was cancelled."
    with pytest.raises(FunctionExecutionError) as caught:
        faults.execute("acancelled")
    assert caught.value.details == "The call was cancelled."


def test_cancelling_the_caller_still_cancels(faults, tree, load: Load) -> None:
    tree({"slow.py": "import asyncio\n\nasync def slow():\n    await asyncio.sleep(5)\n"})
    registry = load()

    async def main() -> None:
        task = asyncio.create_task(registry.aexecute("slow"))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    asyncio.run(main())


@pytest.mark.parametrize("name", ["text", "atext"])
def test_a_result_over_the_bound_is_result_too_large(faults, name: str) -> None:
    assert faults.max_result_bytes == 100
    assert faults.execute(name, {"size": 98}) == "x" * 98  # 100 bytes with its quotes
    with pytest.raises(ResultTooLargeError) as caught:
        faults.execute(name, {"size": 99})
    error = caught.value
    assert (error.size, error.limit, error.function_name) == (101, 100, name)
    assert isinstance(error, FunctionExecutionError)
    assert isinstance(error, ValueError)
    assert not isinstance(error, ResultNotSerializableError)
    assert (
        str(error)
        == error.details
        == (
            f"Function {name!r} returned a result of 101 bytes as JSON, over the limit of 100 "
            "bytes. Return less (a page, a summary), or raise NAVAI_MAX_RESULT_BYTES."
        )
    )
    with pytest.raises(ResultTooLargeError):
        asyncio.run(faults.aexecute(name, {"size": 1000}))


def test_a_message_is_bounded_as_a_result_is(faults, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="navai.functions")
    with pytest.raises(FunctionExecutionError) as caught:
        faults.execute("shout", {"size": 500})
    assert caught.value.details == "y" * 100 + "... (cut)"
    assert "y" * 500 in caplog.text  # the log keeps it whole


def test_the_bound_defaults_to_4_mib_and_reads_the_environment(tree, load: Load) -> None:
    tree({"faults.py": FAULTS})
    assert load().max_result_bytes == 4 * 1024 * 1024
    assert load(env={"NAVAI_MAX_RESULT_BYTES": " 2048 "}).max_result_bytes == 2048
    assert load(env={"NAVAI_MAX_RESULT_BYTES": "2048"}, max_result_bytes=10).max_result_bytes == 10


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("0", "NAVAI_MAX_RESULT_BYTES='0' must be at least 1."),
        ("lots", "NAVAI_MAX_RESULT_BYTES='lots' is not a whole number."),
    ],
)
def test_a_bad_bound_in_the_environment_names_it(base, value: str, message: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        load_navai_functions(base, env={"NAVAI_MAX_RESULT_BYTES": value})
    assert str(caught.value) == message
    assert caught.value.variable == "NAVAI_MAX_RESULT_BYTES"


@pytest.mark.parametrize("value", [0, -1, 1.5, True, "10"])
def test_a_bad_bound_in_code_names_it(base, value) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        load_navai_functions(base, env={}, max_result_bytes=value)
    assert str(caught.value).startswith(f"max_result_bytes={value!r} ")


def test_a_context_repr_shows_no_credentials() -> None:
    context = FunctionContext(
        "f",
        headers={"Authorization": "Bearer tok-123", "Cookie": "session=abc", "X-Api-Key": "k-9"},
        request={"HTTP_COOKIE": "session=abc"},
    )
    text = repr(context)
    for secret in ("tok-123", "session=abc", "k-9"):
        assert secret not in text
    assert text == (
        "FunctionContext(function_name='f', headers=<headers: authorization, cookie, "
        "x-api-key>, request=<dict>, call_id=None)"
    )
    assert repr(FunctionContext("g", call_id="rtc_1")) == (
        "FunctionContext(function_name='g', headers=<headers: none>, request=None, call_id='rtc_1')"
    )

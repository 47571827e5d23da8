"""Function faults: functions that raise, hang, exit, or return what JSON cannot carry.

Every case is served through both adapters by a real server; the answer is checked, and
so is the server afterwards: a backend function's fault is that call's failure, never
the server's.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from navai_core.exceptions import ResultTooLargeError
from tests.gates import Gate

from .conftest import (
    FUNCTION_TIMEOUT,
    LIST,
    Served,
    assert_healthy,
    assert_json,
    execute,
)
from .sec_functions.tools import FAULT_MARKER

pytestmark = pytest.mark.integration

DEFAULT_MAX_RESULT = 4 * 1024 * 1024


# --- raising ------------------------------------------------------------------------------


def test_raise_is_ok_false_with_message_and_traceback_only_in_the_log(
    server: Served, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="navai.functions")
    response = execute(server.client, "boom")
    assert assert_json(response, 200) == {
        "ok": False,
        "function_name": "boom",
        "error": "Function execution failed.",
        "details": f"the widget is broken ({FAULT_MARKER})",
    }
    assert "_inner_helper" not in response.text  # no frame of the function's code
    assert "Traceback (most recent call last)" in caplog.text
    assert "_inner_helper" in caplog.text
    assert f"ValueError: the widget is broken ({FAULT_MARKER})" in caplog.text


def test_masked_errors_hide_the_message_but_log_it(serve_with, caplog) -> None:
    caplog.set_level(logging.ERROR, logger="navai.functions")
    with serve_with(env={"NAVAI_MASK_FUNCTION_ERRORS": "true"}) as server:
        response = execute(server.client, "boom")
    body = assert_json(response, 200)
    assert body["details"] == "The function failed. See the server log for details."
    assert FAULT_MARKER not in response.text
    assert FAULT_MARKER in caplog.text
    assert "Traceback (most recent call last)" in caplog.text


@pytest.mark.parametrize(
    ("name", "details"),
    [
        ("unprintable", "_UnprintableError"),
        ("leave", "SystemExit: 3"),
        ("aleave", "SystemExit: 4"),
        ("interrupt", "KeyboardInterrupt"),
    ],
)
def test_exits_and_unprintable_errors_are_the_call_s_failure(
    server: Served, name: str, details: str
) -> None:
    # More calls than waitress has threads: each must be answered, and none may end the
    # thread (or, under uvicorn, the event loop) that serves it.
    for _ in range(20):
        body = assert_json(execute(server.client, name), 200)
        assert body == {
            "ok": False,
            "function_name": name,
            "error": "Function execution failed.",
            "details": details,
        }
    assert_healthy(server.client)


# --- hanging ------------------------------------------------------------------------------


def server_threads() -> int:
    """Threads in this process, except the test's own client threads."""
    return sum(not thread.name.startswith("client") for thread in threading.enumerate())


# A timeout must fire, and on time: these bounds are ten times the function timeout, loose
# enough for a loaded machine, and far below the 30 s a held call would otherwise take.
CEILING = 10 * FUNCTION_TIMEOUT


def held(server: Served, name: str, gate: Gate) -> httpx.Response:
    return execute(server.client, name, {"gate": gate.name})


@pytest.mark.parametrize("name", ["held", "aheld"])
def test_other_requests_are_served_while_a_call_hangs(serve_with, name: str, gate: Gate) -> None:
    # No timeout here: the held call is provably still running while the others are served.
    with (
        serve_with(env={"NAVAI_FUNCTION_TIMEOUT": "60"}) as server,
        ThreadPoolExecutor(1) as pool,
    ):
        hung = pool.submit(held, server, name, gate)
        gate.wait_until(entered=1)
        for number in range(5):
            assert (
                execute(server.client, "add", {"a": number, "b": 1}).json()["result"] == number + 1
            )
        assert server.client.get(LIST).status_code == 200
        assert not hung.done()
        gate.open()
        assert hung.result().json()["result"] == "released"


@pytest.mark.parametrize("name", ["held", "aheld"])
def test_a_hang_is_504_on_time(server: Served, name: str, gate: Gate) -> None:
    started = time.monotonic()
    response = held(server, name, gate)
    elapsed = time.monotonic() - started
    body = assert_json(response, 504)
    assert body["ok"] is False
    assert body["error"] == "Function timed out."
    assert FUNCTION_TIMEOUT <= elapsed < CEILING, elapsed
    if name == "aheld":
        assert gate.cancelled.wait(10)  # an async call is cancelled at its timeout
    else:
        assert gate.inside == 1  # a thread cannot be stopped: it is outwaited
    gate.open()
    gate.wait_until(inside=0)
    assert_healthy(server.client)


def test_a_burst_is_queued_on_bounded_threads(serve_with, gate: Gate) -> None:
    # 14 held calls on 4 threads (14, not more: waitress serves with 16 threads, and the
    # listing needs one). No timeout: all of them wait for the gate.
    env = {"NAVAI_MAX_CONCURRENT_FUNCTIONS": "4", "NAVAI_FUNCTION_TIMEOUT": "60"}
    with serve_with(env=env) as server:
        registry = server.registry
        threads_before = server_threads()
        with ThreadPoolExecutor(14, thread_name_prefix="client") as pool:
            calls = [pool.submit(held, server, "held", gate) for _ in range(14)]
            gate.wait_until(entered=4)
            listed = server.client.get(LIST)  # not queued behind the functions
            assert not any(call.done() for call in calls)
            peak_threads = server_threads()
            entered_while_closed = gate.entered
            gate.open()
            responses = [call.result() for call in calls]
        assert listed.status_code == 200
        assert entered_while_closed == 4  # the other 10 wait in the queue, not in threads
        assert gate.most_inside == 4
        assert registry._runner.pool.thread_count == 4
        assert peak_threads - threads_before <= 4  # the pool's threads, and nothing else
        assert [assert_json(response, 200)["result"] for response in responses] == (
            ["released"] * 14
        )
        assert_healthy(server.client)


def test_queued_calls_time_out_in_the_queue_on_time(serve_with, gate: Gate) -> None:
    with serve_with(env={"NAVAI_MAX_CONCURRENT_FUNCTIONS": "4"}) as server:
        with ThreadPoolExecutor(8, thread_name_prefix="client") as pool:
            started = time.monotonic()
            calls = [pool.submit(held, server, "held", gate) for _ in range(8)]
            statuses = [call.result().status_code for call in calls]
            elapsed = time.monotonic() - started
        assert statuses == [504] * 8
        assert FUNCTION_TIMEOUT <= elapsed < CEILING, elapsed
        assert gate.entered == 4  # four ran (and are stuck); four timed out in the queue
        assert server.registry._runner.pool.thread_count == 4
        # Every worker thread is stuck: a sync call waits in the queue and times out on
        # time; async functions and listing are not affected.
        before = time.monotonic()
        assert execute(server.client, "add", {"a": 1, "b": 1}).status_code == 504
        assert time.monotonic() - before < CEILING
        assert execute(server.client, "nap", {"seconds": 0.01}).json()["result"] == "rested"
        assert server.client.get(LIST).status_code == 200
        assert server.registry._runner.pool.thread_count == 4
        # Once the stuck calls end, the workers are free again.
        gate.open()
        gate.wait_until(inside=0)
        assert execute(server.client, "add", {"a": 1, "b": 1}).json()["result"] == 2
        assert gate.entered == 4  # the calls that timed out in the queue never ran


# --- results JSON cannot carry ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "named"),
    [
        ("opaque", "'lock'"),
        ("numbers", "'generator'"),
        ("keyed", "tuple"),
        ("cyclic", "recursion"),
        ("deep", "recursion"),
    ],
)
def test_a_result_json_cannot_carry_is_ok_false_naming_why(server: Served, name, named) -> None:
    body = assert_json(execute(server.client, name), 200)
    assert body["ok"] is False
    assert body["error"] == "Function execution failed."
    assert body["details"].startswith(f"Function {name!r} returned a value that cannot be sent")
    assert named in body["details"]
    assert_healthy(server.client)


def test_a_huge_result_is_refused_with_a_clear_message(server: Served) -> None:
    fits = execute(server.client, "huge", {"size": DEFAULT_MAX_RESULT - 2})  # "x...x" quoted
    assert len(assert_json(fits, 200)["result"]) == DEFAULT_MAX_RESULT - 2
    response = execute(server.client, "huge", {"size": DEFAULT_MAX_RESULT - 1})
    body = assert_json(response, 200)
    assert body == {
        "ok": False,
        "function_name": "huge",
        "error": "Function execution failed.",
        "details": f"Function 'huge' returned a result of {DEFAULT_MAX_RESULT + 1} bytes as "
        f"JSON, over the limit of {DEFAULT_MAX_RESULT} bytes. Return less (a page, a "
        "summary), or raise NAVAI_MAX_RESULT_BYTES.",
    }
    assert len(response.content) < 1024
    assert_healthy(server.client)


def test_the_result_bound_is_configurable(serve_with) -> None:
    with serve_with(env={"NAVAI_MAX_RESULT_BYTES": "1000"}) as server:
        assert server.registry.max_result_bytes == 1000
        assert execute(server.client, "huge", {"size": 998}).json()["ok"] is True
        body = execute(server.client, "huge", {"size": 999}).json()
        assert body["ok"] is False
        assert "over the limit of 1000 bytes" in body["details"]
        # A message is bounded as a result is.
        shouted = execute(server.client, "shout", {"size": 50_000})
        details = assert_json(shouted, 200)["details"]
        assert details == "y" * 1000 + "... (cut)"


def test_result_too_large_error_from_python(server: Served) -> None:
    with pytest.raises(ResultTooLargeError) as caught:
        server.registry.execute("huge", {"size": DEFAULT_MAX_RESULT})
    assert (caught.value.size, caught.value.limit) == (DEFAULT_MAX_RESULT + 2, DEFAULT_MAX_RESULT)
    assert caught.value.function_name == "huge"
    assert caught.value.status_code == 200

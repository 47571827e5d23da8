"""The worker pool and the background loop on their own."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import gc
import sys
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from navai_core._handback import Handback
from navai_core._threads import BackgroundLoop, WorkerPool


def test_pool_runs_and_reports_errors():
    pool = WorkerPool(2)
    assert pool.submit(lambda a, b: a + b, 1, b=2).result(1) == 3
    failing = pool.submit(lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        failing.result(1)
    pool.shutdown()
    pool.shutdown()  # twice is fine


def test_pool_shutdown_cancels_queued_calls_and_refuses_new_ones():
    pool = WorkerPool(1)
    gate = threading.Event()
    running = pool.submit(gate.wait, 1)
    queued = pool.submit(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    assert queued.cancelled()
    gate.set()
    assert running.result(1) is True
    with pytest.raises(RuntimeError, match="closed"):
        pool.submit(lambda: None)


def test_pool_skips_calls_cancelled_while_queued():
    pool = WorkerPool(1)
    gate = threading.Event()
    pool.submit(gate.wait, 1)
    queued = pool.submit(lambda: "never")
    assert queued.cancel()
    gate.set()
    assert pool.submit(lambda: "after").result(1) == "after"
    pool.shutdown(wait=True)
    assert pool.thread_count == 1


def test_background_loop_runs_coroutines_in_a_context():
    var = contextvars.ContextVar("loop_test", default="unset")
    runner = BackgroundLoop()

    async def read():
        return var.get()

    async def fail():
        raise ValueError("bad")

    var.set("set")
    context = contextvars.copy_context()
    assert runner.submit(read, context).result(1) == "set"
    with pytest.raises(ValueError, match="bad"):
        runner.submit(fail, context).result(1)
    runner.close()
    runner.close()
    with pytest.raises(RuntimeError, match="closed"):
        runner.submit(read, context)


def test_background_loop_cancellation_both_ways():
    runner = BackgroundLoop()

    async def forever():
        await asyncio.sleep(10)

    async def cancel_self():
        raise asyncio.CancelledError

    future = runner.submit(forever, contextvars.copy_context())
    time.sleep(0.05)
    assert future.cancel()
    with pytest.raises(concurrent.futures.CancelledError):
        runner.submit(cancel_self, contextvars.copy_context()).result(1)
    runner.close()


def test_background_loop_cancelled_before_it_starts():
    runner = BackgroundLoop()
    created = []

    async def never():
        created.append(1)

    started, block = threading.Event(), threading.Event()

    async def blocker():
        started.set()
        block.wait(1)  # holds the loop's thread, so nothing else starts meanwhile

    runner.submit(blocker, contextvars.copy_context())
    assert started.wait(1)
    future = runner.submit(never, contextvars.copy_context())
    future.cancel()
    block.set()
    time.sleep(0.05)
    runner.close()
    assert created == []


def test_closing_an_unstarted_loop():
    runner = BackgroundLoop()
    runner.close()
    assert runner.loop is None


# --- WorkerPool.run: asyncio futures, results handed back in batches -------------------


@pytest.fixture
def make_pool() -> Iterator[Callable[[int], WorkerPool]]:
    pools: list[WorkerPool] = []

    def make(workers: int) -> WorkerPool:
        pools.append(WorkerPool(workers))
        return pools[-1]

    yield make
    for pool in pools:
        pool.shutdown()


@pytest.mark.asyncio
async def test_pool_run_returns_results_and_errors_to_the_loop(make_pool):
    pool = make_pool(2)
    assert await pool.run(lambda a, b: a + b, 1, 2) == 3
    with pytest.raises(ZeroDivisionError):
        await pool.run(lambda: 1 / 0)
    # A function's own BaseException is carried too, not raised in the worker.
    with pytest.raises(SystemExit):
        await pool.run(sys.exit, 3)
    assert await pool.run(lambda: "still working") == "still working"


@pytest.mark.asyncio
async def test_pool_run_loses_no_result_under_concurrency(make_pool):
    # Many callers and threads racing on the hand-back: every future must settle, each
    # with its own value (a lost wake-up would hang here until the timeout).
    pool = make_pool(8)
    values = await asyncio.wait_for(
        asyncio.gather(*(pool.run(lambda n=n: n * 2) for n in range(5000))), 30
    )
    assert values == [n * 2 for n in range(5000)]
    assert 1 <= pool.thread_count <= 8


@pytest.mark.asyncio
async def test_pool_run_skips_a_call_cancelled_while_queued(make_pool):
    pool = make_pool(1)
    gate = threading.Event()
    ran: list[str] = []
    running = pool.run(gate.wait, 5)
    queued = pool.run(ran.append, "never")
    queued.cancel()
    gate.set()
    assert await running is True
    assert await pool.run(ran.append, "after") is None
    assert ran == ["after"]


@pytest.mark.asyncio
async def test_pool_run_drops_the_result_of_a_call_its_caller_gave_up_on(make_pool):
    pool = make_pool(1)
    gate = threading.Event()
    slow = pool.run(gate.wait, 5)
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(slow, 0.05)
    assert slow.cancelled()
    gate.set()  # it finishes now; handing its result back must not fail
    assert await pool.run(lambda: "next") == "next"


@pytest.mark.asyncio
async def test_pool_shutdown_cancels_queued_loop_calls():
    pool = WorkerPool(1)
    gate = threading.Event()
    running = pool.run(gate.wait, 5)
    queued = pool.run(lambda: "never")
    pool.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(queued, 5)
    gate.set()
    assert await running is True
    with pytest.raises(RuntimeError, match="closed"):
        pool.run(lambda: None)


def test_pool_run_after_the_loop_closed_does_not_break_the_worker():
    # A call still running when its loop closes (a server stopped mid-call): the
    # hand-back finds the loop closed and drops the result; the thread lives on.
    pool = WorkerPool(1)
    gate = threading.Event()
    loop = asyncio.new_event_loop()
    try:
        orphan = loop.run_until_complete(_start(pool, gate.wait, 5))
    finally:
        loop.close()
    gate.set()
    assert not orphan.done()
    assert pool.submit(lambda: "alive").result(5) == "alive"
    pool.shutdown()


async def _start(pool: WorkerPool, fn: Any, *args: Any) -> asyncio.Future[Any]:
    return pool.run(fn, *args)


def test_pool_run_needs_a_running_loop():
    pool = WorkerPool(1)
    with pytest.raises(RuntimeError, match="no running event loop"):
        pool.run(lambda: None)
    pool.shutdown()


def test_a_caller_that_calls_again_at_once_reuses_the_idle_thread():
    # The thread counts itself idle before the caller hears back, so back-to-back calls
    # never find the pool "busy" and start threads they do not need.
    pool = WorkerPool(8)
    try:
        for number in range(200):
            assert pool.submit(abs, -number).result(5) == number
        assert pool.thread_count == 1
    finally:
        pool.shutdown()


@pytest.mark.asyncio
async def test_back_to_back_loop_calls_reuse_the_idle_thread(make_pool):
    pool = make_pool(8)
    for number in range(200):
        assert await pool.run(abs, -number) == number
    assert pool.thread_count == 1


def test_the_worker_pool_holds_loops_weakly() -> None:
    pool = WorkerPool(1)
    try:
        for _ in range(3):
            assert asyncio.run(_in_pool(pool)) == 42
        gc.collect()
        assert len(pool._handbacks) == 0  # each run's loop is gone with the run
    finally:
        pool.shutdown()


async def _in_pool(pool: WorkerPool) -> int:
    return await pool.run(int, "42")


def test_a_handback_to_a_loop_that_is_gone_is_dropped() -> None:
    loop = asyncio.new_event_loop()
    handback = Handback(loop)
    loop.close()
    del loop
    gc.collect()
    called: list[object] = []
    handback.call_soon(lambda: called.append(1))  # no loop to run it on: nothing happens
    assert called == []

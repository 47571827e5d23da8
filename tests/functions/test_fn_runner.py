"""The worker pool and the background loop on their own."""

from __future__ import annotations

import concurrent.futures
import contextvars
import threading
import time

import pytest

from navai_core._functions._runner import BackgroundLoop, WorkerPool


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
    import asyncio

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

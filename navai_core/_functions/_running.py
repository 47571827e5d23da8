"""Running a prepared call: where it runs, its timeout, and cancellation.

Sync functions run in a bounded :class:`~navai_core._threads.WorkerPool`; async ones on
the caller's event loop, or, for a sync caller, on one
:class:`~navai_core._threads.BackgroundLoop`. Whatever the path, the outcome is the
result's JSON encoding or a :class:`~._result.Raised` (see :mod:`._result`), and a
call that outlives its timeout becomes :class:`FunctionTimeoutError`.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextvars
import functools
import logging
import sys
from collections.abc import Callable, Coroutine
from typing import Any, Protocol

from navai_core._functions._deadlines import LoopDeadlines
from navai_core._functions._result import Outcome, Raised, encode_result
from navai_core._threads import BackgroundLoop, WorkerPool
from navai_core.exceptions import FunctionExecutionError, FunctionTimeoutError

__all__ = ["Runner", "Timed"]

logger = logging.getLogger("navai.functions")

# The cancellation message of a pooled call whose deadline passed: set by the timer, so
# this call's own expiry is told apart from the caller being cancelled.
_EXPIRED = "navai: the call's timeout passed"


class Timed(Protocol):
    """What running needs to know about a tool."""

    @property
    def name(self) -> str: ...
    @property
    def timeout_seconds(self) -> float: ...
    @property
    def is_async(self) -> bool: ...


def run_sync(call: Callable[[], Any], function_name: str, max_bytes: int) -> Outcome:
    """Run a sync call and encode its result (in a worker thread)."""
    try:
        result = call()
    except BaseException as exc:
        # BaseException too: `sys.exit()` or a stray KeyboardInterrupt in a function is
        # that function's failure, and must not end the thread serving the request.
        return Raised(exc)
    return encode_result(result, function_name, max_bytes)


async def run_async(call: Callable[[], Any], function_name: str, max_bytes: int) -> Outcome:
    """Await an async call and encode its result."""
    try:
        result = await call()
    except asyncio.CancelledError:
        raise  # the call is being cancelled (its timeout): let asyncio finish that
    except BaseException as exc:
        # SystemExit or KeyboardInterrupt raised in a task would stop the event loop,
        # and with it the whole server: it is the function's failure, nothing more.
        return Raised(exc)
    return encode_result(result, function_name, max_bytes)


def expire(future: asyncio.Future[Any]) -> None:
    """The timer's action on a pooled call's future: cancel it, saying why."""
    if not future.done():
        future.cancel(_EXPIRED)


def _cancelled_itself(function_name: str) -> FunctionExecutionError:
    """The failure of a call that ended cancelled though nobody cancelled it."""
    return FunctionExecutionError(function_name, "The call was cancelled.")


def _cancel_task(task: asyncio.Task[Any]) -> None:
    task.cancel()


def _being_cancelled() -> bool:
    """Whether the running task was asked to stop (Python 3.11+: ``Task.cancelling``)."""
    task = asyncio.current_task()
    cancelling: Callable[[], int] | None = getattr(task, "cancelling", None)
    return cancelling is None or cancelling() > 0


class _CancelledItself(Exception):  # noqa: N818 - internal marker, never seen outside
    """An async function raised ``CancelledError`` though nobody cancelled it (3.10)."""


async def _in_own_task(coroutine: Coroutine[Any, Any, Outcome], timeout: float) -> Outcome:
    """Python 3.10's stand-in for ``asyncio.timeout`` plus ``Task.cancelling``.

    The function runs in a task of its own, waited for with ``asyncio.wait``, which
    never raises what the task raised: so a ``CancelledError`` reaching this frame means
    the caller was cancelled, and a task that ended cancelled without being asked to
    means the function raised ``CancelledError`` itself.
    """
    task = asyncio.ensure_future(coroutine)
    try:
        done, _ = await asyncio.wait((task,), timeout=timeout)
    except asyncio.CancelledError:
        task.cancel()
        await asyncio.wait((task,))  # as wait_for does: let it run its cleanup first
        raise
    if not done:
        task.cancel()
        await asyncio.wait((task,))
        raise asyncio.TimeoutError
    if task.cancelled():
        raise _CancelledItself
    return task.result()


def _timed_out(tool: Timed) -> FunctionTimeoutError:
    logger.warning(
        "Function %r did not finish within %g seconds",
        tool.name,
        tool.timeout_seconds,
    )
    return FunctionTimeoutError(tool.name, tool.timeout_seconds)


class Runner:
    """Runs prepared calls on time: the worker pool, the background loop, the deadlines.

    Args:
        max_workers: The most sync functions running at once.
    """

    def __init__(self, max_workers: int) -> None:
        self.pool = WorkerPool(max_workers)
        self.loop = BackgroundLoop()
        self._deadlines = LoopDeadlines()

    def run(self, tool: Timed, call: Callable[[], Any], max_bytes: int) -> Outcome:
        """From sync code: run the call (in the pool, or on the background loop) and wait.

        The caller's thread only waits, so the timeout holds even when the function
        does not return.

        Raises:
            FunctionTimeoutError: The call took longer than its timeout.
            FunctionExecutionError: An async function cancelled itself.
        """
        future: concurrent.futures.Future[Outcome]
        if tool.is_async:
            future = self.loop.submit(
                functools.partial(run_async, call, tool.name, max_bytes),
                contextvars.copy_context(),
            )
        else:
            future = self.pool.submit(
                contextvars.copy_context().run, run_sync, call, tool.name, max_bytes
            )
        try:
            return future.result(tool.timeout_seconds)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise _timed_out(tool) from None
        except concurrent.futures.CancelledError:
            raise _cancelled_itself(tool.name) from None

    async def arun(self, tool: Timed, call: Callable[[], Any], max_bytes: int) -> Outcome:
        """From async code: await an async call here, or a sync one in the pool.

        Raises:
            FunctionTimeoutError: The call took longer than its timeout.
            FunctionExecutionError: An async function cancelled itself.
        """
        if not tool.is_async:
            return await self._run_in_pool(tool, call, max_bytes)
        if sys.version_info >= (3, 11):
            return await self._run_on_loop(tool, call, max_bytes)
        return await self._run_async_310(tool, call, max_bytes)  # Python 3.10

    if sys.version_info >= (3, 11):

        async def _run_on_loop(
            self, tool: Timed, call: Callable[[], Any], max_bytes: int
        ) -> Outcome:
            """An async function's outcome, awaited here, or ``FunctionTimeoutError``.

            What ``asyncio.timeout`` does, with the timer shared (see ``_deadlines``): on
            expiry the task is cancelled, and the cancellation is turned into the timeout
            here unless someone else cancelled the task too.
            """
            task = asyncio.current_task()
            if task is None:
                msg = "aexecute() must run in an asyncio task (await it from a coroutine)."
                raise RuntimeError(msg)
            cancelling = task.cancelling()
            group, deadline = self._deadlines.start(
                task.get_loop(), tool.timeout_seconds, _cancel_task, task
            )
            try:
                outcome = await run_async(call, tool.name, max_bytes)
            except asyncio.CancelledError:
                if deadline.expired and task.uncancel() <= cancelling:
                    raise _timed_out(tool) from None
                if _being_cancelled():
                    raise
                # The function raised CancelledError itself; nobody cancelled this call.
                raise _cancelled_itself(tool.name) from None
            finally:
                group.finish(deadline)
            if deadline.expired:  # it swallowed the cancellation and returned: take it back
                task.uncancel()
            return outcome

    async def _run_async_310(self, tool: Timed, call: Callable[[], Any], max_bytes: int) -> Outcome:
        try:
            return await _in_own_task(run_async(call, tool.name, max_bytes), tool.timeout_seconds)
        except asyncio.TimeoutError:
            raise _timed_out(tool) from None
        except asyncio.CancelledError:
            if _being_cancelled():
                raise
            raise _cancelled_itself(tool.name) from None
        except _CancelledItself:
            raise _cancelled_itself(tool.name) from None

    async def _run_in_pool(self, tool: Timed, call: Callable[[], Any], max_bytes: int) -> Outcome:
        """A sync function's outcome, run in the pool, or ``FunctionTimeoutError``.

        On expiry, the deadline cancels the future itself (with its own message): no
        task is cancelled. A call still running then keeps its thread (Python cannot
        stop it); its result is dropped.
        """
        future: asyncio.Future[Outcome] = self.pool.run(
            contextvars.copy_context().run, run_sync, call, tool.name, max_bytes
        )
        group, deadline = self._deadlines.start(
            future.get_loop(), tool.timeout_seconds, expire, future
        )
        try:
            return await future
        except asyncio.CancelledError as exc:
            if deadline.expired and exc.args[:1] == (_EXPIRED,):
                raise _timed_out(tool) from None
            raise
        finally:
            group.finish(deadline)

    def close(self) -> None:
        """Stop the worker threads and the background loop."""
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.loop.close()

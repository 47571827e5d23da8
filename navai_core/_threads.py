"""Threads the core runs work on: a bounded pool of daemon workers and a background loop.

The functions registry runs sync tools in a :class:`WorkerPool` and, for sync callers,
async tools on a :class:`BackgroundLoop`; minting runs its sync attempts in a pool too,
so that a caller can stop waiting at a deadline.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import queue
import threading
import weakref
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

from navai_core import _handback
from navai_core._handback import Handback

__all__ = ["BackgroundLoop", "WorkerPool"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_WorkItem = tuple[
    "concurrent.futures.Future[Any] | Handback", Callable[..., Any], tuple[Any, ...], Any
]


class WorkerPool(concurrent.futures.Executor):
    """At most ``max_workers`` daemon threads, started on demand, fed from one queue.

    Unlike ``ThreadPoolExecutor``, the threads are daemons: Python cannot stop a thread,
    so a function stuck past its timeout keeps its thread, and with non-daemon threads it
    would also keep the process from exiting on Ctrl+C. A burst of calls beyond
    ``max_workers`` waits in the queue instead of starting more threads; the time spent
    waiting counts toward each call's timeout, because the caller's clock starts at
    submission.

    Args:
        max_workers: The most threads, and so the most functions running at once.
        name: Prefix for thread names (shown in logs and debuggers).
    """

    def __init__(self, max_workers: int, name: str = "navai-function") -> None:
        self._max_workers = max_workers
        self._name = name
        self._queue: queue.SimpleQueue[_WorkItem | None] = queue.SimpleQueue()
        self._idle = 0  # threads waiting for work; guarded by _lock (cheaper than a Semaphore)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False
        self._handbacks: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Handback] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def thread_count(self) -> int:
        """How many worker threads have been started."""
        return len(self._threads)

    def submit(
        self, fn: Callable[_P, _T], /, *args: _P.args, **kwargs: _P.kwargs
    ) -> concurrent.futures.Future[_T]:
        """Queue ``fn(*args, **kwargs)``; a thread is started if none is idle and there is room.

        Raises:
            RuntimeError: The pool was shut down.
        """
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()
        self._put((future, fn, args, kwargs))
        return future

    def run(self, fn: Callable[..., _T], /, *args: Any) -> asyncio.Future[_T]:
        """From a running event loop: queue ``fn(*args)`` and return an asyncio future for it.

        What ``loop.run_in_executor(pool, fn, *args)`` does, with the results handed
        back many per loop wake-up (see :mod:`navai_core._handback`; with that switched
        off, it is ``run_in_executor``). Cancelling the future before a thread picks the
        call up skips it; once running, the call finishes and its result is dropped.

        Raises:
            RuntimeError: The pool was shut down, or no event loop is running.
        """
        loop = asyncio.get_running_loop()
        if not _handback.ENABLED:
            return loop.run_in_executor(self, fn, *args)
        handback = self._handbacks.get(loop)
        if handback is None:
            handback = self._handbacks.setdefault(loop, Handback(loop))
        future: asyncio.Future[_T] = loop.create_future()
        self._put((handback, fn, args, future))
        return future

    def _put(self, item: _WorkItem) -> None:
        with self._lock:
            if self._shutdown:
                msg = "The worker pool is closed; no more calls can run."
                raise RuntimeError(msg)
            self._queue.put(item)
            if self._idle:
                self._idle -= 1  # that thread takes it
            elif len(self._threads) < self._max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self._name}-{len(self._threads) + 1}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            target, fn, args, extra = item
            del item
            ok, value = self._call(target, fn, args, extra)
            # Idle from here on, before the caller hears back: a caller that queues its
            # next call as soon as it has this result finds this thread, not a new one.
            with self._lock:
                self._idle += 1
            if ok is None:
                pass  # cancelled, or timed out, while it waited in the queue: not run
            elif isinstance(target, Handback):
                target.put(extra, ok, value)
            elif ok:
                target.set_result(value)
            else:
                target.set_exception(value)
            del target, fn, args, extra, value

    @staticmethod
    def _call(
        target: concurrent.futures.Future[Any] | Handback,
        fn: Callable[..., Any],
        args: tuple[Any, ...],
        extra: Any,
    ) -> tuple[bool | None, Any]:
        """``(True, result)``, ``(False, exception)``, or ``(None, None)``: not to be run."""
        if isinstance(target, Handback):
            # `extra` is the caller's asyncio future, read across threads: a stale
            # "not done" only means the call runs and its result is dropped.
            if extra.done():
                return None, None
            kwargs: dict[str, Any] = {}
        elif target.set_running_or_notify_cancel():
            kwargs = extra
        else:
            return None, None
        try:
            return True, fn(*args, **kwargs)
        except BaseException as exc:  # the caller's future carries it
            return False, exc

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Stop taking calls; threads end once they finish what they are running.

        Args:
            wait: Wait for the threads to end (a stuck function makes this wait forever;
                the registry does not wait).
            cancel_futures: Cancel calls still waiting in the queue.
        """
        with self._lock:
            if self._shutdown:
                return
            self._shutdown = True
            threads = list(self._threads)
        if cancel_futures:
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                assert item is not None  # None is only queued below, once
                target, _, _, extra = item
                if isinstance(target, Handback):  # an asyncio future: cancel it on its loop
                    target.call_soon(extra.cancel)
                else:
                    target.cancel()
        for _ in threads:
            self._queue.put(None)
        if wait:
            for thread in threads:
                thread.join()


class BackgroundLoop:
    """One long-lived event loop in a daemon thread, for async functions called from sync code.

    A WSGI server calls the registry from plain threads. Running each async function
    with ``asyncio.run`` would create and tear down a loop per call, and would break
    anything the function caches per loop (an ``httpx.AsyncClient``, a connection
    pool). So all such calls share this one loop, started on first use.
    """

    def __init__(self, name: str = "navai-async-functions") -> None:
        self._name = name
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._closed = False

    def _ensure(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._closed:
                msg = "The background loop is closed; no more calls can run."
                raise RuntimeError(msg)
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=self._run, args=(loop,), name=self._name, daemon=True
                )
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @staticmethod
    def _run(loop: asyncio.AbstractEventLoop) -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_forever()
        finally:
            tasks = asyncio.all_tasks(loop)
            for task in tasks:
                task.cancel()
            if tasks:
                loop.run_until_complete(asyncio.gather(*tasks, return_exceptions=True))
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    def submit(
        self,
        factory: Callable[[], Coroutine[Any, Any, _T]],
        context: contextvars.Context,
    ) -> concurrent.futures.Future[_T]:
        """Run ``factory()`` as a task on the loop, inside ``context``.

        The coroutine is created on the loop's thread, so a call cancelled before it
        starts leaves no never-awaited coroutine behind. Cancelling the returned future
        cancels the task.
        """
        loop = self._ensure()
        future: concurrent.futures.Future[_T] = concurrent.futures.Future()

        def start() -> None:
            if future.cancelled():
                return
            # ``create_task`` copies the current context: run it inside the caller's,
            # so context variables set before the call are visible (Python 3.10 has no
            # ``context=`` argument).
            task = context.run(loop.create_task, factory())

            def on_task_done(done: asyncio.Task[_T]) -> None:
                if future.done():
                    return
                try:
                    if done.cancelled():
                        future.cancel()
                    elif (error := done.exception()) is not None:
                        future.set_exception(error)
                    else:
                        future.set_result(done.result())
                except concurrent.futures.InvalidStateError:  # pragma: no cover - a race
                    pass  # the caller cancelled it at this very moment

            def on_future_done(done: concurrent.futures.Future[_T]) -> None:
                if done.cancelled():
                    with contextlib.suppress(RuntimeError):  # the loop is already closed
                        loop.call_soon_threadsafe(task.cancel)

            task.add_done_callback(on_task_done)
            future.add_done_callback(on_future_done)

        loop.call_soon_threadsafe(start)
        return future

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float | None = None) -> _T:
        """Run ``coroutine`` on the loop and wait for its result.

        After ``timeout`` seconds it is cancelled and ``concurrent.futures.TimeoutError``
        raised.
        """
        future = self.submit(lambda: coroutine, contextvars.copy_context())
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def call(self, function: Callable[[], _T], timeout: float | None = None) -> _T:
        """Call ``function`` on the loop's thread (where it may create tasks); its result."""

        async def call() -> _T:
            return function()

        return self.run(call(), timeout)

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop, once started."""
        return self._loop

    def close(
        self, last: Callable[[], Awaitable[object]] | None = None, timeout: float = 5.0
    ) -> None:
        """Stop the loop, and wait (up to ``timeout``) for its thread.

        ``last()``, a clean-up, runs on the loop first if the loop started; then what still
        runs is cancelled.
        """
        if last is not None and self._loop is not None and not self._closed:

            async def finish() -> None:
                await last()

            with contextlib.suppress(Exception):
                self.run(finish(), timeout)
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

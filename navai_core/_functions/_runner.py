"""Where functions run: a bounded pool of worker threads and one background event loop."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import contextvars
import queue
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

__all__ = ["BackgroundLoop", "WorkerPool"]

_P = ParamSpec("_P")
_T = TypeVar("_T")

_WorkItem = tuple[
    "concurrent.futures.Future[Any]", Callable[..., Any], tuple[Any, ...], dict[str, Any]
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
        self._idle = threading.Semaphore(0)
        self._threads: list[threading.Thread] = []
        self._lock = threading.Lock()
        self._shutdown = False

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
        with self._lock:
            if self._shutdown:
                msg = "The function registry is closed; no more calls can run."
                raise RuntimeError(msg)
            self._queue.put((future, fn, args, kwargs))
            if not self._idle.acquire(blocking=False) and len(self._threads) < self._max_workers:
                thread = threading.Thread(
                    target=self._work,
                    name=f"{self._name}-{len(self._threads) + 1}",
                    daemon=True,
                )
                thread.start()
                self._threads.append(thread)
        return future

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            future, fn, args, kwargs = item
            del item
            if future.set_running_or_notify_cancel():
                try:
                    result = fn(*args, **kwargs)
                except BaseException as exc:  # the caller's future carries it
                    future.set_exception(exc)
                    del exc
                else:
                    future.set_result(result)
                    del result
            del future, fn, args, kwargs
            self._idle.release()

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
                item[0].cancel()
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
                msg = "The function registry is closed; no more calls can run."
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

    @property
    def loop(self) -> asyncio.AbstractEventLoop | None:
        """The loop, once started."""
        return self._loop

    def close(self, timeout: float = 5.0) -> None:
        """Cancel what still runs, stop the loop and wait (up to ``timeout``) for its thread."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout)

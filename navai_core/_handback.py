"""Handing pooled results back to an event loop, many per wake-up.

The worker pool's replacement for what ``loop.run_in_executor`` does on the way back:
``run_in_executor`` wakes the loop once per call (``call_soon_threadsafe`` writes to its
self-pipe) and chains a ``concurrent.futures.Future`` to an asyncio one; under load that
hand-off costs more than a trivial function's own run (see docs/performance.md).

The standard-library path is one switch away: set ``NAVAI_STDLIB_EXECUTOR=1`` in the
environment before importing NAVAI, or set :data:`ENABLED` to ``False``; the pool then
uses ``loop.run_in_executor``. Tests run the registry both ways.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import os
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["ENABLED", "Handback"]

# Whether WorkerPool.run hands results back here; False: loop.run_in_executor.
ENABLED: bool = os.environ.get("NAVAI_STDLIB_EXECUTOR", "").strip().lower() not in (
    "1",
    "true",
    "yes",
    "on",
)


class Handback:
    """Hands results back to one event loop, many per wake-up.

    A worker appends ``(future, ok, value)`` to a deque and wakes the loop only
    when no wake-up is already on its way; the loop then settles everything queued. The
    order matters for not losing a result: :meth:`_settle` clears the flag *before*
    taking from the deque, and a worker appends *before* reading the flag, so whatever a
    worker appends is either taken by a settle already scheduled or schedules one.

    The loop is held weakly: handbacks are the values of a dict keyed weakly by loop,
    and a value that held its key would keep every loop that ever ran a call alive.
    """

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = weakref.ref(loop)
        self._done: collections.deque[tuple[asyncio.Future[Any], bool, Any]] = collections.deque()
        self._scheduled = False

    def put(self, future: asyncio.Future[Any], ok: bool, value: Any) -> None:
        """Called from a worker thread: queue one outcome and make sure the loop looks."""
        self._done.append((future, ok, value))
        if not self._scheduled:
            self._scheduled = True
            self.call_soon(self._settle)

    def call_soon(self, callback: Callable[[], object]) -> None:
        """From any thread: run ``callback`` on the loop, unless it is closed or gone."""
        loop = self._loop()
        if loop is not None:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                loop.call_soon_threadsafe(callback)

    def _settle(self) -> None:
        self._scheduled = False
        done = self._done
        while done:
            future, ok, value = done.popleft()
            if future.done():  # cancelled: the caller gave up (its timeout)
                continue
            if ok:
                future.set_result(value)
            else:
                future.set_exception(value)

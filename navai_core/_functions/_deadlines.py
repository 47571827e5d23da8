"""Call deadlines on an event loop: one timer per timeout value, not one per call.

Every call of a tool has a timeout. ``asyncio.timeout`` (or ``loop.call_later``) per call
arms and disarms a loop timer each time, which on the execute route costs as much as
NAVAI's own work for a trivial function (see docs/performance.md). But the calls on one loop
that share a timeout value (usually all of them: ``NAVAI_FUNCTION_TIMEOUT``) also expire
in the order they started, since the loop's clock only goes forward. So each such group is
kept in one insertion-ordered dict, oldest first, under at most one timer, armed for the
oldest call still running. Starting and finishing a call is a dict insert and a delete; the
timer fires about once per timeout period, finds the oldest call long finished, and is
armed again for the call that is now the oldest.

Single-threaded by design: everything here runs on the loop's own thread.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable
from typing import Any

__all__ = ["Deadline", "LoopDeadlines"]

# Timers may fire a little early (uvloop rounds delays to whole milliseconds): a call
# within this much of its deadline is treated as due, rather than re-arming a timer that
# would fire again at once.
_SLACK = 0.001


class Deadline:
    """One running call's deadline, and whether it passed (``expired``)."""

    __slots__ = ("at", "expired", "on_expiry", "target")

    def __init__(self, at: float, on_expiry: Callable[[Any], object], target: object) -> None:
        self.at = at
        self.on_expiry = on_expiry
        self.target = target
        self.expired = False


class _Group:
    """The running calls on one loop that share one timeout value, oldest first."""

    # No reference to the loop is kept here, not even the timer's handle (it holds its
    # loop): the groups are values of a dict keyed weakly by loop, and a value holding
    # its key would keep that loop alive for good. The loop holds the timer, and so this
    # group, only while the timer is armed.
    __slots__ = ("_armed", "_running", "_seconds")

    def __init__(self, seconds: float) -> None:
        self._seconds = seconds
        self._running: dict[Deadline, None] = {}
        self._armed = False

    def start(
        self, loop: asyncio.AbstractEventLoop, on_expiry: Callable[[Any], object], target: object
    ) -> Deadline:
        deadline = Deadline(loop.time() + self._seconds, on_expiry, target)
        self._running[deadline] = None
        if not self._armed:
            loop.call_at(deadline.at, self._fire, loop)
            self._armed = True
        return deadline

    def finish(self, deadline: Deadline) -> None:
        # The timer stays armed even when nothing is left to watch: disarming and arming
        # it again would cost, when calls come one at a time, what this module saves. It
        # fires at most once more, finds nothing due, and is not armed again.
        self._running.pop(deadline, None)

    def _fire(self, loop: asyncio.AbstractEventLoop) -> None:
        self._armed = False
        due = loop.time() + _SLACK
        expired: list[Deadline] = []
        for deadline in self._running:
            if deadline.at > due:
                loop.call_at(deadline.at, self._fire, loop)
                self._armed = True
                break
            expired.append(deadline)
        for deadline in expired:
            del self._running[deadline]
            deadline.expired = True
            deadline.on_expiry(deadline.target)


class LoopDeadlines:
    """The deadline groups of every loop that runs calls, each found by its loop.

    Loops are held weakly: a loop that is gone takes its groups (and their timers) along.
    """

    def __init__(self) -> None:
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[float, _Group]] = (
            weakref.WeakKeyDictionary()
        )

    def start(
        self,
        loop: asyncio.AbstractEventLoop,
        seconds: float,
        on_expiry: Callable[[Any], object],
        target: object,
    ) -> tuple[_Group, Deadline]:
        """Watch a call that must end within ``seconds``; ``on_expiry(target)`` if not.

        Returns the group to hand back to :meth:`_Group.finish` once the call ended, and
        the deadline, whose ``expired`` says whether ``on_expiry`` ran.
        """
        groups = self._loops.get(loop)
        if groups is None:
            groups = self._loops.setdefault(loop, {})
        group = groups.get(seconds)
        if group is None:
            group = groups[seconds] = _Group(seconds)
        return group, group.start(loop, on_expiry, target)

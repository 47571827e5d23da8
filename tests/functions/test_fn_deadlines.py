"""Call deadlines: one timer per timeout value, expiring calls oldest first, on time."""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable
from typing import Any

import pytest

from navai_core._functions._deadlines import Deadline, LoopDeadlines, _Group
from navai_core._functions._running import expire as _expire
from navai_core.exceptions import FunctionTimeoutError

from .conftest import Load, Tree

# --- the keeper, on a loop whose clock the test moves ----------------------------------


class ClockLoop:
    """Just what the keeper uses of a loop (``time``, ``call_at``), on a test's clock."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[..., object], tuple[Any, ...]]] = []

    def time(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[..., object], *args: Any) -> None:
        self.timers.append((when, callback, args))

    def armed(self) -> list[float]:
        return sorted(when for when, _, _ in self.timers)

    def advance(self, to: float, *, early: float = 0.0) -> None:
        """Move the clock to ``to``; run the timers due (``early``: fire that much early)."""
        self.now = to
        due = sorted((t for t in self.timers if t[0] <= to + early), key=lambda t: t[0])
        self.timers = [t for t in self.timers if t not in due]
        for _, callback, args in due:
            callback(*args)


class Watcher:
    """Starts calls on a keeper and records which expired, in order."""

    def __init__(self, loop: ClockLoop) -> None:
        self.loop = loop
        self.keeper = LoopDeadlines()
        self.expired: list[str] = []

    def start(self, name: str, seconds: float = 10.0) -> tuple[_Group, Deadline]:
        return self.keeper.start(self.loop, seconds, self.expired.append, name)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> ClockLoop:
    return ClockLoop()


def test_calls_expire_oldest_first_each_at_its_own_deadline(clock: ClockLoop) -> None:
    watcher = Watcher(clock)
    started = {}
    for at, name in [(0.0, "a"), (1.0, "b"), (2.0, "c")]:
        clock.now = at
        started[name] = watcher.start(name)
    assert clock.armed() == [10.0]  # one timer for all three
    clock.advance(9.9)
    assert watcher.expired == []
    clock.advance(10.0)
    assert watcher.expired == ["a"]
    assert started["a"][1].expired
    assert not started["b"][1].expired
    assert clock.armed() == [11.0]  # armed again, for the oldest call left
    clock.advance(12.5)
    assert watcher.expired == ["a", "b", "c"]
    assert clock.armed() == []  # nothing left to watch: not armed again


def test_a_finished_call_never_expires(clock: ClockLoop) -> None:
    watcher = Watcher(clock)
    group, first = watcher.start("a")
    clock.now = 3.0
    watcher.start("b")
    group.finish(first)
    clock.advance(10.0)  # the timer armed for "a" fires and finds it gone
    assert watcher.expired == []
    assert not first.expired
    assert clock.armed() == [13.0]
    clock.advance(13.0)
    assert watcher.expired == ["b"]
    group.finish(first)  # finishing twice, or after expiry, is harmless


def test_many_calls_one_at_a_time_arm_one_timer(clock: ClockLoop) -> None:
    watcher = Watcher(clock)
    for step in range(1000):
        clock.now = step / 1000
        group, deadline = watcher.start("call")
        group.finish(deadline)
    assert clock.armed() == [10.0]  # not one per call
    clock.advance(10.0)
    assert clock.armed() == []
    assert watcher.expired == []


def test_a_timer_firing_a_little_early_still_expires_the_call(clock: ClockLoop) -> None:
    # uvloop rounds delays to whole milliseconds: a timer may fire just before its time.
    watcher = Watcher(clock)
    watcher.start("a")
    clock.advance(9.9995, early=0.001)
    assert watcher.expired == ["a"]
    assert clock.armed() == []  # not re-armed for a deadline half a millisecond away


def test_each_timeout_value_has_its_own_timer(clock: ClockLoop) -> None:
    watcher = Watcher(clock)
    watcher.start("long", 30.0)
    clock.now = 1.0
    watcher.start("short", 0.5)  # started later, due much earlier
    assert clock.armed() == [1.5, 30.0]
    clock.advance(1.5)
    assert watcher.expired == ["short"]
    clock.advance(30.0)
    assert watcher.expired == ["short", "long"]


def test_loops_are_held_weakly() -> None:
    keeper = LoopDeadlines()
    loop = asyncio.new_event_loop()
    group, deadline = keeper.start(loop, 30.0, lambda _: None, None)
    group.finish(deadline)
    loop.close()  # its timer is still armed: it dies with the loop
    del loop
    gc.collect()
    assert len(keeper._loops) == 0


# --- the registry's calls, on real loops ---------------------------------------------------

TOOLS = """
import asyncio
import time

from navai_core import navai_function

STATE = {"swallowed": 0}


@navai_function(timeout=5)
async def patient(seconds: float) -> str:
    await asyncio.sleep(seconds)
    return "done"


@navai_function(timeout=0.05)
async def hasty() -> str:
    await asyncio.sleep(5)
    return "never"


@navai_function(timeout=0.05)
def hasty_sync() -> str:
    time.sleep(0.3)
    return "never"


@navai_function(timeout=0.05)
async def stubborn(linger: float) -> str:
    try:
        await asyncio.sleep(5)
    except asyncio.CancelledError:
        STATE["swallowed"] += 1
    await asyncio.sleep(linger)
    return "kept going"


async def quick() -> int:
    return 1


def quick_sync() -> int:
    return 2
"""


@pytest.fixture
def tools(tree: Tree, load: Load):
    tree({"tools.py": TOOLS})
    return load()


@pytest.mark.asyncio
@pytest.mark.parametrize("name", ["hasty", "hasty_sync"])
async def test_a_short_timeout_is_not_held_up_by_a_long_one_running(tools, name: str) -> None:
    patient = asyncio.ensure_future(tools.aexecute("patient", {"seconds": 0.5}))
    await asyncio.sleep(0.01)
    started = time.monotonic()
    with pytest.raises(FunctionTimeoutError) as caught:
        await tools.aexecute(name)
    assert time.monotonic() - started < 0.4  # its own 0.05 s, not the other call's 5
    assert caught.value.timeout_seconds == 0.05
    assert await patient == "done"


@pytest.mark.skipif(sys.version_info < (3, 11), reason="Task.cancelling is Python 3.11+")
@pytest.mark.asyncio
async def test_a_call_that_swallows_its_timeout_returns_and_leaves_no_cancellation(tools):
    task = asyncio.current_task()
    assert task is not None
    assert await tools.aexecute("stubborn", {"linger": 0}) == "kept going"
    assert task.cancelling() == 0  # the expiry's cancellation was taken back
    await asyncio.sleep(0.01)  # and is not delivered at the next await
    assert await tools.aexecute("quick") == 1


@pytest.mark.asyncio
async def test_a_caller_cancelled_after_the_timeout_stays_cancelled(tools) -> None:
    # The timeout's cancellation is swallowed; the caller's own, later, must not become
    # a timeout or a result.
    call = asyncio.ensure_future(tools.aexecute("stubborn", {"linger": 1}))
    await asyncio.sleep(0.2)  # past the 0.05 s timeout, while it lingers
    call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await call


def test_calls_on_one_loop_share_one_timer(tools) -> None:
    loop = asyncio.new_event_loop()
    armed: list[float] = []
    call_at = loop.call_at

    def counting_call_at(
        when: float, callback: Callable[..., object], *args: Any, **kw: Any
    ) -> Any:
        armed.append(when)
        return call_at(when, callback, *args, **kw)

    loop.call_at = counting_call_at  # type: ignore[method-assign]

    # Python 3.10 runs async functions in a task of their own, under asyncio.wait's timer.
    names = ["quick", "quick_sync"] if sys.version_info >= (3, 11) else ["quick_sync"]

    async def calls() -> list[int]:
        return [await tools.aexecute(name) for name in names * 50]

    try:
        assert loop.run_until_complete(calls()) == [tools.execute(name) for name in names] * 50
    finally:
        loop.close()
    assert len(armed) == 1  # a hundred calls (or fifty), one timer, not one per call


@pytest.mark.skipif(sys.version_info < (3, 11), reason="3.10 runs the function in a task")
def test_awaiting_outside_a_task_is_a_clear_error(tools) -> None:
    loop = asyncio.new_event_loop()
    raised: list[BaseException] = []

    def drive_by_hand() -> None:  # on the loop, but in no task
        coroutine = tools.aexecute("quick")
        try:
            coroutine.send(None)
        except BaseException as error:
            raised.append(error)

    loop.call_soon(drive_by_hand)
    loop.call_soon(loop.stop)
    try:
        loop.run_forever()
    finally:
        loop.close()
    assert len(raised) == 1
    assert isinstance(raised[0], RuntimeError)
    assert "must run in an asyncio task" in str(raised[0])


def test_a_deadline_passing_as_the_result_lands_keeps_the_result() -> None:
    # The timer and the worker's hand-back can land in the same loop iteration: the
    # result is there first, so the expiry must leave it alone.
    loop = asyncio.new_event_loop()
    try:
        future = loop.create_future()
        future.set_result("in time")
        _expire(future)
        assert future.result() == "in time"
    finally:
        loop.close()

"""Backend functions the security suite calls: well-behaved ones and every kind of fault."""

from __future__ import annotations

import asyncio
import sys
import threading
import time
from typing import Any

from navai_core import FunctionContext

# A string a test looks for in the server's log (the traceback) and never in a response.
FAULT_MARKER = "fault-marker-3c1d"


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def echo(text: str) -> str:
    """Answer the text it was given."""
    return text


def whoami(context: FunctionContext) -> str | None:
    """Say which user the request's headers name."""
    return context.headers.get("x-user")


async def nap(seconds: float) -> str:
    """Sleep without blocking the event loop."""
    await asyncio.sleep(seconds)
    return "rested"


def doze(seconds: float) -> str:
    """Sleep in a worker thread."""
    time.sleep(seconds)
    return "rested"


def boom() -> None:
    """Fail the way a buggy function does, deep in its own code."""
    _inner_helper()


def _inner_helper() -> None:
    raise ValueError(f"the widget is broken ({FAULT_MARKER})")


class _UnprintableError(Exception):
    def __str__(self) -> str:
        raise RuntimeError("this exception cannot be shown")


def unprintable() -> None:
    """Raise an exception whose message itself fails."""
    raise _UnprintableError


def leave() -> None:
    """Call sys.exit() from a sync function."""
    sys.exit(3)


async def aleave() -> None:
    """Call sys.exit() from an async function."""
    sys.exit(4)


def interrupt() -> None:
    """Raise KeyboardInterrupt from a worker thread."""
    raise KeyboardInterrupt


def opaque() -> object:
    """Return something JSON has no form for."""
    return threading.Lock()


def numbers() -> Any:
    """Return a generator."""
    return (n for n in range(3))


def huge(size: int) -> str:
    """Return a string of ``size`` characters."""
    return "x" * size


def shout(size: int) -> None:
    """Fail with a message of ``size`` characters."""
    raise RuntimeError("y" * size)


def deep() -> list[Any]:
    """Return a list nested far deeper than JSON encoders go."""
    value: list[Any] = []
    for _ in range(50_000):
        value = [value]
    return value


def cyclic() -> dict[str, Any]:
    """Return a dict that contains itself."""
    value: dict[str, Any] = {}
    value["self"] = value
    return value


def keyed() -> dict[Any, int]:
    """Return a dict with a key JSON cannot have."""
    return {(1, 2): 3}


class Counter:
    """A counter built per call."""

    def __init__(self, start: int = 0) -> None:
        self.start = start

    def plus(self, n: int) -> int:
        """Add ``n`` to the start."""
        return self.start + n


def held(gate: str, seconds: float = 30) -> str:
    """Block a worker thread until the test opens ``gate`` (``seconds`` at most)."""
    from tests.gates import gate as find  # only in this process's tests, hence imported here

    at = find(gate)
    at.enter()
    try:
        at.opened.wait(seconds)
    finally:
        at.leave()
    return "released"


async def aheld(gate: str, seconds: float = 30) -> str:
    """Wait, without blocking the loop, until the test opens ``gate``; note a cancellation."""
    from tests.gates import gate as find

    at = find(gate)
    at.enter()
    try:
        for _ in range(int(seconds / 0.01)):
            if at.opened.is_set():
                break
            await asyncio.sleep(0.01)
    except asyncio.CancelledError:
        at.cancelled.set()
        raise
    finally:
        at.leave()
    return "released"

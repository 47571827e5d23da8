"""Backend functions the server-side tools tests call over the sideband."""

from __future__ import annotations

import asyncio
import threading

from navai_core import FunctionContext, navai_function

_barriers: dict[str, threading.Barrier] = {}
_lock = threading.Lock()


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def whoami(context: FunctionContext) -> dict[str, object]:
    """Say which call and which caller the tool runs for."""
    return {
        "call_id": context.call_id,
        "function": context.function_name,
        "user": context.headers.get("x-user"),
    }


def explode() -> None:
    """Fail the way a buggy function does."""
    raise ValueError("the widget is broken")


@navai_function(timeout=0.2)
async def stall() -> str:
    """Take longer than its timeout allows."""
    await asyncio.sleep(30)
    return "never"


def rendezvous(key: str, parties: int = 2) -> str:
    """Wait for ``parties`` calls with the same key: only concurrent calls all return.

    Args:
        key: Calls with the same key meet.
        parties: How many calls meet.
    """
    with _lock:
        barrier = _barriers.setdefault(key, threading.Barrier(parties, timeout=5))
    barrier.wait()
    return f"met {key}"

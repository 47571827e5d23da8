"""Backend functions the HTTP contract suite calls."""

from __future__ import annotations

import asyncio
import time

from navai_core import FunctionContext
from navai_core.exceptions import ToolError


def add(a: int, b: int) -> int:
    """Add two whole numbers.

    Args:
        a: The first number.
        b: The second number.
    """
    return a + b


def whoami(context: FunctionContext) -> dict[str, object]:
    """Say who is calling, from the request headers."""
    return {
        "user": context.headers.get("x-user"),
        "function": context.function_name,
        "has_request": context.request is not None,
    }


def explode() -> None:
    """Fail the way a buggy function does."""
    raise ValueError("the widget is broken")


def refuse(order_id: str) -> None:
    """Fail on purpose, with a message for the caller."""
    raise ToolError(f"Order {order_id} was not found.")


async def nap(seconds: float) -> str:
    """Sleep without blocking, then answer."""
    await asyncio.sleep(seconds)
    return "rested"


def doze(seconds: float) -> str:
    """Sleep in a worker thread, then answer."""
    time.sleep(seconds)
    return "rested"


class Counter:
    """A counter built per call."""

    def __init__(self, start: int = 0) -> None:
        self.start = start

    def plus(self, n: int) -> int:
        """Add ``n`` to the start."""
        return self.start + n

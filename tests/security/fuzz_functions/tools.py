"""Harmless backend functions for the fuzzer: quick, no side effects, any input welcome."""

from __future__ import annotations

from typing import Any

from navai_core import FunctionContext
from navai_core.exceptions import ToolError


def add(a: int, b: int) -> int:
    """Add two whole numbers."""
    return a + b


def echo(value: Any = None) -> Any:
    """Answer whatever JSON it was given."""
    return value


def whoami(context: FunctionContext, greeting: str = "hello") -> str:
    """Greet the user the request's headers name."""
    return f"{greeting}, {context.headers.get('x-user', 'stranger')}"


def refuse(reason: str) -> None:
    """Fail on purpose, with a message for the caller."""
    raise ToolError(reason)


class Counter:
    """A counter built per call."""

    def __init__(self, start: int = 0) -> None:
        self.start = start

    def plus(self, n: int = 1) -> int:
        """Add ``n`` to the start."""
        return self.start + n

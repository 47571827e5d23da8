"""Flows and their drivers: every HTTP exchange is decided once, with no IO.

A flow is a generator. It yields what to do next (a request to send, or a
:class:`Sleep` before trying again), is sent what came of it, and returns the result.
All the deciding (retries, deadlines, parsing) is in the flow, written once; the two
drivers here only walk it, one blocking and one async, with a ``send`` the caller gives.
The shape is httpx's and authlib's: a pure core, thin sync and async drivers.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Generator
from typing import TypeAlias, TypeVar

import attrs
import httpx

__all__ = ["Answer", "Flow", "Sleep", "adrive", "drive"]

_Step = TypeVar("_Step")
_Outcome = TypeVar("_Outcome")
_T = TypeVar("_T")


@attrs.frozen
class Sleep:
    """Wait this long, then send the flow ``None``."""

    seconds: float


@attrs.frozen
class Answer:
    """What came back: all a flow needs of a response, read in full."""

    status_code: int
    headers: httpx.Headers
    content: bytes


#: A flow that yields steps of type ``S`` (or :class:`Sleep`), is sent outcomes of type
#: ``O`` (``None`` first and after a sleep) and returns a ``T``.
Flow: TypeAlias = Generator[_Step | Sleep, _Outcome | None, _T]


def drive(flow: Flow[_Step, _Outcome, _T], send: Callable[[_Step], _Outcome]) -> _T:
    """Walk ``flow`` to its result, blocking: ``send`` each step, sleep each :class:`Sleep`."""
    outcome: _Outcome | None = None
    try:
        while True:
            step = flow.send(outcome)
            if isinstance(step, Sleep):
                time.sleep(step.seconds)
                outcome = None
            else:
                outcome = send(step)
    except StopIteration as done:
        result: _T = done.value
        return result


async def adrive(
    flow: Flow[_Step, _Outcome, _T], send: Callable[[_Step], Awaitable[_Outcome]]
) -> _T:
    """Walk ``flow`` to its result on the event loop: the async twin of :func:`drive`."""
    outcome: _Outcome | None = None
    try:
        while True:
            step = flow.send(outcome)
            if isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
                outcome = None
            else:
                outcome = await send(step)
    except StopIteration as done:
        result: _T = done.value
        return result

"""One call to an upstream API, written once: what to send, the retry flow, the drivers.

Every upstream call (a mint, a synthesis, a WebRTC call and its hangup) is an
:class:`UpstreamCall`: the API it goes to, the request, how to read the answer, and
how long and how often to try. :func:`retry_flow` decides every step of it with no IO
(a :mod:`navai_core._flow` flow); :func:`send_call` and :func:`asend_call` walk that flow
over ``httpx.Client`` or ``httpx.AsyncClient``, and are the only code here that does IO.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from http import HTTPStatus
from typing import Generic, Protocol, TypeAlias, TypeVar

import attrs
import httpx

from navai_core._config._options import RetryPolicy
from navai_core._flow import Answer, Flow, Sleep, adrive, drive
from navai_core._redact import redact
from navai_core._threads import WorkerPool
from navai_core._upstream._transport import new_async_client
from navai_core.exceptions import UpstreamError, UpstreamTimeoutError

__all__ = [
    "OutgoingRequest",
    "Send",
    "Upstream",
    "UpstreamCall",
    "asend_call",
    "body_text",
    "parsed_url",
    "post_request",
    "retry_flow",
    "send_call",
]

logger = logging.getLogger("navai")

_RETRYABLE_STATUS = frozenset({408, 409, 429})
_MAX_UPSTREAM_MESSAGE = 500
_T = TypeVar("_T")


@attrs.frozen
class Upstream:
    """How one upstream API is named in errors, and how its error bodies read."""

    label: str  # "OpenAI client_secrets": every message starts "{label} failed (STATUS): "
    timeout_hint: str  # how to fix a timeout
    error_detail: Callable[[int, bytes], str]

    def error(self, status: int, detail: str, secrets: tuple[str, ...] = ()) -> UpstreamError:
        """``{label} failed ({status}): {detail}``, scrubbed of ``secrets`` and cut short."""
        detail = redact(detail, secrets)
        if len(detail) > _MAX_UPSTREAM_MESSAGE:
            detail = detail[:_MAX_UPSTREAM_MESSAGE] + "..."
        # An upstream 4xx is the caller's to fix and keeps its status; the rest is a bad gateway.
        http_status = status if 400 <= status < 500 else 502  # noqa: PLR2004
        return UpstreamError(
            f"{self.label} failed ({status}): {detail}",
            status_code=http_status,
            upstream_status=status,
        )

    def refused(self, status: int, content: bytes, secrets: tuple[str, ...] = ()) -> UpstreamError:
        """The error for an answer that says it failed, with the message its body gives."""
        return self.error(status, self.error_detail(status, content), secrets)


class OutgoingRequest(Protocol):
    """A request value that knows its URL, the secrets it carries and its httpx form."""

    @property
    def url(self) -> str: ...

    @property
    def secrets(self) -> tuple[str, ...]: ...

    def to_httpx(self, timeout: float) -> httpx.Request: ...


@attrs.frozen
class UpstreamCall(Generic[_T]):
    """One upstream call, fully decided.

    Attributes:
        api: Where it goes (named in errors).
        request: What to send; its ``secrets`` are scrubbed from every error.
        parse: Reads an answer that is not retried (success or a final 4xx).
        timeout: Seconds for the whole call, retries and waits included.
        retry: How often, and how long to wait between attempts.
    """

    api: Upstream
    request: OutgoingRequest
    parse: Callable[[Answer], _T]
    timeout: float
    retry: RetryPolicy


@attrs.frozen
class Send:
    """Send this request; give up on it after ``timeout`` seconds."""

    request: httpx.Request
    timeout: float


_Outcome: TypeAlias = "Answer | httpx.TransportError"
_UpstreamFlow: TypeAlias = Flow[Send, _Outcome, _T]


# --- building requests ------------------------------------------------------------------------


@functools.lru_cache(maxsize=32)
def parsed_url(url: str) -> httpx.URL:
    # httpx.URL is immutable: one parsed copy per configured base URL is enough.
    return httpx.URL(url)


def post_request(
    url: str, headers: Mapping[str, str], content: bytes, timeout: float
) -> httpx.Request:
    """A ``POST`` of ``content`` that gives up after ``timeout`` seconds per phase.

    Built the cheap way, as it is on the path of every session start: the URL parsed
    once per base URL, and the headers httpx would add (Host, Content-Length) given up
    front, which spares its header passes. The request is what ``content=`` makes: the
    same headers in the same order, ``.content`` readable.
    """
    parsed = parsed_url(url)
    request = httpx.Request(
        "POST",
        parsed,
        headers=[
            ("Host", parsed.netloc.decode("ascii")),
            *headers.items(),
            ("Content-Length", str(len(content))),
        ],
        stream=httpx.ByteStream(content),
        extensions={
            "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
        },
    )
    request.read()
    return request


# --- errors -----------------------------------------------------------------------------------


def body_text(status: int, content: bytes) -> str:
    """An error body's own text when it has no structured message, else the status phrase."""
    text = content.decode("utf-8", "replace").strip()
    if text:
        return text
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no message"


def _timed_out(timeout: float, api: Upstream) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(
        f"{api.label} failed (504): no answer within {timeout:g} seconds. {api.timeout_hint}",
        upstream_status=None,
    )


def _could_not_connect(
    api: Upstream, request: OutgoingRequest, error: httpx.TransportError
) -> UpstreamError:
    parsed = httpx.URL(request.url)  # never the user:password@ of a proxy URL
    host = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
    return UpstreamError(
        f"{api.label} failed (502): could not connect to {host}: "
        f"{redact(str(error) or type(error).__name__, request.secrets)}",
        upstream_status=None,
    )


# --- the retry flow -----------------------------------------------------------------------------


def _is_retryable(status: int) -> bool:
    return status in _RETRYABLE_STATUS or status >= 500  # noqa: PLR2004


def _retry_after(answer: Answer) -> float | None:
    raw = answer.headers.get("retry-after-ms")
    scale = 1000.0
    if raw is None:
        raw, scale = answer.headers.get("retry-after"), 1.0
    try:
        seconds = float(raw) / scale if raw is not None else None
    except ValueError:
        return None  # an HTTP date: rare from OpenAI; fall back to our own backoff
    return seconds if seconds is not None and seconds >= 0 else None


def retry_flow(
    call: UpstreamCall[_T], clock: Callable[[], float] = time.monotonic
) -> _UpstreamFlow[_T]:
    """Make ``call`` within its timeout, retrying as its policy says.

    Connection errors, 408/409/429 and 5xx are retried; any other answer goes to
    ``call.parse``. A wait that would outlast the deadline is not started: the last
    failure is raised instead.
    """
    api, policy, secrets = call.api, call.retry, call.request.secrets
    deadline = clock() + call.timeout
    for attempt in range(1, policy.max_attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            raise _timed_out(call.timeout, api)
        outcome = yield Send(call.request.to_httpx(remaining), remaining)
        wait: float | None = None
        if isinstance(outcome, httpx.TimeoutException):
            raise _timed_out(call.timeout, api)
        if isinstance(outcome, httpx.TransportError):
            failure = _could_not_connect(api, call.request, outcome)
        else:
            assert outcome is not None
            if not _is_retryable(outcome.status_code):
                return call.parse(outcome)
            failure = api.refused(outcome.status_code, outcome.content, secrets)
            wait = _retry_after(outcome)
        if attempt == policy.max_attempts:
            raise failure
        wait = policy.backoff(attempt) if wait is None else wait
        if clock() + wait >= deadline:
            # Waiting would outlast the timeout: answer now with what the upstream said.
            raise failure
        logger.warning(
            "%s attempt %d of %d failed (%s); retrying in %.2f s.",
            api.label,
            attempt,
            policy.max_attempts,
            failure.message,
            wait,
        )
        yield Sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# --- the drivers: the only code that does IO ------------------------------------------------


def send_call(call: UpstreamCall[_T], client: httpx.Client | None) -> _T:
    """Make ``call``, blocking, through ``client`` (or a client opened for it)."""
    flow = retry_flow(call)
    if client is None:
        with httpx.Client() as own_client:
            return drive(flow, functools.partial(_send, own_client))
    return drive(flow, functools.partial(_send, client))


def _own_async_client() -> httpx.AsyncClient:
    """The client an async call opens (and closes) for itself when it is given none."""
    return new_async_client()


async def asend_call(call: UpstreamCall[_T], client: httpx.AsyncClient | None) -> _T:
    """Make ``call`` on the event loop: the async twin of :func:`send_call`."""
    flow = retry_flow(call)
    if client is None:
        async with _own_async_client() as own_client:
            return await adrive(flow, functools.partial(_asend, own_client))
    return await adrive(flow, functools.partial(_asend, client))


# Sync attempts run here so the caller can stop waiting at the deadline: httpx bounds
# each read, and headers trickling in a byte at a time would never trip that. Daemon
# threads, bounded: an abandoned attempt ends with its own reads and holds one thread.
_ATTEMPTS = WorkerPool(32, name="navai-mint")


def _send(client: httpx.Client, step: Send) -> _Outcome:
    attempt = _ATTEMPTS.submit(_read_answer, client, step)
    try:
        return attempt.result(timeout=step.timeout)
    except concurrent.futures.TimeoutError:
        attempt.cancel()
        return httpx.ReadTimeout("no complete answer in time", request=step.request)
    except httpx.TransportError as error:
        return error


def _read_answer(client: httpx.Client, step: Send) -> Answer:
    # Also check the deadline between body chunks, so an abandoned attempt whose body
    # trickles in gives its thread back soon after the caller stopped waiting.
    deadline = time.monotonic() + step.timeout
    response = client.send(step.request, stream=True)
    try:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("no complete answer in time", request=step.request)
        return Answer(response.status_code, response.headers, bytes(body))
    finally:
        response.close()


async def _asend(client: httpx.AsyncClient, step: Send) -> _Outcome:
    # httpx times out per phase; this bounds the whole attempt, slow drips too.
    try:
        return await _within(step.timeout, _read_answer_async(client, step))
    except asyncio.TimeoutError:
        return httpx.ReadTimeout("no answer in time", request=step.request)
    except httpx.TransportError as error:
        return error


async def _read_answer_async(client: httpx.AsyncClient, step: Send) -> Answer:
    # Not streamed: the caller bounds the whole attempt, body included.
    response = await client.send(step.request)
    return Answer(response.status_code, response.headers, response.content)


if sys.version_info >= (3, 11):

    async def _within(seconds: float, answer: Awaitable[Answer]) -> Answer:
        # asyncio.timeout cancels in place; wait_for would start a task per attempt.
        async with asyncio.timeout(seconds):
            return await answer

else:  # Python 3.10

    async def _within(seconds: float, answer: Awaitable[Answer]) -> Answer:
        return await asyncio.wait_for(answer, seconds)

"""Upstream faults: OpenAI unreachable, slow, failing, rate-limiting or talking nonsense.

Each fault is served through both adapters by a real server, against a fake OpenAI on a
real socket; each answer is checked for its status and its timing, and the server is
checked to be healthy afterwards.
"""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from navai_core import RetryPolicy
from tests.fake_openai import FakeOpenAI, broken_json, delay, drop, status, trickle
from tests.servers import free_port

from .conftest import (
    MINT,
    Served,
    assert_healthy,
    assert_json_error,
    options_for,
    running,
)

pytestmark = pytest.mark.integration

OPENAI_TIMEOUT = 0.5
# Where the bound is the behaviour (a timeout fires on time): loose enough for a loaded
# machine, yet below the 3 s the fake's delayed answers take, so it is the timeout that ends
# the wait. Elsewhere an answer's status and the requests OpenAI got say what happened.
CEILING = 5 * OPENAI_TIMEOUT


@pytest.fixture(scope="module")
def module_server(adapter: str, upstream: FakeOpenAI) -> Iterator[Served]:
    """This module's servers give OpenAI half a second, retries included."""
    with running(adapter, options_for(upstream, openai_timeout_seconds=OPENAI_TIMEOUT)) as server:
        yield server


def timed_mint(server: Served) -> tuple[dict, float, int]:
    started = time.monotonic()
    response = server.client.post(MINT, json={})
    elapsed = time.monotonic() - started
    return response.json(), elapsed, response.status_code


def test_unreachable_openai_is_502_within_seconds(serve_with, upstream: FakeOpenAI) -> None:
    # The production defaults (10 s timeout, 3 attempts, backoff 0.25 s doubling).
    options = options_for(
        upstream,
        openai_base_url=f"http://127.0.0.1:{free_port()}/v1",
        openai_timeout_seconds=10,
        retry=RetryPolicy(),
    )
    with serve_with(options) as server:
        started = time.monotonic()
        body = assert_json_error(server.client.post(MINT, json={}), 502)
        elapsed = time.monotonic() - started
        assert body["error"].startswith("OpenAI client_secrets failed (502): could not connect")
        assert elapsed < options.openai_timeout_seconds / 2, elapsed  # not the timeout's 10 s
        assert server.client.get("/navai/functions").status_code == 200


# The sync driver (`_send` in navai_core/_upstream/_request.py) checks its deadline only between
# body chunks: an answer whose *headers* trickle in, one byte per read, keeps the WSGI
# request busy until the last header byte (about 2 s here for a 0.5 s timeout).


@pytest.mark.parametrize(
    "behaviour",
    [delay(3), trickle(0.02)],
    ids=["no-answer", "answer-trickles"],
)
def test_slower_than_the_timeout_is_504_on_time(server: Served, upstream, behaviour) -> None:
    upstream.enqueue(behaviour)
    body, elapsed, code = timed_mint(server)
    assert code == 504, body
    assert body["error"].startswith("OpenAI client_secrets failed (504): no answer within 0.5 ")
    assert OPENAI_TIMEOUT * 0.9 <= elapsed < CEILING, elapsed
    assert_healthy(server.client)


def test_retries_never_outlast_the_timeout(server: Served, upstream) -> None:
    # Each 503 takes 0.3 s: the second attempt gets what is left of the 0.5 s and times out.
    # Were each attempt given the whole timeout, the second would answer and a third be sent.
    slow_busy = delay(0.3, status(503, "busy"))
    upstream.enqueue(slow_busy, slow_busy, delay(3))
    body, elapsed, code = timed_mint(server)
    assert code == 504, body
    assert body["error"].startswith("OpenAI client_secrets failed (504): no answer within 0.5 ")
    assert elapsed < CEILING, elapsed
    assert len(upstream.requests) < 3


def test_5xx_is_retried_a_bounded_number_of_times_then_502(server: Served, upstream) -> None:
    upstream.enqueue(*[status(500, {"error": {"message": "The server had an error."}})] * 10)
    body, _, code = timed_mint(server)
    assert code == 502, body
    assert body == {"error": "OpenAI client_secrets failed (500): The server had an error."}
    assert len(upstream.requests) == 3  # max_attempts, not one more
    upstream.clear()
    assert_healthy(server.client)


def test_5xx_then_success_is_a_success(server: Served, upstream) -> None:
    upstream.enqueue(status(502, "bad gateway"), status(503, "unavailable"))
    body, _, code = timed_mint(server)
    assert code == 200, body
    assert len(upstream.requests) == 3


@pytest.mark.parametrize(
    "headers",
    [{"retry-after": "0.2"}, {"retry-after-ms": "200"}],
    ids=["retry-after", "retry-after-ms"],
)
def test_429_retry_after_is_honoured_within_the_timeout(server: Served, upstream, headers) -> None:
    upstream.enqueue(status(429, {"error": {"message": "Rate limit reached."}}, headers))
    body, elapsed, code = timed_mint(server)
    assert code == 200, body
    assert len(upstream.requests) == 2
    assert elapsed >= 0.2, elapsed  # the wait it was told (waiting past the timeout is a 429)


def test_429_retry_after_beyond_the_timeout_fails_at_once(serve_with, upstream) -> None:
    # A 10 s timeout: "at once" is well before it, however loaded the machine.
    with serve_with(options_for(upstream, openai_timeout_seconds=10)) as server:
        upstream.enqueue(
            status(429, {"error": {"message": "Rate limit reached."}}, {"retry-after": "30"})
        )
        body, elapsed, code = timed_mint(server)
        assert code == 429, body
        assert body == {"error": "OpenAI client_secrets failed (429): Rate limit reached."}
        assert len(upstream.requests) == 1
        assert elapsed < 5, elapsed  # it did not wait out the timeout
        assert_healthy(server.client)


def test_broken_json_is_502(server: Served, upstream) -> None:
    upstream.enqueue(broken_json())
    body, _, code = timed_mint(server)
    assert code == 502
    assert body == {"error": "OpenAI client_secrets failed (200): the answer is not valid JSON."}
    assert len(upstream.requests) == 1  # a broken answer is not retried
    assert_healthy(server.client)


def test_dropped_connections_are_retried_then_502(server: Served, upstream) -> None:
    upstream.enqueue(drop(), drop(), drop())
    body, _, code = timed_mint(server)
    assert code == 502, body
    assert body["error"].startswith("OpenAI client_secrets failed (502): could not connect")
    assert len(upstream.requests) == 3
    assert_healthy(server.client)


def test_every_fault_in_a_row_leaves_the_server_healthy(server: Served, upstream) -> None:
    upstream.enqueue(
        broken_json(),
        *[status(503, "down")] * 3,
        status(400, {"error": {"message": "Unknown parameter."}}),
        status(429, "slow down", {"retry-after": "60"}),
        delay(2),
        drop(),
        drop(),
        drop(),
    )
    codes = [server.client.post(MINT, json={}).status_code for _ in range(6)]
    assert codes == [502, 502, 400, 429, 504, 502]
    upstream.clear()
    assert_healthy(server.client)

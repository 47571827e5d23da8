"""RouteLimiter on a fake clock: windows, several rates, callers and routes apart, failures."""

from __future__ import annotations

import asyncio
import logging
import time

import pytest

from navai_adapters._ratelimit import RouteLimiter
from navai_core._ratelimit import parse_rates

from .conftest import FakeClock, free_port

MINT = "client_secret"
EXECUTE = "functions_execute"


def limiter(clock: FakeClock, **rates: str) -> RouteLimiter:
    return RouteLimiter(
        {route: parse_rates(text) for route, text in rates.items()}, clock=clock.time
    )


class Driver:
    """The same calls through ``hit`` or ``ahit``, so each test runs against both APIs."""

    def __init__(self, api: str) -> None:
        self.api = api

    def __call__(self, target: RouteLimiter, route: str, key: str):
        if self.api == "sync":
            return target.hit(route, key)
        return asyncio.run(target.ahit(route, key))


@pytest.fixture(params=["sync", "async"])
def hit(request: pytest.FixtureRequest) -> Driver:
    return Driver(request.param)


def test_a_window_refuses_past_its_amount_then_frees_up(clock: FakeClock, hit: Driver) -> None:
    target = limiter(clock, client_secret="2/minute")
    first = hit(target, MINT, "ip:1.1.1.1")
    assert first.status is None
    assert dict(first.headers)["ratelimit-remaining"] == "1"
    clock.advance(10)
    second = hit(target, MINT, "ip:1.1.1.1")
    assert second.status is None
    assert dict(second.headers)["ratelimit-remaining"] == "0"
    assert dict(second.headers)["ratelimit-reset"] == "50"  # the first one leaves the window
    clock.advance(20)
    refused = hit(target, MINT, "ip:1.1.1.1")
    assert refused.status == 429
    assert refused.body is not None
    assert refused.body["limit"] == "2/minute"
    assert refused.body["retry_after"] == 30
    assert dict(refused.headers)["retry-after"] == "30"
    clock.advance(30.5)  # past a minute after the first: one request frees up, not two
    assert hit(target, MINT, "ip:1.1.1.1").status is None
    assert hit(target, MINT, "ip:1.1.1.1").status == 429


def test_every_rate_of_a_route_holds(clock: FakeClock, hit: Driver) -> None:
    target = limiter(clock, client_secret="2/minute;3/day")
    answers = []
    for _ in range(4):
        answers.append(hit(target, MINT, "ip:1.1.1.1"))
        clock.advance(61)
    assert [answer.status for answer in answers] == [None, None, None, 429]
    assert answers[2].headers[0:2] == (("ratelimit-limit", "3"), ("ratelimit-remaining", "0"))
    assert answers[3].body is not None
    assert answers[3].body["limit"] == "3/day"
    assert answers[3].body["retry_after"] == 86400 - 3 * 61
    assert dict(answers[3].headers)["ratelimit-policy"] == "2;w=60, 3;w=86400"


def test_a_request_the_short_window_refuses_is_not_charged_to_the_long_one(
    clock: FakeClock, hit: Driver
) -> None:
    target = limiter(clock, client_secret="1/minute;2/day")
    assert hit(target, MINT, "k").status is None
    for _ in range(5):
        assert hit(target, MINT, "k").status == 429  # the minute refuses
    clock.advance(61)
    assert hit(target, MINT, "k").status is None  # the day still had one left
    clock.advance(61)
    refused = hit(target, MINT, "k")
    assert refused.body is not None
    assert refused.body["limit"] == "2/day"


def test_callers_and_routes_are_counted_apart(clock: FakeClock, hit: Driver) -> None:
    target = limiter(clock, client_secret="1/minute", functions_execute="1/minute")
    assert hit(target, MINT, "id:alice").status is None
    assert hit(target, MINT, "id:alice").status == 429
    assert hit(target, MINT, "id:bob").status is None
    assert hit(target, EXECUTE, "id:alice").status is None
    assert hit(target, EXECUTE, "id:alice").status == 429


def test_a_route_without_rates_is_not_counted(clock: FakeClock, hit: Driver) -> None:
    target = limiter(clock, client_secret="1/minute")
    assert not target.applies(EXECUTE)
    for _ in range(3):
        decision = hit(target, EXECUTE, "k")
        assert decision.status is None
        assert decision.headers == ()


def test_threads_racing_on_one_key_never_get_more_than_the_amount(clock: FakeClock) -> None:
    from concurrent.futures import ThreadPoolExecutor

    target = limiter(clock, client_secret="25/minute")
    with ThreadPoolExecutor(16) as pool:
        statuses = list(pool.map(lambda _: target.hit(MINT, "k").status, range(200)))
    assert statuses.count(None) == 25
    assert statuses.count(429) == 175


def closed_port_limiter(*, fail_open: bool) -> RouteLimiter:
    # Nothing listens there: every command fails at once (connection refused).
    return RouteLimiter(
        {MINT: parse_rates("1/minute")},
        f"redis://127.0.0.1:{free_port()}/0",
        fail_open=fail_open,
    )


def test_an_unreachable_storage_fails_open_by_default_and_says_so_once(
    hit: Driver, caplog: pytest.LogCaptureFixture
) -> None:
    target = closed_port_limiter(fail_open=True)
    with caplog.at_level(logging.WARNING, logger="navai"):
        started = time.monotonic()
        decisions = [hit(target, MINT, "k") for _ in range(5)]
        elapsed = time.monotonic() - started
    assert [decision.status for decision in decisions] == [None] * 5
    assert all(decision.headers == () for decision in decisions)
    assert elapsed < 5
    warnings = [record.getMessage() for record in caplog.records]
    assert len(warnings) == 1  # not one line per request
    assert "letting requests through" in warnings[0]
    assert "ConnectionError" in warnings[0] or "StorageError" in warnings[0]


def test_an_unreachable_storage_fails_closed_with_503_when_told(hit: Driver) -> None:
    decision = hit(closed_port_limiter(fail_open=False), MINT, "k")
    assert decision.status == 503
    assert decision.body == {
        "error": "Rate limiting is unavailable, so this route refuses requests for now. "
        "Retry shortly."
    }
    assert decision.headers == (("retry-after", "1"),)


def test_the_storage_password_is_not_shown(caplog: pytest.LogCaptureFixture) -> None:
    target = RouteLimiter(
        {MINT: parse_rates("1/minute")}, f"redis://:hunter2-secret@127.0.0.1:{free_port()}/0"
    )
    with caplog.at_level(logging.WARNING, logger="navai"):
        target.hit(MINT, "k")
    assert "hunter2" not in repr(target)
    assert "hunter2" not in caplog.text
    assert ":***@127.0.0.1" in caplog.text

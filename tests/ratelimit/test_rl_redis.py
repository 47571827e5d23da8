"""Rate limits in a real Redis: shared across processes and adapters, and Redis going away.

Each test starts its own ``redis-server`` on 127.0.0.1 (no persistence) and stops it. The
servers are real: two ``navai serve`` processes, or uvicorn and waitress in threads.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator

import httpx
import pytest

from tests.fake_openai import FakeOpenAI

from .conftest import APPS, RedisServer, navai_serve

pytestmark = pytest.mark.integration

MINT = "/navai/realtime/client-secret"
LIST = "/navai/functions"
# What a Redis that is gone may cost a request, at most: ten times the storage timeout
# (0.5 s by default), so that a loaded machine does not trip it, yet a request that waited
# for Redis to come back (or for the client's own 10 s) fails.
STORAGE_TIMEOUT = 0.5
CEILING = 10 * STORAGE_TIMEOUT
# For tests of exact counting, not of timeouts: a storage timeout a loaded machine does not
# reach, else a slow connect fails open and lets more than the amount through.
COUNTING = {"rate_limit_storage_timeout": 5.0}


def timed_post(url: str, **kwargs: object) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = httpx.post(url, json={}, timeout=10, **kwargs)  # type: ignore[arg-type]
    return response, time.monotonic() - started


def mint_statuses(url: str, count: int = 3) -> list[int]:
    return [timed_post(f"{url}{MINT}")[0].status_code for _ in range(count)]


@contextlib.contextmanager
def limited(
    adapter: str, redis_server: RedisServer, limit: str, **config: object
) -> Iterator[tuple[str, FakeOpenAI]]:
    """An app of ``adapter`` whose mints are limited to ``limit``, counted in ``redis_server``.

    Yields its URL and the fake OpenAI it mints through.
    """
    with (
        FakeOpenAI() as fake,
        APPS.running(
            adapter,
            APPS.options(fake),
            rate_limits={"client_secret": limit},
            rate_limit_storage=redis_server.url,
            **config,
        ) as served,
    ):
        yield served.url, fake


def test_two_navai_serve_processes_share_one_limit_and_outlive_redis(
    redis_server: RedisServer,
) -> None:
    env = {"NAVAI_RATE_LIMIT_MINT": "3/minute", "NAVAI_RATE_LIMIT_STORAGE": redis_server.url}
    with navai_serve(**env) as first, navai_serve(**env) as second:
        # Different X-Forwarded-For on each: navai serve believes none of them by default.
        answers = [
            httpx.post(f"{url}{MINT}", json={}, headers={"x-forwarded-for": f"198.51.100.{n}"})
            for n, url in enumerate([first, second, first, second, first])
        ]
        assert [answer.status_code for answer in answers] == [401, 401, 401, 429, 429]
        assert [answer.headers["ratelimit-remaining"] for answer in answers] == list("21000")
        assert answers[3].json()["limit"] == "3/minute"

        redis_server.kill()
        for url in (first, second):
            response, elapsed = timed_post(f"{url}{MINT}")
            assert response.status_code == 401  # let through: fail open is the default
            assert "ratelimit-remaining" not in response.headers
            assert elapsed < CEILING
            assert httpx.get(f"{url}{LIST}").status_code == 200


@pytest.mark.parametrize("first_adapter", ["starlette", "wsgi"])
def test_the_sync_and_async_apis_count_in_the_same_keys(
    redis_server: RedisServer, first_adapter: str
) -> None:
    other = "wsgi" if first_adapter == "starlette" else "starlette"
    with (
        limited(first_adapter, redis_server, "2/minute", **COUNTING) as (one, one_fake),
        limited(other, redis_server, "2/minute", **COUNTING) as (two, two_fake),
    ):
        statuses = [httpx.post(f"{url}{MINT}", json={}).status_code for url in (one, two, one)]
        assert statuses == [200, 200, 429]
        assert len(one_fake.requests) + len(two_fake.requests) == 2


@pytest.mark.parametrize("adapter", ["starlette", "wsgi"])
def test_a_redis_killed_mid_run_fails_open_then_limits_again_once_back(
    redis_server: RedisServer, adapter: str
) -> None:
    with limited(adapter, redis_server, "2/minute") as (url, _):
        assert mint_statuses(url) == [200, 200, 429]
        redis_server.kill()
        for _ in range(3):
            response, elapsed = timed_post(f"{url}{MINT}")
            assert response.status_code == 200
            assert elapsed < CEILING
        redis_server.start()  # the same port, empty: counting starts over
        assert mint_statuses(url) == [200, 200, 429]


@pytest.mark.parametrize("adapter", ["starlette", "wsgi"])
def test_a_redis_killed_mid_run_fails_closed_when_told(
    redis_server: RedisServer, adapter: str
) -> None:
    with limited(adapter, redis_server, "5/minute", rate_limit_fail_open=False) as (url, fake):
        assert mint_statuses(url, 1) == [200]
        redis_server.kill()
        response, elapsed = timed_post(f"{url}{MINT}")
        assert response.status_code == 503
        assert response.headers["retry-after"] == "1"
        assert response.json()["error"].startswith("Rate limiting is unavailable")
        assert elapsed < CEILING
        assert len(fake.requests) == 1  # refused before OpenAI
        redis_server.start()
        assert mint_statuses(url, 1) == [200]


@pytest.mark.parametrize("adapter", ["starlette", "wsgi"])
def test_a_frozen_redis_costs_a_request_at_most_the_storage_timeout(
    redis_server: RedisServer, adapter: str
) -> None:
    timeout = 0.3
    with limited(adapter, redis_server, "5/minute", rate_limit_storage_timeout=timeout) as (url, _):
        assert mint_statuses(url, 1) == [200]  # connected
        redis_server.pause()  # the connection stays open; nothing answers on it
        try:
            for _ in range(2):
                response, elapsed = timed_post(f"{url}{MINT}")
                # Answered while Redis is still frozen: the storage timeout ended the wait.
                assert response.status_code == 200
                assert elapsed < 10 * timeout
        finally:
            redis_server.resume()
        assert mint_statuses(url, 1) == [200]


@pytest.mark.parametrize("adapter", ["starlette", "wsgi"])
def test_a_burst_of_concurrent_requests_gets_exactly_the_amount(
    redis_server: RedisServer, adapter: str
) -> None:
    from concurrent.futures import ThreadPoolExecutor

    with (
        limited(adapter, redis_server, "10/minute", **COUNTING) as (url, fake),
        httpx.Client(base_url=url, timeout=10) as client,
        ThreadPoolExecutor(12) as pool,
    ):
        statuses = list(pool.map(lambda _: client.post(MINT, json={}).status_code, range(40)))
    assert statuses.count(200) == 10
    assert statuses.count(429) == 30
    assert len(fake.requests) == 10


def test_navai_serve_believes_forwarded_for_only_from_trusted_proxies() -> None:
    limits = {"NAVAI_RATE_LIMIT_MINT": "1/minute"}

    def statuses(url: str) -> list[int]:
        return [
            httpx.post(f"{url}{MINT}", json={}, headers={"x-forwarded-for": address}).status_code
            for address in ("198.51.100.1", "198.51.100.2", "198.51.100.1")
        ]

    with navai_serve(**limits) as url:
        assert statuses(url) == [401, 429, 429]  # one caller: 127.0.0.1
    with navai_serve(NAVAI_TRUSTED_PROXIES="127.0.0.1", **limits) as url:
        assert statuses(url) == [401, 401, 429]  # two callers, as the proxy said

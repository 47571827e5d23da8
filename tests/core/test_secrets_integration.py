"""Minting against FakeOpenAI over real sockets, with both drivers."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from navai_core import (
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    RetryPolicy,
    acreate_realtime_client_secret,
    create_realtime_client_secret,
)
from navai_core.exceptions import UpstreamError, UpstreamTimeoutError
from tests.fake_openai import (
    FakeOpenAI,
    broken_json,
    delay,
    drop,
    status,
    success,
    trickle,
)

pytestmark = pytest.mark.integration

KEY = "sk-proj-integration-key-0123456789"
FAST = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)

Mint = Callable[..., RealtimeClientSecret]


def make_options(base_url: str, **overrides: Any) -> NavaiVoiceBackendOptions:
    values: dict[str, Any] = {
        "openai_api_key": KEY,
        "openai_base_url": base_url,
        "retry": FAST,
        "openai_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return NavaiVoiceBackendOptions(**values)


@pytest.fixture(params=["sync", "async"])
def mint(request: pytest.FixtureRequest) -> Mint:
    if request.param == "sync":
        return create_realtime_client_secret

    def run(*args: Any, **kwargs: Any) -> RealtimeClientSecret:
        return asyncio.run(acreate_realtime_client_secret(*args, **kwargs))

    return run


def unused_port() -> int:
    """A port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_success(mint: Mint, fake_openai: FakeOpenAI) -> None:
    options = make_options(
        fake_openai.url,
        openai_organization="org-int",
        openai_project="proj-int",
        client_secret_ttl_seconds=120,
    )
    before = int(time.time())
    secret = mint(options, {"model": "gpt-realtime", "voice": "cedar", "language": "Spanish"})
    session = {
        "type": "realtime",
        "model": "gpt-realtime",
        "instructions": "You are a helpful assistant.\nAlways reply in Spanish.",
        "audio": {"output": {"voice": "cedar"}},
    }
    assert secret.value == "ek_test_1"
    assert secret.expires_at is not None
    assert before + 120 <= secret.expires_at <= int(time.time()) + 120
    assert secret.session == session

    [received] = fake_openai.requests
    assert (received.method, received.path) == ("POST", "/v1/realtime/client_secrets")
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.headers["openai-organization"] == "org-int"
    assert received.headers["openai-project"] == "proj-int"
    assert received.headers["content-type"] == "application/json"
    assert received.body == {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": session,
    }


def test_request_key_is_never_forwarded(mint: Mint, fake_openai: FakeOpenAI) -> None:
    options = make_options(fake_openai.url, allow_api_key_from_request=True)
    mint(options, {"apiKey": "sk-browser-key-000000"})
    [received] = fake_openai.requests
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert b"sk-browser-key" not in received.content
    assert "sk-browser-key" not in str(received.headers)


def test_upstream_4xx(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(status(401, {"error": {"message": "Incorrect API key provided."}}))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(fake_openai.url))
    assert str(caught.value) == "OpenAI client_secrets failed (401): Incorrect API key provided."
    assert caught.value.status_code == 401
    assert len(fake_openai.requests) == 1


def test_timeout(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(delay(3))
    options = make_options(fake_openai.url, openai_timeout_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeoutError) as caught:
        mint(options)
    elapsed = time.perf_counter() - started
    assert 0.25 <= elapsed < 0.3 + 0.7
    assert caught.value.status_code == 504
    assert str(caught.value).startswith(
        "OpenAI client_secrets failed (504): no answer within 0.3 seconds."
    )
    assert len(fake_openai.requests) == 1  # a timeout is not retried


@pytest.mark.asyncio
async def test_async_trickling_answer_is_bounded_by_the_timeout(fake_openai: FakeOpenAI) -> None:
    # Every read succeeds quickly; only a bound on the whole call can end it in time.
    fake_openai.enqueue(trickle(0.005))
    options = make_options(fake_openai.url, openai_timeout_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeoutError):
        await acreate_realtime_client_secret(options)
    assert time.perf_counter() - started < 0.3 + 0.5


def test_sync_trickling_answer_is_bounded_by_the_timeout(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(trickle(0.005))
    options = make_options(fake_openai.url, openai_timeout_seconds=0.3)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeoutError):
        create_realtime_client_secret(options)
    assert time.perf_counter() - started < 0.3 + 0.5


def test_slow_but_within_the_timeout(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(delay(0.1))
    assert mint(make_options(fake_openai.url, openai_timeout_seconds=2)).value == "ek_test_1"


def test_connection_refused(mint: Mint) -> None:
    port = unused_port()
    started = time.perf_counter()
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(f"http://127.0.0.1:{port}/v1"))
    assert time.perf_counter() - started < 2.0
    assert caught.value.status_code == 502
    assert caught.value.upstream_status is None
    assert str(caught.value).startswith(
        f"OpenAI client_secrets failed (502): could not connect to 127.0.0.1:{port}: "
    )
    assert not isinstance(caught.value, UpstreamTimeoutError)


def test_5xx_then_success(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(status(500, {"error": {"message": "The server had an error."}}))
    assert mint(make_options(fake_openai.url)).value == "ek_test_1"
    assert len(fake_openai.requests) == 2
    assert fake_openai.requests[0].body == fake_openai.requests[1].body


def test_5xx_every_time(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.default = status(503, "upstream connect error")
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(fake_openai.url))
    assert str(caught.value) == "OpenAI client_secrets failed (503): upstream connect error"
    assert caught.value.status_code == 502
    assert len(fake_openai.requests) == 3


def test_429_retry_after_is_honoured(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(
        status(429, {"error": {"message": "Rate limit reached."}}, headers={"retry-after": "0.1"})
    )
    started = time.perf_counter()
    assert mint(make_options(fake_openai.url)).value == "ek_test_1"
    assert time.perf_counter() - started >= 0.1
    assert len(fake_openai.requests) == 2


def test_retry_after_ms_is_honoured(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(status(429, None, headers={"retry-after-ms": "120", "retry-after": "9"}))
    started = time.perf_counter()
    assert mint(make_options(fake_openai.url)).value == "ek_test_1"
    assert 0.12 <= time.perf_counter() - started < 2.0


def test_retry_after_beyond_the_timeout_answers_at_once(
    mint: Mint, fake_openai: FakeOpenAI
) -> None:
    fake_openai.enqueue(
        status(429, {"error": {"message": "Slow down."}}, headers={"retry-after": "20"})
    )
    started = time.perf_counter()
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(fake_openai.url, openai_timeout_seconds=3))
    assert time.perf_counter() - started < 1.0
    assert str(caught.value) == "OpenAI client_secrets failed (429): Slow down."
    assert caught.value.status_code == 429
    assert len(fake_openai.requests) == 1


def test_broken_json(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(broken_json())
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(fake_openai.url))
    assert str(caught.value) == "OpenAI client_secrets failed (200): the answer is not valid JSON."
    assert caught.value.status_code == 502
    assert len(fake_openai.requests) == 1


def test_dropped_connection_is_retried(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(drop())
    assert mint(make_options(fake_openai.url)).value == "ek_test_1"
    assert len(fake_openai.requests) == 2


def test_dropped_connection_every_time(mint: Mint, fake_openai: FakeOpenAI) -> None:
    fake_openai.default = drop()
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(fake_openai.url))
    assert caught.value.status_code == 502
    assert caught.value.upstream_status is None
    assert str(caught.value).startswith(
        f"OpenAI client_secrets failed (502): could not connect to 127.0.0.1:{fake_openai.port}: "
    )
    assert KEY not in str(caught.value)
    assert len(fake_openai.requests) == 3


def test_sync_injected_client_keeps_the_connection(fake_openai: FakeOpenAI) -> None:
    options = make_options(fake_openai.url)
    with httpx.Client() as client:
        values = [create_realtime_client_secret(options, client=client).value for _ in range(3)]
        assert not client.is_closed
    assert values == ["ek_test_1", "ek_test_2", "ek_test_3"]
    assert fake_openai.connections_opened == 1  # pooled: one keep-alive connection


@pytest.mark.asyncio
async def test_async_injected_client_keeps_the_connection(fake_openai: FakeOpenAI) -> None:
    options = make_options(fake_openai.url)
    async with httpx.AsyncClient() as client:
        values = [
            (await acreate_realtime_client_secret(options, client=client)).value for _ in range(3)
        ]
        assert not client.is_closed
    assert values == ["ek_test_1", "ek_test_2", "ek_test_3"]
    assert fake_openai.connections_opened == 1


@pytest.mark.asyncio
async def test_async_timeout_does_not_block_the_loop(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(delay(3))
    options = make_options(fake_openai.url, openai_timeout_seconds=0.3)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.02)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        with pytest.raises(UpstreamTimeoutError):
            await acreate_realtime_client_secret(options)
    finally:
        task.cancel()
    assert ticks >= 5  # the loop kept running while the mint waited


def test_without_client_each_call_opens_its_own_connection(fake_openai: FakeOpenAI) -> None:
    options = make_options(fake_openai.url)
    create_realtime_client_secret(options)
    create_realtime_client_secret(options)
    assert fake_openai.connections_opened == 2


def test_fake_answers_unknown_paths_with_404(fake_openai: FakeOpenAI) -> None:
    # The fake itself: a wrong base URL shows up as OpenAI's 404, not as a success.
    with pytest.raises(UpstreamError) as caught:
        create_realtime_client_secret(make_options(fake_openai.url + "/v2"))
    assert caught.value.status_code == 404
    assert "Unknown path /v1/v2/realtime/client_secrets." in str(caught.value)
    assert success() == fake_openai.default


# --- the fake itself: what the tests above rely on -------------------------------------------


def test_fake_records_requests_and_consumes_the_queue(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(status(418, "teapot", headers={"x-extra": "1"}), broken_json())
    assert fake_openai.pending == 2
    with httpx.Client() as client:
        first = client.post(fake_openai.client_secrets_url, json={"a": 1}, headers={"X-Mixed": "V"})
        second = client.post(fake_openai.client_secrets_url, content=b"not json")
        third = client.post(fake_openai.client_secrets_url, json={"session": {"k": "v"}})
        wrong_method = client.get(fake_openai.client_secrets_url)
    assert (first.status_code, first.text, first.headers["x-extra"]) == (418, "teapot", "1")
    assert second.status_code == 200
    assert second.headers["content-type"] == "application/json"
    assert third.json()["session"] == {"k": "v"}
    assert wrong_method.status_code == 405
    assert fake_openai.pending == 0
    recorded = fake_openai.requests
    assert [r.method for r in recorded] == ["POST", "POST", "POST", "GET"]
    assert recorded[0].headers["x-mixed"] == "V"
    assert recorded[0].body == {"a": 1}
    assert (recorded[1].content, recorded[1].body) == (b"not json", None)
    assert fake_openai.connections_opened == 1
    fake_openai.clear()
    assert (fake_openai.requests, fake_openai.pending, fake_openai.connections_opened) == ([], 0, 0)


def test_fake_reads_chunked_bodies(fake_openai: FakeOpenAI) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"session": '
        yield b'{"type": "realtime"}}'

    with httpx.Client() as client:
        answer = client.post(fake_openai.client_secrets_url, content=chunks())
    assert answer.json()["session"] == {"type": "realtime"}
    assert fake_openai.requests[0].headers["transfer-encoding"] == "chunked"


def test_fake_start_and_stop() -> None:
    fake = FakeOpenAI().start()
    with pytest.raises(RuntimeError, match="already running"):
        fake.start()
    with httpx.Client() as client:
        assert client.post(fake.client_secrets_url, json={}).json()["value"] == "ek_test_1"
    fake.stop()
    fake.stop()  # a second stop does nothing
    with httpx.Client() as client, pytest.raises(httpx.ConnectError):
        client.post(fake.client_secrets_url, json={})


def test_fake_reports_a_taken_port() -> None:
    with FakeOpenAI() as taken, pytest.raises(OSError):
        FakeOpenAI(port=taken.port).start()

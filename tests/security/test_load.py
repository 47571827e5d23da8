"""Load: hundreds of concurrent mixed requests, answered correctly, with nothing leaking.

Each adapter is served in this process (uvicorn, waitress), so the test can count the
process's threads, open file descriptors (sockets) and resident memory between rounds,
and the fake OpenAI counts the connections the server opens to it.
"""

from __future__ import annotations

import asyncio
import gc
import json
import resource
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from navai_core._upstream import _request
from tests.fake_openai import FakeOpenAI

from .conftest import EXECUTE, LIST, MINT, Served, options_for, running

pytestmark = pytest.mark.integration

MAX_CONCURRENCY = 8
ROUND = 300  # requests per round, all in flight at once
ROUNDS = 4


def kinds(count: int) -> list[str]:
    mix = ["mint", "nap", "doze", "add", "list"]
    return [mix[index % len(mix)] for index in range(count)]


async def send(url: str, method: str, path: str, body: object = None) -> tuple[int, Any]:
    """One HTTP/1.1 exchange on its own connection; the status and the JSON answer.

    A few lines of asyncio rather than httpx: with hundreds of connections, httpcore's
    pool (which assigns requests to connections in quadratic time) would make the
    client, which shares this process and its GIL with the server, the bottleneck.
    """
    parts = urlsplit(url)
    reader, writer = await asyncio.open_connection(parts.hostname, parts.port)
    content = b"" if body is None else json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(content)}\r\n"
        "Connection: close\r\n\r\n"
    )
    writer.write(head.encode() + content)
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), json.loads(rest.partition(b"\r\n\r\n")[2])


CALLS = {
    "nap": lambda number: ("nap", {"seconds": 0.2}),
    "doze": lambda number: ("doze", {"seconds": 0.05}),
    "add": lambda number: ("add", {"a": number, "b": 1000}),
}


async def one(url: str, kind: str, number: int) -> tuple[str, Any]:
    """Send one request of this kind and return what must be checked."""
    if kind == "mint":
        status, body = await send(url, "POST", MINT, {"voice": "cedar"})
        assert status == 200, body
        return kind, body["value"]
    if kind == "list":
        status, body = await send(url, "GET", LIST)
        assert status == 200, body
        return kind, len(body["items"])
    name, payload = CALLS[kind](number)
    status, body = await send(url, "POST", EXECUTE, {"function_name": name, "payload": payload})
    assert status == 200, body
    assert body["ok"] is True, body
    assert body["function_name"] == name
    return kind, body["result"]


async def burst(url: str, count: int) -> list[tuple[str, Any]]:
    """``count`` requests at once, each on its own connection."""
    return await asyncio.gather(
        *(one(url, kind, number) for number, kind in enumerate(kinds(count)))
    )


def check_answers(answers: list[tuple[str, Any]], count: int) -> None:
    assert len(answers) == count
    assert Counter(kind for kind, _ in answers) == Counter(kinds(count))
    secrets = [value for kind, value in answers if kind == "mint"]
    assert len(set(secrets)) == len(secrets)  # each caller got its own secret
    assert all(value.startswith("ek_test_") for value in secrets)
    for number, (kind, value) in enumerate(answers):
        if kind == "add":
            assert value == number + 1000  # the answer to this request, not another's
        elif kind in ("nap", "doze"):
            assert value == "rested"
        elif kind == "list":
            assert value > 10


def fd_count() -> int:
    return sum(1 for _ in Path("/proc/self/fd").iterdir())


def open_fds() -> int:
    """Open file descriptors, once closing connections have settled."""
    counts = [fd_count()]
    deadline = time.monotonic() + 3
    while time.monotonic() < deadline:
        time.sleep(0.05)
        counts.append(fd_count())
        if len(counts) >= 4 and len(set(counts[-4:])) == 1:
            break
    return counts[-1]


def rss_bytes() -> int:
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * resource.getpagesize()


@pytest.fixture
def loaded(adapter: str, upstream: FakeOpenAI) -> Served:
    options = options_for(upstream, openai_timeout_seconds=10)
    env = {"NAVAI_MAX_CONCURRENT_FUNCTIONS": str(MAX_CONCURRENCY), "NAVAI_FUNCTION_TIMEOUT": "10"}
    upstream.clear()
    with running(adapter, options, env=env) as server:
        yield server


def test_rounds_of_hundreds_of_concurrent_requests_answered_and_nothing_leaks(
    loaded: Served, upstream: FakeOpenAI
) -> None:
    samples: list[dict[str, int]] = []
    for _ in range(ROUNDS):
        opened_before = upstream.connections_opened
        check_answers(asyncio.run(burst(loaded.url, ROUND)), ROUND)
        gc.collect()
        samples.append(
            {
                "threads": threading.active_count(),
                "workers": loaded.registry._runner.pool.thread_count,
                "mint_attempts": _request._ATTEMPTS.thread_count,
                "fds": open_fds(),
                "rss": rss_bytes(),
                "upstream_connections": upstream.connections_opened - opened_before,
            }
        )
    first, second, last = samples[0], samples[1], samples[-1]
    # Worker threads never exceed the bound (the pool may still grow to it after the
    # first round), and no other thread is left behind by a round.
    # The same holds for the bounded pool that runs sync minting attempts (WSGI).
    assert all(sample["workers"] <= MAX_CONCURRENCY for sample in samples), samples
    assert all(sample["mint_attempts"] <= _request._ATTEMPTS._max_workers for sample in samples)
    pools = ("workers", "mint_attempts")
    assert last["threads"] - sum(last[p] for p in pools) <= first["threads"] - sum(
        first[p] for p in pools
    ), samples
    # Sockets: the server's own and its pooled connections to OpenAI, the same each round.
    # A minting thread the bounded attempt pool adds (WSGI) may keep one more pooled
    # connection to OpenAI: growth up to the pools' bounds is not a leak.
    added_attempts = last["mint_attempts"] - first["mint_attempts"]
    assert last["fds"] <= first["fds"] + 5 + added_attempts, samples
    # Connections to OpenAI are pooled: after the first round most are reused (a few
    # may be replaced), none pile up: each round has 60 mints.
    assert all(sample["upstream_connections"] <= 15 for sample in samples[1:]), samples
    # Memory is flat once warm (the last round against the second; RSS is coarse).
    assert last["rss"] - second["rss"] < 16 * 1024 * 1024, samples

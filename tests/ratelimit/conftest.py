"""A clock the tests move by hand, and a real redis-server the tests start and stop."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time
import types
from collections.abc import Iterator

import attrs
import pytest

from tests.servers import NAVAI, ROOT, NavaiApps, clean_env, free_port, serve_process


@attrs.define
class FakeClock:
    """Epoch seconds that only move when a test says so."""

    now: float = 1_800_000_000.0

    def time(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """A fake clock, also seen by ``limits``' in-memory stores and strategies.

    ``limits`` reads ``time.time()`` through the ``time`` module in each of these
    modules and nowhere else: replacing that name there drives its windows.
    """
    import limits.aio.storage.memory
    import limits.aio.strategies
    import limits.storage.memory
    import limits.strategies

    fake = FakeClock()
    namespace = types.SimpleNamespace(time=fake.time)
    for module in (
        limits.storage.memory,
        limits.aio.storage.memory,
        limits.strategies,
        limits.aio.strategies,
    ):
        monkeypatch.setattr(module, "time", namespace)
    return fake


@attrs.define
class RedisServer:
    """One ``redis-server`` on 127.0.0.1, no persistence; stopped at the end of the test."""

    port: int
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        assert binary is not None
        self.process = subprocess.Popen(
            [
                *(binary, "--port", str(self.port), "--bind", "127.0.0.1"),
                *("--save", "", "--appendonly", "no", "--protected-mode", "no"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as connection,
            ):
                connection.sendall(b"PING\r\n")
                if connection.recv(16).startswith(b"+PONG"):
                    return
            if self.process.poll() is not None or time.monotonic() > deadline:
                msg = f"redis-server did not start on port {self.port}"
                raise RuntimeError(msg)
            time.sleep(0.05)

    def kill(self) -> None:
        """Kill it outright (SIGKILL), as a crash would."""
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(10)

    def pause(self) -> None:
        """Freeze it (SIGSTOP): connections stay open, nothing answers."""
        assert self.process is not None
        self.process.send_signal(19)  # SIGSTOP

    def resume(self) -> None:
        assert self.process is not None
        self.process.send_signal(18)  # SIGCONT


@pytest.fixture
def redis_server() -> Iterator[RedisServer]:
    """A fresh redis-server; missing, it fails the test under ``CI=true`` and skips it otherwise."""
    if shutil.which("redis-server") is None:
        message = "redis-server is not installed (Debian: apt-get install redis-server)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    server = RedisServer(free_port())
    server.start()
    try:
        yield server
    finally:
        if server.process is not None and server.process.poll() is None:
            server.resume()
        server.kill()


# Minting only: the shipped example functions are there so that the app starts as users run it.
APPS = NavaiApps(
    functions_base_dir=ROOT,
    functions_folders="examples/functions",
    function_timeout=5,
    server_key="sk-ratelimit-test-key-0123456789",
    openai_timeout=1.0,
    max_attempts=2,
)


@contextlib.contextmanager
def navai_serve(**env: str) -> Iterator[str]:
    """One ``navai serve`` process (no OpenAI key: a mint that gets through is a 401)."""
    with serve_process(
        lambda port: [*NAVAI, "serve", "--port", str(port), "--no-access-log"],
        env=clean_env(NAVAI_FUNCTIONS_FOLDERS="examples/functions", PYTHONUNBUFFERED="1", **env),
    ) as started:
        yield started.url

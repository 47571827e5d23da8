"""Servers for the security suite: each adapter really served on 127.0.0.1.

Two ways, both used:

* in-process (uvicorn and waitress in threads, as ``tests/http`` does), so a test can
  look at the registry's threads, the process's sockets and memory, and the log records;
* as a real process (``navai serve``; ``gunicorn 'navai_adapters.wsgi:create_app()'``)
  whose standard output and error are kept in a file, so a test can grep everything the
  server printed, exactly as an operator would see it.

Minting always goes to a fake OpenAI on a real socket (``tests.fake_openai``), never to
the internet.
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from navai_adapters import starlette as navai_starlette
from navai_adapters import wsgi as navai_wsgi
from navai_core import NavaiFunctionRegistry, NavaiVoiceBackendOptions, RetryPolicy
from tests.fake_openai import FakeOpenAI
from tests.servers import serve_asgi, serve_wsgi

HERE = Path(__file__).parent
ROOT = HERE.parents[1]
FUNCTIONS = "sec_functions"

# A recognisable fake key: the tests grep for it whole and for its distinctive middle.
SERVER_KEY = "sk-navai-sec-LEAKCANARY7f3e9a-tail0123456789"
KEY_MIDDLE = "LEAKCANARY7f3e9a"
BROWSER_KEY = "sk-browser-SENTBYCLIENT41b2-never-forwarded"
BROWSER_MIDDLE = "SENTBYCLIENT41b2"

MINT = "/navai/realtime/client-secret"
LIST = "/navai/functions"
EXECUTE = "/navai/functions/execute"

FUNCTION_TIMEOUT = 0.5
OPENAI_TIMEOUT = 0.5


# --- checks every test uses ------------------------------------------------------------------


def assert_json(response: httpx.Response, status: int | tuple[int, ...]) -> Any:
    """The response has this status (or one of these), a JSON body and no traceback."""
    expected = (status,) if isinstance(status, int) else status
    assert response.status_code in expected, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith("application/json"), response.headers
    assert "Traceback" not in response.text
    assert 'File "' not in response.text
    return response.json()


def assert_json_error(response: httpx.Response, status: int | tuple[int, ...]) -> dict[str, Any]:
    """A JSON error answer: an object with an ``error`` message, never a 5xx from a crash."""
    body = assert_json(response, status)
    assert isinstance(body, dict)
    assert isinstance(body.get("error"), str)
    assert body["error"]
    return body


def execute(client: httpx.Client, name: str, payload: Any = None, **extra: Any) -> httpx.Response:
    return client.post(EXECUTE, json={"function_name": name, "payload": payload}, **extra)


def assert_healthy(client: httpx.Client) -> None:
    """The server still answers every route: listing, a function, and a mint."""
    assert client.get(LIST).status_code == 200
    assert execute(client, "add", {"a": 2, "b": 2}).json()["result"] == 4
    minted = client.post(MINT, json={})
    assert minted.status_code == 200, minted.text
    assert minted.json()["value"].startswith("ek_test_")


# --- in-process servers ----------------------------------------------------------------------


def options_for(fake: FakeOpenAI, **changes: Any) -> NavaiVoiceBackendOptions:
    fields: dict[str, Any] = {
        "openai_api_key": SERVER_KEY,
        "openai_base_url": fake.url,
        "openai_timeout_seconds": OPENAI_TIMEOUT,
        "retry": RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01),
    }
    fields.update(changes)
    return NavaiVoiceBackendOptions(**fields)


@attrs.frozen
class Running:
    """A server of one adapter, in this process."""

    adapter: str
    url: str
    client: httpx.Client
    app: Any

    @property
    def registry(self) -> NavaiFunctionRegistry:
        navai = self.app.state.navai if self.adapter == "starlette" else self.app
        registry = navai.handler.registry
        assert registry is not None
        return registry


def make_app(adapter: str, options: NavaiVoiceBackendOptions, **config: Any) -> Any:
    env = {"NAVAI_FUNCTION_TIMEOUT": str(FUNCTION_TIMEOUT), **config.pop("env", {})}
    config.setdefault("functions_base_dir", HERE)
    config.setdefault("functions_folders", FUNCTIONS)
    factory = navai_starlette.create_app if adapter == "starlette" else navai_wsgi.create_app
    return factory(options, env=env, **config)


@contextlib.contextmanager
def running(
    adapter: str, options: NavaiVoiceBackendOptions, *, timeout: float = 10, **config: Any
) -> Iterator[Running]:
    app = make_app(adapter, options, **config)
    serve = serve_asgi if adapter == "starlette" else serve_wsgi
    with serve(app) as url, httpx.Client(base_url=url, timeout=timeout) as client:
        yield Running(adapter, url, client, app)


@pytest.fixture(scope="module")
def upstream(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The shared fake OpenAI (tests/conftest.py), under the name this suite uses."""
    return fake_openai


@pytest.fixture(scope="module")
def module_server(adapter: str, upstream: FakeOpenAI) -> Iterator[Running]:
    with running(adapter, options_for(upstream)) as server:
        yield server


@pytest.fixture
def server(module_server: Running, upstream: FakeOpenAI) -> Running:
    """The module's server of this adapter, with the fake upstream reset for the test."""
    upstream.clear()
    return module_server


@pytest.fixture
def serve_with(
    adapter: str, upstream: FakeOpenAI
) -> Callable[..., contextlib.AbstractContextManager[Running]]:
    """Start a server of this adapter with other options or config, for one test."""

    @contextlib.contextmanager
    def start(options: NavaiVoiceBackendOptions | None = None, **config: Any) -> Iterator[Running]:
        upstream.clear()
        with running(adapter, options or options_for(upstream), **config) as started:
            yield started

    return start


# --- servers as real processes, their output kept --------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def server_env(fake: FakeOpenAI, **extra: str) -> dict[str, str]:
    env = {
        key: value for key, value in os.environ.items() if not key.startswith(("OPENAI_", "NAVAI_"))
    }
    env.update(
        OPENAI_API_KEY=SERVER_KEY,
        OPENAI_BASE_URL=fake.url,
        NAVAI_OPENAI_TIMEOUT=str(OPENAI_TIMEOUT),
        NAVAI_OPENAI_MAX_ATTEMPTS="2",
        NAVAI_FUNCTIONS_BASE_DIR=str(HERE),
        NAVAI_FUNCTIONS_FOLDERS=FUNCTIONS,
        NAVAI_FUNCTION_TIMEOUT=str(FUNCTION_TIMEOUT),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@attrs.define
class Process:
    """A server process; everything it prints goes to ``log_path``."""

    adapter: str
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        """What the server printed so far (standard output and error)."""
        return self.log_path.read_text("utf-8", errors="replace")

    def worker_pid(self) -> int:
        """The process that serves requests (gunicorn's worker, else the process itself)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        return int(pids[0]) if pids else self.process.pid


def external_command(adapter: str, port: int) -> list[str]:
    if adapter == "starlette":
        return [sys.executable, "-m", "navai_adapters", "serve", "--port", str(port)]
    return [
        sys.executable,
        "-m",
        "gunicorn",
        "navai_adapters.wsgi:create_app()",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        "1",
        "--threads",
        "8",
        "--graceful-timeout",
        "2",
    ]


@contextlib.contextmanager
def external(adapter: str, fake: FakeOpenAI, log_dir: Path, **env: str) -> Iterator[Process]:
    """``navai serve`` (Starlette under uvicorn) or gunicorn (WSGI) as a real process."""
    port = free_port()
    log_path = log_dir / f"{adapter}-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            external_command(adapter, port),
            cwd=ROOT,
            env=server_env(fake, **env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    started = Process(adapter, f"http://127.0.0.1:{port}", process, log_path)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{started.url}{LIST}", timeout=1)
                break
            except httpx.TransportError:
                assert process.poll() is None, started.log()
                assert time.monotonic() < deadline, started.log()
                time.sleep(0.05)
        yield started
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
            process.kill()
            process.wait(10)

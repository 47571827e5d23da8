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
import functools
import itertools
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.gates import Gate, new_gate
from tests.servers import NavaiApps, Served, ServerProcess, serve_process

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


APPS = NavaiApps(
    functions_base_dir=HERE,
    functions_folders=FUNCTIONS,
    function_timeout=FUNCTION_TIMEOUT,
    server_key=SERVER_KEY,
    openai_timeout=OPENAI_TIMEOUT,
    max_attempts=3,
)
options_for = APPS.options
running = APPS.running


@pytest.fixture
def gate() -> Iterator[Gate]:
    """A closed gate for the ``held``/``aheld`` functions; opened at the end, freeing them."""
    closed = new_gate()
    try:
        yield closed
    finally:
        closed.open()


@pytest.fixture(scope="module")
def upstream(fake_openai: FakeOpenAI) -> FakeOpenAI:
    """The shared fake OpenAI (tests/conftest.py), under the name this suite uses."""
    return fake_openai


@pytest.fixture(scope="module")
def module_server(adapter: str, upstream: FakeOpenAI) -> Iterator[Served]:
    with running(adapter, options_for(upstream)) as server:
        yield server


@pytest.fixture
def server(module_server: Served, upstream: FakeOpenAI) -> Served:
    """The module's server of this adapter, with the fake upstream reset for the test."""
    upstream.clear()
    return module_server


@pytest.fixture
def serve_with(
    adapter: str, upstream: FakeOpenAI
) -> Callable[..., contextlib.AbstractContextManager[Served]]:
    """Start a server of this adapter with other options or config, for one test."""
    return APPS.starter(adapter, upstream)


# --- servers as real processes, their output kept --------------------------------------------


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


_EXTERNAL_NUMBERS = itertools.count()


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
def external(adapter: str, fake: FakeOpenAI, log_dir: Path, **env: str) -> Iterator[ServerProcess]:
    """``navai serve`` (Starlette under uvicorn) or gunicorn (WSGI) as a real process."""
    log_path = log_dir / f"{adapter}-{next(_EXTERNAL_NUMBERS)}.log"
    with serve_process(
        functools.partial(external_command, adapter),
        env=server_env(fake, **env),
        cwd=ROOT,
        path=LIST,
        log_path=log_path,
    ) as started:
        yield started

"""Real servers on 127.0.0.1 for integration tests: uvicorn for ASGI, waitress for WSGI."""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import uvicorn
import waitress.server


@contextlib.contextmanager
def serve_asgi(app: Any, **settings: Any) -> Iterator[str]:
    """Run ``app`` under uvicorn in a thread; yield its base URL.

    ``settings`` are more ``uvicorn.Config`` arguments (``root_path``, say).
    """
    # The asyncio loop: uvloop in a non-main thread warns on close under pytest. No
    # WebSocket protocol: NAVAI serves none, and older uvicorn releases import websockets'
    # deprecated legacy module for it (a warning, hence an error here).
    # proxy_headers off: what X-Forwarded-For is worth is the app's call (trusted_proxies),
    # not uvicorn's, which believes it from 127.0.0.1 by default.
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=0,
        log_level="warning",
        lifespan="on",
        loop="asyncio",
        ws="none",
        proxy_headers=False,
        **settings,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            msg = "uvicorn did not start"
            raise RuntimeError(msg)
        time.sleep(0.005)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@contextlib.contextmanager
def serve_wsgi(app: Callable[..., Any], threads: int = 16) -> Iterator[str]:
    """Run ``app`` under waitress (a production WSGI server) in a thread; yield its URL.

    At the end the worker threads finish first (they poke the server's trigger when
    done), then the server is closed from its own loop (a trigger's thunk), which wakes
    the loop at once and leaves no socket for a late worker to write to.
    """
    # connection_limit: waitress stops accepting at 100 open connections by default,
    # and keep-alive clients hold theirs.
    # clear_untrusted_proxy_headers off: waitress would drop X-Forwarded-For before the
    # app could decide what it is worth (trusted_proxies).
    server = waitress.server.create_server(
        app,
        host="127.0.0.1",
        port=0,
        threads=threads,
        connection_limit=1000,
        clear_untrusted_proxy_headers=False,
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        server.task_dispatcher.shutdown(timeout=10)
        server.trigger.pull_trigger(server.close)
        thread.join(10)
        close = getattr(app, "close", None)
        if close is not None:
            close()


def wait_until_serving(
    url: str, process: subprocess.Popen[str], path: str = "/navai/functions", timeout: float = 30
) -> httpx.Response:
    """Poll ``url + path`` until a server process answers; fail with its output if it dies."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return httpx.get(f"{url}{path}", timeout=2)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                output = process.communicate()[0]
                msg = f"the server at {url} did not start:\n{output}"
                raise AssertionError(msg) from None
            time.sleep(0.1)

"""Real servers on 127.0.0.1 for integration tests.

In this process: uvicorn for ASGI, waitress for WSGI (threads). As real processes:
``navai serve``, gunicorn, Django, the original Node backend (:func:`serve_process`).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
import uvicorn
import waitress.server
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from navai_adapters import starlette as navai_starlette
from navai_adapters import wsgi as navai_wsgi
from navai_adapters._http import NavaiHttpHandler
from navai_core import NavaiFunctionRegistry, NavaiVoiceBackendOptions, RetryPolicy

ROOT = Path(__file__).parents[1]
NAVAI = [sys.executable, "-m", "navai_adapters"]


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
        try:
            server.trigger.pull_trigger(server.close)
        except OSError:
            # The trigger's pipe is gone already (seen once in a few hundred runs, its
            # cause not found): the loop cannot be woken, so close from here.
            with contextlib.suppress(OSError):
                server.close()
        thread.join(10)
        close = getattr(app, "close", None)
        if close is not None:
            close()


def free_port() -> int:
    """A port nothing listens on now (the OS picked it), for a server started next."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without NAVAI, OpenAI or ElevenLabs settings, plus ``extra``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("OPENAI_", "NAVAI_", "ELEVENLABS_"))
    }
    env.update(extra)
    return env


@attrs.define
class ServerProcess:
    """A server started as a real process; what it printed is kept (in a pipe or a file)."""

    url: str
    process: subprocess.Popen[str]
    log_path: Path | None = None
    _output: str | None = None

    def stop(self) -> str:
        """Terminate it (once) and answer everything it printed."""
        if self._output is None:
            self.process.terminate()
            try:
                printed = self.process.communicate(timeout=15)[0]
            except subprocess.TimeoutExpired:  # pragma: no cover - a stuck server
                self.process.kill()
                printed = self.process.communicate(timeout=10)[0]
            self._output = self.log() if self.log_path is not None else printed or ""
        return self._output

    def log(self) -> str:
        """What it printed so far (a server whose output goes to a file only)."""
        assert self.log_path is not None
        return self.log_path.read_text("utf-8", errors="replace")

    def worker_pid(self) -> int:
        """The process that serves requests (gunicorn's worker, else the process itself)."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = children.read_text().split() if children.exists() else []
        return int(pids[0]) if pids else self.process.pid


@contextlib.contextmanager
def serve_process(
    command: Callable[[int], list[str]],
    *,
    env: dict[str, str],
    cwd: Path = ROOT,
    path: str = "/navai/functions",
    log_path: Path | None = None,
) -> Iterator[ServerProcess]:
    """Start ``command(port)`` on a free port, wait until ``path`` answers, stop it at the end.

    Its output goes to a pipe (read by :meth:`ServerProcess.stop`) or, given
    ``log_path``, to that file (readable while it runs).
    """
    port = free_port()
    with contextlib.ExitStack() as files:
        output: Any = files.enter_context(log_path.open("w")) if log_path else subprocess.PIPE
        process = subprocess.Popen(
            command(port),
            cwd=cwd,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            text=True,
        )
    started = ServerProcess(f"http://127.0.0.1:{port}", process, log_path)
    try:
        wait_until_serving(started.url, process, path, started.stop)
        yield started
    finally:
        started.stop()


def wait_until_serving(
    url: str, process: subprocess.Popen[str], path: str, stop: Callable[[], str]
) -> None:
    """Poll ``url + path`` until the server process answers (30 s at most).

    If it dies or never answers, ``stop`` it and fail with what it printed.
    """
    deadline = time.monotonic() + 30
    while True:
        try:
            httpx.get(f"{url}{path}", timeout=2)
        except httpx.TransportError:
            if process.poll() is not None or time.monotonic() > deadline:
                msg = f"the server at {url} did not start:\n{stop()}"
                raise AssertionError(msg) from None
            time.sleep(0.1)
        else:
            return


def eventually(
    condition: Callable[[], bool], what: Callable[[], str] = str, timeout: float = 30
) -> None:
    """Poll ``condition`` until it holds; fail after a generous ``timeout`` saying ``what()``."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what()
        time.sleep(0.05)


def install_node_package(folder: Path, package: str) -> None:
    """``npm ci`` the pinned ``package`` into ``folder`` once, or say why we cannot.

    Without Node.js and npm the test is skipped, and fails under ``CI`` (which must have them).
    """
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        if os.environ.get("CI"):
            pytest.fail(f"CI must have Node.js and npm to check {package}.")
        pytest.skip(f"Node.js and npm are needed to run {package}.")
    if not (folder / "node_modules" / package).is_dir():
        subprocess.run(
            [npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=folder,
            check=True,
            timeout=600,
        )


# --- NAVAI apps of each adapter, served in this process --------------------------------------


@attrs.frozen
class Served:
    """A NAVAI app of one adapter served in this process, with a client on its URL."""

    adapter: str
    url: str
    client: httpx.Client
    app: Any
    fake: Any = None

    @property
    def handler(self) -> NavaiHttpHandler:
        """The app's HTTP handler (the Starlette app keeps it in its state)."""
        navai = self.app.state.navai if self.adapter == "starlette" else self.app
        return navai.handler

    @property
    def registry(self) -> NavaiFunctionRegistry:
        registry = self.handler.registry
        assert registry is not None
        return registry


@attrs.frozen
class NavaiApps:
    """How one test folder builds its apps: which functions, which timeouts, which key."""

    functions_base_dir: Path
    functions_folders: str
    function_timeout: float
    server_key: str
    openai_timeout: float
    max_attempts: int

    def options(self, fake: Any, **changes: Any) -> NavaiVoiceBackendOptions:
        """Options minting through ``fake`` with this folder's key, timeout and retries."""
        fields: dict[str, Any] = {
            "openai_api_key": self.server_key,
            "openai_base_url": fake.url,
            "openai_timeout_seconds": self.openai_timeout,
            "retry": RetryPolicy(max_attempts=self.max_attempts, backoff_initial_seconds=0.01),
        }
        fields.update(changes)
        return NavaiVoiceBackendOptions(**fields)

    def app(self, adapter: str, options: NavaiVoiceBackendOptions, **config: Any) -> Any:
        """An app of ``adapter``; ``config`` (and its ``env``) override this folder's defaults."""
        env = {"NAVAI_FUNCTION_TIMEOUT": str(self.function_timeout), **config.pop("env", {})}
        config.setdefault("functions_base_dir", self.functions_base_dir)
        config.setdefault("functions_folders", self.functions_folders)
        factory = navai_starlette.create_app if adapter == "starlette" else navai_wsgi.create_app
        return factory(options, env=env, **config)

    @contextlib.contextmanager
    def running(
        self,
        adapter: str,
        options: NavaiVoiceBackendOptions,
        prefix: str = "",
        *,
        fake: Any = None,
        timeout: float = 10,
        **config: Any,
    ) -> Iterator[Served]:
        """Serve an app of ``adapter`` (under ``prefix``, as users mount it) with a client."""
        app = self.app(adapter, options, **config)
        serve = serve_asgi if adapter == "starlette" else serve_wsgi
        with (
            serve(mounted(adapter, app, prefix)) as root,
            httpx.Client(base_url=root + prefix, timeout=timeout) as client,
        ):
            yield Served(adapter, root + prefix, client, app, fake)

    def starter(
        self, adapter: str, fake: Any, prefix: str = ""
    ) -> Callable[..., contextlib.AbstractContextManager[Served]]:
        """``start(options=None, **config)``: serve one app for one test, ``fake`` reset first.

        Without options, the app mints through ``fake`` (:meth:`options`).
        """

        @contextlib.contextmanager
        def start(
            options: NavaiVoiceBackendOptions | None = None, **config: Any
        ) -> Iterator[Served]:
            fake.clear()
            chosen = options or self.options(fake)
            with self.running(adapter, chosen, prefix, fake=fake, **config) as served:
                yield served

        return start


def mounted(adapter: str, app: Any, prefix: str) -> Any:
    """``app`` under ``prefix``, as users mount it: Starlette ``Mount``, WSGI dispatcher."""
    if not prefix:
        return app
    if adapter == "starlette":

        @contextlib.asynccontextmanager
        async def lifespan(_outer: Starlette) -> AsyncIterator[None]:
            # A mounted app's own lifespan is not run by Starlette: enter it from the outer one.
            async with app.state.navai.lifespan():
                yield

        return Starlette(routes=[Mount(prefix, app=app)], lifespan=lifespan)

    def elsewhere(_environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "outside the mount"}']

    dispatcher = DispatcherMiddleware(elsewhere, {prefix: app})
    dispatcher.close = app.close  # type: ignore[attr-defined]  # serve_wsgi closes the app
    return dispatcher

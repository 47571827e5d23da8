"""A fake OpenAI REST server for integration tests and benchmarks.

It listens on a real socket on ``127.0.0.1`` (the OS picks the port) and answers
``POST /v1/realtime/client_secrets`` the way OpenAI does, so the minting code is tested
through real connections, timeouts and keep-alive, without reaching the internet.

The server is a few dozen lines of ``asyncio`` speaking HTTP/1.1 (keep-alive,
``Content-Length`` or chunked bodies), running on its own event loop in a background
thread, so synchronous and asynchronous tests can both use it::

    with FakeOpenAI() as fake:
        fake.enqueue(status(500, {"error": {"message": "boom"}}), success())
        options = NavaiVoiceBackendOptions(openai_api_key="sk-test", openai_base_url=fake.url)
        create_realtime_client_secret(options)
        assert len(fake.requests) == 2

Behaviours are scripted: each request to the endpoint consumes the next queued one;
when the queue is empty, ``default`` answers (a success unless changed):

- ``success()``: 200 ``{"value": "ek_test_<n>", "expires_at", "session"}``;
- ``status(code, body, headers=...)``: any answer, such as a 429 with ``retry-after``;
- ``delay(seconds, then=success())``: a slow upstream;
- ``trickle(interval, then=success())``: an answer sent one byte at a time;
- ``broken_json()``: a 200 whose body is not JSON;
- ``drop()``: the connection closed without an answer.

Other paths answer 404 and other methods 405, in OpenAI's error shape. Every request
(any path) is recorded in ``requests``.

Also runnable on its own, for benchmarks and manual checks::

    python tests/fake_openai.py --port 8765
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import itertools
import json
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

if TYPE_CHECKING:
    from collections.abc import Mapping
    from types import FrameType, TracebackType

    from typing_extensions import Self

__all__ = [
    "Behaviour",
    "BrokenJson",
    "Delay",
    "Drop",
    "FakeOpenAI",
    "RecordedRequest",
    "Status",
    "Success",
    "Trickle",
    "broken_json",
    "delay",
    "drop",
    "status",
    "success",
    "trickle",
]

CLIENT_SECRETS_PATH = "/v1/realtime/client_secrets"
_MAX_HEADER_BYTES = 64 * 1024
_REASONS = {
    200: "OK",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    408: "Request Timeout",
    409: "Conflict",
    411: "Length Required",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


# --- behaviours ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Success:
    """Answer 200 with ``{"value": "ek_test_<n>", "expires_at", "session"}``.

    ``session`` echoes the request's ``session``; ``expires_at`` is now plus the
    request's ``expires_after.seconds`` (600 when absent).
    """


@dataclass(frozen=True)
class Status:
    """Answer ``code`` with a JSON body (dict or list), a text body (str) or none (None)."""

    code: int
    body: Any = None
    headers: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Delay:
    """Wait ``seconds`` (a slow upstream), then behave as ``then``."""

    seconds: float
    then: Behaviour = field(default_factory=Success)


@dataclass(frozen=True)
class BrokenJson:
    """Answer 200 with a body that is not valid JSON."""


@dataclass(frozen=True)
class Drop:
    """Close the connection without answering."""


@dataclass(frozen=True)
class Trickle:
    """Answer as ``then``, but send the answer one byte every ``interval`` seconds.

    Each read then succeeds quickly, so only a bound on the whole call ends it early.
    """

    interval: float
    then: Behaviour = field(default_factory=Success)


Behaviour: TypeAlias = "Success | Status | Delay | BrokenJson | Drop | Trickle"


def success() -> Success:
    """A successful mint (see :class:`Success`)."""
    return Success()


def status(code: int, body: Any = None, headers: Mapping[str, str] | None = None) -> Status:
    """An answer with this status, body and extra headers (such as ``retry-after``)."""
    return Status(code, body, dict(headers or {}))


def delay(seconds: float, then: Behaviour | None = None) -> Delay:
    """Wait, then answer as ``then`` (a success by default)."""
    return Delay(seconds, then or Success())


def broken_json() -> BrokenJson:
    """A 200 whose body is not JSON."""
    return BrokenJson()


def drop() -> Drop:
    """Close the connection without an answer."""
    return Drop()


def trickle(interval: float, then: Behaviour | None = None) -> Trickle:
    """Send the answer (a success by default) one byte every ``interval`` seconds."""
    return Trickle(interval, then or Success())


# --- what was received -----------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request the server received.

    Attributes:
        method: ``POST``, ``GET``, ...
        path: The path, query string included.
        headers: Header names lowercased; a repeated header keeps its last value.
        content: The raw body.
        body: The body parsed as JSON, or ``None`` when it is empty or not JSON.
    """

    method: str
    path: str
    headers: dict[str, str]
    content: bytes
    body: Any


class _BadRequestError(Exception):
    """The client sent something that is not HTTP/1.1 this server understands."""


# --- the server ------------------------------------------------------------------------------


class FakeOpenAI:
    """A scriptable fake of OpenAI's ``POST /v1/realtime/client_secrets``.

    Start and stop it with ``with FakeOpenAI() as fake:`` (or :meth:`start` and
    :meth:`stop`). Thread-safe enough for tests: behaviours may be queued from the
    test's thread while the server runs in its own.

    Attributes:
        requests: Every request received, in order (any path).
        connections_opened: How many TCP connections clients opened (keep-alive reuses one).
        default: The behaviour used once the queue is empty.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 0, *, default: Behaviour | None = None
    ) -> None:
        self.host = host
        self.port = port
        self.default: Behaviour = default or Success()
        self.requests: list[RecordedRequest] = []
        self.connections_opened = 0
        self._queue: collections.deque[Behaviour] = collections.deque()
        self._minted = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._connections: set[asyncio.StreamWriter] = set()
        self._handlers: set[asyncio.Task[None]] = set()

    # -- public API --

    @property
    def url(self) -> str:
        """The base URL to use as ``openai_base_url``, like ``http://127.0.0.1:PORT/v1``."""
        return f"http://{self.host}:{self.port}/v1"

    @property
    def client_secrets_url(self) -> str:
        """The full URL of the minting endpoint."""
        return f"http://{self.host}:{self.port}{CLIENT_SECRETS_PATH}"

    def enqueue(self, *behaviours: Behaviour) -> None:
        """Queue behaviours, consumed one per request to the endpoint, in order."""
        self._queue.extend(behaviours)

    @property
    def pending(self) -> int:
        """How many queued behaviours are not consumed yet."""
        return len(self._queue)

    def clear(self) -> None:
        """Forget recorded requests and queued behaviours; count connections and secrets anew."""
        self.requests.clear()
        self._queue.clear()
        self.connections_opened = 0
        self._minted = itertools.count(1)

    def start(self) -> Self:
        """Start serving in a background thread; returns once the socket listens."""
        if self._thread is not None:
            msg = "FakeOpenAI is already running."
            raise RuntimeError(msg)
        # A plain selector loop, whatever event loop policy (uvloop...) the process has set.
        loop = asyncio.SelectorEventLoop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._listen())
            except BaseException as error:  # handed to the starting thread
                failure.append(error)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self._shutdown())
                loop.close()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fake-openai", daemon=True)
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = self._loop = None
            raise failure[0]
        return self

    def stop(self) -> None:
        """Close every connection and stop the server thread."""
        if self._thread is None or self._loop is None:
            return
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread = self._loop = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- inside the server's loop --

    async def _listen(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for writer in list(self._connections):
            writer.transport.abort()
        for task in list(self._handlers):
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        self._connections.add(writer)
        self.connections_opened += 1
        try:
            while await self._serve_one(reader, writer):
                pass
        except (ConnectionError, asyncio.IncompleteReadError, _BadRequestError):
            pass
        except asyncio.CancelledError:
            # Only _shutdown cancels; ending quietly keeps asyncio's stream callback
            # from logging the cancellation as an error.
            pass
        finally:
            self._connections.discard(writer)
            self._handlers.discard(task)
            writer.close()  # flushes what was written, then closes

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> bool:
        """Serve one request; False when the connection should close."""
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return False  # the client closed an idle keep-alive connection
        except asyncio.LimitOverrunError as error:
            raise _BadRequestError from error
        if len(head) > _MAX_HEADER_BYTES:
            raise _BadRequestError
        request_line, *header_lines = head.decode("latin-1").split("\r\n")
        try:
            method, path, _version = request_line.split(" ", 2)
        except ValueError:
            raise _BadRequestError from None
        headers: dict[str, str] = {}
        for line in header_lines:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        content = await self._read_body(reader, headers)
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = None
        self.requests.append(RecordedRequest(method, path, headers, content, body))
        keep_alive = headers.get("connection", "").lower() != "close"

        route = path.split("?", 1)[0]
        if not self._is_endpoint(route):
            behaviour: Behaviour = Status(404, {"error": {"message": f"Unknown path {route}."}})
        elif method != "POST":
            behaviour = Status(405, {"error": {"message": f"Method {method} not allowed."}})
        else:
            behaviour = self._queue.popleft() if self._queue else self.default
        while isinstance(behaviour, Delay):
            await asyncio.sleep(behaviour.seconds)
            behaviour = behaviour.then
        if isinstance(behaviour, Drop):
            return False
        if isinstance(behaviour, Trickle):
            answer = self._answer(behaviour.then, body, keep_alive=False, path=path)
            for index in range(len(answer)):
                writer.write(answer[index : index + 1])
                await writer.drain()
                await asyncio.sleep(behaviour.interval)
            return False
        writer.write(self._answer(behaviour, body, keep_alive=keep_alive, path=path))
        await writer.drain()
        return keep_alive

    @staticmethod
    async def _read_body(reader: asyncio.StreamReader, headers: Mapping[str, str]) -> bytes:
        if "chunked" in headers.get("transfer-encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    return b"".join(chunks)
                chunks.append(chunk[:-2])
        try:
            length = int(headers.get("content-length", "0"))
        except ValueError:
            raise _BadRequestError from None
        return await reader.readexactly(length) if length > 0 else b""

    def _is_endpoint(self, route: str) -> bool:
        """Whether ``route`` (a path without query) is the faked endpoint."""
        return route == CLIENT_SECRETS_PATH

    def _success(self, path: str, request_body: Any) -> tuple[bytes, str]:
        """The body and content type of a successful answer."""
        del path
        return json.dumps(self._minted_secret(request_body)).encode(), "application/json"

    def _answer(
        self, behaviour: Behaviour, request_body: Any, *, keep_alive: bool, path: str = ""
    ) -> bytes:
        extra: Mapping[str, str] = {}
        if isinstance(behaviour, Status):
            code = behaviour.code
            extra = behaviour.headers
            if behaviour.body is None:
                content, content_type = b"", "text/plain"
            elif isinstance(behaviour.body, str):
                content, content_type = behaviour.body.encode(), "text/plain; charset=utf-8"
            else:
                content, content_type = json.dumps(behaviour.body).encode(), "application/json"
        elif isinstance(behaviour, BrokenJson):
            code, content_type = 200, "application/json"
            content = b'{"value": "ek_broken", "expires_at": '
        else:
            code = 200
            content, content_type = self._success(path, request_body)
        lines = [
            f"HTTP/1.1 {code} {_REASONS.get(code, 'Unknown')}",
            f"content-type: {content_type}",
            f"content-length: {len(content)}",
            f"connection: {'keep-alive' if keep_alive else 'close'}",
            *(f"{name}: {value}" for name, value in extra.items()),
        ]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + content

    def _minted_secret(self, request_body: Any) -> dict[str, Any]:
        session: Any = None
        ttl = 600
        if isinstance(request_body, dict):
            session = request_body.get("session")
            expires_after = request_body.get("expires_after")
            if isinstance(expires_after, dict) and isinstance(expires_after.get("seconds"), int):
                ttl = expires_after["seconds"]
        return {
            "value": f"ek_test_{next(self._minted)}",
            "expires_at": int(time.time()) + ttl,
            "session": session,
        }


def main(argv: list[str] | None = None) -> None:
    """Run the fake on its own until interrupted (Ctrl-C or SIGTERM)."""
    parser = argparse.ArgumentParser(description="A fake OpenAI client_secrets endpoint.")
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=0, help="port (0: the OS picks one)")
    args = parser.parse_args(argv)

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        raise SystemExit(0)  # unwinds through `with`, which stops the server cleanly

    signal.signal(signal.SIGTERM, on_sigterm)
    with FakeOpenAI(args.host, args.port) as fake:
        print(fake.url, flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()


if __name__ == "__main__":
    main()

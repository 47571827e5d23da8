"""The HTTP client the core mints with when it owns one: pooled HTTP/1.1 on asyncio.

:func:`new_async_client` is what an async call given no client opens, and what the
Starlette adapter keeps for the app's lifetime. It is an ordinary ``httpx.AsyncClient``
on :class:`KeepAliveTransport`, with a cookie jar that keeps nothing.

Why not httpx's own transport: minting is on the path of every voice session start, and
httpcore's pool spends more CPU per request than the round trip to OpenAI leaves room for
under load (docs/performance.md measures it; docs/decisions.md has the choice). Answers
are parsed by ``httptools``, the binding to llhttp (Node's HTTP parser, which uvicorn
uses too): the part that must be right against any server is a well-kept parser's.
This module writes requests, moves bytes and keeps connections.

Behind a proxy (``HTTPS_PROXY`` and the like, which httpx honours only with its own
transport) :func:`new_async_client` returns a plain ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import re
import ssl
import urllib.request

import httptools
import httpx

__all__ = [
    "KeepAliveTransport",
    "cookieless_jar",
    "new_async_client",
    "new_client",
    "proxy_configured",
]

MAX_CONNECTIONS = 200
MAX_KEEPALIVE_CONNECTIONS = 100
KEEPALIVE_EXPIRY_SECONDS = 5.0
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024
_Origin = tuple[str, str, int]
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})
_DISCONNECTED = "Server disconnected without sending a complete response."
# RFC 9110, section 5: a field name is a token; a value has no line break and no NUL.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_FIELD_VALUE = re.compile(rb"[^\r\n\x00]*")


def new_async_client() -> httpx.AsyncClient:
    """A pooled ``httpx.AsyncClient`` for minting: kept-alive connections, no cookies."""
    limits = httpx.Limits(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
    )
    if proxy_configured():
        return httpx.AsyncClient(limits=limits, cookies=cookieless_jar())
    transport = KeepAliveTransport(
        max_connections=MAX_CONNECTIONS, max_keepalive_connections=MAX_KEEPALIVE_CONNECTIONS
    )
    return httpx.AsyncClient(transport=transport, cookies=cookieless_jar())


def new_client() -> httpx.Client:
    """The blocking twin, for WSGI servers: httpx's own pooled transport, no cookies."""
    limits = httpx.Limits(max_connections=100, max_keepalive_connections=50)
    return httpx.Client(limits=limits, cookies=cookieless_jar())


class _CookielessJar(http.cookiejar.CookieJar):
    """A jar that keeps nothing.

    One server mints for every user: a cookie OpenAI's edge sets for one user's call has
    no business going out with the next user's (the original backend's ``fetch`` keeps
    none either).
    """

    def extract_cookies(self, response: object, request: urllib.request.Request) -> None:
        """Keep no cookie from ``response``."""

    def set_cookie(self, cookie: http.cookiejar.Cookie) -> None:
        """Keep no cookie."""


def cookieless_jar() -> http.cookiejar.CookieJar:
    """A ``CookieJar`` that keeps nothing, for ``httpx.AsyncClient(cookies=...)``."""
    return _CookielessJar()


def proxy_configured() -> bool:
    """Whether the environment names a proxy, read from where httpx reads it."""
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


class KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio with kept-alive connections; each answer is read whole.

    Args:
        max_connections: The most requests in flight at once; more wait (the ``pool``
            timeout, then ``httpx.PoolTimeout``).
        max_keepalive_connections: The most idle connections kept per origin.
        keepalive_expiry: Seconds an idle connection is kept; less than servers keep
            theirs, so a connection is not reused just as the server closes it.
    """

    def __init__(
        self,
        *,
        max_connections: int = MAX_CONNECTIONS,
        max_keepalive_connections: int = MAX_KEEPALIVE_CONNECTIONS,
        keepalive_expiry: float = KEEPALIVE_EXPIRY_SECONDS,
    ) -> None:
        self._max_keepalive = max_keepalive_connections
        self._expiry = keepalive_expiry
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._ssl_context: ssl.SSLContext | None = None
        self._closed = False

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send ``request`` and return its answer, read whole."""
        url = request.url
        if url.scheme not in ("http", "https"):
            raise httpx.UnsupportedProtocol(f"Only http and https URLs are supported: {url}")
        port = url.port or (443 if url.scheme == "https" else 80)
        origin = (url.scheme, url.raw_host.decode("ascii"), port)  # IDNA-encoded
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        try:
            body = await request.aread()
            data = _request_bytes(request, body)
            await self._acquire(timeouts.get("pool"))
            try:
                connection = self._reuse(origin) or await self._connect(
                    origin, timeouts.get("connect")
                )
                try:
                    answer = await connection.exchange(data, request.method == "HEAD", timeouts)
                except BaseException:
                    connection.close()  # half a conversation: never reuse it
                    raise
                self._keep(origin, connection)
            finally:
                self._slots.release()
        except httpx.RequestError as error:
            error.request = request
            raise
        response = httpx.Response(
            answer.status,
            headers=answer.headers,
            stream=httpx.ByteStream(b"".join(answer.parts)),
            extensions={"http_version": answer.version, "reason_phrase": answer.reason},
        )
        response.read()  # decoded here, in one go: the body is all in memory already
        return response

    async def _acquire(self, timeout: float | None) -> None:
        if not self._slots.locked() or timeout is None:
            await self._slots.acquire()
            return
        try:
            await asyncio.wait_for(self._slots.acquire(), timeout)
        except asyncio.TimeoutError:
            raise httpx.PoolTimeout("Timed out waiting for a free connection.") from None

    def _reuse(self, origin: _Origin) -> _Connection | None:
        idle = self._idle.get(origin)
        if not idle:
            return None
        loop = asyncio.get_running_loop()
        now = loop.time()
        while idle:
            connection = idle.pop()  # the most recently used: the least likely to be stale
            if not connection.reusable(loop) or now - connection.idle_since > self._expiry:
                connection.close()
                continue
            return connection
        return None

    def _keep(self, origin: _Origin, connection: _Connection) -> None:
        idle = self._idle.setdefault(origin, [])
        now = connection.loop.time()
        while idle and now - idle[0].idle_since > self._expiry:
            idle.pop(0).close()  # expired at the bottom of the stack
        if (
            not self._closed
            and len(idle) < self._max_keepalive
            and connection.reusable(connection.loop)
        ):
            connection.idle_since = now
            idle.append(connection)
        else:
            connection.close()

    async def _connect(self, origin: _Origin, timeout: float | None) -> _Connection:
        scheme, host, port = origin
        context = None
        if scheme == "https":
            if self._ssl_context is None:
                self._ssl_context = httpx.create_ssl_context()  # certifi, SSL_CERT_FILE
            context = self._ssl_context
        loop = asyncio.get_running_loop()
        try:
            _, connection = await asyncio.wait_for(
                loop.create_connection(_Connection, host, port, ssl=context), timeout
            )
        except asyncio.TimeoutError:
            raise httpx.ConnectTimeout(f"Timed out connecting to {host}:{port}.") from None
        except OSError as error:  # refused, unreachable, DNS, TLS
            raise httpx.ConnectError(str(error) or type(error).__name__) from error
        return connection

    async def aclose(self) -> None:
        """Close the idle connections; the transport takes no more."""
        self._closed = True
        for idle in self._idle.values():
            for connection in idle:
                connection.close()
        self._idle.clear()


class _Answer:
    """One answer as the parser reports it: the callbacks ``httptools`` calls, and their result."""

    __slots__ = (
        "complete",
        "error",
        "extra",
        "framed",
        "head_bytes",
        "headers",
        "headers_done",
        "interim",
        "keep_alive",
        "parser",
        "parts",
        "reason",
        "size",
        "skip_body",
        "status",
        "version",
    )

    def __init__(self, skip_body: bool) -> None:
        self.skip_body = skip_body  # an answer to HEAD: headers only, whatever they say
        self.parser = httptools.HttpResponseParser(self)
        self.headers: list[tuple[bytes, bytes]] = []
        self.parts: list[bytes] = []
        self.status = 0
        self.reason = b""
        self.version = b"HTTP/1.1"
        self.size = self.head_bytes = 0
        self.framed = False  # Content-Length or Transfer-Encoding given
        self.headers_done = self.interim = self.complete = self.extra = False
        self.keep_alive = False
        self.error: str | None = None

    def feed(self, data: bytes) -> None:
        if self.complete:
            self.extra = True  # more than one answer: the connection is not reused
            return
        if not self.headers_done:
            self.head_bytes += len(data)
            if self.head_bytes > _MAX_HEAD_BYTES:
                self.error = "The server's headers are too large."
                return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self.error = "The server switched protocols."
        except httptools.HttpParserError as error:
            self.error = f"The server's answer is not valid HTTP/1.1 ({error})."

    def body_ends_with_close(self) -> bool:
        """Whether the answer, headers read, is delimited by the server closing."""
        return self.headers_done and not self.framed and not self.interim

    # --- httptools' callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete:
            self.extra = True  # a second answer to one request

    def on_status(self, reason: bytes) -> None:
        if not self.complete:
            self.reason += reason

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.complete:
            return
        key = name.lower()
        if key in _FRAMING_HEADERS:
            self.framed = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        if self.complete:
            return
        parser = self.parser
        self.status = parser.get_status_code()
        self.version = b"HTTP/" + parser.get_http_version().encode("ascii")
        self.interim = 100 <= self.status < 200  # noqa: PLR2004 - "100 Continue" and the like
        self.headers_done = True
        if self.skip_body and not self.interim:
            self._finish()

    def on_body(self, body: bytes) -> None:
        if self.complete:
            self.extra = True
            return
        self.size += len(body)
        if self.size > _MAX_BODY_BYTES:
            self.error = "The server's answer is too large."
            raise httptools.HttpParserError(self.error)  # stops the parser
        self.parts.append(body)

    def on_message_complete(self) -> None:
        if self.interim:  # the final answer is still to come
            self.headers, self.reason, self.framed = [], b"", False
            self.headers_done = self.interim = False
            self.head_bytes = 0
        elif not self.complete:
            self._finish()

    def _finish(self) -> None:
        self.complete = True
        self.keep_alive = self.parser.should_keep_alive()


class _Connection(asyncio.Protocol):
    """One socket: the answer being read, and one waiter for more of it."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._answer: _Answer | None = None  # set while a request is out
        self._retired = False  # not to be reused: bytes came unasked, or the answer said close
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if self._answer is None:
            self._retired = True  # bytes while no request was out
        else:
            self._answer.feed(data)
        self._wake()

    def eof_received(self) -> bool:
        self.closed = True
        self._wake()
        return False  # close our side too

    def connection_lost(self, _exc: Exception | None) -> None:
        self.closed = True
        self._wake()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the pool's questions -----------------------------------------------------------------

    def reusable(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Open, quiet since its last answer, and on ``loop``."""
        return not self.closed and not self._retired and self.loop is loop

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.close()

    # --- one request, one answer --------------------------------------------------------------

    async def exchange(
        self, data: bytes, skip_body: bool, timeouts: dict[str, float | None]
    ) -> _Answer:
        """Send a request's bytes and read its final answer whole."""
        transport = self.transport
        if transport is None or transport.is_closing():
            raise httpx.RemoteProtocolError(_DISCONNECTED)
        answer = self._answer = _Answer(skip_body)
        try:
            transport.write(data)
            if self._drained is not None:  # the socket buffer is full: wait until it drains
                await _wait(self._drained, timeouts.get("write"), httpx.WriteTimeout)
            timeout = timeouts.get("read")
            while not answer.complete:
                if answer.error is not None:
                    raise httpx.RemoteProtocolError(answer.error)
                if self.closed:
                    if not answer.body_ends_with_close():
                        raise httpx.RemoteProtocolError(_DISCONNECTED)
                    answer.complete = True  # and keep_alive stays False
                    break
                self._waiter = self.loop.create_future()
                try:
                    await _wait(self._waiter, timeout, httpx.ReadTimeout)
                finally:
                    self._waiter = None
        finally:
            self._answer = None
        if answer.extra or not answer.keep_alive:
            self._retired = True  # the pool will close it
        return answer


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """The request as sent: its line, its headers (a Host first if none), ``body`` whole."""
    method = request.method.encode("ascii")
    lines = [b"%s %s HTTP/1.1\r\n" % (method, request.url.raw_path)]
    has_host = False
    for name, value in request.headers.raw:
        if _TOKEN.fullmatch(name) is None or _FIELD_VALUE.fullmatch(value) is None:
            raise httpx.LocalProtocolError(f"Header {name!r} cannot be sent as HTTP/1.1.")
        key = name.lower()
        if key in _FRAMING_HEADERS:
            continue  # the body is sent whole, with its length (below)
        if key == b"host":
            has_host = True
        lines.append(b"%s: %s\r\n" % (name, value))
    if not has_host:
        lines.insert(1, b"Host: %s\r\n" % request.url.netloc)
    if body or method in _BODY_METHODS:
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


async def _wait(
    future: asyncio.Future[None], timeout: float | None, error: type[httpx.TimeoutException]
) -> None:
    """Await ``future``; after ``timeout`` seconds it fails with ``error`` instead."""
    if timeout is None:
        await future
        return

    def expire() -> None:
        if not future.done():
            future.set_exception(error("Timed out waiting for the server."))

    timer = asyncio.get_running_loop().call_later(timeout, expire)
    try:
        await future
    finally:
        timer.cancel()

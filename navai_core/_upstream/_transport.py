"""The HTTP client the core mints with when it owns one: pooled HTTP/1.1 on asyncio, framed by h11.

:func:`new_async_client` is what an async call given no client opens, and what the
Starlette adapter keeps for the app's lifetime. It is an ordinary ``httpx.AsyncClient``
on :class:`KeepAliveTransport`, with a cookie jar that keeps nothing.

Why not httpx's own transport: minting is on the path of every voice session start, and
httpcore's pool spends more CPU per request than the round trip to OpenAI leaves room for
under load (docs/performance.md measures it; docs/decisions.md has the choice). The
framing, the part that must be right, is h11's, the sans-IO parser httpcore itself uses;
this module only moves bytes and keeps connections.

Behind a proxy (``HTTPS_PROXY`` and the like, which httpx honours only with its own
transport) :func:`new_async_client` returns a plain ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.cookiejar
import ssl
import urllib.request

import h11
import httpx

__all__ = ["KeepAliveTransport", "cookieless_jar", "new_async_client", "proxy_configured"]

MAX_CONNECTIONS = 200
MAX_KEEPALIVE_CONNECTIONS = 100
KEEPALIVE_EXPIRY_SECONDS = 5.0
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024
_Origin = tuple[str, str, int]
_BODY_METHODS = frozenset({b"POST", b"PUT", b"PATCH"})
_FRAMING_HEADERS = frozenset({b"content-length", b"transfer-encoding"})


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
            head = _request_head(request, body)
            await self._acquire(timeouts.get("pool"))
            try:
                connection = self._reuse(origin) or await self._connect(
                    origin, timeouts.get("connect")
                )
                try:
                    answer = await connection.exchange(head, body, timeouts)
                except BaseException:
                    connection.close()  # half a conversation: never reuse it
                    raise
                self._keep(origin, connection)
            finally:
                self._slots.release()
        except httpx.RequestError as error:
            error.request = request
            raise
        reply, content = answer
        return httpx.Response(
            reply.status_code,
            headers=reply.headers.raw_items(),
            stream=httpx.ByteStream(content),
            extensions={
                "http_version": b"HTTP/" + reply.http_version,
                "reason_phrase": reply.reason,
            },
        )

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
            and connection.next_cycle(connection.loop)
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


class _Connection(asyncio.Protocol):
    """One socket and its h11 state machine; bytes arrive into h11 as they come."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.h11 = h11.Connection(h11.CLIENT, max_incomplete_event_size=_MAX_HEAD_BYTES)
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._unsolicited = False  # bytes arrived while no request was out
        self._busy = False
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    # --- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self._unsolicited = True
        self.h11.receive_data(data)
        self._wake()

    def eof_received(self) -> bool:
        self._end_of_input()
        return False  # close our side too

    def connection_lost(self, _exc: Exception | None) -> None:
        self._end_of_input()
        self.resume_writing()

    def pause_writing(self) -> None:
        self._drained = self.loop.create_future()

    def resume_writing(self) -> None:
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def _end_of_input(self) -> None:
        if not self.closed:
            self.closed = True
            self.h11.receive_data(b"")  # h11 ends a close-delimited body here
        self._wake()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    # --- the pool's questions -----------------------------------------------------------------

    def reusable(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Idle, open, quiet since its last answer, and on ``loop``."""
        return not self.closed and not self._unsolicited and self.loop is loop

    def next_cycle(self, loop: asyncio.AbstractEventLoop) -> bool:
        """Ready the connection for another request, if both sides allow one."""
        if self.closed or self._unsolicited or self.loop is not loop:
            return False
        if self.h11.our_state is not h11.DONE or self.h11.their_state is not h11.DONE:
            return False  # "Connection: close", HTTP/1.0, or a close-delimited body
        self.h11.start_next_cycle()
        return True

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.close()

    # --- one request, one answer --------------------------------------------------------------

    async def exchange(
        self, head: h11.Request, body: bytes, timeouts: dict[str, float | None]
    ) -> tuple[h11.Response, bytes]:
        """Send the request ``head`` and ``body``; read its final answer whole."""
        self._busy = True
        try:
            state = self.h11
            data = state.send(head) or b""
            if body:
                data += state.send(h11.Data(data=body)) or b""
            await self._write(data + (state.send(h11.EndOfMessage()) or b""), timeouts.get("write"))
            return await self._read_answer(timeouts.get("read"))
        except h11.RemoteProtocolError as error:
            raise httpx.RemoteProtocolError(str(error)) from None
        finally:
            self._busy = False

    async def _write(self, data: bytes, timeout: float | None) -> None:
        if self.closed or self.transport is None:
            raise httpx.RemoteProtocolError("The server closed the connection.")
        self.transport.write(data)
        if self._drained is not None:  # the socket buffer is full: wait until it drains
            await _wait(self._drained, timeout, httpx.WriteTimeout)

    async def _read_answer(self, timeout: float | None) -> tuple[h11.Response, bytes]:
        state = self.h11
        head: h11.Response | None = None
        parts: list[bytes] = []
        size = 0
        while True:
            event = state.next_event()
            if event is h11.NEED_DATA:
                if self.closed:
                    raise httpx.RemoteProtocolError(
                        "Server disconnected without sending a complete response."
                    )
                await self._receive(timeout)
            elif type(event) is h11.Response:
                head = event  # h11 knows the method: no body after HEAD, 204 or 304
            elif type(event) is h11.Data:
                size += len(event.data)
                if size > _MAX_BODY_BYTES:
                    raise httpx.RemoteProtocolError("The server's answer is too large.")
                parts.append(event.data)
            elif type(event) is h11.EndOfMessage:
                assert head is not None
                return head, b"".join(parts)
            elif type(event) is h11.ConnectionClosed:
                raise httpx.RemoteProtocolError(
                    "Server disconnected without sending a complete response."
                )
            # h11.InformationalResponse ("100 Continue" and the like): read on

    async def _receive(self, timeout: float | None) -> None:
        """Wait until more bytes arrive or the server closes; ``timeout`` is inactivity."""
        self._waiter = self.loop.create_future()
        try:
            await _wait(self._waiter, timeout, httpx.ReadTimeout)
        finally:
            self._waiter = None


def _request_head(request: httpx.Request, body: bytes) -> h11.Request:
    """The request line and headers as sent: a Host if it has none, the length of ``body``."""
    headers: list[tuple[bytes, bytes]] = []
    has_host = False
    for name, value in request.headers.raw:
        key = name.lower()
        if key in _FRAMING_HEADERS:
            continue  # the body is sent whole, with its length (below)
        has_host = has_host or key == b"host"
        headers.append((name, value))
    if not has_host:
        headers.insert(0, (b"Host", request.url.netloc))
    method = request.method.encode("ascii")
    if body or method in _BODY_METHODS:
        headers.append((b"Content-Length", b"%d" % len(body)))
    try:
        return h11.Request(method=method, target=request.url.raw_path, headers=headers)
    except h11.LocalProtocolError as error:  # a line break in a header, and the like
        raise httpx.LocalProtocolError(str(error)) from None


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

"""NAVAI on Starlette (and FastAPI, which is Starlette underneath).

Two ways in:

* :func:`create_app` returns a complete Starlette app serving NAVAI's routes, with
  CORS when ``cors_origins`` (``NAVAI_CORS_ORIGINS``) is set. ``navai serve`` runs it.
* :func:`add_navai_routes` adds the routes to an app you already have, Starlette or
  FastAPI, and returns the :class:`NavaiStarlette` that serves them; enter its
  :meth:`~NavaiStarlette.lifespan` from your app's lifespan to close its HTTP client.

This module only translates ASGI to :class:`~navai_adapters.NavaiRequest` and back;
every decision is made by :class:`~navai_adapters.NavaiHttpHandler`. The one other
thing here is the HTTP/1.1 transport of the client the app owns (see
:class:`_KeepAliveTransport` and ``docs/performance.md``).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
import urllib.request
from collections.abc import AsyncIterator, Mapping
from typing import Any, NamedTuple

import httpx
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from navai_adapters._http import (
    CALL_ID_HEADER,
    SERVER_TOOLS_HEADER,
    BodyTooLargeError,
    NavaiHttpHandler,
    NavaiRequest,
    NavaiResponse,
    build_handler,
)
from navai_adapters.openapi import merge_openapi, navai_openapi
from navai_core import NavaiVoiceBackendOptions

__all__ = ["NavaiStarlette", "add_navai_routes", "create_app"]


class NavaiStarlette:
    """The ASGI endpoint behind NAVAI's routes, and the one ``httpx.AsyncClient`` it mints with.

    Args:
        handler: The framework-neutral handler.
        client: A client to mint with; one is created (lazily) and owned when None.
    """

    def __init__(self, handler: NavaiHttpHandler, client: httpx.AsyncClient | None = None) -> None:
        self.handler = handler
        self._client = client
        self._owns_client = client is None

    @property
    def client(self) -> httpx.AsyncClient:
        """The pooled client minting goes through, for the app's lifetime."""
        if self._client is None:
            self._client = _new_async_client()
        return self._client

    @property
    def routes(self) -> list[Route]:
        """Starlette routes for NAVAI's paths, each served by this endpoint."""
        # An instance (not a function) as endpoint: Starlette hands it raw ASGI.
        return [Route(path, endpoint=self) for path in self.handler.routes()]

    @contextlib.asynccontextmanager
    async def lifespan(self, _app: object = None) -> AsyncIterator[None]:
        """Open the client at startup, close it (and the registry's workers) at shutdown."""
        _ = self.client
        try:
            yield
        finally:
            await self.aclose()

    async def aclose(self) -> None:
        """Close what this endpoint owns."""
        if self._client is not None and self._owns_client:
            await self._client.aclose()
            self._client = None
        if self.handler.registry is not None:
            self.handler.registry.close()
        if self.handler.rate_limiter is not None:
            await self.handler.rate_limiter.aclose()
        if self.handler.sidebands is not None:
            await self.handler.sidebands.aclose()  # server-side tools: every sideband ends

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve one request: translate, let the handler decide, translate back."""
        handler = self.handler
        raw_headers = scope["headers"]
        # Under Mount("/api", ...) or `uvicorn --root-path`, the prefix is in root_path:
        # passed on as it is; the handler matches the routes below it.
        root_path: str = scope.get("root_path", "")
        length, chunked = _framing_headers(raw_headers)
        # HTTP/2 and HTTP/3 send a body without Content-Length or Transfer-Encoding.
        streamed = chunked or scope.get("http_version") not in _HTTP1
        opened = handler.opening(
            scope["method"], scope["path"], root_path, length, streamed=streamed
        )
        if isinstance(opened, NavaiResponse):  # the listing: the same bytes for every caller
            await _send(send, opened)
            return
        if opened.refused is not None:
            await _send(send, opened.refused, close=True)
            return
        try:
            if opened.bodiless:
                body = b""
            elif opened.length is None:
                body = await handler.aread_body(_body_chunks(receive))
            else:
                body = await _whole_body(receive, handler)
        except BodyTooLargeError:
            await _send(send, handler.body_too_large(), close=True)
            return
        except ClientDisconnect:
            return
        request = NavaiRequest(
            method=scope["method"],
            path=scope["path"],
            # httpx.Headers takes ASGI's raw (bytes) pairs as they are: no decoding pass.
            headers=httpx.Headers(raw_headers),
            body=body,
            native=Request(scope),
            root_path=root_path,
            client_address=client[0] if (client := scope.get("client")) else None,
        )
        response = await handler.ahandle(request, client=self.client)
        await _send(send, response)


_HTTP1 = frozenset({"1.0", "1.1"})


def _framing_headers(raw_headers: list[tuple[bytes, bytes]]) -> tuple[str | None, bool]:
    """``Content-Length`` (as sent) and whether the body is chunked, for the handler to judge.

    ASGI header names are lower case; one scan is cheaper than ``Headers`` lookups.
    """
    length: str | None = None
    chunked = False
    for key, value in raw_headers:
        if key == b"content-length":
            length = value.decode("latin-1")
        elif key == b"transfer-encoding":
            chunked = True
    return length, chunked


async def _whole_body(receive: Receive, handler: NavaiHttpHandler) -> bytes:
    message = await receive()
    if message["type"] == "http.disconnect":
        raise ClientDisconnect
    first: bytes = message.get("body", b"")
    if not message.get("more_body", False):
        return handler.read_body((first,))  # the usual case: one message, no generator

    async def chunks() -> AsyncIterator[bytes]:
        yield first
        async for chunk in _body_chunks(receive):
            yield chunk

    return await handler.aread_body(chunks())


async def _body_chunks(receive: Receive) -> AsyncIterator[bytes]:
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientDisconnect
        chunk = message.get("body", b"")
        if chunk:
            yield chunk
        if not message.get("more_body", False):
            return


@functools.lru_cache(maxsize=64)
def _encoded_headers(headers: tuple[tuple[str, str], ...]) -> tuple[tuple[bytes, bytes], ...]:
    # Responses share a few constant header tuples: encode each once.
    return tuple((key.encode("latin-1"), value.encode("latin-1")) for key, value in headers)


async def _send(send: Send, response: NavaiResponse, *, close: bool = False) -> None:
    headers = [*_encoded_headers(response.headers)]
    headers.append((b"content-length", str(len(response.body)).encode()))
    if close:
        headers.append((b"connection", b"close"))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": response.body})


_MAX_CONNECTIONS = 200
_MAX_KEEPALIVE = 100


def _new_async_client() -> httpx.AsyncClient:
    # Minting is on the hot path of every voice session start: keep connections warm,
    # and send through the lean transport below. Behind a proxy (HTTPS_PROXY and the
    # like, which httpx honours only with its own transport), use httpx's transport.
    if _proxy_configured():
        limits = httpx.Limits(
            max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE
        )
        return httpx.AsyncClient(limits=limits)
    transport = _KeepAliveTransport(
        max_connections=_MAX_CONNECTIONS, max_keepalive_connections=_MAX_KEEPALIVE
    )
    return _CookielessAsyncClient(transport=transport)


class _NoCookies(httpx.Cookies):
    """A jar that keeps nothing (see :class:`_CookielessAsyncClient`)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        """Keep no cookie from ``response``."""


class _CookielessAsyncClient(httpx.AsyncClient):
    """An ``httpx.AsyncClient`` without a cookie jar, for the client the app owns.

    One server mints for every user: a cookie OpenAI's edge sets for one call has no
    business going out with the next user's (the original backend's ``fetch`` keeps
    none either). And httpx reads every answer into its jar at a cost, once per mint,
    that is a fifth of the mint's CPU (docs/performance.md).
    """

    def __init__(self, **kwargs: Any) -> None:
        self._no_cookies = _NoCookies()
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        """A jar that keeps nothing from the answers."""
        return self._no_cookies

    @cookies.setter
    def cookies(self, _cookies: object) -> None:
        """Ignored: this client keeps no cookies."""


def _proxy_configured() -> bool:
    # The same source httpx reads its proxy settings from.
    proxies = urllib.request.getproxies()
    return any(proxies.get(scheme) for scheme in ("http", "https", "all"))


async def _json_http_error(_request: Request, exc: Exception) -> Response:
    # Starlette's own 404/405 are plain text; every NAVAI answer is JSON.
    assert isinstance(exc, HTTPException)
    return JSONResponse({"error": exc.detail}, exc.status_code, headers=exc.headers)


async def _json_server_error(_request: Request, _exc: Exception) -> Response:
    return JSONResponse({"error": "Internal server error. The server log has the details."}, 500)


def add_navai_routes(
    app: Starlette,
    options: NavaiVoiceBackendOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    client: httpx.AsyncClient | None = None,
    **config: Any,
) -> NavaiStarlette:
    """Add NAVAI's routes to an existing Starlette or FastAPI app.

    Args:
        app: The app to add to (``FastAPI()`` works: its router takes Starlette routes).
        options: Minting options; read from the environment when None.
        env: Environment variables; ``os.environ`` when None.
        client: An ``httpx.AsyncClient`` to mint with; one is created when None.
        **config: :class:`~navai_adapters.NavaiServerConfig` fields (paths, ``authorize``, ...).

    Returns:
        The endpoint serving the routes. Enter ``navai.lifespan()`` inside your app's
        lifespan so its client is closed at shutdown. In a FastAPI app, the routes are
        also described in its OpenAPI schema (``/docs``), with their request and answer
        schemas and errors.
    """
    navai = NavaiStarlette(build_handler(options, env=env, **config), client)
    app.router.routes.extend(navai.routes)
    _describe_in_openapi(app, navai.handler)
    return navai


def _describe_in_openapi(app: Starlette, handler: NavaiHttpHandler) -> None:
    """In a FastAPI app, add the routes' description to ``app.openapi()`` (``/docs``).

    Duck-typed on FastAPI's ``openapi()`` and ``openapi_schema``, so FastAPI stays out
    of NAVAI's dependencies; a plain Starlette app has neither and is left alone.
    """
    generate = getattr(app, "openapi", None)
    if not callable(generate) or not hasattr(app, "openapi_schema"):
        return
    target: Any = app

    def openapi() -> dict[str, Any]:
        if target.openapi_schema is None:
            # FastAPI builds and caches its schema; NAVAI's part joins it, once.
            target.openapi_schema = merge_openapi(generate(), navai_openapi(handler))
        schema: dict[str, Any] = target.openapi_schema
        return schema

    target.openapi_schema = None  # a schema built before these routes existed
    target.openapi = openapi


def create_app(
    options: NavaiVoiceBackendOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    client: httpx.AsyncClient | None = None,
    **config: Any,
) -> Starlette:
    """A Starlette app serving NAVAI's routes, configured from the environment by default.

    Args:
        options: Minting options; read from the environment when None.
        env: Environment variables; ``os.environ`` when None.
        client: An ``httpx.AsyncClient`` to mint with; one is owned by the app when None.
        **config: :class:`~navai_adapters.NavaiServerConfig` fields; they win over env.

    Returns:
        The app. ``app.state.navai`` is its :class:`NavaiStarlette`.
    """
    navai = NavaiStarlette(build_handler(options, env=env, **config), client)
    middleware = []
    origins = navai.handler.config.cors_origins
    if origins:
        middleware.append(
            Middleware(
                CORSMiddleware,
                allow_origins=list(origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type"],
                expose_headers=[CALL_ID_HEADER, SERVER_TOOLS_HEADER],
                max_age=600,
            )
        )
    app = Starlette(
        routes=navai.routes,
        middleware=middleware,
        exception_handlers={HTTPException: _json_http_error, Exception: _json_server_error},
        lifespan=navai.lifespan,
    )
    app.state.navai = navai
    return app


# --- the owned client's transport -----------------------------------------------------------
#
# httpx's default async transport (httpcore over anyio) spends most of a mint's CPU on
# connection-pool bookkeeping once requests are concurrent: with 32 mints in flight,
# minting ran at about a tenth of the rate this transport gives (docs/performance.md).
# So the client NAVAI owns sends through this small HTTP/1.1 keep-alive transport
# instead. Callers still deal with an ``httpx.AsyncClient``, and every request still goes
# through ``client.send`` (event hooks and mocks on the client apply). It does what
# minting needs: one request at a time per connection, answers buffered whole (they are
# small), TLS, timeouts, and a cap on connections; proxies stay with httpx (above).

_HEAD_END = b"\r\n\r\n"
_MAX_HEAD_BYTES = 64 * 1024
_MAX_BODY_BYTES = 16 * 1024 * 1024
_KEEPALIVE_EXPIRY_SECONDS = 5.0
_DISCONNECTED = "Server disconnected without sending a complete response."
_Origin = tuple[str, str, int]


class _Connection(asyncio.Protocol):
    """One connection: bytes received so far, and one waiter for more."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.closed = False
        self.idle_since = 0.0
        self._waiter: asyncio.Future[None] | None = None
        self._drained: asyncio.Future[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is no subclass

    def data_received(self, data: bytes) -> None:
        self.buffer += data
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

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            with contextlib.suppress(RuntimeError):  # its event loop is already closed
                self.transport.close()

    async def write(self, data: bytes, timeout: float | None) -> None:
        assert self.transport is not None
        self.transport.write(data)
        if self._drained is not None:  # the socket buffer is full: wait until it drains
            await _wait(self._drained, timeout, httpx.WriteTimeout)

    async def receive(self, timeout: float | None) -> None:
        """Wait until more bytes arrive or the server closes; ``timeout`` is inactivity."""
        if self.closed:
            raise httpx.RemoteProtocolError(_DISCONNECTED)
        self._waiter = self.loop.create_future()
        try:
            await _wait(self._waiter, timeout, httpx.ReadTimeout)
        finally:
            self._waiter = None

    async def read_exactly(self, size: int, timeout: float | None) -> bytes:
        buffer = self.buffer
        while len(buffer) < size:
            await self.receive(timeout)
        data = bytes(buffer[:size])
        del buffer[:size]
        return data

    async def read_line(self, timeout: float | None) -> bytes:
        buffer = self.buffer
        while (end := buffer.find(b"\r\n")) < 0:
            if len(buffer) > _MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("A response line is too long.")
            await self.receive(timeout)
        line = bytes(buffer[:end])
        del buffer[: end + 2]
        return line


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


class _Head(NamedTuple):
    status: int
    reason: bytes
    headers: list[tuple[bytes, bytes]]
    length: int | None  # Content-Length, when the body is not transfer-encoded
    chunked: bool
    encoded: bool  # Transfer-Encoding given (chunked or not)
    keep_alive: bool  # HTTP/1.1 and no "Connection: close"


def _parse_head(head: bytes) -> _Head:
    status_line, *lines = head.split(b"\r\n")
    version, _, rest = status_line.partition(b" ")
    code, _, reason = rest.partition(b" ")
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not code.isdigit():  # noqa: PLR2004
        raise httpx.RemoteProtocolError("The server's answer is not HTTP/1.1.")
    headers: list[tuple[bytes, bytes]] = []
    length: int | None = None
    encoded = chunked = False
    keep_alive = version == b"HTTP/1.1"
    for line in lines:
        name, colon, value = line.partition(b":")
        if not colon or not name or name != name.strip():
            raise httpx.RemoteProtocolError("The server sent a malformed header line.")
        value = value.strip(b" \t")
        headers.append((name, value))
        key = name.lower()
        if key == b"content-length":
            if not value.isdigit() or (length is not None and int(value) != length):
                raise httpx.RemoteProtocolError("The server sent a bad Content-Length.")
            length = int(value)
        elif key == b"transfer-encoding":
            encoded = True
            chunked = value.rsplit(b",", 1)[-1].strip().lower() == b"chunked"
        elif key == b"connection" and b"close" in value.lower():
            keep_alive = False
    return _Head(
        status=int(code),
        reason=reason,
        headers=headers,
        length=None if encoded else length,
        chunked=chunked,
        encoded=encoded,
        keep_alive=keep_alive,
    )


async def _read_head(connection: _Connection, timeout: float | None) -> _Head:
    buffer = connection.buffer
    while True:
        while (end := buffer.find(_HEAD_END)) < 0:
            if len(buffer) > _MAX_HEAD_BYTES:
                raise httpx.RemoteProtocolError("The server's headers are too large.")
            await connection.receive(timeout)
        head = _parse_head(bytes(buffer[:end]))
        del buffer[: end + 4]
        if not 100 <= head.status < 200:  # noqa: PLR2004 - skip "100 Continue" and the like
            return head


async def _read_body(
    connection: _Connection, head: _Head, method: str, timeout: float | None
) -> tuple[bytes, bool]:
    """The body (RFC 9112, section 6.3), and whether the connection can be reused."""
    if method == "HEAD" or head.status in (204, 304):
        return b"", head.keep_alive
    if head.chunked:
        return await _read_chunked(connection, timeout), head.keep_alive
    if head.length is not None:
        if head.length > _MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError("The server's answer is too large.")
        return await connection.read_exactly(head.length, timeout), head.keep_alive
    while not connection.closed:  # no length: the body ends with the connection
        if len(connection.buffer) > _MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError("The server's answer is too large.")
        await connection.receive(timeout)
    body = bytes(connection.buffer)
    connection.buffer.clear()
    return body, False


async def _read_chunked(connection: _Connection, timeout: float | None) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        line = await connection.read_line(timeout)
        try:
            size = int(line.split(b";", 1)[0].strip(), 16)
        except ValueError:
            raise httpx.RemoteProtocolError("The server sent a bad chunk size.") from None
        if size == 0:
            while await connection.read_line(timeout):  # trailers, up to the blank line
                pass
            return b"".join(parts)
        total += size
        if total > _MAX_BODY_BYTES:
            raise httpx.RemoteProtocolError("The server's answer is too large.")
        parts.append(await connection.read_exactly(size, timeout))
        if await connection.read_exactly(2, timeout) != b"\r\n":
            raise httpx.RemoteProtocolError("The server sent a malformed chunk.")


def _request_bytes(request: httpx.Request, body: bytes) -> bytes:
    lines = [b"%s %s HTTP/1.1\r\n" % (request.method.encode("ascii"), request.url.raw_path)]
    has_host = False
    for name, value in request.headers.raw:
        if b"\r" in value or b"\n" in value or b"\r" in name or b"\n" in name:
            raise httpx.LocalProtocolError("A header contains a line break.")
        key = name.lower()
        if key in (b"content-length", b"transfer-encoding"):
            continue  # the body is sent whole, with its length (below)
        has_host = has_host or key == b"host"
        lines.append(b"%s: %s\r\n" % (name, value))
    if not has_host:
        lines.append(b"Host: %s\r\n" % request.url.netloc)
    if body or request.method in ("POST", "PUT", "PATCH"):
        lines.append(b"Content-Length: %d\r\n" % len(body))
    lines.append(b"\r\n")
    lines.append(body)
    return b"".join(lines)


class _KeepAliveTransport(httpx.AsyncBaseTransport):
    """HTTP/1.1 over asyncio, with kept-alive connections: what minting needs, quickly.

    Args:
        max_connections: The most requests in flight at once; more wait (``pool``
            timeout, then ``httpx.PoolTimeout``).
        max_keepalive_connections: The most idle connections kept per origin.
        keepalive_expiry: Seconds an idle connection is kept; less than servers keep
            theirs, so a connection is not reused just as the server closes it.
    """

    def __init__(
        self,
        *,
        max_connections: int = _MAX_CONNECTIONS,
        max_keepalive_connections: int = _MAX_KEEPALIVE,
        keepalive_expiry: float = _KEEPALIVE_EXPIRY_SECONDS,
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
            data = _request_bytes(request, await request.aread())
            await self._acquire(timeouts.get("pool"))
            try:
                connection = self._reuse(origin) or await self._connect(
                    origin, timeouts.get("connect")
                )
                try:
                    await connection.write(data, timeouts.get("write"))
                    head = await _read_head(connection, timeouts.get("read"))
                    body, reusable = await _read_body(
                        connection, head, request.method, timeouts.get("read")
                    )
                except BaseException:
                    connection.close()  # half a conversation: never reuse it
                    raise
                self._keep(origin, connection, reusable)
            finally:
                self._slots.release()
        except httpx.RequestError as error:
            error.request = request
            raise
        return httpx.Response(
            head.status,
            headers=head.headers,
            stream=httpx.ByteStream(body),
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": head.reason},
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
            if (
                connection.closed
                or connection.loop is not loop
                or connection.buffer
                or now - connection.idle_since > self._expiry
            ):
                connection.close()
                continue
            return connection
        return None

    def _keep(self, origin: _Origin, connection: _Connection, keep_alive: bool) -> None:
        idle = self._idle.setdefault(origin, [])
        now = connection.loop.time()
        while idle and now - idle[0].idle_since > self._expiry:
            idle.pop(0).close()  # expired at the bottom of the stack
        if (
            keep_alive
            and not self._closed
            and not connection.closed
            and not connection.buffer
            and len(idle) < self._max_keepalive
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

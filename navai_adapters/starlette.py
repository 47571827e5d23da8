"""NAVAI on Starlette (and FastAPI, which is Starlette underneath).

Two ways in:

* :func:`create_app` returns a complete Starlette app serving NAVAI's routes, with
  CORS when ``cors_origins`` (``NAVAI_CORS_ORIGINS``) is set. ``navai serve`` runs it.
* :func:`add_navai_routes` adds the routes to an app you already have, Starlette or
  FastAPI, and returns the :class:`NavaiStarlette` that serves them; enter its
  :meth:`~NavaiStarlette.lifespan` from your app's lifespan to close its HTTP client.

This module only translates ASGI to :class:`~navai_adapters.NavaiRequest` and back;
every decision is made by :class:`~navai_adapters.NavaiHttpHandler`. The client the app
owns for minting is the core's (``navai_core._upstream._transport``).
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator, Mapping
from typing import Any

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
from navai_core._upstream._transport import new_async_client

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
            self._client = new_async_client()
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

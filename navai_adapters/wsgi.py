"""NAVAI as a plain WSGI callable: gunicorn, waitress, wsgiref, Flask, Django.

Serve it alone::

    gunicorn 'navai_adapters.wsgi:create_app()'

or put it in front of an app you already have; NAVAI answers its own paths and hands
every other request to ``fallback``::

    app.wsgi_app = create_app(fallback=app.wsgi_app)          # Flask
    application = create_app(fallback=get_wsgi_application())  # Django

At request time only the standard library and httpx are used. Every decision is made by
:class:`~navai_adapters.NavaiHttpHandler`; this module only translates.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Iterator, Mapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import httpx

from navai_adapters._http import (
    BodyTooLargeError,
    Framing,
    NavaiHttpHandler,
    NavaiRequest,
    NavaiResponse,
    build_handler,
)
from navai_core import NavaiVoiceBackendOptions
from navai_core._upstream._transport import new_client

if TYPE_CHECKING:
    from _typeshed.wsgi import StartResponse, WSGIApplication, WSGIEnvironment

__all__ = ["NavaiWSGIApp", "create_app"]

_CHUNK = 64 * 1024


class NavaiWSGIApp:
    """A WSGI callable serving NAVAI's routes with one pooled ``httpx.Client``.

    Args:
        handler: The framework-neutral handler.
        client: A client to mint with; one is created and owned when None.
        fallback: A WSGI app for every path that is not NAVAI's (404 JSON when None).
    """

    def __init__(
        self,
        handler: NavaiHttpHandler,
        client: httpx.Client | None = None,
        fallback: WSGIApplication | None = None,
    ) -> None:
        self.handler = handler
        self.fallback = fallback
        self._owns_client = client is None
        # httpx.Client is thread-safe: one pool for every worker thread.
        self.client = client or new_client()

    def close(self) -> None:
        """Close the client (if owned) and stop the registry's workers."""
        if self._owns_client:
            self.client.close()
        if self.handler.registry is not None:
            self.handler.registry.close()
        if self.handler.rate_limiter is not None:
            self.handler.rate_limiter.close()
        self.handler.close()  # the sidebands and their background loop, if any

    def __call__(self, environ: WSGIEnvironment, start_response: StartResponse) -> Iterable[bytes]:
        """Serve one request."""
        handler = self.handler
        # Mounted under a prefix (DispatcherMiddleware, gunicorn SCRIPT_NAME), the prefix is
        # SCRIPT_NAME: passed on, as the ASGI adapter passes root_path; the handler matches
        # the routes below it.
        root_path = environ.get("SCRIPT_NAME", "")
        path = root_path + (environ.get("PATH_INFO") or "/")
        if self.fallback is not None and handler.match(path, root_path) is None:
            return self.fallback(environ, start_response)
        opened = handler.opening(
            environ.get("REQUEST_METHOD", "GET"),
            path,
            root_path,
            environ.get("CONTENT_LENGTH") or None,
            streamed="HTTP_TRANSFER_ENCODING" in environ,
        )
        if isinstance(opened, NavaiResponse):
            response = opened
        elif opened.refused is not None:
            response = opened.refused
        else:
            try:
                body = handler.read_body(_body_chunks(environ, opened))
            except BodyTooLargeError:
                response = handler.body_too_large()
            else:
                request = NavaiRequest(
                    method=environ.get("REQUEST_METHOD", "GET").upper(),
                    path=path,
                    headers=_headers(environ),
                    body=body,
                    native=environ,
                    root_path=root_path,
                    client_address=environ.get("REMOTE_ADDR") or None,
                )
                response = handler.handle(request, client=self.client)
        # No `Connection` header: PEP 3333 leaves hop-by-hop headers to the server.
        headers = [*response.headers, ("Content-Length", str(len(response.body)))]
        start_response(_status_line(response.status), headers)
        return [response.body]


@functools.lru_cache(maxsize=64)
def _status_line(status: int) -> str:
    return f"{status} {HTTPStatus(status).phrase}"


def _headers(environ: WSGIEnvironment) -> httpx.Headers:
    # Every request, and a WSGI environ has a few dozen keys: kept to one plain pass.
    pairs = [
        (key[5:].replace("_", "-"), value)
        for key, value in environ.items()
        if key[:5] == "HTTP_" and isinstance(value, str)
    ]
    if content_type := environ.get("CONTENT_TYPE"):
        pairs.append(("CONTENT-TYPE", content_type))
    if content_length := environ.get("CONTENT_LENGTH"):
        pairs.append(("CONTENT-LENGTH", content_length))
    return httpx.Headers(pairs)


def _body_chunks(environ: WSGIEnvironment, framing: Framing) -> Iterator[bytes]:
    stream = environ.get("wsgi.input")
    if stream is None or framing.bodiless:
        return
    if framing.length is None:
        # Without a length, PEP 3333 allows reading to the end only when the server
        # says the stream is terminated (chunked uploads under gunicorn, waitress).
        if not environ.get("wsgi.input_terminated"):
            return
        while chunk := stream.read(_CHUNK):
            yield chunk
        return
    remaining = framing.length
    while remaining > 0:
        chunk = stream.read(min(_CHUNK, remaining))
        if not chunk:
            return
        remaining -= len(chunk)
        yield chunk


def create_app(
    options: NavaiVoiceBackendOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    fallback: WSGIApplication | None = None,
    **config: Any,
) -> NavaiWSGIApp:
    """A WSGI callable serving NAVAI's routes, configured from the environment by default.

    Args:
        options: Minting options; read from the environment when None.
        env: Environment variables; ``os.environ`` when None.
        client: An ``httpx.Client`` to mint with; one is owned by the app when None.
        fallback: The WSGI app that answers every other path (Flask's ``app.wsgi_app``,
            Django's ``get_wsgi_application()``).
        **config: :class:`~navai_adapters.NavaiServerConfig` fields; they win over env.
    """
    return NavaiWSGIApp(build_handler(options, env=env, **config), client, fallback)

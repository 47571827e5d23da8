"""What crosses the line between an adapter and the handler: a request in, a response out.

Values only, so any module (the configuration's ``authorize`` hook type, the adapters)
can name them without importing the handler.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import attrs
import httpx
import msgspec

from navai_core.exceptions import InvalidRequestError, NavaiError

__all__ = [
    "CALL_ID_HEADER",
    "JSON_HEADERS",
    "NO_STORE_HEADERS",
    "SERVER_TOOLS_HEADER",
    "BodyTooLargeError",
    "NavaiRequest",
    "NavaiResponse",
    "RouteName",
    "UnsupportedMediaTypeError",
    "encode",
]

RouteName = Literal[
    "health",
    "client_secret",
    "functions_list",
    "functions_execute",
    "speech_synthesize",
    "realtime_calls",
    "realtime_call_hangup",
    "realtime_call_attach",
]

JSON_HEADERS: Final = (("content-type", "application/json"),)
NO_STORE_HEADERS: Final = (("content-type", "application/json"), ("cache-control", "no-store"))
#: The response header carrying a new call's id (CORS exposes it to browsers).
CALL_ID_HEADER: Final = "x-navai-call-id"
#: ``on`` when the server runs the call's tools, ``off`` when the client must relay them.
SERVER_TOOLS_HEADER: Final = "x-navai-server-tools"
encode: Final = msgspec.json.Encoder().encode


class BodyTooLargeError(InvalidRequestError):
    """The request body is larger than ``max_body_bytes`` (413)."""

    status_code = 413


class UnsupportedMediaTypeError(InvalidRequestError):
    """A body was sent with a ``Content-Type`` other than JSON (415).

    Requiring ``application/json`` also means a cross-site form cannot post to the
    routes without a CORS preflight.
    """

    status_code = 415


@attrs.frozen
class NavaiRequest:
    """One HTTP request, as the adapters hand it over.

    Attributes:
        method: ``GET``, ``POST``, ... (upper case).
        path: The URL path, without the query string.
        headers: The request headers, case-insensitive.
        body: The body bytes, already read within the size limit.
        native: The framework's own request object (Starlette ``Request``, WSGI
            ``environ``), handed to backend functions through ``FunctionContext``.
        route: Which NAVAI route matched; set by the handler before ``authorize``.
        root_path: The prefix the app is mounted under (ASGI ``root_path``, WSGI
            ``SCRIPT_NAME``), ``""`` at the root. ``path`` is the full path, prefix
            included; the handler matches routes on what follows the prefix.
        client_address: The address of the connection's other end (a proxy's, behind
            one); rate limits read the client's from ``X-Forwarded-For`` only when this
            is a trusted proxy.
    """

    method: str
    path: str
    # Header values and the body can hold credentials: repr shows only their shape.
    headers: httpx.Headers = attrs.field(
        factory=httpx.Headers, repr=lambda headers: repr(sorted(set(headers.keys())))
    )
    body: bytes = attrs.field(default=b"", repr=lambda body: f"<{len(body)} bytes>")
    native: Any = attrs.field(default=None, repr=False)
    route: RouteName | None = None
    client_address: str | None = None
    root_path: str = ""


@attrs.frozen
class NavaiResponse:
    """One HTTP response: status, headers and the body, already encoded.

    The body is JSON, except the speech route's raw audio (``Accept: audio/*``) and a
    call's SDP answer.
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = JSON_HEADERS

    @classmethod
    def json(
        cls,
        status: int,
        data: object,
        headers: tuple[tuple[str, str], ...] = JSON_HEADERS,
    ) -> NavaiResponse:
        """Encode ``data`` as the JSON body."""
        return cls(status, encode(data), headers)

    @classmethod
    def error(cls, status: int, message: str, **extra: object) -> NavaiResponse:
        """The error shape every route uses: ``{"error": message, ...}``."""
        return cls.json(status, {"error": message, **extra})

    @classmethod
    def from_error(cls, error: NavaiError) -> NavaiResponse:
        """``error`` at its status, with its ``hint`` as an extra key when it has one."""
        if error.hint is None:
            return cls.error(error.status_code, error.message)
        return cls.error(error.status_code, error.message, hint=error.hint)

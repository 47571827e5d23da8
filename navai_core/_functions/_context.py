"""What a backend function can learn about the call that runs it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import attrs
import httpx

__all__ = ["FunctionContext"]


def _to_headers(
    value: httpx.Headers | Mapping[str, str] | Sequence[tuple[str, str]] | None,
) -> httpx.Headers:
    """Accept a mapping or ``(name, value)`` pairs, so callers need not build ``httpx.Headers``."""
    if isinstance(value, httpx.Headers):
        return value
    return httpx.Headers(value)


# A context a function logs must not carry the caller's credentials (cookies, tokens)
# into the log: ``repr`` shows header names only, and the request's type only (a WSGI
# environ holds every header, raw).
def _headers_repr(value: httpx.Headers) -> str:
    return f"<headers: {', '.join(sorted(set(value.keys()))) or 'none'}>"


def _request_repr(value: object) -> str:
    return "None" if value is None else f"<{type(value).__name__}>"


@attrs.frozen
class FunctionContext:
    """The call a backend function is running for.

    Annotate one parameter of a function with this type, anywhere in its signature, and
    NAVAI passes the context there. The parameter is left out of the tool's JSON Schema,
    so the model never sees it and can never fill it in: what is in here comes from the
    server, not from the model.

    Attributes:
        function_name: The tool name the function is registered under.
        headers: The HTTP request's headers (case-insensitive, as ``httpx.Headers``);
            empty when the call did not come over HTTP. Use them for what the client
            proved (a session cookie, an ``Authorization`` header), never for what the
            model chose.
        request: The web framework's own request object, when there is one (a
            Starlette ``Request``, a WSGI ``environ``), for anything the headers lack.
        call_id: The Realtime call (``rtc_...``) the tool runs for, when the server
            runs it over the call's sideband; ``None`` for HTTP calls.

    ``repr()`` shows header names without their values, and the request's type only,
    so logging a context does not log the caller's credentials.
    """

    function_name: str
    headers: httpx.Headers = attrs.field(
        factory=httpx.Headers, converter=_to_headers, repr=_headers_repr
    )
    request: object | None = attrs.field(default=None, repr=_request_repr)
    call_id: str | None = None

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
    """

    function_name: str
    headers: httpx.Headers = attrs.field(factory=httpx.Headers, converter=_to_headers)
    request: object | None = None

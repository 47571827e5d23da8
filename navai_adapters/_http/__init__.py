"""The framework-neutral HTTP layer: request in, response out.

Everything HTTP-shaped that NAVAI decides lives here, once, one job a module:

* ``_messages``: :class:`NavaiRequest` and :class:`NavaiResponse`, what adapters trade.
* ``_routes``: which route a path is, and the methods.
* ``_body``: what the headers say of a body, and its size limit while it is read.
* ``_parse``: what a request asks for, from its body and headers.
* ``_answers``: the responses, built from values.
* ``_effects``: the steps a request waits for, each blocking and async, and the drivers.
* ``_handler``: :class:`NavaiHttpHandler`, whose one flow decides every request.

The Starlette, WSGI and Django adapters only translate their framework's request into a
:class:`NavaiRequest`, read the body as :meth:`NavaiHttpHandler.opening` says, and send
the :class:`NavaiResponse` back.
"""

from __future__ import annotations

from navai_adapters._http._answers import listing
from navai_adapters._http._body import Framing
from navai_adapters._http._handler import NavaiHttpHandler, build_handler
from navai_adapters._http._messages import (
    CALL_ID_HEADER,
    SERVER_TOOLS_HEADER,
    BodyTooLargeError,
    NavaiRequest,
    NavaiResponse,
    RouteName,
    UnsupportedMediaTypeError,
)
from navai_adapters._http._parse import wants_raw_audio as _wants_raw_audio  # noqa: F401 - tests use it
from navai_adapters._http._routes import route_path

__all__ = [
    "CALL_ID_HEADER",
    "SERVER_TOOLS_HEADER",
    "BodyTooLargeError",
    "Framing",
    "NavaiHttpHandler",
    "NavaiRequest",
    "NavaiResponse",
    "RouteName",
    "UnsupportedMediaTypeError",
    "build_handler",
    "listing",
    "route_path",
]

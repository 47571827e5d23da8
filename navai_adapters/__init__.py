"""Thin adapters serving :mod:`navai_core` over HTTP.

* :mod:`navai_adapters.starlette`: a Starlette app, or routes added to your Starlette or
  FastAPI app (needs the ``starlette`` extra).
* :mod:`navai_adapters.wsgi`: a WSGI callable for gunicorn, waitress, Flask or Django.
* :mod:`navai_adapters.django`: the routes as Django URL patterns (needs Django).
* :mod:`navai_adapters.metrics`: Prometheus metrics (the ``metrics`` extra).
* :mod:`navai_adapters.openapi`: an OpenAPI description of the routes.

Both translate requests for :class:`NavaiHttpHandler`, the one place where routes,
limits, JSON and status codes are decided. Write an adapter for another framework the
same way: build a :class:`NavaiRequest`, call ``handle``/``ahandle``, send the
:class:`NavaiResponse`.
"""

from __future__ import annotations

from navai_adapters._config import AuthorizeHook, NavaiServerConfig
from navai_adapters._gc import tune_gc
from navai_adapters._http import (
    BodyTooLargeError,
    NavaiHttpHandler,
    NavaiRequest,
    NavaiResponse,
    UnsupportedMediaTypeError,
    build_handler,
)
from navai_adapters._observe import (
    JsonFormatter,
    NavaiObserver,
    RequestIdFilter,
    current_request_id,
)

__all__ = [
    "AuthorizeHook",
    "BodyTooLargeError",
    "JsonFormatter",
    "NavaiHttpHandler",
    "NavaiObserver",
    "NavaiRequest",
    "NavaiResponse",
    "NavaiServerConfig",
    "RequestIdFilter",
    "UnsupportedMediaTypeError",
    "build_handler",
    "current_request_id",
    "tune_gc",
]

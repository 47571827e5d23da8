"""NAVAI inside a Django project: URL patterns, so Django's middleware and auth apply.

Mounting the WSGI callable in front of Django (``create_app(fallback=...)``) answers
NAVAI's routes before Django sees them: no sessions, no ``request.user``, and
``FunctionContext.request`` is the raw environ. These URL patterns route through Django
instead; the view only translates the ``HttpRequest`` for
:class:`~navai_adapters.NavaiHttpHandler` and its answer back::

    # urls.py
    from django.urls import include, path
    from navai_adapters.django import navai_urls

    urlpatterns = [path("", include(navai_urls(authorize=signed_in)))]

Backend functions get the ``HttpRequest`` (``context.request.user``), and the
``authorize`` hook gets it as ``request.native``. Needs Django (not a NAVAI dependency).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern, path
from django.views.decorators.csrf import csrf_exempt as _csrf_exempt

from navai_adapters._http import (
    BodyTooLargeError,
    NavaiHttpHandler,
    NavaiRequest,
    NavaiResponse,
    build_handler,
)
from navai_core import NavaiVoiceBackendOptions
from navai_core._upstream._transport import new_client

__all__ = ["NavaiDjango", "navai_urls"]

_CHUNK = 64 * 1024


class NavaiDjango:
    """NAVAI's routes as Django views, with one pooled ``httpx.Client``.

    Args:
        handler: The framework-neutral handler.
        client: A client to mint with; one is created when None.
        csrf_exempt: Exempt the views from Django's CSRF check (the default: the
            original clients send no CSRF token). NAVAI refuses bodies that are not JSON,
            so a cross-site form cannot post a body; with cookie sessions, have
            ``authorize`` check the ``Origin`` too (docs/security.md).
    """

    def __init__(
        self,
        handler: NavaiHttpHandler,
        client: httpx.Client | None = None,
        *,
        csrf_exempt: bool = True,
    ) -> None:
        self.handler = handler
        self.client = client or new_client()
        self.csrf_exempt = csrf_exempt

    @property
    def urls(self) -> list[URLPattern]:
        """One URL pattern per NAVAI route, for ``include()`` (under any prefix)."""
        patterns = []
        for route_path in self.handler.routes():
            view = self._view_for(route_path)
            name = f"navai-{self.handler.match(route_path)}".replace("_", "-")
            # A call's hangup and attach routes hold its id: a Django path converter.
            pattern = route_path.lstrip("/").replace("{call_id}", "<str:call_id>")
            patterns.append(path(pattern, view, name=name))
        return patterns

    def _view_for(self, route_path: str) -> Any:
        def view(request: HttpRequest, call_id: str | None = None) -> HttpResponse:
            if call_id is not None:
                return self.serve(request, route_path.replace("{call_id}", call_id))
            return self.serve(request, route_path)

        return _csrf_exempt(view) if self.csrf_exempt else view

    def serve(self, request: HttpRequest, route_path: str) -> HttpResponse:
        """Answer ``request``, which Django routed to NAVAI's ``route_path``."""
        handler = self.handler
        full_path: str = request.path
        # Whatever precedes the route (SCRIPT_NAME, the include() prefix) is the mount
        # prefix: the handler matches below it, as for the other adapters.
        root_path = full_path[: -len(route_path)] if full_path.endswith(route_path) else ""
        method = (request.method or "GET").upper()
        # Django reads the body whatever its framing: always "streamed", never a ready answer.
        content_length = request.META.get("CONTENT_LENGTH") or None
        opened = handler.opening(method, full_path, root_path, content_length, streamed=True)
        if isinstance(opened, NavaiResponse):
            answer = opened
        elif opened.refused is not None:
            answer = opened.refused
        else:
            try:
                body = handler.read_body(_chunks(request))
            except BodyTooLargeError:
                answer = handler.body_too_large()
            else:
                navai_request = NavaiRequest(
                    method=method,
                    path=full_path,
                    headers=httpx.Headers(list(request.headers.items())),
                    body=body,
                    native=request,
                    root_path=root_path,
                    client_address=request.META.get("REMOTE_ADDR") or None,
                )
                answer = handler.handle(navai_request, client=self.client)
        response = HttpResponse(answer.body, status=answer.status)
        for key, value in answer.headers:
            response[key] = value
        return response

    def close(self) -> None:
        """Close the client and stop the registry's workers."""
        self.client.close()
        if self.handler.registry is not None:
            self.handler.registry.close()
        self.handler.close()  # the sidebands and their background loop, if any


def _chunks(request: HttpRequest) -> Iterator[bytes]:
    while chunk := request.read(_CHUNK):
        yield chunk


def navai_urls(
    options: NavaiVoiceBackendOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    client: httpx.Client | None = None,
    csrf_exempt: bool = True,
    **config: Any,
) -> list[URLPattern]:
    """URL patterns serving NAVAI's routes in a Django project.

    Args:
        options: Minting options; read from the environment when None.
        env: Environment variables; ``os.environ`` when None.
        client: An ``httpx.Client`` to mint with; one is created when None.
        csrf_exempt: See :class:`NavaiDjango`.
        **config: :class:`~navai_adapters.NavaiServerConfig` fields (``authorize``, ...).
    """
    return NavaiDjango(
        build_handler(options, env=env, **config), client, csrf_exempt=csrf_exempt
    ).urls

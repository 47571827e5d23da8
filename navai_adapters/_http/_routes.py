"""Which NAVAI route a path is, and whether the method fits it: a table, no IO."""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

from navai_adapters._http._messages import JSON_HEADERS, NavaiRequest, NavaiResponse, RouteName
from navai_core._upstream._calls import check_call_id

if TYPE_CHECKING:
    from navai_adapters._config import NavaiServerConfig

__all__ = ["ROUTE_METHODS", "Routes", "route_path"]

ROUTE_METHODS: Final[dict[RouteName, str]] = {
    "health": "GET",
    "client_secret": "POST",
    "functions_list": "GET",
    "functions_execute": "POST",
    "speech_synthesize": "POST",
    "realtime_calls": "POST",
    "realtime_call_hangup": "POST",
    "realtime_call_attach": "POST",
}


def route_path(path: str, root_path: str) -> str:
    """``path`` below ``root_path``: what the routes are matched against.

    As Starlette's ``get_route_path``: a path outside the prefix (an ASGI server that
    leaves ``root_path`` out of ``path``) is taken as it is, and ``/apix`` is not under
    ``/api``.
    """
    root = root_path.rstrip("/")
    if not root or not path.startswith(root):
        return path
    rest = path[len(root) :]
    if not rest:
        return "/"
    return rest if rest[0] == "/" else path


class Routes:
    """The configured paths and the route each one is.

    Args:
        config: The paths and which routes are on.
        functions: Whether the functions routes are served (a registry is loaded).
        attach: Whether a call can be attached to the server's tools.
    """

    def __init__(self, config: NavaiServerConfig, *, functions: bool, attach: bool) -> None:
        self._table: dict[str, RouteName] = {
            config.health_path: "health",
            config.client_secret_path: "client_secret",
            # Always routed: when speech is off it answers a JSON 404 saying how to turn it on.
            config.speech_synthesize_path: "speech_synthesize",
        }
        if functions:
            self._table[config.functions_list_path] = "functions_list"
            if config.enable_functions_execute:
                self._table[config.functions_execute_path] = "functions_execute"
        self._calls_prefix: str | None = None
        if config.enable_realtime_calls:
            self._table[config.realtime_calls_path] = "realtime_calls"
            self._calls_prefix = config.realtime_calls_path.rstrip("/") + "/"
        self._attach = attach

    def paths(self) -> list[str]:
        """The paths served (``{call_id}`` stands for a call's id)."""
        paths = list(self._table)
        if self._calls_prefix is not None:
            paths.append(f"{self._calls_prefix}{{call_id}}/hangup")
            if self._attach:
                paths.append(f"{self._calls_prefix}{{call_id}}/attach")
        return paths

    def match(self, path: str, root_path: str = "") -> RouteName | None:
        """The route at ``path`` below ``root_path``, or ``None`` when it is not NAVAI's."""
        if root_path:
            path = route_path(path, root_path)
        route = self._table.get(path)
        prefix = self._calls_prefix
        if route is None and prefix is not None and path.startswith(prefix):
            _, _, action = path[len(prefix) :].partition("/")
            if action == "hangup":
                return "realtime_call_hangup"
            if action == "attach" and self._attach:
                return "realtime_call_attach"
        return route

    def resolve(self, request: NavaiRequest) -> RouteName | NavaiResponse:
        """The request's route, or the 404 or 405 that answers it."""
        route = self.match(request.path, request.root_path)
        if route is None:
            return NavaiResponse.error(404, f"Not found: {request.path}")
        allowed = ROUTE_METHODS[route]
        if request.method != allowed:
            message = f"Method {request.method} is not allowed on {request.path}. Use {allowed}."
            return NavaiResponse.json(405, {"error": message}, (*JSON_HEADERS, ("allow", allowed)))
        return route

    def call_id(self, request: NavaiRequest) -> str:
        """The call id in a hangup or attach path, below any mount prefix."""
        assert self._calls_prefix is not None
        path = request.path
        if request.root_path:
            path = route_path(path, request.root_path)
        return check_call_id(path[len(self._calls_prefix) :].partition("/")[0])

"""The framework-neutral HTTP layer: request in, response out.

Everything HTTP-shaped that NAVAI decides lives here, once: routing, methods, body
limits, JSON parsing, the status table of the contract, error bodies, and the calls
into :mod:`navai_core`. The Starlette and WSGI adapters only translate their
framework's request into a :class:`NavaiRequest` and a :class:`NavaiResponse` back.

:meth:`NavaiHttpHandler.handle` and :meth:`NavaiHttpHandler.ahandle` are the sync and
async drivers; they differ only in how they wait for the core (minting, speaking, and
running a function), as httpx's ``Client`` and ``AsyncClient`` do.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, Final, Literal

import attrs
import httpx
import msgspec

from navai_adapters._auth import bearer_token_matches
from navai_adapters._config import NavaiServerConfig
from navai_adapters._observe import request_id_for, reset_request_id, set_request_id
from navai_adapters._ratelimit import Decision, RouteLimiter
from navai_core import (
    CreateClientSecretRequest,
    FunctionContext,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    SynthesizedSpeech,
    SynthesizeSpeechRequest,
    acreate_realtime_client_secret,
    asynthesize_speech,
    create_realtime_client_secret,
    load_navai_functions,
    synthesize_speech,
)
from navai_core._functions._result import EncodedResult, failure_body
from navai_core._ratelimit import caller_key, client_address
from navai_core._upstream._calls import (
    acreate_realtime_call,
    ahangup_realtime_call,
    check_call_id,
    create_realtime_call,
    hangup_realtime_call,
    hash_safety_identifier,
    validate_offer,
)
from navai_core._upstream._session import resolve_api_key as _resolve_api_key
from navai_core._upstream._sideband import BackgroundLoop, SidebandManager, session_tools
from navai_core.exceptions import (
    AuthorizationError,
    FunctionExecutionError,
    FunctionTimeoutError,
    InvalidArgumentsError,
    InvalidRequestError,
    NavaiError,
    SpeechUnavailableError,
    UnknownFunctionError,
)

__all__ = [
    "CALL_ID_HEADER",
    "SERVER_TOOLS_HEADER",
    "BodyTooLargeError",
    "NavaiHttpHandler",
    "NavaiRequest",
    "NavaiResponse",
    "RouteName",
    "UnsupportedMediaTypeError",
    "build_handler",
    "route_path",
]

logger = logging.getLogger("navai")
access_logger = logging.getLogger("navai.access")

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

_JSON_HEADERS: Final = (("content-type", "application/json"),)
_NO_STORE_HEADERS: Final = (("content-type", "application/json"), ("cache-control", "no-store"))
_ROUTE_METHODS: Final[dict[RouteName, str]] = {
    "health": "GET",
    "client_secret": "POST",
    "functions_list": "GET",
    "functions_execute": "POST",
    "speech_synthesize": "POST",
    "realtime_calls": "POST",
    "realtime_call_hangup": "POST",
    "realtime_call_attach": "POST",
}
_SDP_HEADERS: Final = (("content-type", "application/sdp"), ("cache-control", "no-store"))
#: The response header carrying a new call's id (CORS exposes it to browsers).
CALL_ID_HEADER: Final = "x-navai-call-id"
#: ``on`` when the server runs the call's tools, ``off`` when the client must relay them.
SERVER_TOOLS_HEADER: Final = "x-navai-server-tools"
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


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

    The body is JSON, except the speech route's raw audio (``Accept: audio/*``).
    """

    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...] = _JSON_HEADERS

    @classmethod
    def json(
        cls,
        status: int,
        data: object,
        headers: tuple[tuple[str, str], ...] = _JSON_HEADERS,
    ) -> NavaiResponse:
        """Encode ``data`` as the JSON body."""
        return cls(status, _encode(data), headers)

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


@attrs.frozen
class _Mint:
    request: CreateClientSecretRequest
    started: float = 0.0  # perf_counter() when an observer times it


@attrs.frozen
class _Execute:
    function_name: str
    payload: dict[str, Any] | None
    context: FunctionContext
    started: float = 0.0


@attrs.frozen
class _Speak:
    request: SynthesizeSpeechRequest
    raw_audio: bool  # answer the audio bytes themselves, not base64 in JSON


@attrs.frozen
class _Call:
    sdp: str
    request: CreateClientSecretRequest
    headers: httpx.Headers


@attrs.frozen
class _Hangup:
    call_id: str


@attrs.frozen
class _Attach:
    call_id: str
    headers: httpx.Headers


_Plan = _Mint | _Execute | _Speak | _Call | _Hangup | _Attach | NavaiResponse


def _wants_raw_audio(accept: str | None) -> bool:
    """Whether ``Accept`` asks for audio and not JSON (``audio/mpeg``, ``audio/*``).

    The original frontend sends no ``Accept``: it gets base64 in JSON, as from the original.
    """
    if not accept:
        return False
    ranges = [part.split(";", 1)[0].strip().lower() for part in accept.split(",")]
    return any(item.startswith("audio/") for item in ranges) and not any(
        item in ("application/json", "application/*") for item in ranges
    )


def _spoken(plan: _Speak, speech: SynthesizedSpeech) -> NavaiResponse:
    if plan.raw_audio:
        return NavaiResponse(
            200, speech.audio, (("content-type", speech.mime_type), ("cache-control", "no-store"))
        )
    return NavaiResponse.json(200, speech.to_dict(), _NO_STORE_HEADERS)


class NavaiHttpHandler:
    """Serves NAVAI's routes for any framework, through :meth:`handle` or :meth:`ahandle`.

    Args:
        options: Minting options (key, defaults, TTL, upstream).
        registry: The backend functions; ``None`` when the functions routes are off.
        config: Paths, limits and the ``authorize`` hook.
    """

    def __init__(
        self,
        options: NavaiVoiceBackendOptions,
        registry: NavaiFunctionRegistry | None,
        config: NavaiServerConfig,
    ) -> None:
        self.options = options
        self.registry = registry
        self.config = config
        self.max_body_bytes = config.max_body_bytes
        self._routes: dict[str, RouteName] = {
            config.health_path: "health",
            config.client_secret_path: "client_secret",
            # Always routed: when speech is off it answers a JSON 404 saying how to turn it on.
            config.speech_synthesize_path: "speech_synthesize",
        }
        self._token = config.auth_token.encode("utf-8") if config.auth_token else None
        self._observer = config.observer
        # Request ids, the access line and metrics cost a little on every request: only
        # when asked for.
        self._watched = config.request_log or config.observer is not None
        if registry is not None:
            self._routes[config.functions_list_path] = "functions_list"
            if config.enable_functions_execute:
                self._routes[config.functions_execute_path] = "functions_execute"
        self._calls_prefix: str | None = None
        if config.enable_realtime_calls:
            self._routes[config.realtime_calls_path] = "realtime_calls"
            self._calls_prefix = config.realtime_calls_path.rstrip("/") + "/"
        #: Runs the calls' sidebands when server tools are on; ``None`` otherwise.
        self.sidebands: SidebandManager | None = None
        self._tools_cache: tuple[object, list[dict[str, Any]]] | None = None
        if config.server_tools and registry is not None:
            self.sidebands = SidebandManager(
                options,
                registry,
                max_sidebands=config.max_sidebands,
                idle_timeout=config.sideband_idle_timeout,
            )
        #: The loop sync callers (WSGI) run sidebands on; started on first use.
        self.background = BackgroundLoop()
        self._listing: tuple[object, NavaiResponse] | None = None
        #: Counts requests of the limited routes; ``None`` when no route has rates.
        self.rate_limiter: RouteLimiter | None = None
        if config.rate_limits:
            self.rate_limiter = RouteLimiter(
                config.rate_limits,
                config.rate_limit_storage,
                fail_open=config.rate_limit_fail_open,
                storage_timeout=config.rate_limit_storage_timeout,
            )

    # --- routing and bodies: pure -------------------------------------------------------

    def routes(self) -> list[str]:
        """The paths this handler serves (``{call_id}`` stands for a call's id)."""
        paths = list(self._routes)
        if self._calls_prefix is not None:
            paths.append(f"{self._calls_prefix}{{call_id}}/hangup")
            if self.sidebands is not None:
                paths.append(f"{self._calls_prefix}{{call_id}}/attach")
        return paths

    def match(self, path: str, root_path: str = "") -> RouteName | None:
        """The NAVAI route at ``path``, or ``None`` when the path is not NAVAI's.

        Args:
            path: The full request path.
            root_path: The prefix the app is mounted under, if any (ASGI ``root_path``,
                WSGI ``SCRIPT_NAME``); routes are matched below it, the same way for
                every adapter.
        """
        if root_path:
            path = route_path(path, root_path)
        route = self._routes.get(path)
        if route is None and self._calls_prefix is not None and path.startswith(self._calls_prefix):
            _, _, action = path[len(self._calls_prefix) :].partition("/")
            if action == "hangup":
                return "realtime_call_hangup"
            if action == "attach" and self.sidebands is not None:
                return "realtime_call_attach"
        return route

    def _call_id(self, request: NavaiRequest) -> str:
        """The call id in a hangup or attach path, below any mount prefix."""
        assert self._calls_prefix is not None
        path = request.path
        if request.root_path:
            path = route_path(path, request.root_path)
        return check_call_id(path[len(self._calls_prefix) :].partition("/")[0])

    def check_declared_length(self, content_length: str | None) -> NavaiResponse | None:
        """A 413 (or 400) answer when ``Content-Length`` alone rules the body out."""
        if content_length is None:
            return None
        try:
            length = int(content_length)
        except ValueError:
            return NavaiResponse.error(400, "Content-Length must be a whole number.")
        if length < 0:
            return NavaiResponse.error(400, "Content-Length must be a whole number.")
        if length > self.max_body_bytes:
            return self._too_large()
        return None

    def _too_large(self) -> NavaiResponse:
        return NavaiResponse.error(
            413,
            f"Request body is larger than {self.max_body_bytes} bytes "
            "(raise NAVAI_MAX_BODY_BYTES to allow more).",
        )

    def read_body(self, chunks: Iterable[bytes]) -> bytes:
        """Join body chunks, stopping as soon as they pass the limit.

        Raises:
            BodyTooLargeError: The body is over ``max_body_bytes``.
        """
        parts: list[bytes] = []
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLargeError(self._too_large().body.decode())
            parts.append(chunk)
        return b"".join(parts)

    async def aread_body(self, chunks: AsyncIterable[bytes]) -> bytes:
        """Async twin of :meth:`read_body`."""
        parts: list[bytes] = []
        size = 0
        async for chunk in chunks:
            size += len(chunk)
            if size > self.max_body_bytes:
                raise BodyTooLargeError(self._too_large().body.decode())
            parts.append(chunk)
        return b"".join(parts)

    def body_too_large(self) -> NavaiResponse:
        """The 413 answer, for adapters that catch :class:`BodyTooLargeError`."""
        return self._too_large()

    def _plan(self, request: NavaiRequest, route: RouteName) -> _Plan:
        """Decide what the request asks for, or answer it at once (errors, listing)."""
        try:
            if route == "realtime_calls":
                return self._call_plan(request)
            data = self._json_object(request)
            if route == "functions_list":
                # The list takes no input, but a body sent anyway must still be JSON.
                return self._listing_response()
            if route == "client_secret":
                return _Mint(CreateClientSecretRequest.from_wire(data), self._clock())
            if route == "speech_synthesize":
                if not self.options.speech_enabled:
                    error = SpeechUnavailableError()
                    return NavaiResponse.error(error.status_code, error.message)
                return _Speak(
                    SynthesizeSpeechRequest.from_wire(data),
                    _wants_raw_audio(request.headers.get("accept")),
                )
            if route == "realtime_call_hangup":
                return _Hangup(self._call_id(request))
            if route == "realtime_call_attach":
                return _Attach(self._call_id(request), request.headers)
            return self._execute_plan(data, request)
        except InvalidRequestError as error:
            return NavaiResponse.from_error(error)

    def _call_plan(self, request: NavaiRequest) -> _Call:
        """The offer and the session asked for: raw ``application/sdp``, or JSON."""
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type == "application/sdp":
            try:
                sdp: object = request.body.decode("utf-8")
            except UnicodeDecodeError:
                msg = "The SDP offer must be UTF-8 text."
                raise InvalidRequestError(msg) from None
            fields: dict[str, Any] = {}
        else:
            fields = self._json_object(request)
            sdp = fields.pop("sdp", None)
            if sdp is None:
                msg = 'sdp is required: send the offer as application/sdp, or JSON {"sdp": ...}.'
                raise InvalidRequestError(msg)
            fields.pop("apiKey", None)  # a call always goes out with the server's key
        offer = validate_offer(sdp, self.config.max_sdp_bytes)
        return _Call(offer, CreateClientSecretRequest.from_wire(fields), request.headers)

    def _json_object(self, request: NavaiRequest) -> dict[str, Any]:
        body = request.body
        if not body:  # no body at all is an empty object, as Express's body-parser reads it
            return {}
        # A body must say it is JSON: that forces a CORS preflight on cross-site posts
        # (a form, a beacon or an untyped blob cannot send application/json).
        content_type = request.headers.get("content-type", "")
        media_type = content_type.split(";", 1)[0].strip().lower()
        if media_type != "application/json" and not media_type.endswith("+json"):
            given = repr(media_type) if media_type else "missing"
            msg = f"Content-Type must be application/json, not {given}."
            raise UnsupportedMediaTypeError(msg)
        try:
            data = _decode(body)
        except msgspec.DecodeError:
            msg = "Request body is not valid JSON. Send a JSON object."
            raise InvalidRequestError(msg) from None
        except RecursionError:
            msg = "Request body is JSON nested too deeply. Send a flatter JSON object."
            raise InvalidRequestError(msg) from None
        if not isinstance(data, dict):
            msg = "Request body must be a JSON object."
            raise InvalidRequestError(msg)
        return data

    def _execute_plan(self, data: dict[str, Any], request: NavaiRequest) -> _Plan:
        name = data.get("function_name")
        if name is not None and not isinstance(name, str):
            # The contract's message, which clients match; the detail says what is wrong.
            return NavaiResponse.error(
                400,
                "function_name is required.",
                details=f"function_name must be a string, not {_json_type(name)}.",
            )
        if name is None or not name.strip():
            return NavaiResponse.error(400, "function_name is required.")
        payload = data.get("payload")
        if payload is not None and not isinstance(payload, dict):
            return NavaiResponse.error(400, "payload must be a JSON object or null.")
        name = name.strip()
        context = FunctionContext(
            function_name=name, headers=request.headers, request=request.native
        )
        return _Execute(name, payload, context, self._clock())

    def _listing_response(self) -> NavaiResponse:
        # The registry's items only change on reload: encode them once per snapshot.
        registry = self.registry
        assert registry is not None
        items = registry.items
        cached = self._listing
        if cached is None or cached[0] is not items:
            body = _encode(
                {"items": [item.to_dict() for item in items], "warnings": self._warnings(registry)}
            )
            self._listing = cached = (items, NavaiResponse(200, body))
        return cached[1]

    def _warnings(self, registry: NavaiFunctionRegistry) -> list[str]:
        # File paths and import errors are for the operator (they are logged at load),
        # not for every caller of the listing, unless the operator asks.
        return list(registry.warnings) if self.config.expose_load_warnings else []

    def ready_response(self, method: str, path: str, root_path: str = "") -> NavaiResponse | None:
        """The answer to a request without a body, when nothing else of it matters.

        The health route qualifies, and the functions listing, once encoded for the
        current snapshot, and only without an ``authorize`` hook or token: it is then the
        same bytes for every caller.
        Adapters may ask this before building a :class:`NavaiRequest` (the listing is
        polled by every client: it is worth skipping the headers and the rest) and send
        the answer as it is; ``None`` means: build the request and call ``handle``.
        """
        if method != "GET" or self._watched:
            return None
        route = self.match(path, root_path)
        if route == "health":
            return _HEALTHY
        if route != "functions_list" or self.config.authorize is not None or self._token:
            return None
        cached = self._listing
        if cached is None:
            return None  # not encoded yet: the usual path encodes it
        registry = self.registry
        assert registry is not None  # a listing exists, so the functions routes are on
        return cached[1] if cached[0] is registry.items else None

    # --- turning results and errors into responses: pure ---------------------------------

    def _executed(self, plan: _Execute, result: EncodedResult) -> NavaiResponse:
        # The result comes encoded, with the tool's canonical name and source: nothing is
        # looked up (no schema built) and the JSON is written into the body as it is.
        name = result.name
        if self._observer is not None:
            self._observer.tool_call(name, "ok", time.perf_counter() - plan.started)
        return NavaiResponse.json(
            200, {"ok": True, "function_name": name, "source": result.source, "result": result.json}
        )

    def _minted(self, plan: _Mint, secret: RealtimeClientSecret) -> NavaiResponse:
        if self._observer is not None:
            self._observer.upstream(200, time.perf_counter() - plan.started)
        return NavaiResponse.json(200, secret.to_dict(), _NO_STORE_HEADERS)

    def _clock(self) -> float:
        return time.perf_counter() if self._observer is not None else 0.0

    def _observe_failure(self, plan: _Mint | _Execute, error: NavaiError) -> None:
        observer = self._observer
        assert observer is not None
        seconds = time.perf_counter() - plan.started
        if isinstance(plan, _Mint):
            observer.upstream(error.status_code, seconds)
            return
        if isinstance(error, UnknownFunctionError):
            # Never the asked-for name as a label: callers could make up any number of them.
            observer.tool_call("(unknown)", "unknown", seconds)
            return
        name = getattr(error, "function_name", plan.function_name)
        observer.tool_call(name, _OUTCOMES.get(type(error), "error"), seconds)

    def _failed(
        self, plan: _Mint | _Execute | _Speak | _Call | _Hangup | _Attach, error: NavaiError
    ) -> NavaiResponse:
        # Speech and calls are not measured yet: only mints and tool calls are.
        if (
            self._observer is not None
            and isinstance(plan, (_Mint, _Execute))
            and not isinstance(error, AuthorizationError)
        ):
            self._observe_failure(plan, error)
        if not isinstance(plan, _Execute) or isinstance(error, AuthorizationError):
            return NavaiResponse.from_error(error)
        if isinstance(error, UnknownFunctionError):
            return NavaiResponse.error(
                404,
                "Unknown or disallowed function.",
                available_functions=error.available,
                details=error.details,
            )
        name = getattr(error, "function_name", plan.function_name)
        body = failure_body(error)
        if body is None:
            return NavaiResponse.from_error(error)
        return NavaiResponse.json(error.status_code, {"ok": False, "function_name": name, **body})

    def _route(self, request: NavaiRequest) -> RouteName | NavaiResponse:
        route = self.match(request.path, request.root_path)
        if route is None:
            return NavaiResponse.error(404, f"Not found: {request.path}")
        allowed = _ROUTE_METHODS[route]
        if request.method != allowed:
            message = f"Method {request.method} is not allowed on {request.path}. Use {allowed}."
            return NavaiResponse.json(405, {"error": message}, (*_JSON_HEADERS, ("allow", allowed)))
        return route

    @staticmethod
    def _with_route(request: NavaiRequest, route: RouteName) -> NavaiRequest:
        # For the authorize hook only (nothing else sees the request object): not built
        # without one. Not attrs.evolve, which introspects the class on every call.
        return NavaiRequest(
            request.method,
            request.path,
            request.headers,
            request.body,
            request.native,
            route,
            request.client_address,
            request.root_path,
        )

    def _gate(self, route: RouteName, request: NavaiRequest) -> NavaiResponse | None:
        """Answers that come before the route's work: health, and the shared token."""
        if route == "health":
            return _HEALTHY  # for probes: no token, no hook, no registry
        if self._token is not None and not bearer_token_matches(request.headers, self._token):
            return _BAD_TOKEN
        return None

    def _refused(self, verdict: object) -> NavaiResponse | None:
        if verdict is False:
            return NavaiResponse.error(403, "This request is not authorized.")
        return None

    # --- rate limits: pure around the limiter's count ----------------------------------------

    def _limited(self, route: RouteName) -> RouteLimiter | None:
        limiter = self.rate_limiter
        return limiter if limiter is not None and limiter.applies(route) else None

    def _caller(self, request: NavaiRequest, verdict: object) -> str:
        """Who a limited request counts against: the hook's identity, else the client."""
        forwarded = request.headers.get("x-forwarded-for")
        address = client_address(request.client_address, forwarded, self.config.trusted_proxies)
        return caller_key(verdict, address)

    @staticmethod
    def _stamped(response: NavaiResponse, decision: Decision) -> NavaiResponse:
        if decision.status is not None:
            assert decision.body is not None
            return NavaiResponse.json(
                decision.status, decision.body, (*_JSON_HEADERS, *decision.headers)
            )
        if not decision.headers:
            return response
        return NavaiResponse(response.status, response.body, (*response.headers, *decision.headers))

    # --- drivers -----------------------------------------------------------------------------

    def handle(self, request: NavaiRequest, *, client: httpx.Client) -> NavaiResponse:
        """Answer ``request`` (blocking; for WSGI servers).

        Args:
            request: The request, body read.
            client: The pooled client minting goes through.
        """
        if not self._watched:
            return self._handle(request, client)
        watch = self._begin(request)
        try:
            return self._end(watch, request, self._handle(request, client))
        finally:
            reset_request_id(watch.token)

    async def ahandle(self, request: NavaiRequest, *, client: httpx.AsyncClient) -> NavaiResponse:
        """Answer ``request`` (async; for ASGI servers). Same as :meth:`handle`."""
        if not self._watched:
            return await self._ahandle(request, client)
        watch = self._begin(request)
        try:
            return self._end(watch, request, await self._ahandle(request, client))
        finally:
            reset_request_id(watch.token)

    def _begin(self, request: NavaiRequest) -> _Watch:
        request_id = request_id_for(request.headers) if self.config.request_log else None
        return _Watch(time.perf_counter(), request_id, set_request_id(request_id))

    def _end(self, watch: _Watch, request: NavaiRequest, response: NavaiResponse) -> NavaiResponse:
        seconds = time.perf_counter() - watch.started
        route = self.match(request.path, request.root_path) or "(none)"
        if self._observer is not None:
            self._observer.request(route, request.method, response.status, seconds)
        if watch.request_id is None:
            return response
        access_logger.info(
            "%s %s %d %.1fms",
            request.method,
            request.path,
            response.status,
            seconds * 1000,
            extra={
                "method": request.method,
                "path": request.path,
                "route": route,
                "status": response.status,
                "duration_ms": round(seconds * 1000, 3),
            },
        )
        return NavaiResponse(
            response.status, response.body, (*response.headers, ("x-request-id", watch.request_id))
        )

    def _handle(self, request: NavaiRequest, client: httpx.Client) -> NavaiResponse:
        route = self._route(request)
        if isinstance(route, NavaiResponse):
            return route
        if (gated := self._gate(route, request)) is not None:
            return gated
        verdict: object = None
        try:
            if self.config.authorize is not None:
                request = self._with_route(request, route)
                verdict = self.config.authorize(request)
                if inspect.isawaitable(verdict):
                    _reject_async_hook(verdict)
                if refused := self._refused(verdict):
                    return refused
        except NavaiError as error:
            return self._answer_error(None, error)
        except Exception:
            return _internal_error(request)
        limiter = self._limited(route)
        if limiter is None:
            return self._respond(request, route, client, verdict)
        decision = limiter.hit(route, self._caller(request, verdict))
        if decision.status is not None:  # over the limit: the route does not run
            return self._stamped(NavaiResponse(decision.status, b""), decision)
        return self._stamped(self._respond(request, route, client, verdict), decision)

    def _respond(
        self, request: NavaiRequest, route: RouteName, client: httpx.Client, verdict: object
    ) -> NavaiResponse:
        plan: _Plan | None = None
        try:
            plan = self._plan(request, route)
            if isinstance(plan, _Call):
                return self._create_call(plan, client, verdict)
            if isinstance(plan, _Hangup):
                hangup_realtime_call(self.options, plan.call_id, client=client)
                if (sidebands := self.sidebands) is not None:
                    self.background.run(sidebands.stop(plan.call_id), 10)
                return NavaiResponse.json(200, {"ok": True, "call_id": plan.call_id})
            if isinstance(plan, _Attach):
                start = self._attach_start(plan)
                self.background.call(start, 10)
                return NavaiResponse.json(202, {"ok": True, "call_id": plan.call_id})
            if isinstance(plan, _Mint):
                secret = create_realtime_client_secret(self.options, plan.request, client=client)
                return self._minted(plan, secret)
            if isinstance(plan, _Speak):
                speech = synthesize_speech(self.options, plan.request, client=client)
                return _spoken(plan, speech)
            if isinstance(plan, _Execute):
                registry = self.registry
                assert registry is not None
                result = registry.execute_encoded(plan.function_name, plan.payload, plan.context)
                return self._executed(plan, result)
            return plan
        except NavaiError as error:
            return self._answer_error(plan, error)
        except Exception:
            return _internal_error(request)

    async def _ahandle(self, request: NavaiRequest, client: httpx.AsyncClient) -> NavaiResponse:
        route = self._route(request)
        if isinstance(route, NavaiResponse):
            return route
        if (gated := self._gate(route, request)) is not None:
            return gated
        verdict: object = None
        try:
            if self.config.authorize is not None:
                request = self._with_route(request, route)
                verdict = self.config.authorize(request)
                if inspect.isawaitable(verdict):
                    verdict = await verdict
                if refused := self._refused(verdict):
                    return refused
        except NavaiError as error:
            return self._answer_error(None, error)
        except Exception:
            return _internal_error(request)
        limiter = self._limited(route)
        if limiter is None:
            return await self._arespond(request, route, client, verdict)
        decision = await limiter.ahit(route, self._caller(request, verdict))
        if decision.status is not None:  # over the limit: the route does not run
            return self._stamped(NavaiResponse(decision.status, b""), decision)
        return self._stamped(await self._arespond(request, route, client, verdict), decision)

    async def _arespond(
        self,
        request: NavaiRequest,
        route: RouteName,
        client: httpx.AsyncClient,
        verdict: object,
    ) -> NavaiResponse:
        plan: _Plan | None = None
        try:
            plan = self._plan(request, route)
            if isinstance(plan, _Call):
                return await self._acreate_call(plan, client, verdict)
            if isinstance(plan, _Hangup):
                await ahangup_realtime_call(self.options, plan.call_id, client=client)
                if (sidebands := self.sidebands) is not None:
                    await sidebands.stop(plan.call_id)
                return NavaiResponse.json(200, {"ok": True, "call_id": plan.call_id})
            if isinstance(plan, _Attach):
                self._attach_start(plan)()
                return NavaiResponse.json(202, {"ok": True, "call_id": plan.call_id})
            if isinstance(plan, _Mint):
                secret = await acreate_realtime_client_secret(
                    self.options, plan.request, client=client
                )
                return self._minted(plan, secret)
            if isinstance(plan, _Speak):
                speech = await asynthesize_speech(self.options, plan.request, client=client)
                return _spoken(plan, speech)
            if isinstance(plan, _Execute):
                registry = self.registry
                assert registry is not None
                result = await registry.aexecute_encoded(
                    plan.function_name, plan.payload, plan.context
                )
                return self._executed(plan, result)
            return plan
        except NavaiError as error:
            return self._answer_error(plan, error)
        except Exception:
            return _internal_error(request)

    # --- calls: the decisions both drivers share -------------------------------------------

    def _session_tools(self) -> list[dict[str, Any]] | None:
        if self.sidebands is None:
            return None
        registry = self.registry
        assert registry is not None
        cached = self._tools_cache
        if cached is None or cached[0] is not registry.items:
            self._tools_cache = cached = (registry.items, session_tools(registry))
        return cached[1]

    @staticmethod
    def _safety_identifier(verdict: object) -> str | None:
        # The authorize hook's identity, hashed: OpenAI asks for one per end user.
        return hash_safety_identifier(verdict) if isinstance(verdict, str) and verdict else None

    def _call_answer(self, call_id: str, sdp: str) -> NavaiResponse:
        tools = "on" if self.sidebands is not None else "off"
        headers = (*_SDP_HEADERS, (CALL_ID_HEADER, call_id), (SERVER_TOOLS_HEADER, tools))
        return NavaiResponse(201, sdp.encode("utf-8"), headers)

    def _create_call(self, plan: _Call, client: httpx.Client, verdict: object) -> NavaiResponse:
        sidebands = self.sidebands
        if sidebands is not None:
            sidebands.reserve()  # refused here, before OpenAI is asked
        try:
            call = create_realtime_call(
                self.options,
                plan.sdp,
                plan.request,
                client=client,
                tools=self._session_tools(),
                safety_identifier=self._safety_identifier(verdict),
            )
        except BaseException:
            if sidebands is not None:
                sidebands.release()
            raise
        if sidebands is not None:
            headers = plan.headers
            self.background.call(
                lambda: sidebands.start(call.call_id, call.api_key, headers=headers)
            )
        return self._call_answer(call.call_id, call.sdp)

    async def _acreate_call(
        self, plan: _Call, client: httpx.AsyncClient, verdict: object
    ) -> NavaiResponse:
        sidebands = self.sidebands
        if sidebands is not None:
            sidebands.reserve()  # refused here, before OpenAI is asked
        try:
            call = await acreate_realtime_call(
                self.options,
                plan.sdp,
                plan.request,
                client=client,
                tools=self._session_tools(),
                safety_identifier=self._safety_identifier(verdict),
            )
        except BaseException:
            if sidebands is not None:
                sidebands.release()
            raise
        if sidebands is not None:
            sidebands.start(call.call_id, call.api_key, headers=plan.headers)
        return self._call_answer(call.call_id, call.sdp)

    def _attach_start(self, plan: _Attach) -> Callable[[], None]:
        """What attaching does on the sidebands' loop; the slot is taken here."""
        sidebands = self.sidebands
        assert sidebands is not None
        api_key = _resolve_api_key(self.options, CreateClientSecretRequest())
        session = {"type": "realtime", "tools": self._session_tools()}
        sidebands.reserve()

        def start() -> None:
            sidebands.start(plan.call_id, api_key, headers=plan.headers, session_update=session)

        return start

    def close(self) -> None:
        """Close the sidebands and their background loop (sync servers)."""
        sidebands = self.sidebands
        self.background.close(sidebands.aclose if sidebands is not None else None)

    def _answer_error(self, plan: _Plan | None, error: NavaiError) -> NavaiResponse:
        if plan is None or isinstance(plan, NavaiResponse):  # raised by the authorize hook
            return NavaiResponse.from_error(error)
        # A failed mint, synthesis or call is logged here, once; a failed tool by the registry.
        if not isinstance(plan, _Execute) and error.status_code >= 500:  # noqa: PLR2004
            logger.warning("%s", error.message)
        return self._failed(plan, error)


@attrs.frozen
class _Watch:
    started: float
    request_id: str | None
    token: contextvars.Token[str | None]


_OUTCOMES: Final[dict[type[NavaiError], str]] = {
    FunctionExecutionError: "error",
    InvalidArgumentsError: "invalid_arguments",
    FunctionTimeoutError: "timeout",
}

_HEALTHY: Final = NavaiResponse.json(200, {"status": "ok"}, _NO_STORE_HEADERS)
_BAD_TOKEN: Final = NavaiResponse.json(
    401,
    {"error": "This request is not authorized. Send Authorization: Bearer <NAVAI_AUTH_TOKEN>."},
    (*_JSON_HEADERS, ("www-authenticate", 'Bearer realm="navai"')),
)


def _json_type(value: object) -> str:
    """What JSON calls ``value``'s type, with an article, for error details."""
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    return "an array" if isinstance(value, list) else "an object"


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


def _internal_error(request: NavaiRequest) -> NavaiResponse:
    # Always called from an `except` block: the traceback goes to the log, not the client.
    logger.error("Unexpected error serving %s %s", request.method, request.path, exc_info=True)  # noqa: LOG014
    return NavaiResponse.error(500, "Internal server error. The server log has the details.")


def _reject_async_hook(awaitable: object) -> None:
    close: Callable[[], object] | None = getattr(awaitable, "close", None)
    if close is not None:
        close()  # never awaited: close it so Python does not warn about it
    msg = "The authorize hook must be a plain function under WSGI, not async."
    raise TypeError(msg)


def build_handler(
    options: NavaiVoiceBackendOptions | None = None,
    *,
    env: Mapping[str, str] | None = None,
    **config: Any,
) -> NavaiHttpHandler:
    """Build the handler both adapters serve: options, config and registry, from env or code.

    Args:
        options: Minting options; read from ``env`` when None.
        env: Environment variables; ``os.environ`` when None.
        **config: :class:`NavaiServerConfig` fields; they win over ``NAVAI_*`` variables.

    Raises:
        InvalidOptionError: An option or variable has a value that cannot be used.
    """
    if options is None:
        options = NavaiVoiceBackendOptions.from_env(env)
    server_config = NavaiServerConfig.from_env(env, **config)
    registry = None
    if server_config.enable_functions:
        # The registry logs its own warnings (logger "navai.functions") as it loads.
        registry = server_config.registry or load_navai_functions(
            base_dir=server_config.functions_base_dir,
            folders=server_config.functions_folders,
            env=env,
            agents_folders=server_config.agents_folders,
            exclude=server_config.functions_exclude,
        )
    if not options.openai_api_key and not options.allow_api_key_from_request:
        logger.warning("OPENAI_API_KEY is not set: minting client secrets answers 401 until it is.")
    return NavaiHttpHandler(options, registry, server_config)

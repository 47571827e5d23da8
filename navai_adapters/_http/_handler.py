"""The handler: one flow decides every request; a blocking and an async driver walk it.

:meth:`NavaiHttpHandler._flow` is a generator. It routes, gates, asks the ``authorize``
hook, counts rate limits, plans the route's work, maps errors to the contract's
responses and observes the request, and yields a step
(:mod:`navai_adapters._http._effects`) wherever it waits for the outside world.
:meth:`~NavaiHttpHandler.handle` walks it blocking (WSGI), :meth:`~NavaiHttpHandler.ahandle`
on the event loop (ASGI): they differ only in how a step is done, as httpx's ``Client``
and ``AsyncClient`` differ only in how they send.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import time
from collections.abc import AsyncIterable, Callable, Iterable, Mapping
from typing import Any, Final

import attrs
import httpx

from navai_adapters._auth import bearer_token_matches
from navai_adapters._config import NavaiServerConfig
from navai_adapters._http import _answers
from navai_adapters._http._body import NO_BODY, BodyLimit, Framing
from navai_adapters._http._effects import (
    Authorize,
    CreateCall,
    Execute,
    Flow,
    Hangup,
    Hit,
    Mint,
    OnSidebandLoop,
    Speak,
    StopSideband,
    adrive,
    drive,
)
from navai_adapters._http._messages import NavaiRequest, NavaiResponse, RouteName, encode
from navai_adapters._http._parse import (
    CallOffer,
    call_offer,
    execute_fields,
    json_object,
    wants_raw_audio,
)
from navai_adapters._http._routes import Routes
from navai_adapters._observe import request_id_for, reset_request_id, set_request_id
from navai_adapters._ratelimit import RouteLimiter
from navai_core import (
    CreateClientSecretRequest,
    FunctionContext,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    SynthesizeSpeechRequest,
    load_navai_functions,
)
from navai_core._ratelimit import caller_key, client_address
from navai_core._threads import BackgroundLoop
from navai_core._upstream._calls import hash_safety_identifier
from navai_core._upstream._session import resolve_api_key as _resolve_api_key
from navai_core._upstream._sideband import SidebandManager, session_tools
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

__all__ = ["NavaiHttpHandler", "build_handler"]

logger = logging.getLogger("navai")
access_logger = logging.getLogger("navai.access")

#: What a route's work is, once decided: a step to take, or the answer already.
_Plan = Mint | Execute | Speak | CallOffer | Hangup | str | NavaiResponse

_OUTCOMES: Final[dict[type[NavaiError], str]] = {
    FunctionExecutionError: "error",
    InvalidArgumentsError: "invalid_arguments",
    FunctionTimeoutError: "timeout",
}


@attrs.frozen
class _Watch:
    started: float
    request_id: str | None
    token: contextvars.Token[str | None]


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
        self._body = BodyLimit(config.max_body_bytes)
        self._token = config.auth_token.encode("utf-8") if config.auth_token else None
        self._observer = config.observer
        # Request ids, the access line and metrics cost a little on every request: only
        # when asked for.
        self._watched = config.request_log or config.observer is not None
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
        self._routes = Routes(
            config, functions=registry is not None, attach=self.sidebands is not None
        )
        #: The loop sync callers (WSGI) run sidebands on; started on first use.
        self.background = BackgroundLoop(name="navai-sidebands")
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

    # --- the drivers ---------------------------------------------------------------------

    def handle(self, request: NavaiRequest, *, client: httpx.Client) -> NavaiResponse:
        """Answer ``request`` (blocking; for WSGI servers).

        Args:
            request: The request, body read.
            client: The pooled client minting goes through.
        """
        return drive(self._watched_flow(request) if self._watched else self._flow(request), client)

    async def ahandle(self, request: NavaiRequest, *, client: httpx.AsyncClient) -> NavaiResponse:
        """Answer ``request`` (async; for ASGI servers). Same as :meth:`handle`."""
        flow = self._watched_flow(request) if self._watched else self._flow(request)
        return await adrive(flow, client)

    # --- routing and bodies, before a request is built -------------------------------------

    def routes(self) -> list[str]:
        """The paths this handler serves (``{call_id}`` stands for a call's id)."""
        return self._routes.paths()

    def match(self, path: str, root_path: str = "") -> RouteName | None:
        """The NAVAI route at ``path``, or ``None`` when the path is not NAVAI's.

        Args:
            path: The full request path.
            root_path: The prefix the app is mounted under, if any (ASGI ``root_path``,
                WSGI ``SCRIPT_NAME``); routes are matched below it, the same way for
                every adapter.
        """
        return self._routes.match(path, root_path)

    def opening(
        self,
        method: str,
        path: str,
        root_path: str,
        content_length: str | None,
        *,
        streamed: bool,
    ) -> NavaiResponse | Framing:
        """What an adapter does before it reads a body: the one prelude of every adapter.

        Args:
            method: The request method.
            path: The full request path.
            root_path: The mount prefix, if any.
            content_length: ``Content-Length`` as sent, ``None`` when absent.
            streamed: A body may come without a length (``Transfer-Encoding``, HTTP/2).

        Returns:
            A ready answer (send it as it is: no body to read, nothing else matters), or
            how to read the body (:class:`~navai_adapters._http._body.Framing`), which
            may be a refusal to send at once.
        """
        if content_length is None and not streamed:
            ready = self.ready_response(method, path, root_path)
            return NO_BODY if ready is None else ready
        return self._body.frame(content_length, streamed=streamed)

    def check_declared_length(self, content_length: str | None) -> NavaiResponse | None:
        """A 413 (or 400) answer when ``Content-Length`` alone rules the body out."""
        return self._body.frame(content_length, streamed=True).refused

    def read_body(self, chunks: Iterable[bytes]) -> bytes:
        """Join body chunks, stopping as soon as they pass the limit.

        Raises:
            BodyTooLargeError: The body is over ``max_body_bytes``.
        """
        return self._body.read(chunks)

    async def aread_body(self, chunks: AsyncIterable[bytes]) -> bytes:
        """:meth:`read_body` for chunks that arrive asynchronously."""
        return await self._body.aread(chunks)

    def body_too_large(self) -> NavaiResponse:
        """The 413 answer, for adapters that catch :class:`BodyTooLargeError`."""
        return self._body.too_large()

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
        route = self._routes.match(path, root_path)
        if route == "health":
            return _answers.HEALTHY
        if route != "functions_list" or self.config.authorize is not None or self._token:
            return None
        cached = self._listing
        if cached is None:
            return None  # not encoded yet: the usual path encodes it
        registry = self.registry
        assert registry is not None  # a listing exists, so the functions routes are on
        return cached[1] if cached[0] is registry.items else None

    # --- the flow ------------------------------------------------------------------------

    def _watched_flow(self, request: NavaiRequest) -> Flow:
        """:meth:`_flow`, observed: the request id, metrics and the access line."""
        request_id = request_id_for(request.headers) if self.config.request_log else None
        watch = _Watch(time.perf_counter(), request_id, set_request_id(request_id))
        try:
            return self._end(watch, request, (yield from self._flow(request)))
        finally:
            reset_request_id(watch.token)

    def _flow(self, request: NavaiRequest) -> Flow:
        """Every decision a request needs, yielding a step wherever it waits."""
        route = self._routes.resolve(request)
        if isinstance(route, NavaiResponse):
            return route
        if route == "health":
            return _answers.HEALTHY  # for probes: no token, no hook, no registry
        if self._token is not None and not bearer_token_matches(request.headers, self._token):
            return _answers.BAD_TOKEN
        verdict: object = None
        if self.config.authorize is not None:
            try:
                verdict = self.config.authorize(self._with_route(request, route))
                if inspect.isawaitable(verdict):
                    verdict = yield Authorize(verdict)
            except NavaiError as error:
                return NavaiResponse.from_error(error)
            except Exception:
                return _answers.internal_error(request)
            if verdict is False:
                return _answers.REFUSED
        limiter = self.rate_limiter
        if limiter is None or not limiter.applies(route):
            return (yield from self._respond(request, route, verdict))
        decision = yield Hit(limiter, route, self._caller(request, verdict))
        if decision.status is not None:  # over the limit: the route does not run
            return _answers.over_limit(decision)
        return _answers.stamped((yield from self._respond(request, route, verdict)), decision)

    def _respond(self, request: NavaiRequest, route: RouteName, verdict: object) -> Flow:
        plan: _Plan | None = None
        try:
            plan = self._plan(request, route)
            if isinstance(plan, NavaiResponse):
                return plan
            if isinstance(plan, Execute):
                return self._executed(plan, (yield plan))
            if isinstance(plan, Mint):
                return self._minted(plan, (yield plan))
            if isinstance(plan, Speak):
                return _answers.spoken((yield plan), raw_audio=plan.raw_audio)
            if isinstance(plan, CallOffer):
                return (yield from self._call(plan, verdict))
            if isinstance(plan, Hangup):
                yield plan
                if (sidebands := self.sidebands) is not None:
                    yield StopSideband(sidebands, self.background, plan.call_id)
                return NavaiResponse.json(200, {"ok": True, "call_id": plan.call_id})
            yield OnSidebandLoop(self.background, self._attach_start(request, plan), 10)
            return NavaiResponse.json(202, {"ok": True, "call_id": plan})
        except NavaiError as error:
            return self._answer_error(plan, error)
        except Exception:
            return _answers.internal_error(request)

    def _plan(self, request: NavaiRequest, route: RouteName) -> _Plan:
        """Decide what the request asks for, or answer it at once (errors, listing).

        A hangup or attach is planned as the call's id (a ``str``).
        """
        try:
            if route == "realtime_calls":
                return call_offer(request, self.config.max_sdp_bytes)
            data = json_object(request)
            if route == "functions_list":
                # The list takes no input, but a body sent anyway must still be JSON.
                return self._listing_response()
            if route == "client_secret":
                return Mint(self.options, CreateClientSecretRequest.from_wire(data), self._clock())
            if route == "speech_synthesize":
                if not self.options.speech_enabled:
                    error = SpeechUnavailableError()
                    return NavaiResponse.error(error.status_code, error.message)
                return Speak(
                    self.options,
                    SynthesizeSpeechRequest.from_wire(data),
                    wants_raw_audio(request.headers.get("accept")),
                )
            if route == "realtime_call_hangup":
                return Hangup(self.options, self._routes.call_id(request))
            if route == "realtime_call_attach":
                return self._routes.call_id(request)
            return self._execute_plan(data, request)
        except InvalidRequestError as error:
            return NavaiResponse.from_error(error)

    def _execute_plan(self, data: dict[str, Any], request: NavaiRequest) -> Execute | NavaiResponse:
        fields = execute_fields(data)
        if isinstance(fields, NavaiResponse):
            return fields
        name, payload = fields
        registry = self.registry
        assert registry is not None
        context = FunctionContext(
            function_name=name, headers=request.headers, request=request.native
        )
        return Execute(registry, name, payload, context, self._clock())

    # --- calls ---------------------------------------------------------------------------

    def _call(self, offer: CallOffer, verdict: object) -> Flow:
        sidebands = self.sidebands
        if sidebands is not None:
            sidebands.reserve()  # refused here, before OpenAI is asked
        # The authorize hook's identity, hashed: OpenAI asks for one per end user.
        safety = hash_safety_identifier(verdict) if isinstance(verdict, str) and verdict else None
        step = CreateCall(self.options, offer.sdp, offer.request, self._session_tools(), safety)
        try:
            call = yield step
        except BaseException:
            if sidebands is not None:
                sidebands.release()
            raise
        if sidebands is not None:
            call_id, api_key, headers = call.call_id, call.api_key, offer.headers

            def start() -> None:
                sidebands.start(call_id, api_key, headers=headers)

            yield OnSidebandLoop(self.background, start)
        return _answers.call_answer(call.call_id, call.sdp, server_tools=sidebands is not None)

    def _attach_start(self, request: NavaiRequest, call_id: str) -> Callable[[], None]:
        """What attaching does on the sidebands' loop; the slot is taken here."""
        sidebands = self.sidebands
        assert sidebands is not None
        api_key = _resolve_api_key(self.options, CreateClientSecretRequest())
        session = {"type": "realtime", "tools": self._session_tools()}
        sidebands.reserve()
        headers = request.headers

        def start() -> None:
            sidebands.start(call_id, api_key, headers=headers, session_update=session)

        return start

    def _session_tools(self) -> list[dict[str, Any]] | None:
        if self.sidebands is None:
            return None
        registry = self.registry
        assert registry is not None
        cached = self._tools_cache
        if cached is None or cached[0] is not registry.items:
            self._tools_cache = cached = (registry.items, session_tools(registry))
        return cached[1]

    def close(self) -> None:
        """Close the sidebands and their background loop (sync servers)."""
        sidebands = self.sidebands
        self.background.close(sidebands.aclose if sidebands is not None else None)

    # --- answers that need the handler's state -------------------------------------------

    def _listing_response(self) -> NavaiResponse:
        # The registry's items only change on reload: encode them once per snapshot.
        registry = self.registry
        assert registry is not None
        items = registry.items
        cached = self._listing
        if cached is None or cached[0] is not items:
            # File paths and import errors are for the operator (they are logged at load),
            # not for every caller of the listing, unless the operator asks.
            warnings = registry.warnings if self.config.expose_load_warnings else ()
            body = encode(_answers.listing(items, warnings))
            self._listing = cached = (items, NavaiResponse(200, body))
        return cached[1]

    def _executed(self, plan: Execute, result: Any) -> NavaiResponse:
        if self._observer is not None:
            self._observer.tool_call(result.name, "ok", time.perf_counter() - plan.started)
        return _answers.executed(result)

    def _minted(self, plan: Mint, secret: Any) -> NavaiResponse:
        if self._observer is not None:
            self._observer.upstream(200, time.perf_counter() - plan.started)
        return _answers.minted(secret)

    def _clock(self) -> float:
        return time.perf_counter() if self._observer is not None else 0.0

    def _answer_error(self, plan: _Plan | None, error: NavaiError) -> NavaiResponse:
        if plan is None or isinstance(plan, NavaiResponse):  # raised before a plan was made
            return NavaiResponse.from_error(error)
        # A failed mint, synthesis or call is logged here, once; a failed tool by the registry.
        if not isinstance(plan, Execute) and error.status_code >= 500:  # noqa: PLR2004
            logger.warning("%s", error.message)
        # Speech and calls are not measured yet: only mints and tool calls are.
        if isinstance(error, AuthorizationError) or not isinstance(plan, (Mint, Execute)):
            return NavaiResponse.from_error(error)
        if self._observer is not None:
            self._observe_failure(plan, error)
        if isinstance(plan, Mint):
            return NavaiResponse.from_error(error)
        return _answers.tool_failed(plan.function_name, error)

    def _observe_failure(self, plan: Mint | Execute, error: NavaiError) -> None:
        observer = self._observer
        assert observer is not None
        seconds = time.perf_counter() - plan.started
        if isinstance(plan, Mint):
            observer.upstream(error.status_code, seconds)
            return
        if isinstance(error, UnknownFunctionError):
            # Never the asked-for name as a label: callers could make up any number of them.
            observer.tool_call("(unknown)", "unknown", seconds)
            return
        name = getattr(error, "function_name", plan.function_name)
        observer.tool_call(name, _OUTCOMES.get(type(error), "error"), seconds)

    def _end(self, watch: _Watch, request: NavaiRequest, response: NavaiResponse) -> NavaiResponse:
        seconds = time.perf_counter() - watch.started
        route = self._routes.match(request.path, request.root_path) or "(none)"
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

    # --- who is asking ---------------------------------------------------------------------

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

    def _caller(self, request: NavaiRequest, verdict: object) -> str:
        """Who a limited request counts against: the hook's identity, else the client."""
        forwarded = request.headers.get("x-forwarded-for")
        address = client_address(request.client_address, forwarded, self.config.trusted_proxies)
        return caller_key(verdict, address)


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

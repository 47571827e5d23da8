"""The steps a request's flow yields, each with its blocking and its async form, and the drivers.

The handler's flow (:mod:`navai_adapters._http._handler`) decides everything and yields
a step whenever it needs the outside world: the core's upstream calls, a tool's run, a
rate-limit count, an async ``authorize`` verdict, the sidebands' loop. A step knows how
to do its work both ways, ``run(client)`` blocking and ``arun(client)`` on the event
loop; :func:`drive` and :func:`adrive` walk a flow with one or the other (one walk,
``_walk``), sending back what the step gave, or throwing in what it raised, so the flow
maps errors in one place.
The shape is :mod:`navai_core._flow`'s, with errors handed back as well.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeAlias

import attrs
import httpx

from navai_core import (
    CreateClientSecretRequest,
    FunctionContext,
    NavaiFunctionRegistry,
    NavaiVoiceBackendOptions,
    SynthesizeSpeechRequest,
    acreate_realtime_client_secret,
    asynthesize_speech,
    create_realtime_client_secret,
    synthesize_speech,
)
from navai_core._functions._result import EncodedResult
from navai_core._upstream._calls import (
    RealtimeCall,
    acreate_realtime_call,
    ahangup_realtime_call,
    create_realtime_call,
    hangup_realtime_call,
)

if TYPE_CHECKING:
    from navai_adapters._http._messages import NavaiResponse, RouteName
    from navai_adapters._ratelimit import Decision, RouteLimiter
    from navai_core._threads import BackgroundLoop
    from navai_core._upstream._sideband import SidebandManager

__all__ = [
    "Authorize",
    "CreateCall",
    "Execute",
    "Flow",
    "Hangup",
    "Hit",
    "Mint",
    "OnSidebandLoop",
    "Speak",
    "Step",
    "StopSideband",
    "adrive",
    "drive",
]


class Step(Protocol):
    """Work a flow waits for, done blocking or on the event loop."""

    def run(self, client: httpx.Client, /) -> Any:
        """Do it, blocking (WSGI)."""

    async def arun(self, client: httpx.AsyncClient, /) -> Any:
        """Do it on the event loop (ASGI)."""


#: A request's flow: yields steps, is sent what each gave, returns the response.
Flow: TypeAlias = Generator[Step, Any, "NavaiResponse"]


async def _walk(flow: Flow, run: Callable[[Step], Awaitable[Any]]) -> NavaiResponse:
    """Walk ``flow`` to its response: ``run`` each step, send back what it gave or raised."""
    outcome: Any = None
    error: BaseException | None = None
    while True:
        try:
            step = flow.send(outcome) if error is None else flow.throw(error)
        except StopIteration as done:
            response: NavaiResponse = done.value
            return response
        try:
            outcome, error = await run(step), None
        except BaseException as raised:
            outcome, error = None, raised


def drive(flow: Flow, client: httpx.Client) -> NavaiResponse:
    """Walk ``flow`` to its response, running each step blocking.

    The walk is :func:`_walk`'s, run without an event loop: a blocking step never
    suspends, so the coroutine finishes on its first ``send``.
    """

    async def run(step: Step) -> Any:
        return step.run(client)

    walk = _walk(flow, run)
    try:
        walk.send(None)
    except StopIteration as done:
        response: NavaiResponse = done.value
        return response
    walk.close()
    msg = "A blocking step suspended: it needs an event loop."
    raise RuntimeError(msg)


async def adrive(flow: Flow, client: httpx.AsyncClient) -> NavaiResponse:
    """Walk ``flow`` to its response, awaiting each step on the event loop."""
    return await _walk(flow, lambda step: step.arun(client))


@attrs.frozen
class Authorize:
    """The ``authorize`` hook answered with an awaitable: its verdict is awaited."""

    verdict: Awaitable[object]

    def run(self, _client: httpx.Client) -> object:
        close: Callable[[], object] | None = getattr(self.verdict, "close", None)
        if close is not None:
            close()  # never awaited: close it so Python does not warn about it
        msg = "The authorize hook must be a plain function under WSGI, not async."
        raise TypeError(msg)

    async def arun(self, _client: httpx.AsyncClient) -> object:
        return await self.verdict


@attrs.frozen
class Hit:
    """Count one request of ``key`` on a limited ``route``."""

    limiter: RouteLimiter
    route: RouteName
    key: str

    def run(self, _client: httpx.Client) -> Decision:
        return self.limiter.hit(self.route, self.key)

    async def arun(self, _client: httpx.AsyncClient) -> Decision:
        return await self.limiter.ahit(self.route, self.key)


class _CorePair:
    """A step that is one of the core's sync/async pairs, called as ``f(options, request)``."""

    __slots__ = ()
    options: NavaiVoiceBackendOptions
    request: object
    _pair: ClassVar[tuple[Callable[..., Any], Callable[..., Awaitable[Any]]]]

    def run(self, client: httpx.Client) -> Any:
        return self._pair[0](self.options, self.request, client=client)

    async def arun(self, client: httpx.AsyncClient) -> Any:
        return await self._pair[1](self.options, self.request, client=client)


@attrs.frozen
class Mint(_CorePair):
    """Mint a client secret: the flow is sent the :class:`RealtimeClientSecret`."""

    options: NavaiVoiceBackendOptions
    request: CreateClientSecretRequest
    started: float = 0.0  # perf_counter() when an observer times it
    _pair = (create_realtime_client_secret, acreate_realtime_client_secret)


@attrs.frozen
class Execute:
    """Run a tool; its result comes back encoded, with the tool's name and source."""

    registry: NavaiFunctionRegistry
    function_name: str
    payload: Mapping[str, Any] | None
    context: FunctionContext
    started: float = 0.0

    def run(self, _client: httpx.Client) -> EncodedResult:
        return self.registry.execute_encoded(self.function_name, self.payload, self.context)

    async def arun(self, _client: httpx.AsyncClient) -> EncodedResult:
        return await self.registry.aexecute_encoded(self.function_name, self.payload, self.context)


@attrs.frozen
class Speak(_CorePair):
    """Synthesize speech: the flow is sent the :class:`SynthesizedSpeech`."""

    options: NavaiVoiceBackendOptions
    request: SynthesizeSpeechRequest
    raw_audio: bool  # answer the audio bytes themselves, not base64 in JSON
    _pair = (synthesize_speech, asynthesize_speech)


@attrs.frozen
class CreateCall:
    """Relay a call's SDP offer to OpenAI."""

    options: NavaiVoiceBackendOptions
    sdp: str
    request: CreateClientSecretRequest
    tools: list[dict[str, Any]] | None
    safety_identifier: str | None

    def _session(self) -> dict[str, Any]:
        return {"tools": self.tools, "safety_identifier": self.safety_identifier}

    def run(self, client: httpx.Client) -> RealtimeCall:
        return create_realtime_call(
            self.options, self.sdp, self.request, client=client, **self._session()
        )

    async def arun(self, client: httpx.AsyncClient) -> RealtimeCall:
        return await acreate_realtime_call(
            self.options, self.sdp, self.request, client=client, **self._session()
        )


@attrs.frozen
class Hangup:
    """End a call at OpenAI."""

    options: NavaiVoiceBackendOptions
    call_id: str

    def run(self, client: httpx.Client) -> None:
        hangup_realtime_call(self.options, self.call_id, client=client)

    async def arun(self, client: httpx.AsyncClient) -> None:
        await ahangup_realtime_call(self.options, self.call_id, client=client)


@attrs.frozen
class OnSidebandLoop:
    """Call ``function`` where the sidebands run: the background loop, or this one."""

    background: BackgroundLoop
    function: Callable[[], object]
    timeout: float | None = None

    def run(self, _client: httpx.Client) -> None:
        self.background.call(self.function, self.timeout)

    async def arun(self, _client: httpx.AsyncClient) -> None:
        self.function()


@attrs.frozen
class StopSideband:
    """Close a call's sideband, if it has one."""

    sidebands: SidebandManager
    background: BackgroundLoop
    call_id: str

    def run(self, _client: httpx.Client) -> None:
        self.background.run(self.sidebands.stop(self.call_id), 10)

    async def arun(self, _client: httpx.AsyncClient) -> None:
        await self.sidebands.stop(self.call_id)

"""Minting ephemeral Realtime client secrets.

The shape follows httpx and authlib: everything that needs no IO is pure and shared
(:func:`build_client_secret_request`, :func:`parse_client_secret_response`, and the
retry flow :func:`_mint_flow`, a generator that yields what to do next), and the sync
and async drivers only walk that flow, one sending with ``httpx.Client``, the other
with ``httpx.AsyncClient``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import json
import logging
import sys
import time
from collections.abc import Callable, Generator, Mapping, Sequence
from http import HTTPStatus
from typing import Any, TypeAlias, TypeVar

import attrs
import cattrs
import httpx
import msgspec
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from navai_core._functions._runner import WorkerPool
from navai_core._options import NavaiVoiceBackendOptions, RetryPolicy
from navai_core._redact import redact_keys
from navai_core._speech_options import SpeechProvider
from navai_core._upstream._instructions import build_session_instructions
from navai_core.exceptions import (
    InvalidRequestError,
    MissingApiKeyError,
    PolicyViolationError,
    RequestApiKeyDisabledError,
    UpstreamError,
    UpstreamTimeoutError,
)

__all__ = [
    "ClientSecretUpstreamRequest",
    "CreateClientSecretRequest",
    "RealtimeClientSecret",
    "acreate_realtime_client_secret",
    "build_client_secret_request",
    "create_realtime_client_secret",
    "parse_client_secret_response",
]

logger = logging.getLogger("navai")

_MISSING_KEY = "Missing API key. Configure openai_api_key or send apiKey in request."
_REQUEST_KEY_DISABLED = (
    "Passing apiKey from request is disabled. Set allow_api_key_from_request=True to enable it."
)
_RETRYABLE_STATUS = frozenset({408, 409, 429})
_MAX_UPSTREAM_MESSAGE = 500


def _blank_to_none(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip() or None
    return value


_optional_text = attrs.field(
    default=None,
    converter=_blank_to_none,
    validator=attrs.validators.optional(attrs.validators.instance_of(str)),
)


@attrs.frozen
class CreateClientSecretRequest:
    """What a caller may ask of a minted session; every field is optional.

    On the wire (JSON from browsers) the names are camelCase: ``model``, ``voice``,
    ``instructions``, ``language``, ``voiceAccent``, ``voiceTone``, ``apiKey``. Blank
    strings count as unset. ``api_key`` is never shown by ``repr``.
    """

    model: str | None = _optional_text
    voice: str | None = _optional_text
    instructions: str | None = _optional_text
    language: str | None = _optional_text
    voice_accent: str | None = _optional_text
    voice_tone: str | None = _optional_text
    api_key: str | None = attrs.field(
        default=None,
        converter=_blank_to_none,
        validator=attrs.validators.optional(attrs.validators.instance_of(str)),
        repr=lambda value: "None" if value is None else "'***'",
    )

    @classmethod
    def from_wire(cls, data: object) -> CreateClientSecretRequest:
        """Read the camelCase JSON body a client sent. Unknown keys are ignored.

        Raises:
            InvalidRequestError: The body is not an object, or a field is not a string.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            msg = 'The request body must be a JSON object, such as {"model": "gpt-realtime"}.'
            raise InvalidRequestError(msg)
        try:
            return _converter.structure(data, cls)
        except cattrs.ClassValidationError as error:
            problems = "; ".join(_describe(error))
            raise InvalidRequestError(f"Invalid client-secret request: {problems}") from None

    def to_wire(self) -> dict[str, str]:
        """The camelCase JSON form, without unset fields."""
        data: dict[str, str] = _converter.unstructure(self)
        return data


def _describe(group: cattrs.ClassValidationError) -> list[str]:
    with_notes, others = group.group_exceptions()
    problems = [f"{_WIRE_NAMES.get(note.name, note.name)!r} {error}" for error, note in with_notes]
    return problems + [str(error) for error in others]


def _structure_text(value: object, _: type) -> str:
    if not isinstance(value, str):
        msg = f"must be a string or null, not {_json_type(value)}."
        raise TypeError(msg)
    return value


def _json_type(value: object) -> str:
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "an array",
        dict: "an object",
    }
    return names.get(type(value), type(value).__name__)


_WIRE_NAMES = {"voice_accent": "voiceAccent", "voice_tone": "voiceTone", "api_key": "apiKey"}
_converter = cattrs.Converter()
_converter.register_structure_hook(str, _structure_text)
_converter.register_structure_hook(
    CreateClientSecretRequest,
    make_dict_structure_fn(
        CreateClientSecretRequest,
        _converter,
        **{name: override(rename=wire) for name, wire in _WIRE_NAMES.items()},  # type: ignore[arg-type]
    ),
)
_converter.register_unstructure_hook(
    CreateClientSecretRequest,
    make_dict_unstructure_fn(
        CreateClientSecretRequest,
        _converter,
        _cattrs_omit_if_default=True,
        **{name: override(rename=wire) for name, wire in _WIRE_NAMES.items()},  # type: ignore[arg-type]
    ),
)


@attrs.frozen(repr=False)
class RealtimeClientSecret:
    """A minted ephemeral secret (``ek_...``) and the session OpenAI created.

    Attributes:
        value: The secret a browser uses to open its WebRTC session.
        expires_at: When it expires, in Unix seconds (``None`` if OpenAI sent none).
        session: The session configuration OpenAI answered with.
        speech_provider: Who speaks the session's answers: ``openai`` (the session's
            own audio) or ``elevenlabs`` (a text-only session; the client has the text
            spoken through the speech route).
    """

    value: str
    expires_at: int | None = None
    session: Mapping[str, Any] | None = None
    speech_provider: SpeechProvider = "openai"

    def __repr__(self) -> str:
        return f"RealtimeClientSecret(value='***', expires_at={self.expires_at!r})"

    def to_dict(self) -> dict[str, Any]:
        """What the HTTP route answers: ``{"value", "expires_at", "speech": {"provider"}}``.

        The original frontend (0.1.7) reads ``speech.provider`` to decide who speaks.
        """
        return {
            "value": self.value,
            "expires_at": self.expires_at,
            "speech": {"provider": self.speech_provider},
        }


@attrs.frozen(repr=False)
class ClientSecretUpstreamRequest:
    """The upstream call, fully decided: URL, headers and JSON body.

    ``repr`` hides the headers, which carry the API key.
    """

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"ClientSecretUpstreamRequest(url={self.url!r}, body={self.body!r})"

    def to_httpx(self, timeout: float) -> httpx.Request:
        """An ``httpx.Request`` that gives up after ``timeout`` seconds per phase."""
        # On the hot path of every session start, so built the cheap way: the URL parsed
        # once per base URL, the body encoded by msgspec, and the headers httpx would add
        # (Host, Content-Length) given up front, which spares its header passes. The
        # request is then what ``content=`` makes: same headers, ``.content`` readable.
        url = _parsed_url(self.url)
        content = _encode_json(self.body)
        request = httpx.Request(
            "POST",
            url,
            headers=[
                ("Host", url.netloc.decode("ascii")),
                *self.headers.items(),
                ("Content-Length", str(len(content))),
            ],
            stream=httpx.ByteStream(content),
            extensions={
                "timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}
            },
        )
        request.read()
        return request


_encode_json = msgspec.json.Encoder().encode


@functools.lru_cache(maxsize=32)
def _parsed_url(url: str) -> httpx.URL:
    # httpx.URL is immutable: one parsed copy per configured base URL is enough.
    return httpx.URL(url)


def _resolve_api_key(options: NavaiVoiceBackendOptions, request: CreateClientSecretRequest) -> str:
    # The server's key always wins; a request key is then ignored, never forwarded.
    if options.openai_api_key:
        return options.openai_api_key
    if request.api_key:
        if not options.allow_api_key_from_request:
            raise RequestApiKeyDisabledError(_REQUEST_KEY_DISABLED)
        return request.api_key
    raise MissingApiKeyError(_MISSING_KEY)


def _check_policy(name: str, value: str, allowed: frozenset[str] | None) -> None:
    if allowed is not None and value not in allowed:
        choices = ", ".join(sorted(allowed)) or "(none)"
        msg = f"The {name} {value!r} is not allowed on this server. Allowed: {choices}."
        raise PolicyViolationError(msg)


def build_session_config(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | None = None,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``session`` object OpenAI is sent, for a mint and for a WebRTC call alike.

    One function decides the session for every way a session is started, so a policy
    (allowed models and voices, the instructions lines, the hybrid voice's text-only
    output) is applied the same way everywhere and changes in one place.

    Args:
        options: The server's options (defaults and policies).
        request: What the caller asked for; defaults apply to what it leaves unset.
        tools: Function tools (``{"type": "function", "name", "description",
            "parameters"}``) for the session; none when ``None``.

    Returns:
        ``{"type": "realtime", "model", "instructions", "audio": {"output": {"voice"}}}``
        (``output_modalities: ["text"]`` instead of the audio when ElevenLabs speaks),
        plus ``tools`` when given.

    Raises:
        PolicyViolationError: The model or voice is outside ``allowed_models`` /
            ``allowed_voices`` (403).
    """
    request = request or CreateClientSecretRequest()
    model = request.model or options.default_model
    voice = request.voice or options.default_voice
    text_only = options.tts_provider == "elevenlabs"
    _check_policy("model", model, options.allowed_models)
    if not text_only:  # a text-only session has no OpenAI voice to police
        _check_policy("voice", voice, options.allowed_voices)
    instructions = build_session_instructions(
        options.default_instructions,
        instructions=request.instructions,
        language=request.language,
        voice_accent=request.voice_accent,
        voice_tone=request.voice_tone,
        default_language=options.default_language,
        default_voice_accent=options.default_voice_accent,
        default_voice_tone=options.default_voice_tone,
    )
    session: dict[str, Any] = {"type": "realtime", "model": model, "instructions": instructions}
    if text_only:
        # ElevenLabs speaks: OpenAI answers in text only, and no OpenAI voice is set.
        session["output_modalities"] = ["text"]
    else:
        session["audio"] = {"output": {"voice": voice}}
    if tools is not None:
        session["tools"] = [dict(tool) for tool in tools]
    return session


def upstream_headers(options: NavaiVoiceBackendOptions, api_key: str) -> dict[str, str]:
    """The headers every OpenAI call carries: the key, and the organization and project."""
    headers = {"Authorization": f"Bearer {api_key}", "Accept": "application/json"}
    if options.openai_organization:
        headers["OpenAI-Organization"] = options.openai_organization
    if options.openai_project:
        headers["OpenAI-Project"] = options.openai_project
    return headers


def build_client_secret_request(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | None = None,
) -> ClientSecretUpstreamRequest:
    """Decide the upstream call for a mint, with no IO.

    Args:
        options: The server's options.
        request: What the caller asked for; defaults apply to what it leaves unset.

    Returns:
        The URL, headers (with the key) and JSON body to send to OpenAI.

    Raises:
        MissingApiKeyError: No key at all (401).
        RequestApiKeyDisabledError: The request sent a key and the server has none and
            does not accept request keys (403).
        PolicyViolationError: The model or voice is outside ``allowed_models`` /
            ``allowed_voices`` (403).
    """
    request = request or CreateClientSecretRequest()
    api_key = _resolve_api_key(options, request)
    headers = upstream_headers(options, api_key)
    headers["Content-Type"] = "application/json"
    body = {
        "expires_after": {"anchor": "created_at", "seconds": options.client_secret_ttl_seconds},
        "session": build_session_config(options, request),
    }
    return ClientSecretUpstreamRequest(
        url=options.client_secrets_url, headers=headers, body=body, secrets=(api_key,)
    )


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        text = text.replace(secret, "***")
    return redact_keys(text)


def _upstream_error(
    status: int, detail: str, secrets: tuple[str, ...] = (), label: str = "OpenAI client_secrets"
) -> UpstreamError:
    detail = _redact(detail, secrets)
    if len(detail) > _MAX_UPSTREAM_MESSAGE:
        detail = detail[:_MAX_UPSTREAM_MESSAGE] + "..."
    # An upstream 4xx is the caller's to fix and keeps its status; the rest is a bad gateway.
    http_status = status if 400 <= status < 500 else 502  # noqa: PLR2004
    return UpstreamError(
        f"{label} failed ({status}): {detail}",
        status_code=http_status,
        upstream_status=status,
    )


def _error_detail(status: int, content: bytes) -> str:
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    if isinstance(data, dict):
        error = data.get("error")
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
        if isinstance(error, str):
            return error
    text = content.decode("utf-8", "replace").strip()
    if text:
        return text
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "no message"


def parse_client_secret_response(
    status_code: int,
    content: bytes,
    *,
    secrets: tuple[str, ...] = (),
    speech_provider: SpeechProvider = "openai",
) -> RealtimeClientSecret:
    """Turn OpenAI's answer into a :class:`RealtimeClientSecret`, with no IO.

    Args:
        status_code: The upstream HTTP status.
        content: The upstream body.
        secrets: Strings to scrub from any error message (the key that was sent).
        speech_provider: The server's ``tts_provider``, carried into the answer.

    Raises:
        UpstreamError: OpenAI answered an error (4xx kept, else 502), or its answer is
            not JSON or has no ``value``.
    """
    if status_code >= 400:  # noqa: PLR2004
        raise _upstream_error(status_code, _error_detail(status_code, content), secrets)
    try:
        data = json.loads(content)
    except ValueError:
        raise _upstream_error(status_code, "the answer is not valid JSON.", secrets) from None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise _upstream_error(status_code, "the answer has no client secret 'value'.", secrets)
    expires_at = data.get("expires_at")
    session = data.get("session")
    return RealtimeClientSecret(
        value=value,
        expires_at=expires_at if isinstance(expires_at, int) else None,
        session=session if isinstance(session, dict) else None,
        speech_provider=speech_provider,
    )


# --- the retry flow, shared by both drivers ------------------------------------------------


@attrs.frozen
class _Send:
    request: httpx.Request
    timeout: float


@attrs.frozen
class _Sleep:
    seconds: float


@attrs.frozen
class _Answer:
    """What came back: all the flow needs of a response, read within the deadline."""

    status_code: int
    headers: httpx.Headers
    content: bytes


_Outcome: TypeAlias = "_Answer | httpx.TransportError | None"
_T = TypeVar("_T")
# A flow decides every step of an upstream call; the drivers below only do its IO.
# Minting has one (_mint_flow); speech synthesis (navai_core._upstream._speech) walks another.
_Flow: TypeAlias = Generator["_Send | _Sleep", _Outcome, _T]


def _is_retryable(status: int) -> bool:
    return status in _RETRYABLE_STATUS or status >= 500  # noqa: PLR2004


def _retry_after(response: _Answer) -> float | None:
    raw = response.headers.get("retry-after-ms")
    scale = 1000.0
    if raw is None:
        raw, scale = response.headers.get("retry-after"), 1.0
    try:
        seconds = float(raw) / scale if raw is not None else None
    except ValueError:
        return None  # an HTTP date: rare from OpenAI; fall back to our own backoff
    return seconds if seconds is not None and seconds >= 0 else None


@attrs.frozen
class _Api:
    """How one upstream API is named in errors, and how its error bodies read."""

    label: str  # "OpenAI client_secrets": every message starts "{label} failed (STATUS): "
    timeout_hint: str  # how to fix a timeout
    error_detail: Callable[[int, bytes], str]


_OPENAI = _Api(
    label="OpenAI client_secrets",
    timeout_hint=(
        "Check that OpenAI (or OPENAI_BASE_URL) is reachable, or raise NAVAI_OPENAI_TIMEOUT."
    ),
    error_detail=_error_detail,
)


def _timed_out(timeout: float, api: _Api = _OPENAI) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(
        f"{api.label} failed (504): no answer within {timeout:g} seconds. {api.timeout_hint}",
        upstream_status=None,
    )


def _mint_flow(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | Mapping[str, Any] | None,
    clock: Callable[[], float] = time.monotonic,
) -> _Flow[RealtimeClientSecret]:
    if request is not None and not isinstance(request, CreateClientSecretRequest):
        request = CreateClientSecretRequest.from_wire(request)
    upstream = build_client_secret_request(options, request)

    def parse(answer: _Answer) -> RealtimeClientSecret:
        return parse_client_secret_response(
            answer.status_code,
            answer.content,
            secrets=upstream.secrets,
            speech_provider=options.tts_provider,
        )

    return (
        yield from _call_flow(
            _OPENAI,
            url=upstream.url,
            secrets=upstream.secrets,
            make_request=upstream.to_httpx,
            parse=parse,
            timeout=options.openai_timeout_seconds,
            policy=options.retry,
            clock=clock,
        )
    )


def _call_flow(
    api: _Api,
    *,
    url: str,
    secrets: tuple[str, ...],
    make_request: Callable[[float], httpx.Request],
    parse: Callable[[_Answer], _T],
    timeout: float,
    policy: RetryPolicy,
    clock: Callable[[], float],
) -> _Flow[_T]:
    """Call an upstream within ``timeout`` seconds, retrying as ``policy`` says.

    Connection errors, 408/409/429 and 5xx are retried; any other answer goes to ``parse``.
    """
    deadline = clock() + timeout
    for attempt in range(1, policy.max_attempts + 1):
        remaining = deadline - clock()
        if remaining <= 0:
            raise _timed_out(timeout, api)
        outcome = yield _Send(make_request(remaining), remaining)
        wait: float | None = None
        if isinstance(outcome, httpx.TimeoutException):
            raise _timed_out(timeout, api)
        if isinstance(outcome, httpx.TransportError):
            parsed = httpx.URL(url)  # never the user:password@ of a proxy URL
            host = f"{parsed.host}:{parsed.port}" if parsed.port else parsed.host
            failure = UpstreamError(
                f"{api.label} failed (502): could not connect to {host}: "
                f"{_redact(str(outcome) or type(outcome).__name__, secrets)}",
                upstream_status=None,
            )
        else:
            assert outcome is not None
            if not _is_retryable(outcome.status_code):
                return parse(outcome)
            failure = _upstream_error(
                outcome.status_code,
                api.error_detail(outcome.status_code, outcome.content),
                secrets,
                api.label,
            )
            wait = _retry_after(outcome)
        if attempt == policy.max_attempts:
            raise failure
        wait = policy.backoff(attempt) if wait is None else wait
        if clock() + wait >= deadline:
            # Waiting would outlast the timeout: answer now with what the upstream said.
            raise failure
        logger.warning(
            "%s attempt %d of %d failed (%s); retrying in %.2f s.",
            api.label,
            attempt,
            policy.max_attempts,
            failure.message,
            wait,
        )
        yield _Sleep(wait)
    raise AssertionError("unreachable")  # pragma: no cover


# --- drivers: the only code that does IO ------------------------------------------------------


def create_realtime_client_secret(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | Mapping[str, Any] | None = None,
    *,
    client: httpx.Client | None = None,
) -> RealtimeClientSecret:
    """Mint an ephemeral Realtime client secret (blocking; for scripts and WSGI).

    Args:
        options: The server's options (key, defaults, TTL, timeout, retries).
        request: What the caller asked for, as a :class:`CreateClientSecretRequest` or
            its camelCase JSON form.
        client: A client to reuse; one is opened and closed for this call when None.
            Servers should pass one, so connections are pooled.

    Returns:
        The secret, its expiry and the session OpenAI created.

    Raises:
        MissingApiKeyError: No key (401).
        RequestApiKeyDisabledError: Request key refused (403).
        InvalidRequestError: A request field has the wrong type (400).
        UpstreamError: OpenAI failed, after retries (its 4xx status, else 502).
        UpstreamTimeoutError: OpenAI did not answer within the timeout (504).
    """
    flow = _mint_flow(options, request)
    if client is None:
        with httpx.Client() as own_client:
            return _drive(flow, own_client)
    return _drive(flow, client)


# Sync attempts run here so the caller can stop waiting at the deadline: httpx bounds
# each read, and headers trickling in a byte at a time would never trip that. Daemon
# threads, bounded: an abandoned attempt ends with its own reads and holds one thread.
_ATTEMPTS = WorkerPool(32, name="navai-mint")


def _send(client: httpx.Client, step: _Send) -> _Answer:
    attempt = _ATTEMPTS.submit(_read_answer, client, step)
    try:
        return attempt.result(timeout=step.timeout)
    except concurrent.futures.TimeoutError:
        attempt.cancel()
        raise httpx.ReadTimeout("no complete answer in time", request=step.request) from None


def _read_answer(client: httpx.Client, step: _Send) -> _Answer:
    # Also check the deadline between body chunks, so an abandoned attempt whose body
    # trickles in gives its thread back soon after the caller stopped waiting.
    deadline = time.monotonic() + step.timeout
    response = client.send(step.request, stream=True)
    try:
        body = bytearray()
        for chunk in response.iter_bytes():
            body += chunk
            if time.monotonic() > deadline:
                raise httpx.ReadTimeout("no complete answer in time", request=step.request)
        return _Answer(response.status_code, response.headers, bytes(body))
    finally:
        response.close()


async def _asend(client: httpx.AsyncClient, step: _Send) -> _Answer:
    # Not streamed: the caller bounds the whole attempt, body included (see _adrive).
    response = await client.send(step.request)
    return _Answer(response.status_code, response.headers, response.content)


if sys.version_info >= (3, 11):

    async def _bounded(client: httpx.AsyncClient, step: _Send) -> _Answer:
        # asyncio.timeout cancels in place; wait_for would start a task per attempt.
        async with asyncio.timeout(step.timeout):
            return await _asend(client, step)

else:  # Python 3.10

    async def _bounded(client: httpx.AsyncClient, step: _Send) -> _Answer:
        return await asyncio.wait_for(_asend(client, step), step.timeout)


def _drive(flow: _Flow[_T], client: httpx.Client) -> _T:
    outcome: _Outcome = None
    try:
        while True:
            step = flow.send(outcome)
            if isinstance(step, _Sleep):
                time.sleep(step.seconds)
                outcome = None
                continue
            try:
                outcome = _send(client, step)
            except httpx.TransportError as error:
                outcome = error
    except StopIteration as done:
        result: _T = done.value
        return result


async def acreate_realtime_client_secret(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | Mapping[str, Any] | None = None,
    *,
    client: httpx.AsyncClient | None = None,
) -> RealtimeClientSecret:
    """Mint an ephemeral Realtime client secret, asynchronously; for servers.

    The async twin of :func:`create_realtime_client_secret`: same arguments, result and
    errors; ``client`` is an ``httpx.AsyncClient``.
    """
    flow = _mint_flow(options, request)
    if client is None:
        async with httpx.AsyncClient() as own_client:
            return await _adrive(flow, own_client)
    return await _adrive(flow, client)


async def _adrive(flow: _Flow[_T], client: httpx.AsyncClient) -> _T:
    outcome: _Outcome = None
    try:
        while True:
            step = flow.send(outcome)
            if isinstance(step, _Sleep):
                await asyncio.sleep(step.seconds)
                outcome = None
                continue
            try:
                # httpx times out per phase; this bounds the whole attempt, slow drips too.
                outcome = await _bounded(client, step)
            except asyncio.TimeoutError:
                outcome = httpx.ReadTimeout("no answer in time", request=step.request)
            except httpx.TransportError as error:
                outcome = error
    except StopIteration as done:
        result: _T = done.value
        return result

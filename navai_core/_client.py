"""A client for a running NAVAI backend, in Python, as the original's browser and mobile ones.

The twins of ``createNavaiBackendClient`` and ``createNavaiMobileBackendClient``.

Shaped as :mod:`navai_core._upstream._secrets` is: everything that needs no IO is shared by
:class:`NavaiBackendClient` and :class:`AsyncNavaiBackendClient` in one base class (the
URLs, the request bodies, the response parsers, and each call's flow, a generator that
yields what to send or how long to sleep and gets back what came of it); the two
drivers only walk a flow, one with ``httpx.Client``, the other with ``httpx.AsyncClient``.

Retries: a call is sent again only when it cannot have done anything twice. Every route
is retried when the request provably never left (the connection could not be made, no
pooled connection came free); only the functions listing (a ``GET`` with no effect) is
also retried when an answer was lost or the backend said ``429``/``502``/``503``/``504``.
Executing a function, minting a secret and synthesizing speech each do work the caller
pays for or cannot undo, so once the request may have reached the backend they are never
repeated: the error goes back to the caller, who knows whether repeating is safe.
"""

from __future__ import annotations

import base64
import binascii
import html
import logging
import os
import re
from collections.abc import Mapping
from typing import Any, Final, Generic, Literal, TypeAlias, TypeVar

import attrs
import httpx
import msgspec

from navai_core._config._env import env_str
from navai_core._config._options import RetryPolicy
from navai_core._flow import Answer as _Answer
from navai_core._flow import Flow, adrive, drive
from navai_core._flow import Sleep as _Sleep
from navai_core._redact import redact as _redact
from navai_core._upstream._session import CreateClientSecretRequest
from navai_core._upstream._speech import SynthesizedSpeech
from navai_core.exceptions import (
    BackendError,
    BackendFunctionError,
    BackendTimeoutError,
    BackendUnavailableError,
    InvalidBackendResponseError,
    InvalidOptionError,
    UnknownBackendFunctionError,
)

__all__ = [
    "AsyncNavaiBackendClient",
    "BackendCall",
    "BackendClientSecret",
    "BackendFunction",
    "BackendFunctionsResult",
    "NavaiBackendClient",
    "SynthesizedSpeech",
]

logger = logging.getLogger("navai.client")

DEFAULT_API_BASE_URL: Final = "http://localhost:3000"
# Longer than the server's default function timeout (NAVAI_FUNCTION_TIMEOUT, 30 s), so a
# slow function's own 504 comes back instead of the client giving up first.
DEFAULT_BACKEND_TIMEOUT: Final = httpx.Timeout(35.0, connect=5.0)
DEFAULT_CLIENT_RETRY: Final = RetryPolicy(
    max_attempts=3, backoff_initial_seconds=0.2, backoff_max_seconds=2.0
)

_CLIENT_SECRET_PATH = "/navai/realtime/client-secret"  # noqa: S105 - a route, not a secret
_FUNCTIONS_LIST_PATH = "/navai/functions"
_FUNCTIONS_EXECUTE_PATH = "/navai/functions/execute"
_SPEECH_SYNTHESIZE_PATH = "/navai/speech/synthesize"
_REALTIME_CALLS_PATH = "/navai/realtime/calls"

# Failures after which the request cannot have reached the backend: safe to send again.
_UNSENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_RETRYABLE_STATUS = frozenset({429, 502, 503, 504})
_MAX_TEXT = 500
_HEAD = re.compile(r"<(head|script|style)\b.*?</\1\s*>", re.IGNORECASE | re.DOTALL)
_TAGS = re.compile(r"<[^>]+>")
_SPACES = re.compile(r"\s+")
_encode = msgspec.json.Encoder().encode
_USER_AGENT = "navai-python-client"

T = TypeVar("T")
_HttpClient = TypeVar("_HttpClient", bound="httpx.Client | httpx.AsyncClient")
_Transport = TypeVar("_Transport", bound="httpx.BaseTransport | httpx.AsyncBaseTransport")


# --- values ----------------------------------------------------------------------------------


@attrs.frozen(repr=False)
class BackendClientSecret:
    """What the backend's client-secret route answered.

    Attributes:
        value: The ephemeral secret (``ek_...``) a Realtime session is opened with.
        expires_at: When it expires, in Unix seconds, if the backend said.
        speech_provider: ``"elevenlabs"`` when the backend speaks through ElevenLabs
            (the original's ``speech.provider``), else ``"openai"``.
    """

    value: str
    expires_at: int | None = None
    speech_provider: str = "openai"

    def __repr__(self) -> str:
        return (
            f"BackendClientSecret(value='***', expires_at={self.expires_at!r}, "
            f"speech_provider={self.speech_provider!r})"
        )

    def to_dict(self) -> dict[str, Any]:
        """The route's JSON form, ``{"value", "expires_at"}``."""
        return {"value": self.value, "expires_at": self.expires_at}


@attrs.frozen
class BackendFunction:
    """One backend function, as the backend lists it.

    Attributes:
        name: The name to call it by.
        description: What it does, if the backend said.
        source: Where it is defined (``tools.py#add``), if the backend said.
        parameters: The JSON Schema of its arguments. NAVAI for Python sends one; the
            original Node backend does not, and then this is ``None``.
    """

    name: str
    description: str | None = None
    source: str | None = None
    parameters: Mapping[str, Any] | None = attrs.field(default=None, hash=False)

    def to_dict(self) -> dict[str, Any]:
        """The listing's JSON form; ``parameters`` only when the backend sent them."""
        data: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "source": self.source,
        }
        if self.parameters is not None:
            data["parameters"] = dict(self.parameters)
        return data


@attrs.frozen
class BackendFunctionsResult:
    """The functions a backend offers, and its warnings (or why they could not be read).

    Attributes:
        functions: The functions, in the backend's order.
        warnings: The backend's own warnings (a module that failed to load), or, when the
            listing failed and the call was not strict, the one line saying why.
    """

    functions: tuple[BackendFunction, ...] = ()
    warnings: tuple[str, ...] = ()


@attrs.frozen(repr=False)
class BackendCall:
    """A WebRTC call the backend created (its ``POST /navai/realtime/calls``).

    Attributes:
        call_id: The call's id, for hangup (``X-Navai-Call-Id``).
        sdp: The SDP answer, for ``setRemoteDescription``.
        server_tools: Whether the backend runs the call's tools itself
            (``X-Navai-Server-Tools: on``); when not, the client relays them.
    """

    call_id: str
    sdp: str
    server_tools: bool = False

    def __repr__(self) -> str:
        return f"BackendCall(call_id={self.call_id!r}, server_tools={self.server_tools!r})"


# --- the flow's steps -------------------------------------------------------------------------


@attrs.frozen
class _Send:
    """Send this request (once); answer with an :class:`_Answer` or the httpx error."""

    method: Literal["GET", "POST"]
    url: str
    content: bytes | None = None


_Outcome: TypeAlias = "_Answer | httpx.RequestError"
_Flow: TypeAlias = Flow[_Send, _Outcome, T]


# --- the pure core: configuration, flows, parsers ---------------------------------------------


def _base_url(api_base_url: str | None, env: Mapping[str, str] | None) -> str:
    given = api_base_url.strip() if isinstance(api_base_url, str) else api_base_url
    variable = None
    if not given:
        given = env_str(os.environ if env is None else env, "NAVAI_API_URL")
        variable = "NAVAI_API_URL" if given else None
    given = given or DEFAULT_API_BASE_URL
    where = f"{variable}={given!r}" if variable else f"api_base_url {given!r}"
    try:
        url = httpx.URL(given)
    except (httpx.InvalidURL, TypeError):
        url = None
    if url is None or url.scheme not in {"http", "https"} or not url.host:
        msg = f"{where} is not an http(s) URL. Use one such as 'http://localhost:3000'."
        raise InvalidOptionError(msg, option="api_base_url", variable=variable, value=given)
    # As the original joins: trailing slashes off the base, one leading slash on the path.
    return given.rstrip("/")


def _join(base: str, path: str) -> str:
    return base + (path if path.startswith("/") else f"/{path}")


def _origin(url: str) -> str:
    """``scheme://host:port`` of a URL: never the ``user:password@`` or query it may hold."""
    parsed = httpx.URL(url)
    port = f":{parsed.port}" if parsed.port else ""
    return f"{parsed.scheme}://{parsed.host}{port}"


def _decode(content: bytes) -> Any:
    try:
        return msgspec.json.decode(content)
    except (msgspec.DecodeError, RecursionError):
        return None


def _text(answer: _Answer) -> str:
    text = answer.content.decode("utf-8", "replace")
    if "html" in answer.headers.get("content-type", ""):
        # Express's default error page (the original backend's errors): its text only.
        text = html.unescape(_TAGS.sub(" ", _HEAD.sub(" ", text)))
    text = _SPACES.sub(" ", text).strip()
    return text if len(text) <= _MAX_TEXT else text[:_MAX_TEXT] + "..."


def _field(data: object, name: str) -> str | None:
    value = data.get(name) if isinstance(data, dict) else None
    return value if isinstance(value, str) and value.strip() else None


def _http_error(answer: _Answer, secrets: tuple[str, ...]) -> BackendError:
    """An answer outside 2xx, as the original throws it: details, error, text, or status."""
    data = _decode(answer.content)
    error, details, text = _field(data, "error"), _field(data, "details"), _text(answer)
    message = details or error or text or f"HTTP {answer.status_code}"
    return BackendError(
        _redact(message, secrets),
        status_code=answer.status_code,
        error=error and _redact(error, secrets),
        details=details and _redact(details, secrets),
        text=_redact(text, secrets),
    )


def _invalid(message: str, answer: _Answer) -> InvalidBackendResponseError:
    return InvalidBackendResponseError(message, status_code=502, text=_redact(_text(answer), ()))


def _is_success(answer: _Answer) -> bool:
    return 200 <= answer.status_code < 300  # noqa: PLR2004


def _parse_client_secret_answer(
    answer: _Answer, secrets: tuple[str, ...] = ()
) -> BackendClientSecret:
    """Read the client-secret route's answer (pure).

    Raises:
        BackendError: The backend answered an error status.
        InvalidBackendResponseError: A success without a string ``value``.
    """
    if not _is_success(answer):
        raise _http_error(answer, secrets)
    data = _decode(answer.content)
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise _invalid("Invalid client-secret response.", answer)
    assert isinstance(data, dict)
    expires_at = data.get("expires_at")
    if isinstance(expires_at, float) and expires_at.is_integer():
        expires_at = int(expires_at)
    speech = data.get("speech")
    elevenlabs = isinstance(speech, dict) and speech.get("provider") == "elevenlabs"
    return BackendClientSecret(
        value=value,
        expires_at=expires_at if type(expires_at) is int else None,
        speech_provider="elevenlabs" if elevenlabs else "openai",
    )


def _parse_functions_answer(answer: _Answer) -> BackendFunctionsResult:
    """Read the functions listing (pure); items without a name are skipped, as the original.

    Raises:
        BackendError: The backend answered an error status.
        InvalidBackendResponseError: A success whose body is not a JSON object.
    """
    if not _is_success(answer):
        raise _http_error(answer, ())
    data = _decode(answer.content)
    if not isinstance(data, dict):
        raise _invalid("Invalid backend functions response.", answer)
    items = data.get("items")
    warnings = data.get("warnings")
    functions = tuple(
        BackendFunction(
            name=item["name"],
            description=_field(item, "description"),
            source=_field(item, "source"),
            parameters=item.get("parameters") if isinstance(item.get("parameters"), dict) else None,
        )
        for item in (items if isinstance(items, list) else ())
        if isinstance(item, dict) and _field(item, "name")
    )
    return BackendFunctionsResult(
        functions=functions,
        warnings=tuple(
            w for w in (warnings if isinstance(warnings, list) else ()) if isinstance(w, str)
        ),
    )


def _parse_execute_answer(answer: _Answer, function_name: str) -> Any:
    """Read the execute route's answer (pure): the function's result, or why it failed.

    Raises:
        BackendFunctionError: The answer says ``ok: false`` (the function raised, its
            arguments were refused, it timed out), whatever the status.
        UnknownBackendFunctionError: ``404`` with the names the backend has.
        BackendError: Any other error status.
        InvalidBackendResponseError: A success whose body is not a JSON object.
    """
    data = _decode(answer.content)
    if isinstance(data, dict):
        ok = data.get("ok")
        if ok is False or (ok is not True and _is_success(answer)):
            raise _function_error(answer, data, function_name)
        available = data.get("available_functions")
        if answer.status_code == 404 and isinstance(available, list):  # noqa: PLR2004
            error = _field(data, "error") or "Unknown or disallowed function."
            names = [str(item) for item in available]
            raise UnknownBackendFunctionError(
                f"{error} {function_name!r} is not one of: {', '.join(names) or '(none)'}.",
                function_name=function_name,
                available=names,
                error=error,
                text=_text(answer),
            )
    if not _is_success(answer):
        raise _http_error(answer, ())
    if not isinstance(data, dict):
        raise _invalid("Invalid backend function response.", answer)
    return data.get("result")


def _function_error(
    answer: _Answer, data: dict[str, Any], function_name: str
) -> BackendFunctionError:
    error, details = _field(data, "error"), _field(data, "details")
    message = details or error or "Backend function failed."
    return BackendFunctionError(
        _redact(message, ()),
        function_name=_field(data, "function_name") or function_name,
        status_code=answer.status_code,
        error=error and _redact(error, ()),
        details=details and _redact(details, ()),
        text=_redact(_text(answer), ()),
    )


def _parse_speech_answer(answer: _Answer) -> SynthesizedSpeech:
    """Read the speech route's answer (pure), decoding its ``audioBase64``.

    Raises:
        BackendError: The backend answered an error status.
        InvalidBackendResponseError: A success without ``provider``, ``mimeType`` and
            valid base64 ``audioBase64``.
    """
    if not _is_success(answer):
        raise _http_error(answer, ())
    data = _decode(answer.content)
    provider, mime_type = _field(data, "provider"), _field(data, "mimeType")
    encoded = data.get("audioBase64") if isinstance(data, dict) else None
    if provider is None or mime_type is None or not isinstance(encoded, str):
        raise _invalid("Invalid speech synthesis response.", answer)
    try:
        audio = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        message = "Invalid speech synthesis response: audioBase64 is not base64."
        raise _invalid(message, answer) from None
    return SynthesizedSpeech(audio=audio, mime_type=mime_type, provider=provider)


def _parse_call_answer(answer: _Answer) -> BackendCall:
    """Read the calls route's answer (pure): the SDP answer and the call id header.

    Raises:
        BackendError: The backend answered an error status.
        InvalidBackendResponseError: A success without a call id or an SDP answer.
    """
    if not _is_success(answer):
        raise _http_error(answer, ())
    call_id = answer.headers.get("x-navai-call-id")
    sdp = answer.content.decode("utf-8", "replace")
    if not call_id or not sdp.startswith("v=0"):
        raise _invalid("Invalid realtime call response.", answer)
    tools = answer.headers.get("x-navai-server-tools") == "on"
    return BackendCall(call_id=call_id, sdp=sdp, server_tools=tools)


def _retry_after(headers: httpx.Headers) -> float | None:
    raw = headers.get("retry-after")
    try:
        seconds = float(raw) if raw is not None else None
    except ValueError:
        return None  # an HTTP date: use our own backoff
    return seconds if seconds is not None and seconds >= 0 else None


def _listing_warning(error: BackendError) -> str:
    # The original clients' three warnings, word for word.
    if isinstance(error, InvalidBackendResponseError):
        return "[navai] Failed to parse backend functions response."
    if isinstance(error, (BackendUnavailableError, BackendTimeoutError)):
        return f"[navai] Failed to load backend functions: {error.message}"
    return f"[navai] Failed to load backend functions ({error.status_code})."


class _BaseNavaiBackendClient(Generic[_HttpClient, _Transport]):
    """Configuration and the pure flows; subclasses only open a client and drive them.

    The arguments are documented on :class:`NavaiBackendClient`.
    """

    def __init__(
        self,
        api_base_url: str | None = None,
        *,
        env: Mapping[str, str] | None = None,
        client_secret_path: str = _CLIENT_SECRET_PATH,
        functions_list_path: str = _FUNCTIONS_LIST_PATH,
        functions_execute_path: str = _FUNCTIONS_EXECUTE_PATH,
        speech_synthesize_path: str = _SPEECH_SYNTHESIZE_PATH,
        realtime_calls_path: str = _REALTIME_CALLS_PATH,
        headers: Mapping[str, str] | None = None,
        timeout: float | httpx.Timeout | None = None,
        retry: RetryPolicy = DEFAULT_CLIENT_RETRY,
        client: _HttpClient | None = None,
        transport: _Transport | None = None,
    ) -> None:
        self.api_base_url = _base_url(api_base_url, env)
        self.realtime_calls_url = _join(self.api_base_url, realtime_calls_path)
        self.client_secret_url = _join(self.api_base_url, client_secret_path)
        self.functions_list_url = _join(self.api_base_url, functions_list_path)
        self.functions_execute_url = _join(self.api_base_url, functions_execute_path)
        self.speech_synthesize_url = _join(self.api_base_url, speech_synthesize_path)
        self.retry = retry
        # May carry the caller's credentials for the backend: never logged, never in repr.
        self._headers = httpx.Headers({"User-Agent": _USER_AGENT, "Accept": "application/json"})
        self._headers.update(headers or {})
        _check_injection(client, transport)
        self._owns_client = client is None
        self._client: _HttpClient = client or self._open_client(
            transport, DEFAULT_BACKEND_TIMEOUT if timeout is None else timeout
        )
        self._timeout = self._client.timeout if timeout is None else httpx.Timeout(timeout)

    def _open_client(
        self, transport: _Transport | None, timeout: float | httpx.Timeout
    ) -> _HttpClient:
        """The client this one opens (and closes) when it is given none."""
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(api_base_url={_origin(self.api_base_url)!r})"

    def _request(self, step: _Send) -> httpx.Request:
        headers = self._headers
        if step.content is not None:
            headers = headers.copy()
            headers["Content-Type"] = "application/json"
        return self._client.build_request(
            step.method, step.url, content=step.content, headers=headers, timeout=self._timeout
        )

    # --- flows: what to send, what to make of the answers ------------------------------------

    def _exchange(self, step: _Send, *, idempotent: bool) -> _Flow[_Answer]:
        """Send ``step``, again only where that is safe (see the module's docstring)."""
        policy = self.retry
        path = httpx.URL(step.url).path
        for attempt in range(1, policy.max_attempts + 1):
            outcome = yield step
            assert outcome is not None
            wait: float | None = None
            if isinstance(outcome, _Answer):
                if not idempotent or outcome.status_code not in _RETRYABLE_STATUS:
                    return outcome
                wait = _retry_after(outcome.headers)
                if attempt == policy.max_attempts or (
                    wait is not None and wait > policy.backoff_max_seconds
                ):
                    return outcome  # the parser turns the last answer into the error
                reason = f"HTTP {outcome.status_code}"
            else:
                if attempt == policy.max_attempts or not (
                    idempotent or isinstance(outcome, _UNSENT)
                ):
                    raise self._transport_error(step, outcome) from outcome
                reason = type(outcome).__name__
            wait = policy.backoff(attempt) if wait is None else wait
            logger.warning(
                "%s %s attempt %d of %d failed (%s); retrying in %.2f s.",
                step.method,
                path,
                attempt,
                policy.max_attempts,
                reason,
                wait,
            )
            yield _Sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _transport_error(self, step: _Send, error: httpx.RequestError) -> BackendError:
        where = f"{step.method} {_origin(step.url)}{httpx.URL(step.url).path}"
        detail = _redact(str(error) or type(error).__name__, ())
        if isinstance(error, httpx.TimeoutException):
            return BackendTimeoutError(
                f"The NAVAI backend did not answer {where} in time ({detail}). "
                "Check that it is running, or give the client a longer timeout.",
                status_code=504,
            )
        return BackendUnavailableError(
            f"Could not reach the NAVAI backend for {where}: {detail}. "
            "Check api_base_url (or NAVAI_API_URL) and that the backend is running.",
            status_code=502,
        )

    def _mint_flow(
        self, request: CreateClientSecretRequest | None, fields: Mapping[str, str | None]
    ) -> _Flow[BackendClientSecret]:
        request = request or CreateClientSecretRequest()
        given = {name: value for name, value in fields.items() if value is not None}
        if given:
            request = attrs.evolve(request, **given)
        secrets = (request.api_key,) if request.api_key else ()
        step = _Send("POST", self.client_secret_url, _encode(request.to_wire()))
        answer = yield from self._exchange(step, idempotent=False)
        return _parse_client_secret_answer(answer, secrets)

    def _list_flow(self, *, strict: bool) -> _Flow[BackendFunctionsResult]:
        try:
            answer = yield from self._exchange(
                _Send("GET", self.functions_list_url), idempotent=True
            )
            return _parse_functions_answer(answer)
        except BackendError as error:
            if strict:
                raise
            warning = _listing_warning(error)
            logger.warning("%s", warning)
            return BackendFunctionsResult(warnings=(warning,))

    def _execute_flow(self, function_name: str, payload: Mapping[str, Any] | None) -> _Flow[Any]:
        body = {
            "function_name": function_name,
            "payload": None if payload is None else dict(payload),
        }
        step = _Send("POST", self.functions_execute_url, _encode(body))
        answer = yield from self._exchange(step, idempotent=False)
        return _parse_execute_answer(answer, function_name)

    def _call_flow(
        self, sdp: str, request: CreateClientSecretRequest | None, fields: Mapping[str, str | None]
    ) -> _Flow[BackendCall]:
        wire: dict[str, Any] = (request or CreateClientSecretRequest()).to_wire()
        wire.pop("apiKey", None)  # a call always goes out with the server's key
        wire.update({name: value for name, value in fields.items() if value is not None})
        step = _Send("POST", self.realtime_calls_url, _encode({"sdp": sdp, **wire}))
        answer = yield from self._exchange(step, idempotent=False)
        return _parse_call_answer(answer)

    def _hangup_flow(self, call_id: str) -> _Flow[None]:
        url = f"{self.realtime_calls_url}/{call_id}/hangup"
        answer = yield from self._exchange(_Send("POST", url, b"{}"), idempotent=True)
        if not _is_success(answer):
            raise _http_error(answer, ())

    def _speech_flow(
        self,
        text: str,
        *,
        voice_id: str | None,
        model_id: str | None,
        output_format: str | None,
        optimize_streaming_latency: float | None,
        voice_settings: Mapping[str, float | bool] | None,
    ) -> _Flow[SynthesizedSpeech]:
        wire = {
            "text": text,
            "voiceId": voice_id,
            "modelId": model_id,
            "outputFormat": output_format,
            "optimizeStreamingLatency": optimize_streaming_latency,
            "voiceSettings": None if voice_settings is None else dict(voice_settings),
        }
        body = {name: value for name, value in wire.items() if value is not None}
        step = _Send("POST", self.speech_synthesize_url, _encode(body))
        answer = yield from self._exchange(step, idempotent=False)
        return _parse_speech_answer(answer)


def _check_injection(client: object, transport: object) -> None:
    if client is not None and transport is not None:
        msg = "Pass either client or transport, not both: a given client keeps its transport."
        raise InvalidOptionError(msg, option="transport")


# --- the drivers: the only code that does IO ------------------------------------------------


class NavaiBackendClient(_BaseNavaiBackendClient[httpx.Client, httpx.BaseTransport]):
    """Talk to a running NAVAI backend (this package's, or the original Node one); blocking.

    Use it as a context manager, or call :meth:`close`, to release its connections.

    Args:
        api_base_url: The backend's URL; else ``NAVAI_API_URL``; else
            ``http://localhost:3000``, as the original clients. Trailing slashes are
            dropped and each path joined with one ``/``.
        env: Where ``NAVAI_API_URL`` is read; ``os.environ`` when None.
        client_secret_path: The client-secret route (default
            ``/navai/realtime/client-secret``).
        functions_list_path: The listing route (default ``/navai/functions``).
        functions_execute_path: The execute route (default ``/navai/functions/execute``).
        speech_synthesize_path: The speech route (default ``/navai/speech/synthesize``).
        realtime_calls_path: The WebRTC calls route (default ``/navai/realtime/calls``).
        headers: Sent with every request, such as the ``Authorization`` an ``authorize``
            hook expects. Never logged.
        timeout: Seconds (or an ``httpx.Timeout``) per request phase. Default: 5 s to
            connect, 35 s for the rest, past the server's default function timeout (30 s).
            A ``client`` passed in keeps its own timeout unless this is given.
        retry: How often a request that is safe to repeat is sent again (see the
            module's docs: never a function call, a mint or a synthesis that may have
            reached the backend). ``RetryPolicy(max_attempts=1)`` turns retries off.
        client: An ``httpx.Client`` to send through (pooled connections, proxies,
            certificates); it is not closed by :meth:`close`.
        transport: An ``httpx`` transport for the client this one opens (tests pass
            ``httpx.MockTransport``). Not with ``client``.

    Raises:
        InvalidOptionError: The base URL is not http(s), or both ``client`` and
            ``transport`` were given.
    """

    def _open_client(
        self, transport: httpx.BaseTransport | None, timeout: float | httpx.Timeout
    ) -> httpx.Client:
        return httpx.Client(transport=transport, timeout=timeout)

    def __enter__(self) -> NavaiBackendClient:  # noqa: PYI034 - Self needs 3.11
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections of the client this one opened (not of one passed in)."""
        if self._owns_client:
            self._client.close()

    def create_client_secret(
        self,
        request: CreateClientSecretRequest | None = None,
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
        language: str | None = None,
        voice_accent: str | None = None,
        voice_tone: str | None = None,
        api_key: str | None = None,
    ) -> BackendClientSecret:
        """Ask the backend to mint an ephemeral Realtime client secret.

        Args:
            request: The fields, as a :class:`CreateClientSecretRequest`; keywords given
                here override its fields. Unset fields take the server's defaults.
            model: The Realtime model.
            voice: The voice.
            instructions: The session's instructions.
            language: The language line (``Always reply in ...``).
            voice_accent: The accent line.
            voice_tone: The tone line.
            api_key: An OpenAI key for a server that accepts request keys. Sent only in
                the body, never logged, scrubbed from error messages.

        Returns:
            The secret, its expiry and the backend's speech provider.

        Raises:
            BackendError: The backend refused (its status: ``401`` no key, ``403``
                policy, ``502``/``504`` OpenAI failed), or could not be reached
                (``BackendUnavailableError``, ``BackendTimeoutError``).
            InvalidBackendResponseError: ``Invalid client-secret response.``
        """
        fields = {
            "model": model,
            "voice": voice,
            "instructions": instructions,
            "language": language,
            "voice_accent": voice_accent,
            "voice_tone": voice_tone,
            "api_key": api_key,
        }
        return self._drive(self._mint_flow(request, fields))

    def list_functions(self, *, strict: bool = False) -> BackendFunctionsResult:
        """List the backend's functions, with their parameter schemas.

        Args:
            strict: Raise when the listing fails. By default a failure gives no
                functions and one warning saying why (also logged on ``navai.client``),
                as the original clients do, so an agent still starts without tools.

        Raises:
            BackendError: Only with ``strict``: as :meth:`execute_function` would.
        """
        return self._drive(self._list_flow(strict=strict))

    def execute_function(self, function_name: str, payload: Mapping[str, Any] | None = None) -> Any:
        """Run a backend function and return its result. Sent once; never retried once sent.

        Args:
            function_name: The function's name (matched without regard to case).
            payload: Its arguments, bound by the backend (``args``, ``value``, or keyword
                names); ``None`` for none.

        Raises:
            BackendFunctionError: ``ok: false``: the function raised (status ``200``),
                its arguments were refused (``400``), or it timed out (``504``); the
                message is the answer's ``details``, else its ``error``.
            UnknownBackendFunctionError: No such function (``404``, with ``available``).
            BackendError: Another error status, or the backend could not be reached.
            InvalidBackendResponseError: ``Invalid backend function response.``
        """
        return self._drive(self._execute_flow(function_name, payload))

    def synthesize_speech(
        self,
        text: str,
        *,
        voice_id: str | None = None,
        model_id: str | None = None,
        output_format: str | None = None,
        optimize_streaming_latency: float | None = None,
        voice_settings: Mapping[str, float | bool] | None = None,
    ) -> SynthesizedSpeech:
        """Have the backend speak ``text`` (its ``POST /navai/speech/synthesize``).

        Args:
            text: What to say.
            voice_id: The provider's voice, instead of the server's default.
            model_id: The provider's model.
            output_format: Such as ``mp3_44100_128``.
            optimize_streaming_latency: The provider's latency setting.
            voice_settings: Sent as is, with the wire's names: ``stability``,
                ``similarityBoost``, ``style``, ``useSpeakerBoost``.

        Returns:
            The decoded audio and its mime type.

        Raises:
            BackendError: The backend refused or could not be reached.
            InvalidBackendResponseError: ``Invalid speech synthesis response.``
        """
        return self._drive(
            self._speech_flow(
                text,
                voice_id=voice_id,
                model_id=model_id,
                output_format=output_format,
                optimize_streaming_latency=optimize_streaming_latency,
                voice_settings=voice_settings,
            )
        )

    def start_call(
        self,
        sdp: str,
        request: CreateClientSecretRequest | None = None,
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
    ) -> BackendCall:
        """Start a WebRTC call through the backend (its ``POST /navai/realtime/calls``).

        Args:
            sdp: The SDP offer of the peer connection.
            request: Model, voice, instructions, language, accent, tone (no key is sent).
            model: Shortcut for ``request.model``; wins over it.
            voice: Shortcut for ``request.voice``.
            instructions: Shortcut for ``request.instructions``.

        Returns:
            The call id, the SDP answer, and whether the server runs the tools.

        Raises:
            BackendError: The backend refused (its status and message) or could not be reached.
            InvalidBackendResponseError: ``Invalid realtime call response.``
        """
        fields = {"model": model, "voice": voice, "instructions": instructions}
        return self._drive(self._call_flow(sdp, request, fields))

    def hangup_call(self, call_id: str) -> None:
        """End a call (the backend's ``POST /navai/realtime/calls/{call_id}/hangup``).

        Raises:
            BackendError: The backend refused or could not be reached.
        """
        self._drive(self._hangup_flow(call_id))

    def _send(self, step: _Send) -> _Outcome:
        try:
            response = self._client.send(self._request(step))
        except httpx.RequestError as error:
            return error
        return _Answer(response.status_code, response.headers, response.content)

    def _drive(self, flow: _Flow[T]) -> T:
        return drive(flow, self._send)


class AsyncNavaiBackendClient(_BaseNavaiBackendClient[httpx.AsyncClient, httpx.AsyncBaseTransport]):
    """The async twin of :class:`NavaiBackendClient`: same arguments, methods and errors.

    ``client`` is an ``httpx.AsyncClient`` and ``transport`` an async transport; use it
    with ``async with``, or call :meth:`aclose`.
    """

    def _open_client(
        self, transport: httpx.AsyncBaseTransport | None, timeout: float | httpx.Timeout
    ) -> httpx.AsyncClient:
        return httpx.AsyncClient(transport=transport, timeout=timeout)

    async def __aenter__(self) -> AsyncNavaiBackendClient:  # noqa: PYI034 - Self needs 3.11
        return self

    async def __aexit__(self, *_exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Close the connections of the client this one opened (not of one passed in)."""
        if self._owns_client:
            await self._client.aclose()

    async def create_client_secret(
        self,
        request: CreateClientSecretRequest | None = None,
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
        language: str | None = None,
        voice_accent: str | None = None,
        voice_tone: str | None = None,
        api_key: str | None = None,
    ) -> BackendClientSecret:
        """Async :meth:`NavaiBackendClient.create_client_secret`."""
        fields = {
            "model": model,
            "voice": voice,
            "instructions": instructions,
            "language": language,
            "voice_accent": voice_accent,
            "voice_tone": voice_tone,
            "api_key": api_key,
        }
        return await self._drive(self._mint_flow(request, fields))

    async def list_functions(self, *, strict: bool = False) -> BackendFunctionsResult:
        """Async :meth:`NavaiBackendClient.list_functions`."""
        return await self._drive(self._list_flow(strict=strict))

    async def execute_function(
        self, function_name: str, payload: Mapping[str, Any] | None = None
    ) -> Any:
        """Async :meth:`NavaiBackendClient.execute_function`."""
        return await self._drive(self._execute_flow(function_name, payload))

    async def synthesize_speech(
        self,
        text: str,
        *,
        voice_id: str | None = None,
        model_id: str | None = None,
        output_format: str | None = None,
        optimize_streaming_latency: float | None = None,
        voice_settings: Mapping[str, float | bool] | None = None,
    ) -> SynthesizedSpeech:
        """Async :meth:`NavaiBackendClient.synthesize_speech`."""
        return await self._drive(
            self._speech_flow(
                text,
                voice_id=voice_id,
                model_id=model_id,
                output_format=output_format,
                optimize_streaming_latency=optimize_streaming_latency,
                voice_settings=voice_settings,
            )
        )

    async def start_call(
        self,
        sdp: str,
        request: CreateClientSecretRequest | None = None,
        *,
        model: str | None = None,
        voice: str | None = None,
        instructions: str | None = None,
    ) -> BackendCall:
        """Async :meth:`NavaiBackendClient.start_call`."""
        fields = {"model": model, "voice": voice, "instructions": instructions}
        return await self._drive(self._call_flow(sdp, request, fields))

    async def hangup_call(self, call_id: str) -> None:
        """Async :meth:`NavaiBackendClient.hangup_call`."""
        await self._drive(self._hangup_flow(call_id))

    async def _send(self, step: _Send) -> _Outcome:
        try:
            response = await self._client.send(self._request(step))
        except httpx.RequestError as error:
            return error
        return _Answer(response.status_code, response.headers, response.content)

    async def _drive(self, flow: _Flow[T]) -> T:
        return await adrive(flow, self._send)

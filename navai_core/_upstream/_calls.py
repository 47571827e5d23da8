"""WebRTC calls through the backend: ``POST /v1/realtime/calls`` and its hangup.

The browser sends its SDP offer to the backend; the backend relays it to OpenAI with
the server's key and the session it decided
(:func:`~navai_core._upstream._session.build_session_config`, the one minting uses
too), and hands the SDP answer back. The browser never holds a key.

The shape is minting's: pure builders (:func:`build_call_request`,
:func:`build_hangup_request`), pure parsers (:func:`parse_call_response`,
:func:`parse_hangup_response`), and every upstream call's retry flow and drivers
(:mod:`navai_core._upstream._request`).
"""

from __future__ import annotations

import hashlib
import re
import secrets as _secrets
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import httpx
import msgspec

from navai_core._config._options import NavaiVoiceBackendOptions
from navai_core._flow import Answer
from navai_core._upstream._request import UpstreamCall, asend_call, post_request, send_call
from navai_core._upstream._session import (
    CreateClientSecretRequest,
    build_session_config,
    openai_api,
    resolve_api_key,
    upstream_headers,
)
from navai_core.exceptions import InvalidRequestError

__all__ = [
    "CALL_ID_PATTERN",
    "CallUpstreamRequest",
    "RealtimeCall",
    "acreate_realtime_call",
    "ahangup_realtime_call",
    "build_call_request",
    "build_hangup_request",
    "create_realtime_call",
    "hangup_realtime_call",
    "hash_safety_identifier",
    "parse_call_response",
    "parse_hangup_response",
    "sideband_url",
    "validate_offer",
]

#: What a call id may look like (OpenAI's are ``rtc_`` and hex); anything else is refused
#: before it reaches a URL.
CALL_ID_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,128}$")
DEFAULT_MAX_SDP_BYTES = 64 * 1024
_encode = msgspec.json.Encoder().encode
_CALLS = openai_api("OpenAI calls")
_HANGUP = openai_api("OpenAI hangup")


def validate_offer(sdp: object, max_bytes: int = DEFAULT_MAX_SDP_BYTES) -> str:
    """Check that ``sdp`` looks like an SDP offer, and return it.

    Only the shape is checked (a ``v=0`` first line, text, a bound on size): OpenAI
    parses the rest. This keeps JSON, HTML and binary bodies from being relayed.

    Raises:
        InvalidRequestError: Not a string, not SDP (400), or over ``max_bytes`` (413).
    """
    if not isinstance(sdp, str):
        msg = "sdp must be a string holding the SDP offer (it starts with 'v=0')."
        raise InvalidRequestError(msg)
    size = len(sdp.encode("utf-8", "replace"))
    if size > max_bytes:
        msg = f"The SDP offer is larger than {max_bytes} bytes."
        raise InvalidRequestError(msg, status_code=413)
    text = sdp.lstrip("\ufeff")
    if not text.startswith("v=0") or "\x00" in text:
        msg = (
            "The body is not an SDP offer: it must start with 'v=0'. Send the offer of an "
            "RTCPeerConnection (pc.localDescription.sdp)."
        )
        raise InvalidRequestError(msg)
    return text


def hash_safety_identifier(identity: str) -> str:
    """The ``OpenAI-Safety-Identifier`` for a user identity: a SHA-256 hex digest.

    OpenAI asks for a stable id per end user, hashed so no e-mail or name is sent.
    """
    return hashlib.sha256(identity.encode("utf-8")).hexdigest()


@attrs.frozen(repr=False)
class CallUpstreamRequest:
    """A ``POST`` to OpenAI, fully decided: URL, headers and body.

    ``repr`` hides the headers, which carry the API key.
    """

    url: str
    headers: Mapping[str, str]
    content: bytes
    secrets: tuple[str, ...] = ()
    session: Mapping[str, Any] | None = None

    def __repr__(self) -> str:
        return f"CallUpstreamRequest(url={self.url!r}, bytes={len(self.content)})"

    def to_httpx(self, timeout: float) -> httpx.Request:
        """An ``httpx.Request`` that gives up after ``timeout`` seconds per phase."""
        return post_request(self.url, self.headers, self.content, timeout)


@attrs.frozen(repr=False)
class RealtimeCall:
    """A call OpenAI created: its id and the SDP answer for the browser.

    Attributes:
        call_id: The call's id (``rtc_...``), from the ``Location`` header.
        sdp: The SDP answer.
        api_key: The key the call was made with, for the sideband; never shown.
    """

    call_id: str
    sdp: str
    api_key: str = ""

    def __repr__(self) -> str:
        return f"RealtimeCall(call_id={self.call_id!r})"


def _multipart(parts: Sequence[tuple[str, str, bytes]]) -> tuple[str, bytes]:
    boundary = "navai-" + _secrets.token_hex(12)
    chunks: list[bytes] = []
    for name, content_type, data in parts:
        chunks.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n'
            f"Content-Type: {content_type}\r\n\r\n".encode()
        )
        chunks.append(data)
        chunks.append(b"\r\n")
    chunks.append(f"--{boundary}--\r\n".encode())
    return boundary, b"".join(chunks)


def build_call_request(
    options: NavaiVoiceBackendOptions,
    sdp: str,
    request: CreateClientSecretRequest | None = None,
    *,
    tools: Sequence[Mapping[str, Any]] | None = None,
    safety_identifier: str | None = None,
) -> CallUpstreamRequest:
    """Decide the upstream ``POST /realtime/calls`` for an SDP offer, with no IO.

    Args:
        options: The server's options (key, defaults, policies).
        sdp: The browser's SDP offer (see :func:`validate_offer`).
        request: Model, voice and instructions asked for, as for a mint.
        tools: The session's function tools (server-side tools), if any.
        safety_identifier: Sent as ``OpenAI-Safety-Identifier`` (already hashed).

    Returns:
        A multipart body with an ``sdp`` part and a ``session`` part (always sent).

    Raises:
        MissingApiKeyError: No key (401).
        RequestApiKeyDisabledError: Request key refused (403).
        PolicyViolationError: Model or voice not allowed (403).
    """
    request = request or CreateClientSecretRequest()
    api_key = resolve_api_key(options, request)
    session = build_session_config(options, request, tools=tools)
    boundary, content = _multipart(
        [
            ("sdp", "application/sdp", sdp.encode("utf-8")),
            ("session", "application/json", _encode(session)),
        ]
    )
    headers = upstream_headers(options, api_key)
    headers["Accept"] = "application/sdp, application/json"
    headers["Content-Type"] = f"multipart/form-data; boundary={boundary}"
    if safety_identifier:
        headers["OpenAI-Safety-Identifier"] = safety_identifier
    return CallUpstreamRequest(
        url=f"{options.openai_base_url}/realtime/calls",
        headers=headers,
        content=content,
        secrets=(api_key,),
        session=session,
    )


def build_hangup_request(
    options: NavaiVoiceBackendOptions, call_id: str, api_key: str | None = None
) -> CallUpstreamRequest:
    """Decide the upstream ``POST /realtime/calls/{call_id}/hangup``, with no IO.

    Raises:
        InvalidRequestError: ``call_id`` is not a call id (400).
        MissingApiKeyError: No key (401).
    """
    check_call_id(call_id)
    key = api_key or resolve_api_key(options, CreateClientSecretRequest())
    headers = upstream_headers(options, key)
    return CallUpstreamRequest(
        url=f"{options.openai_base_url}/realtime/calls/{call_id}/hangup",
        headers=headers,
        content=b"",
        secrets=(key,),
    )


def check_call_id(call_id: str) -> str:
    """Return ``call_id`` when it has the shape of a call id.

    Raises:
        InvalidRequestError: It does not (400).
    """
    if not CALL_ID_PATTERN.fullmatch(call_id):
        msg = "The call id must be 1 to 128 letters, digits, '_' or '-' (such as rtc_abc123)."
        raise InvalidRequestError(msg)
    return call_id


def sideband_url(options: NavaiVoiceBackendOptions, call_id: str) -> str:
    """The sideband WebSocket of a call: ``wss://.../realtime?call_id=...``."""
    check_call_id(call_id)
    base = options.openai_base_url
    if base.startswith("https://"):
        base = "wss://" + base[len("https://") :]
    elif base.startswith("http://"):
        base = "ws://" + base[len("http://") :]
    return f"{base}/realtime?call_id={call_id}"


def parse_call_response(
    status_code: int,
    headers: Mapping[str, str],
    content: bytes,
    *,
    secrets: tuple[str, ...] = (),
) -> RealtimeCall:
    """Turn OpenAI's answer to ``POST /realtime/calls`` into a :class:`RealtimeCall`.

    Raises:
        UpstreamError: OpenAI answered an error (4xx kept, else 502), or its answer has
            no SDP or no call id in ``Location``.
    """
    if status_code >= 400:  # noqa: PLR2004
        raise _CALLS.refused(status_code, content, secrets)
    location = headers.get("location") or ""
    call_id = location.rstrip("/").rsplit("/", 1)[-1]
    if not CALL_ID_PATTERN.fullmatch(call_id):
        raise _CALLS.error(
            status_code, "the answer has no call id in its Location header.", secrets
        )
    sdp = content.decode("utf-8", "replace")
    if not sdp.lstrip().startswith("v=0"):
        raise _CALLS.error(status_code, "the answer is not an SDP answer.", secrets)
    return RealtimeCall(call_id=call_id, sdp=sdp, api_key=secrets[0] if secrets else "")


def parse_hangup_response(
    status_code: int, content: bytes, *, secrets: tuple[str, ...] = ()
) -> None:
    """Check OpenAI's answer to a hangup; a 404 (the call already ended) is fine.

    Raises:
        UpstreamError: Any other error answer.
    """
    if status_code >= 400 and status_code != 404:  # noqa: PLR2004
        raise _HANGUP.refused(status_code, content, secrets)


def _realtime_call(
    options: NavaiVoiceBackendOptions,
    sdp: str,
    request: CreateClientSecretRequest | Mapping[str, Any] | None,
    tools: Sequence[Mapping[str, Any]] | None,
    safety_identifier: str | None,
) -> UpstreamCall[RealtimeCall]:
    if request is not None and not isinstance(request, CreateClientSecretRequest):
        request = CreateClientSecretRequest.from_wire(request)
    upstream = build_call_request(
        options, validate_offer(sdp), request, tools=tools, safety_identifier=safety_identifier
    )

    def parse(answer: Answer) -> RealtimeCall:
        return parse_call_response(
            answer.status_code, answer.headers, answer.content, secrets=upstream.secrets
        )

    return UpstreamCall(
        _CALLS, upstream, parse, timeout=options.openai_timeout_seconds, retry=options.retry
    )


def _hangup_call(
    options: NavaiVoiceBackendOptions, call_id: str, api_key: str | None
) -> UpstreamCall[None]:
    upstream = build_hangup_request(options, call_id, api_key)

    def parse(answer: Answer) -> None:
        parse_hangup_response(answer.status_code, answer.content, secrets=upstream.secrets)

    return UpstreamCall(
        _HANGUP, upstream, parse, timeout=options.openai_timeout_seconds, retry=options.retry
    )


def create_realtime_call(
    options: NavaiVoiceBackendOptions,
    sdp: str,
    request: CreateClientSecretRequest | Mapping[str, Any] | None = None,
    *,
    client: httpx.Client | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    safety_identifier: str | None = None,
) -> RealtimeCall:
    """Create a WebRTC call from a browser's SDP offer (blocking; for scripts and WSGI).

    Args:
        options: The server's options (key, defaults, timeout, retries).
        sdp: The SDP offer.
        request: Model, voice, instructions..., as for a mint (camelCase JSON or object).
        client: A client to reuse; one is opened and closed for this call when None.
        tools: Function tools for the session (server-side tools).
        safety_identifier: The hashed end-user id, sent as ``OpenAI-Safety-Identifier``.

    Returns:
        The call id and the SDP answer.

    Raises:
        InvalidRequestError: The offer is not SDP (400) or too large (413).
        MissingApiKeyError, RequestApiKeyDisabledError, PolicyViolationError: As for a mint.
        UpstreamError: OpenAI failed, after retries (its 4xx status, else 502).
        UpstreamTimeoutError: No answer within the timeout (504).
    """
    call = _realtime_call(options, sdp, request, tools, safety_identifier)
    return send_call(call, client)


async def acreate_realtime_call(
    options: NavaiVoiceBackendOptions,
    sdp: str,
    request: CreateClientSecretRequest | Mapping[str, Any] | None = None,
    *,
    client: httpx.AsyncClient | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    safety_identifier: str | None = None,
) -> RealtimeCall:
    """Async twin of :func:`create_realtime_call`; ``client`` is an ``httpx.AsyncClient``."""
    call = _realtime_call(options, sdp, request, tools, safety_identifier)
    return await asend_call(call, client)


def hangup_realtime_call(
    options: NavaiVoiceBackendOptions,
    call_id: str,
    *,
    client: httpx.Client | None = None,
    api_key: str | None = None,
) -> None:
    """End a call (blocking). A call that already ended is not an error.

    Raises:
        InvalidRequestError: ``call_id`` is not a call id (400).
        UpstreamError, UpstreamTimeoutError: As for :func:`create_realtime_call`.
    """
    send_call(_hangup_call(options, call_id, api_key), client)


async def ahangup_realtime_call(
    options: NavaiVoiceBackendOptions,
    call_id: str,
    *,
    client: httpx.AsyncClient | None = None,
    api_key: str | None = None,
) -> None:
    """Async twin of :func:`hangup_realtime_call`."""
    await asend_call(_hangup_call(options, call_id, api_key), client)

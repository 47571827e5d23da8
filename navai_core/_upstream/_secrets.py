"""Minting ephemeral Realtime client secrets.

Everything that needs no IO is pure: :func:`build_client_secret_request` decides the
call to OpenAI and :func:`parse_client_secret_response` reads its answer. The retry
flow and its sync and async drivers are every upstream call's
(:mod:`navai_core._upstream._request`); the two public functions here only pick one.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import attrs
import httpx
import msgspec

from navai_core._config._options import NavaiVoiceBackendOptions
from navai_core._config._speech_options import SpeechProvider
from navai_core._flow import Answer
from navai_core._upstream._request import UpstreamCall, asend_call, post_request, send_call
from navai_core._upstream._session import (
    CreateClientSecretRequest,
    build_session_config,
    openai_api,
    resolve_api_key,
    upstream_headers,
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

_OPENAI = openai_api("OpenAI client_secrets")
_encode_json = msgspec.json.Encoder().encode


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
        return post_request(self.url, self.headers, _encode_json(self.body), timeout)


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
    api_key = resolve_api_key(options, request)
    headers = upstream_headers(options, api_key)
    headers["Content-Type"] = "application/json"
    body = {
        "expires_after": {"anchor": "created_at", "seconds": options.client_secret_ttl_seconds},
        "session": build_session_config(options, request),
    }
    return ClientSecretUpstreamRequest(
        url=options.client_secrets_url, headers=headers, body=body, secrets=(api_key,)
    )


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
        raise _OPENAI.refused(status_code, content, secrets)
    try:
        data = json.loads(content)
    except ValueError:
        raise _OPENAI.error(status_code, "the answer is not valid JSON.", secrets) from None
    value = data.get("value") if isinstance(data, dict) else None
    if not isinstance(value, str) or not value:
        raise _OPENAI.error(status_code, "the answer has no client secret 'value'.", secrets)
    expires_at = data.get("expires_at")
    session = data.get("session")
    return RealtimeClientSecret(
        value=value,
        expires_at=expires_at if isinstance(expires_at, int) else None,
        session=session if isinstance(session, dict) else None,
        speech_provider=speech_provider,
    )


def _mint_call(
    options: NavaiVoiceBackendOptions,
    request: CreateClientSecretRequest | Mapping[str, Any] | None,
) -> UpstreamCall[RealtimeClientSecret]:
    if request is not None and not isinstance(request, CreateClientSecretRequest):
        request = CreateClientSecretRequest.from_wire(request)
    upstream = build_client_secret_request(options, request)

    def parse(answer: Answer) -> RealtimeClientSecret:
        return parse_client_secret_response(
            answer.status_code,
            answer.content,
            secrets=upstream.secrets,
            speech_provider=options.tts_provider,
        )

    return UpstreamCall(
        _OPENAI, upstream, parse, timeout=options.openai_timeout_seconds, retry=options.retry
    )


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
    return send_call(_mint_call(options, request), client)


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
    return await asend_call(_mint_call(options, request), client)

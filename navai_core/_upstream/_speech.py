"""Speech synthesis through ElevenLabs, for hybrid voice (OpenAI thinks, ElevenLabs speaks).

Built like minting: a pure request builder (:func:`build_speech_request`), a pure
response parser (:func:`parse_speech_response`), and every upstream call's retry flow
and drivers (:mod:`navai_core._upstream._request`), so synthesis has the same pooled
client, whole-call deadline and retry policy as minting; only the deadline differs
(``elevenlabs_timeout_seconds``: speaking a paragraph takes longer than minting).
"""

from __future__ import annotations

import base64
import json
import math
from collections.abc import Mapping
from typing import Any, Final
from urllib.parse import quote

import attrs
import httpx
import msgspec

from navai_core._config._options import NavaiVoiceBackendOptions
from navai_core._config._speech_options import (
    MAX_STREAMING_LATENCY,
    ElevenLabsVoiceSettings,
    check_latency,
    is_format_name,
    voice_settings,
)
from navai_core._flow import Answer
from navai_core._upstream._request import (
    Upstream,
    UpstreamCall,
    asend_call,
    body_text,
    post_request,
    send_call,
)
from navai_core._upstream._session import json_type
from navai_core.exceptions import InvalidRequestError, SpeechUnavailableError

__all__ = [
    "SpeechUpstreamRequest",
    "SynthesizeSpeechRequest",
    "SynthesizedSpeech",
    "asynthesize_speech",
    "build_speech_request",
    "parse_speech_response",
    "synthesize_speech",
]

_encode_json = msgspec.json.Encoder().encode


# --- the request a client sends -----------------------------------------------------------


def _optional_str(value: object) -> object:
    return (value.strip() or None) if isinstance(value, str) else value


_text_or_none = attrs.validators.optional(attrs.validators.instance_of(str))


@attrs.frozen
class SynthesizeSpeechRequest:
    """What to speak, and optionally how; unset fields take the server's defaults.

    On the wire (JSON) the names are camelCase: ``text``, ``voiceId``, ``modelId``,
    ``outputFormat``, ``optimizeStreamingLatency``, ``voiceSettings`` (with
    ``stability``, ``similarityBoost``, ``style``, ``useSpeakerBoost``).

    Attributes:
        text: The words to speak.
        voice_id: An ElevenLabs voice id; the server's ``elevenlabs_voice_id`` when None.
        model_id: An ElevenLabs model, such as ``eleven_flash_v2_5``.
        output_format: Such as ``mp3_44100_128`` or ``pcm_16000``.
        optimize_streaming_latency: 0 to 4.
        voice_settings: Replace the server's default voice settings, whole.
    """

    text: str = attrs.field(validator=attrs.validators.instance_of(str))
    voice_id: str | None = attrs.field(
        default=None, converter=_optional_str, validator=_text_or_none
    )
    model_id: str | None = attrs.field(
        default=None, converter=_optional_str, validator=_text_or_none
    )
    output_format: str | None = attrs.field(
        default=None, converter=_optional_str, validator=_text_or_none
    )
    optimize_streaming_latency: int | None = attrs.field(default=None, validator=check_latency)
    voice_settings: ElevenLabsVoiceSettings | None = attrs.field(
        default=None,
        converter=voice_settings,
        validator=attrs.validators.optional(attrs.validators.instance_of(ElevenLabsVoiceSettings)),
    )

    @classmethod
    def from_wire(cls, data: object) -> SynthesizeSpeechRequest:
        """Read the camelCase JSON body a client sent. Unknown keys are ignored.

        Raises:
            InvalidRequestError: The body is not an object, ``text`` is missing, or a
                field has the wrong type or range; the message names the field (400).
        """
        if not isinstance(data, Mapping):
            msg = 'The request body must be a JSON object, such as {"text": "Hello!"}.'
            raise InvalidRequestError(msg)
        text = data.get("text")
        if text is None:
            msg = 'text is required: send {"text": "..."} with the words to speak.'
            raise InvalidRequestError(msg)
        if not isinstance(text, str):
            raise _field_error("text", f"must be a string, not {json_type(text)}.")
        fields: dict[str, Any] = {"text": text}
        for wire, name in (
            ("voiceId", "voice_id"),
            ("modelId", "model_id"),
            ("outputFormat", "output_format"),
        ):
            value = data.get(wire)
            if value is not None and not isinstance(value, str):
                raise _field_error(wire, f"must be a string or null, not {json_type(value)}.")
            fields[name] = value
        fields["optimize_streaming_latency"] = _latency(data.get("optimizeStreamingLatency"))
        fields["voice_settings"] = _voice_settings(data.get("voiceSettings"))
        return cls(**fields)

    def to_wire(self) -> dict[str, Any]:
        """The camelCase JSON form, without unset fields."""
        optional = (
            ("voiceId", self.voice_id),
            ("modelId", self.model_id),
            ("outputFormat", self.output_format),
            ("optimizeStreamingLatency", self.optimize_streaming_latency),
        )
        data: dict[str, Any] = {
            "text": self.text,
            **{wire: value for wire, value in optional if value is not None},
        }
        if self.voice_settings is not None:
            data["voiceSettings"] = {
                _SETTINGS_WIRE[name]: value
                for name, value in self.voice_settings.to_upstream().items()
            }
        return data


_SETTINGS_WIRE: Final = {
    "stability": "stability",
    "similarity_boost": "similarityBoost",
    "style": "style",
    "use_speaker_boost": "useSpeakerBoost",
}


def _field_error(field: str, problem: str) -> InvalidRequestError:
    return InvalidRequestError(f"Invalid speech request: {field!r} {problem}")


def _latency(value: object) -> int | None:
    if value is None:
        return None
    # JSON has one number type: 2.0 is the whole number 2; 2.5 is not one.
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or value != int(value)
        or not 0 <= value <= MAX_STREAMING_LATENCY
    ):
        raise _field_error(
            "optimizeStreamingLatency",
            f"must be a whole number from 0 to {MAX_STREAMING_LATENCY} or null. "
            f"Received: {json.dumps(value)}",
        )
    return int(value)


def _voice_settings(value: object) -> ElevenLabsVoiceSettings | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _field_error("voiceSettings", f"must be an object or null, not {json_type(value)}.")
    settings: dict[str, Any] = {}
    for name, wire in _SETTINGS_WIRE.items():
        item = value.get(wire)
        if item is None:
            continue
        if name == "use_speaker_boost":
            if not isinstance(item, bool):
                raise _field_error(
                    f"voiceSettings.{wire}", f"must be true, false or null, not {json_type(item)}."
                )
        elif (
            isinstance(item, bool)
            or not isinstance(item, (int, float))
            or not math.isfinite(item)
            or not 0 <= item <= 1
        ):
            raise _field_error(
                f"voiceSettings.{wire}",
                f"must be a number from 0 to 1 or null. Received: {json.dumps(item)}",
            )
        settings[name] = item
    return ElevenLabsVoiceSettings(**settings) if settings else None


# --- what comes back -----------------------------------------------------------------------


@attrs.frozen(repr=False)
class SynthesizedSpeech:
    """Spoken audio: what :func:`synthesize_speech` returns, and the Python client too.

    Attributes:
        audio: The audio bytes, in ``mime_type``'s format, ready to play or save.
        mime_type: ElevenLabs' ``Content-Type``, else the one the format implies.
        provider: Who spoke: ``elevenlabs`` (a backend's answer may name another).
    """

    audio: bytes
    mime_type: str
    provider: str = "elevenlabs"

    def __repr__(self) -> str:
        return (
            f"SynthesizedSpeech(provider={self.provider!r}, mime_type={self.mime_type!r}, "
            f"audio=<{len(self.audio)} bytes>)"
        )

    def to_dict(self) -> dict[str, str]:
        """What the HTTP route answers: ``{"provider", "mimeType", "audioBase64"}``."""
        return {
            "provider": self.provider,
            "mimeType": self.mime_type,
            "audioBase64": base64.b64encode(self.audio).decode("ascii"),
        }


def mime_type_for(output_format: str) -> str:
    """The audio type an ElevenLabs format name implies (the original's table)."""
    for prefix, mime in (
        ("mp3", "audio/mpeg"),
        ("pcm", "audio/pcm"),
        ("wav", "audio/wav"),
        ("ulaw", "audio/basic"),
        ("opus", "audio/opus"),
        ("alaw", "audio/alaw"),
    ):
        if output_format.lower().startswith(prefix):
            return mime
    return "audio/mpeg"


# --- the upstream call ----------------------------------------------------------------------


@attrs.frozen(repr=False)
class SpeechUpstreamRequest:
    """The call to ElevenLabs, fully decided: URL (with query), headers and JSON body.

    ``repr`` hides the headers, which carry the ``xi-api-key``.

    Attributes:
        url: ``{base}/v1/text-to-speech/{voice_id}?output_format=...``.
        headers: Including ``xi-api-key``.
        body: ``text``, and ``model_id`` / ``voice_settings`` when set.
        output_format: The format asked for; names the audio type if ElevenLabs does not.
        secrets: Strings never to repeat in an error (the key).
    """

    url: str
    headers: Mapping[str, str]
    body: Mapping[str, Any]
    output_format: str
    secrets: tuple[str, ...] = ()

    def __repr__(self) -> str:
        return f"SpeechUpstreamRequest(url={self.url!r}, body=<{len(self.body)} keys>)"

    def to_httpx(self, timeout: float) -> httpx.Request:
        """An ``httpx.Request`` that gives up after ``timeout`` seconds per phase."""
        return post_request(self.url, self.headers, _encode_json(self.body), timeout)


def _voice_segment(voice_id: str) -> str:
    # One path segment whatever the id holds: '/', '?', '#', '%' and dots are encoded,
    # so "../../v1/user" stays a (wrong) voice id instead of reaching another endpoint.
    return quote(voice_id, safe="").replace(".", "%2E")


def build_speech_request(
    options: NavaiVoiceBackendOptions, request: SynthesizeSpeechRequest
) -> SpeechUpstreamRequest:
    """Decide the call to ElevenLabs, with no IO.

    Request values win over the server's defaults; ``voice_settings`` replace the
    default settings whole (as in the original).

    Raises:
        SpeechUnavailableError: ``tts_provider`` is not ``elevenlabs`` (404).
        InvalidRequestError: ``text`` is blank or longer than ``max_speech_text_chars``,
            or ``outputFormat`` is not a format name (400).
    """
    if options.tts_provider != "elevenlabs":
        raise SpeechUnavailableError
    text = request.text.strip()
    if not text:
        msg = 'text is required: send {"text": "..."} with the words to speak.'
        raise InvalidRequestError(msg)
    if len(text) > options.max_speech_text_chars:
        raise _field_error(
            "text",
            f"is {len(text)} characters long; this server speaks at most "
            f"{options.max_speech_text_chars} (max_speech_text_chars, "
            "NAVAI_SPEECH_MAX_TEXT_CHARS). Send it in parts.",
        )
    api_key, voice_id = options.elevenlabs_api_key, request.voice_id or options.elevenlabs_voice_id
    # Both are required when options with tts_provider 'elevenlabs' are built (and
    # attrs.evolve builds them again), so they are set whenever speech is on.
    assert api_key is not None
    assert voice_id is not None
    output_format = request.output_format or options.elevenlabs_output_format
    if not is_format_name(output_format):
        raise _field_error(
            "outputFormat",
            f"must be an ElevenLabs format name such as 'mp3_44100_128'. Received: "
            f"{output_format!r}",
        )
    latency = request.optimize_streaming_latency
    if latency is None:
        latency = options.elevenlabs_optimize_streaming_latency
    query = f"output_format={output_format}"
    if latency is not None:
        query += f"&optimize_streaming_latency={latency}"
    body: dict[str, Any] = {"text": text}
    model_id = request.model_id or options.elevenlabs_model_id
    if model_id:
        body["model_id"] = model_id
    settings = request.voice_settings or options.elevenlabs_voice_settings
    if settings is not None and not settings.is_empty:
        body["voice_settings"] = settings.to_upstream()
    return SpeechUpstreamRequest(
        url=f"{options.elevenlabs_base_url}/v1/text-to-speech/{_voice_segment(voice_id)}?{query}",
        headers={
            "xi-api-key": api_key,
            "Content-Type": "application/json",
            "Accept": mime_type_for(output_format),
        },
        body=body,
        output_format=output_format,
        secrets=(api_key,),
    )


def _elevenlabs_detail(status: int, content: bytes) -> str:
    """The message in an ElevenLabs error body.

    ElevenLabs answers ``{"detail": {"status", "message"}}``, ``{"detail": "..."}`` or,
    for validation errors, ``{"detail": [{"loc", "msg"}, ...]}``.
    """
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    detail = data.get("detail") if isinstance(data, dict) else None
    if isinstance(detail, dict):
        message = detail.get("message")
        if isinstance(message, str) and message:
            return message
    if isinstance(detail, str) and detail:
        return detail
    if isinstance(detail, list):
        messages = [
            str(item.get("msg")) for item in detail if isinstance(item, dict) and item.get("msg")
        ]
        if messages:
            return "; ".join(messages)
    return body_text(status, content)


_ELEVENLABS = Upstream(
    label="ElevenLabs text-to-speech",
    timeout_hint=(
        "Check that ElevenLabs (or ELEVENLABS_BASE_URL) is reachable, or raise "
        "NAVAI_ELEVENLABS_TIMEOUT."
    ),
    error_detail=_elevenlabs_detail,
)


def parse_speech_response(
    status_code: int,
    content_type: str | None,
    content: bytes,
    *,
    output_format: str,
    secrets: tuple[str, ...] = (),
) -> SynthesizedSpeech:
    """Turn ElevenLabs' answer into :class:`SynthesizedSpeech`, with no IO.

    Args:
        status_code: The upstream HTTP status.
        content_type: Its ``Content-Type`` header, if any.
        content: The body: audio on success, JSON on failure.
        output_format: The format asked for; names the audio type when the header is missing.
        secrets: Strings to scrub from any error message.

    Raises:
        UpstreamError: ElevenLabs answered an error (its 4xx kept, else 502), or a success
            that is not audio (JSON, or empty).
    """
    if status_code >= 400:  # noqa: PLR2004
        raise _ELEVENLABS.refused(status_code, content, secrets)
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "application/json" or media_type.startswith("text/"):
        raise _ELEVENLABS.error(status_code, f"the answer is {media_type}, not audio.", secrets)
    if not content:
        raise _ELEVENLABS.error(status_code, "the answer has no audio.", secrets)
    mime = (content_type or "").strip() or mime_type_for(output_format)
    return SynthesizedSpeech(audio=content, mime_type=mime)


def _speech_call(
    options: NavaiVoiceBackendOptions, request: SynthesizeSpeechRequest | Mapping[str, Any]
) -> UpstreamCall[SynthesizedSpeech]:
    if not isinstance(request, SynthesizeSpeechRequest):
        request = SynthesizeSpeechRequest.from_wire(request)
    upstream = build_speech_request(options, request)

    def parse(answer: Answer) -> SynthesizedSpeech:
        return parse_speech_response(
            answer.status_code,
            answer.headers.get("content-type"),
            answer.content,
            output_format=upstream.output_format,
            secrets=upstream.secrets,
        )

    return UpstreamCall(
        _ELEVENLABS,
        upstream,
        parse,
        timeout=options.elevenlabs_timeout_seconds,
        retry=options.retry,
    )


# --- the public pair ----------------------------------------------------------------------------


def synthesize_speech(
    options: NavaiVoiceBackendOptions,
    request: SynthesizeSpeechRequest | Mapping[str, Any],
    *,
    client: httpx.Client | None = None,
) -> SynthesizedSpeech:
    """Have ElevenLabs speak ``request.text`` (blocking; for scripts and WSGI).

    Args:
        options: The server's options; ``tts_provider`` must be ``elevenlabs``.
        request: A :class:`SynthesizeSpeechRequest` or its camelCase JSON form.
        client: A client to reuse (pooled connections); one is opened for this call when None.

    Returns:
        The audio and its type.

    Raises:
        SpeechUnavailableError: The server's ``tts_provider`` is not ``elevenlabs`` (404).
        InvalidRequestError: A request field is missing, of the wrong type, or too long (400).
        UpstreamError: ElevenLabs failed, after retries (its 4xx status, else 502).
        UpstreamTimeoutError: ElevenLabs did not answer within
            ``elevenlabs_timeout_seconds`` (504).
    """
    return send_call(_speech_call(options, request), client)


async def asynthesize_speech(
    options: NavaiVoiceBackendOptions,
    request: SynthesizeSpeechRequest | Mapping[str, Any],
    *,
    client: httpx.AsyncClient | None = None,
) -> SynthesizedSpeech:
    """The async twin of :func:`synthesize_speech`: same arguments, result and errors."""
    return await asend_call(_speech_call(options, request), client)

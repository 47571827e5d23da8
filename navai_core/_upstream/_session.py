"""The Realtime session: what a caller may ask for, and what OpenAI is sent.

:class:`CreateClientSecretRequest` is what a caller asks of a session (a mint and a
WebRTC call take the same), :func:`build_session_config` the one ``session`` object
OpenAI is sent for it, with the server's policies applied. Also what every OpenAI call
shares: the key it is made with, its headers, and how OpenAI's error bodies read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import attrs
import cattrs
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from navai_core._config._options import NavaiVoiceBackendOptions
from navai_core._upstream._instructions import build_session_instructions
from navai_core._upstream._request import Upstream, body_text
from navai_core.exceptions import (
    InvalidRequestError,
    MissingApiKeyError,
    PolicyViolationError,
    RequestApiKeyDisabledError,
)

__all__ = [
    "CreateClientSecretRequest",
    "build_session_config",
    "json_type",
    "openai_api",
    "openai_error_detail",
    "resolve_api_key",
    "upstream_headers",
]


_MISSING_KEY = "Missing API key. Configure openai_api_key or send apiKey in request."
_REQUEST_KEY_DISABLED = (
    "Passing apiKey from request is disabled. Set allow_api_key_from_request=True to enable it."
)


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
        msg = f"must be a string or null, not {json_type(value)}."
        raise TypeError(msg)
    return value


def json_type(value: object) -> str:
    """What a decoded JSON value is, for an error message: ``a number``, ``an array``..."""
    return _JSON_TYPES.get(type(value), type(value).__name__)


_JSON_TYPES = {
    bool: "a boolean",
    int: "a number",
    float: "a number",
    str: "a string",
    list: "an array",
    dict: "an object",
}


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


def resolve_api_key(options: NavaiVoiceBackendOptions, request: CreateClientSecretRequest) -> str:
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


def openai_error_detail(status: int, content: bytes) -> str:
    """The message of an OpenAI error body (``{"error": {"message"}}``), else its text."""
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
    return body_text(status, content)


_OPENAI_TIMEOUT_HINT = (
    "Check that OpenAI (or OPENAI_BASE_URL) is reachable, or raise NAVAI_OPENAI_TIMEOUT."
)


def openai_api(label: str) -> Upstream:
    """An OpenAI endpoint named ``label`` in errors, such as ``OpenAI client_secrets``."""
    return Upstream(
        label=label, timeout_hint=_OPENAI_TIMEOUT_HINT, error_detail=openai_error_detail
    )

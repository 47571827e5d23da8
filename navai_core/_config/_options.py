"""Backend options: what the server needs to mint client secrets.

Options are validated when they are built, so a misconfigured server fails at start
with a message naming the option (or the environment variable) and the value,
instead of answering every request with an error later.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import attrs

from navai_core._config._env import (
    boolean,
    env,
    env_nested,
    load,
    number,
    split_names,
    variable_of,
    whole,
)
from navai_core._config._speech_options import (
    DEFAULT_ELEVENLABS_BASE_URL,
    DEFAULT_ELEVENLABS_OUTPUT_FORMAT,
    DEFAULT_ELEVENLABS_TIMEOUT_SECONDS,
    DEFAULT_MAX_SPEECH_TEXT_CHARS,
    ElevenLabsVoiceSettings,
    SpeechProvider,
    check_latency,
    check_output_format,
    check_provider,
    provider,
    voice_settings,
)
from navai_core.exceptions import InvalidOptionError

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_INSTRUCTIONS",
    "DEFAULT_MODEL",
    "DEFAULT_VOICE",
    "NavaiVoiceBackendOptions",
    "RetryPolicy",
    "get_navai_voice_backend_options_from_env",
]

DEFAULT_MODEL = "gpt-realtime"
DEFAULT_VOICE = "marin"
DEFAULT_INSTRUCTIONS = "You are a helpful assistant."
DEFAULT_BASE_URL = "https://api.openai.com/v1"
MIN_TTL_SECONDS = 10
MAX_TTL_SECONDS = 7200


def _fail(option: str, value: object, message: str) -> InvalidOptionError:
    return InvalidOptionError(message, option=option, value=value)


def _positive_number(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value > 0:
        msg = f"{attribute.name} must be a number greater than 0. Received: {value!r}"
        raise _fail(attribute.name, value, msg)


def _non_negative_number(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
        msg = f"{attribute.name} must be a number of at least 0. Received: {value!r}"
        raise _fail(attribute.name, value, msg)


@attrs.frozen
class RetryPolicy:
    """How the upstream call to OpenAI is retried.

    Connection errors, ``429`` and ``5xx`` answers are retried with exponential
    backoff (``backoff_initial_seconds`` doubling up to ``backoff_max_seconds``);
    a ``Retry-After`` header is honoured instead when OpenAI sends one. Nothing ever
    waits past ``openai_timeout_seconds``: a wait that would, is not started.

    Attributes:
        max_attempts: Attempts in all, the first included. ``1`` turns retries off.
        backoff_initial_seconds: The wait before the first retry.
        backoff_max_seconds: The longest wait between two attempts.
    """

    max_attempts: int = attrs.field(default=3, metadata=env("NAVAI_OPENAI_MAX_ATTEMPTS", whole))
    backoff_initial_seconds: float = attrs.field(default=0.25, validator=_non_negative_number)
    backoff_max_seconds: float = attrs.field(default=2.0, validator=_non_negative_number)

    @max_attempts.validator
    def _check_attempts(self, _attribute: attrs.Attribute[int], value: object) -> None:
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 10:  # noqa: PLR2004
            msg = f"max_attempts must be a whole number from 1 to 10. Received: {value!r}"
            raise _fail("max_attempts", value, msg)

    def backoff(self, retry_number: int) -> float:
        """The wait before retry number ``retry_number`` (1 for the first retry)."""
        return float(
            min(self.backoff_max_seconds, self.backoff_initial_seconds * 2 ** (retry_number - 1))
        )


def _optional_text(value: str | None) -> str | None:
    """Blank strings count as unset, everywhere. Other types are left to the validator."""
    if not isinstance(value, str):
        return value
    return value.strip() or None


_text = attrs.validators.instance_of(str)
_optional = attrs.validators.optional(_text)


def _model(value: str | None) -> str:
    return _optional_text(value) or DEFAULT_MODEL


def _voice(value: str | None) -> str:
    return _optional_text(value) or DEFAULT_VOICE


def _instructions(value: str | None) -> str:
    return _optional_text(value) or DEFAULT_INSTRUCTIONS


def _base_url(value: object) -> object:
    # Non-strings pass through untouched, for the validator to name the field.
    text = _optional_text(value) if isinstance(value, str) else value
    if text is None:
        return DEFAULT_BASE_URL
    return text.rstrip("/") if isinstance(text, str) else text


def _names(value: Any) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):
        return frozenset(split_names(value))
    return frozenset(item.strip() for item in value if item.strip())


def _check_ttl(_instance: object, _attribute: attrs.Attribute[int], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not MIN_TTL_SECONDS <= value <= MAX_TTL_SECONDS
    ):
        # Word for word as the contract has it: clients may match on this text.
        msg = (
            f"client_secret_ttl_seconds must be between {MIN_TTL_SECONDS} and "
            f"{MAX_TTL_SECONDS}. Received: {value}"
        )
        raise _fail("client_secret_ttl_seconds", value, msg)


def _check_base_url(_instance: object, attribute: attrs.Attribute[str], value: str) -> None:
    if not value.startswith(("http://", "https://")):
        example = attribute.default
        msg = (
            f"{attribute.name} must be an http:// or https:// URL, such as "
            f"'{example}'. Received: {safe_url(value)!r}"
        )
        raise _fail(attribute.name, value, msg)


def _elevenlabs_base_url(value: object) -> object:
    text = _optional_text(value) if isinstance(value, str) else value
    if text is None:
        return DEFAULT_ELEVENLABS_BASE_URL
    return text.rstrip("/") if isinstance(text, str) else text


def _output_format(value: str | None) -> str:
    return _optional_text(value) or DEFAULT_ELEVENLABS_OUTPUT_FORMAT


def _positive_int(_instance: object, attribute: attrs.Attribute[int], value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        msg = f"{attribute.name} must be a whole number of at least 1. Received: {value!r}"
        raise _fail(attribute.name, value, msg)


def _mask(value: str | None) -> str:
    return "None" if value is None else "'***'"


def safe_url(url: str) -> str:
    """``url`` without any ``user:password@`` part, for messages and ``repr``."""
    scheme, sep, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" in authority:
        authority = "***@" + authority.rsplit("@", 1)[1]
    return f"{scheme}{sep}{authority}{slash}{path}"


@attrs.frozen(repr=False)
class NavaiVoiceBackendOptions:
    """Everything the backend needs to mint Realtime client secrets.

    Build it in code, or from the environment with :meth:`from_env`. Text fields
    treat blank strings as unset. Invalid values raise
    :class:`~navai_core.exceptions.InvalidOptionError` here, not at the first request.

    The API key is never shown by ``repr`` or ``str``.

    Attributes:
        openai_api_key: The server's OpenAI key. Always wins over a key sent by a request.
        default_model: Model when a request names none.
        default_voice: Voice when a request names none.
        default_instructions: Instructions when a request sends none.
        default_language: Adds ``Always reply in {language}.`` to the instructions.
        default_voice_accent: Adds ``Use a {accent} accent while speaking.``.
        default_voice_tone: Adds ``Use a {tone} tone while speaking.``.
        client_secret_ttl_seconds: Lifetime of a minted secret, 10 to 7200 seconds.
        allow_api_key_from_request: Accept ``apiKey`` from requests when the server has
            no key of its own. Off by default: browsers should never hold an OpenAI key.
        openai_base_url: Where OpenAI's REST API is (a proxy, or a fake one in tests).
        openai_organization: Sent as ``OpenAI-Organization`` when set.
        openai_project: Sent as ``OpenAI-Project`` when set.
        openai_timeout_seconds: Bound on the whole upstream call, retries included.
        retry: How failed upstream calls are retried within that bound.
        allowed_models: When set, requests may only ask for these models.
        allowed_voices: When set, requests may only ask for these voices.
        tts_provider: Who speaks: ``openai`` (the Realtime session's own voice) or
            ``elevenlabs`` (the session answers in text, and the browser has it spoken
            through ``POST /navai/speech/synthesize``).
        elevenlabs_api_key: The server's ElevenLabs key; needed for ``elevenlabs``.
        elevenlabs_base_url: Where ElevenLabs' REST API is.
        elevenlabs_voice_id: The voice when a request names none; needed for ``elevenlabs``.
        elevenlabs_model_id: The model when a request names none (ElevenLabs' default if unset).
        elevenlabs_output_format: Audio format, such as ``mp3_44100_128`` or ``pcm_16000``.
        elevenlabs_optimize_streaming_latency: 0 (none) to 4 (most), when set.
        elevenlabs_voice_settings: Default voice settings; a request's replace them whole.
        elevenlabs_timeout_seconds: Bound on the whole call to ElevenLabs, retries included.
        max_speech_text_chars: The longest text one synthesis request may send.
    """

    openai_api_key: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("OPENAI_API_KEY", secret=True),
    )
    default_model: str = attrs.field(
        default=DEFAULT_MODEL,
        converter=_model,
        validator=_text,
        metadata=env("OPENAI_REALTIME_MODEL"),
    )
    default_voice: str = attrs.field(
        default=DEFAULT_VOICE,
        converter=_voice,
        validator=_text,
        metadata=env("OPENAI_REALTIME_VOICE"),
    )
    default_instructions: str = attrs.field(
        default=DEFAULT_INSTRUCTIONS,
        converter=_instructions,
        validator=_text,
        metadata=env("OPENAI_REALTIME_INSTRUCTIONS"),
    )
    default_language: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("OPENAI_REALTIME_LANGUAGE"),
    )
    default_voice_accent: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("OPENAI_REALTIME_VOICE_ACCENT"),
    )
    default_voice_tone: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("OPENAI_REALTIME_VOICE_TONE"),
    )
    client_secret_ttl_seconds: int = attrs.field(
        default=600, validator=_check_ttl, metadata=env("OPENAI_REALTIME_CLIENT_SECRET_TTL", whole)
    )
    allow_api_key_from_request: bool = attrs.field(
        default=False,
        validator=attrs.validators.instance_of(bool),
        metadata=env("NAVAI_ALLOW_FRONTEND_API_KEY", boolean),
    )
    openai_base_url: str = attrs.field(
        default=DEFAULT_BASE_URL,
        converter=_base_url,
        validator=[_text, _check_base_url],
        metadata=env("OPENAI_BASE_URL"),
    )
    openai_organization: str | None = attrs.field(
        default=None, converter=_optional_text, validator=_optional, metadata=env("OPENAI_ORG_ID")
    )
    openai_project: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("OPENAI_PROJECT_ID"),
    )
    openai_timeout_seconds: float = attrs.field(
        default=10.0, validator=_positive_number, metadata=env("NAVAI_OPENAI_TIMEOUT", number)
    )
    retry: RetryPolicy = attrs.field(
        factory=RetryPolicy,
        validator=attrs.validators.instance_of(RetryPolicy),
        metadata=env_nested(RetryPolicy),
    )
    allowed_models: frozenset[str] | None = attrs.field(
        default=None, converter=_names, metadata=env("NAVAI_ALLOWED_MODELS", split_names)
    )
    allowed_voices: frozenset[str] | None = attrs.field(
        default=None, converter=_names, metadata=env("NAVAI_ALLOWED_VOICES", split_names)
    )
    tts_provider: SpeechProvider = attrs.field(
        default="openai",
        converter=provider,
        validator=check_provider,
        metadata=env("NAVAI_TTS_PROVIDER"),
    )
    elevenlabs_api_key: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("ELEVENLABS_API_KEY", secret=True),
    )
    elevenlabs_base_url: str = attrs.field(
        default=DEFAULT_ELEVENLABS_BASE_URL,
        converter=_elevenlabs_base_url,
        validator=[_text, _check_base_url],
        metadata=env("ELEVENLABS_BASE_URL"),
    )
    elevenlabs_voice_id: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("ELEVENLABS_VOICE_ID"),
    )
    elevenlabs_model_id: str | None = attrs.field(
        default=None,
        converter=_optional_text,
        validator=_optional,
        metadata=env("ELEVENLABS_MODEL_ID"),
    )
    elevenlabs_output_format: str = attrs.field(
        default=DEFAULT_ELEVENLABS_OUTPUT_FORMAT,
        converter=_output_format,
        validator=check_output_format,
        metadata=env("ELEVENLABS_OUTPUT_FORMAT"),
    )
    elevenlabs_optimize_streaming_latency: int | None = attrs.field(
        default=None,
        validator=check_latency,
        metadata=env("ELEVENLABS_OPTIMIZE_STREAMING_LATENCY", whole),
    )
    elevenlabs_voice_settings: ElevenLabsVoiceSettings | None = attrs.field(
        default=None,
        converter=voice_settings,
        validator=attrs.validators.optional(attrs.validators.instance_of(ElevenLabsVoiceSettings)),
        metadata=env_nested(ElevenLabsVoiceSettings),
    )
    elevenlabs_timeout_seconds: float = attrs.field(
        default=DEFAULT_ELEVENLABS_TIMEOUT_SECONDS,
        validator=_positive_number,
        metadata=env("NAVAI_ELEVENLABS_TIMEOUT", number),
    )
    max_speech_text_chars: int = attrs.field(
        default=DEFAULT_MAX_SPEECH_TEXT_CHARS,
        validator=_positive_int,
        metadata=env("NAVAI_SPEECH_MAX_TEXT_CHARS", whole),
    )

    def __attrs_post_init__(self) -> None:
        # The original only notices these at the first request; a server should not start.
        if self.tts_provider != "elevenlabs":
            return
        for option, what in (
            ("elevenlabs_api_key", "an ElevenLabs API key"),
            ("elevenlabs_voice_id", "a default ElevenLabs voice id"),
        ):
            if getattr(self, option) is None:
                variable = variable_of(type(self), option)
                msg = (
                    f"tts_provider 'elevenlabs' (NAVAI_TTS_PROVIDER=elevenlabs) needs {what}: "
                    f"set {option} ({variable})."
                )
                raise InvalidOptionError(msg, option=option, variable=variable)

    def __repr__(self) -> str:
        shown = {field.name: repr(getattr(self, field.name)) for field in attrs.fields(type(self))}
        shown["openai_api_key"] = _mask(self.openai_api_key)
        shown["openai_base_url"] = repr(safe_url(self.openai_base_url))
        shown["elevenlabs_api_key"] = _mask(self.elevenlabs_api_key)
        shown["elevenlabs_base_url"] = repr(safe_url(self.elevenlabs_base_url))
        fields = ", ".join(f"{name}={value}" for name, value in shown.items())
        return f"{type(self).__name__}({fields})"

    __str__ = __repr__

    @property
    def client_secrets_url(self) -> str:
        """The upstream endpoint minting goes to."""
        return f"{self.openai_base_url}/realtime/client_secrets"

    @property
    def speech_enabled(self) -> bool:
        """Whether the speech route synthesizes: ``tts_provider`` is ElevenLabs."""
        return self.tts_provider == "elevenlabs"

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> NavaiVoiceBackendOptions:
        """Build options from environment variables (``os.environ`` when ``env`` is None).

        See :func:`get_navai_voice_backend_options_from_env`.
        """
        return get_navai_voice_backend_options_from_env(env)


def get_navai_voice_backend_options_from_env(
    env: Mapping[str, str] | None = None,
) -> NavaiVoiceBackendOptions:
    """Build :class:`NavaiVoiceBackendOptions` from environment variables.

    Args:
        env: The variables to read; ``os.environ`` when None. Blank values count as unset.

    Returns:
        Validated options.

    Raises:
        InvalidOptionError: A variable has a value that cannot be used. The message
            names the variable and the value (``OPENAI_REALTIME_CLIENT_SECRET_TTL='5'``).
    """
    return load(NavaiVoiceBackendOptions, env)

"""Speech (text-to-speech) options: who speaks, and how ElevenLabs is called.

The names follow the original ``@navai/voice-backend`` (``NAVAI_TTS_PROVIDER``,
``ELEVENLABS_*``), but a value that cannot be used is an error when options are built
(the original silently falls back to OpenAI for a misspelt provider, and only notices a
missing ElevenLabs key at the first request).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Final, Literal

import attrs

from navai_core._config._env import boolean, env, number
from navai_core.exceptions import InvalidOptionError

__all__ = [
    "DEFAULT_ELEVENLABS_BASE_URL",
    "DEFAULT_ELEVENLABS_OUTPUT_FORMAT",
    "DEFAULT_MAX_SPEECH_TEXT_CHARS",
    "ElevenLabsVoiceSettings",
    "SpeechProvider",
]

SpeechProvider = Literal["openai", "elevenlabs"]

DEFAULT_ELEVENLABS_BASE_URL: Final = "https://api.elevenlabs.io"
DEFAULT_ELEVENLABS_OUTPUT_FORMAT: Final = "mp3_44100_128"
#: ElevenLabs takes 5,000 to 40,000 characters a request, by model (v3 the fewest); an
#: assistant's spoken reply is far shorter. The bound keeps one request from costing a
#: book's worth of characters.
DEFAULT_MAX_SPEECH_TEXT_CHARS: Final = 5000
DEFAULT_ELEVENLABS_TIMEOUT_SECONDS: Final = 30.0
MAX_STREAMING_LATENCY: Final = 4
_PROVIDERS: Final = ("openai", "elevenlabs")


def _fraction(_instance: object, attribute: attrs.Attribute[Any], value: object) -> None:
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, (int, float))
        or not math.isfinite(value)
        or not 0 <= value <= 1
    ):
        msg = f"{attribute.name} must be a number from 0 to 1. Received: {value!r}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


_optional_bool = attrs.validators.optional(attrs.validators.instance_of(bool))


@attrs.frozen
class ElevenLabsVoiceSettings:
    """ElevenLabs ``voice_settings``; a field left ``None`` is not sent (ElevenLabs decides).

    Attributes:
        stability: 0 to 1; lower is more expressive, higher more even.
        similarity_boost: 0 to 1; how closely to keep to the original voice.
        style: 0 to 1; style exaggeration (costs latency on some models).
        use_speaker_boost: Boost similarity to the original speaker.
    """

    stability: float | None = attrs.field(
        default=None, validator=_fraction, metadata=env("ELEVENLABS_STABILITY", number)
    )
    similarity_boost: float | None = attrs.field(
        default=None, validator=_fraction, metadata=env("ELEVENLABS_SIMILARITY_BOOST", number)
    )
    style: float | None = attrs.field(
        default=None, validator=_fraction, metadata=env("ELEVENLABS_STYLE", number)
    )
    use_speaker_boost: bool | None = attrs.field(
        default=None,
        validator=_optional_bool,
        metadata=env("ELEVENLABS_USE_SPEAKER_BOOST", boolean),
    )

    @property
    def is_empty(self) -> bool:
        """Whether no field is set (nothing to send)."""
        return all(getattr(self, field.name) is None for field in attrs.fields(type(self)))

    def to_upstream(self) -> dict[str, float | bool]:
        """The snake_case JSON ElevenLabs takes, without unset fields."""
        return {
            field.name: value
            for field in attrs.fields(type(self))
            if (value := getattr(self, field.name)) is not None
        }


def provider(value: object) -> object:
    """``openai`` when blank or unset; otherwise stripped and lower-cased for the validator."""
    if value is None:
        return "openai"
    if isinstance(value, str):
        return value.strip().lower() or "openai"
    return value


def check_provider(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    """``tts_provider`` is ``openai`` or ``elevenlabs``."""
    if value not in _PROVIDERS:
        msg = f"tts_provider must be 'openai' or 'elevenlabs'. Received: {value!r}"
        raise InvalidOptionError(msg, option="tts_provider", value=value)


def check_latency(_instance: object, attribute: attrs.Attribute[int | None], value: object) -> None:
    """ElevenLabs' ``optimize_streaming_latency`` is a whole number from 0 to 4."""
    if value is None:
        return
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= MAX_STREAMING_LATENCY
    ):
        msg = (
            f"{attribute.name} must be a whole number from 0 to {MAX_STREAMING_LATENCY}. "
            f"Received: {value!r}"
        )
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def check_output_format(_instance: object, _attribute: attrs.Attribute[str], value: object) -> None:
    """An ElevenLabs format name such as ``mp3_44100_128`` or ``pcm_16000``."""
    if not isinstance(value, str) or not is_format_name(value):
        msg = (
            "elevenlabs_output_format must be an ElevenLabs format name such as "
            f"'mp3_44100_128' or 'pcm_16000'. Received: {value!r}"
        )
        raise InvalidOptionError(msg, option="elevenlabs_output_format", value=value)


def is_format_name(value: str) -> bool:
    """Whether ``value`` could be an ElevenLabs format name (``mp3_44100_128``).

    ASCII letters, digits and ``_``, at most 40 of them: every format name, and nothing
    that could change the query string it is sent in.
    """
    return 0 < len(value) <= 40 and all(c.isascii() and (c.isalnum() or c == "_") for c in value)  # noqa: PLR2004


def voice_settings(value: object) -> object:
    """Accept a mapping of the settings' fields as well as the class; ``None`` stays."""
    if isinstance(value, Mapping):
        return ElevenLabsVoiceSettings(**value)
    return value

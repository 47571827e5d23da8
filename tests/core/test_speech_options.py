"""Speech options: the original's variable names, checked when options are built."""

from __future__ import annotations

from typing import Any

import pytest

from navai_core import (
    ElevenLabsVoiceSettings,
    NavaiVoiceBackendOptions,
    get_navai_voice_backend_options_from_env,
)
from navai_core.exceptions import InvalidOptionError

XI_KEY = "sk_elevenlabs_secret_0123456789"
HYBRID = {
    "NAVAI_TTS_PROVIDER": "elevenlabs",
    "ELEVENLABS_API_KEY": XI_KEY,
    "ELEVENLABS_VOICE_ID": "voice-1",
}


def test_every_variable_is_read() -> None:
    options = get_navai_voice_backend_options_from_env(
        {
            **HYBRID,
            "NAVAI_TTS_PROVIDER": " ElevenLabs ",
            "ELEVENLABS_BASE_URL": "https://eu.elevenlabs.example/",
            "ELEVENLABS_MODEL_ID": "eleven_flash_v2_5",
            "ELEVENLABS_OUTPUT_FORMAT": "pcm_16000",
            "ELEVENLABS_OPTIMIZE_STREAMING_LATENCY": "3",
            "ELEVENLABS_STABILITY": "0.4",
            "ELEVENLABS_SIMILARITY_BOOST": "1",
            "ELEVENLABS_STYLE": "0",
            "ELEVENLABS_USE_SPEAKER_BOOST": "false",
            "NAVAI_ELEVENLABS_TIMEOUT": "12.5",
            "NAVAI_SPEECH_MAX_TEXT_CHARS": "800",
        }
    )
    assert options.tts_provider == "elevenlabs"
    assert options.speech_enabled
    assert options.elevenlabs_api_key == XI_KEY
    assert options.elevenlabs_voice_id == "voice-1"
    assert options.elevenlabs_base_url == "https://eu.elevenlabs.example"
    assert options.elevenlabs_model_id == "eleven_flash_v2_5"
    assert options.elevenlabs_output_format == "pcm_16000"
    assert options.elevenlabs_optimize_streaming_latency == 3
    assert options.elevenlabs_voice_settings == ElevenLabsVoiceSettings(
        stability=0.4, similarity_boost=1.0, style=0.0, use_speaker_boost=False
    )
    assert options.elevenlabs_timeout_seconds == 12.5
    assert options.max_speech_text_chars == 800


def test_blank_values_are_unset() -> None:
    options = get_navai_voice_backend_options_from_env(
        {"NAVAI_TTS_PROVIDER": " ", "ELEVENLABS_OUTPUT_FORMAT": "", "ELEVENLABS_STABILITY": " "}
    )
    assert options == NavaiVoiceBackendOptions()
    assert not options.speech_enabled


@pytest.mark.parametrize(
    ("variable", "raw"),
    [
        ("NAVAI_TTS_PROVIDER", "elevnlabs"),
        ("ELEVENLABS_STABILITY", "high"),
        ("ELEVENLABS_STABILITY", "1.5"),
        ("ELEVENLABS_SIMILARITY_BOOST", "-0.1"),
        ("ELEVENLABS_STYLE", "nan"),
        ("ELEVENLABS_OPTIMIZE_STREAMING_LATENCY", "9"),
        ("ELEVENLABS_OPTIMIZE_STREAMING_LATENCY", "fast"),
        ("ELEVENLABS_USE_SPEAKER_BOOST", "maybe"),
        ("ELEVENLABS_OUTPUT_FORMAT", "mp3&x=1"),
        ("ELEVENLABS_BASE_URL", "ftp://elevenlabs"),
        ("NAVAI_ELEVENLABS_TIMEOUT", "0"),
        ("NAVAI_SPEECH_MAX_TEXT_CHARS", "0"),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(variable: str, raw: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env({**HYBRID, variable: raw})
    assert caught.value.variable == variable
    assert variable in caught.value.message
    assert repr(raw) in caught.value.message
    assert XI_KEY not in caught.value.message


@pytest.mark.parametrize(
    ("missing", "option"),
    [("ELEVENLABS_API_KEY", "elevenlabs_api_key"), ("ELEVENLABS_VOICE_ID", "elevenlabs_voice_id")],
)
def test_elevenlabs_without_key_or_voice_fails_at_build(missing: str, option: str) -> None:
    env = {**HYBRID, missing: "  "}
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env(env)
    assert caught.value.variable == missing
    assert caught.value.option == option
    assert f"set {option} ({missing})" in caught.value.message
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in caught.value.message


def test_openai_provider_needs_no_elevenlabs_settings() -> None:
    options = NavaiVoiceBackendOptions(tts_provider="openai")
    assert options.tts_provider == "openai"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("tts_provider", "polly"),
        ("tts_provider", 3),
        ("elevenlabs_optimize_streaming_latency", True),
        ("elevenlabs_optimize_streaming_latency", 5),
        ("elevenlabs_voice_settings", "calm"),
        ("max_speech_text_chars", 0),
        ("elevenlabs_timeout_seconds", -1),
    ],
)
def test_bad_values_in_code_name_the_field(field: str, value: Any) -> None:
    with pytest.raises((InvalidOptionError, TypeError)) as caught:
        NavaiVoiceBackendOptions(**{field: value})
    assert field in str(caught.value)


def test_voice_settings_validate_themselves() -> None:
    with pytest.raises(InvalidOptionError, match="similarity_boost must be a number from 0 to 1"):
        ElevenLabsVoiceSettings(similarity_boost=2)
    with pytest.raises(TypeError, match="use_speaker_boost"):
        ElevenLabsVoiceSettings(use_speaker_boost="yes")  # type: ignore[arg-type]
    assert ElevenLabsVoiceSettings().is_empty
    assert ElevenLabsVoiceSettings(style=0.5).to_upstream() == {"style": 0.5}


def test_the_elevenlabs_key_is_never_shown() -> None:
    options = get_navai_voice_backend_options_from_env(HYBRID)
    for text in (repr(options), str(options)):
        assert XI_KEY not in text
        assert "elevenlabs_api_key='***'" in text


def test_none_in_code_means_the_default() -> None:
    options = NavaiVoiceBackendOptions(
        tts_provider=None,  # type: ignore[arg-type]
        elevenlabs_base_url=None,  # type: ignore[arg-type]
        elevenlabs_output_format=None,  # type: ignore[arg-type]
    )
    assert options.tts_provider == "openai"
    assert options.elevenlabs_base_url == "https://api.elevenlabs.io"
    assert options.elevenlabs_output_format == "mp3_44100_128"

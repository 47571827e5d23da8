"""Fixtures shared by the core tests: a fake OpenAI on a real socket, a clean environment."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fake_openai import FakeOpenAI

# Every variable the options read; tests that touch os.environ start without them.
ENV_VARIABLES = (
    "OPENAI_API_KEY",
    "OPENAI_REALTIME_MODEL",
    "OPENAI_REALTIME_VOICE",
    "OPENAI_REALTIME_INSTRUCTIONS",
    "OPENAI_REALTIME_LANGUAGE",
    "OPENAI_REALTIME_VOICE_ACCENT",
    "OPENAI_REALTIME_VOICE_TONE",
    "OPENAI_REALTIME_CLIENT_SECRET_TTL",
    "NAVAI_ALLOW_FRONTEND_API_KEY",
    "OPENAI_BASE_URL",
    "OPENAI_ORG_ID",
    "OPENAI_PROJECT_ID",
    "NAVAI_OPENAI_TIMEOUT",
    "NAVAI_ALLOWED_MODELS",
    "NAVAI_ALLOWED_VOICES",
    "NAVAI_OPENAI_MAX_ATTEMPTS",
    "NAVAI_TTS_PROVIDER",
    "ELEVENLABS_API_KEY",
    "ELEVENLABS_BASE_URL",
    "ELEVENLABS_VOICE_ID",
    "ELEVENLABS_MODEL_ID",
    "ELEVENLABS_OUTPUT_FORMAT",
    "ELEVENLABS_OPTIMIZE_STREAMING_LATENCY",
    "ELEVENLABS_STABILITY",
    "ELEVENLABS_SIMILARITY_BOOST",
    "ELEVENLABS_STYLE",
    "ELEVENLABS_USE_SPEAKER_BOOST",
    "NAVAI_ELEVENLABS_TIMEOUT",
    "NAVAI_SPEECH_MAX_TEXT_CHARS",
)


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """``os.environ`` without any NAVAI/OpenAI variable; set what the test needs."""
    for name in ENV_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


@pytest.fixture
def fake_openai() -> Iterator[FakeOpenAI]:
    """A fake OpenAI listening on 127.0.0.1, stopped after the test."""
    with FakeOpenAI() as fake:
        yield fake

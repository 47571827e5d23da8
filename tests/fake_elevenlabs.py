"""A fake ElevenLabs text-to-speech server, on a real socket, for integration tests.

The same small HTTP/1.1 server as :mod:`tests.fake_openai` (scripted behaviours, every
request recorded), answering ``POST /v1/text-to-speech/{voice_id}`` instead::

    with FakeElevenLabs() as fake:
        options = NavaiVoiceBackendOptions(
            tts_provider="elevenlabs", elevenlabs_api_key="sk_test",
            elevenlabs_voice_id="voice-1", elevenlabs_base_url=fake.url,
        )
        synthesize_speech(options, {"text": "Hello"})
        assert fake.requests[-1].path.startswith("/v1/text-to-speech/voice-1?")

A success answers ``fake_audio(voice_id, text)`` with the content type the
``output_format`` query names (``audio/mpeg`` for ``mp3_*``, ``audio/pcm`` for ``pcm_*``),
so a test can check that the text and voice made it through. Errors are scripted with
``status(401, {"detail": {"status": "invalid_api_key", "message": "..."}})``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.fake_openai import FakeOpenAI

__all__ = ["TTS_PREFIX", "FakeElevenLabs", "fake_audio"]

TTS_PREFIX = "/v1/text-to-speech/"
_TYPES = {"mp3": "audio/mpeg", "pcm": "audio/pcm", "ulaw": "audio/basic", "wav": "audio/wav"}


def fake_audio(voice_id: str, text: str) -> bytes:
    """The bytes the fake answers for ``text`` in ``voice_id``: not audio, but checkable."""
    return b"\xff\xfbFAKE-MP3|" + voice_id.encode() + b"|" + text.encode()


class FakeElevenLabs(FakeOpenAI):
    """A scriptable fake of ElevenLabs' ``POST /v1/text-to-speech/{voice_id}``."""

    @property
    def url(self) -> str:
        """The base URL to use as ``elevenlabs_base_url``, like ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self.port}"

    def _is_endpoint(self, route: str) -> bool:
        # One segment after the prefix: a voice id that escaped its segment is a 404.
        return route.startswith(TTS_PREFIX) and "/" not in route[len(TTS_PREFIX) :]

    def _success(self, path: str, request_body: Any) -> tuple[bytes, str]:
        parts = urlsplit(path)
        voice_id = unquote(parts.path[len(TTS_PREFIX) :])
        output_format = parse_qs(parts.query).get("output_format", ["mp3_44100_128"])[0]
        text = request_body.get("text", "") if isinstance(request_body, dict) else ""
        content_type = _TYPES.get(output_format.split("_", 1)[0], "application/octet-stream")
        return fake_audio(voice_id, str(text)), content_type

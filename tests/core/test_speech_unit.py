"""Speech synthesis (hybrid voice), with ElevenLabs mocked by respx (no socket is opened).

The pure parts (request reader, builder, parser) are tested directly; the sync and
async drivers run the same scenarios through the ``speak`` fixture.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import respx

from navai_core import (
    ElevenLabsVoiceSettings,
    NavaiVoiceBackendOptions,
    RetryPolicy,
    SynthesizedSpeech,
    SynthesizeSpeechRequest,
    asynthesize_speech,
    build_client_secret_request,
    build_speech_request,
    parse_speech_response,
    synthesize_speech,
)
from navai_core.exceptions import (
    InvalidRequestError,
    SpeechUnavailableError,
    UpstreamError,
    UpstreamTimeoutError,
)

XI_KEY = "sk_elevenlabs_server_key_0123456789abcdef"
OPENAI_KEY = "sk-proj-openai-key-0123456789"
# Nothing listens on port 9 of 127.0.0.1: a request respx fails to catch cannot leave the host.
BASE = "http://127.0.0.1:9"
URL = f"{BASE}/v1/text-to-speech/voice-1?output_format=mp3_44100_128"
AUDIO = b"ID3\x04\x00fake-mp3-frames"
FAST = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)


def make_options(**overrides: Any) -> NavaiVoiceBackendOptions:
    values: dict[str, Any] = {
        "openai_api_key": OPENAI_KEY,
        "tts_provider": "elevenlabs",
        "elevenlabs_api_key": XI_KEY,
        "elevenlabs_voice_id": "voice-1",
        "elevenlabs_base_url": BASE,
        "retry": FAST,
        "elevenlabs_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return NavaiVoiceBackendOptions(**values)


def audio(content: bytes = AUDIO, content_type: str = "audio/mpeg") -> httpx.Response:
    return httpx.Response(200, content=content, headers={"content-type": content_type})


def eleven_error(status: int, message: str, **headers: str) -> httpx.Response:
    body = {"detail": {"status": "some_status", "message": message}}
    return httpx.Response(status, json=body, headers=headers)


Speak = Callable[..., SynthesizedSpeech]


@pytest.fixture(params=["sync", "async"])
def speak(request: pytest.FixtureRequest) -> Speak:
    """synthesize_speech, or its async twin run to completion."""
    if request.param == "sync":
        return synthesize_speech

    def run(*args: Any, **kwargs: Any) -> SynthesizedSpeech:
        return asyncio.run(asynthesize_speech(*args, **kwargs))

    return run


@pytest.fixture
def router() -> Iterator[respx.MockRouter]:
    with respx.mock(assert_all_mocked=True, assert_all_called=False, using="httpx") as mock:
        yield mock


@pytest.fixture
def upstream(router: respx.MockRouter) -> respx.Route:
    """``POST {BASE}/v1/text-to-speech/voice-1``; any other request fails the test."""
    return router.post(url__startswith=f"{BASE}/v1/text-to-speech/voice-1")


# --- reading a client's request ------------------------------------------------------------


def test_from_wire_reads_every_camel_case_field() -> None:
    request = SynthesizeSpeechRequest.from_wire(
        {
            "text": "Hola",
            "voiceId": "v2",
            "modelId": "eleven_flash_v2_5",
            "outputFormat": "pcm_16000",
            "optimizeStreamingLatency": 3.0,
            "voiceSettings": {
                "stability": 0.3,
                "similarityBoost": 1,
                "style": 0,
                "useSpeakerBoost": False,
            },
            "unknown": "ignored",
        }
    )
    assert request == SynthesizeSpeechRequest(
        text="Hola",
        voice_id="v2",
        model_id="eleven_flash_v2_5",
        output_format="pcm_16000",
        optimize_streaming_latency=3,
        voice_settings=ElevenLabsVoiceSettings(
            stability=0.3, similarity_boost=1, style=0, use_speaker_boost=False
        ),
    )
    assert request.to_wire()["voiceSettings"] == {
        "stability": 0.3,
        "similarityBoost": 1,
        "style": 0,
        "useSpeakerBoost": False,
    }


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({}, "text is required"),
        ({"text": None}, "text is required"),
        ({"text": 5}, "'text' must be a string, not a number."),
        ({"text": ["a"]}, "'text' must be a string, not an array."),
        ({"text": "hi", "voiceId": 3}, "'voiceId' must be a string or null, not a number."),
        ({"text": "hi", "modelId": True}, "'modelId' must be a string or null, not a boolean."),
        ({"text": "hi", "outputFormat": {}}, "'outputFormat' must be a string or null"),
        ({"text": "hi", "optimizeStreamingLatency": 9}, "'optimizeStreamingLatency' must be"),
        ({"text": "hi", "optimizeStreamingLatency": 1.5}, "'optimizeStreamingLatency' must be"),
        ({"text": "hi", "optimizeStreamingLatency": "2"}, "'optimizeStreamingLatency' must be"),
        ({"text": "hi", "voiceSettings": [1]}, "'voiceSettings' must be an object or null"),
        (
            {"text": "hi", "voiceSettings": {"stability": "high"}},
            "'voiceSettings.stability' must be a number from 0 to 1",
        ),
        (
            {"text": "hi", "voiceSettings": {"style": 2}},
            "'voiceSettings.style' must be a number from 0 to 1 or null. Received: 2",
        ),
        (
            {"text": "hi", "voiceSettings": {"useSpeakerBoost": "yes"}},
            "'voiceSettings.useSpeakerBoost' must be true, false or null, not a string.",
        ),
    ],
)
def test_from_wire_names_the_bad_field(body: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        SynthesizeSpeechRequest.from_wire(body)
    assert expected in caught.value.message
    assert caught.value.status_code == 400


def test_a_request_built_in_code_validates_itself() -> None:
    request = SynthesizeSpeechRequest(text="Hi", voice_settings={"style": 0.2}, voice_id="  ")
    assert request.voice_settings == ElevenLabsVoiceSettings(style=0.2)
    assert request.voice_id is None  # blank counts as unset
    with pytest.raises(ValueError, match=r"^optimize_streaming_latency must be a whole number"):
        SynthesizeSpeechRequest(text="Hi", optimize_streaming_latency=7)
    with pytest.raises(TypeError, match="text"):
        SynthesizeSpeechRequest(text=3)  # type: ignore[arg-type]


def test_to_wire_leaves_unset_fields_out() -> None:
    assert SynthesizeSpeechRequest(text="Hi").to_wire() == {"text": "Hi"}
    assert SynthesizeSpeechRequest(text="Hi", optimize_streaming_latency=0).to_wire() == {
        "text": "Hi",
        "optimizeStreamingLatency": 0,
    }


def test_from_wire_refuses_a_non_object() -> None:
    with pytest.raises(InvalidRequestError, match="must be a JSON object"):
        SynthesizeSpeechRequest.from_wire(["text"])


# --- the request builder --------------------------------------------------------------------


def test_builder_defaults() -> None:
    upstream = build_speech_request(make_options(), SynthesizeSpeechRequest(text="  Hello!  "))
    assert upstream.url == URL
    assert dict(upstream.headers) == {
        "xi-api-key": XI_KEY,
        "Content-Type": "application/json",
        "Accept": "audio/mpeg",
    }
    assert upstream.body == {"text": "Hello!"}
    assert upstream.secrets == (XI_KEY,)
    assert XI_KEY not in repr(upstream)


def test_builder_server_defaults_are_sent_snake_case() -> None:
    options = make_options(
        elevenlabs_model_id="eleven_multilingual_v2",
        elevenlabs_output_format="pcm_16000",
        elevenlabs_optimize_streaming_latency=2,
        elevenlabs_voice_settings={"stability": 0.4, "use_speaker_boost": True},
    )
    upstream = build_speech_request(options, SynthesizeSpeechRequest(text="Hi"))
    assert upstream.url == (
        f"{BASE}/v1/text-to-speech/voice-1?output_format=pcm_16000&optimize_streaming_latency=2"
    )
    assert upstream.headers["Accept"] == "audio/pcm"
    assert upstream.body == {
        "text": "Hi",
        "model_id": "eleven_multilingual_v2",
        "voice_settings": {"stability": 0.4, "use_speaker_boost": True},
    }


def test_builder_request_values_win_and_settings_replace_whole() -> None:
    options = make_options(
        elevenlabs_model_id="m-default",
        elevenlabs_voice_settings={"stability": 0.4, "style": 0.1},
    )
    request = SynthesizeSpeechRequest.from_wire(
        {
            "text": "Hi",
            "voiceId": "other",
            "modelId": "m-request",
            "outputFormat": "ulaw_8000",
            "optimizeStreamingLatency": 0,
            "voiceSettings": {"similarityBoost": 0.9},
        }
    )
    upstream = build_speech_request(options, request)
    assert upstream.url == (
        f"{BASE}/v1/text-to-speech/other?output_format=ulaw_8000&optimize_streaming_latency=0"
    )
    assert upstream.body == {
        "text": "Hi",
        "model_id": "m-request",
        "voice_settings": {"similarity_boost": 0.9},
    }


@pytest.mark.parametrize(
    ("voice_id", "segment"),
    [
        ("../../v1/user", "%2E%2E%2F%2E%2E%2Fv1%2Fuser"),
        ("..", "%2E%2E"),
        ("a/b?c#d", "a%2Fb%3Fc%23d"),
        ("x%2Fy", "x%252Fy"),
        ("voz ñ", "voz%20%C3%B1"),
    ],
)
def test_voice_id_is_one_path_segment(voice_id: str, segment: str) -> None:
    upstream = build_speech_request(
        make_options(), SynthesizeSpeechRequest(text="Hi", voice_id=voice_id)
    )
    prefix = f"{BASE}/v1/text-to-speech/"
    assert upstream.url == f"{prefix}{segment}?output_format=mp3_44100_128"
    # And httpx sends it so: no dot segment removed, nothing decoded into a '/'.
    sent = upstream.to_httpx(1.0)
    assert sent.url.raw_path == f"/v1/text-to-speech/{segment}?output_format=mp3_44100_128".encode()
    assert sent.url.host == "127.0.0.1"


def test_builder_refuses_when_the_provider_is_openai() -> None:
    options = NavaiVoiceBackendOptions(openai_api_key=OPENAI_KEY)
    with pytest.raises(SpeechUnavailableError) as caught:
        build_speech_request(options, SynthesizeSpeechRequest(text="Hi"))
    assert caught.value.status_code == 404
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in caught.value.message


def test_builder_refuses_blank_and_overlong_text() -> None:
    with pytest.raises(InvalidRequestError, match="text is required"):
        build_speech_request(make_options(), SynthesizeSpeechRequest(text="   "))
    options = make_options(max_speech_text_chars=10)
    build_speech_request(options, SynthesizeSpeechRequest(text="a" * 10))
    with pytest.raises(InvalidRequestError) as caught:
        build_speech_request(options, SynthesizeSpeechRequest(text="a" * 11))
    assert caught.value.message == (
        "Invalid speech request: 'text' is 11 characters long; this server speaks at most 10 "
        "(max_speech_text_chars, NAVAI_SPEECH_MAX_TEXT_CHARS). Send it in parts."
    )


def test_builder_refuses_an_output_format_that_is_not_a_name() -> None:
    with pytest.raises(InvalidRequestError, match="'outputFormat' must be an ElevenLabs format"):
        build_speech_request(
            make_options(), SynthesizeSpeechRequest(text="Hi", output_format="mp3&x=1")
        )


# --- minting in hybrid mode -------------------------------------------------------------------


def test_mint_with_elevenlabs_asks_for_a_text_only_session() -> None:
    options = make_options(allowed_voices=["marin"])
    upstream = build_client_secret_request(options, None)
    session = upstream.body["session"]
    assert session["output_modalities"] == ["text"]
    assert "audio" not in session
    # The voice is not sent, so the voice policy does not refuse a request's voice.
    build_client_secret_request(options, None)


# --- the response parser ----------------------------------------------------------------------


def test_parser_keeps_elevenlabs_content_type() -> None:
    speech = parse_speech_response(
        200, "audio/mpeg; charset=binary", AUDIO, output_format="pcm_16000"
    )
    assert speech.mime_type == "audio/mpeg; charset=binary"
    assert speech.audio == AUDIO
    assert speech.to_dict() == {
        "provider": "elevenlabs",
        "mimeType": "audio/mpeg; charset=binary",
        "audioBase64": base64.b64encode(AUDIO).decode(),
    }
    assert "fake-mp3" not in repr(speech)


@pytest.mark.parametrize(
    ("output_format", "mime"),
    [
        ("mp3_22050_32", "audio/mpeg"),
        ("pcm_24000", "audio/pcm"),
        ("wav_44100", "audio/wav"),
        ("ulaw_8000", "audio/basic"),
        ("opus_48000_64", "audio/opus"),
        ("something_new", "audio/mpeg"),
    ],
)
def test_parser_falls_back_to_the_format_type(output_format: str, mime: str) -> None:
    assert parse_speech_response(200, None, AUDIO, output_format=output_format).mime_type == mime


@pytest.mark.parametrize(
    ("status", "content", "expected_status", "message"),
    [
        (
            401,
            b'{"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}',
            401,
            "ElevenLabs text-to-speech failed (401): Invalid API key",
        ),
        (
            422,
            b'{"detail": [{"loc": ["body", "text"], "msg": "field required"}]}',
            422,
            "ElevenLabs text-to-speech failed (422): field required",
        ),
        (404, b'{"detail": "voice_not_found"}', 404, "(404): voice_not_found"),
        (400, b"plain words", 400, "(400): plain words"),
        (400, b"", 400, "(400): Bad Request"),
        (499, b"", 499, "(499): no message"),
        (400, b'{"detail": {"status": "bad"}}', 400, '(400): {"detail": {"status": "bad"}}'),
        (422, b'{"detail": [{"loc": []}]}', 422, '(422): {"detail": [{"loc": []}]}'),
        (500, b'{"detail": {"message": "boom"}}', 502, "(500): boom"),
    ],
)
def test_parser_errors(status: int, content: bytes, expected_status: int, message: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_speech_response(status, "application/json", content, output_format="mp3_44100_128")
    assert caught.value.status_code == expected_status
    assert caught.value.upstream_status == status
    assert message in caught.value.message


@pytest.mark.parametrize(
    ("content_type", "content", "message"),
    [
        ("application/json", b'{"ok": true}', "the answer is application/json, not audio."),
        ("text/html", b"<html>", "the answer is text/html, not audio."),
        ("audio/mpeg", b"", "the answer has no audio."),
    ],
)
def test_parser_refuses_a_success_that_is_not_audio(
    content_type: str, content: bytes, message: str
) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_speech_response(200, content_type, content, output_format="mp3_44100_128")
    assert caught.value.status_code == 502
    assert caught.value.message == f"ElevenLabs text-to-speech failed (200): {message}"


def test_parser_scrubs_the_key_from_an_echoed_error() -> None:
    content = json.dumps({"detail": {"message": f"bad key {XI_KEY}"}}).encode()
    with pytest.raises(UpstreamError) as caught:
        parse_speech_response(401, None, content, output_format="mp3", secrets=(XI_KEY,))
    assert XI_KEY not in str(caught.value)


# --- the drivers, sync and async ---------------------------------------------------------------


def test_success(speak: Speak, upstream: respx.Route) -> None:
    upstream.mock(return_value=audio())
    speech = speak(make_options(), {"text": "Hello there"})
    assert speech == SynthesizedSpeech(audio=AUDIO, mime_type="audio/mpeg")
    assert upstream.call_count == 1
    request = upstream.calls[0].request
    assert str(request.url) == URL
    assert request.headers["xi-api-key"] == XI_KEY
    assert json.loads(request.content) == {"text": "Hello there"}


def test_reuses_a_given_client(upstream: respx.Route) -> None:
    upstream.mock(return_value=audio())
    with httpx.Client() as client:
        synthesize_speech(make_options(), SynthesizeSpeechRequest(text="a"), client=client)
        synthesize_speech(make_options(), SynthesizeSpeechRequest(text="b"), client=client)
    assert upstream.call_count == 2


def test_4xx_keeps_its_status_and_is_not_retried(speak: Speak, upstream: respx.Route) -> None:
    upstream.mock(return_value=eleven_error(401, "Invalid API key"))
    with pytest.raises(UpstreamError) as caught:
        speak(make_options(), {"text": "Hi"})
    assert caught.value.status_code == 401
    assert str(caught.value) == "ElevenLabs text-to-speech failed (401): Invalid API key"
    assert upstream.call_count == 1


def test_5xx_is_retried_then_502(
    speak: Speak, upstream: respx.Route, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.mock(return_value=eleven_error(503, "busy"))
    with caplog.at_level(logging.WARNING, logger="navai"), pytest.raises(UpstreamError) as caught:
        speak(make_options(), {"text": "Hi"})
    assert caught.value.status_code == 502
    assert caught.value.message == "ElevenLabs text-to-speech failed (503): busy"
    assert upstream.call_count == 3
    assert "ElevenLabs text-to-speech attempt 1 of 3 failed" in caplog.text
    assert XI_KEY not in caplog.text


def test_429_then_success(speak: Speak, upstream: respx.Route) -> None:
    upstream.mock(side_effect=[eleven_error(429, "too_many_concurrent_requests"), audio()])
    assert speak(make_options(), {"text": "Hi"}).audio == AUDIO
    assert upstream.call_count == 2


def test_connection_error_is_502_without_the_key(speak: Speak, upstream: respx.Route) -> None:
    upstream.mock(side_effect=httpx.ConnectError(f"refused {XI_KEY}"))
    with pytest.raises(UpstreamError) as caught:
        speak(make_options(), {"text": "Hi"})
    assert caught.value.status_code == 502
    assert caught.value.message.startswith(
        "ElevenLabs text-to-speech failed (502): could not connect to 127.0.0.1:9"
    )
    assert XI_KEY not in str(caught.value)


def test_timeout_is_504(speak: Speak, upstream: respx.Route) -> None:
    upstream.mock(side_effect=httpx.ReadTimeout("slow"))
    with pytest.raises(UpstreamTimeoutError) as caught:
        speak(make_options(elevenlabs_timeout_seconds=2), {"text": "Hi"})
    assert caught.value.status_code == 504
    assert caught.value.message == (
        "ElevenLabs text-to-speech failed (504): no answer within 2 seconds. Check that "
        "ElevenLabs (or ELEVENLABS_BASE_URL) is reachable, or raise NAVAI_ELEVENLABS_TIMEOUT."
    )


def test_bad_request_never_reaches_elevenlabs(speak: Speak, router: respx.MockRouter) -> None:
    with pytest.raises(InvalidRequestError):
        speak(make_options(), {"text": 3})
    with pytest.raises(SpeechUnavailableError):
        speak(NavaiVoiceBackendOptions(), {"text": "Hi"})
    assert not router.calls

"""examples/hybrid_voice.py, run as a user would: a subprocess against both fakes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import navai_core
from tests.fake_elevenlabs import FakeElevenLabs, fake_audio
from tests.fake_openai import FakeOpenAI, status

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "hybrid_voice.py"
NAVAI_HOME = Path(navai_core.__file__).resolve().parents[1]
OPENAI_KEY = "sk-proj-example-key-0123456789"
XI_KEY = "sk_eleven-example-key-0123456789"


@pytest.fixture(scope="module")
def eleven() -> Iterator[FakeElevenLabs]:
    with FakeElevenLabs() as fake:
        yield fake


def run_example(env: dict[str, str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # A clean environment: nothing from the developer's shell (real keys!) leaks in.
    python_path = [str(NAVAI_HOME), *filter(None, [os.environ.get("PYTHONPATH")])]
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(python_path)}
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**base, **env},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def hybrid_env(fake_openai: FakeOpenAI, eleven: FakeElevenLabs) -> dict[str, str]:
    return {
        "OPENAI_API_KEY": OPENAI_KEY,
        "OPENAI_BASE_URL": fake_openai.url,
        "NAVAI_TTS_PROVIDER": "elevenlabs",
        "ELEVENLABS_API_KEY": XI_KEY,
        "ELEVENLABS_VOICE_ID": "voice-1",
        "ELEVENLABS_BASE_URL": eleven.url,
    }


def test_mints_text_only_and_writes_the_audio(
    fake_openai: FakeOpenAI, eleven: FakeElevenLabs, tmp_path: Path
) -> None:
    fake_openai.clear()
    eleven.clear()
    result = run_example(
        hybrid_env(fake_openai, eleven), "Hola, ¿en qué te ayudo?", "--out", "r.mp3", cwd=tmp_path
    )
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    assert printed["speech"] == {"provider": "elevenlabs"}
    assert printed["mimeType"] == "audio/mpeg"
    audio = (tmp_path / "r.mp3").read_bytes()
    assert audio == fake_audio("voice-1", "Hola, ¿en qué te ayudo?")
    assert printed["bytes"] == len(audio)
    [minted] = fake_openai.requests
    assert minted.body["session"]["output_modalities"] == ["text"]
    [spoken] = eleven.requests
    assert spoken.headers["xi-api-key"] == XI_KEY


def test_refuses_without_the_elevenlabs_provider(fake_openai: FakeOpenAI, tmp_path: Path) -> None:
    env = {"OPENAI_API_KEY": OPENAI_KEY, "OPENAI_BASE_URL": fake_openai.url}
    result = run_example(env, "Hi", cwd=tmp_path)
    assert result.returncode == 1
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in result.stderr


def test_an_elevenlabs_failure_is_a_clean_error(
    fake_openai: FakeOpenAI, eleven: FakeElevenLabs, tmp_path: Path
) -> None:
    eleven.clear()
    eleven.enqueue(status(401, {"detail": {"status": "invalid_api_key", "message": "bad key"}}))
    result = run_example(hybrid_env(fake_openai, eleven), "Hi", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr == "error: ElevenLabs text-to-speech failed (401): bad key\n"
    assert XI_KEY not in result.stderr
    assert not (tmp_path / "reply.mp3").exists()

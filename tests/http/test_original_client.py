"""The original browser client, unchanged, against both adapters.

`@navai/voice-frontend`'s `createNavaiBackendClient` (pinned in package-lock.json) runs
in Node against our real servers: secrets, listing and execution must read exactly as it
expects, including `ok: false` failures surfacing their `details`.
"""

from __future__ import annotations

import base64
import json
import subprocess
from pathlib import Path

import pytest

from tests.fake_elevenlabs import FakeElevenLabs, fake_audio
from tests.servers import install_node_package

from .conftest import XI_KEY, Served

HERE = Path(__file__).parents[1] / "node_client"
pytestmark = pytest.mark.integration


@pytest.fixture(scope="session")
def node_client() -> Path:
    """Install the pinned client once (from the npm registry), or say why we cannot."""
    install_node_package(HERE, "@navai/voice-frontend")
    return HERE / "client.mjs"


def run_client(script: Path, url: str) -> dict:
    done = subprocess.run(
        ["node", str(script), url],
        cwd=HERE,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return json.loads(done.stdout)


def test_original_frontend_client_works_unchanged(node_client: Path, server: Served) -> None:
    out = run_client(node_client, server.url)

    assert out["secret"]["ok"], out["secret"]
    assert out["secret"]["value"]["value"].startswith("ek_test_")
    assert isinstance(out["secret"]["value"]["expires_at"], int)
    assert out["secret"]["value"]["speech"] == {"provider": "openai"}
    assert out["secretDefaults"]["ok"], out["secretDefaults"]

    listed = out["list"]["value"]
    names = {item["name"] for item in listed["functions"]}
    assert {"add", "explode", "whoami", "counter_plus"} <= names
    add = next(item for item in listed["functions"] if item["name"] == "add")
    assert add == {
        "name": "add",
        "description": "Add two whole numbers.",
        "source": "app_functions/tools.py#add",
    }
    assert listed["warnings"] == []  # broken.py's failure is in the server log only

    assert out["add"] == {"ok": True, "value": 5}
    assert out["addArgs"] == {"ok": True, "value": 9}
    assert out["explode"] == {"ok": False, "message": "the widget is broken"}
    assert out["refuse"] == {"ok": False, "message": "Order B-7 was not found."}
    assert out["unknown"]["ok"] is False
    assert json.loads(out["unknown"]["message"])["error"] == "Unknown or disallowed function."

    # Speech is off on this server: the client throws the JSON error it was given.
    assert out["speech"]["ok"] is False
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in json.loads(out["speech"]["message"])["error"]


def test_original_frontend_client_hybrid_voice(
    node_client: Path, hybrid: tuple[Served, FakeElevenLabs]
) -> None:
    server, eleven = hybrid
    out = run_client(node_client, server.url)

    assert out["secret"]["ok"], out["secret"]
    assert out["secret"]["value"]["speech"] == {"provider": "elevenlabs"}
    assert server.fake.requests[0].body["session"]["output_modalities"] == ["text"]

    speech = out["speech"]
    assert speech["ok"], speech
    assert speech["value"]["provider"] == "elevenlabs"
    assert speech["value"]["mimeType"] == "audio/mpeg"
    audio = base64.b64decode(speech["value"]["audioBase64"])
    assert audio == fake_audio("voice-default", "Hola, ¿qué tal?")

    voiced = out["speechVoice"]
    assert voiced["ok"], voiced
    assert voiced["value"]["mimeType"] == "audio/pcm"
    sent = next(request for request in eleven.requests if "voice-b" in request.path)
    assert sent.path == "/v1/text-to-speech/voice-b?output_format=pcm_16000"
    assert sent.headers["xi-api-key"] == XI_KEY
    assert sent.body == {
        "text": "Hi",
        "voice_settings": {"stability": 0.5, "use_speaker_boost": True},
    }

    assert out["speechBad"]["ok"] is False
    assert "'text' must be a string" in json.loads(out["speechBad"]["message"])["error"]

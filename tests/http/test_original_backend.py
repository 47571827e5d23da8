"""NavaiBackendClient against the original Node backend, so it is proven on more than ours.

`@navai/voice-backend` 0.1.3 (pinned in tests/node_backend/package-lock.json) runs under
Express as its README sets it up, minting through a fake OpenAI and speaking through a
fake ElevenLabs (both on 127.0.0.1). It differs from ours where the client must cope:
no parameter schemas, a ``speech`` provider in the mint answer, and Express's HTML error
page when a function throws.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from navai_core import AsyncNavaiBackendClient, NavaiBackendClient
from navai_core.exceptions import BackendError, UnknownBackendFunctionError
from tests.fake_openai import FakeOpenAI
from tests.servers import install_node_package, serve_asgi, serve_process

pytestmark = pytest.mark.integration

HERE = Path(__file__).parents[1] / "node_backend"
AUDIO = b"ID3\x04 not really an mp3 \x00\xff"
TOOLS_JS = """\
export function add(payload) { return payload.a + payload.b; }
export function explode() { throw new Error("the widget is broken"); }
"""


@pytest.fixture(scope="session")
def node_backend() -> Path:
    """Install the pinned backend once (from the npm registry), or say why we cannot."""
    install_node_package(HERE, "@navai/voice-backend")
    return HERE / "server.mjs"


class FakeElevenLabs:
    """``POST /v1/text-to-speech/{voice}``, answering :data:`AUDIO`; records requests."""

    def __init__(self) -> None:
        self.requests: list[dict[str, object]] = []
        self.app = Starlette(
            routes=[Route("/v1/text-to-speech/{voice}", self.speak, methods=["POST"])]
        )

    async def speak(self, request: Request) -> Response:
        self.requests.append(
            {
                "voice": request.path_params["voice"],
                "query": dict(request.query_params),
                "key": request.headers.get("xi-api-key"),
                "body": await request.json(),
            }
        )
        return Response(AUDIO, media_type="audio/mpeg")


@pytest.fixture(scope="module")
def eleven() -> FakeElevenLabs:
    return FakeElevenLabs()


@pytest.fixture(scope="module")
def original(
    node_backend: Path, eleven: FakeElevenLabs, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    base = tmp_path_factory.mktemp("node-app")
    tools = base / "src" / "ai" / "functions-modules"
    tools.mkdir(parents=True)
    (tools / "tools.js").write_text(TOOLS_JS, encoding="utf-8")
    with FakeOpenAI() as fake, serve_asgi(eleven.app) as eleven_url:
        env = {
            "PATH": os.environ.get("PATH", ""),
            "NAVAI_TEST_OPENAI_URL": fake.url,
            "OPENAI_API_KEY": "sk-original-backend-key-0123",
            "NAVAI_FUNCTIONS_BASE_DIR": str(base),
            "NAVAI_TTS_PROVIDER": "elevenlabs",
            "ELEVENLABS_API_KEY": "xi-test-key",
            "ELEVENLABS_VOICE_ID": "voice-default",
            "ELEVENLABS_BASE_URL": eleven_url,
        }
        with serve_process(
            lambda port: ["node", str(node_backend), str(port)], env=env, cwd=HERE
        ) as started:
            yield started.url


@pytest.fixture
def client(original: str) -> Iterator[NavaiBackendClient]:
    with NavaiBackendClient(original) as backend:
        yield backend


def test_mint_reads_the_secret_and_the_speech_provider(client: NavaiBackendClient) -> None:
    secret = client.create_client_secret(model="gpt-realtime", language="Spanish")
    assert secret.value.startswith("ek_test_")
    assert isinstance(secret.expires_at, int)
    assert secret.speech_provider == "elevenlabs"


def test_list_has_the_functions_without_schemas(client: NavaiBackendClient) -> None:
    result = client.list_functions(strict=True)
    add = next(item for item in result.functions if item.name == "add")
    assert add.description == "Call exported function add."
    assert add.source == "src/ai/functions-modules/tools.js#add"
    assert add.parameters is None
    assert {item.name for item in result.functions} == {"add", "explode"}
    assert result.warnings == ()


def test_execute_success_unknown_and_a_throw(client: NavaiBackendClient) -> None:
    assert client.execute_function("ADD", {"a": 2, "b": 3}) == 5
    with pytest.raises(UnknownBackendFunctionError) as unknown:
        client.execute_function("nope", {})
    assert unknown.value.available == ["add", "explode"]
    # A throw is Express's HTML error page (500): its text becomes the message.
    with pytest.raises(BackendError) as thrown:
        client.execute_function("explode", {})
    assert thrown.value.status_code == 500
    assert str(thrown.value).startswith("Error: the widget is broken")
    assert "<" not in str(thrown.value)


def test_speech_is_decoded_audio(client: NavaiBackendClient, eleven: FakeElevenLabs) -> None:
    speech = client.synthesize_speech(
        "Hola", voice_id="voice-2", output_format="mp3_22050_32", voice_settings={"stability": 0.4}
    )
    assert (speech.audio, speech.mime_type, speech.provider) == (AUDIO, "audio/mpeg", "elevenlabs")
    sent = eleven.requests[-1]
    assert sent["voice"] == "voice-2"
    assert sent["query"] == {"output_format": "mp3_22050_32"}
    assert sent["key"] == "xi-test-key"
    assert sent["body"] == {"text": "Hola", "voice_settings": {"stability": 0.4}}


@pytest.mark.asyncio
async def test_the_async_client_too(original: str) -> None:
    async with AsyncNavaiBackendClient(original) as client:
        assert (await client.create_client_secret()).value.startswith("ek_test_")
        assert await client.execute_function("add", {"a": 1, "b": 1}) == 2
        speech = await client.synthesize_speech("Hi")
        assert base64.b64encode(speech.audio) == base64.b64encode(AUDIO)

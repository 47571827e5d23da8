"""NavaiBackendClient (and its async twin) against our real servers, both adapters.

The same servers the contract suite runs (uvicorn for Starlette, waitress for WSGI, a
fake OpenAI on a socket): the client must read every row of CONTRACT.md §5 as the
original clients do, and raise the typed errors its docs promise.
"""

from __future__ import annotations

import socket

import pytest

from navai_core import AsyncNavaiBackendClient, NavaiBackendClient, RetryPolicy
from navai_core.exceptions import (
    AuthorizationError,
    BackendError,
    BackendFunctionError,
    BackendUnavailableError,
    UnknownBackendFunctionError,
)
from tests.fake_elevenlabs import fake_audio
from tests.fake_openai import status

from .conftest import SERVER_KEY, Served, default_options

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served_config() -> dict:
    # A development server: its listing shows the load warnings (broken.py), which
    # these tests read through the client.
    return {"expose_load_warnings": True}


@pytest.fixture
def client(server: Served):
    with NavaiBackendClient(server.url) as backend:
        yield backend


def test_mint_through_the_client(server: Served, client: NavaiBackendClient) -> None:
    secret = client.create_client_secret(voice="alloy", language="Spanish")
    assert secret.value.startswith("ek_test_")
    assert isinstance(secret.expires_at, int)
    assert secret.speech_provider == "openai"
    sent = server.fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert sent.body["session"]["audio"] == {"output": {"voice": "alloy"}}
    assert sent.body["session"]["instructions"].endswith("\nAlways reply in Spanish.")


def test_mint_refused_upstream_keeps_status_and_message(
    server: Served, client: NavaiBackendClient
) -> None:
    server.fake.enqueue(status(400, {"error": {"message": "Unknown voice 'zzz'."}}))
    with pytest.raises(BackendError) as caught:
        client.create_client_secret(voice="zzz")
    assert caught.value.status_code == 400
    assert caught.value.error == "OpenAI client_secrets failed (400): Unknown voice 'zzz'."
    assert str(caught.value) == caught.value.error


def test_list_has_typed_definitions_with_schemas(client: NavaiBackendClient) -> None:
    result = client.list_functions()
    add = next(item for item in result.functions if item.name == "add")
    assert add.description == "Add two whole numbers."
    assert add.source == "app_functions/tools.py#add"
    assert add.parameters is not None
    assert add.parameters["required"] == ["a", "b"]
    assert add.parameters["properties"]["a"]["type"] == "integer"
    assert any("broken.py" in warning for warning in result.warnings)


@pytest.mark.parametrize(
    ("payload", "result"),
    [({"a": 2, "b": 3}, 5), ({"args": [4, 5]}, 9), ({"kwargs": {"a": 1, "b": 1}}, 2)],
)
def test_execute_returns_the_result(client: NavaiBackendClient, payload, result) -> None:
    assert client.execute_function("add", payload) == result


def test_execute_failures_are_typed_as_the_table_says(client: NavaiBackendClient) -> None:
    with pytest.raises(BackendFunctionError) as raised:
        client.execute_function("explode")
    assert (raised.value.status_code, raised.value.error, str(raised.value)) == (
        200,
        "Function execution failed.",
        "the widget is broken",
    )

    with pytest.raises(BackendFunctionError, match=r"^Order B-7 was not found\.$"):
        client.execute_function("refuse", {"order_id": "B-7"})

    with pytest.raises(BackendFunctionError) as refused:
        client.execute_function("add", {"a": "two", "b": 1})
    assert refused.value.status_code == 400
    assert refused.value.error == "Invalid arguments."
    assert "'a'" in (refused.value.details or "")

    with pytest.raises(BackendFunctionError) as slow:
        client.execute_function("nap", {"seconds": 5})
    assert (slow.value.status_code, slow.value.error, slow.value.function_name) == (
        504,
        "Function timed out.",
        "nap",
    )

    with pytest.raises(UnknownBackendFunctionError) as unknown:
        client.execute_function("nope")
    assert "add" in unknown.value.available

    with pytest.raises(BackendError, match=r"^function_name is required\.$") as nameless:
        client.execute_function("  ")
    assert nameless.value.status_code == 400


@pytest.mark.asyncio
async def test_the_async_client_reads_the_same(server: Served) -> None:
    async with AsyncNavaiBackendClient(server.url) as client:
        secret = await client.create_client_secret()
        assert secret.value.startswith("ek_test_")
        listed = await client.list_functions(strict=True)
        assert "counter_plus" in {item.name for item in listed.functions}
        assert (
            await client.execute_function(
                "counter_plus", {"constructorArgs": {"start": 1}, "methodArgs": {"n": 2}}
            )
            == 3
        )
        with pytest.raises(BackendFunctionError, match="the widget is broken"):
            await client.execute_function("explode")


def test_missing_key_is_401_with_the_servers_message(serve_with, fake_openai) -> None:
    with (
        serve_with(default_options(fake_openai, openai_api_key=None)) as http,
        NavaiBackendClient(str(http.base_url)) as client,
        pytest.raises(BackendError) as caught,
    ):
        client.create_client_secret()
    assert caught.value.status_code == 401
    assert str(caught.value) == (
        "Missing API key. Configure openai_api_key or send apiKey in request."
    )


def _authorize(request) -> bool:
    if request.headers.get("authorization") is None:
        raise AuthorizationError("Sign in first.")
    return request.headers["authorization"] == "Bearer let-me-in"


def test_headers_reach_an_authorize_hook(serve_with) -> None:
    with serve_with(authorize=_authorize) as http:
        url = str(http.base_url)
        with NavaiBackendClient(url, headers={"Authorization": "Bearer let-me-in"}) as client:
            assert client.execute_function("add", {"a": 1, "b": 2}) == 3
        with NavaiBackendClient(url) as client:
            with pytest.raises(BackendError, match=r"^Sign in first\.$") as caught:
                client.execute_function("add", {"a": 1, "b": 2})
            assert caught.value.status_code == 401
            # The listing degrades to a warning, as the original clients' does.
            assert client.list_functions().warnings == (
                "[navai] Failed to load backend functions (401).",
            )


def test_custom_paths_match_the_servers(serve_with) -> None:
    paths = {
        "client_secret_path": "/api/voice/secret",
        "functions_list_path": "/api/voice/functions",
        "functions_execute_path": "/api/voice/execute",
    }
    with serve_with(**paths) as http, NavaiBackendClient(str(http.base_url), **paths) as client:
        assert client.create_client_secret().value.startswith("ek_test_")
        assert client.list_functions(strict=True).functions
        assert client.execute_function("add", {"a": 1, "b": 2}) == 3


def test_a_backend_that_is_not_there() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    retry = RetryPolicy(max_attempts=2, backoff_initial_seconds=0)
    with NavaiBackendClient(f"http://127.0.0.1:{port}", retry=retry) as client:
        with pytest.raises(BackendUnavailableError, match=f"127.0.0.1:{port}"):
            client.execute_function("add")
        (warning,) = client.list_functions().warnings
        assert warning.startswith("[navai] Failed to load backend functions: Could not reach")


# --- hybrid voice: the Python client against our speech route ---------------------------------


def test_hybrid_voice_through_the_client(hybrid) -> None:
    server, eleven = hybrid
    with NavaiBackendClient(server.url) as backend:
        secret = backend.create_client_secret()
        speech = backend.synthesize_speech("Hola", voice_id="voice-b", output_format="pcm_16000")
    assert secret.speech_provider == "elevenlabs"
    assert server.fake.requests[-1].body["session"]["output_modalities"] == ["text"]
    assert (speech.provider, speech.mime_type) == ("elevenlabs", "audio/pcm")
    assert speech.audio == fake_audio("voice-b", "Hola")
    assert eleven.requests[-1].path == "/v1/text-to-speech/voice-b?output_format=pcm_16000"


@pytest.mark.asyncio
async def test_speech_errors_reach_the_async_client_as_backend_errors(server: Served) -> None:
    async with AsyncNavaiBackendClient(server.url) as backend:
        with pytest.raises(BackendError) as caught:
            await backend.synthesize_speech("Hola")
    assert caught.value.status_code == 404
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in caught.value.error

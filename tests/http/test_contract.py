"""CONTRACT.md §5, every row, run unchanged against the Starlette app and the WSGI callable.

Each adapter is served by a real server on 127.0.0.1 (uvicorn, waitress) and minting
goes to a fake OpenAI on a real socket. A test that passes for one adapter and fails for
the other means logic leaked into an adapter.
"""

from __future__ import annotations

import base64
import json
import logging
import socket
from urllib.parse import urlsplit

import pytest

from navai_core import NavaiVoiceBackendOptions
from navai_core.exceptions import AuthorizationError
from tests.fake_elevenlabs import FakeElevenLabs, fake_audio
from tests.fake_openai import broken_json, delay, drop, status

from .conftest import SERVER_KEY, XI_KEY, Served, default_options, hybrid_options

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=["", "/api"], ids=["root", "mounted"])
def prefix(request: pytest.FixtureRequest) -> str:
    """Every test also runs with the app mounted under ``/api`` (Starlette ``Mount``,
    werkzeug's ``DispatcherMiddleware``): a prefix changes nothing but the URL."""
    return str(request.param)


MINT = "/navai/realtime/client-secret"
LIST = "/navai/functions"
EXECUTE = "/navai/functions/execute"
SPEECH = "/navai/speech/synthesize"


def assert_json_error(response, status_code: int) -> dict:
    assert response.status_code == status_code, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body, dict)
    assert "Traceback" not in response.text
    return body


def execute(server: Served, name: str, payload=None, **extra):
    return server.client.post(EXECUTE, json={"function_name": name, "payload": payload}, **extra)


# --- minting -----------------------------------------------------------------------------


def test_mint_answers_value_and_expiry(server: Served) -> None:
    response = server.client.post(MINT, json={})
    assert response.status_code == 200
    body = response.json()
    assert body["value"].startswith("ek_test_")
    assert isinstance(body["expires_at"], int)
    assert body["speech"] == {"provider": "openai"}
    assert response.headers["cache-control"] == "no-store"
    sent = server.fake.requests[-1]
    assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
    assert sent.body["session"]["model"] == "gpt-realtime"
    assert sent.body["expires_after"] == {"anchor": "created_at", "seconds": 600}


def test_mint_passes_camel_case_fields_upstream(server: Served) -> None:
    response = server.client.post(
        MINT,
        json={
            "model": "gpt-realtime-mini",
            "voice": "alloy",
            "instructions": "Be brief.",
            "language": "Spanish",
            "voiceAccent": "neutral Latin American",
            "voiceTone": "friendly",
        },
    )
    assert response.status_code == 200
    session = server.fake.requests[-1].body["session"]
    assert session["model"] == "gpt-realtime-mini"
    assert session["audio"] == {"output": {"voice": "alloy"}}
    assert session["instructions"] == (
        "Be brief.\nAlways reply in Spanish.\n"
        "Use a neutral Latin American accent while speaking.\nUse a friendly tone while speaking."
    )


def test_mint_without_body_uses_defaults(server: Served) -> None:
    response = server.client.post(MINT)
    assert response.status_code == 200
    assert server.fake.requests[-1].body["session"]["audio"]["output"]["voice"] == "marin"


def test_request_key_is_never_forwarded_when_server_has_one(server: Served) -> None:
    response = server.client.post(MINT, json={"apiKey": "sk-browser-key-should-not-travel"})
    assert response.status_code == 200
    assert server.fake.requests[-1].headers["authorization"] == f"Bearer {SERVER_KEY}"


def test_mint_field_of_wrong_type_is_400(server: Served) -> None:
    body = assert_json_error(server.client.post(MINT, json={"model": 5}), 400)
    assert "'model'" in body["error"]


def test_upstream_4xx_keeps_status_and_message(server: Served) -> None:
    server.fake.enqueue(status(400, {"error": {"message": "Unknown model 'nope'."}}))
    body = assert_json_error(server.client.post(MINT, json={"model": "nope"}), 400)
    assert body == {"error": "OpenAI client_secrets failed (400): Unknown model 'nope'."}


def test_upstream_5xx_is_502_after_retries(server: Served) -> None:
    server.fake.enqueue(status(503, {"error": {"message": "overloaded"}}), status(503, "down"))
    body = assert_json_error(server.client.post(MINT, json={}), 502)
    assert body["error"].startswith("OpenAI client_secrets failed (503):")
    assert len(server.fake.requests) == 2


def test_upstream_5xx_then_success_is_retried(server: Served) -> None:
    server.fake.enqueue(status(500, {"error": {"message": "hiccup"}}))
    assert server.client.post(MINT, json={}).status_code == 200
    assert len(server.fake.requests) == 2


def test_upstream_broken_json_is_502(server: Served) -> None:
    server.fake.enqueue(broken_json())
    body = assert_json_error(server.client.post(MINT, json={}), 502)
    assert "not valid JSON" in body["error"]


def test_upstream_timeout_is_504(server: Served) -> None:
    server.fake.enqueue(delay(3))
    body = assert_json_error(server.client.post(MINT, json={}), 504)
    assert body["error"].startswith("OpenAI client_secrets failed (504)")


def test_missing_key_is_401(serve_with, fake_openai) -> None:
    options = default_options(fake_openai, openai_api_key=None)
    with serve_with(options) as client:
        body = assert_json_error(client.post(MINT, json={}), 401)
    assert body["error"] == "Missing API key. Configure openai_api_key or send apiKey in request."
    assert "OPENAI_API_KEY" in body["hint"]  # the variable the server's operator sets
    assert set(body) == {"error", "hint"}
    assert fake_openai.requests == []


def test_request_key_refused_when_not_allowed_is_403(serve_with, fake_openai) -> None:
    options = default_options(fake_openai, openai_api_key=None)
    with serve_with(options) as client:
        body = assert_json_error(client.post(MINT, json={"apiKey": "sk-from-browser-1234"}), 403)
    assert body == {
        "error": "Passing apiKey from request is disabled. "
        "Set allow_api_key_from_request=True to enable it."
    }
    assert fake_openai.requests == []


def test_request_key_used_when_allowed_and_server_has_none(serve_with, fake_openai) -> None:
    options = default_options(fake_openai, openai_api_key=None, allow_api_key_from_request=True)
    with serve_with(options) as client:
        assert client.post(MINT, json={"apiKey": "sk-from-browser-1234"}).status_code == 200
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-from-browser-1234"


def test_unreachable_upstream_is_502(serve_with, fake_openai) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = default_options(fake_openai, openai_base_url=f"http://127.0.0.1:{port}/v1")
    with serve_with(options) as client:
        body = assert_json_error(client.post(MINT, json={}), 502)
    assert "could not connect to 127.0.0.1" in body["error"]


def test_disallowed_model_is_refused(serve_with, fake_openai) -> None:
    options = default_options(fake_openai, allowed_models=["gpt-realtime"])
    with serve_with(options) as client:
        body = assert_json_error(client.post(MINT, json={"model": "gpt-4o-realtime"}), 403)
        assert client.post(MINT, json={"model": "gpt-realtime"}).status_code == 200
    assert "gpt-4o-realtime" in body["error"]


# --- listing ------------------------------------------------------------------------------


def test_list_has_items_with_schema_and_warnings(server: Served) -> None:
    response = server.client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"items", "warnings"}
    by_name = {item["name"]: item for item in body["items"]}
    assert {"add", "whoami", "explode", "refuse", "nap", "doze", "counter_plus"} <= set(by_name)
    add = by_name["add"]
    assert set(add) == {"name", "description", "source", "parameters"}
    assert add["description"] == "Add two whole numbers."
    assert add["source"] == "app_functions/tools.py#add"
    assert add["parameters"]["properties"]["a"]["type"] == "integer"
    assert add["parameters"]["properties"]["a"]["description"] == "The first number."
    assert add["parameters"]["required"] == ["a", "b"]
    assert "context" not in by_name["whoami"]["parameters"].get("properties", {})
    # broken.py failed to load: that goes to the server log, not to every caller.
    assert body["warnings"] == []


def test_list_shows_load_warnings_when_asked(serve_with) -> None:
    with serve_with(expose_load_warnings=True) as client:
        warnings = client.get(LIST).json()["warnings"]
    assert any(w.startswith("[navai] Failed to load app_functions/broken.py") for w in warnings)


def test_list_is_stable_across_calls(server: Served) -> None:
    assert server.client.get(LIST).content == server.client.get(LIST).content


# --- executing ----------------------------------------------------------------------------


def test_execute_success(server: Served) -> None:
    response = execute(server, "add", {"a": 2, "b": 3})
    assert response.status_code == 200
    assert response.json() == {
        "ok": True,
        "function_name": "add",
        "source": "app_functions/tools.py#add",
        "result": 5,
    }


@pytest.mark.parametrize(
    "payload",
    [{"args": [2, 3]}, {"args": [2], "kwargs": {"b": 3}}, {"a": 2, "b": 3}],
    ids=["args", "args-kwargs", "keywords"],
)
def test_execute_binding_forms(server: Served, payload) -> None:
    assert execute(server, "add", payload).json()["result"] == 5


def test_execute_name_is_trimmed_and_case_insensitive(server: Served) -> None:
    body = execute(server, "  ADD ", {"a": 1, "b": 1}).json()
    assert body["ok"] is True
    assert body["function_name"] == "add"


def test_execute_class_method(server: Served) -> None:
    payload = {"constructorArgs": {"start": 10}, "methodArgs": {"n": 5}}
    assert execute(server, "counter_plus", payload).json()["result"] == 15


def test_execute_async_function(server: Served) -> None:
    assert execute(server, "nap", {"seconds": 0.01}).json()["result"] == "rested"


def test_function_that_raises_is_ok_false_with_details(server: Served) -> None:
    response = execute(server, "explode")
    assert response.status_code == 200
    assert response.json() == {
        "ok": False,
        "function_name": "explode",
        "error": "Function execution failed.",
        "details": "the widget is broken",
    }


def test_tool_error_message_reaches_the_caller(server: Served) -> None:
    body = execute(server, "refuse", {"order_id": "A-1"}).json()
    assert body["ok"] is False
    assert body["details"] == "Order A-1 was not found."


@pytest.mark.parametrize(
    ("payload", "parameter"),
    [
        ({"a": "two", "b": 1}, "a"),
        ({"a": 3.9, "b": 1}, "a"),
        ({"a": 1}, "b"),
        ({"kwargs": {"a": 1, "b": 2, "c": 3}}, "c"),
        ({"args": [1, 2, 3]}, None),
    ],
    ids=["string-for-int", "float-for-int", "missing", "unknown-key", "too-many"],
)
def test_bad_arguments_are_400_naming_the_parameter(server: Served, payload, parameter) -> None:
    body = assert_json_error(execute(server, "add", payload), 400)
    assert body["ok"] is False
    assert body["function_name"] == "add"
    assert body["error"] == "Invalid arguments."
    if parameter is not None:
        assert repr(parameter) in body["details"] or f"`{parameter}`" in body["details"]


def test_function_timeout_is_504(server: Served) -> None:
    body = assert_json_error(execute(server, "nap", {"seconds": 5}), 504)
    assert body["ok"] is False
    assert body["function_name"] == "nap"
    assert body["error"] == "Function timed out."


def test_sync_function_timeout_is_504(server: Served) -> None:
    body = assert_json_error(execute(server, "doze", {"seconds": 0.8}), 504)
    assert body["error"] == "Function timed out."


@pytest.mark.parametrize("name", ["nap", "doze"])
def test_a_function_timeout_is_logged_once(server: Served, caplog, name: str) -> None:
    caplog.set_level(logging.WARNING, logger="navai")
    assert_json_error(execute(server, name, {"seconds": 0.8}), 504)
    logged = [record for record in caplog.records if "did not finish" in record.getMessage()]
    assert len(logged) == 1, [record.getMessage() for record in logged]


def test_a_failed_mint_is_logged_once(server: Served, caplog) -> None:
    caplog.set_level(logging.WARNING, logger="navai")
    server.fake.enqueue(delay(3))
    assert_json_error(server.client.post(MINT, json={}), 504)
    logged = [record for record in caplog.records if "client_secrets failed" in record.getMessage()]
    assert len(logged) == 1, [record.getMessage() for record in logged]


def test_missing_function_name_is_400(server: Served) -> None:
    for body in ({}, {"function_name": ""}, {"function_name": "   "}, {"function_name": None}):
        answer = assert_json_error(server.client.post(EXECUTE, json=body), 400)
        assert answer == {"error": "function_name is required."}


@pytest.mark.parametrize(
    ("name", "kind"),
    [(123, "a number"), (True, "a boolean"), (["add"], "an array"), ({"n": 1}, "an object")],
)
def test_function_name_of_wrong_type_says_so(server: Served, name, kind: str) -> None:
    answer = assert_json_error(server.client.post(EXECUTE, json={"function_name": name}), 400)
    # The contract's message stays (clients match it); the detail names the real problem.
    assert answer == {
        "error": "function_name is required.",
        "details": f"function_name must be a string, not {kind}.",
    }


def test_unknown_function_is_404_with_available_names(server: Served) -> None:
    body = assert_json_error(execute(server, "system"), 404)
    assert body["error"] == "Unknown or disallowed function."
    assert "add" in body["available_functions"]
    assert body["details"] == "No function named 'system'."


def test_unknown_function_suggests_the_closest_name(server: Served) -> None:
    body = assert_json_error(execute(server, " Ad "), 404)
    assert body["details"] == "No function named 'Ad'. Did you mean 'add'?"
    assert assert_json_error(execute(server, "countr_plus"), 404)["details"].endswith(
        "Did you mean 'counter_plus'?"
    )


@pytest.mark.parametrize("path", [MINT, EXECUTE])
def test_json_nested_too_deeply_says_so(server: Served, path: str) -> None:
    content = b'{"payload": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    response = server.client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    assert "nested too deeply" in assert_json_error(response, 400)["error"]


def test_non_object_payload_is_400(server: Served) -> None:
    body = assert_json_error(execute(server, "add", [1, 2]), 400)
    assert "payload" in body["error"]


def test_context_receives_request_headers(server: Served) -> None:
    body = execute(server, "whoami", None, headers={"X-User": "alice"}).json()
    assert body["result"] == {"user": "alice", "function": "whoami", "has_request": True}


# --- every route: bodies, methods, paths ---------------------------------------------------


@pytest.mark.parametrize("path", [MINT, EXECUTE, SPEECH])
@pytest.mark.parametrize(
    "content",
    [b"{not json", b"[1, 2]", b'"text"', b"\xff\xfe\x00binary"],
    ids=["malformed", "array", "string", "binary"],
)
def test_malformed_or_non_object_json_is_400(server: Served, path: str, content: bytes) -> None:
    response = server.client.post(
        path, content=content, headers={"content-type": "application/json"}
    )
    body = assert_json_error(response, 400)
    assert body["error"]


@pytest.mark.parametrize("path", [MINT, EXECUTE, SPEECH])
def test_non_json_content_type_is_415(server: Served, path: str) -> None:
    response = server.client.post(
        path,
        content=b"function_name=add",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert "application/json" in assert_json_error(response, 415)["error"]


@pytest.mark.parametrize("path", [MINT, EXECUTE, SPEECH])
def test_body_over_limit_is_413(serve_with, path: str) -> None:
    with serve_with(max_body_bytes=1000) as client:
        big = json.dumps({"function_name": "add", "payload": {"a": "x" * 2000}}).encode()
        body = assert_json_error(
            client.post(path, content=big, headers={"content-type": "application/json"}), 413
        )
        assert "1000 bytes" in body["error"]
        # Without Content-Length (chunked), the limit is enforced while reading.
        chunks = iter([big[:600], big[600:]])
        response = client.post(path, content=chunks, headers={"content-type": "application/json"})
        assert_json_error(response, 413)


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("GET", MINT, "POST"),
        ("PUT", MINT, "POST"),
        ("POST", LIST, "GET"),
        ("GET", EXECUTE, "POST"),
        ("DELETE", EXECUTE, "POST"),
        ("GET", SPEECH, "POST"),
    ],
)
def test_wrong_method_is_405(server: Served, method: str, path: str, allowed: str) -> None:
    response = server.client.request(method, path)
    body = assert_json_error(response, 405)
    assert allowed in body["error"]
    assert response.headers["allow"] == allowed


def test_unknown_path_is_json_404(server: Served) -> None:
    assert assert_json_error(server.client.get("/nowhere"), 404)["error"]


def test_functions_routes_can_be_switched_off(serve_with) -> None:
    with serve_with(enable_functions=False) as client:
        assert_json_error(client.get(LIST), 404)
        assert_json_error(client.post(EXECUTE, json={"function_name": "add"}), 404)
        assert client.post(MINT, json={}).status_code == 200


def test_paths_are_configurable(serve_with) -> None:
    with serve_with(
        client_secret_path="/api/voice/secret",
        functions_list_path="/api/voice/functions",
        functions_execute_path="/api/voice/execute",
        speech_synthesize_path="/api/voice/speak",
    ) as client:
        assert client.post("/api/voice/secret", json={}).status_code == 200
        assert client.get("/api/voice/functions").status_code == 200
        answer = client.post(
            "/api/voice/execute", json={"function_name": "add", "payload": {"a": 1, "b": 2}}
        )
        assert answer.json()["result"] == 3
        assert_json_error(client.get(LIST), 404)
        assert_json_error(client.post(SPEECH, json={"text": "hi"}), 404)
        speak = assert_json_error(client.post("/api/voice/speak", json={"text": "hi"}), 404)
        assert "NAVAI_TTS_PROVIDER=elevenlabs" in speak["error"]


# --- the authorize hook --------------------------------------------------------------------


def _authorize(request) -> bool | None:
    token = request.headers.get("authorization")
    if token is None:
        raise AuthorizationError("Sign in first.")
    return token == "Bearer let-me-in"


def test_authorize_hook_guards_every_route(serve_with) -> None:
    with serve_with(authorize=_authorize) as client:
        assert assert_json_error(client.post(MINT, json={}), 401) == {"error": "Sign in first."}
        denied = client.get(LIST, headers={"authorization": "Bearer wrong"})
        assert assert_json_error(denied, 403) == {"error": "This request is not authorized."}
        allowed = client.post(
            EXECUTE,
            json={"function_name": "add", "payload": {"a": 1, "b": 1}},
            headers={"authorization": "Bearer let-me-in"},
        )
        assert allowed.json()["result"] == 2


def test_authorize_hook_sees_the_route(serve_with) -> None:
    seen: list[str | None] = []

    def record(request) -> None:
        seen.append(request.route)

    with serve_with(authorize=record) as client:
        client.post(MINT, json={})
        client.get(LIST)
        client.post(EXECUTE, json={"function_name": "add", "payload": {"a": 1, "b": 1}})
        client.post(SPEECH, json={"text": "hi"})
    assert seen == ["client_secret", "functions_list", "functions_execute", "speech_synthesize"]


def test_key_never_in_any_response(server: Served) -> None:
    server.fake.enqueue(
        status(401, {"error": {"message": f"Incorrect API key provided: {SERVER_KEY}."}})
    )
    texts = [
        server.client.post(MINT, json={}).text,
        server.client.post(MINT, json={"model": 1}).text,
        server.client.get(LIST).text,
        execute(server, "explode").text,
        server.client.post(SPEECH, json={"text": "hi"}).text,
    ]
    for text in texts:
        assert SERVER_KEY not in text
        assert SERVER_KEY[:12] not in text


def test_options_repr_hides_key() -> None:
    options = NavaiVoiceBackendOptions(openai_api_key=SERVER_KEY)
    assert SERVER_KEY not in repr(options)
    assert urlsplit(options.client_secrets_url).path == "/v1/realtime/client_secrets"


def test_a_key_sent_as_a_function_name_is_not_echoed(server: Served) -> None:
    body = assert_json_error(execute(server, "sk-proj-pasted-by-mistake-1234"), 404)
    assert "pasted-by-mistake" not in json.dumps(body)
    assert body["details"] == "No function named 'sk-***'."


# --- speech (hybrid voice) ----------------------------------------------------------------


Hybrid = tuple[Served, FakeElevenLabs]


def test_speech_is_off_by_default_with_a_json_404_saying_how(server: Served) -> None:
    body = assert_json_error(server.client.post(SPEECH, json={"text": "Hello"}), 404)
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in body["error"]
    assert server.fake.requests == []


def test_hybrid_mint_is_text_only_and_says_elevenlabs(hybrid: Hybrid) -> None:
    server, _ = hybrid
    response = server.client.post(MINT, json={"voice": "alloy"})
    assert response.status_code == 200
    assert response.json()["speech"] == {"provider": "elevenlabs"}
    session = server.fake.requests[-1].body["session"]
    assert session["output_modalities"] == ["text"]
    assert "audio" not in session


def test_speech_answers_base64_audio(hybrid: Hybrid) -> None:
    server, eleven = hybrid
    response = server.client.post(SPEECH, json={"text": "  Hola, ¿qué tal?  "})
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    body = response.json()
    assert set(body) == {"provider", "mimeType", "audioBase64"}
    assert body["provider"] == "elevenlabs"
    assert body["mimeType"] == "audio/mpeg"
    assert base64.b64decode(body["audioBase64"]) == fake_audio("voice-default", "Hola, ¿qué tal?")
    [sent] = eleven.requests
    assert sent.path == "/v1/text-to-speech/voice-default?output_format=mp3_44100_128"
    assert sent.headers["xi-api-key"] == XI_KEY
    assert sent.body == {"text": "Hola, ¿qué tal?"}


def test_speech_request_fields_reach_elevenlabs_snake_case(hybrid: Hybrid) -> None:
    server, eleven = hybrid
    response = server.client.post(
        SPEECH,
        json={
            "text": "Hi",
            "voiceId": "voice-b",
            "modelId": "eleven_flash_v2_5",
            "outputFormat": "pcm_16000",
            "optimizeStreamingLatency": 2,
            "voiceSettings": {"stability": 0.5, "similarityBoost": 0.7, "useSpeakerBoost": True},
        },
    )
    assert response.status_code == 200, response.text
    assert response.json()["mimeType"] == "audio/pcm"
    [sent] = eleven.requests
    assert sent.path == (
        "/v1/text-to-speech/voice-b?output_format=pcm_16000&optimize_streaming_latency=2"
    )
    assert sent.body == {
        "text": "Hi",
        "model_id": "eleven_flash_v2_5",
        "voice_settings": {"stability": 0.5, "similarity_boost": 0.7, "use_speaker_boost": True},
    }


def test_speech_voice_id_cannot_reach_another_url(hybrid: Hybrid) -> None:
    server, eleven = hybrid
    response = server.client.post(SPEECH, json={"text": "Hi", "voiceId": "../../v1/user?x=1#"})
    assert response.status_code == 200, response.text
    [sent] = eleven.requests
    assert sent.path.startswith("/v1/text-to-speech/%2E%2E%2F%2E%2E%2Fv1%2Fuser%3Fx%3D1%23?")
    voice = base64.b64decode(response.json()["audioBase64"]).split(b"|")[1]
    assert voice == b"../../v1/user?x=1#"


def test_speech_raw_audio_when_accept_asks_for_it(hybrid: Hybrid) -> None:
    server, _ = hybrid
    response = server.client.post(
        SPEECH, json={"text": "Hi"}, headers={"accept": "audio/mpeg, audio/*;q=0.5"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    assert response.content == fake_audio("voice-default", "Hi")
    both = server.client.post(
        SPEECH, json={"text": "Hi"}, headers={"accept": "application/json, audio/*"}
    )
    assert both.json()["provider"] == "elevenlabs"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": None}, "text"),
        ({"text": "   "}, "text"),
        ({"text": 12}, "'text'"),
        ({"text": "hi", "voiceId": 1}, "'voiceId'"),
        ({"text": "hi", "voiceSettings": "calm"}, "'voiceSettings'"),
        ({"text": "hi", "voiceSettings": {"stability": 3}}, "'voiceSettings.stability'"),
        ({"text": "hi", "optimizeStreamingLatency": 7}, "'optimizeStreamingLatency'"),
        ({"text": "hi", "outputFormat": "mp3&evil=1"}, "'outputFormat'"),
        ({"text": "x" * 5001}, "at most 5000"),
    ],
)
def test_speech_bad_request_is_400_naming_the_field(
    hybrid: Hybrid, payload: dict, field: str
) -> None:
    server, eleven = hybrid
    body = assert_json_error(server.client.post(SPEECH, json=payload), 400)
    assert field in body["error"]
    assert eleven.requests == []


@pytest.mark.parametrize(
    ("behaviour", "expected_status", "start"),
    [
        (
            status(401, {"detail": {"status": "invalid_api_key", "message": "Invalid API key"}}),
            401,
            "ElevenLabs text-to-speech failed (401): Invalid API key",
        ),
        (
            status(422, {"detail": [{"loc": ["body", "text"], "msg": "text too long"}]}),
            422,
            "ElevenLabs text-to-speech failed (422): text too long",
        ),
        (status(500, {"detail": "boom"}), 502, "ElevenLabs text-to-speech failed (500): boom"),
        (status(200, {"not": "audio"}), 502, "ElevenLabs text-to-speech failed (200): the answer"),
        (drop(), 502, "ElevenLabs text-to-speech failed (502):"),
        (delay(3), 504, "ElevenLabs text-to-speech failed (504): no answer within 1 seconds."),
    ],
    ids=["401", "422", "500", "json-200", "dropped", "timeout"],
)
def test_speech_upstream_failures(
    hybrid: Hybrid, behaviour, expected_status: int, start: str
) -> None:
    server, eleven = hybrid
    eleven.enqueue(behaviour, behaviour)  # the retry (of a 5xx or a drop) fails the same way
    body = assert_json_error(server.client.post(SPEECH, json={"text": "Hi"}), expected_status)
    assert body["error"].startswith(start), body
    assert XI_KEY not in body["error"]


def test_speech_keys_never_leak(hybrid: Hybrid, caplog) -> None:
    server, eleven = hybrid
    eleven.enqueue(
        status(401, {"detail": {"message": f"bad key {XI_KEY} / {SERVER_KEY}"}}),
        status(503, {"detail": {"message": f"down {XI_KEY}"}}),
        status(503, {"detail": {"message": f"down {XI_KEY}"}}),
    )
    with caplog.at_level(logging.DEBUG):
        texts = [
            server.client.post(SPEECH, json={"text": "Hi"}).text,
            server.client.post(SPEECH, json={"text": "Hi"}).text,
            server.client.post(MINT, json={}).text,
        ]
    for text in [*texts, caplog.text]:
        assert XI_KEY not in text
        assert XI_KEY[:16] not in text
        assert SERVER_KEY not in text


def test_unreachable_elevenlabs_is_502(serve_with, fake_openai, fake_elevenlabs) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    options = hybrid_options(
        fake_openai, fake_elevenlabs, elevenlabs_base_url=f"http://127.0.0.1:{port}"
    )
    with serve_with(options) as client:
        body = assert_json_error(client.post(SPEECH, json={"text": "Hi"}), 502)
    assert "could not connect to 127.0.0.1" in body["error"]


# --- rate limits ---------------------------------------------------------------------------

RATE_HEADERS = ("ratelimit-limit", "ratelimit-remaining", "ratelimit-reset", "ratelimit-policy")


def rate_headers(response) -> dict[str, str]:
    return {name: response.headers[name] for name in RATE_HEADERS if name in response.headers}


def test_over_the_limit_is_429_naming_it_and_openai_is_not_called(serve_with, fake_openai) -> None:
    with serve_with(rate_limits={"client_secret": "2/minute;50/day"}) as client:
        first, second, refused = (client.post(MINT, json={}) for _ in range(3))
    assert [first.status_code, second.status_code] == [200, 200]
    assert rate_headers(first) == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "1",
        "ratelimit-reset": "60",
        "ratelimit-policy": "2;w=60, 50;w=86400",
    }
    assert rate_headers(second)["ratelimit-remaining"] == "0"
    body = assert_json_error(refused, 429)
    assert body["limit"] == "2/minute"
    assert 1 <= body["retry_after"] <= 60
    assert body["error"] == (
        f"Too many requests: the limit is 2/minute on this route. "
        f"Retry in {body['retry_after']} seconds."
    )
    assert refused.headers["retry-after"] == str(body["retry_after"])
    assert rate_headers(refused) == {
        "ratelimit-limit": "2",
        "ratelimit-remaining": "0",
        "ratelimit-reset": str(body["retry_after"]),
        "ratelimit-policy": "2;w=60, 50;w=86400",
    }
    assert len(fake_openai.requests) == 2  # the refused request never reached OpenAI


def test_every_answer_of_a_limited_route_carries_the_headers(serve_with) -> None:
    with serve_with(rate_limits={"functions_execute": "10/minute"}) as client:
        answers = [
            client.post(EXECUTE, json={"function_name": "add", "payload": {"a": 1, "b": 2}}),
            client.post(EXECUTE, json={"function_name": "explode"}),
            client.post(EXECUTE, json={}),
            client.post(EXECUTE, json={"function_name": "nope"}),
            client.post(EXECUTE, content=b"{", headers={"content-type": "application/json"}),
        ]
        unlimited = [client.post(MINT, json={}), client.get(LIST)]
    assert [answer.status_code for answer in answers] == [200, 200, 400, 404, 400]
    assert [rate_headers(answer)["ratelimit-remaining"] for answer in answers] == [
        "9",
        "8",
        "7",
        "6",
        "5",
    ]
    assert all(rate_headers(answer)["ratelimit-limit"] == "10" for answer in answers)
    assert all(rate_headers(answer) == {} for answer in unlimited)


def test_an_identity_from_the_authorize_hook_is_counted_on_its_own(serve_with) -> None:
    def authorize(request) -> str | bool:
        return request.headers.get("x-user") or True

    with serve_with(authorize=authorize, rate_limits={"client_secret": "1/minute"}) as client:
        alice = [client.post(MINT, json={}, headers={"x-user": "alice"}) for _ in range(2)]
        bob = client.post(MINT, json={}, headers={"x-user": "bob"})
        anonymous = [client.post(MINT, json={}) for _ in range(2)]
    assert [answer.status_code for answer in alice] == [200, 429]
    assert bob.status_code == 200
    # Without an identity the caller is its address: one counter for both requests.
    assert [answer.status_code for answer in anonymous] == [200, 429]


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(serve_with) -> None:
    def mint_as(client, address: str):
        return client.post(MINT, json={}, headers={"x-forwarded-for": address}).status_code

    limits = {"client_secret": "1/minute"}
    with serve_with(rate_limits=limits) as client:
        # Anyone can write the header: by default it changes nothing.
        assert [mint_as(client, "198.51.100.1"), mint_as(client, "198.51.100.2")] == [200, 429]
    with serve_with(rate_limits=limits, trusted_proxies="127.0.0.1") as client:
        assert [mint_as(client, "198.51.100.1"), mint_as(client, "198.51.100.2")] == [200, 200]
        assert mint_as(client, "198.51.100.1") == 429


def test_a_failed_storage_fails_open_or_closed_as_configured(serve_with, fake_openai) -> None:
    with socket.socket() as probe:  # a port nothing listens on: Redis is down
        probe.bind(("127.0.0.1", 0))
        down = f"redis://127.0.0.1:{probe.getsockname()[1]}/0"
    limits = {"client_secret": "1/minute"}
    with serve_with(rate_limits=limits, rate_limit_storage=down) as client:
        assert [client.post(MINT, json={}).status_code for _ in range(3)] == [200, 200, 200]
    with serve_with(
        rate_limits=limits, rate_limit_storage=down, rate_limit_fail_open=False
    ) as client:
        refused = client.post(MINT, json={})
        listed = client.get(LIST)
    assert assert_json_error(refused, 503) == {
        "error": "Rate limiting is unavailable, so this route refuses requests for now. "
        "Retry shortly."
    }
    assert refused.headers["retry-after"] == "1"
    assert listed.status_code == 200  # routes without limits do not depend on the storage


def test_the_speech_route_can_be_limited_and_elevenlabs_is_not_called(
    serve_with, fake_openai, fake_elevenlabs
) -> None:
    fake_elevenlabs.clear()
    options = hybrid_options(fake_openai, fake_elevenlabs)
    with serve_with(options, rate_limits={"speech_synthesize": "1/minute"}) as client:
        spoken, refused = (client.post(SPEECH, json={"text": "Hi"}) for _ in range(2))
    assert spoken.status_code == 200
    assert rate_headers(spoken)["ratelimit-remaining"] == "0"
    assert assert_json_error(refused, 429)["limit"] == "1/minute"
    assert len(fake_elevenlabs.requests) == 1

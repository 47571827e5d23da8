"""NavaiBackendClient and AsyncNavaiBackendClient against scripted answers.

Every behaviour runs through both drivers (the ``driver`` fixture): they share one core,
and a difference between them would mean logic leaked into a driver. Transports are
``httpx.MockTransport`` (and respx for the speech route), so nothing leaves the process.
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
    AsyncNavaiBackendClient,
    BackendFunction,
    CreateClientSecretRequest,
    NavaiBackendClient,
    RetryPolicy,
)
from navai_core.exceptions import (
    BackendError,
    BackendFunctionError,
    BackendTimeoutError,
    BackendUnavailableError,
    InvalidBackendResponseError,
    InvalidOptionError,
    UnknownBackendFunctionError,
)

BASE = "http://backend.test:3000"
NO_WAIT = RetryPolicy(max_attempts=3, backoff_initial_seconds=0, backoff_max_seconds=1)
Handler = Callable[[httpx.Request], httpx.Response]


class Driven:
    """One client, sync or async, whose methods are all called the blocking way."""

    def __init__(self, kind: str, **config: Any) -> None:
        self.kind = kind
        config.setdefault("retry", NO_WAIT)
        config.setdefault("api_base_url", BASE)
        cls = NavaiBackendClient if kind == "sync" else AsyncNavaiBackendClient
        self.client: Any = cls(**config)

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.client, name)
        if self.kind == "sync":
            return method
        return lambda *args, **kwargs: asyncio.run(method(*args, **kwargs))

    def close(self) -> None:
        if self.kind == "sync":
            self.client.close()
        else:
            asyncio.run(self.client.aclose())


class Backend:
    """A scripted backend: answers in order (the last one repeats); records requests."""

    def __init__(self) -> None:
        self.answers: list[httpx.Response | Exception] = []
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        # A fresh copy: a response object is bound to the first client that reads it.
        return httpx.Response(answer.status_code, headers=answer.headers, content=answer.content)

    def body(self, index: int = -1) -> Any:
        return json.loads(self.requests[index].content)


@pytest.fixture(params=["sync", "async"])
def driver(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def backend() -> Backend:
    return Backend()


@pytest.fixture
def client(driver: str, backend: Backend) -> Iterator[Driven]:
    driven = Driven(driver, transport=httpx.MockTransport(backend))
    yield driven
    driven.close()


def answer(status: int = 200, data: Any = None, **kwargs: Any) -> httpx.Response:
    if data is not None:
        kwargs["json"] = data
    return httpx.Response(status, **kwargs)


# --- configuration ---------------------------------------------------------------------------


def test_default_base_url_is_the_originals() -> None:
    with NavaiBackendClient(env={}) as client:
        assert client.client_secret_url == "http://localhost:3000/navai/realtime/client-secret"
        assert client.functions_list_url == "http://localhost:3000/navai/functions"
        assert client.functions_execute_url == "http://localhost:3000/navai/functions/execute"
        assert client.speech_synthesize_url == "http://localhost:3000/navai/speech/synthesize"


def test_navai_api_url_is_read_and_the_argument_wins() -> None:
    env = {"NAVAI_API_URL": " https://api.example.com/ "}
    with NavaiBackendClient(env=env) as client:
        assert client.api_base_url == "https://api.example.com"
    with NavaiBackendClient("http://other:1", env=env) as client:
        assert client.api_base_url == "http://other:1"
    with NavaiBackendClient(env={"NAVAI_API_URL": "   "}) as client:
        assert client.api_base_url == "http://localhost:3000"


def test_os_environ_is_the_default_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NAVAI_API_URL", "http://from-env:9")
    with NavaiBackendClient() as client:
        assert client.api_base_url == "http://from-env:9"


def test_urls_join_as_the_mobile_client_describes() -> None:
    # Trailing slashes off the base, a leading slash on each path, then base + path.
    with NavaiBackendClient(
        "https://api.example.com/prefix///",
        client_secret_path="api/v1/realtime/secret",
        functions_list_path="/api/v1/functions",
        functions_execute_path="/api/v1/functions/run",
        speech_synthesize_path="voice/speak",
    ) as client:
        assert client.client_secret_url == "https://api.example.com/prefix/api/v1/realtime/secret"
        assert client.functions_list_url == "https://api.example.com/prefix/api/v1/functions"
        assert client.functions_execute_url == "https://api.example.com/prefix/api/v1/functions/run"
        assert client.speech_synthesize_url == "https://api.example.com/prefix/voice/speak"


def test_custom_paths_are_where_requests_go(driver: str, backend: Backend) -> None:
    backend.answers = [answer(data={"ok": True, "result": 1})]
    client = Driven(
        driver, transport=httpx.MockTransport(backend), functions_execute_path="/run/it"
    )
    assert client.execute_function("f") == 1
    assert str(backend.requests[0].url) == f"{BASE}/run/it"
    client.close()


@pytest.mark.parametrize("bad", ["ftp://host", "not a url", "http://", "http://[::1"])
def test_a_bad_base_url_is_refused_naming_it(bad: str) -> None:
    with pytest.raises(InvalidOptionError, match="api_base_url") as caught:
        NavaiBackendClient(bad)
    assert caught.value.value == bad
    with pytest.raises(InvalidOptionError, match="NAVAI_API_URL") as caught:
        NavaiBackendClient(env={"NAVAI_API_URL": bad})
    assert caught.value.variable == "NAVAI_API_URL"


def test_client_and_transport_together_are_refused() -> None:
    with httpx.Client() as http, pytest.raises(InvalidOptionError, match="not both"):
        NavaiBackendClient(client=http, transport=httpx.MockTransport(lambda _: answer()))


def test_repr_shows_only_the_origin() -> None:
    with NavaiBackendClient("https://user:hunter2@api.example.com/base?token=t") as client:
        assert repr(client) == "NavaiBackendClient(api_base_url='https://api.example.com')"


# --- timeouts and injected clients -----------------------------------------------------------


def test_requests_have_a_timeout_by_default(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(data={"items": [], "warnings": []})]
    client.list_functions()
    timeout = backend.requests[0].extensions["timeout"]
    assert timeout == {"connect": 5.0, "read": 35.0, "write": 35.0, "pool": 35.0}


def test_an_explicit_timeout_applies_even_to_a_passed_client(backend: Backend) -> None:
    backend.answers = [answer(data={"items": [], "warnings": []})]
    with httpx.Client(transport=httpx.MockTransport(backend), timeout=60) as http:
        NavaiBackendClient(BASE, client=http).list_functions()
        assert backend.requests[-1].extensions["timeout"]["read"] == 60
        NavaiBackendClient(BASE, client=http, timeout=2.5).list_functions()
        assert backend.requests[-1].extensions["timeout"]["read"] == 2.5


def test_a_passed_client_is_used_and_left_open(backend: Backend) -> None:
    backend.answers = [answer(data={"ok": True, "result": "hi"})]
    with httpx.Client(transport=httpx.MockTransport(backend)) as http:
        with NavaiBackendClient(BASE, client=http) as client:
            assert client.execute_function("greet") == "hi"
        assert not http.is_closed


@pytest.mark.asyncio
async def test_a_passed_async_client_is_used_and_left_open(backend: Backend) -> None:
    backend.answers = [answer(data={"ok": True, "result": "hi"})]
    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as http:
        async with AsyncNavaiBackendClient(BASE, client=http) as client:
            assert await client.execute_function("greet") == "hi"
        assert not http.is_closed


def test_headers_go_with_every_request(driver: str, backend: Backend) -> None:
    backend.answers = [answer(data={"ok": True, "result": None})]
    client = Driven(
        driver, transport=httpx.MockTransport(backend), headers={"Authorization": "Bearer t"}
    )
    client.execute_function("f")
    client.list_functions()
    for request in backend.requests:
        assert request.headers["authorization"] == "Bearer t"
        assert request.headers["accept"] == "application/json"
    assert backend.requests[0].headers["content-type"] == "application/json"
    client.close()


# --- create_client_secret ----------------------------------------------------------------------


def test_mint_sends_the_wire_fields_and_reads_the_secret(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(data={"value": "ek_1", "expires_at": 1767225600})]
    secret = client.create_client_secret(
        CreateClientSecretRequest(model="gpt-realtime", voice="alloy"),
        voice="marin",
        voice_accent="Irish",
        language="Spanish",
    )
    assert backend.requests[0].method == "POST"
    assert backend.requests[0].headers["content-type"] == "application/json"
    assert backend.body() == {
        "model": "gpt-realtime",
        "voice": "marin",
        "language": "Spanish",
        "voiceAccent": "Irish",
    }
    assert (secret.value, secret.expires_at, secret.speech_provider) == (
        "ek_1",
        1767225600,
        "openai",
    )
    assert secret.to_dict() == {"value": "ek_1", "expires_at": 1767225600}
    assert "ek_1" not in repr(secret)


def test_mint_with_nothing_sends_an_empty_object(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(data={"value": "ek_2"})]
    secret = client.create_client_secret()
    assert backend.body() == {}
    assert secret.expires_at is None


def test_mint_reads_the_originals_speech_provider(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(data={"value": "ek_3", "speech": {"provider": "elevenlabs"}})]
    assert client.create_client_secret().speech_provider == "elevenlabs"


@pytest.mark.parametrize(
    ("response", "message", "error"),
    [
        (answer(401, {"error": "Missing API key."}), "Missing API key.", "Missing API key."),
        (answer(502, text="upstream down"), "upstream down", None),
        (answer(500), "HTTP 500", None),
    ],
)
def test_mint_http_errors_carry_the_answer(
    client: Driven, backend: Backend, response: httpx.Response, message: str, error: str | None
) -> None:
    backend.answers = [response]
    with pytest.raises(BackendError) as caught:
        client.create_client_secret()
    assert caught.value.message == message
    assert caught.value.status_code == response.status_code
    assert caught.value.error == error
    assert len(backend.requests) == 1  # a mint is never sent twice


@pytest.mark.parametrize("body", [b"not json", b'{"value": 5}', b"[]", b'{"value": ""}'])
def test_mint_invalid_answer(client: Driven, backend: Backend, body: bytes) -> None:
    backend.answers = [httpx.Response(200, content=body)]
    with pytest.raises(InvalidBackendResponseError, match=r"^Invalid client-secret response\.$"):
        client.create_client_secret()


def test_the_request_key_is_never_logged_nor_echoed(
    client: Driven, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    key = "sk-request-key-abcdef0123456789"
    backend.answers = [
        httpx.ConnectError("refused"),
        answer(401, {"error": f"Incorrect API key provided: {key}"}),
    ]
    caplog.set_level(logging.DEBUG)
    with pytest.raises(BackendError) as caught:
        client.create_client_secret(api_key=key)
    assert backend.body() == {"apiKey": key}  # sent, in the body, as the original does
    everything = caplog.text + str(caught.value) + repr(caught.value.__dict__)
    assert key not in everything
    assert str(caught.value) == "Incorrect API key provided: ***"


def test_mint_is_retried_only_when_the_request_never_left(client: Driven, backend: Backend) -> None:
    backend.answers = [httpx.ConnectError("refused"), answer(data={"value": "ek_4"})]
    assert client.create_client_secret().value == "ek_4"
    assert len(backend.requests) == 2

    backend.requests.clear()
    backend.answers = [httpx.ReadTimeout("slow"), answer(data={"value": "ek_5"})]
    with pytest.raises(BackendTimeoutError):
        client.create_client_secret()
    assert len(backend.requests) == 1


# --- list_functions ----------------------------------------------------------------------------


def test_list_gives_typed_definitions_with_schemas(client: Driven, backend: Backend) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]}
    backend.answers = [
        answer(
            data={
                "items": [
                    {
                        "name": "add",
                        "description": "Add.",
                        "source": "t.py#add",
                        "parameters": schema,
                    },
                    {"name": "ping"},
                    {"name": "  "},
                    "junk",
                    {"description": "nameless"},
                ],
                "warnings": ["[navai] Failed to load broken.py: boom", 7],
            }
        )
    ]
    result = client.list_functions()
    assert backend.requests[0].method == "GET"
    assert result.functions == (
        BackendFunction("add", "Add.", "t.py#add", schema),
        BackendFunction("ping"),
    )
    assert result.functions[0].parameters == schema
    assert result.functions[0].to_dict() == {
        "name": "add",
        "description": "Add.",
        "source": "t.py#add",
        "parameters": schema,
    }
    assert result.functions[1].to_dict() == {"name": "ping", "description": None, "source": None}
    assert result.warnings == ("[navai] Failed to load broken.py: boom",)


@pytest.mark.parametrize(
    ("response", "warning"),
    [
        (answer(404, {"error": "Not found"}), "[navai] Failed to load backend functions (404)."),
        (
            httpx.Response(200, content=b"<html>"),
            "[navai] Failed to parse backend functions response.",
        ),
        (answer(200, [1, 2]), "[navai] Failed to parse backend functions response."),
    ],
)
def test_list_failures_are_an_empty_list_and_a_warning(
    client: Driven,
    backend: Backend,
    caplog: pytest.LogCaptureFixture,
    response: httpx.Response,
    warning: str,
) -> None:
    backend.answers = [response]
    result = client.list_functions()
    assert result.functions == ()
    assert result.warnings == (warning,)
    assert [(r.name, r.levelno, r.getMessage()) for r in caplog.records] == [
        ("navai.client", logging.WARNING, warning)
    ]


def test_list_unreachable_is_a_warning_after_retries(client: Driven, backend: Backend) -> None:
    backend.answers = [httpx.ConnectError("Connection refused")]
    result = client.list_functions()
    assert len(backend.requests) == 3
    (warning,) = result.warnings
    assert warning.startswith("[navai] Failed to load backend functions: Could not reach")
    assert "Connection refused" in warning


def test_list_strict_raises_instead(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(404, {"error": "Not found: /navai/functions"})]
    with pytest.raises(BackendError, match="Not found") as caught:
        client.list_functions(strict=True)
    assert caught.value.status_code == 404
    backend.answers = [httpx.Response(200, content=b"nope")]
    with pytest.raises(InvalidBackendResponseError):
        client.list_functions(strict=True)
    backend.answers = [httpx.ConnectError("refused")]
    with pytest.raises(BackendUnavailableError):
        client.list_functions(strict=True)


def test_list_is_retried_on_lost_answers_and_busy_statuses(
    client: Driven, backend: Backend, caplog: pytest.LogCaptureFixture
) -> None:
    backend.answers = [
        httpx.ReadTimeout("slow"),
        answer(503, headers={"retry-after": "0"}),
        answer(data={"items": [{"name": "ok"}], "warnings": []}),
    ]
    result = client.list_functions()
    assert [item.name for item in result.functions] == ["ok"]
    assert len(backend.requests) == 3
    assert "GET /navai/functions attempt 1 of 3 failed (ReadTimeout)" in caplog.text
    assert "attempt 2 of 3 failed (HTTP 503)" in caplog.text


def test_list_does_not_wait_past_the_policy_for_retry_after(
    client: Driven, backend: Backend
) -> None:
    backend.answers = [answer(429, {"error": "Slow down."}, headers={"retry-after": "120"})]
    result = client.list_functions()
    assert len(backend.requests) == 1
    assert result.warnings == ("[navai] Failed to load backend functions (429).",)


def test_a_retry_after_date_falls_back_to_the_backoff(client: Driven, backend: Backend) -> None:
    backend.answers = [
        answer(503, headers={"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}),
        answer(data={"items": [], "warnings": []}),
    ]
    assert client.list_functions().warnings == ()
    assert len(backend.requests) == 2


def test_a_base_url_of_the_wrong_type_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="api_base_url"):
        NavaiBackendClient(3000)  # type: ignore[arg-type]


def test_retries_off(driver: str, backend: Backend) -> None:
    backend.answers = [answer(503)]
    client = Driven(
        driver, transport=httpx.MockTransport(backend), retry=RetryPolicy(max_attempts=1)
    )
    client.list_functions()
    assert len(backend.requests) == 1
    client.close()


# --- execute_function --------------------------------------------------------------------------


def test_execute_sends_name_and_payload_and_returns_the_result(
    client: Driven, backend: Backend
) -> None:
    backend.answers = [
        answer(data={"ok": True, "function_name": "add", "source": "t.py#add", "result": 5})
    ]
    assert client.execute_function("add", {"a": 2, "b": 3}) == 5
    assert backend.requests[0].method == "POST"
    assert backend.body() == {"function_name": "add", "payload": {"a": 2, "b": 3}}
    assert client.execute_function("add") == 5
    assert backend.body() == {"function_name": "add", "payload": None}


def test_a_null_result_is_returned(client: Driven, backend: Backend) -> None:
    backend.answers = [answer(data={"ok": True, "result": None})]
    assert client.execute_function("noop") is None


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        # The server's table: raised (200), bad arguments (400), timed out (504).
        (
            200,
            {
                "ok": False,
                "function_name": "explode",
                "error": "Function execution failed.",
                "details": "boom",
            },
            "boom",
        ),
        (
            400,
            {
                "ok": False,
                "function_name": "explode",
                "error": "Invalid arguments.",
                "details": "a: not an int",
            },
            "a: not an int",
        ),
        (
            504,
            {"ok": False, "function_name": "explode", "error": "Function timed out."},
            "Function timed out.",
        ),
        # The seed's fallbacks: details, else error, else a generic line.
        (200, {"ok": False}, "Backend function failed."),
        (200, {"result": 1}, "Backend function failed."),
    ],
)
def test_ok_false_is_a_function_error_with_error_details_and_status(
    client: Driven, backend: Backend, status: int, body: dict[str, Any], message: str
) -> None:
    backend.answers = [answer(status, body)]
    with pytest.raises(BackendFunctionError) as caught:
        client.execute_function("explode", {})
    error = caught.value
    assert str(error) == message
    assert error.status_code == status
    assert error.error == body.get("error")
    assert error.details == body.get("details")
    assert error.function_name == "explode"
    assert len(backend.requests) == 1


def test_unknown_function_lists_the_available_ones(client: Driven, backend: Backend) -> None:
    backend.answers = [
        answer(
            404,
            {"error": "Unknown or disallowed function.", "available_functions": ["add", "ping"]},
        )
    ]
    with pytest.raises(UnknownBackendFunctionError) as caught:
        client.execute_function("nope")
    assert isinstance(caught.value, LookupError)
    assert caught.value.available == ["add", "ping"]
    assert caught.value.status_code == 404
    assert caught.value.error == "Unknown or disallowed function."
    assert "'nope' is not one of: add, ping" in str(caught.value)


@pytest.mark.parametrize(
    ("response", "message"),
    [
        (answer(400, {"error": "function_name is required."}), "function_name is required."),
        (
            answer(413, {"error": "Request body is larger than 10 bytes"}),
            "Request body is larger than 10 bytes",
        ),
        (
            # Express's default error page, as the original backend answers a throw.
            httpx.Response(
                500,
                content=b"<!DOCTYPE html><html><body><pre>Error: boom &amp; more<br> &nbsp;at x</pre></body></html>",
                headers={"content-type": "text/html; charset=utf-8"},
            ),
            "Error: boom & more at x",
        ),
        (httpx.Response(503, content=b""), "HTTP 503"),
    ],
)
def test_execute_http_errors(
    client: Driven, backend: Backend, response: httpx.Response, message: str
) -> None:
    backend.answers = [response]
    with pytest.raises(BackendError) as caught:
        client.execute_function("f", {})
    assert type(caught.value) is BackendError
    assert caught.value.message == message
    assert caught.value.status_code == response.status_code
    assert len(backend.requests) == 1  # never repeated, not even on 503


@pytest.mark.parametrize("body", [b"not json", b"[1]", b'"ok"'])
def test_execute_invalid_answer(client: Driven, backend: Backend, body: bytes) -> None:
    backend.answers = [httpx.Response(200, content=body)]
    with pytest.raises(InvalidBackendResponseError, match=r"^Invalid backend function response\.$"):
        client.execute_function("f")


@pytest.mark.parametrize(
    "lost",
    [
        httpx.ReadTimeout("slow"),
        httpx.RemoteProtocolError("Server disconnected without sending a response."),
        httpx.ReadError("reset"),
        httpx.WriteTimeout("slow write"),
    ],
)
def test_a_call_that_may_have_run_is_never_sent_again(
    client: Driven, backend: Backend, lost: Exception
) -> None:
    backend.answers = [lost, answer(data={"ok": True, "result": "twice!"})]
    with pytest.raises((BackendTimeoutError, BackendUnavailableError)) as caught:
        client.execute_function("charge_card", {"cents": 100})
    assert len(backend.requests) == 1
    timed_out = isinstance(lost, httpx.TimeoutException)
    assert isinstance(caught.value, TimeoutError if timed_out else ConnectionError)
    assert caught.value.status_code == (504 if timed_out else 502)
    assert "POST http://backend.test:3000/navai/functions/execute" in str(caught.value)


def test_a_call_whose_connection_failed_is_sent_again(client: Driven, backend: Backend) -> None:
    backend.answers = [
        httpx.ConnectError("refused"),
        httpx.PoolTimeout("no free connection"),
        answer(data={"ok": True, "result": "once"}),
    ]
    assert client.execute_function("charge_card") == "once"
    assert len(backend.requests) == 3


def test_a_backend_that_stays_down_is_unavailable(client: Driven, backend: Backend) -> None:
    backend.answers = [httpx.ConnectError("[Errno 111] Connection refused")]
    with pytest.raises(BackendUnavailableError, match="Connection refused") as caught:
        client.execute_function("f")
    assert len(backend.requests) == 3
    assert "NAVAI_API_URL" in str(caught.value)


# --- synthesize_speech -------------------------------------------------------------------------


@pytest.fixture
def speech_route() -> Iterator[respx.Route]:
    with respx.mock(base_url=BASE, assert_all_called=False) as mock:
        yield mock.post("/navai/speech/synthesize")


@pytest.fixture
def plain_client(driver: str) -> Iterator[Driven]:
    # No transport: respx patches httpx's own.
    driven = Driven(driver)
    yield driven
    driven.close()


def test_speech_is_decoded_audio_with_its_type(
    plain_client: Driven, speech_route: respx.Route
) -> None:
    audio = b"ID3\x04fake mp3 \x00\xff"
    speech_route.respond(
        200,
        json={
            "provider": "elevenlabs",
            "mimeType": "audio/mpeg",
            "audioBase64": base64.b64encode(audio).decode(),
        },
    )
    speech = plain_client.synthesize_speech(
        "Hola",
        voice_id="v1",
        output_format="mp3_44100_128",
        voice_settings={"stability": 0.5, "useSpeakerBoost": True},
    )
    assert (speech.audio, speech.mime_type, speech.provider) == (audio, "audio/mpeg", "elevenlabs")
    assert repr(speech) == (
        "SynthesizedSpeech(provider='elevenlabs', mime_type='audio/mpeg', audio=<15 bytes>)"
    )
    sent = json.loads(speech_route.calls.last.request.content)
    assert sent == {
        "text": "Hola",
        "voiceId": "v1",
        "outputFormat": "mp3_44100_128",
        "voiceSettings": {"stability": 0.5, "useSpeakerBoost": True},
    }


@pytest.mark.parametrize(
    "body",
    [
        {"mimeType": "audio/mpeg", "audioBase64": "AAAA"},
        {"provider": "elevenlabs", "audioBase64": "AAAA"},
        {"provider": "elevenlabs", "mimeType": "audio/mpeg"},
        {"provider": "elevenlabs", "mimeType": "audio/mpeg", "audioBase64": "not base64!"},
    ],
)
def test_speech_invalid_answer(
    plain_client: Driven, speech_route: respx.Route, body: dict[str, str]
) -> None:
    speech_route.respond(200, json=body)
    with pytest.raises(InvalidBackendResponseError, match=r"^Invalid speech synthesis response"):
        plain_client.synthesize_speech("Hi")


def test_speech_errors_are_not_retried(plain_client: Driven, speech_route: respx.Route) -> None:
    speech_route.respond(502, json={"error": "ElevenLabs synthesize failed (500): down"})
    with pytest.raises(BackendError, match=r"ElevenLabs synthesize failed") as caught:
        plain_client.synthesize_speech("Hi")
    assert caught.value.status_code == 502
    assert speech_route.call_count == 1

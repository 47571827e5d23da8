"""Secrets: the server's key never leaves it, and a browser's key is never used in its place.

The key is a recognisable fake (`SERVER_KEY`); tests look for it whole and for its
distinctive middle (`KEY_MIDDLE`), in every response, exception text, `repr()` and log
line, after driving the servers through every failure that could echo it: OpenAI
answering 401 and 5xx with the key in its message, timeouts, broken answers, failing
functions and hostile input. The logs are what the servers really printed: `navai
serve` and gunicorn run as processes, and their output is grepped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from navai_adapters import NavaiServerConfig, build_handler
from navai_adapters._http import NavaiRequest
from navai_core import (
    CreateClientSecretRequest,
    FunctionContext,
    NavaiVoiceBackendOptions,
    RetryPolicy,
    SynthesizeSpeechRequest,
    build_client_secret_request,
    build_speech_request,
    create_realtime_client_secret,
    parse_client_secret_response,
    synthesize_speech,
)
from navai_core.exceptions import NavaiError, UpstreamError
from tests.fake_openai import FakeOpenAI, broken_json, delay, status
from tests.servers import ServerProcess

from .conftest import (
    BROWSER_KEY,
    BROWSER_MIDDLE,
    KEY_MIDDLE,
    LIST,
    MINT,
    SERVER_KEY,
    Served,
    assert_json,
    assert_json_error,
    execute,
    external,
    options_for,
)
from .sec_functions.tools import FAULT_MARKER

pytestmark = pytest.mark.integration

SECRETS = (SERVER_KEY, KEY_MIDDLE, BROWSER_KEY, BROWSER_MIDDLE)


def assert_no_secret(text: str, where: str = "") -> None:
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} found in {where}: ...{text[:2000]}"


def echoing_faults() -> list:
    """Upstream answers that carry the key back, as OpenAI's error messages can."""
    echo = f"Incorrect API key provided: {SERVER_KEY}."
    return [
        status(401, {"error": {"message": echo, "code": "invalid_api_key"}}),
        status(403, f"forbidden for {SERVER_KEY}"),  # a text body, not JSON
        status(500, {"error": {"message": f"internal error for key {SERVER_KEY}"}}),
        status(503, f"overloaded ({SERVER_KEY})"),
        status(429, {"error": f"rate limited: {SERVER_KEY}"}, {"retry-after": "30"}),
        status(400, {"error": {"message": f"key sk-navai-***{SERVER_KEY[-6:]} is malformed"}}),
    ]


def drive(client: httpx.Client, fake: FakeOpenAI, attempts: int) -> list[httpx.Response]:
    """Every kind of failure that could echo a key, and a few successes; the answers."""
    answers: list[httpx.Response] = []
    for fault in echoing_faults():
        # Retried faults are queued once per attempt, so each request sees only this one.
        retried = fault.code >= 500
        fake.enqueue(*([fault] * (attempts if retried else 1)))
        answers.append(client.post(MINT, json={"apiKey": BROWSER_KEY}))
    fake.enqueue(broken_json(), delay(3))
    answers.append(client.post(MINT, json={}))
    answers.append(client.post(MINT, json={}))
    answers.append(client.post(MINT, json={"apiKey": BROWSER_KEY, "voice": "cedar"}))
    answers.append(client.post(MINT, json={"model": 5, "apiKey": BROWSER_KEY}))
    answers.append(
        client.post(
            MINT,
            content=b'{"apiKey": "' + BROWSER_KEY.encode(),
            headers={"content-type": "application/json"},
        )
    )
    headers = {"authorization": f"Bearer {BROWSER_KEY}", "x-api-key": BROWSER_KEY}
    answers.append(execute(client, "boom", None, headers=headers))
    answers.append(execute(client, "whoami", {"apiKey": BROWSER_KEY}, headers=headers))
    answers.append(execute(client, BROWSER_KEY, {"apiKey": BROWSER_KEY}))
    answers.append(client.get(LIST, headers=headers))
    answers.append(client.request("PUT", MINT, json={"apiKey": BROWSER_KEY}))
    return answers


def check_answers(answers: list[httpx.Response]) -> None:
    codes = [answer.status_code for answer in answers]
    assert codes == [401, 403, 502, 502, 429, 400, 502, 504, 200, 400, 400, 200, 400, 404, 200, 405]
    for answer in answers:
        assert_json(answer, answer.status_code)
        assert_no_secret(answer.text + str(answer.headers), f"the answer {answer.request.url}")
    # OpenAI's own words still reach the caller, with the key cut out.
    assert answers[0].json() == {
        "error": "OpenAI client_secrets failed (401): Incorrect API key provided: ***."
    }
    assert answers[11].json()["details"] == f"the widget is broken ({FAULT_MARKER})"


def check_upstream_saw_only_the_server_key(fake: FakeOpenAI) -> None:
    assert fake.requests, "the key was never used: nothing to prove"
    for sent in fake.requests:
        assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
        assert BROWSER_KEY not in repr(sent)


# --- against the servers' real output ----------------------------------------------------


@pytest.fixture
def logged(adapter: str, upstream: FakeOpenAI, tmp_path: Path) -> Iterator[ServerProcess]:
    upstream.clear()
    with external(adapter, upstream, tmp_path) as process:
        yield process


def test_the_key_is_in_no_answer_and_no_log_line_and_tracebacks_are_logged(
    adapter: str, logged: ServerProcess, upstream: FakeOpenAI
) -> None:
    with httpx.Client(base_url=logged.url, timeout=10) as client:
        answers = drive(client, upstream, attempts=2)  # NAVAI_OPENAI_MAX_ATTEMPTS=2
    check_answers(answers)
    check_upstream_saw_only_the_server_key(upstream)
    log = logged.stop()  # all it printed: the process has exited
    assert_no_secret(log, f"the {adapter} server's log")
    # The failing function's traceback is in the log (and, above, not in the answer).
    assert "Traceback (most recent call last)" in log
    assert "_inner_helper" in log
    assert f"ValueError: the widget is broken ({FAULT_MARKER})" in log
    # The upstream failures were logged too, scrubbed: the grep above is meaningful.
    assert "OpenAI client_secrets attempt 1 of 2 failed" in log
    assert "internal error for key ***" in log


# --- in process: every log record, at every level ------------------------------------------


def test_no_log_record_at_any_level_holds_a_key(
    server: Served, upstream: FakeOpenAI, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # httpx, httpcore, uvicorn, waitress, navai
    answers = drive(server.client, upstream, attempts=3)
    check_answers(answers)
    check_upstream_saw_only_the_server_key(upstream)
    assert caplog.records
    for record in caplog.records:
        assert_no_secret(record.getMessage(), f"log record {record.name}")
    assert_no_secret(caplog.text, "the captured log")


# --- policy ---------------------------------------------------------------------------------


def test_a_browser_key_is_never_forwarded_while_the_server_has_one(
    server: Served, upstream: FakeOpenAI
) -> None:
    for body in (
        {"apiKey": BROWSER_KEY},
        {"apiKey": f"  {BROWSER_KEY}  ", "model": "gpt-realtime"},
    ):
        assert server.client.post(MINT, json=body).status_code == 200
    headers = {"authorization": f"Bearer {BROWSER_KEY}"}
    assert server.client.post(MINT, json={}, headers=headers).status_code == 200
    assert len(upstream.requests) == 3
    check_upstream_saw_only_the_server_key(upstream)
    for sent in upstream.requests:
        assert BROWSER_MIDDLE not in sent.content.decode()


def test_allowed_models_and_voices_refuse_others_with_403(serve_with, upstream) -> None:
    options = options_for(
        upstream, allowed_models=["gpt-realtime-mini"], allowed_voices="marin, cedar"
    )
    with serve_with(options) as server:
        refused = {
            "model": {"model": "gpt-4o-realtime-preview", "voice": "marin"},
            "voice": {"model": "gpt-realtime-mini", "voice": "alloy"},
            "default model": {"voice": "cedar"},  # the default, gpt-realtime, is not listed
        }
        for what, body in refused.items():
            answer = assert_json_error(server.client.post(MINT, json=body), 403)
            assert answer["error"].startswith(f"The {what.split()[-1]} "), answer
            assert "is not allowed on this server" in answer["error"]
        assert upstream.requests == []  # refused before OpenAI is called
        allowed = server.client.post(MINT, json={"model": "gpt-realtime-mini", "voice": "cedar"})
        assert allowed.status_code == 200
        assert upstream.requests[-1].body["session"]["model"] == "gpt-realtime-mini"


def test_the_policy_from_the_environment(serve_with, upstream) -> None:
    env = {"NAVAI_ALLOWED_MODELS": "gpt-realtime", "NAVAI_ALLOWED_VOICES": "marin"}
    options = NavaiVoiceBackendOptions.from_env(
        {**env, "OPENAI_API_KEY": SERVER_KEY, "OPENAI_BASE_URL": upstream.url}
    )
    with serve_with(options) as server:
        assert server.client.post(MINT, json={}).status_code == 200
        assert_json_error(server.client.post(MINT, json={"voice": "cedar"}), 403)
        assert_json_error(server.client.post(MINT, json={"model": "gpt-realtime-mini"}), 403)


# --- repr, str and exception texts -----------------------------------------------------------


def reprs(*objects: object) -> str:
    return "\n".join(f"{obj!r}\n{obj!s}" for obj in objects)


def test_no_repr_or_str_of_a_public_object_shows_a_key(upstream: FakeOpenAI) -> None:
    options = NavaiVoiceBackendOptions(openai_api_key=SERVER_KEY, openai_base_url=upstream.url)
    request = CreateClientSecretRequest(api_key=BROWSER_KEY, voice="cedar")
    upstream_request = build_client_secret_request(options, request)
    assert upstream_request.headers["Authorization"] == f"Bearer {SERVER_KEY}"  # it is there
    handler = build_handler(options, env={}, enable_functions=False)
    config = NavaiServerConfig()
    context = FunctionContext(
        "f", headers={"Authorization": f"Bearer {BROWSER_KEY}", "Cookie": f"s={BROWSER_KEY}"}
    )
    context_with_environ = FunctionContext("f", request={"HTTP_COOKIE": f"s={BROWSER_KEY}"})
    upstream.enqueue(status(200, {"value": "ek_secret_value_123", "expires_at": 1}))
    secret = create_realtime_client_secret(options, request)
    text = reprs(
        options,
        request,
        upstream_request,
        upstream_request.to_httpx(5),
        handler,
        config,
        context,
        context_with_environ,
        secret,
    )
    assert_no_secret(text, "a repr")
    assert "ek_secret_value_123" not in text


ELEVENLABS_KEY = "sk_eleven-LEAKCANARY-SPEECH-0123456789abcdef"


def test_no_repr_str_or_error_of_the_speech_path_shows_the_elevenlabs_key() -> None:
    options = NavaiVoiceBackendOptions(
        openai_api_key=SERVER_KEY,
        tts_provider="elevenlabs",
        elevenlabs_api_key=ELEVENLABS_KEY,
        elevenlabs_voice_id="voice-1",
        elevenlabs_base_url="http://127.0.0.1:9",
        elevenlabs_timeout_seconds=0.5,
        retry=RetryPolicy(max_attempts=1),
    )
    upstream = build_speech_request(options, SynthesizeSpeechRequest(text="Hi"))
    assert upstream.headers["xi-api-key"] == ELEVENLABS_KEY  # it is there
    handler = build_handler(options, env={}, enable_functions=False)
    echo = {"detail": {"message": f"invalid key {ELEVENLABS_KEY}"}}
    errors = []
    for answer in (
        httpx.Response(401, json=echo),
        httpx.Response(500, text=f"boom {ELEVENLABS_KEY}"),
    ):

        def send(_request: httpx.Request, answer: httpx.Response = answer) -> httpx.Response:
            return answer

        with (
            httpx.Client(transport=httpx.MockTransport(send)) as client,
            pytest.raises(NavaiError) as caught,
        ):
            synthesize_speech(options, {"text": "Hi"}, client=client)
        errors.append(caught.value)
    text = reprs(options, upstream, upstream.to_httpx(5), handler, *errors)
    text += "\n".join(str(error.args) for error in errors)
    assert ELEVENLABS_KEY not in text
    assert "LEAKCANARY-SPEECH" not in text
    assert SERVER_KEY not in text


def test_the_request_handed_to_authorize_does_not_show_a_posted_key() -> None:
    request = NavaiRequest(
        "POST",
        MINT,
        httpx.Headers({"content-type": "application/json", "cookie": f"s={BROWSER_KEY}"}),
        body=b'{"apiKey": "' + BROWSER_KEY.encode() + b'"}',
    )
    assert_no_secret(repr(request), "repr(NavaiRequest)")


def test_no_exception_text_holds_a_key(upstream: FakeOpenAI) -> None:
    options = NavaiVoiceBackendOptions(
        openai_api_key=SERVER_KEY, openai_base_url=upstream.url, openai_timeout_seconds=0.5
    )
    errors: list[BaseException] = []
    for fault in [*echoing_faults(), broken_json(), delay(2)]:
        upstream.clear()
        upstream.enqueue(*[fault] * 3)
        with pytest.raises(NavaiError) as caught:
            create_realtime_client_secret(options, {"apiKey": BROWSER_KEY})
        errors.append(caught.value)
    # The pure parser scrubs the keys it is told of, and anything shaped like a key.
    echo = f'{{"error": {{"message": "bad key {SERVER_KEY}"}}}}'.encode()
    for secrets in ((SERVER_KEY,), ()):
        with pytest.raises(UpstreamError) as caught:
            parse_client_secret_response(401, echo, secrets=secrets)
        errors.append(caught.value)
    for error in errors:
        assert_no_secret(f"{error}\n{error!r}\n{error.args}", type(error).__name__)

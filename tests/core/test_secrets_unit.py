"""Minting client secrets, with OpenAI mocked by respx (no socket is opened).

The pure parts (request builder, response parser, retry flow) are tested directly;
the sync and async drivers run the same scenarios through the ``mint`` fixture.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any

import attrs
import httpx
import pytest
import respx

from navai_core import (
    CreateClientSecretRequest,
    NavaiVoiceBackendOptions,
    RealtimeClientSecret,
    RetryPolicy,
    acreate_realtime_client_secret,
    build_client_secret_request,
    create_realtime_client_secret,
    parse_client_secret_response,
)
from navai_core._flow import Sleep as _Sleep
from navai_core._upstream._request import Send as _Send
from navai_core._upstream._request import retry_flow
from navai_core._upstream._secrets import _mint_call
from navai_core.exceptions import (
    InvalidRequestError,
    MissingApiKeyError,
    NavaiError,
    PolicyViolationError,
    RequestApiKeyDisabledError,
    UpstreamError,
    UpstreamTimeoutError,
)

KEY = "sk-proj-server-key-0123456789abcdef"
REQUEST_KEY = "sk-request-key-fedcba9876543210"
# Nothing listens on port 9 of 127.0.0.1: a request respx fails to catch cannot leave the host.
BASE = "http://127.0.0.1:9/v1"
URL = f"{BASE}/realtime/client_secrets"
FAST = RetryPolicy(max_attempts=3, backoff_initial_seconds=0.01, backoff_max_seconds=0.02)

MISSING_KEY = "Missing API key. Configure openai_api_key or send apiKey in request."
KEY_DISABLED = (
    "Passing apiKey from request is disabled. Set allow_api_key_from_request=True to enable it."
)
TIMEOUT_5S = (
    "OpenAI client_secrets failed (504): no answer within 5 seconds. "
    "Check that OpenAI (or OPENAI_BASE_URL) is reachable, or raise NAVAI_OPENAI_TIMEOUT."
)
SESSION = {"type": "realtime", "model": "gpt-realtime", "id": "sess_123"}


def make_options(**overrides: Any) -> NavaiVoiceBackendOptions:
    values: dict[str, Any] = {
        "openai_api_key": KEY,
        "openai_base_url": BASE,
        "retry": FAST,
        "openai_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return NavaiVoiceBackendOptions(**values)


def ok(value: str = "ek_abc123") -> httpx.Response:
    return httpx.Response(200, json={"value": value, "expires_at": 1750000000, "session": SESSION})


def openai_error(status: int, message: str, **headers: str) -> httpx.Response:
    body = {"error": {"message": message, "type": "invalid_request_error", "code": None}}
    return httpx.Response(status, json=body, headers=headers)


def sent(route: respx.Route, index: int = -1) -> httpx.Request:
    request: httpx.Request = route.calls[index].request
    return request


Mint = Callable[..., RealtimeClientSecret]


@pytest.fixture(params=["sync", "async"])
def mint(request: pytest.FixtureRequest) -> Mint:
    """create_realtime_client_secret, or its async twin run to completion."""
    if request.param == "sync":
        return create_realtime_client_secret

    def run(*args: Any, **kwargs: Any) -> RealtimeClientSecret:
        return asyncio.run(acreate_realtime_client_secret(*args, **kwargs))

    return run


@pytest.fixture
def upstream() -> Iterator[respx.Route]:
    """The mocked ``POST {BASE}/realtime/client_secrets``; any other request fails the test."""
    with respx.mock(assert_all_mocked=True, assert_all_called=False, using="httpx") as router:
        yield router.post(URL)


# --- the request builder -----------------------------------------------------------------


def test_builder_defaults_exactly_as_the_contract() -> None:
    upstream = build_client_secret_request(make_options())
    assert upstream.url == URL
    assert dict(upstream.headers) == {
        "Authorization": f"Bearer {KEY}",
        "Content-Type": "application/json",
        "Accept": "application/json",
    }
    assert upstream.body == {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime",
            "instructions": "You are a helpful assistant.",
            "audio": {"output": {"voice": "marin"}},
        },
    }
    assert upstream.secrets == (KEY,)


def test_builder_none_request_is_an_empty_request() -> None:
    options = make_options()
    assert build_client_secret_request(options) == build_client_secret_request(
        options, CreateClientSecretRequest()
    )


def test_builder_sends_organization_and_project() -> None:
    upstream = build_client_secret_request(
        make_options(openai_organization="org-abc", openai_project="proj_def")
    )
    assert upstream.headers["OpenAI-Organization"] == "org-abc"
    assert upstream.headers["OpenAI-Project"] == "proj_def"


def test_builder_omits_organization_and_project_when_unset() -> None:
    headers = build_client_secret_request(make_options()).headers
    assert "OpenAI-Organization" not in headers
    assert "OpenAI-Project" not in headers


def test_builder_uses_request_values_and_options() -> None:
    options = make_options(
        client_secret_ttl_seconds=120,
        default_model="gpt-realtime-mini",
        default_voice="cedar",
        default_language="English",
        openai_base_url="https://proxy.example/openai/v1/",
    )
    request = CreateClientSecretRequest(
        voice="alloy", instructions="Be brief.", language="Spanish", voice_tone="calm"
    )
    upstream = build_client_secret_request(options, request)
    assert upstream.url == "https://proxy.example/openai/v1/realtime/client_secrets"
    assert upstream.body == {
        "expires_after": {"anchor": "created_at", "seconds": 120},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime-mini",
            "instructions": "Be brief.\nAlways reply in Spanish.\nUse a calm tone while speaking.",
            "audio": {"output": {"voice": "alloy"}},
        },
    }


def test_builder_is_pure() -> None:
    options = make_options()
    request = CreateClientSecretRequest(model="gpt-realtime", language="French")
    assert build_client_secret_request(options, request) == build_client_secret_request(
        options, request
    )


def test_to_httpx() -> None:
    upstream = build_client_secret_request(make_options(openai_project="proj_1"))
    request = upstream.to_httpx(2.5)
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    assert request.headers["openai-project"] == "proj_1"
    assert json.loads(request.content) == upstream.body
    assert request.extensions["timeout"] == {"connect": 2.5, "read": 2.5, "write": 2.5, "pool": 2.5}


def test_upstream_request_repr_hides_the_key() -> None:
    upstream = build_client_secret_request(make_options())
    for text in (repr(upstream), str(upstream)):
        assert KEY not in text
        assert URL in text
        assert text.startswith("ClientSecretUpstreamRequest(")


def test_upstream_request_is_frozen() -> None:
    upstream = build_client_secret_request(make_options())
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        upstream.url = "http://elsewhere/"  # type: ignore[misc]


# --- the wire form -----------------------------------------------------------------------


def test_from_wire_reads_camel_case() -> None:
    request = CreateClientSecretRequest.from_wire(
        {
            "model": "gpt-realtime",
            "voice": "marin",
            "instructions": "Hi",
            "language": "Spanish",
            "voiceAccent": "Mexican",
            "voiceTone": "friendly",
            "apiKey": REQUEST_KEY,
        }
    )
    assert request == CreateClientSecretRequest(
        model="gpt-realtime",
        voice="marin",
        instructions="Hi",
        language="Spanish",
        voice_accent="Mexican",
        voice_tone="friendly",
        api_key=REQUEST_KEY,
    )


def test_from_wire_ignores_unknown_and_snake_case_keys() -> None:
    request = CreateClientSecretRequest.from_wire(
        {"voice_accent": "x", "voice_tone": "y", "api_key": "z", "temperature": 0.7, "model": "m"}
    )
    assert request == CreateClientSecretRequest(model="m")


@pytest.mark.parametrize("body", [None, {}])
def test_from_wire_empty(body: object) -> None:
    assert CreateClientSecretRequest.from_wire(body) == CreateClientSecretRequest()


def test_from_wire_null_and_blank_fields_are_unset() -> None:
    request = CreateClientSecretRequest.from_wire(
        {"model": None, "voice": "  ", "voiceTone": "", "apiKey": None, "language": " Spanish "}
    )
    assert request == CreateClientSecretRequest(language="Spanish")


@pytest.mark.parametrize("body", [[], ["model"], "gpt-realtime", 5, True, 1.5])
def test_from_wire_rejects_a_non_object(body: object) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateClientSecretRequest.from_wire(body)
    assert str(caught.value) == (
        'The request body must be a JSON object, such as {"model": "gpt-realtime"}.'
    )
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"model": 5}, "'model' must be a string or null, not a number."),
        ({"voice": 1.5}, "'voice' must be a string or null, not a number."),
        ({"instructions": ["a"]}, "'instructions' must be a string or null, not an array."),
        ({"language": {"x": 1}}, "'language' must be a string or null, not an object."),
        ({"voiceAccent": True}, "'voiceAccent' must be a string or null, not a boolean."),
        ({"voiceTone": False}, "'voiceTone' must be a string or null, not a boolean."),
        ({"apiKey": 12345}, "'apiKey' must be a string or null, not a number."),
    ],
)
def test_from_wire_wrong_type_names_the_wire_field(body: dict[str, Any], expected: str) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateClientSecretRequest.from_wire(body)
    assert str(caught.value) == f"Invalid client-secret request: {expected}"
    assert caught.value.status_code == 400
    assert isinstance(caught.value, ValueError)


def test_from_wire_names_every_wrong_field() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateClientSecretRequest.from_wire({"model": 1, "voiceTone": [], "voice": "ok"})
    message = str(caught.value)
    assert "'model' must be a string or null, not a number." in message
    assert "'voiceTone' must be a string or null, not an array." in message
    assert "'voice'" not in message


def test_from_wire_error_does_not_echo_values() -> None:
    with pytest.raises(InvalidRequestError) as caught:
        CreateClientSecretRequest.from_wire({"apiKey": ["sk-leaked-through-a-list-123"]})
    assert "sk-leaked" not in str(caught.value)


def test_to_wire_is_camel_case_without_unset_fields() -> None:
    request = CreateClientSecretRequest(
        model="gpt-realtime", voice_accent="Mexican", voice_tone="calm", api_key=REQUEST_KEY
    )
    assert request.to_wire() == {
        "model": "gpt-realtime",
        "voiceAccent": "Mexican",
        "voiceTone": "calm",
        "apiKey": REQUEST_KEY,
    }
    assert CreateClientSecretRequest().to_wire() == {}


def test_wire_round_trip() -> None:
    request = CreateClientSecretRequest(
        model="m",
        voice="v",
        instructions="i",
        language="l",
        voice_accent="a",
        voice_tone="t",
        api_key="k",
    )
    assert CreateClientSecretRequest.from_wire(request.to_wire()) == request


def test_direct_construction_strips_and_checks_types() -> None:
    assert CreateClientSecretRequest(model="  ", voice=" cedar ").voice == "cedar"
    assert CreateClientSecretRequest(model="  ").model is None
    with pytest.raises(TypeError, match="model"):
        CreateClientSecretRequest(model=5)  # type: ignore[arg-type]


def test_request_repr_hides_the_api_key() -> None:
    request = CreateClientSecretRequest(model="gpt-realtime", api_key=REQUEST_KEY)
    for text in (repr(request), str(request)):
        assert REQUEST_KEY not in text
        assert "api_key='***'" in text
        assert "model='gpt-realtime'" in text
    assert "api_key=None" in repr(CreateClientSecretRequest())


# --- the API key policy ------------------------------------------------------------------


def test_server_key_wins_and_request_key_is_never_forwarded(
    mint: Mint, upstream: respx.Route
) -> None:
    upstream.mock(return_value=ok())
    options = make_options(allow_api_key_from_request=True)
    mint(options, CreateClientSecretRequest(api_key=REQUEST_KEY))
    request = sent(upstream)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert REQUEST_KEY not in str(request.headers.raw)
    assert REQUEST_KEY.encode() not in request.content


def test_request_key_ignored_when_not_allowed_but_server_has_a_key(
    mint: Mint, upstream: respx.Route
) -> None:
    upstream.mock(return_value=ok())
    secret = mint(make_options(), {"apiKey": REQUEST_KEY})
    assert secret.value == "ek_abc123"
    assert sent(upstream).headers["authorization"] == f"Bearer {KEY}"
    assert REQUEST_KEY.encode() not in sent(upstream).content


def test_request_key_used_when_allowed_and_server_has_none(
    mint: Mint, upstream: respx.Route
) -> None:
    upstream.mock(return_value=ok())
    options = make_options(openai_api_key=None, allow_api_key_from_request=True)
    secret = mint(options, {"apiKey": REQUEST_KEY})
    assert secret.value == "ek_abc123"
    assert sent(upstream).headers["authorization"] == f"Bearer {REQUEST_KEY}"
    assert b"apiKey" not in sent(upstream).content


def test_request_key_refused_when_not_allowed(mint: Mint, upstream: respx.Route) -> None:
    options = make_options(openai_api_key=None)
    with pytest.raises(RequestApiKeyDisabledError) as caught:
        mint(options, CreateClientSecretRequest(api_key=REQUEST_KEY))
    assert str(caught.value) == KEY_DISABLED
    assert caught.value.status_code == 403
    assert isinstance(caught.value, PermissionError)
    assert REQUEST_KEY not in str(caught.value)
    assert upstream.call_count == 0


@pytest.mark.parametrize("allow", [False, True])
@pytest.mark.parametrize("request_key", [None, "", "   "])
def test_no_key_at_all(
    mint: Mint, upstream: respx.Route, allow: bool, request_key: str | None
) -> None:
    options = make_options(openai_api_key=None, allow_api_key_from_request=allow)
    with pytest.raises(MissingApiKeyError) as caught:
        mint(options, {"apiKey": request_key})
    assert str(caught.value) == MISSING_KEY
    assert caught.value.status_code == 401
    assert upstream.call_count == 0


def test_key_policy_in_the_pure_builder() -> None:
    refused = make_options(openai_api_key=None)
    with pytest.raises(RequestApiKeyDisabledError):
        build_client_secret_request(refused, CreateClientSecretRequest(api_key=REQUEST_KEY))
    with pytest.raises(MissingApiKeyError):
        build_client_secret_request(refused)
    allowed = make_options(openai_api_key=None, allow_api_key_from_request=True)
    upstream = build_client_secret_request(allowed, CreateClientSecretRequest(api_key=REQUEST_KEY))
    assert upstream.headers["Authorization"] == f"Bearer {REQUEST_KEY}"
    assert upstream.secrets == (REQUEST_KEY,)


# --- allowed models and voices -----------------------------------------------------------


def test_model_outside_the_allowed_list(mint: Mint, upstream: respx.Route) -> None:
    options = make_options(allowed_models=["gpt-realtime", "gpt-realtime-mini"])
    with pytest.raises(PolicyViolationError) as caught:
        mint(options, {"model": "gpt-4o-realtime-preview"})
    assert str(caught.value) == (
        "The model 'gpt-4o-realtime-preview' is not allowed on this server. "
        "Allowed: gpt-realtime, gpt-realtime-mini."
    )
    assert caught.value.status_code == 403
    assert upstream.call_count == 0


def test_voice_outside_the_allowed_list(mint: Mint, upstream: respx.Route) -> None:
    with pytest.raises(PolicyViolationError) as caught:
        mint(make_options(allowed_voices=["marin"]), {"voice": "alloy"})
    assert str(caught.value) == "The voice 'alloy' is not allowed on this server. Allowed: marin."
    assert caught.value.status_code == 403
    assert upstream.call_count == 0


def test_default_model_is_checked_too() -> None:
    with pytest.raises(PolicyViolationError, match="The model 'gpt-realtime' is not allowed"):
        build_client_secret_request(make_options(allowed_models=["gpt-realtime-mini"]))


def test_empty_allowed_list_refuses_everything() -> None:
    with pytest.raises(PolicyViolationError) as caught:
        build_client_secret_request(make_options(allowed_voices=[]))
    assert str(caught.value) == "The voice 'marin' is not allowed on this server. Allowed: (none)."


def test_allowed_model_and_voice_pass(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=ok())
    options = make_options(allowed_models=["gpt-realtime-mini"], allowed_voices=["cedar", "marin"])
    mint(options, {"model": "gpt-realtime-mini", "voice": "cedar"})
    session = json.loads(sent(upstream).content)["session"]
    assert session["model"] == "gpt-realtime-mini"
    assert session["audio"] == {"output": {"voice": "cedar"}}


# --- success -----------------------------------------------------------------------------


def test_success(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=ok("ek_68a1b2c3"))
    options = make_options(openai_organization="org-1", openai_project="proj-1")
    secret = mint(options, {"model": "gpt-realtime", "language": "Spanish"})
    assert secret == RealtimeClientSecret(
        value="ek_68a1b2c3", expires_at=1750000000, session=SESSION
    )
    assert secret.to_dict() == {
        "value": "ek_68a1b2c3",
        "expires_at": 1750000000,
        "speech": {"provider": "openai"},
    }
    assert upstream.call_count == 1
    request = sent(upstream)
    assert request.method == "POST"
    assert str(request.url) == URL
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["openai-organization"] == "org-1"
    assert request.headers["openai-project"] == "proj-1"
    assert request.headers["content-type"] == "application/json"
    assert json.loads(request.content) == {
        "expires_after": {"anchor": "created_at", "seconds": 600},
        "session": {
            "type": "realtime",
            "model": "gpt-realtime",
            "instructions": "You are a helpful assistant.\nAlways reply in Spanish.",
            "audio": {"output": {"voice": "marin"}},
        },
    }


def test_success_without_request(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=ok())
    assert mint(make_options()).value == "ek_abc123"


def test_invalid_request_mapping_fails_before_any_call(mint: Mint, upstream: respx.Route) -> None:
    with pytest.raises(InvalidRequestError, match="'voice' must be a string or null"):
        mint(make_options(), {"voice": 7})
    assert upstream.call_count == 0


# --- upstream failures, row by row -------------------------------------------------------


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_upstream_4xx_keeps_its_status_and_is_not_retried(
    mint: Mint, upstream: respx.Route, status: int
) -> None:
    upstream.mock(return_value=openai_error(status, "Something about the request."))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    error = caught.value
    assert str(error) == f"OpenAI client_secrets failed ({status}): Something about the request."
    assert error.status_code == status
    assert error.upstream_status == status
    assert not isinstance(error, UpstreamTimeoutError)
    assert upstream.call_count == 1


def test_upstream_401_exact_message(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(
        return_value=openai_error(
            401, "Incorrect API key provided: sk-proj-****cdef. You can find your API key at x."
        )
    )
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert str(caught.value) == (
        "OpenAI client_secrets failed (401): Incorrect API key provided: sk-*** "
        "You can find your API key at x."
    )
    assert caught.value.status_code == 401


@pytest.mark.parametrize("status", [500, 502, 503, 504, 520])
def test_upstream_5xx_is_502_after_every_attempt(
    mint: Mint, upstream: respx.Route, status: int
) -> None:
    upstream.mock(return_value=openai_error(status, "The server had an error."))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    error = caught.value
    assert str(error) == f"OpenAI client_secrets failed ({status}): The server had an error."
    assert error.status_code == 502
    assert error.upstream_status == status
    assert upstream.call_count == 3


@pytest.mark.parametrize("status", [408, 409, 429])
def test_retryable_4xx_is_retried_then_keeps_its_status(
    mint: Mint, upstream: respx.Route, status: int
) -> None:
    upstream.mock(return_value=openai_error(status, "Slow down."))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert str(caught.value) == f"OpenAI client_secrets failed ({status}): Slow down."
    assert caught.value.status_code == status
    assert upstream.call_count == 3


@pytest.mark.parametrize("attempts", [1, 2, 5])
def test_attempts_follow_the_policy(mint: Mint, upstream: respx.Route, attempts: int) -> None:
    upstream.mock(return_value=httpx.Response(500))
    retry = RetryPolicy(max_attempts=attempts, backoff_initial_seconds=0, backoff_max_seconds=0)
    with pytest.raises(
        UpstreamError, match=r"^OpenAI client_secrets failed \(500\): Internal Server Error$"
    ):
        mint(make_options(retry=retry))
    assert upstream.call_count == attempts


def test_5xx_then_success(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(
        side_effect=[openai_error(500, "boom"), openai_error(503, "busy"), ok("ek_third")]
    )
    assert mint(make_options()).value == "ek_third"
    assert upstream.call_count == 3
    # Each attempt carries the same key and body.
    assert {call.request.content for call in upstream.calls} == {sent(upstream, 0).content}
    assert {call.request.headers["authorization"] for call in upstream.calls} == {f"Bearer {KEY}"}


@pytest.mark.parametrize(
    "error",
    [
        httpx.ConnectError("Connection refused"),
        httpx.RemoteProtocolError("Connection refused"),
        httpx.ReadError("Connection refused"),
    ],
)
def test_connection_error_is_502(mint: Mint, upstream: respx.Route, error: Exception) -> None:
    upstream.mock(side_effect=error)
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert str(caught.value) == (
        "OpenAI client_secrets failed (502): could not connect to 127.0.0.1:9: Connection refused"
    )
    assert caught.value.status_code == 502
    assert caught.value.upstream_status is None
    assert upstream.call_count == 3


def test_connection_error_without_a_message_names_its_type(
    mint: Mint, upstream: respx.Route
) -> None:
    upstream.mock(side_effect=httpx.ConnectError(""))
    with pytest.raises(UpstreamError, match=r"could not connect to 127\.0\.0\.1:9: ConnectError$"):
        mint(make_options())


def test_connection_error_then_success(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(side_effect=[httpx.ConnectError("refused"), ok()])
    assert mint(make_options()).value == "ek_abc123"
    assert upstream.call_count == 2


@pytest.mark.parametrize(
    "error",
    [httpx.ReadTimeout("timed out"), httpx.ConnectTimeout("timed out"), httpx.PoolTimeout("x")],
)
def test_timeout_is_504_and_not_retried(
    mint: Mint, upstream: respx.Route, error: Exception
) -> None:
    upstream.mock(side_effect=error)
    with pytest.raises(UpstreamTimeoutError) as caught:
        mint(make_options())
    assert str(caught.value) == TIMEOUT_5S
    assert caught.value.status_code == 504
    assert caught.value.upstream_status is None
    assert isinstance(caught.value, TimeoutError)
    assert isinstance(caught.value, UpstreamError)
    assert upstream.call_count == 1


def test_timeout_message_formats_fractions() -> None:
    options = make_options(openai_timeout_seconds=0.25)
    flow = _mint_flow(options, None)
    next(flow)
    with pytest.raises(UpstreamTimeoutError, match=r"no answer within 0\.25 seconds\."):
        flow.send(httpx.ReadTimeout("slow"))


def test_broken_json_is_502_and_not_retried(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(
        return_value=httpx.Response(
            200, content=b'{"value": "ek_', headers={"content-type": "application/json"}
        )
    )
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert str(caught.value) == "OpenAI client_secrets failed (200): the answer is not valid JSON."
    assert caught.value.status_code == 502
    assert caught.value.upstream_status == 200
    assert upstream.call_count == 1


def test_missing_value_is_502(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=httpx.Response(200, json={"expires_at": 1, "session": {}}))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert str(caught.value) == (
        "OpenAI client_secrets failed (200): the answer has no client secret 'value'."
    )
    assert caught.value.status_code == 502


# --- nothing secret in errors or logs ----------------------------------------------------


def test_server_key_echoed_by_upstream_is_scrubbed(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=openai_error(401, f"Bad key {KEY} (also {KEY[:12]}...)"))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    for text in (str(caught.value), repr(caught.value), caught.value.message):
        assert KEY not in text
        assert "0123456789abcdef" not in text
    assert str(caught.value).startswith("OpenAI client_secrets failed (401): Bad key ")


def test_a_key_of_any_shape_is_scrubbed(mint: Mint, upstream: respx.Route) -> None:
    proxy_key = "proxy-token-Zq81x0"  # no sk- prefix: scrubbed because it is the key sent
    upstream.mock(return_value=openai_error(403, f"token {proxy_key} is not allowed"))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(openai_api_key=proxy_key))
    assert str(caught.value) == "OpenAI client_secrets failed (403): token *** is not allowed"


def test_request_key_echoed_by_upstream_is_scrubbed(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(return_value=openai_error(401, f"Incorrect API key provided: {REQUEST_KEY}"))
    options = make_options(openai_api_key=None, allow_api_key_from_request=True)
    with pytest.raises(UpstreamError) as caught:
        mint(options, {"apiKey": REQUEST_KEY})
    assert REQUEST_KEY not in str(caught.value)


@pytest.mark.parametrize(
    ("leak", "scrubbed"),
    [
        ("sk-abc123def456", "sk-***"),
        ("sk_live_abcdef", "sk-***"),
        ("rk-proj-abc.def", "rk-***"),
        ("ek_68ad0c2a1d3c8191", "ek-***"),
    ],
)
def test_key_looking_strings_are_scrubbed(leak: str, scrubbed: str) -> None:
    content = json.dumps({"error": {"message": f"saw {leak} here"}}).encode()
    with pytest.raises(UpstreamError) as caught:
        parse_client_secret_response(400, content)
    assert str(caught.value) == f"OpenAI client_secrets failed (400): saw {scrubbed} here"


def test_connection_error_text_is_scrubbed(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(side_effect=httpx.ConnectError(f"proxy refused Bearer {KEY}"))
    with pytest.raises(UpstreamError) as caught:
        mint(make_options())
    assert KEY not in str(caught.value)
    assert str(caught.value).endswith("proxy refused Bearer ***")


def test_connection_error_does_not_show_credentials_of_the_base_url() -> None:
    options = make_options(
        openai_base_url="http://user:proxy-password@127.0.0.1:9/v1",
        retry=RetryPolicy(max_attempts=1),
    )
    flow = _mint_flow(options, None)
    next(flow)
    with pytest.raises(UpstreamError) as caught:
        flow.send(httpx.ConnectError("Connection refused"))
    assert "proxy-password" not in str(caught.value)


def test_retry_log_lines_never_show_the_key(
    mint: Mint, upstream: respx.Route, caplog: pytest.LogCaptureFixture
) -> None:
    upstream.mock(side_effect=[openai_error(500, f"internal error for {KEY}"), ok()])
    with caplog.at_level(logging.WARNING, logger="navai"):
        mint(make_options())
    retries = [r for r in caplog.records if r.name == "navai"]
    assert len(retries) == 1
    text = retries[0].getMessage()
    assert text.startswith(
        "OpenAI client_secrets attempt 1 of 3 failed (OpenAI client_secrets failed (500): "
    )
    assert text.endswith("retrying in 0.01 s.")
    assert KEY not in text
    assert all(KEY not in r.getMessage() for r in caplog.records)


def test_minted_secret_repr_hides_the_value() -> None:
    secret = RealtimeClientSecret(value="ek_live_secret_value", expires_at=5, session={"a": 1})
    for text in (repr(secret), str(secret)):
        assert "ek_live_secret_value" not in text
        assert text == "RealtimeClientSecret(value='***', expires_at=5)"


# --- retry-after and the deadline (pure flow, fake clock) ----------------------------------


def _mint_flow(
    options: NavaiVoiceBackendOptions,
    request: dict[str, Any] | None,
    clock: Callable[[], float] = time.monotonic,
) -> Any:
    return retry_flow(_mint_call(options, request), clock)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def start_flow(options: NavaiVoiceBackendOptions, clock: FakeClock) -> tuple[Any, _Send]:
    flow = _mint_flow(options, None, clock=clock)
    step = next(flow)
    assert isinstance(step, _Send)
    return flow, step


def finish(flow: Any, outcome: Any) -> RealtimeClientSecret:
    with pytest.raises(StopIteration) as done:
        flow.send(outcome)
    result: RealtimeClientSecret = done.value.value
    return result


def test_flow_success_in_one_step() -> None:
    clock = FakeClock()
    flow, step = start_flow(make_options(), clock)
    assert step.timeout == 5.0
    assert str(step.request.url) == URL
    assert finish(flow, ok("ek_1")).value == "ek_1"


def test_flow_accepts_a_wire_mapping() -> None:
    flow = _mint_flow(make_options(), {"voiceTone": "calm"})
    step = next(flow)
    assert isinstance(step, _Send)
    instructions = json.loads(step.request.content)["session"]["instructions"]
    assert instructions.endswith("\nUse a calm tone while speaking.")


def test_flow_backs_off_exponentially_and_shrinks_each_timeout() -> None:
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=4, backoff_initial_seconds=0.5, backoff_max_seconds=0.75)
    flow, step = start_flow(make_options(retry=retry, openai_timeout_seconds=10), clock)
    waits, timeouts = [], [step.timeout]
    for _ in range(3):
        clock.now += 1.0  # the attempt took a second
        sleep = flow.send(httpx.Response(500))
        assert isinstance(sleep, _Sleep)
        waits.append(sleep.seconds)
        clock.now += sleep.seconds
        step = flow.send(None)
        assert isinstance(step, _Send)
        timeouts.append(step.timeout)
    assert waits == [0.5, 0.75, 0.75]
    assert timeouts == pytest.approx([10.0, 8.5, 6.75, 5.0])
    assert step.request.extensions["timeout"]["read"] == pytest.approx(5.0)
    assert finish(flow, ok()).value == "ek_abc123"


@pytest.mark.parametrize(
    ("headers", "wait"),
    [
        ({"retry-after": "1.5"}, 1.5),
        ({"retry-after": "0"}, 0.0),
        ({"retry-after-ms": "150"}, 0.15),
        ({"retry-after-ms": "150", "retry-after": "3"}, 0.15),
        ({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, 0.01),  # a date: our own backoff
        ({"retry-after": "-1"}, 0.01),
        ({"retry-after-ms": "soon"}, 0.01),
        ({}, 0.01),
    ],
)
@pytest.mark.parametrize("status", [429, 503])
def test_flow_honours_retry_after(headers: dict[str, str], wait: float, status: int) -> None:
    clock = FakeClock()
    flow, _ = start_flow(make_options(), clock)
    sleep = flow.send(httpx.Response(status, headers=headers))
    assert sleep == _Sleep(pytest.approx(wait))  # type: ignore[arg-type]


def test_flow_does_not_wait_past_the_deadline() -> None:
    clock = FakeClock()
    flow, _ = start_flow(make_options(openai_timeout_seconds=5), clock)
    clock.now += 1.0
    # 4 s remain; OpenAI asks for 30: answer now, with what OpenAI said.
    with pytest.raises(UpstreamError) as caught:
        flow.send(openai_error(429, "Rate limit reached.", **{"retry-after": "30"}))
    assert str(caught.value) == "OpenAI client_secrets failed (429): Rate limit reached."
    assert caught.value.status_code == 429


def test_flow_wait_exactly_to_the_deadline_is_not_started() -> None:
    clock = FakeClock()
    flow, _ = start_flow(make_options(openai_timeout_seconds=5), clock)
    clock.now += 3.0
    with pytest.raises(UpstreamError, match=r"\(503\)"):
        flow.send(httpx.Response(503, headers={"retry-after": "2"}))


def test_flow_backoff_past_the_deadline_is_not_started() -> None:
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=3, backoff_initial_seconds=10, backoff_max_seconds=10)
    flow, _ = start_flow(make_options(retry=retry, openai_timeout_seconds=5), clock)
    with pytest.raises(UpstreamError) as caught:
        flow.send(httpx.ConnectError("refused"))
    assert caught.value.status_code == 502
    assert "could not connect" in str(caught.value)


def test_flow_out_of_time_after_a_sleep_is_a_timeout() -> None:
    clock = FakeClock()
    flow, _ = start_flow(make_options(openai_timeout_seconds=5), clock)
    clock.now += 4.9
    sleep = flow.send(httpx.Response(500, headers={"retry-after": "0.05"}))
    assert isinstance(sleep, _Sleep)
    clock.now += 1.0  # the process overslept
    with pytest.raises(UpstreamTimeoutError) as caught:
        flow.send(None)
    assert str(caught.value) == TIMEOUT_5S


def test_flow_last_attempt_raises_without_sleeping() -> None:
    clock = FakeClock()
    retry = RetryPolicy(max_attempts=2, backoff_initial_seconds=0, backoff_max_seconds=0)
    flow, _ = start_flow(make_options(retry=retry), clock)
    assert flow.send(httpx.Response(502)) == _Sleep(0.0)
    assert isinstance(flow.send(None), _Send)
    with pytest.raises(
        UpstreamError, match=r"^OpenAI client_secrets failed \(504\): Gateway Timeout$"
    ):
        flow.send(httpx.Response(504))


def test_flow_non_retryable_answer_ends_it() -> None:
    flow, _ = start_flow(make_options(), FakeClock())
    with pytest.raises(UpstreamError, match=r"\(401\)"):
        flow.send(httpx.Response(401))


# --- retry-after through the drivers (real, short sleeps) ----------------------------------


def test_driver_sleeps_for_retry_after(mint: Mint, upstream: respx.Route) -> None:
    upstream.mock(side_effect=[openai_error(429, "wait", **{"retry-after": "0.15"}), ok()])
    started = time.perf_counter()
    assert mint(make_options()).value == "ek_abc123"
    assert time.perf_counter() - started >= 0.15
    assert upstream.call_count == 2


def test_driver_answers_at_once_when_retry_after_outlasts_the_timeout(
    mint: Mint, upstream: respx.Route
) -> None:
    upstream.mock(side_effect=[openai_error(429, "wait", **{"retry-after": "30"}), ok()])
    started = time.perf_counter()
    with pytest.raises(UpstreamError) as caught:
        mint(make_options(openai_timeout_seconds=2))
    assert time.perf_counter() - started < 1.0
    assert caught.value.status_code == 429
    assert upstream.call_count == 1


# --- parse_client_secret_response --------------------------------------------------------


def test_parse_success() -> None:
    content = json.dumps({"value": "ek_1", "expires_at": 1750000000, "session": SESSION}).encode()
    assert parse_client_secret_response(200, content) == RealtimeClientSecret(
        value="ek_1", expires_at=1750000000, session=SESSION
    )


def test_parse_minimal_answer() -> None:
    secret = parse_client_secret_response(201, b'{"value": "ek_1"}')
    assert (secret.value, secret.expires_at, secret.session) == ("ek_1", None, None)


@pytest.mark.parametrize(
    "extra",
    [
        {"expires_at": "1750000000", "session": ["not", "an", "object"]},
        {"expires_at": 1.5e9, "session": "s"},
        {"expires_at": None, "session": None},
    ],
)
def test_parse_ignores_malformed_optional_fields(extra: dict[str, Any]) -> None:
    secret = parse_client_secret_response(200, json.dumps({"value": "ek_1", **extra}).encode())
    assert secret.expires_at is None
    assert secret.session is None


@pytest.mark.parametrize(
    "content",
    [b"{}", b'{"value": ""}', b'{"value": 5}', b'{"value": null}', b"[]", b'"ek_1"', b"null"],
)
def test_parse_without_a_usable_value(content: bytes) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_client_secret_response(200, content)
    assert str(caught.value) == (
        "OpenAI client_secrets failed (200): the answer has no client secret 'value'."
    )
    assert caught.value.status_code == 502


@pytest.mark.parametrize("content", [b"", b"<html>oops</html>", b'{"value": "ek_', b"\xff\xfe"])
def test_parse_invalid_json(content: bytes) -> None:
    with pytest.raises(UpstreamError, match=r"\(200\): the answer is not valid JSON\.$") as caught:
        parse_client_secret_response(200, content)
    assert caught.value.status_code == 502


@pytest.mark.parametrize(
    ("status", "content", "detail"),
    [
        (400, b'{"error": {"message": "Invalid model.", "code": "x"}}', "Invalid model."),
        (400, b'{"error": "plain string error"}', "plain string error"),
        (400, b'{"error": {"message": 5}}', '{"error": {"message": 5}}'),
        (400, b'{"detail": "not the OpenAI shape"}', '{"detail": "not the OpenAI shape"}'),
        (404, b"  Not here  ", "Not here"),
        (401, b"", "Unauthorized"),
        (500, b"   ", "Internal Server Error"),
        (599, b"", "no message"),
        (418, b"[1, 2]", "[1, 2]"),
    ],
)
def test_parse_error_detail(status: int, content: bytes, detail: str) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_client_secret_response(status, content)
    assert str(caught.value) == f"OpenAI client_secrets failed ({status}): {detail}"
    assert caught.value.upstream_status == status
    assert caught.value.status_code == (status if status < 500 else 502)


def test_parse_truncates_long_upstream_messages() -> None:
    content = json.dumps({"error": {"message": "x" * 2000}}).encode()
    with pytest.raises(UpstreamError) as caught:
        parse_client_secret_response(400, content)
    assert str(caught.value) == "OpenAI client_secrets failed (400): " + "x" * 500 + "..."


def test_parse_scrubs_the_secrets_it_is_given() -> None:
    content = json.dumps({"error": {"message": "key my-key-value was revoked"}}).encode()
    with pytest.raises(UpstreamError) as caught:
        parse_client_secret_response(401, content, secrets=("my-key-value",))
    assert str(caught.value) == "OpenAI client_secrets failed (401): key *** was revoked"


def test_errors_are_navai_errors() -> None:
    with pytest.raises(NavaiError):
        parse_client_secret_response(500, b"")


# --- the drivers: injected clients, own clients --------------------------------------------


class Recorder:
    """An httpx.MockTransport handler that answers with a fresh secret each time."""

    def __init__(self) -> None:
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return ok(f"ek_{len(self.requests)}")


def test_sync_injected_client_is_reused_and_left_open() -> None:
    recorder = Recorder()
    with httpx.Client(transport=httpx.MockTransport(recorder)) as client:
        first = create_realtime_client_secret(make_options(), client=client)
        second = create_realtime_client_secret(make_options(), {"voice": "cedar"}, client=client)
        assert not client.is_closed
        # An error does not close it either.
        with pytest.raises(MissingApiKeyError):
            create_realtime_client_secret(make_options(openai_api_key=None), client=client)
        assert not client.is_closed
    assert (first.value, second.value) == ("ek_1", "ek_2")
    assert len(recorder.requests) == 2  # both went through the injected client's transport
    assert recorder.requests[1].headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.asyncio
async def test_async_injected_client_is_reused_and_left_open() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        first = await acreate_realtime_client_secret(make_options(), client=client)
        second = await acreate_realtime_client_secret(make_options(), client=client)
        assert not client.is_closed
    assert (first.value, second.value) == ("ek_1", "ek_2")
    assert len(recorder.requests) == 2


@pytest.mark.asyncio
async def test_async_injected_client_serves_concurrent_mints() -> None:
    recorder = Recorder()
    async with httpx.AsyncClient(transport=httpx.MockTransport(recorder)) as client:
        secrets = await asyncio.gather(
            *(acreate_realtime_client_secret(make_options(), client=client) for _ in range(5))
        )
    assert sorted(secret.value for secret in secrets) == [f"ek_{n}" for n in range(1, 6)]


def test_sync_without_client_opens_and_closes_its_own(
    monkeypatch: pytest.MonkeyPatch, upstream: respx.Route
) -> None:
    upstream.mock(return_value=ok())
    opened: list[httpx.Client] = []

    class SpyClient(httpx.Client):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(httpx, "Client", SpyClient)
    create_realtime_client_secret(make_options())
    create_realtime_client_secret(make_options())
    assert len(opened) == 2
    assert all(client.is_closed for client in opened)


@pytest.mark.asyncio
async def test_async_without_client_opens_and_closes_its_own(
    monkeypatch: pytest.MonkeyPatch, upstream: respx.Route
) -> None:
    upstream.mock(side_effect=[httpx.Response(500), ok()])
    opened: list[httpx.AsyncClient] = []

    class SpyClient(httpx.AsyncClient):
        def __init__(self, *args: Any, **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            opened.append(self)

    monkeypatch.setattr(httpx, "AsyncClient", SpyClient)
    assert (await acreate_realtime_client_secret(make_options())).value == "ek_abc123"
    assert len(opened) == 1  # one client for the call, retries included
    assert opened[0].is_closed
    assert upstream.call_count == 2


@pytest.mark.asyncio
async def test_async_bounds_a_whole_attempt(upstream: respx.Route) -> None:
    # A transport that never answers and ignores httpx's own timeouts: the driver's
    # overall bound still ends the call.
    attempts: list[httpx.Request] = []

    async def never(request: httpx.Request) -> httpx.Response:
        attempts.append(request)
        await asyncio.sleep(10)
        return ok()  # pragma: no cover - cancelled first

    upstream.mock(side_effect=never)
    started = time.perf_counter()
    with pytest.raises(UpstreamTimeoutError) as caught:
        await acreate_realtime_client_secret(make_options(openai_timeout_seconds=0.2))
    assert 0.15 <= time.perf_counter() - started < 1.5
    assert caught.value.status_code == 504
    assert len(attempts) == 1  # a timeout is not retried


@pytest.mark.asyncio
async def test_async_is_async(upstream: respx.Route) -> None:
    # While one mint waits on OpenAI, the loop runs other work.
    release = asyncio.Event()

    async def slow(request: httpx.Request) -> httpx.Response:
        await release.wait()
        return ok()

    upstream.mock(side_effect=slow)
    task = asyncio.create_task(acreate_realtime_client_secret(make_options()))
    await asyncio.sleep(0.01)
    assert not task.done()
    release.set()
    assert (await task).value == "ek_abc123"

"""The pure parts of WebRTC calls: the multipart request, the answer parser, the checks."""

from __future__ import annotations

import email.parser
import email.policy
import json

import httpx
import pytest
import respx

from navai_core import NavaiVoiceBackendOptions, RetryPolicy
from navai_core._upstream._calls import (
    acreate_realtime_call,
    ahangup_realtime_call,
    build_call_request,
    build_hangup_request,
    create_realtime_call,
    hangup_realtime_call,
    hash_safety_identifier,
    parse_call_response,
    parse_hangup_response,
    sideband_url,
    validate_offer,
)
from navai_core._upstream._secrets import CreateClientSecretRequest, build_client_secret_request
from navai_core.exceptions import (
    InvalidRequestError,
    MissingApiKeyError,
    PolicyViolationError,
    UpstreamError,
    UpstreamTimeoutError,
)

KEY = "sk-unit-test-key-0123456789"
OFFER = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n"


def options(**changes) -> NavaiVoiceBackendOptions:
    fields = {
        "openai_api_key": KEY,
        "retry": RetryPolicy(max_attempts=2, backoff_initial_seconds=0),
    }
    fields.update(changes)
    return NavaiVoiceBackendOptions(**fields)


def parts_of(upstream) -> dict[str, tuple[str, bytes]]:
    # Parsed by the standard library's MIME parser, not by our own code.
    head = f"Content-Type: {upstream.headers['Content-Type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + upstream.content)
    assert message.is_multipart()
    return {
        part.get_param("name", header="content-disposition"): (
            part.get_content_type(),
            part.get_payload(decode=True),
        )
        for part in message.iter_parts()
    }


def test_call_request_is_multipart_with_sdp_and_the_mint_session() -> None:
    opts = options(openai_organization="org-1", default_language="French")
    request = CreateClientSecretRequest(voice="alloy", instructions="Hi.")
    upstream = build_call_request(opts, OFFER, request, safety_identifier="abc")
    assert upstream.url == "https://api.openai.com/v1/realtime/calls"
    assert upstream.headers["Authorization"] == f"Bearer {KEY}"
    assert upstream.headers["OpenAI-Organization"] == "org-1"
    assert upstream.headers["OpenAI-Safety-Identifier"] == "abc"
    parts = parts_of(upstream)
    assert parts["sdp"] == ("application/sdp", OFFER.encode())
    content_type, session = parts["session"]
    assert content_type == "application/json"
    minted = build_client_secret_request(opts, request).body["session"]
    assert json.loads(session) == minted
    assert json.loads(session)["instructions"] == "Hi.\nAlways reply in French."
    assert KEY not in repr(upstream)


def test_call_request_carries_tools_and_applies_policies() -> None:
    tool = {"type": "function", "name": "add", "description": "Add.", "parameters": {}}
    upstream = build_call_request(options(), OFFER, tools=[tool])
    assert json.loads(parts_of(upstream)["session"][1])["tools"] == [tool]
    with pytest.raises(PolicyViolationError):
        build_call_request(
            options(allowed_models=["gpt-realtime"]), OFFER, CreateClientSecretRequest(model="x")
        )
    with pytest.raises(MissingApiKeyError):
        build_call_request(options(openai_api_key=None), OFFER)


@pytest.mark.parametrize("bad", ["", "hello", "<html>", "v=1", 5, None, "v=0\x00"])
def test_validate_offer_refuses_what_is_not_sdp(bad) -> None:
    with pytest.raises(InvalidRequestError) as caught:
        validate_offer(bad)
    assert caught.value.status_code == 400


def test_validate_offer_bounds_the_size() -> None:
    assert validate_offer(OFFER, 100) == OFFER
    with pytest.raises(InvalidRequestError) as caught:
        validate_offer(OFFER + "a" * 100, 100)
    assert caught.value.status_code == 413


def test_parse_call_response_reads_the_call_id_from_location() -> None:
    answer = parse_call_response(
        201, {"location": "/v1/realtime/calls/rtc_abc123"}, b"v=0\r\n", secrets=(KEY,)
    )
    assert (answer.call_id, answer.sdp) == ("rtc_abc123", "v=0\r\n")
    assert KEY not in repr(answer)


@pytest.mark.parametrize(
    ("status", "headers", "body", "http_status", "needle"),
    [
        (201, {}, b"v=0", 502, "no call id"),
        (201, {"location": "/v1/realtime/calls/bad id"}, b"v=0", 502, "no call id"),
        (201, {"location": "/x/rtc_1"}, b"<html>", 502, "not an SDP answer"),
        (400, {}, b'{"error": {"message": "bad sdp"}}', 400, "OpenAI calls failed (400): bad sdp"),
        (500, {}, b"oops " + KEY.encode(), 502, "OpenAI calls failed (500): oops ***"),
    ],
)
def test_parse_call_response_errors(status, headers, body, http_status, needle) -> None:
    with pytest.raises(UpstreamError) as caught:
        parse_call_response(status, headers, body, secrets=(KEY,))
    assert caught.value.status_code == http_status
    assert needle in caught.value.message
    assert KEY not in caught.value.message


def test_hangup_request_and_answer() -> None:
    upstream = build_hangup_request(options(), "rtc_1")
    assert upstream.url == "https://api.openai.com/v1/realtime/calls/rtc_1/hangup"
    assert upstream.content == b""
    parse_hangup_response(200, b"")
    parse_hangup_response(404, b"")  # already ended: fine
    with pytest.raises(UpstreamError, match="OpenAI hangup failed"):
        parse_hangup_response(401, b'{"error": "nope"}')
    with pytest.raises(InvalidRequestError):
        build_hangup_request(options(), "../secrets")


def test_sideband_url_follows_the_base_url() -> None:
    assert sideband_url(options(), "rtc_1") == "wss://api.openai.com/v1/realtime?call_id=rtc_1"
    local = options(openai_base_url="http://127.0.0.1:9/v1")
    assert sideband_url(local, "rtc_1") == "ws://127.0.0.1:9/v1/realtime?call_id=rtc_1"
    with pytest.raises(InvalidRequestError):
        sideband_url(local, "rtc_1&x=y")


def test_safety_identifier_is_a_sha256_hex() -> None:
    digest = hash_safety_identifier("ada@example.com")
    assert len(digest) == 64
    assert "ada" not in digest
    assert digest == hash_safety_identifier("ada@example.com")


@pytest.mark.respx(using="httpx")
def test_sync_driver_retries_then_answers(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://api.openai.com/v1/realtime/calls").mock(
        side_effect=[
            httpx.Response(503, json={"error": {"message": "busy"}}),
            httpx.Response(201, text="v=0\r\n", headers={"location": "/v1/realtime/calls/rtc_9"}),
        ]
    )
    call = create_realtime_call(options(), OFFER, {"voice": "alloy"})
    assert call.call_id == "rtc_9"
    assert route.call_count == 2


@pytest.mark.asyncio
@pytest.mark.respx(using="httpx")  # the core's own client has its own transport, not httpcore
async def test_async_driver_answers(respx_mock: respx.MockRouter) -> None:
    respx_mock.post("https://api.openai.com/v1/realtime/calls").mock(
        return_value=httpx.Response(201, text="v=0\r\n", headers={"location": "/x/rtc_8"})
    )
    assert (await acreate_realtime_call(options(), OFFER)).call_id == "rtc_8"


@pytest.mark.asyncio
async def test_async_driver_times_out_as_minting_does() -> None:
    with respx.mock(using="httpx") as mock:
        mock.post("https://api.openai.com/v1/realtime/calls").mock(
            side_effect=httpx.ReadTimeout("slow")
        )
        with pytest.raises(UpstreamTimeoutError) as caught:
            await acreate_realtime_call(options(openai_timeout_seconds=0.5), OFFER)
    assert caught.value.status_code == 504
    assert caught.value.message.startswith("OpenAI calls failed (504)")


@pytest.mark.respx(using="httpx")
def test_hangup_without_a_client_opens_its_own(respx_mock: respx.MockRouter) -> None:
    route = respx_mock.post("https://api.openai.com/v1/realtime/calls/rtc_7/hangup").mock(
        return_value=httpx.Response(200)
    )
    hangup_realtime_call(options(), "rtc_7")
    assert route.calls.last.request.headers["authorization"] == f"Bearer {KEY}"


@pytest.mark.asyncio
async def test_async_hangup_without_a_client_and_a_failure() -> None:
    with respx.mock(using="httpx") as mock:
        mock.post("https://api.openai.com/v1/realtime/calls/rtc_7/hangup").mock(
            return_value=httpx.Response(403, json={"error": {"message": "not yours"}})
        )
        with pytest.raises(UpstreamError) as caught:
            await ahangup_realtime_call(options(), "rtc_7")
    assert caught.value.status_code == 403
    assert caught.value.message == "OpenAI hangup failed (403): not yours"

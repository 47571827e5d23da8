"""The calls routes, run unchanged against the Starlette app and the WSGI callable.

OpenAI is the fake in :mod:`tests.fake_realtime`, on a real socket: the multipart body,
the headers and the SDP answer cross real connections.
"""

from __future__ import annotations

import hashlib
import json

import pytest

from navai_core._upstream._session import build_session_config
from navai_core.exceptions import AuthorizationError

from .conftest import OFFER, SERVER_KEY, options_for

pytestmark = pytest.mark.integration

CALLS = "/navai/realtime/calls"


def error_of(response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    assert SERVER_KEY not in response.text
    body = response.json()
    assert isinstance(body, dict)
    return str(body["error"])


def test_raw_offer_is_relayed_with_the_server_key_and_a_session(serve) -> None:
    with serve() as served:
        response = served.client.post(
            CALLS, content=OFFER, headers={"content-type": "application/sdp"}
        )
        assert response.status_code == 201, response.text
        assert response.headers["content-type"] == "application/sdp"
        assert response.headers["cache-control"] == "no-store"
        assert response.text.startswith("v=0")
        [sent] = served.fake.calls
        assert response.headers["x-navai-call-id"] == sent.call_id
        assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
        assert sent.sdp == OFFER
        # The session part is what minting would send: one builder for both.
        assert sent.session == build_session_config(served.handler.options)
        assert "openai-safety-identifier" not in sent.headers
        assert "tools" not in sent.session  # server tools are off by default


def test_json_offer_carries_the_mint_fields(serve) -> None:
    with serve() as served:
        response = served.client.post(
            CALLS,
            json={
                "sdp": OFFER,
                "model": "gpt-realtime-mini",
                "voice": "alloy",
                "instructions": "Be brief.",
                "language": "Spanish",
                "voiceAccent": "neutral",
                "voiceTone": "calm",
                "apiKey": "sk-from-the-browser-never-forwarded",
            },
        )
        assert response.status_code == 201, response.text
        [sent] = served.fake.calls
        assert sent.headers["authorization"] == f"Bearer {SERVER_KEY}"
        assert sent.session["model"] == "gpt-realtime-mini"
        assert sent.session["audio"] == {"output": {"voice": "alloy"}}
        assert sent.session["instructions"] == (
            "Be brief.\nAlways reply in Spanish.\nUse a neutral accent while speaking.\n"
            "Use a calm tone while speaking."
        )


@pytest.mark.parametrize(
    ("body", "content_type", "status", "needle"),
    [
        (b"<html>hi</html>", "application/sdp", 400, "not an SDP offer"),
        (b"", "application/sdp", 400, "not an SDP offer"),
        (b'{"sdp": 5}', "application/json", 400, "sdp must be a string"),
        (b'{"model": "x"}', "application/json", 400, "sdp is required"),
        (b'{"sdp": "hello"}', "application/json", 400, "not an SDP offer"),
        (b"v=0\r\n", "text/plain", 415, "Content-Type must be application/json"),
        (b"\xff\xfe", "application/sdp", 400, "UTF-8"),
        (b'{"sdp": "v=0", "voice": 3}', "application/json", 400, "'voice' must be a string"),
    ],
)
def test_bad_offers_are_refused_before_openai(serve, body, content_type, status, needle) -> None:
    with serve() as served:
        response = served.client.post(CALLS, content=body, headers={"content-type": content_type})
        assert needle in error_of(response, status)
        assert served.fake.calls == []


def test_offer_over_the_bound_is_413(serve) -> None:
    with serve(max_sdp_bytes=1000) as served:
        big = OFFER + "a=x-padding:" + "p" * 1000 + "\r\n"
        response = served.client.post(
            CALLS, content=big, headers={"content-type": "application/sdp"}
        )
        assert "larger than 1000 bytes" in error_of(response, 413)
        assert served.fake.calls == []


def test_wrong_method_is_405(serve) -> None:
    with serve() as served:
        response = served.client.get(CALLS)
        error_of(response, 405)
        assert response.headers["allow"] == "POST"


def test_policies_and_keys_as_for_minting(serve, fake_realtime) -> None:
    options = options_for(fake_realtime, allowed_voices=["marin"])
    with serve(options) as served:
        response = served.client.post(CALLS, json={"sdp": OFFER, "voice": "alloy"})
        assert "voice 'alloy' is not allowed" in error_of(response, 403)
    with serve(options_for(fake_realtime, openai_api_key=None)) as served:
        response = served.client.post(CALLS, json={"sdp": OFFER, "apiKey": "sk-browser-key"})
        assert error_of(response, 401) == (
            "Missing API key. Configure openai_api_key or send apiKey in request."
        )
        assert served.fake.calls == []


def test_upstream_errors_keep_the_minting_table(serve) -> None:
    with serve() as served:
        served.fake.fail_calls(400, {"error": {"message": f"bad offer for {SERVER_KEY}"}})
        response = served.client.post(CALLS, json={"sdp": OFFER})
        assert error_of(response, 400) == "OpenAI calls failed (400): bad offer for ***"
        served.fake.fail_calls(500, {"error": {"message": "boom"}})
        served.fake.fail_calls(503, {"error": {"message": "still down"}})
        response = served.client.post(CALLS, json={"sdp": OFFER})
        assert error_of(response, 502) == "OpenAI calls failed (503): still down"
        assert len(served.fake.calls) == 3  # retried once, as configured


def test_authorize_identity_goes_out_hashed_as_safety_identifier(serve) -> None:
    def authorize(request):
        user = request.headers.get("x-user")
        if user is None:
            raise AuthorizationError("Sign in first.")
        return user

    with serve(authorize=authorize) as served:
        refused = served.client.post(CALLS, json={"sdp": OFFER})
        assert error_of(refused, 401) == "Sign in first."
        response = served.client.post(
            CALLS, json={"sdp": OFFER}, headers={"x-user": "ada@example.com"}
        )
        assert response.status_code == 201
        [sent] = served.fake.calls
        digest = hashlib.sha256(b"ada@example.com").hexdigest()
        assert sent.headers["openai-safety-identifier"] == digest
        assert "ada@example.com" not in json.dumps(sent.headers)


def test_authorize_covers_hangup(serve) -> None:
    with serve(authorize=lambda request: False) as served:
        response = served.client.post(f"{CALLS}/rtc_x/hangup")
        assert error_of(response, 403) == "This request is not authorized."
        assert served.fake.hangups == []


def test_hangup_is_relayed_and_an_ended_call_is_fine(serve) -> None:
    with serve() as served:
        call_id = served.client.post(CALLS, json={"sdp": OFFER}).headers["x-navai-call-id"]
        response = served.client.post(f"{CALLS}/{call_id}/hangup")
        assert response.status_code == 200
        assert response.json() == {"ok": True, "call_id": call_id}
        # OpenAI answers 404 for a call it no longer has: the call is over either way.
        again = served.client.post(f"{CALLS}/rtc_unknown/hangup")
        assert again.status_code == 200
        assert served.fake.hangups == [call_id, "rtc_unknown"]


def test_hangup_refuses_what_is_not_a_call_id(serve) -> None:
    with serve() as served:
        response = served.client.post(f"{CALLS}/rtc%20x/hangup")
        assert "call id" in error_of(response, 400)
        assert served.fake.hangups == []


def test_paths_are_configurable_and_calls_can_be_off(serve) -> None:
    with serve(realtime_calls_path="/voice/calls") as served:
        assert served.client.post("/voice/calls", json={"sdp": OFFER}).status_code == 201
        assert served.client.post(CALLS, json={"sdp": OFFER}).status_code == 404
    with serve(enable_realtime_calls=False) as served:
        assert served.client.post(CALLS, json={"sdp": OFFER}).status_code == 404
        assert served.client.post(f"{CALLS}/rtc_1/hangup").status_code == 404


def test_execute_route_can_be_switched_off_alone(serve) -> None:
    with serve(enable_functions_execute=False) as served:
        listing = served.client.get("/navai/functions")
        assert listing.status_code == 200
        assert "add" in [item["name"] for item in listing.json()["items"]]
        response = served.client.post(
            "/navai/functions/execute", json={"function_name": "add", "payload": {"a": 1, "b": 2}}
        )
        error_of(response, 404)


def test_attach_route_exists_only_with_server_tools(serve) -> None:
    with serve() as served:
        error_of(served.client.post(f"{CALLS}/rtc_1/attach"), 404)

"""The call routes below a mount prefix: the call id is read below it too."""

from __future__ import annotations

import httpx
import respx

from navai_adapters import NavaiRequest, build_handler
from navai_core import NavaiVoiceBackendOptions


@respx.mock
def test_hangup_below_a_mount_prefix() -> None:
    upstream = respx.post("https://api.openai.com/v1/realtime/calls/rtc_m1/hangup").mock(
        return_value=httpx.Response(200)
    )
    handler = build_handler(
        NavaiVoiceBackendOptions(openai_api_key="sk-mount-test-key-0123"),
        env={},
        enable_functions=False,
    )
    request = NavaiRequest(
        method="POST", path="/voice/navai/realtime/calls/rtc_m1/hangup", root_path="/voice"
    )
    with httpx.Client() as client:
        answer = handler.handle(request, client=client)
    assert answer.status == 200, answer.body
    assert upstream.called
    unmounted = NavaiRequest(method="POST", path="/navai/realtime/calls/rtc_m1/hangup/extra")
    with httpx.Client() as client:
        # Only {call_id}/hangup and {call_id}/attach are routes: anything longer is not NAVAI's.
        assert handler.handle(unmounted, client=client).status == 404

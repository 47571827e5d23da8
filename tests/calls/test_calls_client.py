"""The Python client's calls methods against a served backend (both adapters)."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from navai_core import AsyncNavaiBackendClient, NavaiBackendClient
from navai_core.exceptions import BackendError, InvalidBackendResponseError

from .conftest import OFFER

pytestmark = pytest.mark.integration


def test_start_and_hang_up_a_call(serve) -> None:
    with serve(server_tools=True) as served:
        base = str(served.client.base_url)
        with NavaiBackendClient(base) as client:
            call = client.start_call(OFFER, voice="alloy")
            assert call.sdp.startswith("v=0")
            assert call.server_tools is True
            [sent] = served.fake.calls
            assert sent.call_id == call.call_id
            assert sent.session["audio"]["output"]["voice"] == "alloy"
            client.hangup_call(call.call_id)
            assert served.fake.hangups == [call.call_id]
            with pytest.raises(BackendError) as caught:
                client.start_call("not sdp")
            assert caught.value.status_code == 400


def test_async_twins() -> None:
    asyncio.run(async_twins())


async def async_twins() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/hangup"):
            return httpx.Response(200, json={"ok": True})
        return httpx.Response(201, text="v=0\r\n", headers={"x-navai-call-id": "rtc_1"})

    async with AsyncNavaiBackendClient(
        "http://backend.test", transport=httpx.MockTransport(answer)
    ) as client:
        call = await client.start_call(OFFER)
        assert (call.call_id, call.server_tools) == ("rtc_1", False)
        assert "rtc_1" in repr(call)
        assert "v=0" not in repr(call)
        await client.hangup_call("rtc_1")


def test_a_success_without_a_call_id_is_invalid() -> None:
    transport = httpx.MockTransport(lambda _request: httpx.Response(201, text="v=0\r\n"))
    with (
        NavaiBackendClient("http://backend.test", transport=transport) as client,
        pytest.raises(InvalidBackendResponseError, match="Invalid realtime call response"),
    ):
        client.start_call(OFFER)

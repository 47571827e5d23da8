"""The sideband manager with an in-memory WebSocket: events in, exact events out."""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import logging
from pathlib import Path

import pytest

from navai_core import NavaiVoiceBackendOptions, load_navai_functions
from navai_core._threads import BackgroundLoop
from navai_core._upstream._sideband import SidebandManager, tool_output
from navai_core.exceptions import NavaiError, SidebandLimitError

FUNCTIONS = Path(__file__).resolve().parents[1] / "calls"
KEY = "sk-sideband-unit-key-0123456789"


class MemorySocket:
    """Plays ``incoming`` (then waits), records what is sent; closing ends ``recv``."""

    def __init__(self, incoming: list[object], *, fail_send: bool = False) -> None:
        self.incoming: asyncio.Queue[object] = asyncio.Queue()
        for item in incoming:
            self.incoming.put_nowait(item)
        self.sent: list[dict] = []
        self.fail_send = fail_send
        self.sent_event = asyncio.Event()
        self.closed = False

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.closed = True

    async def recv(self) -> object:
        from websockets.exceptions import ConnectionClosedOK
        from websockets.frames import Close

        item = await self.incoming.get()
        if item is StopAsyncIteration:
            raise ConnectionClosedOK(Close(1000, ""), Close(1000, ""), True)
        return item

    async def send(self, text: str) -> None:
        if self.fail_send:
            raise ConnectionError("the socket broke")
        self.sent.append(json.loads(text))
        self.sent_event.set()

    async def close(self) -> None:
        self.closed = True
        self.incoming.put_nowait(StopAsyncIteration)


@pytest.fixture(scope="module")
def registry():
    with load_navai_functions(base_dir=FUNCTIONS, folders="call_functions", env={}) as loaded:
        yield loaded


def manager_with(registry, sockets, **kwargs) -> tuple[SidebandManager, list[tuple[str, dict]]]:
    opened: list[tuple[str, dict]] = []
    queue = list(sockets)

    def connect(url, headers, _timeout):
        opened.append((url, dict(headers)))
        item = queue.pop(0)
        if isinstance(item, BaseException):
            raise item
        return item

    options = NavaiVoiceBackendOptions(
        openai_api_key=KEY,
        openai_base_url="http://127.0.0.1:9/v1",
        openai_organization="org-1",
        openai_project="proj-1",
    )
    return SidebandManager(options, registry, connect=connect, **kwargs), opened


async def wait_sent(ws: MemorySocket, count: int) -> None:
    while len(ws.sent) < count:
        ws.sent_event.clear()
        await asyncio.wait_for(ws.sent_event.wait(), 5)


def done_event(call_id: str, name: str, arguments: object) -> str:
    return json.dumps(
        {
            "type": "response.function_call_arguments.done",
            "call_id": call_id,
            "name": name,
            "arguments": arguments,
        }
    )


def response_done(*ids: str) -> str:
    output = [{"type": "function_call", "call_id": tool_call} for tool_call in ids]
    return json.dumps({"type": "response.done", "response": {"output": output}})


@pytest.mark.asyncio
async def test_odd_events_are_skipped_and_odd_arguments_answered(registry, caplog) -> None:
    caplog.set_level(logging.INFO, logger="navai")
    ws = MemorySocket(
        [
            "not json",
            "[1, 2]",
            json.dumps({"type": "error", "error": {"message": "upstream hiccup"}}),
            done_event("c1", "add", ""),  # no arguments at all
            done_event("c2", "add", "null"),
            done_event("c3", "add", "[1, 2]"),
            response_done("c1", "c2", "c3"),
        ]
    )
    manager, opened = manager_with(registry, [ws])
    manager.reserve()
    manager.start("rtc_1", KEY)
    await wait_sent(ws, 4)
    assert opened == [
        (
            "ws://127.0.0.1:9/v1/realtime?call_id=rtc_1",
            {
                "Authorization": f"Bearer {KEY}",
                "OpenAI-Organization": "org-1",
                "OpenAI-Project": "proj-1",
            },
        )
    ]
    outputs = {e["item"]["call_id"]: json.loads(e["item"]["output"]) for e in ws.sent[:3]}
    assert {key: value["error"] for key, value in outputs.items()} == {
        "c1": "Invalid arguments.",
        "c2": "Invalid arguments.",
        "c3": "Invalid arguments.",
    }
    assert "JSON object" in outputs["c3"]["details"]
    assert ws.sent[3] == {"type": "response.create"}
    assert "non-JSON event" in caplog.text
    assert "upstream hiccup" in caplog.text
    await manager.aclose()
    assert manager.active == 0
    with pytest.raises(SidebandLimitError, match="shutting down"):
        manager.reserve()


@pytest.mark.asyncio
async def test_a_bug_in_the_registry_is_an_ok_false_answer(registry, monkeypatch) -> None:
    async def broken(*_args, **_kwargs):
        raise RuntimeError("bug")

    ws = MemorySocket([done_event("c1", "add", "{}"), response_done("c1")])
    manager, _ = manager_with(registry, [ws])
    monkeypatch.setattr(
        manager, "registry", type("R", (), {"aexecute": broken, "get": registry.get})()
    )
    manager.reserve()
    manager.start("rtc_2", KEY)
    await wait_sent(ws, 2)
    assert json.loads(ws.sent[0]["item"]["output"]) == {
        "ok": False,
        "function_name": "add",
        "error": "Internal error running the tool.",
    }
    await manager.stop("rtc_2")
    assert await manager.stop("rtc_2") is False  # already gone


@pytest.mark.asyncio
async def test_a_broken_send_is_logged_and_no_response_is_asked(registry, caplog) -> None:
    ws = MemorySocket(
        [done_event("c1", "add", '{"a": 1, "b": 2}'), response_done("c1")], fail_send=True
    )
    manager, _ = manager_with(registry, [ws])
    manager.reserve()
    manager.start("rtc_3", KEY)
    for _ in range(500):  # the log line is the only trace a failed send leaves
        if "could not send" in caplog.text:
            break
        await asyncio.sleep(0.01)
    assert "could not send" in caplog.text
    await manager.aclose()
    assert "rtc_3" in caplog.text
    assert KEY not in caplog.text


@pytest.mark.asyncio
async def test_a_refused_handshake_is_not_retried(registry, caplog) -> None:
    from websockets.exceptions import InvalidStatus
    from websockets.http11 import Response

    refused = InvalidStatus(Response(403, "Forbidden", None))  # type: ignore[arg-type]
    manager, opened = manager_with(registry, [refused])
    manager.reserve()
    manager.start("rtc_4", KEY)
    await manager.wait_closed("rtc_4")
    assert len(opened) == 1
    assert "Sideband of call rtc_4 failed" in caplog.text
    assert manager.active == 0


@pytest.mark.asyncio
async def test_a_sideband_that_keeps_dropping_gives_up_within_its_bound(registry, caplog) -> None:
    manager, opened = manager_with(
        registry, [OSError("refused")] * 3, max_reconnects=2, reconnect_delay=0.001
    )
    manager.reserve()
    manager.start("rtc_5", KEY)
    await manager.wait_closed("rtc_5")
    assert len(opened) == 3  # the first try and two reopenings
    assert "dropped 3 times" in caplog.text
    assert manager.active == 0


@pytest.mark.asyncio
async def test_slots_cap_and_a_second_start_of_one_call(registry) -> None:
    ws = MemorySocket([])
    manager, opened = manager_with(registry, [ws], max_sidebands=2)
    manager.reserve()
    manager.start("rtc_6", KEY)
    manager.reserve()
    manager.start("rtc_6", KEY)  # the same call: the second reservation is given back
    assert manager.active == 1
    manager.reserve()
    with pytest.raises(SidebandLimitError, match="NAVAI_MAX_SIDEBANDS"):
        manager.reserve()
    manager.release()
    await manager.aclose()
    assert manager.active == 0
    assert len(opened) == 1


def test_tool_output_of_another_navai_error() -> None:
    class Registry:
        def get(self, _name):
            return None

    assert tool_output(Registry(), "x", NavaiError("nope")) == {
        "ok": False,
        "function_name": "x",
        "error": "nope",
    }
    assert tool_output(Registry(), "x", 3) == {
        "ok": True,
        "function_name": "x",
        "source": "",
        "result": 3,
    }


def test_background_loop_runs_calls_times_out_and_closes() -> None:
    background = BackgroundLoop(name="navai-test-loop")
    assert background.call(lambda: 41 + 1) == 42
    with pytest.raises(concurrent.futures.TimeoutError):
        background.run(asyncio.sleep(5), timeout=0.05)
    finished = []

    async def last() -> None:
        finished.append(True)

    background.close(last)
    assert finished == [True]
    background.close()  # a second close does nothing

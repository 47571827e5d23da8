"""A fake OpenAI Realtime for WebRTC calls: the calls endpoint and the sideband WebSocket.

A sibling of :mod:`tests.fake_openai`, on a real socket on ``127.0.0.1`` (uvicorn in a
thread, so sync and async tests can use it):

- ``POST /v1/realtime/calls`` checks the multipart body (an ``sdp`` part holding an SDP
  offer, a ``session`` part holding JSON), records it, and answers ``201`` with an SDP
  answer and ``Location: /v1/realtime/calls/rtc_<n>``; ``fail_calls(status, body)``
  queues error answers instead.
- ``POST /v1/realtime/calls/{call_id}/hangup`` records the hangup and ends the call's
  sideband (a normal close, as OpenAI does when a call ends).
- ``WS /v1/realtime?call_id=...`` is the sideband. It plays the call's script, a list of
  :class:`Turn` (each one model response asking for tool calls): it sends a
  ``response.function_call_arguments.done`` per call, then ``response.done``, and waits
  for a ``function_call_output`` per call and one ``response.create`` before the next
  turn. Everything the backend sends is recorded in ``events[call_id]``.

Tests wait on what happened (:meth:`FakeRealtime.wait_for`), never on time.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect
from uvicorn.config import WS_PROTOCOLS

# uvicorn's sans-I/O websockets protocol (0.35+); before it, wsproto: the legacy websockets
# protocol of older uvicorn releases does not work with websockets 13 and later.
_WS_PROTOCOL = "websockets-sansio" if "websockets-sansio" in WS_PROTOCOLS else "wsproto"
ANSWER_SDP = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=FakeOpenAI\r\nt=0 0\r\n"


@dataclass(frozen=True)
class ToolCall:
    """One function call the fake model makes."""

    name: str
    arguments: str
    call_id: str


@dataclass(frozen=True)
class Turn:
    """One model response asking for these tool calls (several: parallel calls)."""

    calls: tuple[ToolCall, ...]


@dataclass
class RecordedCall:
    """A ``POST /v1/realtime/calls`` the fake received."""

    headers: dict[str, str]
    sdp: str
    session: dict[str, Any]
    call_id: str | None


@dataclass
class Script:
    """What the sideband of one call plays."""

    turns: list[Turn] = field(default_factory=list)
    end_call: bool = False  # close the sideband normally after the last turn
    drop_first: bool = False  # drop the first connection abruptly (1011)


_counter = itertools.count(1)


def call(name: str, arguments: Any, call_id: str | None = None) -> ToolCall:
    """A tool call; ``arguments`` is sent as is when a string, else as JSON."""
    text = arguments if isinstance(arguments, str) else json.dumps(arguments)
    return ToolCall(name, text, call_id or f"call_{next(_counter)}")


def turn(*calls: ToolCall) -> Turn:
    """One response asking for ``calls``."""
    return Turn(tuple(calls))


class _BadMultipartError(Exception):
    pass


def _parse_multipart(content_type: str, body: bytes) -> dict[str, tuple[str, bytes]]:
    if not content_type.startswith("multipart/form-data") or "boundary=" not in content_type:
        raise _BadMultipartError(f"expected multipart/form-data, got {content_type!r}")
    boundary = content_type.split("boundary=", 1)[1].strip().strip('"').encode()
    parts: dict[str, tuple[str, bytes]] = {}
    chunks = body.split(b"--" + boundary)
    if len(chunks) < 3 or not chunks[-1].startswith(b"--"):
        raise _BadMultipartError("the multipart body is not terminated")
    for chunk in chunks[1:-1]:
        if not chunk.startswith(b"\r\n") or not chunk.endswith(b"\r\n"):
            raise _BadMultipartError("a part is not framed by CRLF")
        head, sep, data = chunk[2:-2].partition(b"\r\n\r\n")
        if not sep:
            raise _BadMultipartError("a part has no blank line after its headers")
        headers = {}
        for line in head.decode().split("\r\n"):
            key, _, value = line.partition(":")
            headers[key.strip().lower()] = value.strip()
        disposition = headers.get("content-disposition", "")
        if 'name="' not in disposition:
            raise _BadMultipartError("a part has no name")
        name = disposition.split('name="', 1)[1].split('"', 1)[0]
        parts[name] = (headers.get("content-type", ""), data)
    return parts


class FakeRealtime:
    """The fake; use as a context manager. ``url`` is the ``openai_base_url``."""

    def __init__(self, *, peer: bool = False) -> None:
        #: Answer offers with a real WebRTC peer (aiortc), so a browser really connects;
        #: the sideband's events then also go to the browser's data channel.
        self.peer = peer
        self._peers: dict[str, Any] = {}
        self._channels: dict[str, Any] = {}
        self._channel_open: dict[str, asyncio.Event] = {}
        self.calls: list[RecordedCall] = []
        self.hangups: list[str] = []
        self.events: dict[str, list[dict[str, Any]]] = {}
        self.connects: dict[str, list[str | None]] = {}
        self.open_sidebands: set[str] = set()
        self.next_script = Script()
        self._scripts: dict[str, Script] = {}
        self._failures: deque[tuple[int, Any]] = deque()
        self._sockets: dict[str, WebSocket] = {}
        self._ended: dict[str, asyncio.Event] = {}
        self._condition = threading.Condition()
        self._ids = itertools.count(1)
        self._loop: asyncio.AbstractEventLoop | None = None
        self.url = ""

    # --- scripting and waiting (any thread) -----------------------------------------------

    def script(self, *turns: Turn, end_call: bool = False, drop_first: bool = False) -> None:
        """What the sidebands of the calls created from now on play."""
        self.next_script = Script(list(turns), end_call, drop_first)

    def fail_calls(self, status: int, body: Any = None) -> None:
        """Answer the next ``POST /v1/realtime/calls`` with this error."""
        self._failures.append((status, body))

    def clear(self) -> None:
        with self._condition:
            self.calls.clear()
            self.hangups.clear()
            self.events.clear()
            self.connects.clear()
            self._failures.clear()
            self.next_script = Script()
            # Forget finished calls (a long run would keep every call's record otherwise).
            for call_id in [key for key in self._scripts if key not in self.open_sidebands]:
                self._scripts.pop(call_id, None)
                self._ended.pop(call_id, None)
                self._turns_done.pop(call_id, None)
                self._received.pop(call_id, None)

    def wait_for(self, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
        """Block until ``predicate()`` holds (checked whenever something happens)."""
        deadline = time.monotonic() + timeout
        with self._condition:
            while not predicate():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    msg = "the fake OpenAI never saw what the test waits for"
                    raise AssertionError(msg)
                # Woken by every event of the fake; re-checked now and then as well,
                # for predicates on the backend's state, which the fake cannot signal.
                self._condition.wait(min(remaining, 0.05))

    def _notify(self) -> None:
        with self._condition:
            self._condition.notify_all()

    def sent(self, call_id: str, kind: str | None = None) -> list[dict[str, Any]]:
        """What the backend sent on ``call_id``'s sideband (of one ``type`` if given)."""
        with self._condition:
            events = list(self.events.get(call_id, []))
        return [event for event in events if kind is None or event.get("type") == kind]

    def outputs(self, call_id: str) -> dict[str, Any]:
        """The tool outputs sent on ``call_id``, parsed, by tool call id."""
        return {
            event["item"]["call_id"]: json.loads(event["item"]["output"])
            for event in self.sent(call_id, "conversation.item.create")
        }

    def end_call(self, call_id: str) -> None:
        """End the call from OpenAI's side: its sideband closes normally."""
        assert self._loop is not None
        self._loop.call_soon_threadsafe(self._end, call_id)

    def _end(self, call_id: str) -> None:
        ended = self._ended.get(call_id)
        if ended is not None:
            ended.set()

    # --- the app ------------------------------------------------------------------------------

    async def _calls(self, request: Request) -> Response:
        body = await request.body()
        try:
            parts = _parse_multipart(request.headers.get("content-type", ""), body)
            if set(parts) != {"sdp", "session"}:
                raise _BadMultipartError(f"expected the parts sdp and session, got {sorted(parts)}")
            _, sdp = parts["sdp"]
            _, session = parts["session"]
            if not sdp.startswith(b"v=0"):
                raise _BadMultipartError("the sdp part is not an SDP offer")
            session_data = json.loads(session)
        except (_BadMultipartError, ValueError) as error:
            return JSONResponse({"error": {"message": str(error), "type": "invalid_request"}}, 400)
        record = RecordedCall(
            dict(request.headers.items()), sdp.decode(), session_data, call_id=None
        )
        if self._failures:
            code, error_body = self._failures.popleft()
            with self._condition:
                self.calls.append(record)
                self._condition.notify_all()
            return JSONResponse(error_body, code)
        call_id = f"rtc_fake{next(self._ids):04d}"
        record.call_id = call_id
        with self._condition:
            self.calls.append(record)
            script = self.next_script  # each call plays its own copy
            self._scripts[call_id] = Script(list(script.turns), script.end_call, script.drop_first)
            self.events[call_id] = []
            self._condition.notify_all()
        self._ended[call_id] = asyncio.Event()
        answer = await self._answer_with_peer(call_id, sdp.decode()) if self.peer else ANSWER_SDP
        return Response(
            answer,
            201,
            headers={"Location": f"/v1/realtime/calls/{call_id}"},
            media_type="application/sdp",
        )

    async def _answer_with_peer(self, call_id: str, offer: str) -> str:
        from aiortc import RTCPeerConnection, RTCSessionDescription
        from aiortc.contrib.media import MediaBlackhole

        pc = RTCPeerConnection()
        self._peers[call_id] = pc
        opened = self._channel_open.setdefault(call_id, asyncio.Event())
        sink = MediaBlackhole()

        @pc.on("datachannel")
        def on_channel(channel: Any) -> None:
            self._channels[call_id] = channel
            opened.set()

        @pc.on("track")
        def on_track(track: Any) -> None:
            sink.addTrack(track)

        await pc.setRemoteDescription(RTCSessionDescription(sdp=offer, type="offer"))
        await pc.setLocalDescription(await pc.createAnswer())
        await sink.start()  # consume the browser's audio (its tracks came with the offer)
        return str(pc.localDescription.sdp)

    def _to_browser(self, call_id: str, event: dict[str, Any]) -> None:
        channel = self._channels.get(call_id)
        if channel is not None and channel.readyState == "open":
            channel.send(json.dumps(event))

    async def _close_peers(self) -> None:
        peers, self._peers = list(self._peers.values()), {}
        for pc in peers:
            with contextlib.suppress(Exception):
                await pc.close()

    async def _hangup(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]
        with self._condition:
            self.hangups.append(call_id)
            self._condition.notify_all()
        if call_id not in self._ended:
            return JSONResponse({"error": {"message": "call not found"}}, 404)
        self._end(call_id)
        return Response(status_code=200)

    async def _sideband(self, ws: WebSocket) -> None:
        call_id = ws.query_params.get("call_id", "")
        with self._condition:
            self.connects.setdefault(call_id, []).append(ws.headers.get("authorization"))
            self._condition.notify_all()
        script = self._scripts.get(call_id)
        if script is None or not (ws.headers.get("authorization") or "").startswith("Bearer sk-"):
            await ws.close(code=1008)
            return
        await ws.accept()
        if script.drop_first:
            script.drop_first = False
            await ws.close(code=1011)
            return
        turns, script.turns = script.turns, []  # a reconnect does not replay them
        self.open_sidebands.add(call_id)
        self._notify()
        ended = self._ended.setdefault(call_id, asyncio.Event())
        reader = asyncio.ensure_future(self._read(call_id, ws))
        try:
            if self.peer:  # the browser must see the events too: wait for its channel
                opened = self._channel_open.setdefault(call_id, asyncio.Event())
                await asyncio.wait_for(opened.wait(), 30)
            for number, step in enumerate(turns):
                await self._play(ws, step, number)
                await self._answered(call_id, step, reader)
            if script.end_call:
                ended.set()
            waiter = asyncio.ensure_future(ended.wait())
            await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            if ended.is_set():
                with contextlib.suppress(Exception):
                    await ws.close(code=1000)
        finally:
            reader.cancel()
            with contextlib.suppress(BaseException):
                await reader
            self.open_sidebands.discard(call_id)
            self._notify()

    async def _play(self, ws: WebSocket, step: Turn, number: int) -> None:
        response_id = f"resp_{number}"
        call_id = ws.query_params.get("call_id", "")
        for index, tool_call in enumerate(step.calls):
            event = {
                "type": "response.function_call_arguments.done",
                "response_id": response_id,
                "item_id": f"item_{tool_call.call_id}",
                "output_index": index,
                "call_id": tool_call.call_id,
                "name": tool_call.name,
                "arguments": tool_call.arguments,
            }
            self._to_browser(call_id, event)
            await ws.send_text(json.dumps(event))
        output = [
            {
                "type": "function_call",
                "id": f"item_{tool_call.call_id}",
                "call_id": tool_call.call_id,
                "name": tool_call.name,
                "arguments": tool_call.arguments,
                "status": "completed",
            }
            for tool_call in step.calls
        ]
        await ws.send_text(
            json.dumps(
                {
                    "type": "response.done",
                    "response": {"id": response_id, "status": "completed", "output": output},
                }
            )
        )

    async def _answered(self, call_id: str, step: Turn, reader: asyncio.Future[None]) -> None:
        wanted = {tool_call.call_id for tool_call in step.calls}
        received = self._received.setdefault(call_id, asyncio.Event())
        while not reader.done():
            events = self.sent(call_id)
            answered = {
                event["item"]["call_id"]
                for event in events
                if event.get("type") == "conversation.item.create"
            }
            creates = [event for event in events if event.get("type") == "response.create"]
            if wanted <= answered and len(creates) >= 1 + self._turns_done.get(call_id, 0):
                self._turns_done[call_id] = self._turns_done.get(call_id, 0) + 1
                return
            # Woken by the reader on every event (or when the socket closes).
            waiter = asyncio.ensure_future(received.wait())
            await asyncio.wait({waiter, reader}, return_when=asyncio.FIRST_COMPLETED)
            waiter.cancel()
            received.clear()

    async def _read(self, call_id: str, ws: WebSocket) -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                text = await ws.receive_text()
                event = json.loads(text)
                with self._condition:
                    self.events.setdefault(call_id, []).append(event)
                    self._condition.notify_all()
                if event.get("type") == "conversation.item.create":
                    self._to_browser(call_id, {**event, "type": "conversation.item.added"})
                elif event.get("type") == "response.create":
                    transcript = {"type": "response.output_audio_transcript.done"}
                    self._to_browser(call_id, {**transcript, "transcript": "Done, thanks."})
                self._received.setdefault(call_id, asyncio.Event()).set()

    def app(self) -> Starlette:
        self._turns_done: dict[str, int] = {}
        self._received: dict[str, asyncio.Event] = {}
        return Starlette(
            routes=[
                Route("/v1/realtime/calls", self._calls, methods=["POST"]),
                Route("/v1/realtime/calls/{call_id}/hangup", self._hangup, methods=["POST"]),
                WebSocketRoute("/v1/realtime", self._sideband),
            ]
        )

    # --- running --------------------------------------------------------------------------

    def __enter__(self) -> FakeRealtime:  # noqa: PYI034 - Self needs 3.11
        self._server = uvicorn.Server(
            uvicorn.Config(
                self.app(),
                host="127.0.0.1",
                port=0,
                log_level="warning",
                lifespan="off",
                loop="asyncio",
                ws=_WS_PROTOCOL,
                ws_max_size=16 * 1024 * 1024,
            )
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                msg = "the fake Realtime server did not start"
                raise RuntimeError(msg)
            time.sleep(0.005)
        port = self._server.servers[0].sockets[0].getsockname()[1]
        self._loop = _server_loop(self._server)
        self.url = f"http://127.0.0.1:{port}/v1"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._peers and self._loop is not None:
            asyncio.run_coroutine_threadsafe(self._close_peers(), self._loop).result(10)
        self._server.should_exit = True
        self._thread.join(10)


def _server_loop(server: uvicorn.Server) -> asyncio.AbstractEventLoop:
    loop = server.servers[0].get_loop()
    assert isinstance(loop, asyncio.AbstractEventLoop)
    return loop


@contextlib.contextmanager
def fake_realtime() -> Iterator[FakeRealtime]:
    with FakeRealtime() as fake:
        yield fake

"""Server-side tools: the backend joins a call's "sideband" WebSocket and runs its tools.

After a WebRTC call is created (:mod:`navai_core._upstream._calls`), the backend opens
``wss://.../v1/realtime?call_id=...`` with the server's key. It then sees the call's
server events: on ``response.function_call_arguments.done`` it runs the tool through
the registry (the same validation, timeouts and :class:`FunctionContext`, with the
call id), and sends the result back as a ``function_call_output`` item; once every
call of a response is answered it sends ``response.create``, so the model speaks.
Tool calls of one response run concurrently.

:class:`SidebandManager` runs one asyncio task per call on one event loop: the ASGI
app's, or, under WSGI, a background loop thread it owns
(:class:`navai_core._threads.BackgroundLoop`).
The number of sidebands is capped; a slot is reserved *before* OpenAI is asked for a
call, so a call the server could not serve is never created. A sideband ends when the
call ends (OpenAI closes it), on hangup, after ``idle_timeout`` seconds without an
event, or when the manager is closed (server shutdown). A dropped connection is logged
with the call id and reopened, a bounded number of times.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections.abc import Callable, Mapping
from typing import Any

import attrs
import httpx

from navai_core._config._options import NavaiVoiceBackendOptions
from navai_core._functions import FunctionContext, NavaiFunctionRegistry
from navai_core._functions._result import failure_body
from navai_core._upstream._calls import check_call_id, sideband_url
from navai_core.exceptions import (
    InvalidArgumentsError,
    NavaiError,
    SidebandLimitError,
    UnknownFunctionError,
)

__all__ = [
    "SidebandManager",
    "session_tools",
    "tool_output",
]

logger = logging.getLogger("navai")

_MAX_MESSAGE_BYTES = 16 * 1024 * 1024


def session_tools(registry: NavaiFunctionRegistry) -> list[dict[str, Any]]:
    """The registry's tools in the Realtime session's shape, with their real JSON Schemas."""
    return [
        {
            "type": "function",
            "name": item.name,
            "description": item.description,
            "parameters": item.parameters,
        }
        for item in registry.items
    ]


def tool_output(registry: NavaiFunctionRegistry, name: str, outcome: object) -> dict[str, Any]:
    """What a tool call answers the model: the execute route's JSON, ``ok`` true or false.

    Args:
        registry: The registry the tool ran in (for its canonical name and source).
        name: The name the model called.
        outcome: The tool's JSON-ready result, or the :class:`NavaiError` it failed with.
    """
    if not isinstance(outcome, NavaiError):
        definition = registry.get(name)
        canonical, source = (definition.name, definition.source) if definition else (name, "")
        return {"ok": True, "function_name": canonical, "source": source, "result": outcome}
    error = outcome
    function_name = getattr(error, "function_name", name)
    if isinstance(error, UnknownFunctionError):
        return {
            "ok": False,
            "function_name": name,
            "error": "Unknown or disallowed function.",
            "available_functions": list(error.available),
        }
    body: dict[str, str] = failure_body(error) or {"error": error.message}
    return {"ok": False, "function_name": function_name, **body}


@attrs.define(eq=False)
class _Call:
    call_id: str
    api_key: str = attrs.field(repr=False)
    headers: httpx.Headers = attrs.field(repr=False)
    session_update: dict[str, Any] | None
    ws: Any = None
    task: asyncio.Task[None] | None = None
    tools: dict[str, asyncio.Task[None]] = attrs.field(factory=dict)
    answered: set[str] = attrs.field(factory=set)
    responses: set[asyncio.Task[None]] = attrs.field(factory=set)
    stopping: bool = False
    closed: asyncio.Event = attrs.field(factory=asyncio.Event)

    def ending(self) -> bool:
        """Whether the sideband was asked to end (a method: it changes while awaiting)."""
        return self.stopping


Connect = Callable[..., Any]


def _default_connect(url: str, headers: Mapping[str, str], open_timeout: float) -> Any:
    from websockets.asyncio.client import connect  # noqa: PLC0415 - the extra is optional

    return connect(
        url,
        additional_headers=dict(headers),
        open_timeout=open_timeout,
        max_size=_MAX_MESSAGE_BYTES,
        user_agent_header="navai",
    )


class SidebandManager:
    """One task per call's sideband, on one event loop, with a cap and bounded lifetimes.

    Args:
        options: The server's options (where OpenAI is, the timeout of a connect).
        registry: The tools the sidebands run.
        max_sidebands: The most sidebands at once; more calls are refused (503).
        idle_timeout: Seconds without an event after which a sideband is closed.
        max_reconnects: How often a dropped sideband is reopened before giving up.
        reconnect_delay: Seconds before the first reopening (doubling after).
    """

    def __init__(
        self,
        options: NavaiVoiceBackendOptions,
        registry: NavaiFunctionRegistry,
        *,
        max_sidebands: int = 100,
        idle_timeout: float = 600.0,
        max_reconnects: int = 3,
        reconnect_delay: float = 0.25,
        connect: Connect | None = None,
    ) -> None:
        self.options = options
        self.registry = registry
        self.max_sidebands = max_sidebands
        self.idle_timeout = idle_timeout
        self.max_reconnects = max_reconnects
        self.reconnect_delay = reconnect_delay
        self._connect = connect or _default_connect
        self._lock = threading.Lock()
        self._slots = 0
        self._calls: dict[str, _Call] = {}
        self._closed = False

    # --- slots: thread-safe, called before OpenAI is asked --------------------------------

    @property
    def active(self) -> int:
        """Sidebands running or reserved."""
        return self._slots

    def calls(self) -> list[str]:
        """The call ids with a sideband."""
        return list(self._calls)

    def reserve(self) -> None:
        """Take a slot for a call about to be created.

        Raises:
            SidebandLimitError: All ``max_sidebands`` slots are taken (503).
        """
        with self._lock:
            if self._closed:
                msg = "The server is shutting down; server-side calls are not accepted."
                raise SidebandLimitError(msg)
            if self._slots >= self.max_sidebands:
                msg = (
                    f"Too many calls with server-side tools at once ({self.max_sidebands}). "
                    "Try again later, or raise NAVAI_MAX_SIDEBANDS."
                )
                raise SidebandLimitError(msg)
            self._slots += 1

    def release(self) -> None:
        """Give back a slot whose call was not created."""
        with self._lock:
            self._slots = max(0, self._slots - 1)

    # --- on the loop -------------------------------------------------------------------------

    def start(
        self,
        call_id: str,
        api_key: str,
        *,
        headers: httpx.Headers | None = None,
        session_update: dict[str, Any] | None = None,
    ) -> None:
        """Open the sideband of ``call_id`` in a task (a slot must be reserved).

        Must be called on the manager's event loop. ``session_update`` (a
        ``session.update`` event's ``session``) is sent once connected: how a call made
        elsewhere (with an ephemeral key) gets the server's tools.
        """
        check_call_id(call_id)
        if call_id in self._calls:
            self.release()  # already served: the new reservation is not needed
            return
        call = _Call(
            call_id=call_id,
            api_key=api_key,
            headers=headers or httpx.Headers(),
            session_update=session_update,
        )
        self._calls[call_id] = call
        call.task = asyncio.get_running_loop().create_task(
            self._run(call), name=f"navai-sideband-{call_id}"
        )

    async def stop(self, call_id: str) -> bool:
        """Close the sideband of ``call_id``; ``False`` when it has none."""
        call = self._calls.get(call_id)
        if call is None:
            return False
        await self._stop(call)
        return True

    async def _stop(self, call: _Call) -> None:
        call.stopping = True
        ws = call.ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 2.0)
        task = call.task
        if task is not None and not task.done():
            # Closing ends the task; one stuck elsewhere (connecting, a backoff) is cancelled.
            await asyncio.wait({task}, timeout=0 if ws is None else 2.0)
            if not task.done():
                task.cancel()
        await call.closed.wait()

    async def aclose(self) -> None:
        """Close every sideband and accept no more (server shutdown)."""
        with self._lock:
            self._closed = True
        calls = list(self._calls.values())
        await asyncio.gather(*(self._stop(call) for call in calls), return_exceptions=True)

    async def wait_closed(self, call_id: str) -> None:
        """Wait until the sideband of ``call_id`` has ended (at once if there is none)."""
        call = self._calls.get(call_id)
        if call is not None:
            await call.closed.wait()

    # --- one call ---------------------------------------------------------------------------

    async def _run(self, call: _Call) -> None:
        url = sideband_url(self.options, call.call_id)
        headers = {"Authorization": f"Bearer {call.api_key}"}
        if self.options.openai_organization:
            headers["OpenAI-Organization"] = self.options.openai_organization
        if self.options.openai_project:
            headers["OpenAI-Project"] = self.options.openai_project
        failures = 0
        try:
            while not call.ending():
                try:
                    async with self._connect(
                        url, headers, self.options.openai_timeout_seconds
                    ) as ws:
                        call.ws = ws
                        if call.session_update is not None:
                            update = {"type": "session.update", "session": call.session_update}
                            await ws.send(json.dumps(update))
                            call.session_update = None
                        failures = 0
                        if await self._serve(call, ws):
                            return
                except Exception as error:  # noqa: PERF203 - the loop is the reconnecting
                    if call.ending() or not _retryable(error):
                        if not call.ending():
                            logger.warning(
                                "[navai] Sideband of call %s failed: %s",
                                call.call_id,
                                _describe(error),
                            )
                        return
                    failures += 1
                    if failures > self.max_reconnects:
                        logger.error(  # noqa: TRY400 - the reason is known; no traceback
                            "[navai] Sideband of call %s dropped %d times (%s); giving up.",
                            call.call_id,
                            failures,
                            _describe(error),
                        )
                        return
                    wait = self.reconnect_delay * 2 ** (failures - 1)
                    logger.warning(
                        "[navai] Sideband of call %s dropped (%s); reconnecting in %.2f s "
                        "(%d of %d).",
                        call.call_id,
                        _describe(error),
                        wait,
                        failures,
                        self.max_reconnects,
                    )
                    await asyncio.sleep(wait)
                finally:
                    call.ws = None
        except asyncio.CancelledError:
            pass
        finally:
            pending = [*call.tools.values(), *call.responses]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)
            self._calls.pop(call.call_id, None)
            self.release()
            call.closed.set()

    async def _serve(self, call: _Call, ws: Any) -> bool:
        """Read events until the call ends (``True``) or the connection drops (raises)."""
        from websockets.exceptions import ConnectionClosedOK  # noqa: PLC0415

        while True:
            try:
                raw = await asyncio.wait_for(ws.recv(), self.idle_timeout)
            except asyncio.TimeoutError:
                logger.info(
                    "[navai] Sideband of call %s idle for %g s; closing it.",
                    call.call_id,
                    self.idle_timeout,
                )
                call.stopping = True
                await ws.close()
                return True
            except ConnectionClosedOK:
                return True  # OpenAI closed it: the call is over
            self._dispatch(call, raw)

    def _dispatch(self, call: _Call, raw: str | bytes) -> None:
        try:
            event = json.loads(raw)
        except ValueError:
            logger.warning("[navai] Sideband of call %s sent a non-JSON event.", call.call_id)
            return
        if not isinstance(event, dict):
            return
        kind = event.get("type")
        if kind == "response.function_call_arguments.done":
            self._start_tool(call, event.get("call_id"), event.get("name"), event.get("arguments"))
        elif kind == "response.done":
            response = event.get("response")
            output = response.get("output") if isinstance(response, dict) else None
            ids: list[str] = []
            for item in output if isinstance(output, list) else ():
                if isinstance(item, dict) and item.get("type") == "function_call":
                    tool_call = item.get("call_id")
                    self._start_tool(call, tool_call, item.get("name"), item.get("arguments"))
                    if isinstance(tool_call, str):
                        ids.append(tool_call)
            if ids:
                task = asyncio.get_running_loop().create_task(self._respond(call, ids))
                call.responses.add(task)
                task.add_done_callback(call.responses.discard)
        elif kind == "error":
            error = event.get("error")
            message = error.get("message") if isinstance(error, dict) else error
            logger.warning("[navai] OpenAI error on call %s: %s", call.call_id, message)

    def _start_tool(self, call: _Call, tool_call: object, name: object, arguments: object) -> None:
        if not isinstance(tool_call, str) or tool_call in call.tools or tool_call in call.answered:
            return  # each tool call runs once, whichever event announced it first
        task = asyncio.get_running_loop().create_task(
            self._run_tool(call, tool_call, name if isinstance(name, str) else "", arguments)
        )
        call.tools[tool_call] = task

    async def _run_tool(self, call: _Call, tool_call: str, name: str, arguments: object) -> None:
        outcome: object
        try:
            payload = _arguments(name, arguments)
            context = FunctionContext(
                function_name=name, headers=call.headers, request=None, call_id=call.call_id
            )
            outcome = await self.registry.aexecute(name, payload, context)
        except NavaiError as error:
            outcome = error
        except Exception:  # the registry maps a tool's errors; this is a bug of ours
            logger.exception("[navai] Tool %s failed on call %s.", name, call.call_id)
            outcome = NavaiError("Internal error running the tool.")
        output = tool_output(self.registry, name, outcome)
        item = {
            "type": "conversation.item.create",
            "item": {
                "type": "function_call_output",
                "call_id": tool_call,
                "output": json.dumps(output, separators=(",", ":")),
            },
        }
        await self._send(call, item)
        call.answered.add(tool_call)

    async def _respond(self, call: _Call, ids: list[str]) -> None:
        tasks = [call.tools[tool_call] for tool_call in ids if tool_call in call.tools]
        await asyncio.gather(*tasks, return_exceptions=True)
        for tool_call in ids:
            call.tools.pop(tool_call, None)
        if all(tool_call in call.answered for tool_call in ids):
            await self._send(call, {"type": "response.create"})

    async def _send(self, call: _Call, event: Mapping[str, Any]) -> None:
        ws = call.ws
        if ws is None:
            logger.warning(
                "[navai] Sideband of call %s is not connected; %s not sent.",
                call.call_id,
                event.get("type"),
            )
            return
        try:
            await ws.send(json.dumps(event, separators=(",", ":")))
        except Exception as error:
            logger.warning(
                "[navai] Sideband of call %s: could not send %s (%s).",
                call.call_id,
                event.get("type"),
                _describe(error),
            )


def _arguments(name: str, arguments: object) -> dict[str, Any] | None:
    if arguments is None or arguments == "":
        return None
    if isinstance(arguments, str):
        try:
            arguments = json.loads(arguments)
        except ValueError:
            raise InvalidArgumentsError(name, "the arguments are not valid JSON.") from None
    if arguments is None:
        return None
    if not isinstance(arguments, dict):
        raise InvalidArgumentsError(name, "the arguments must be a JSON object.")
    return arguments


def _retryable(error: BaseException) -> bool:
    from websockets.exceptions import InvalidStatus  # noqa: PLC0415

    if isinstance(error, InvalidStatus):
        status = error.response.status_code
        return status >= 500 or status == 429  # noqa: PLR2004 - a 4xx will not get better
    return isinstance(error, OSError | asyncio.TimeoutError) or type(error).__module__.startswith(
        "websockets"
    )


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__

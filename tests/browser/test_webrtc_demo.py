"""The example page in headless Chromium, connecting through the calls route for real.

Chromium (fake microphone) loads ``/navai/demo`` from ``navai serve``'s app, posts its
SDP offer to ``/navai/realtime/calls``; the backend relays it to the fake Realtime, where
an aiortc peer plays OpenAI, answers, and the browser's WebRTC connection comes up. The
fake's sideband then asks for a tool call: the backend runs it, and the page shows the
call and its result. Driven over the Chrome DevTools protocol, waiting on the page's own
DOM changes (a MutationObserver), never on sleeps.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from navai_adapters import cli
from navai_adapters.starlette import create_app
from navai_core import NavaiVoiceBackendOptions
from tests.fake_realtime import FakeRealtime, call, turn
from tests.servers import serve_asgi, serve_process

pytestmark = pytest.mark.integration

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FUNCTIONS = Path(__file__).resolve().parents[1] / "calls"

try:
    import aiortc  # noqa: F401

    HAVE_AIORTC = True
except ImportError:  # pragma: no cover - depends on the machine
    HAVE_AIORTC = False

needs_browser = pytest.mark.skipif(
    CHROMIUM is None or not HAVE_AIORTC,
    reason="needs chromium (apt-get install chromium) and aiortc (pip install aiortc)",
)


@contextlib.contextmanager
def chromium(tmp_path: Path) -> Iterator[str]:
    """Headless Chromium with fake media; yields its DevTools HTTP endpoint."""
    assert CHROMIUM is not None
    command = [
        CHROMIUM,
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={tmp_path / 'profile'}",
    ]
    with serve_process(
        lambda port: [*command, f"--remote-debugging-port={port}", "about:blank"],
        env=dict(os.environ),
        path="/json/version",
        log_path=tmp_path / "chromium.log",
    ) as started:
        yield started.url


class Page:
    """Just enough of the DevTools protocol: navigate, and evaluate (awaiting promises)."""

    def __init__(self, ws) -> None:
        self.ws = ws
        self.ids = 0

    async def send(self, method: str, **params) -> dict:
        self.ids += 1
        number = self.ids
        await self.ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await self.ws.recv())
            if message.get("id") == number:
                assert "error" not in message, message
                return message["result"]

    async def evaluate(self, expression: str):
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        assert "exceptionDetails" not in result, result["exceptionDetails"]
        return result["result"].get("value")


WAIT_FOR_TOOL_RESULT = """
new Promise((resolve, reject) => {
  const log = document.getElementById("log");
  const status = document.getElementById("status");
  const state = () => ({
    status: status.dataset.state,
    call: document.getElementById("call").textContent,
    lines: [...log.querySelectorAll("li")].map((li) => li.className + ": " + li.textContent),
  });
  const done = () => {
    const s = state();
    if (s.status === "connected" && s.lines.some((line) => line.startsWith("tool: result:"))
        && s.lines.some((line) => line.startsWith("assistant:"))) { resolve(s); return true; }
    if (s.status === "error" || s.status === "failed") { reject(new Error(JSON.stringify(s))); return true; }
    return false;
  };
  if (done()) return;
  const timer = setTimeout(() => reject(new Error("timed out: " + JSON.stringify(state()))), 45000);
  const observer = new MutationObserver(() => { if (done()) { observer.disconnect(); clearTimeout(timer); } });
  observer.observe(document.body, { childList: true, subtree: true, attributes: true, characterData: true });
})
"""


async def drive(endpoint: str, url: str) -> dict:
    from websockets.asyncio.client import connect

    target = httpx.put(f"{endpoint}/json/new?about:blank", timeout=10).json()
    async with connect(target["webSocketDebuggerUrl"], max_size=None) as ws:
        page = Page(ws)
        await page.send("Page.enable")
        await page.send("Page.navigate", url=url)
        await page.evaluate(
            "new Promise((r) => document.readyState === 'complete' ? r() : addEventListener('load', () => r()))"
        )
        await page.evaluate("document.getElementById('connect').click()")
        return await page.evaluate(WAIT_FOR_TOOL_RESULT)


@needs_browser
def test_the_demo_page_connects_through_the_route_and_shows_server_tools(
    tmp_path, monkeypatch
) -> None:
    monkeypatch.setenv("NAVAI_DEMO", "true")
    with FakeRealtime(peer=True) as fake:
        fake.script(turn(call("add", {"a": 2, "b": 3}, "browser_1")))
        options = NavaiVoiceBackendOptions(
            openai_api_key="sk-browser-test-key-0123456789", openai_base_url=fake.url
        )
        app = cli._with_demo(
            create_app(
                options,
                env={},
                functions_base_dir=FUNCTIONS,
                functions_folders="call_functions",
                server_tools=True,
            )
        )
        with serve_asgi(app) as url, chromium(tmp_path) as endpoint:
            seen = asyncio.run(drive(endpoint, f"{url}{cli.DEMO_PATH}"))
        [created] = fake.calls
        assert created.call_id in seen["call"]
        assert "server tools" in seen["call"]
        # A real browser's offer went through the route, whole.
        assert "m=audio" in created.sdp
        assert "a=fingerprint" in created.sdp
        assert any(
            line.startswith('tool: add({"a": 2, "b": 3}) run by the server')
            for line in seen["lines"]
        )
        result = next(line for line in seen["lines"] if line.startswith("tool: result:"))
        assert json.loads(result.removeprefix("tool: result: "))["result"] == 5
        assert fake.outputs(created.call_id)["browser_1"]["result"] == 5

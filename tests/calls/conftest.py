"""Fixtures for WebRTC calls and server-side tools: a fake Realtime, both adapters served."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest

from navai_adapters import starlette as navai_starlette
from navai_adapters import wsgi as navai_wsgi
from navai_adapters._http import NavaiHttpHandler
from navai_core import NavaiVoiceBackendOptions, RetryPolicy
from tests.fake_realtime import FakeRealtime
from tests.servers import serve_asgi, serve_wsgi

HERE = Path(__file__).parent
SERVER_KEY = "sk-server-secret-key-0123456789"
OFFER = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


@attrs.frozen
class Served:
    adapter: str
    client: httpx.Client
    fake: FakeRealtime
    handler: NavaiHttpHandler


def options_for(fake: FakeRealtime, **changes: Any) -> NavaiVoiceBackendOptions:
    fields: dict[str, Any] = {
        "openai_api_key": SERVER_KEY,
        "openai_base_url": fake.url,
        "openai_timeout_seconds": 2.0,
        "retry": RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01),
    }
    fields.update(changes)
    return NavaiVoiceBackendOptions(**fields)


@pytest.fixture(scope="module")
def fake_realtime() -> Iterator[FakeRealtime]:
    with FakeRealtime() as fake:
        yield fake


@pytest.fixture
def serve(
    adapter: str, fake_realtime: FakeRealtime
) -> Callable[..., contextlib.AbstractContextManager[Served]]:
    """Start this adapter with the given options/config, against the fake Realtime."""

    @contextlib.contextmanager
    def start(options: NavaiVoiceBackendOptions | None = None, **config: Any) -> Iterator[Served]:
        fake_realtime.clear()
        env = {"NAVAI_FUNCTION_TIMEOUT": "2", **config.pop("env", {})}
        config.setdefault("functions_base_dir", HERE)
        config.setdefault("functions_folders", "call_functions")
        chosen = options or options_for(fake_realtime)
        if adapter == "starlette":
            app = navai_starlette.create_app(chosen, env=env, **config)
            handler = app.state.navai.handler
            server = serve_asgi(app)
        else:
            app = navai_wsgi.create_app(chosen, env=env, **config)
            handler = app.handler
            server = serve_wsgi(app)
        with server as url, httpx.Client(base_url=url, timeout=10) as client:
            yield Served(adapter, client, fake_realtime, handler)

    return start

"""Fixtures for WebRTC calls and server-side tools: a fake Realtime, both adapters served."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.fake_realtime import FakeRealtime
from tests.servers import NavaiApps, Served

HERE = Path(__file__).parent
SERVER_KEY = "sk-server-secret-key-0123456789"
OFFER = "v=0\r\no=- 46117 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\n"


APPS = NavaiApps(
    functions_base_dir=HERE,
    functions_folders="call_functions",
    function_timeout=2,
    server_key=SERVER_KEY,
    openai_timeout=2.0,
    max_attempts=2,
)
options_for = APPS.options


@pytest.fixture(scope="module")
def fake_realtime() -> Iterator[FakeRealtime]:
    with FakeRealtime() as fake:
        yield fake


@pytest.fixture
def serve(
    adapter: str, fake_realtime: FakeRealtime
) -> Callable[..., contextlib.AbstractContextManager[Served]]:
    """Start this adapter with the given options/config, against the fake Realtime."""
    return APPS.starter(adapter, fake_realtime)

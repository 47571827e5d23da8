"""The contract suite's servers: every test runs against both adapters, really served."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from navai_core import NavaiVoiceBackendOptions
from tests.fake_elevenlabs import FakeElevenLabs
from tests.fake_openai import FakeOpenAI
from tests.servers import NavaiApps, Served

HERE = Path(__file__).parent
SERVER_KEY = "sk-server-secret-key-0123456789"
XI_KEY = "sk_elevenlabs-server-key-0123456789abcdef"
FUNCTION_TIMEOUT = 0.5


APPS = NavaiApps(
    functions_base_dir=HERE,
    functions_folders="app_functions",
    function_timeout=FUNCTION_TIMEOUT,
    server_key=SERVER_KEY,
    openai_timeout=1.0,
    max_attempts=2,
)
default_options = APPS.options


def hybrid_options(
    fake: FakeOpenAI, fake_elevenlabs: FakeElevenLabs, **changes: Any
) -> NavaiVoiceBackendOptions:
    """OpenAI for the conversation, the fake ElevenLabs for the voice."""
    fields: dict[str, Any] = {
        "tts_provider": "elevenlabs",
        "elevenlabs_api_key": XI_KEY,
        "elevenlabs_voice_id": "voice-default",
        "elevenlabs_base_url": fake_elevenlabs.url,
        "elevenlabs_timeout_seconds": 1.0,
    }
    fields.update(changes)
    return default_options(fake, **fields)


@pytest.fixture(scope="module")
def prefix() -> str:
    """Where the app is mounted: the root here; the contract suite also runs under a prefix."""
    return ""


@pytest.fixture(scope="module")
def served_config() -> dict[str, Any]:
    """Config of the module's server; a module overrides it to serve otherwise."""
    return {}


@pytest.fixture(scope="module")
def served(
    adapter: str, fake_openai: FakeOpenAI, prefix: str, served_config: dict[str, Any]
) -> Iterator[Served]:
    options = default_options(fake_openai)
    with APPS.running(adapter, options, prefix, fake=fake_openai, **served_config) as served:
        yield served


@pytest.fixture
def server(served: Served) -> Served:
    """The module's server, with the fake upstream reset for this test."""
    served.fake.clear()
    return served


@pytest.fixture
def serve_with(
    adapter: str, fake_openai: FakeOpenAI, prefix: str
) -> Callable[..., contextlib.AbstractContextManager[httpx.Client]]:
    """Start a server of this adapter with other options or config; yield its client."""
    start = APPS.starter(adapter, fake_openai, prefix)

    @contextlib.contextmanager
    def client_of(*args: Any, **config: Any) -> Iterator[httpx.Client]:
        with start(*args, **config) as served:
            yield served.client

    return client_of


@pytest.fixture(scope="module")
def hybrid_served(
    adapter: str, fake_openai: FakeOpenAI, fake_elevenlabs: FakeElevenLabs
) -> Iterator[tuple[Served, FakeElevenLabs]]:
    options = hybrid_options(fake_openai, fake_elevenlabs)
    with APPS.running(adapter, options, fake=fake_openai) as served:
        yield served, fake_elevenlabs


@pytest.fixture
def hybrid(hybrid_served: tuple[Served, FakeElevenLabs]) -> tuple[Served, FakeElevenLabs]:
    """A server whose tts_provider is ElevenLabs, both fakes reset for this test."""
    served, fake_elevenlabs = hybrid_served
    served.fake.clear()
    fake_elevenlabs.clear()
    return served, fake_elevenlabs

"""The contract suite's servers: every test runs against both adapters, really served."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any

import attrs
import httpx
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from werkzeug.middleware.dispatcher import DispatcherMiddleware

from navai_adapters import starlette as navai_starlette
from navai_adapters import wsgi as navai_wsgi
from navai_core import NavaiVoiceBackendOptions, RetryPolicy
from tests.fake_elevenlabs import FakeElevenLabs
from tests.fake_openai import FakeOpenAI
from tests.servers import serve_asgi, serve_wsgi

HERE = Path(__file__).parent
SERVER_KEY = "sk-server-secret-key-0123456789"
XI_KEY = "sk_elevenlabs-server-key-0123456789abcdef"
FUNCTION_TIMEOUT = "0.5"


@attrs.frozen
class Served:
    adapter: str
    url: str
    client: httpx.Client
    fake: FakeOpenAI


def make_app(adapter: str, options: NavaiVoiceBackendOptions, **config: Any) -> Any:
    env = {"NAVAI_FUNCTION_TIMEOUT": FUNCTION_TIMEOUT, **config.pop("env", {})}
    config.setdefault("functions_base_dir", HERE)
    config.setdefault("functions_folders", "app_functions")
    factory = navai_starlette.create_app if adapter == "starlette" else navai_wsgi.create_app
    return factory(options, env=env, **config)


def mounted(adapter: str, app: Any, prefix: str) -> Any:
    """``app`` under ``prefix``, as users mount it: Starlette ``Mount``, WSGI dispatcher."""
    if not prefix:
        return app
    if adapter == "starlette":

        @contextlib.asynccontextmanager
        async def lifespan(_outer: Starlette) -> AsyncIterator[None]:
            # A mounted app's own lifespan is not run by Starlette: enter it from the outer one.
            async with app.state.navai.lifespan():
                yield

        return Starlette(routes=[Mount(prefix, app=app)], lifespan=lifespan)

    def elsewhere(_environ: Any, start_response: Any) -> list[bytes]:
        start_response("404 Not Found", [("Content-Type", "application/json")])
        return [b'{"error": "outside the mount"}']

    dispatcher = DispatcherMiddleware(elsewhere, {prefix: app})
    dispatcher.close = app.close  # type: ignore[attr-defined]  # serve_wsgi closes the app
    return dispatcher


@contextlib.contextmanager
def running(
    adapter: str, options: NavaiVoiceBackendOptions, prefix: str = "", **config: Any
) -> Iterator[str]:
    """Serve an app of ``adapter``; yield its base URL (the prefix included)."""
    app = mounted(adapter, make_app(adapter, options, **config), prefix)
    serve = serve_asgi if adapter == "starlette" else serve_wsgi
    with serve(app) as url:
        yield url + prefix


def default_options(fake: FakeOpenAI, **changes: Any) -> NavaiVoiceBackendOptions:
    fields: dict[str, Any] = {
        "openai_api_key": SERVER_KEY,
        "openai_base_url": fake.url,
        "openai_timeout_seconds": 1.0,
        "retry": RetryPolicy(max_attempts=2, backoff_initial_seconds=0.01),
    }
    fields.update(changes)
    return NavaiVoiceBackendOptions(**fields)


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
    with (
        running(adapter, default_options(fake_openai), prefix, **served_config) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield Served(adapter, url, client, fake_openai)


@pytest.fixture
def server(served: Served) -> Served:
    """The module's server, with the fake upstream reset for this test."""
    served.fake.clear()
    return served


@pytest.fixture
def serve_with(
    adapter: str, fake_openai: FakeOpenAI, prefix: str
) -> Callable[..., contextlib.AbstractContextManager[httpx.Client]]:
    """Start a server of this adapter with other options or config, for one test."""

    @contextlib.contextmanager
    def start(
        options: NavaiVoiceBackendOptions | None = None, **config: Any
    ) -> Iterator[httpx.Client]:
        fake_openai.clear()
        chosen = options or default_options(fake_openai)
        with (
            running(adapter, chosen, prefix, **config) as url,
            httpx.Client(base_url=url, timeout=10) as client,
        ):
            yield client

    return start


@pytest.fixture(scope="module")
def hybrid_served(
    adapter: str, fake_openai: FakeOpenAI, fake_elevenlabs: FakeElevenLabs
) -> Iterator[tuple[Served, FakeElevenLabs]]:
    with (
        running(adapter, hybrid_options(fake_openai, fake_elevenlabs)) as url,
        httpx.Client(base_url=url, timeout=10) as client,
    ):
        yield Served(adapter, url, client, fake_openai), fake_elevenlabs


@pytest.fixture
def hybrid(hybrid_served: tuple[Served, FakeElevenLabs]) -> tuple[Served, FakeElevenLabs]:
    """A server whose tts_provider is ElevenLabs, both fakes reset for this test."""
    served, fake_elevenlabs = hybrid_served
    served.fake.clear()
    fake_elevenlabs.clear()
    return served, fake_elevenlabs

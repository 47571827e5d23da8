"""The rest of the HTTP issue: CORS, wsgiref, the example apps as shipped, serve --workers."""

from __future__ import annotations

import importlib
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from wsgiref.simple_server import WSGIRequestHandler, make_server

import httpx
import pytest

from navai_adapters.starlette import create_app
from navai_adapters.wsgi import create_app as create_wsgi_app
from tests.servers import NAVAI, clean_env, eventually, serve_asgi, serve_process, serve_wsgi

from .conftest import HERE, default_options

pytestmark = pytest.mark.integration

ROOT = Path(__file__).parents[2]
FUNCTIONS = {"functions_base_dir": HERE, "functions_folders": "app_functions"}


def test_cors_preflight_and_response_headers(fake_openai) -> None:
    app = create_app(
        default_options(fake_openai), env={}, cors_origins=["https://app.example"], **FUNCTIONS
    )
    with serve_asgi(app) as url, httpx.Client(base_url=url) as client:
        preflight = client.options(
            "/navai/functions/execute",
            headers={
                "origin": "https://app.example",
                "access-control-request-method": "POST",
                "access-control-request-headers": "content-type",
            },
        )
        assert preflight.status_code == 200
        assert preflight.headers["access-control-allow-origin"] == "https://app.example"
        assert "POST" in preflight.headers["access-control-allow-methods"]
        listed = client.get("/navai/functions", headers={"origin": "https://app.example"})
        assert listed.headers["access-control-allow-origin"] == "https://app.example"
        foreign = client.get("/navai/functions", headers={"origin": "https://evil.example"})
        assert "access-control-allow-origin" not in foreign.headers


def test_cors_origins_from_env(fake_openai) -> None:
    app = create_app(
        default_options(fake_openai),
        env={"NAVAI_CORS_ORIGINS": "https://a.example, https://b.example"},
        **FUNCTIONS,
    )
    assert app.state.navai.handler.config.cors_origins == ("https://a.example", "https://b.example")


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base name
        """Keep test output clean."""


@pytest.fixture
def wsgiref_url(fake_openai) -> Iterator[str]:
    app = create_wsgi_app(default_options(fake_openai), env={}, **FUNCTIONS)
    server = make_server("127.0.0.1", 0, app, handler_class=_QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
        app.close()


def test_wsgi_under_wsgiref(wsgiref_url: str) -> None:
    with httpx.Client(base_url=wsgiref_url) as client:
        assert client.post("/navai/realtime/client-secret", json={}).status_code == 200
        answer = client.post(
            "/navai/functions/execute", json={"function_name": "nap", "payload": {"seconds": 0.01}}
        )
        assert answer.json()["result"] == "rested"
        assert client.get("/navai/functions/execute").status_code == 405


@pytest.fixture
def example_env(monkeypatch: pytest.MonkeyPatch, fake_openai) -> None:
    for key in [key for key in __import__("os").environ if key.startswith(("OPENAI_", "NAVAI_"))]:
        monkeypatch.delenv(key)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-example-app-key-123")
    monkeypatch.setenv("OPENAI_BASE_URL", fake_openai.url)
    monkeypatch.setenv("NAVAI_FUNCTIONS_BASE_DIR", str(ROOT))
    monkeypatch.setenv("NAVAI_FUNCTIONS_FOLDERS", "examples/functions")


def _fresh(module: str):
    sys.modules.pop(module, None)
    return importlib.import_module(module)


@pytest.mark.usefixtures("example_env")
def test_fastapi_example_as_shipped() -> None:
    example = _fresh("examples.fastapi_app")
    session = {"authorization": "Bearer demo-session"}
    with serve_asgi(example.app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        refused = client.post("/navai/realtime/client-secret", json={})
        assert refused.status_code == 401
        assert "Sign in first" in refused.json()["error"]
        assert (
            client.post("/navai/realtime/client-secret", json={}, headers=session).status_code
            == 200
        )
        weather = client.post(
            "/navai/functions/execute",
            json={"function_name": "get_weather", "payload": {"city": "Lima"}},
            headers=session,
        )
        assert weather.json()["result"]["city"] == "Lima"


@pytest.mark.usefixtures("example_env")
def test_flask_example_as_shipped() -> None:
    example = _fresh("examples.flask_app")
    with serve_wsgi(example.app.wsgi_app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        listed = client.get("/navai/functions").json()
        assert "get_weather" in {item["name"] for item in listed["items"]}
        assert client.post("/navai/realtime/client-secret", json={}).status_code == 200


def test_serve_with_two_workers() -> None:
    with serve_process(
        lambda port: [*NAVAI, "serve", "--port", str(port), "--workers", "2"],
        env=clean_env(PYTHONUNBUFFERED="1", NAVAI_FUNCTIONS_FOLDERS="examples/functions"),
    ) as started:
        assert "get_weather" in _names(started.url)
        output = started.stop()
    assert output.count("Started server process") >= 2, output


def _names(url: str) -> set[str]:
    return {item["name"] for item in httpx.get(f"{url}/navai/functions", timeout=2).json()["items"]}


def test_serve_reload_picks_up_new_functions(tmp_path: Path) -> None:
    tools = tmp_path / "tools"
    tools.mkdir()
    (tools / "a.py").write_text('def alpha() -> str:\n    """Alpha."""\n    return "a"\n')
    base = ("--base-dir", str(tmp_path), "--folders", "tools")
    with serve_process(
        lambda port: [*NAVAI, "serve", "--reload", "--port", str(port), *base],
        env=clean_env(PYTHONUNBUFFERED="1"),
        # Not the repo root: files the test run writes there would restart the server.
        cwd=tmp_path,
    ) as started:
        assert _names(started.url) == {"alpha"}
        # Written whole, then renamed in: the watcher never sees half a file.
        staged = tmp_path / "b.py.tmp"
        staged.write_text('def beta() -> str:\n    """Beta."""\n    return "b"\n')
        staged.rename(tools / "b.py")

        def both_listed() -> bool:
            try:
                return _names(started.url) == {"alpha", "beta"}
            except httpx.TransportError:
                return False  # restarting

        eventually(both_listed, lambda: f"still {_names(started.url)}")


# --- content negotiation of the speech route -------------------------------------------------


@pytest.mark.parametrize(
    ("accept", "raw"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", False),
        ("audio/mpeg", True),
        ("Audio/*; q=0.9", True),
        ("application/json, audio/*", False),
        ("audio/*, application/*;q=0.1", False),
    ],
)
def test_raw_audio_only_when_accept_asks_for_audio_and_not_json(accept, raw) -> None:
    from navai_adapters._http import _wants_raw_audio

    assert _wants_raw_audio(accept) is raw

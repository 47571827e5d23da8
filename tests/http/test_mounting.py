"""NAVAI inside other apps: FastAPI (add_navai_routes) and Flask (WSGI fallback), and the
WSGI callable under gunicorn, each really served."""

from __future__ import annotations

import contextlib
import shutil
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from flask import Flask

from navai_adapters.starlette import add_navai_routes
from navai_adapters.wsgi import create_app as create_wsgi_app
from tests.servers import clean_env, serve_asgi, serve_process, serve_wsgi

from .conftest import HERE, default_options

pytestmark = pytest.mark.integration

FUNCTIONS = {"functions_base_dir": HERE, "functions_folders": "app_functions"}


def test_inside_fastapi(fake_openai) -> None:
    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with navai.lifespan():
            yield

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    navai = add_navai_routes(app, default_options(fake_openai), env={}, **FUNCTIONS)
    with serve_asgi(app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.post("/navai/realtime/client-secret", json={}).status_code == 200
        answer = client.post(
            "/navai/functions/execute", json={"function_name": "add", "payload": {"a": 1, "b": 2}}
        )
        assert answer.json()["result"] == 3
        whoami = client.post(
            "/navai/functions/execute", json={"function_name": "whoami"}, headers={"x-user": "bo"}
        )
        assert whoami.json()["result"]["user"] == "bo"
    assert navai._client is None  # the app's lifespan closed NAVAI's client


def test_inside_flask(fake_openai) -> None:
    app = Flask(__name__)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.wsgi_app = create_wsgi_app(
        default_options(fake_openai), env={}, fallback=app.wsgi_app, **FUNCTIONS
    )  # type: ignore[method-assign]
    with serve_wsgi(app.wsgi_app) as url, httpx.Client(base_url=url) as client:
        assert client.get("/health").json() == {"status": "ok"}
        assert client.get("/missing").status_code == 404  # Flask's own answer
        assert client.post("/navai/realtime/client-secret", json={}).status_code == 200
        answer = client.post(
            "/navai/functions/execute", json={"function_name": "add", "payload": {"args": [5, 6]}}
        )
        assert answer.json()["result"] == 11


def test_wsgi_under_gunicorn(fake_openai) -> None:
    gunicorn = shutil.which("gunicorn") or str(Path(sys.executable).with_name("gunicorn"))
    env = clean_env(
        OPENAI_API_KEY="sk-gunicorn-test-key-1234",
        OPENAI_BASE_URL=fake_openai.url,
        NAVAI_FUNCTIONS_BASE_DIR=str(HERE),
        NAVAI_FUNCTIONS_FOLDERS="app_functions",
    )
    with serve_process(
        lambda port: [
            *(gunicorn, "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4"),
            "navai_adapters.wsgi:create_app()",
        ],
        env=env,
    ) as started:
        fake_openai.clear()
        with httpx.Client(base_url=started.url) as client:
            assert client.post("/navai/realtime/client-secret", json={}).status_code == 200
            assert (
                fake_openai.requests[-1].headers["authorization"]
                == "Bearer sk-gunicorn-test-key-1234"
            )
            answer = client.post(
                "/navai/functions/execute",
                json={"function_name": "nap", "payload": {"seconds": 0.01}},
            )
            assert answer.json()["result"] == "rested"
            assert client.get("/elsewhere").json() == {"error": "Not found: /elsewhere"}
        output = started.stop()
    assert "sk-gunicorn-test-key" not in output


# --- under a prefix: each adapter as a user mounts it ----------------------------------------


def test_create_app_mounted_inside_fastapi(fake_openai) -> None:
    from navai_adapters.starlette import create_app

    navai_app = create_app(default_options(fake_openai), env={}, **FUNCTIONS)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with navai_app.state.navai.lifespan():
            yield

    app = FastAPI(lifespan=lifespan)
    app.mount("/api", navai_app)
    with serve_asgi(app) as url, httpx.Client(base_url=url) as client:
        answer = client.post(
            "/api/navai/functions/execute",
            json={"function_name": "add", "payload": {"a": 1, "b": 2}},
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["result"] == 3
        assert client.post("/api/navai/realtime/client-secret", json={}).status_code == 200
        assert client.get("/navai/functions").status_code == 404  # only under the prefix


def test_wsgi_mounted_with_flask_dispatcher(fake_openai) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    site = Flask(__name__)

    @site.get("/")
    def home() -> str:
        return "home"

    navai_app = create_wsgi_app(default_options(fake_openai), env={}, **FUNCTIONS)
    app = DispatcherMiddleware(site.wsgi_app, {"/api": navai_app})
    with serve_wsgi(app) as url, httpx.Client(base_url=url) as client:
        answer = client.post(
            "/api/navai/functions/execute",
            json={"function_name": "add", "payload": {"a": 4, "b": 2}},
        )
        assert answer.json()["result"] == 6
        missing = client.post("/api/navai/nothing", json={})
        # The handler names the whole path, prefix included, as the ASGI side does.
        assert missing.json() == {"error": "Not found: /api/navai/nothing"}
        assert client.get("/").text == "home"
    navai_app.close()


def test_uvicorn_root_path_is_honoured(fake_openai) -> None:
    """Behind a proxy that strips `/voice`: `uvicorn --root-path /voice`.

    uvicorn then reports `path` as `/voice/navai/...` with `root_path` `/voice`, as the ASGI
    spec says; the routes must still match."""
    from navai_adapters.starlette import create_app

    app = create_app(default_options(fake_openai), env={}, **FUNCTIONS)
    with serve_asgi(app, root_path="/voice") as url, httpx.Client(base_url=url) as client:
        answer = client.post(
            "/navai/functions/execute",
            json={"function_name": "add", "payload": {"a": 2, "b": 2}},
        )
        assert answer.json()["result"] == 4


@pytest.mark.parametrize(
    ("path", "root", "expected"),
    [
        ("/api/navai/functions", "/api", "/navai/functions"),
        ("/api/navai/functions", "/api/", "/navai/functions"),
        ("/navai/functions", "/api", "/navai/functions"),  # server left the prefix out
        ("/apix/navai/functions", "/api", "/apix/navai/functions"),
        ("/api", "/api", "/"),
        ("/navai/functions", "", "/navai/functions"),
    ],
)
def test_route_path(path: str, root: str, expected: str) -> None:
    from navai_adapters._http import route_path

    assert route_path(path, root) == expected

"""FastAPI's /docs describe NAVAI's routes, and the description matches what they answer."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Iterator

import httpx
import hypothesis
import pytest
import schemathesis
from fastapi import FastAPI
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from starlette.applications import Starlette

from navai_adapters import build_handler
from navai_adapters.openapi import openapi_document
from navai_adapters.starlette import add_navai_routes
from tests.servers import serve_asgi

from .conftest import HERE, default_options

pytestmark = pytest.mark.integration

FUNCTIONS = {"functions_base_dir": HERE, "functions_folders": "app_functions"}


@contextlib.contextmanager
def fastapi_app(fake_openai, options=None, **config) -> Iterator[tuple[FastAPI, str]]:
    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        async with navai.lifespan():
            yield

    app = FastAPI(title="My app", lifespan=lifespan)

    @app.get("/hello")
    async def hello() -> dict[str, str]:
        return {"hello": "world"}

    chosen = options or default_options(fake_openai)
    navai = add_navai_routes(app, chosen, env={}, **FUNCTIONS, **config)
    with serve_asgi(app) as url:
        yield app, url


def test_routes_appear_in_fastapi_docs(fake_openai) -> None:
    with fastapi_app(fake_openai) as (_, url), httpx.Client(base_url=url) as client:
        schema = client.get("/openapi.json").json()
        assert client.get("/docs").status_code == 200
    paths = schema["paths"]
    assert "/hello" in paths  # the app's own routes stay
    assert set(paths) >= {
        "/navai/health",
        "/navai/realtime/client-secret",
        "/navai/functions",
        "/navai/functions/execute",
    }
    mint = paths["/navai/realtime/client-secret"]["post"]
    assert mint["tags"] == ["navai"]
    assert mint["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NavaiClientSecret"
    }
    assert {"401", "502", "504"} <= set(mint["responses"])
    execute = paths["/navai/functions/execute"]["post"]
    assert "`add`" in execute["description"]  # the loaded tools are listed
    assert "404" in execute["responses"]
    assert "NavaiUnknownFunction" in schema["components"]["schemas"]
    assert "security" not in execute


def test_token_is_described_as_bearer_security(fake_openai) -> None:
    token = "openapi-token-0123456789abcdef"
    with fastapi_app(fake_openai, auth_token=token) as (_, url):
        schema = httpx.get(f"{url}/openapi.json").json()
    assert schema["components"]["securitySchemes"]["NavaiBearerToken"]["scheme"] == "bearer"
    assert schema["paths"]["/navai/functions"]["get"]["security"] == [{"NavaiBearerToken": []}]
    assert "security" not in schema["paths"]["/navai/health"]["get"]


def test_switched_off_functions_are_not_described(fake_openai) -> None:
    with fastapi_app(fake_openai, enable_functions=False) as (_, url):
        paths = httpx.get(f"{url}/openapi.json").json()["paths"]
    assert "/navai/functions" not in paths
    assert "/navai/realtime/client-secret" in paths


def test_plain_starlette_apps_are_left_alone(fake_openai) -> None:
    app = Starlette()
    add_navai_routes(app, default_options(fake_openai), env={}, **FUNCTIONS)
    assert not hasattr(app, "openapi")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/navai/realtime/client-secret", "POST"),
        ("/navai/functions", "GET"),
        ("/navai/functions/execute", "POST"),
        ("/navai/health", "GET"),
    ],
)
def test_the_description_matches_the_answers(fake_openai, path: str, method: str) -> None:
    """schemathesis sends requests that follow the description; answers must conform."""
    with fastapi_app(fake_openai) as (_, url):
        schema = schemathesis.openapi.from_dict(httpx.get(f"{url}/openapi.json").json())
        operation = schema[path][method]
        checks = [
            not_a_server_error,
            status_code_conformance,
            content_type_conformance,
            response_schema_conformance,
        ]

        @hypothesis.settings(
            max_examples=15,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case) -> None:
            fake_openai.clear()
            case.validate_response(case.call(base_url=url, timeout=10), checks=checks)

        fuzz()


def test_standalone_document() -> None:
    handler = build_handler(env={}, **FUNCTIONS)
    document = openapi_document(handler, title="Voice")
    assert document["openapi"].startswith("3.1")
    assert document["info"]["title"] == "Voice"
    schemathesis.openapi.from_dict(document)  # loads as a valid description
    assert handler.registry is not None
    handler.registry.close()


def test_speech_is_described_only_when_on(fake_openai) -> None:
    from tests.fake_elevenlabs import FakeElevenLabs

    from .conftest import hybrid_options

    off = build_handler(default_options(fake_openai), env={}, enable_functions=False)
    assert "/navai/speech/synthesize" not in openapi_document(off)["paths"]
    with FakeElevenLabs() as eleven:
        options = hybrid_options(fake_openai, eleven)
        on = build_handler(options, env={}, enable_functions=False)
        document = openapi_document(on)
    speech = document["paths"]["/navai/speech/synthesize"]["post"]
    assert speech["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/NavaiSpeechRequest"
    }
    assert "NavaiSpeech" in document["components"]["schemas"]
    schemathesis.openapi.from_dict(document)


def test_the_speech_description_matches_the_answers(fake_openai) -> None:
    from tests.fake_elevenlabs import FakeElevenLabs

    from .conftest import hybrid_options

    with (
        FakeElevenLabs() as eleven,
        fastapi_app(fake_openai, hybrid_options(fake_openai, eleven)) as (
            _,
            url,
        ),
    ):
        schema = schemathesis.openapi.from_dict(httpx.get(f"{url}/openapi.json").json())
        operation = schema["/navai/speech/synthesize"]["POST"]
        checks = [not_a_server_error, status_code_conformance, response_schema_conformance]

        @hypothesis.settings(
            max_examples=10,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(hypothesis.HealthCheck),
        )
        @hypothesis.given(case=operation.as_strategy())
        def fuzz(case: schemathesis.Case) -> None:
            case.validate_response(case.call(base_url=url, timeout=10), checks=checks)

        fuzz()

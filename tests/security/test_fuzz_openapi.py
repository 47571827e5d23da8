"""Fuzz the four routes from an OpenAPI description of them, with schemathesis.

`OPENAPI` below describes the routes as the contract does (CONTRACT.md §3 and §5). For
each operation, schemathesis generates bodies that follow it (positive) and bodies that
break it (negative); each is sent to both adapters, really served, with the functions
routes over a harmless tree (`fuzz_functions/`), minting against the fake OpenAI and
speech against the fake ElevenLabs.
Every answer must: not be a 5xx, be JSON without a traceback, have a documented status
and conform to the documented schema; and a body that breaks the description must be
refused with a 4xx. The run is bounded (examples per operation, no deadline per example,
derandomized so a failure reproduces).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import attrs
import hypothesis
import pytest
import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from tests.fake_elevenlabs import FakeElevenLabs
from tests.fake_openai import FakeOpenAI

from .conftest import EXECUTE, LIST, MINT, Served, options_for, running

pytestmark = pytest.mark.integration

SPEECH = "/navai/speech/synthesize"
MAX_EXAMPLES = 50
FUNCTION_NAMES = ["add", "echo", "whoami", "refuse", "counter_plus"]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_TEXT = {"type": "string", "nullable": True}
_ERROR = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string", "minLength": 1}},
}
_FUNCTION_ERROR = {
    "type": "object",
    "required": ["ok", "function_name", "error", "details"],
    "properties": {
        "ok": {"type": "boolean", "enum": [False]},
        "function_name": {"type": "string"},
        "error": {"type": "string"},
        "details": {"type": "string"},
    },
}
_FRACTION = {"type": "number", "minimum": 0, "maximum": 1, "nullable": True}
_REFUSALS = {
    "400": _json({"anyOf": [_FUNCTION_ERROR, _ERROR]}, "Malformed body or bad arguments."),
    "413": _json(_ERROR, "Body over NAVAI_MAX_BODY_BYTES."),
    "415": _json(_ERROR, "A body that is not JSON."),
}

OPENAPI: dict[str, Any] = {
    "openapi": "3.0.3",
    "info": {"title": "NAVAI backend", "version": "1.0.0"},
    "paths": {
        MINT: {
            "post": {
                "requestBody": {
                    "required": False,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": dict.fromkeys(
                                    (
                                        "model",
                                        "voice",
                                        "instructions",
                                        "language",
                                        "voiceAccent",
                                        "voiceTone",
                                        "apiKey",
                                    ),
                                    _TEXT,
                                ),
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["value", "expires_at"],
                            "properties": {
                                "value": {"type": "string", "minLength": 1},
                                "expires_at": {"type": "integer", "nullable": True},
                            },
                        },
                        "A minted client secret.",
                    ),
                    **_REFUSALS,
                },
            }
        },
        LIST: {
            "get": {
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["items", "warnings"],
                            "properties": {
                                "items": {
                                    "type": "array",
                                    "items": {
                                        "type": "object",
                                        "required": ["name", "description", "source", "parameters"],
                                        "properties": {
                                            "name": {"type": "string", "pattern": "^[a-z0-9_]+$"},
                                            "description": {"type": "string"},
                                            "source": {"type": "string"},
                                            "parameters": {"type": "object"},
                                        },
                                    },
                                },
                                "warnings": {"type": "array", "items": {"type": "string"}},
                            },
                        },
                        "The backend functions.",
                    )
                }
            }
        },
        EXECUTE: {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["function_name"],
                                "properties": {
                                    # The listed names: any other is a negative case.
                                    "function_name": {"type": "string", "enum": FUNCTION_NAMES},
                                    "payload": {"type": "object", "nullable": True},
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "anyOf": [
                                {
                                    "type": "object",
                                    "required": ["ok", "function_name", "source", "result"],
                                    "properties": {
                                        "ok": {"type": "boolean", "enum": [True]},
                                        "function_name": {"type": "string"},
                                        "source": {"type": "string"},
                                    },
                                },
                                _FUNCTION_ERROR,
                            ]
                        },
                        "The function ran, or raised (ok: false).",
                    ),
                    "404": _json(
                        {
                            "type": "object",
                            "required": ["error", "available_functions"],
                            "properties": {
                                "error": {
                                    "type": "string",
                                    "enum": ["Unknown or disallowed function."],
                                },
                                "available_functions": {
                                    "type": "array",
                                    "items": {"type": "string"},
                                },
                            },
                        },
                        "No function of that name.",
                    ),
                    **_REFUSALS,
                },
            }
        },
        SPEECH: {
            "post": {
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "required": ["text"],
                                "properties": {
                                    "text": {"type": "string", "minLength": 1, "maxLength": 5000},
                                    "voiceId": _TEXT,
                                    "modelId": _TEXT,
                                    # Any string on the wire: blank means unset, and a
                                    # name that is no format is a 400 naming the field.
                                    "outputFormat": _TEXT,
                                    "optimizeStreamingLatency": {
                                        "type": "integer",
                                        "minimum": 0,
                                        "maximum": 4,
                                        "nullable": True,
                                    },
                                    "voiceSettings": {
                                        "type": "object",
                                        "nullable": True,
                                        "properties": {
                                            "stability": _FRACTION,
                                            "similarityBoost": _FRACTION,
                                            "style": _FRACTION,
                                            "useSpeakerBoost": {
                                                "type": "boolean",
                                                "nullable": True,
                                            },
                                        },
                                    },
                                },
                            }
                        }
                    },
                },
                "responses": {
                    "200": _json(
                        {
                            "type": "object",
                            "required": ["provider", "mimeType", "audioBase64"],
                            "properties": {
                                "provider": {"type": "string", "enum": ["elevenlabs"]},
                                "mimeType": {"type": "string", "minLength": 1},
                                "audioBase64": {"type": "string", "minLength": 1},
                            },
                        },
                        "The spoken text, base64.",
                    ),
                    **_REFUSALS,
                },
            }
        },
    },
}

SCHEMA = schemathesis.openapi.from_dict(OPENAPI)
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(adapter: str, upstream: FakeOpenAI) -> Iterator[Served]:
    with running(adapter, options_for(upstream), functions_folders="fuzz_functions") as server:
        yield server


@pytest.fixture(scope="module")
def fuzzed_speech(adapter: str, upstream: FakeOpenAI) -> Iterator[Served]:
    options = options_for(
        upstream,
        tts_provider="elevenlabs",
        elevenlabs_api_key="sk_fuzz-elevenlabs-key-0123456789",
        elevenlabs_voice_id="voice-fuzz",
    )
    with FakeElevenLabs() as eleven:
        options = attrs.evolve(options, elevenlabs_base_url=eleven.url)
        with running(adapter, options, functions_folders="fuzz_functions") as server:
            yield server


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE
RUNS = [
    (MINT, "POST", POSITIVE),
    (MINT, "POST", NEGATIVE),
    (LIST, "GET", POSITIVE),  # no parameters, no body: nothing to break
    (EXECUTE, "POST", POSITIVE),
    (EXECUTE, "POST", NEGATIVE),
    (SPEECH, "POST", POSITIVE),
    (SPEECH, "POST", NEGATIVE),
]


@pytest.mark.parametrize(
    ("path", "method", "mode"), RUNS, ids=[f"{m} {p} {g.value}" for p, m, g in RUNS]
)
def test_fuzzed_requests_get_documented_json_answers(
    request: pytest.FixtureRequest, adapter: str, path: str, method: str, mode: GenerationMode
) -> None:
    # One server per adapter and kind, started only when a route of that kind is fuzzed.
    del adapter  # parametrizes the server fixtures below
    fuzzed: Served = request.getfixturevalue("fuzzed_speech" if path == SPEECH else "fuzzed")
    operation = SCHEMA[path][method]
    checks = [*CHECKS, negative_data_rejection] if mode is NEGATIVE else CHECKS
    statuses: list[int] = []

    @hypothesis.settings(
        max_examples=MAX_EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(hypothesis.HealthCheck),
    )
    @hypothesis.given(case=operation.as_strategy(generation_mode=mode))
    def fuzz(case: schemathesis.Case) -> None:
        response = case.call(base_url=fuzzed.url, timeout=10)
        statuses.append(response.status_code)
        assert "Traceback" not in response.text
        assert response.headers["content-type"] == ["application/json"]
        case.validate_response(response, checks=checks)

    fuzz()
    assert statuses
    assert max(statuses) < 500
    if mode is NEGATIVE:
        # It really sent broken bodies: most were refused as the client's fault.
        refused = [status for status in statuses if 400 <= status < 500]
        assert len(refused) > len(statuses) // 2, statuses

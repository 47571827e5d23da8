"""examples/mint_secret.py, run as a user would: a subprocess against FakeOpenAI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

import navai_core
from tests.fake_openai import FakeOpenAI, status

pytestmark = pytest.mark.integration

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "mint_secret.py"
# The script imports the very navai_core these tests import (the source tree or an install).
NAVAI_HOME = Path(navai_core.__file__).resolve().parents[1]
KEY = "sk-proj-example-key-0123456789"


def run_example(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    # A clean environment: nothing from the developer's shell (a real OPENAI_API_KEY!) leaks in.
    python_path = [str(NAVAI_HOME), *filter(None, [os.environ.get("PYTHONPATH")])]
    base = {"PATH": os.environ.get("PATH", ""), "PYTHONPATH": os.pathsep.join(python_path)}
    if "SYSTEMROOT" in os.environ:  # pragma: no cover - Windows only
        base["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    return subprocess.run(
        [sys.executable, str(SCRIPT), *args],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_prints_the_secret(fake_openai: FakeOpenAI) -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_BASE_URL": fake_openai.url,
        "OPENAI_REALTIME_VOICE": "cedar",
    }
    before = int(time.time())
    result = run_example(env, "--language", "Spanish", "--voice-tone", "calm")
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    printed = json.loads(result.stdout)
    assert set(printed) == {"value", "expires_at", "speech"}
    assert printed["speech"] == {"provider": "openai"}
    assert printed["value"] == "ek_test_1"
    assert before + 600 <= printed["expires_at"] <= int(time.time()) + 600

    [received] = fake_openai.requests
    assert received.headers["authorization"] == f"Bearer {KEY}"
    assert received.body["session"]["audio"] == {"output": {"voice": "cedar"}}
    assert received.body["session"]["instructions"] == (
        "You are a helpful assistant.\nAlways reply in Spanish.\nUse a calm tone while speaking."
    )


def test_no_key_is_a_clean_error(fake_openai: FakeOpenAI) -> None:
    result = run_example({"OPENAI_BASE_URL": fake_openai.url})
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == (
        "error: Missing API key. Configure openai_api_key or send apiKey in request.\n"
    )
    assert fake_openai.requests == []


def test_bad_environment_is_a_clean_error() -> None:
    result = run_example({"OPENAI_API_KEY": KEY, "OPENAI_REALTIME_CLIENT_SECRET_TTL": "5"})
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    assert result.stderr == (
        "error: OPENAI_REALTIME_CLIENT_SECRET_TTL='5' is invalid: "
        "client_secret_ttl_seconds must be between 10 and 7200. Received: 5\n"
    )


def test_upstream_error_is_a_clean_error(fake_openai: FakeOpenAI) -> None:
    fake_openai.enqueue(status(401, {"error": {"message": f"Incorrect API key provided: {KEY}"}}))
    result = run_example({"OPENAI_API_KEY": KEY, "OPENAI_BASE_URL": fake_openai.url})
    assert result.returncode == 1
    assert result.stderr.startswith("error: OpenAI client_secrets failed (401): ")
    assert KEY not in result.stderr
    assert "Traceback" not in result.stderr

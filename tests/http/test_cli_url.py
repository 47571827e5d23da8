"""`navai functions|call|mint --url`: the command asks a running backend, both adapters.

The commands run as real processes with no OpenAI key and no functions folder of their
own, so every answer they print came from the server.
"""

from __future__ import annotations

import json
import socket

import pytest

from .conftest import Served
from .test_cli import navai

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def served_config() -> dict:
    # A development server: its listing shows the load warnings (broken.py), which
    # these tests read through the client.
    return {"expose_load_warnings": True}


def test_functions_lists_the_servers_with_parameters(server: Served) -> None:
    done = navai("functions", "--url", server.url)
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["NAME", "PARAMETERS", "DESCRIPTION", "SOURCE"]
    add = next(line for line in lines if line.startswith("add "))
    assert "a: integer, b: integer" in add
    assert "app_functions/tools.py#add" in add
    # The server's own warnings are shown, and a module that failed to load fails the run.
    assert "warning: [navai] Failed to load" in done.stderr
    assert "broken.py" in done.stderr
    assert done.returncode == 1


def test_functions_json_is_the_listing(server: Served) -> None:
    done = navai("functions", "--json", "--url", server.url)
    data = json.loads(done.stdout)
    add = next(item for item in data["items"] if item["name"] == "add")
    assert add["parameters"]["required"] == ["a", "b"]
    assert any("broken.py" in warning for warning in data["warnings"])


def test_call_runs_on_the_server(server: Served) -> None:
    done = navai("call", "add", "--url", server.url, "--payload", '{"a": 2, "b": 3}')
    assert (done.returncode, json.loads(done.stdout)) == (0, 5), done.stderr


def test_call_failures_exit_1_with_the_servers_message(server: Served) -> None:
    done = navai("call", "explode", "--url", server.url)
    assert (done.returncode, done.stderr.strip()) == (1, "navai: the widget is broken")

    done = navai("call", "nope", "--url", server.url)
    assert done.returncode == 1
    first, second = done.stderr.strip().splitlines()
    assert first == "navai: Unknown or disallowed function."
    assert second.startswith("Available functions: ")
    assert "add" in second


def test_mint_asks_the_server(server: Served) -> None:
    done = navai("mint", "--url", server.url, "--voice", "alloy")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["value"].startswith("ek_test_")
    assert server.fake.requests[-1].body["session"]["audio"] == {"output": {"voice": "alloy"}}


@pytest.mark.parametrize(
    "flag", [("--folders", "examples/functions"), ("--agents", "sales"), ("--exclude", "**/t/**")]
)
def test_url_with_local_flags_is_a_usage_error(flag: tuple[str, str]) -> None:
    done = navai("call", "add", "--url", "http://127.0.0.1:9", *flag)
    assert done.returncode == 2
    assert "with --url, leave them out" in done.stderr


def test_a_bad_or_absent_backend() -> None:
    done = navai("functions", "--url", "ftp://example.com")
    assert done.returncode == 2
    assert "configuration error: api_base_url 'ftp://example.com' is not an http(s) URL" in (
        done.stderr
    )
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    done = navai("mint", "--url", f"http://127.0.0.1:{port}")
    assert done.returncode == 1
    *retries, last = done.stderr.strip().splitlines()
    assert last.startswith("navai: Could not reach the NAVAI backend")
    # Nothing reached it, so even a mint is tried again (the default: 3 attempts).
    assert len(retries) == 2
    assert retries[0].startswith("POST /navai/realtime/client-secret attempt 1 of 3 failed")

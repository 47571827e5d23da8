"""The `navai` command, each subcommand run as a real process."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_elevenlabs import FakeElevenLabs, fake_audio
from tests.fake_openai import FakeOpenAI
from tests.servers import (
    NAVAI,
    ROOT,
    ServerProcess,
    clean_env,
    eventually,
    free_port,
    serve_process,
)

pytestmark = pytest.mark.integration

HERE = Path(__file__).parent


def navai(
    *args: str, env: dict[str, str] | None = None, cwd: Path = ROOT
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*NAVAI, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=env or clean_env(),
        cwd=cwd,
        check=False,
    )


def test_functions_table_lists_the_examples() -> None:
    done = navai("functions", "--folders", "examples/functions")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].split() == ["NAME", "PARAMETERS", "DESCRIPTION", "SOURCE"]
    assert "get_weather" in done.stdout
    assert "city: string" in done.stdout


def test_functions_json_and_failed_module_exit_code() -> None:
    done = navai("functions", "--json", "--base-dir", str(HERE), "--folders", "app_functions")
    assert done.returncode == 1  # broken.py failed to load
    data = json.loads(done.stdout)
    assert "add" in {item["name"] for item in data["items"]}
    assert any("broken.py" in warning for warning in data["warnings"])


def test_functions_reads_folders_from_env() -> None:
    env = clean_env(NAVAI_FUNCTIONS_FOLDERS="examples/functions")
    done = navai("functions", "--json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["items"]


def test_call_prints_the_result() -> None:
    done = navai(
        "call",
        "add",
        "--base-dir",
        str(HERE),
        "--folders",
        "app_functions",
        "--payload",
        '{"a": 2, "b": 40}',
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 42


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["call", "add", "--payload", "{oops"], 2, "--payload is not valid JSON"),
        (["call", "add", "--payload", "[1]"], 2, "--payload must be a JSON object"),
        (["call", "nope"], 1, "Unknown or disallowed function. No function named 'nope'."),
        (["call", "ad"], 1, "No function named 'ad'. Did you mean 'add'?"),
        (["call", "add", "--payload", '{"a": "two", "b": 1}'], 1, "Invalid arguments for 'add'"),
        (["call", "explode"], 1, "the widget is broken"),
    ],
)
def test_call_errors(args: list[str], code: int, message: str) -> None:
    done = navai(*args, "--base-dir", str(HERE), "--folders", "app_functions")
    assert done.returncode == code
    assert message in done.stderr
    last_line = done.stderr.strip().splitlines()[-1]
    assert last_line.startswith(("navai:", "Available functions:")), done.stderr
    # Only a failing backend function's own traceback is shown (logged, for its author).
    assert ("Traceback" in done.stderr) == (args[1] == "explode")


def test_mint_prints_the_secret() -> None:
    with FakeOpenAI() as fake:
        env = clean_env(OPENAI_API_KEY="sk-cli-test-key-123456", OPENAI_BASE_URL=fake.url)
        done = navai("mint", "--voice", "alloy", "--language", "French", env=env)
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["value"].startswith("ek_test_")
        session = fake.requests[-1].body["session"]
    assert session["audio"]["output"]["voice"] == "alloy"
    assert session["instructions"].endswith("Always reply in French.")
    assert "sk-cli-test-key" not in done.stdout + done.stderr


def test_speak_writes_the_audio(tmp_path: Path) -> None:
    with FakeElevenLabs() as fake:
        env = clean_env(
            NAVAI_TTS_PROVIDER="elevenlabs",
            ELEVENLABS_API_KEY="sk_cli-eleven-key-123456",
            ELEVENLABS_VOICE_ID="voice-1",
            ELEVENLABS_BASE_URL=fake.url,
        )
        out = tmp_path / "hi.pcm"
        done = navai("speak", "Hi there", "--out", str(out), "--format", "pcm_16000", env=env)
        assert done.returncode == 0, done.stderr
        [sent] = fake.requests
    assert json.loads(done.stdout) == {
        "mimeType": "audio/pcm",
        "bytes": len(out.read_bytes()),
        "out": str(out),
    }
    assert out.read_bytes() == fake_audio("voice-1", "Hi there")
    assert sent.path == "/v1/text-to-speech/voice-1?output_format=pcm_16000"
    assert "sk_cli-eleven-key" not in done.stdout + done.stderr


def test_speak_without_the_provider_says_how(tmp_path: Path) -> None:
    done = navai("speak", "Hi", "--out", str(tmp_path / "x.mp3"))
    assert done.returncode == 1
    assert "NAVAI_TTS_PROVIDER=elevenlabs" in done.stderr
    assert not (tmp_path / "x.mp3").exists()


def test_speak_with_elevenlabs_but_no_key_is_a_configuration_error(tmp_path: Path) -> None:
    env = clean_env(NAVAI_TTS_PROVIDER="elevenlabs", ELEVENLABS_VOICE_ID="v")
    done = navai("speak", "Hi", "--out", str(tmp_path / "x.mp3"), env=env)
    assert done.returncode == 2
    assert "ELEVENLABS_API_KEY" in done.stderr


def test_functions_agents_and_exclude_flags(tmp_path: Path) -> None:
    for path in (
        "src/agents/sales/quote.py",
        "src/agents/billing/bill.py",
        "src/agents/sales/draft.py",
    ):
        file = tmp_path / path
        file.parent.mkdir(parents=True, exist_ok=True)
        file.write_text(f"def {file.stem}() -> str:\n    return 'x'\n")
    done = navai(
        "functions",
        "--json",
        "--folders",
        "src/agents",
        "--agents",
        "sales",
        "--exclude",
        "**/draft.py",
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert [item["name"] for item in json.loads(done.stdout)["items"]] == ["quote"]


def test_mint_without_key_fails_clearly() -> None:
    done = navai("mint")
    assert done.returncode == 1
    assert "Missing API key" in done.stderr
    assert "Set OPENAI_API_KEY in the server's environment" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "5"),
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "abc"),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "maybe"),
    ],
)
def test_bad_env_is_a_configuration_error(variable: str, value: str) -> None:
    done = navai("mint", env=clean_env(**{variable: value}))
    assert done.returncode == 2
    assert variable in done.stderr
    assert value in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args", [["serve", "--port", "http"], ["serve", "--workers", "0"], ["frobnicate"], []]
)
def test_bad_flags_exit_2(args: list[str]) -> None:
    done = navai(*args)
    assert done.returncode == 2
    assert "usage: navai" in done.stderr


@contextlib.contextmanager
def serve(*args: str, **env: str) -> Iterator[tuple[ServerProcess, str]]:
    """``navai serve`` over the shipped examples; yields the process and its URL."""
    with serve_process(
        lambda port: [*NAVAI, "serve", "--port", str(port), *args],
        env=clean_env(NAVAI_FUNCTIONS_FOLDERS="examples/functions", PYTHONUNBUFFERED="1", **env),
    ) as started:
        yield started, started.url


@pytest.fixture
def serving() -> Iterator[tuple[ServerProcess, str]]:
    with serve() as running:
        yield running


def test_serve_starts_without_key_and_serves_the_examples(serving) -> None:
    process, url = serving
    listed = httpx.get(f"{url}/navai/functions").json()
    assert "get_weather" in {item["name"] for item in listed["items"]}
    minted = httpx.post(f"{url}/navai/realtime/client-secret", json={})
    assert minted.status_code == 401
    assert minted.json()["error"] == (
        "Missing API key. Configure openai_api_key or send apiKey in request."
    )
    assert "OPENAI_API_KEY" in minted.json()["hint"]
    output = process.stop()
    assert f"NAVAI backend on {url}" in output
    assert "get_weather" in output
    assert "OPENAI_API_KEY is not set" in output


ACCESS_LINE = '"GET /navai/functions HTTP/1.1" 200'


@pytest.mark.parametrize(
    ("args", "env", "logged"),
    [
        ((), {}, True),
        (("--no-access-log",), {}, False),
        ((), {"NAVAI_ACCESS_LOG": "false"}, False),
        (("--access-log",), {"NAVAI_ACCESS_LOG": "false"}, True),
    ],
)
def test_serve_access_log_switch(args: tuple[str, ...], env: dict[str, str], logged: bool) -> None:
    with serve(*args, **env) as (process, url):
        assert httpx.get(f"{url}/navai/functions").status_code == 200
        output = process.stop()
    assert f"NAVAI backend on {url}" in output
    assert (ACCESS_LINE in output) is logged, output


def test_serve_rejects_a_bad_access_log_variable() -> None:
    done = navai("serve", "--port", str(free_port()), env=clean_env(NAVAI_ACCESS_LOG="maybe"))
    assert done.returncode == 2
    assert "NAVAI_ACCESS_LOG='maybe' is not a boolean" in done.stderr


def test_serve_reports_a_port_in_use() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = navai(
            "serve",
            "--port",
            str(port),
            env=clean_env(NAVAI_FUNCTIONS_FOLDERS="examples/functions"),
        )
    assert done.returncode == 1
    assert f"port {port} on 127.0.0.1 is already in use" in done.stderr


def interpreter_gc_defaults() -> dict[str, int]:
    # Asked of a fresh process: the defaults differ between Python versions (the young
    # threshold; 3.12 starts with a few hundred objects frozen).
    done = subprocess.run(
        [
            sys.executable,
            "-c",
            (
                "import gc, json; print(json.dumps("
                "{'young': gc.get_threshold()[0], 'frozen': gc.get_freeze_count()}))"
            ),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    defaults: dict[str, int] = json.loads(done.stdout)
    return defaults


GC_STATE_TOOL = '''
import gc


def gc_state() -> dict[str, int]:
    """The serving process's garbage-collector settings."""
    return {"young": gc.get_threshold()[0], "frozen": gc.get_freeze_count()}
'''


@pytest.mark.parametrize(
    ("args", "tuned"),
    [((), True), (("--no-tune-gc",), False), (("--workers", "2"), True)],
)
def test_serve_tunes_the_garbage_collector(
    tmp_path: Path, args: tuple[str, ...], tuned: bool
) -> None:
    folder = tmp_path / "examples" / "functions"
    folder.mkdir(parents=True)
    (folder / "gc_tool.py").write_text(GC_STATE_TOOL, encoding="utf-8")
    with serve(*args, NAVAI_FUNCTIONS_BASE_DIR=str(tmp_path)) as (_, url):
        answer = httpx.post(f"{url}/navai/functions/execute", json={"function_name": "gc_state"})
    state = answer.json()["result"]
    defaults = interpreter_gc_defaults()
    if tuned:
        assert state["young"] == max(10_000, defaults["young"])
        assert state["frozen"] > defaults["frozen"] + 1_000  # the modules, app and tools
    else:
        # The interpreter's own defaults, whatever this version's are.
        assert state == defaults


# --- protection and --strict -----------------------------------------------------------------

HOOKS = HERE / "auth_hooks"
TOKEN = "cli-shared-token-0123456789abcdef"


def test_serve_with_a_shared_token() -> None:
    with serve(NAVAI_AUTH_TOKEN=TOKEN) as (process, url):
        assert httpx.get(f"{url}/navai/functions").status_code == 401
        good = {"authorization": f"Bearer {TOKEN}"}
        assert httpx.get(f"{url}/navai/functions", headers=good).status_code == 200
        assert httpx.get(f"{url}/navai/health").json() == {"status": "ok"}
        output = process.stop()
    assert TOKEN not in output


def test_serve_with_an_authorize_hook_by_name() -> None:
    with serve("--authorize", "navai_test_hooks:only_alice", PYTHONPATH=str(HOOKS)) as (_, url):
        assert httpx.get(f"{url}/navai/functions").json() == {"error": "Say who you are."}
        assert httpx.get(f"{url}/navai/functions", headers={"x-user": "alice"}).status_code == 200


def test_serve_with_a_hook_that_cannot_load_exits_2() -> None:
    done = navai("serve", "--port", str(free_port()), "--authorize", "nowhere_xyz:check")
    assert done.returncode == 2
    assert "NAVAI_AUTHORIZE='nowhere_xyz:check': cannot import 'nowhere_xyz'" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("folders", "reason"),
    [("app_functions", "Failed to load app_functions/broken.py"), ("nope", "'nope'")],
)
def test_serve_strict_refuses_to_start(folders: str, reason: str) -> None:
    port = free_port()
    env = clean_env(NAVAI_STRICT="true")
    done = navai(
        "serve", "--port", str(port), "--base-dir", str(HERE), "--folders", folders, env=env
    )
    assert done.returncode == 1, done.stderr
    assert reason in done.stderr
    assert "not starting (--strict)" in done.stderr
    assert "NAVAI backend on" not in done.stdout


def test_unprotected_public_address_warns(caplog) -> None:
    import argparse

    from navai_adapters import build_handler
    from navai_adapters.cli import _is_loopback, _ready_to_serve

    handler = build_handler(env={}, enable_functions=False)
    args = argparse.Namespace(host="0.0.0.0", port=0)
    with caplog.at_level("WARNING", logger="navai"):
        assert _ready_to_serve(args, handler, strict=True)
    assert "Serving on 0.0.0.0 without protection" in caplog.text
    caplog.clear()
    protected = build_handler(env={"NAVAI_AUTH_TOKEN": TOKEN}, enable_functions=False)
    with caplog.at_level("WARNING", logger="navai"):
        assert _ready_to_serve(args, protected, strict=False)
    assert "without protection" not in caplog.text
    assert [
        _is_loopback(h) for h in ("127.0.0.1", "::1", "localhost", "0.0.0.0", "example.org")
    ] == [
        True,
        True,
        True,
        False,
        False,
    ]


def test_functions_with_a_folder_that_matches_nothing_fails() -> None:
    done = navai("functions", "--folders", "nope")
    assert done.returncode == 1
    assert "'nope'" in done.stderr


def test_functions_prints_each_warning_once() -> None:
    done = navai("functions", "--base-dir", str(HERE), "--folders", "app_functions")
    assert done.returncode == 1
    assert done.stderr.count("Failed to load app_functions/broken.py") == 1, done.stderr


def test_class_tools_show_their_method_parameters() -> None:
    done = navai("functions", "--folders", "examples/functions")
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("cart_total"))
    assert "currency?: string; new: lines?: OrderLine[]|null" in row
    assert "constructorArgs" not in done.stdout


def test_reload_prints_the_tools_each_time(tmp_path: Path) -> None:
    app = tmp_path / "app"  # the server's folder; its log is kept outside, unwatched
    folder = app / "tools"
    folder.mkdir(parents=True)
    (folder / "first.py").write_text('def first() -> int:\n    """One."""\n    return 1\n')
    with serve_process(
        lambda port: [*NAVAI, "serve", "--port", str(port), "--reload", "--folders", "tools"],
        env=clean_env(PYTHONUNBUFFERED="1"),
        cwd=app,
        log_path=tmp_path / "serve.log",
    ) as started:

        def printed(text: str) -> None:
            eventually(lambda: text in started.log(), started.log)

        printed("Backend functions (1): first")
        (folder / "second.py").write_text('def second() -> int:\n    """Two."""\n    return 2\n')
        printed("Backend functions (2): first, second")
        output = started.stop()
    assert output.count("Backend functions (1)") == 1, output

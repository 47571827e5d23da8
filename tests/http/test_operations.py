"""Operations: version, log level, JSON logs with request ids, metrics, quiet workers."""

from __future__ import annotations

import json
import logging
import re

import httpx
import pytest
from prometheus_client import CollectorRegistry

from navai_adapters._observe import JsonFormatter, request_id_for
from navai_adapters.metrics import NavaiMetrics
from tests.servers import clean_env, free_port

from .test_cli import HERE, navai, serve

pytestmark = pytest.mark.integration

EXECUTE = "/navai/functions/execute"


def test_version() -> None:
    from importlib.metadata import version

    done = navai("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"navai {version('navai')}"


def _json_lines(output: str) -> list[dict]:
    lines = [line for line in output.splitlines() if line.startswith("{")]
    return [json.loads(line) for line in lines]


def test_json_logs_carry_the_request_id() -> None:
    folders = ("--base-dir", str(HERE), "--folders", "app_functions")
    with serve("--log-format", "json", *folders) as (process, url):
        answer = httpx.post(
            f"{url}{EXECUTE}", json={"function_name": "explode"}, headers={"x-request-id": "req-42"}
        )
        assert answer.headers["x-request-id"] == "req-42"
        fresh = httpx.get(f"{url}/navai/health")
        assert len(fresh.headers["x-request-id"]) == 32  # made up when none was sent
        output = process.stop()
    records = _json_lines(output)
    assert records, output
    for_request = [record for record in records if record.get("request_id") == "req-42"]
    # The function's own failure (with its traceback) and NAVAI's access line.
    failure = next(r for r in for_request if "raised ValueError" in r["message"])
    assert failure["level"] == "error"
    assert "Traceback" in failure["exc_info"]
    access = next(r for r in for_request if r["logger"] == "navai.access")
    assert access["status"] == 200
    assert access["route"] == "functions_execute"
    assert access["path"] == EXECUTE
    assert isinstance(access["duration_ms"], float)
    # uvicorn's access line (which cannot know the request id) is replaced by NAVAI's.
    assert not any(record["logger"] == "uvicorn.access" for record in records)
    # Every log line is JSON (the start-up banner on stdout is not a log line).
    lines = [line for line in output.splitlines() if line.strip()]
    banner = [line for line in lines if not line.startswith("{")]
    assert all(line.startswith(("NAVAI backend", "  ", "Backend functions")) for line in banner)


def test_log_level_hides_info_lines() -> None:
    with serve("--log-level", "warning") as (process, url):
        assert httpx.get(f"{url}/navai/functions").status_code == 200
        output = process.stop()
    assert "Application startup complete" not in output
    assert '"GET /navai/functions HTTP/1.1" 200' not in output  # access lines are info


def test_bad_log_level_variable_exits_2() -> None:
    done = navai("serve", "--port", str(free_port()), env=clean_env(NAVAI_LOG_LEVEL="loud"))
    assert done.returncode == 2
    assert "NAVAI_LOG_LEVEL='loud' is not a log level" in done.stderr


def test_workers_print_load_warnings_once() -> None:
    folders = ("--base-dir", str(HERE), "--folders", "app_functions")
    with serve("--workers", "2", *folders) as (process, url):
        assert httpx.get(f"{url}/navai/functions").status_code == 200
        output = process.stop()
    assert output.count("Failed to load app_functions/broken.py") == 1, output
    assert output.count("OPENAI_API_KEY is not set") == 1, output


def test_metrics_port_serves_prometheus_metrics() -> None:
    metrics_port = free_port()
    with serve("--metrics-port", str(metrics_port)) as (process, url):
        assert httpx.get(f"{url}/navai/functions").status_code == 200
        body = {"function_name": "get_weather", "payload": {"city": "Oslo"}}
        assert httpx.post(f"{url}{EXECUTE}", json=body).json()["ok"] is True
        scraped = httpx.get(f"http://127.0.0.1:{metrics_port}/metrics").text
        process.stop()
    # The start-up poll listed the functions too: at least the one request of this test.
    listed = re.search(
        r'navai_requests_total\{method="GET",route="functions_list",status="200"\} (\S+)', scraped
    )
    assert listed is not None, scraped
    assert float(listed.group(1)) >= 1
    assert 'navai_tool_calls_total{outcome="ok",tool="get_weather"} 1.0' in scraped


def test_metrics_port_refuses_several_processes() -> None:
    done = navai("serve", "--port", str(free_port()), "--workers", "2", "--metrics-port", "9")
    assert done.returncode == 2
    assert "cannot be combined with --workers" in done.stderr


# --- in-process, against both adapters --------------------------------------------------------


def _sample(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_metrics_count_routes_tools_and_mints(serve_with) -> None:
    registry = CollectorRegistry()
    with serve_with(observer=NavaiMetrics(registry)) as client:
        client.get("/navai/functions")
        client.post(EXECUTE, json={"function_name": "add", "payload": {"a": 1, "b": 2}})
        client.post(EXECUTE, json={"function_name": "add", "payload": {"a": "x", "b": 2}})
        client.post(EXECUTE, json={"function_name": "explode"})
        client.post(EXECUTE, json={"function_name": "made-up-1"})
        client.post(EXECUTE, json={"function_name": "made-up-2"})
        client.post("/navai/realtime/client-secret", json={})
        client.get("/navai/health")
    assert (
        _sample(
            registry, "navai_requests_total", route="functions_list", method="GET", status="200"
        )
        == 1
    )
    assert _sample(registry, "navai_tool_calls_total", tool="add", outcome="ok") == 1
    assert _sample(registry, "navai_tool_calls_total", tool="add", outcome="invalid_arguments") == 1
    assert _sample(registry, "navai_tool_calls_total", tool="explode", outcome="error") == 1
    # Made-up names share one label value: callers cannot grow the label set.
    assert _sample(registry, "navai_tool_calls_total", tool="(unknown)", outcome="unknown") == 2
    assert _sample(registry, "navai_upstream_duration_seconds_count", status="200") == 1
    assert (
        _sample(registry, "navai_requests_total", route="health", method="GET", status="200") == 1
    )
    assert _sample(registry, "navai_request_duration_seconds_count", route="functions_execute") == 5


def test_request_log_sets_ids_and_logs_one_access_line(serve_with, caplog) -> None:
    caplog.set_level(logging.INFO, logger="navai.access")
    with serve_with(request_log=True) as client:
        answer = client.get("/navai/functions", headers={"x-request-id": "abc.123"})
        bad = client.get("/navai/functions", headers={"x-request-id": "bad id\twith spaces"})
    assert answer.headers["x-request-id"] == "abc.123"
    assert bad.headers["x-request-id"] != "bad id\twith spaces"
    lines = [r for r in caplog.records if r.name == "navai.access"]
    assert len(lines) == 2
    assert lines[0].status == 200
    assert lines[0].route == "functions_list"


def test_without_request_log_there_is_no_request_id(serve_with) -> None:
    with serve_with() as client:
        assert "x-request-id" not in client.get("/navai/functions").headers


def test_json_formatter_fields() -> None:
    record = logging.makeLogRecord(
        {"name": "navai", "levelname": "WARNING", "msg": "hello %s", "args": ("you",)}
    )
    record.request_id = "r1"
    record.route = "health"
    data = json.loads(JsonFormatter().format(record))
    assert data["message"] == "hello you"
    assert data["level"] == "warning"
    assert data["request_id"] == "r1"
    assert data["route"] == "health"
    assert data["time"].endswith("Z")


@pytest.mark.parametrize(
    ("given", "kept"), [("abc", True), ("a" * 128, True), ("a" * 129, False), ("x\ny", False)]
)
def test_request_id_for(given: str, kept: bool) -> None:
    headers = httpx.Headers({"x-request-id": given}) if "\n" not in given else httpx.Headers()
    assert (request_id_for(headers) == given) is kept


def test_request_id_filter_for_text_logs(serve_with) -> None:
    from navai_adapters import RequestIdFilter, current_request_id

    seen: list[tuple[str | None, str | None]] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append((record.request_id, current_request_id()))

    handler = Keep()
    handler.addFilter(RequestIdFilter())
    access = logging.getLogger("navai.access")
    access.addHandler(handler)
    access.setLevel(logging.INFO)
    try:
        with serve_with(request_log=True) as client:
            client.get("/navai/health", headers={"x-request-id": "text-1"})
    finally:
        access.removeHandler(handler)
        access.setLevel(logging.NOTSET)
    assert seen == [("text-1", "text-1")]


def test_metrics_mounted_in_the_apps_themselves(fake_openai) -> None:
    from werkzeug.middleware.dispatcher import DispatcherMiddleware

    from navai_adapters.starlette import create_app
    from navai_adapters.wsgi import create_app as create_wsgi_app
    from tests.servers import serve_asgi, serve_wsgi

    from .conftest import default_options

    asgi_metrics = NavaiMetrics(CollectorRegistry())
    app = create_app(default_options(fake_openai), env={}, observer=asgi_metrics)
    app.mount("/metrics", asgi_metrics.asgi_app())
    with serve_asgi(app) as url:
        httpx.get(f"{url}/navai/functions")
        scraped = httpx.get(f"{url}/metrics/").text
    assert 'navai_requests_total{method="GET",route="functions_list",status="200"} 1.0' in scraped

    wsgi_metrics = NavaiMetrics(CollectorRegistry())
    navai_wsgi = create_wsgi_app(default_options(fake_openai), env={}, observer=wsgi_metrics)
    dispatcher = DispatcherMiddleware(navai_wsgi, {"/metrics": wsgi_metrics.wsgi_app()})
    dispatcher.close = navai_wsgi.close  # type: ignore[attr-defined]
    with serve_wsgi(dispatcher) as url:
        httpx.get(f"{url}/navai/functions")
        scraped = httpx.get(f"{url}/metrics").text
    assert 'navai_requests_total{method="GET",route="functions_list",status="200"} 1.0' in scraped

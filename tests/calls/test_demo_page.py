"""`navai serve --demo`: the WebRTC example page, only when asked."""

from __future__ import annotations

import httpx
import pytest

from navai_adapters import cli
from navai_adapters.starlette import create_app
from navai_core import NavaiVoiceBackendOptions
from tests.servers import serve_asgi

pytestmark = pytest.mark.integration


def test_demo_page_is_served_only_when_asked(monkeypatch, tmp_path) -> None:
    options = NavaiVoiceBackendOptions(openai_api_key="sk-demo-test-key")
    monkeypatch.delenv("NAVAI_DEMO", raising=False)
    plain = cli._with_demo(create_app(options, env={}, functions_base_dir=tmp_path))
    with serve_asgi(plain) as url:
        assert httpx.get(f"{url}{cli.DEMO_PATH}").status_code == 404
    monkeypatch.setenv("NAVAI_DEMO", "true")
    demo = cli._with_demo(create_app(options, env={}, functions_base_dir=tmp_path))
    with serve_asgi(demo) as url:
        page = httpx.get(f"{url}{cli.DEMO_PATH}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert "x-navai-call-id" in page.text
        assert "/navai/realtime/calls" in page.text
        assert "sk-" not in page.text


def test_serve_has_a_demo_flag_off_by_default() -> None:
    parser = cli._build_parser()
    assert parser.parse_args(["serve"]).demo is False
    assert parser.parse_args(["serve", "--demo"]).demo is True

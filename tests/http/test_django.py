"""NAVAI in a real Django project (tests/django_project), served by waitress in its own process."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.fake_openai import FakeOpenAI
from tests.servers import ROOT, clean_env, serve_process

pytestmark = pytest.mark.integration

PROJECT = Path(__file__).parents[1] / "django_project"


@pytest.fixture(scope="module")
def site(fake_openai: FakeOpenAI, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    env = clean_env(
        DJANGO_SETTINGS_MODULE="navai_site.settings",
        PYTHONPATH=os.pathsep.join([str(PROJECT), str(ROOT)]),
        NAVAI_TEST_DB=str(tmp_path_factory.mktemp("django") / "db.sqlite3"),
        OPENAI_API_KEY="sk-django-test-key-123456",
        OPENAI_BASE_URL=fake_openai.url,
    )
    with serve_process(
        lambda port: [
            *(sys.executable, "-m", "waitress", f"--listen=127.0.0.1:{port}"),
            "navai_site.wsgi:application",
        ],
        env=env,
        path="/",
    ) as started:
        yield started.url
        output = started.stop()
    assert "sk-django-test-key" not in output


@contextlib.contextmanager
def signed_in_client(url: str, user: str = "alice") -> Iterator[httpx.Client]:
    with httpx.Client(base_url=url, timeout=10) as client:
        assert client.get("/login", params={"user": user}).text == "signed in"
        yield client


def test_django_auth_guards_the_routes(site: str) -> None:
    with httpx.Client(base_url=site) as anonymous:
        refused = anonymous.get("/navai/functions")
    assert refused.status_code == 401
    assert refused.json() == {"error": "Sign in first."}
    assert refused.headers["x-django-middleware"] == "seen"  # Django's middleware ran


def test_functions_receive_the_django_request(site: str) -> None:
    with signed_in_client(site, "alice") as client:
        answer = client.post("/navai/functions/execute", json={"function_name": "current_user"})
    assert answer.status_code == 200, answer.text
    assert answer.json()["result"] == {"user": "alice", "type": "WSGIRequest", "session": True}
    assert answer.headers["x-django-middleware"] == "seen"


def test_mint_and_list_through_django(site: str, fake_openai: FakeOpenAI) -> None:
    fake_openai.clear()
    with signed_in_client(site, "bob") as client:
        minted = client.post("/navai/realtime/client-secret", json={"voice": "alloy"})
        listed = client.get("/navai/functions").json()
    assert minted.status_code == 200, minted.text
    assert minted.json()["value"].startswith("ek_test_")
    assert minted.headers["cache-control"] == "no-store"
    assert fake_openai.requests[-1].headers["authorization"] == "Bearer sk-django-test-key-123456"
    assert {"current_user", "add"} <= {item["name"] for item in listed["items"]}


def test_included_under_a_prefix(site: str) -> None:
    with signed_in_client(site, "carol") as client:
        answer = client.post(
            "/api/navai/functions/execute",
            json={"function_name": "add", "payload": {"a": 2, "b": 5}},
        )
        assert answer.json()["result"] == 7
        assert client.get("/api/navai/health").json() == {"status": "ok"}


def test_contract_errors_stay_json_under_django(site: str) -> None:
    with signed_in_client(site) as client:
        wrong_method = client.get("/navai/functions/execute")
        bad_json = client.post(
            "/navai/functions/execute",
            content=b"{oops",
            headers={"content-type": "application/json"},
        )
        unknown = client.post("/navai/functions/execute", json={"function_name": "ad"})
        too_big = client.post(
            "/navai/functions/execute",
            content=b'{"function_name": "add", "payload": {"a": "' + b"x" * 1_100_000 + b'"}}',
            headers={"content-type": "application/json"},
        )
    assert wrong_method.status_code == 405
    assert wrong_method.headers["allow"] == "POST"
    assert bad_json.status_code == 400
    assert bad_json.json()["error"].startswith("Request body is not valid JSON")
    assert unknown.status_code == 404
    assert unknown.json()["details"].endswith("Did you mean 'add'?")
    assert too_big.status_code == 413
    assert too_big.headers["content-type"] == "application/json"


def test_call_routes_with_an_id_are_routed_under_django(site: str) -> None:
    with signed_in_client(site) as client:
        # The fake OpenAI has no such call (404): the call is over either way.
        for prefix in ("", "/api"):
            answer = client.post(f"{prefix}/navai/realtime/calls/rtc_dj1/hangup")
            assert answer.status_code == 200, answer.text
            assert answer.json() == {"ok": True, "call_id": "rtc_dj1"}
        offer = client.post(
            "/navai/realtime/calls", content=b"nope", headers={"content-type": "application/sdp"}
        )
        assert offer.status_code == 400
        assert "not an SDP offer" in offer.json()["error"]


def test_the_site_itself_still_answers(site: str) -> None:
    assert httpx.get(f"{site}/").text == "the site"


def test_url_patterns_are_named_and_the_client_closes() -> None:
    from navai_adapters import build_handler
    from navai_adapters.django import NavaiDjango

    navai = NavaiDjango(build_handler(env={}, enable_functions=False), csrf_exempt=False)
    names = [pattern.name for pattern in navai.urls]
    assert names == [
        "navai-health",
        "navai-client-secret",
        "navai-speech-synthesize",
        "navai-realtime-calls",
        "navai-realtime-call-hangup",
    ]
    assert all(not getattr(p.callback, "csrf_exempt", False) for p in navai.urls)
    navai.close()
    assert navai.client.is_closed

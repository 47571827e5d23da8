"""Protection without code: the shared token, hooks named by `module:function`, health."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from navai_adapters import NavaiServerConfig
from navai_adapters._auth import bearer_token_matches, load_authorize_hook
from navai_core.exceptions import InvalidOptionError

pytestmark = pytest.mark.integration

HOOKS = Path(__file__).parent / "auth_hooks"
TOKEN = "s3cret-token-for-the-tests-0123"
MINT = "/navai/realtime/client-secret"
LIST = "/navai/functions"
EXECUTE = "/navai/functions/execute"
ADD = {"function_name": "add", "payload": {"a": 1, "b": 2}}


@pytest.fixture
def hooks_importable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.syspath_prepend(str(HOOKS))
    yield
    sys.modules.pop("navai_test_hooks", None)


def test_shared_token_guards_every_route_but_health(serve_with) -> None:
    good = {"authorization": f"Bearer {TOKEN}"}
    with serve_with(env={"NAVAI_AUTH_TOKEN": TOKEN}) as client:
        for response in (
            client.post(MINT, json={}),
            client.get(LIST),
            client.post(EXECUTE, json=ADD, headers={"authorization": f"Bearer {TOKEN}x"}),
            client.get(LIST, headers={"authorization": TOKEN}),  # no scheme
        ):
            assert response.status_code == 401, response.text
            assert "NAVAI_AUTH_TOKEN" in response.json()["error"]
            assert response.headers["www-authenticate"].startswith("Bearer")
        assert client.post(MINT, json={}, headers=good).status_code == 200
        assert client.get(LIST, headers=good).status_code == 200
        assert client.post(EXECUTE, json=ADD, headers=good).json()["result"] == 3
        assert client.get("/navai/health").json() == {"status": "ok"}


def test_token_and_hook_both_apply(serve_with) -> None:
    seen = []

    def hook(request) -> bool:
        seen.append(request.route)
        return request.headers.get("x-user") == "alice"

    good = {"authorization": f"Bearer {TOKEN}"}
    with serve_with(authorize=hook, env={"NAVAI_AUTH_TOKEN": TOKEN}) as client:
        assert client.get(LIST).status_code == 401
        assert seen == []  # the token is checked first
        assert client.get(LIST, headers=good).status_code == 403
        assert client.get(LIST, headers={**good, "x-user": "alice"}).status_code == 200


@pytest.mark.usefixtures("hooks_importable")
def test_hook_named_in_the_environment(serve_with) -> None:
    with serve_with(env={"NAVAI_AUTHORIZE": "navai_test_hooks:only_alice"}) as client:
        assert client.get(LIST).json() == {"error": "Say who you are."}
        assert client.get(LIST, headers={"x-user": "bob"}).status_code == 403
        assert client.get(LIST, headers={"x-user": "alice"}).status_code == 200


def test_health_is_cheap_and_open(serve_with) -> None:
    def refuse_all(_request) -> bool:
        return False

    with serve_with(authorize=refuse_all) as client:
        response = client.get("/navai/health")
        assert response.status_code == 200
        assert response.json() == {"status": "ok"}
        assert response.headers["cache-control"] == "no-store"
        assert client.post("/navai/health").status_code == 405
        assert client.get(LIST).status_code == 403


def test_health_path_is_configurable(serve_with) -> None:
    with serve_with(env={"NAVAI_HEALTH_PATH": "/healthz"}) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        assert client.get("/navai/health").status_code == 404


# --- loading and validation, without a server ----------------------------------------------


@pytest.mark.usefixtures("hooks_importable")
def test_load_hook_returns_the_function_itself() -> None:
    import navai_test_hooks

    assert load_authorize_hook("navai_test_hooks:only_alice") is navai_test_hooks.only_alice
    config = NavaiServerConfig(authorize="navai_test_hooks:only_alice")
    assert config.authorize is navai_test_hooks.only_alice


@pytest.mark.usefixtures("hooks_importable")
@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("navai_test_hooks.only_alice", "must be 'module:function'"),
        ("no_such_module_xyz:check", "cannot import 'no_such_module_xyz'"),
        ("navai_test_hooks:missing", "has no attribute 'missing'"),
        ("navai_test_hooks:NOT_CALLABLE", "is not callable"),
    ],
)
def test_bad_hook_names_say_why(spec: str, message: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({"NAVAI_AUTHORIZE": spec})
    assert message in caught.value.message
    assert "NAVAI_AUTHORIZE" in caught.value.message


def test_a_code_hook_wins_without_importing_the_env_one() -> None:
    def mine(_request) -> None:
        return None

    config = NavaiServerConfig.from_env({"NAVAI_AUTHORIZE": "no_such_module_xyz:x"}, authorize=mine)
    assert config.authorize is mine


@pytest.mark.parametrize("token", ["short", "has a space in it somewhere"])
def test_weak_token_is_refused_without_echoing_it(token: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({"NAVAI_AUTH_TOKEN": token})
    assert "NAVAI_AUTH_TOKEN" in caught.value.message
    assert token not in caught.value.message
    assert token not in repr(NavaiServerConfig(auth_token=TOKEN))


def test_bearer_comparison() -> None:
    import httpx

    expected = TOKEN.encode()
    assert bearer_token_matches(httpx.Headers({"authorization": f"Bearer {TOKEN}"}), expected)
    assert bearer_token_matches(httpx.Headers({"authorization": f"bearer  {TOKEN} "}), expected)
    assert not bearer_token_matches(httpx.Headers({"authorization": f"Basic {TOKEN}"}), expected)
    assert not bearer_token_matches(
        httpx.Headers([(b"authorization", "Bearer é".encode("latin-1"))]), expected
    )
    assert not bearer_token_matches(httpx.Headers(), expected)

"""NavaiServerConfig: defaults, env variables, validation that names the variable."""

from __future__ import annotations

import pytest

from navai_adapters import NavaiServerConfig
from navai_core.exceptions import InvalidOptionError


def test_defaults() -> None:
    config = NavaiServerConfig()
    assert config.client_secret_path == "/navai/realtime/client-secret"
    assert config.functions_list_path == "/navai/functions"
    assert config.functions_execute_path == "/navai/functions/execute"
    assert config.enable_functions is True
    assert config.max_body_bytes == 1024 * 1024
    assert config.cors_origins == ()
    assert config.authorize is None


def test_every_variable_is_read() -> None:
    config = NavaiServerConfig.from_env(
        {
            "NAVAI_CLIENT_SECRET_PATH": "/a",
            "NAVAI_FUNCTIONS_LIST_PATH": "/b",
            "NAVAI_FUNCTIONS_EXECUTE_PATH": "/c",
            "NAVAI_ENABLE_FUNCTIONS": "false",
            "NAVAI_MAX_BODY_BYTES": "2048",
            "NAVAI_FUNCTIONS_BASE_DIR": "/srv/app",
            "NAVAI_FUNCTIONS_FOLDERS": "src/tools",
            "NAVAI_CORS_ORIGINS": "https://a.example,https://b.example",
        }
    )
    assert (
        config.client_secret_path,
        config.functions_list_path,
        config.functions_execute_path,
    ) == ("/a", "/b", "/c")
    assert config.enable_functions is False
    assert config.max_body_bytes == 2048
    assert config.functions_base_dir == "/srv/app"
    assert config.functions_folders == "src/tools"
    assert config.cors_origins == ("https://a.example", "https://b.example")


def test_keywords_win_over_env() -> None:
    config = NavaiServerConfig.from_env({"NAVAI_MAX_BODY_BYTES": "2048"}, max_body_bytes=10)
    assert config.max_body_bytes == 10


def test_blank_variables_are_unset() -> None:
    assert (
        NavaiServerConfig.from_env({"NAVAI_MAX_BODY_BYTES": "  ", "NAVAI_CLIENT_SECRET_PATH": ""})
        == NavaiServerConfig()
    )


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NAVAI_MAX_BODY_BYTES", "lots"),
        ("NAVAI_MAX_BODY_BYTES", "0"),
        ("NAVAI_ENABLE_FUNCTIONS", "perhaps"),
        ("NAVAI_CLIENT_SECRET_PATH", "no-slash"),
        ("NAVAI_FUNCTIONS_LIST_PATH", "/has?query"),
    ],
)
def test_bad_variable_names_itself_and_its_value(variable: str, value: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({variable: value})
    assert variable in str(caught.value)
    assert value in str(caught.value)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_body_bytes", 0),
        ("max_body_bytes", True),
        ("client_secret_path", "relative"),
        ("functions_execute_path", 5),
    ],
)
def test_bad_fields_are_refused(field: str, value: object) -> None:
    with pytest.raises(InvalidOptionError, match=field):
        NavaiServerConfig(**{field: value})


def test_paths_must_differ() -> None:
    with pytest.raises(InvalidOptionError, match="must differ"):
        NavaiServerConfig(functions_list_path="/x", functions_execute_path="/x")
    # With the functions routes off, only the client-secret path counts.
    NavaiServerConfig(enable_functions=False, functions_list_path="/x", functions_execute_path="/x")


def test_paths_clash_from_env_is_reported() -> None:
    with pytest.raises(InvalidOptionError, match="must differ"):
        NavaiServerConfig.from_env({"NAVAI_FUNCTIONS_LIST_PATH": "/navai/functions/execute"})

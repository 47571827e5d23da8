"""The calls settings: defaults, environment variables, and bad values named."""

from __future__ import annotations

import pytest

from navai_adapters import NavaiServerConfig
from navai_core._ratelimit import RATE_LIMIT_ENV
from navai_core.exceptions import InvalidOptionError


def test_defaults() -> None:
    config = NavaiServerConfig()
    assert config.realtime_calls_path == "/navai/realtime/calls"
    assert config.enable_realtime_calls is True
    assert config.enable_functions_execute is True
    assert config.server_tools is False
    assert config.max_sidebands == 100
    assert config.sideband_idle_timeout == 600.0
    assert config.max_sdp_bytes == 64 * 1024


def test_from_env() -> None:
    config = NavaiServerConfig.from_env(
        {
            "NAVAI_REALTIME_CALLS_PATH": "/voice/calls",
            "NAVAI_SERVER_TOOLS": "true",
            "NAVAI_ENABLE_FUNCTIONS_EXECUTE": "false",
            "NAVAI_MAX_SIDEBANDS": "7",
            "NAVAI_SIDEBAND_IDLE_TIMEOUT": "30.5",
            "NAVAI_MAX_SDP_BYTES": "2048",
            "NAVAI_RATE_LIMIT_CALLS": "5/minute",
        }
    )
    assert config.realtime_calls_path == "/voice/calls"
    assert config.server_tools is True
    assert config.enable_functions_execute is False
    assert (config.max_sidebands, config.sideband_idle_timeout, config.max_sdp_bytes) == (
        7,
        30.5,
        2048,
    )
    assert "realtime_calls" in config.rate_limits
    assert RATE_LIMIT_ENV["realtime_calls"] == "NAVAI_RATE_LIMIT_CALLS"


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("NAVAI_SERVER_TOOLS", "maybe"),
        ("NAVAI_MAX_SIDEBANDS", "0"),
        ("NAVAI_MAX_SIDEBANDS", "many"),
        ("NAVAI_SIDEBAND_IDLE_TIMEOUT", "-1"),
        ("NAVAI_MAX_SDP_BYTES", "0"),
        ("NAVAI_REALTIME_CALLS_PATH", "calls"),
    ],
)
def test_bad_values_name_the_variable(variable, value) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({variable: value})
    assert variable in caught.value.message
    assert value in caught.value.message


def test_server_tools_need_the_functions_and_the_calls_routes() -> None:
    with pytest.raises(InvalidOptionError, match="server_tools needs"):
        NavaiServerConfig(server_tools=True, enable_functions=False)
    with pytest.raises(InvalidOptionError, match="server_tools needs"):
        NavaiServerConfig(server_tools=True, enable_realtime_calls=False)


def test_the_calls_path_must_differ_from_the_others() -> None:
    with pytest.raises(InvalidOptionError, match="must differ"):
        NavaiServerConfig(realtime_calls_path="/navai/functions")

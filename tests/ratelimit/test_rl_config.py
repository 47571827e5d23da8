"""Rate-limit settings: none by default, from env or code, bad values named when built."""

from __future__ import annotations

import builtins
import ipaddress

import pytest

from navai_adapters import NavaiServerConfig, build_handler
from navai_core import NavaiVoiceBackendOptions
from navai_core._ratelimit import Rate
from navai_core.exceptions import InvalidOptionError

OPTIONS = NavaiVoiceBackendOptions(openai_api_key="sk-test-0123456789")


def test_nothing_is_limited_by_default() -> None:
    config = NavaiServerConfig.from_env({})
    assert config.rate_limits == {}
    assert config.rate_limit_storage == "memory://"
    assert config.rate_limit_fail_open is True
    assert config.trusted_proxies == ()
    assert build_handler(OPTIONS, env={}, enable_functions=False).rate_limiter is None


def test_every_rate_limit_variable_is_read() -> None:
    config = NavaiServerConfig.from_env(
        {
            "NAVAI_RATE_LIMIT_MINT": "10/minute;100/day",
            "NAVAI_RATE_LIMIT_EXECUTE": "60/minute",
            "NAVAI_RATE_LIMIT_SPEECH": "5 per second",
            "NAVAI_RATE_LIMIT_STORAGE": "redis://cache.internal:6379/2",
            "NAVAI_RATE_LIMIT_FAIL_OPEN": "false",
            "NAVAI_RATE_LIMIT_STORAGE_TIMEOUT": "0.25",
            "NAVAI_TRUSTED_PROXIES": "10.0.0.0/8, 127.0.0.1",
        }
    )
    assert config.rate_limits == {
        "client_secret": (Rate(10, "minute"), Rate(100, "day")),
        "functions_execute": (Rate(60, "minute"),),
        "speech_synthesize": (Rate(5, "second"),),
    }
    assert config.rate_limit_storage == "redis://cache.internal:6379/2"
    assert config.rate_limit_fail_open is False
    assert config.rate_limit_storage_timeout == 0.25
    assert config.trusted_proxies == (
        ipaddress.ip_network("10.0.0.0/8"),
        ipaddress.ip_network("127.0.0.1/32"),
    )


def test_the_config_stays_hashable_and_compares_its_rates() -> None:
    limited = NavaiServerConfig(rate_limits={"client_secret": "1/minute"})
    assert hash(limited) == hash(NavaiServerConfig(rate_limits={"client_secret": "1/minute"}))
    assert limited == NavaiServerConfig(rate_limits={"client_secret": "1/minute"})
    assert limited != NavaiServerConfig(rate_limits={"client_secret": "2/minute"})


def test_code_wins_over_env_and_takes_rates_as_strings_or_lists() -> None:
    config = NavaiServerConfig.from_env(
        {"NAVAI_RATE_LIMIT_MINT": "1/day"},
        rate_limits={"client_secret": ["2/second", Rate(5, "minute")]},
        trusted_proxies=["::1"],
    )
    assert config.rate_limits == {"client_secret": (Rate(2, "second"), Rate(5, "minute"))}
    assert config.trusted_proxies == (ipaddress.ip_network("::1/128"),)


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        (
            "NAVAI_RATE_LIMIT_MINT",
            "10/fortnight",
            (
                "NAVAI_RATE_LIMIT_MINT='10/fortnight' is invalid: '10/fortnight' is not a rate. "
                "Use rates such as '10/minute' or '10/minute;100/day'."
            ),
        ),
        (
            "NAVAI_RATE_LIMIT_EXECUTE",
            "10/minute;lots",
            "NAVAI_RATE_LIMIT_EXECUTE='10/minute;lots' is invalid: 'lots' is not a rate.",
        ),
        (
            "NAVAI_RATE_LIMIT_SPEECH",
            "0/minute",
            "NAVAI_RATE_LIMIT_SPEECH='0/minute' is invalid: A rate needs whole numbers",
        ),
        (
            "NAVAI_RATE_LIMIT_STORAGE",
            "memcached://localhost",
            (
                "NAVAI_RATE_LIMIT_STORAGE is invalid: rate_limit_storage must be memory:// or a "
                "redis://"
            ),
        ),
        (
            "NAVAI_RATE_LIMIT_FAIL_OPEN",
            "perhaps",
            "NAVAI_RATE_LIMIT_FAIL_OPEN='perhaps' is not a boolean.",
        ),
        (
            "NAVAI_RATE_LIMIT_STORAGE_TIMEOUT",
            "-1",
            "NAVAI_RATE_LIMIT_STORAGE_TIMEOUT='-1' is invalid: rate_limit_storage_timeout must be",
        ),
        (
            "NAVAI_TRUSTED_PROXIES",
            "10.0.0.0/8,proxy.local",
            (
                "NAVAI_TRUSTED_PROXIES='10.0.0.0/8,proxy.local' is invalid: trusted_proxies: "
                "'proxy.local' is not an IP address"
            ),
        ),
    ],
)
def test_a_bad_value_names_the_variable_and_the_value(
    variable: str, value: str, message: str
) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({variable: value})
    assert str(caught.value).startswith(message)
    assert caught.value.variable == variable


def test_a_storage_password_is_never_quoted() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiServerConfig.from_env({"NAVAI_RATE_LIMIT_STORAGE": "mongodb://u:s3cret-pw@db/x"})
    assert "s3cret-pw" not in str(caught.value)
    assert "s3cret-pw" not in repr(caught.value.value)
    config = NavaiServerConfig(rate_limit_storage="redis://:s3cret-pw@cache:6379/0")
    assert "s3cret-pw" not in repr(config)
    assert "redis://:***@cache:6379/0" in repr(config)


def test_in_code_an_unknown_route_or_a_bad_rate_is_refused() -> None:
    with pytest.raises(InvalidOptionError, match="no route 'functions_list'"):
        NavaiServerConfig(rate_limits={"functions_list": "1/second"})
    with pytest.raises(InvalidOptionError, match=r"rate_limits\['client_secret'\]: 5 is not"):
        NavaiServerConfig(rate_limits={"client_secret": [5]})
    with pytest.raises(InvalidOptionError, match="must map route names"):
        NavaiServerConfig(rate_limits="10/minute")  # type: ignore[arg-type]


def test_rates_without_the_extra_installed_fail_at_start_saying_how_to_install_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import limits.storage  # noqa: F401 - imported for real first: only NAVAI's imports fail

    real_import = builtins.__import__
    missing = {"limits", "redis"}

    def without(name: str, *args: object, **kwargs: object) -> object:
        if name in missing:
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", without)
    env = {"NAVAI_RATE_LIMIT_MINT": "1/minute"}
    with pytest.raises(InvalidOptionError) as caught:
        build_handler(OPTIONS, env=env, enable_functions=False)
    assert str(caught.value) == (
        "Rate limits (NAVAI_RATE_LIMIT_MINT) need the 'limits' package: "
        "pip install 'navai[ratelimit]'."
    )
    missing.discard("limits")
    env["NAVAI_RATE_LIMIT_STORAGE"] = "redis://127.0.0.1:1/0"
    with pytest.raises(InvalidOptionError) as caught:
        build_handler(OPTIONS, env=env, enable_functions=False)
    assert str(caught.value) == (
        "A Redis storage (NAVAI_RATE_LIMIT_STORAGE) needs the 'redis' package: "
        "pip install 'navai[ratelimit]'."
    )
    # Without rates, nothing needs the extra.
    assert build_handler(OPTIONS, env={}, enable_functions=False).rate_limiter is None

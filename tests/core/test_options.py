"""NavaiVoiceBackendOptions and RetryPolicy: defaults, environment, validation, secrecy."""

from __future__ import annotations

from typing import Any

import attrs
import pytest

from navai_core import (
    NavaiVoiceBackendOptions,
    RetryPolicy,
    get_navai_voice_backend_options_from_env,
)
from navai_core.exceptions import InvalidOptionError, NavaiError
from tests.core.conftest import ENV_VARIABLES

KEY = "sk-proj-server-secret-0123456789"


# --- defaults ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("openai_api_key", None),
        ("default_model", "gpt-realtime"),
        ("default_voice", "marin"),
        ("default_instructions", "You are a helpful assistant."),
        ("default_language", None),
        ("default_voice_accent", None),
        ("default_voice_tone", None),
        ("client_secret_ttl_seconds", 600),
        ("allow_api_key_from_request", False),
        ("openai_base_url", "https://api.openai.com/v1"),
        ("openai_organization", None),
        ("openai_project", None),
        ("openai_timeout_seconds", 10),
        (
            "retry",
            RetryPolicy(max_attempts=3, backoff_initial_seconds=0.25, backoff_max_seconds=2.0),
        ),
        ("allowed_models", None),
        ("allowed_voices", None),
        ("tts_provider", "openai"),
        ("elevenlabs_api_key", None),
        ("elevenlabs_base_url", "https://api.elevenlabs.io"),
        ("elevenlabs_voice_id", None),
        ("elevenlabs_model_id", None),
        ("elevenlabs_output_format", "mp3_44100_128"),
        ("elevenlabs_optimize_streaming_latency", None),
        ("elevenlabs_voice_settings", None),
        ("elevenlabs_timeout_seconds", 30),
        ("max_speech_text_chars", 5000),
    ],
)
def test_default(field: str, expected: object) -> None:
    assert getattr(NavaiVoiceBackendOptions(), field) == expected


def test_every_field_has_a_tested_default() -> None:
    # A new field must get a row in test_default (and in the docs' env table).
    names = {field.name for field in attrs.fields(NavaiVoiceBackendOptions)}
    assert names == {
        "openai_api_key",
        "default_model",
        "default_voice",
        "default_instructions",
        "default_language",
        "default_voice_accent",
        "default_voice_tone",
        "client_secret_ttl_seconds",
        "allow_api_key_from_request",
        "openai_base_url",
        "openai_organization",
        "openai_project",
        "openai_timeout_seconds",
        "retry",
        "allowed_models",
        "allowed_voices",
        "tts_provider",
        "elevenlabs_api_key",
        "elevenlabs_base_url",
        "elevenlabs_voice_id",
        "elevenlabs_model_id",
        "elevenlabs_output_format",
        "elevenlabs_optimize_streaming_latency",
        "elevenlabs_voice_settings",
        "elevenlabs_timeout_seconds",
        "max_speech_text_chars",
    }


def test_empty_env_gives_the_defaults() -> None:
    assert get_navai_voice_backend_options_from_env({}) == NavaiVoiceBackendOptions()


def test_client_secrets_url() -> None:
    options = NavaiVoiceBackendOptions(openai_base_url="http://127.0.0.1:9/v1/")
    assert options.openai_base_url == "http://127.0.0.1:9/v1"
    assert options.client_secrets_url == "http://127.0.0.1:9/v1/realtime/client_secrets"


# --- from the environment ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw", "field", "expected"),
    [
        ("OPENAI_API_KEY", KEY, "openai_api_key", KEY),
        ("OPENAI_REALTIME_MODEL", "gpt-realtime-mini", "default_model", "gpt-realtime-mini"),
        ("OPENAI_REALTIME_VOICE", "cedar", "default_voice", "cedar"),
        ("OPENAI_REALTIME_INSTRUCTIONS", "Be brief.", "default_instructions", "Be brief."),
        ("OPENAI_REALTIME_LANGUAGE", "Spanish", "default_language", "Spanish"),
        ("OPENAI_REALTIME_VOICE_ACCENT", "Mexican", "default_voice_accent", "Mexican"),
        ("OPENAI_REALTIME_VOICE_TONE", "friendly", "default_voice_tone", "friendly"),
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "120", "client_secret_ttl_seconds", 120),
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "10", "client_secret_ttl_seconds", 10),
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "7200", "client_secret_ttl_seconds", 7200),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "true", "allow_api_key_from_request", True),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "TRUE", "allow_api_key_from_request", True),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "1", "allow_api_key_from_request", True),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "yes", "allow_api_key_from_request", True),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "on", "allow_api_key_from_request", True),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "false", "allow_api_key_from_request", False),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "False", "allow_api_key_from_request", False),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "0", "allow_api_key_from_request", False),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "no", "allow_api_key_from_request", False),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "off", "allow_api_key_from_request", False),
        (
            "OPENAI_BASE_URL",
            "http://127.0.0.1:8765/v1",
            "openai_base_url",
            "http://127.0.0.1:8765/v1",
        ),
        (
            "OPENAI_BASE_URL",
            "https://proxy.example/v1/",
            "openai_base_url",
            "https://proxy.example/v1",
        ),
        ("OPENAI_ORG_ID", "org-123", "openai_organization", "org-123"),
        ("OPENAI_PROJECT_ID", "proj_456", "openai_project", "proj_456"),
        ("NAVAI_OPENAI_TIMEOUT", "2.5", "openai_timeout_seconds", 2.5),
        ("NAVAI_OPENAI_TIMEOUT", "30", "openai_timeout_seconds", 30.0),
        (
            "NAVAI_ALLOWED_MODELS",
            "gpt-realtime, gpt-realtime-mini,,",
            "allowed_models",
            frozenset({"gpt-realtime", "gpt-realtime-mini"}),
        ),
        ("NAVAI_ALLOWED_VOICES", "marin,cedar", "allowed_voices", frozenset({"marin", "cedar"})),
        ("NAVAI_OPENAI_MAX_ATTEMPTS", "5", "retry", RetryPolicy(max_attempts=5)),
        ("NAVAI_OPENAI_MAX_ATTEMPTS", "1", "retry", RetryPolicy(max_attempts=1)),
    ],
)
def test_variable_sets_its_option(variable: str, raw: str, field: str, expected: object) -> None:
    options = get_navai_voice_backend_options_from_env({variable: raw})
    assert getattr(options, field) == expected
    # ... and nothing else: every other field keeps its default.
    defaults = NavaiVoiceBackendOptions()
    for other in attrs.fields(NavaiVoiceBackendOptions):
        if other.name != field:
            assert getattr(options, other.name) == getattr(defaults, other.name), other.name


@pytest.mark.parametrize(
    ("variable", "field"),
    [
        ("OPENAI_API_KEY", "openai_api_key"),
        ("OPENAI_REALTIME_MODEL", "default_model"),
        ("OPENAI_REALTIME_INSTRUCTIONS", "default_instructions"),
        ("OPENAI_REALTIME_LANGUAGE", "default_language"),
        ("OPENAI_ORG_ID", "openai_organization"),
    ],
)
def test_text_values_are_stripped(variable: str, field: str) -> None:
    options = get_navai_voice_backend_options_from_env({variable: "  value \n"})
    assert getattr(options, field) == "value"


@pytest.mark.parametrize("blank", ["", "   ", "\t\n"])
@pytest.mark.parametrize("variable", ENV_VARIABLES)
def test_blank_variable_counts_as_unset(variable: str, blank: str) -> None:
    assert get_navai_voice_backend_options_from_env({variable: blank}) == NavaiVoiceBackendOptions()


def test_all_variables_together() -> None:
    env = {
        "OPENAI_API_KEY": KEY,
        "OPENAI_REALTIME_MODEL": "gpt-realtime-mini",
        "OPENAI_REALTIME_VOICE": "cedar",
        "OPENAI_REALTIME_INSTRUCTIONS": "Be brief.",
        "OPENAI_REALTIME_LANGUAGE": "Spanish",
        "OPENAI_REALTIME_VOICE_ACCENT": "Mexican",
        "OPENAI_REALTIME_VOICE_TONE": "friendly",
        "OPENAI_REALTIME_CLIENT_SECRET_TTL": "300",
        "NAVAI_ALLOW_FRONTEND_API_KEY": "true",
        "OPENAI_BASE_URL": "http://127.0.0.1:8765/v1",
        "OPENAI_ORG_ID": "org-1",
        "OPENAI_PROJECT_ID": "proj-1",
        "NAVAI_OPENAI_TIMEOUT": "3",
        "NAVAI_ALLOWED_MODELS": "gpt-realtime-mini",
        "NAVAI_ALLOWED_VOICES": "cedar",
        "NAVAI_OPENAI_MAX_ATTEMPTS": "2",
        "UNRELATED": "ignored",
    }
    assert get_navai_voice_backend_options_from_env(env) == NavaiVoiceBackendOptions(
        openai_api_key=KEY,
        default_model="gpt-realtime-mini",
        default_voice="cedar",
        default_instructions="Be brief.",
        default_language="Spanish",
        default_voice_accent="Mexican",
        default_voice_tone="friendly",
        client_secret_ttl_seconds=300,
        allow_api_key_from_request=True,
        openai_base_url="http://127.0.0.1:8765/v1",
        openai_organization="org-1",
        openai_project="proj-1",
        openai_timeout_seconds=3.0,
        retry=RetryPolicy(max_attempts=2),
        allowed_models=frozenset({"gpt-realtime-mini"}),
        allowed_voices=frozenset({"cedar"}),
    )


def test_env_none_reads_os_environ(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_API_KEY", KEY)
    clean_env.setenv("OPENAI_REALTIME_VOICE", "cedar")
    clean_env.setenv("OPENAI_REALTIME_CLIENT_SECRET_TTL", "60")
    expected = NavaiVoiceBackendOptions(
        openai_api_key=KEY, default_voice="cedar", client_secret_ttl_seconds=60
    )
    assert get_navai_voice_backend_options_from_env() == expected
    assert get_navai_voice_backend_options_from_env(None) == expected
    assert NavaiVoiceBackendOptions.from_env() == expected


def test_env_none_with_a_bad_os_environ_value(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("OPENAI_REALTIME_CLIENT_SECRET_TTL", "abc")
    with pytest.raises(InvalidOptionError, match="OPENAI_REALTIME_CLIENT_SECRET_TTL='abc'"):
        NavaiVoiceBackendOptions.from_env()


def test_from_env_classmethod_takes_a_mapping() -> None:
    env = {"OPENAI_REALTIME_MODEL": "gpt-realtime-mini", "NAVAI_OPENAI_TIMEOUT": "4"}
    assert NavaiVoiceBackendOptions.from_env(env) == get_navai_voice_backend_options_from_env(env)
    assert NavaiVoiceBackendOptions.from_env(env).openai_timeout_seconds == 4.0


# --- bad environment values --------------------------------------------------------------


@pytest.mark.parametrize(
    ("variable", "raw", "option", "reason"),
    [
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "abc", None, "is not a whole number"),
        ("OPENAI_REALTIME_CLIENT_SECRET_TTL", "600.5", None, "is not a whole number"),
        (
            "OPENAI_REALTIME_CLIENT_SECRET_TTL",
            "5",
            "client_secret_ttl_seconds",
            "client_secret_ttl_seconds must be between 10 and 7200. Received: 5",
        ),
        (
            "OPENAI_REALTIME_CLIENT_SECRET_TTL",
            "7201",
            "client_secret_ttl_seconds",
            "client_secret_ttl_seconds must be between 10 and 7200. Received: 7201",
        ),
        (
            "OPENAI_REALTIME_CLIENT_SECRET_TTL",
            "-600",
            "client_secret_ttl_seconds",
            "Received: -600",
        ),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "maybe", None, "is not a boolean. Use 'true' or 'false'."),
        ("NAVAI_ALLOW_FRONTEND_API_KEY", "2", None, "is not a boolean"),
        (
            "NAVAI_OPENAI_TIMEOUT",
            "0",
            "openai_timeout_seconds",
            "openai_timeout_seconds must be a number greater than 0",
        ),
        ("NAVAI_OPENAI_TIMEOUT", "-1", "openai_timeout_seconds", "greater than 0"),
        ("NAVAI_OPENAI_TIMEOUT", "abc", None, "is not a number"),
        ("NAVAI_OPENAI_TIMEOUT", "nan", None, "is not a number"),
        ("NAVAI_OPENAI_TIMEOUT", "inf", None, "is not a number"),
        (
            "OPENAI_BASE_URL",
            "ftp://x",
            "openai_base_url",
            "openai_base_url must be an http:// or https:// URL",
        ),
        ("OPENAI_BASE_URL", "api.openai.com/v1", "openai_base_url", "http:// or https://"),
        (
            "NAVAI_OPENAI_MAX_ATTEMPTS",
            "0",
            "max_attempts",
            "max_attempts must be a whole number from 1 to 10",
        ),
        ("NAVAI_OPENAI_MAX_ATTEMPTS", "11", "max_attempts", "from 1 to 10"),
        ("NAVAI_OPENAI_MAX_ATTEMPTS", "three", None, "is not a whole number"),
    ],
)
def test_bad_variable_names_variable_and_value(
    variable: str, raw: str, option: str | None, reason: str
) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env({variable: raw})
    error = caught.value
    message = str(error)
    assert message.startswith(f"{variable}={raw!r} ")
    assert reason in message
    assert error.message == message
    assert error.variable == variable
    assert error.value == raw
    assert error.option == option
    assert error.status_code == 400
    assert isinstance(error, ValueError)
    assert isinstance(error, NavaiError)


def test_bad_ttl_message_in_full() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env({"OPENAI_REALTIME_CLIENT_SECRET_TTL": "5"})
    assert str(caught.value) == (
        "OPENAI_REALTIME_CLIENT_SECRET_TTL='5' is invalid: "
        "client_secret_ttl_seconds must be between 10 and 7200. Received: 5"
    )


def test_bad_value_is_reported_with_its_raw_spelling() -> None:
    # The variable's value as written (spaces included) is what the user must find and fix.
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env({"OPENAI_REALTIME_CLIENT_SECRET_TTL": " 5 "})
    assert str(caught.value).startswith("OPENAI_REALTIME_CLIENT_SECRET_TTL=' 5 ' is invalid: ")
    assert caught.value.value == " 5 "


def test_bad_value_never_shows_the_api_key() -> None:
    env = {"OPENAI_API_KEY": KEY, "OPENAI_REALTIME_CLIENT_SECRET_TTL": "5"}
    with pytest.raises(InvalidOptionError) as caught:
        get_navai_voice_backend_options_from_env(env)
    assert KEY not in str(caught.value)
    assert KEY not in repr(caught.value)


def test_an_empty_allowed_list_allows_nothing() -> None:
    # Only commas: set, but naming no model. Not the same as unset (which allows any).
    options = get_navai_voice_backend_options_from_env({"NAVAI_ALLOWED_MODELS": " , ,"})
    assert options.allowed_models == frozenset()


# --- direct construction -----------------------------------------------------------------


@pytest.mark.parametrize("ttl", [5, 9, 7201, 0, -1])
def test_ttl_out_of_range(ttl: int) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiVoiceBackendOptions(client_secret_ttl_seconds=ttl)
    error = caught.value
    assert str(error) == f"client_secret_ttl_seconds must be between 10 and 7200. Received: {ttl}"
    assert error.status_code == 400
    assert error.option == "client_secret_ttl_seconds"
    assert error.variable is None
    assert error.value == ttl


def test_ttl_5_exact_contract_message() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiVoiceBackendOptions(client_secret_ttl_seconds=5)
    assert str(caught.value) == "client_secret_ttl_seconds must be between 10 and 7200. Received: 5"
    assert caught.value.status_code == 400


@pytest.mark.parametrize("ttl", [True, 600.0, "600", None])
def test_ttl_must_be_an_int(ttl: Any) -> None:
    with pytest.raises(InvalidOptionError, match="client_secret_ttl_seconds must be between"):
        NavaiVoiceBackendOptions(client_secret_ttl_seconds=ttl)


@pytest.mark.parametrize("ttl", [10, 7200])
def test_ttl_bounds_are_inclusive(ttl: int) -> None:
    assert NavaiVoiceBackendOptions(client_secret_ttl_seconds=ttl).client_secret_ttl_seconds == ttl


@pytest.mark.parametrize("timeout", [0, 0.0, -1, True, "10", float("nan")])
def test_timeout_must_be_positive(timeout: Any) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiVoiceBackendOptions(openai_timeout_seconds=timeout)
    assert str(caught.value).startswith("openai_timeout_seconds must be a number greater than 0.")
    assert caught.value.option == "openai_timeout_seconds"


@pytest.mark.parametrize("timeout", [0.01, 1, 2.5])
def test_timeout_accepts_positive_numbers(timeout: float) -> None:
    assert (
        NavaiVoiceBackendOptions(openai_timeout_seconds=timeout).openai_timeout_seconds == timeout
    )


@pytest.mark.parametrize("url", ["ftp://x", "127.0.0.1:8765/v1", "file:///etc/passwd"])
def test_base_url_must_be_http(url: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        NavaiVoiceBackendOptions(openai_base_url=url)
    assert str(caught.value) == (
        "openai_base_url must be an http:// or https:// URL, such as "
        f"'https://api.openai.com/v1'. Received: {url!r}"
    )


@pytest.mark.parametrize("url", [None, "", "  "])
def test_blank_base_url_is_the_default(url: str | None) -> None:
    options = NavaiVoiceBackendOptions(openai_base_url=url)
    assert options.openai_base_url == "https://api.openai.com/v1"


@pytest.mark.parametrize(
    "field",
    [
        "openai_api_key",
        "default_language",
        "default_voice_accent",
        "default_voice_tone",
        "openai_organization",
        "openai_project",
    ],
)
@pytest.mark.parametrize("blank", ["", "  "])
def test_blank_optional_text_is_none(field: str, blank: str) -> None:
    kwargs: dict[str, Any] = {field: blank}
    assert getattr(NavaiVoiceBackendOptions(**kwargs), field) is None


@pytest.mark.parametrize(
    ("field", "default"),
    [
        ("default_model", "gpt-realtime"),
        ("default_voice", "marin"),
        ("default_instructions", "You are a helpful assistant."),
    ],
)
@pytest.mark.parametrize("blank", [None, "", "  "])
def test_blank_text_with_a_default_is_the_default(
    field: str, default: str, blank: str | None
) -> None:
    kwargs: dict[str, Any] = {field: blank}
    assert getattr(NavaiVoiceBackendOptions(**kwargs), field) == default


def test_text_fields_are_stripped() -> None:
    options = NavaiVoiceBackendOptions(
        openai_api_key=f"  {KEY}\n", default_model=" gpt-realtime-mini "
    )
    assert options.openai_api_key == KEY
    assert options.default_model == "gpt-realtime-mini"


def test_allow_api_key_from_request_must_be_a_bool() -> None:
    # attrs' own validator: a TypeError naming the field ("true" is not True).
    with pytest.raises(TypeError, match="allow_api_key_from_request"):
        NavaiVoiceBackendOptions(allow_api_key_from_request="true")  # type: ignore[arg-type]


def test_retry_must_be_a_retry_policy() -> None:
    with pytest.raises(TypeError, match="retry"):
        NavaiVoiceBackendOptions(retry=3)  # type: ignore[arg-type]


def test_non_string_text_option_is_a_validation_error() -> None:
    with pytest.raises((InvalidOptionError, TypeError), match="openai_api_key"):
        NavaiVoiceBackendOptions(openai_api_key=123)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("gpt-realtime, gpt-realtime-mini ,", frozenset({"gpt-realtime", "gpt-realtime-mini"})),
        (["gpt-realtime", " x ", ""], frozenset({"gpt-realtime", "x"})),
        (("a",), frozenset({"a"})),
        (frozenset({"a", "b"}), frozenset({"a", "b"})),
    ],
)
def test_allowed_names_are_normalised(given: Any, expected: frozenset[str] | None) -> None:
    options = NavaiVoiceBackendOptions(allowed_models=given, allowed_voices=given)
    assert options.allowed_models == expected
    assert options.allowed_voices == expected


def test_options_are_frozen() -> None:
    options = NavaiVoiceBackendOptions(openai_api_key=KEY)
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.openai_api_key = "sk-other"  # type: ignore[misc]
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        options.client_secret_ttl_seconds = 5  # type: ignore[misc]
    assert options.openai_api_key == KEY


def test_evolve_validates_again() -> None:
    options = NavaiVoiceBackendOptions()
    with pytest.raises(InvalidOptionError, match="Received: 5"):
        attrs.evolve(options, client_secret_ttl_seconds=5)


def test_options_compare_by_value() -> None:
    assert NavaiVoiceBackendOptions(openai_api_key=KEY) == NavaiVoiceBackendOptions(
        openai_api_key=KEY
    )
    assert NavaiVoiceBackendOptions(openai_api_key=KEY) != NavaiVoiceBackendOptions()


# --- the key stays hidden ----------------------------------------------------------------


def test_repr_and_str_hide_the_key() -> None:
    options = NavaiVoiceBackendOptions(openai_api_key=KEY, openai_organization="org-visible")
    for text in (repr(options), str(options), f"{options}", f"{options!r}"):
        assert KEY not in text
        assert "openai_api_key='***'" in text
        assert "org-visible" in text  # the rest is shown, to help debugging
        assert text.startswith("NavaiVoiceBackendOptions(")


def test_repr_without_key_says_none() -> None:
    assert "openai_api_key=None" in repr(NavaiVoiceBackendOptions())


def test_repr_lists_every_field() -> None:
    text = repr(NavaiVoiceBackendOptions())
    for field in attrs.fields(NavaiVoiceBackendOptions):
        assert f"{field.name}=" in text


# --- RetryPolicy -------------------------------------------------------------------------


def test_retry_policy_defaults() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff_initial_seconds, policy.backoff_max_seconds) == (
        3,
        0.25,
        2.0,
    )


def test_backoff_doubles_up_to_the_max() -> None:
    policy = RetryPolicy(max_attempts=10, backoff_initial_seconds=0.25, backoff_max_seconds=1.5)
    assert [policy.backoff(n) for n in range(1, 6)] == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert isinstance(policy.backoff(1), float)


def test_zero_backoff_is_allowed() -> None:
    policy = RetryPolicy(backoff_initial_seconds=0, backoff_max_seconds=0)
    assert policy.backoff(3) == 0.0


@pytest.mark.parametrize("attempts", [1, 10])
def test_max_attempts_bounds(attempts: int) -> None:
    assert RetryPolicy(max_attempts=attempts).max_attempts == attempts


@pytest.mark.parametrize("attempts", [0, 11, -1, True, 2.0, "3"])
def test_bad_max_attempts(attempts: Any) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        RetryPolicy(max_attempts=attempts)
    assert str(caught.value) == (
        f"max_attempts must be a whole number from 1 to 10. Received: {attempts!r}"
    )
    assert caught.value.option == "max_attempts"


@pytest.mark.parametrize("field", ["backoff_initial_seconds", "backoff_max_seconds"])
@pytest.mark.parametrize("value", [-0.1, True, "1", None])
def test_bad_backoff(field: str, value: Any) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        RetryPolicy(**{field: value})
    assert str(caught.value) == f"{field} must be a number of at least 0. Received: {value!r}"
    assert caught.value.option == field


def test_retry_policy_is_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        RetryPolicy().max_attempts = 5  # type: ignore[misc]

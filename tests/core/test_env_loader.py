"""The env loader: one set of rules for every settings class, and the docs naming each variable."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path
from typing import Any

import attrs
import pytest

from navai_adapters import NavaiServerConfig
from navai_adapters._config import ServeSettings
from navai_core import NavaiVoiceBackendOptions, load_navai_functions
from navai_core._config._env import (
    BadValueError,
    boolean,
    env,
    env_each,
    env_nested,
    load,
    split_names,
    variables,
    whole,
)
from navai_core._functions._settings import _Settings
from navai_core.exceptions import InvalidOptionError
from tests.core.conftest import ENV_VARIABLES

DOCS = Path(__file__).parents[2] / "docs" / "configuration.md"
TABLES = (NavaiVoiceBackendOptions, NavaiServerConfig, _Settings, ServeSettings)
# The server config hands these two to the functions' settings, which read them too.
SHARED = {"NAVAI_FUNCTIONS_BASE_DIR", "NAVAI_FUNCTIONS_FOLDERS"}


def _all_variables() -> list[str]:
    return [variable for table in TABLES for variable, _field in variables(table)]


# --- the tables and the docs ------------------------------------------------------------


def test_the_docs_name_every_variable_and_no_other() -> None:
    documented = set(re.findall(r"\b(?:NAVAI|OPENAI|ELEVENLABS)_[A-Z0-9_]+", DOCS.read_text()))
    assert documented == set(_all_variables())


def test_each_variable_is_read_by_one_setting() -> None:
    counts = Counter(_all_variables())
    assert {variable for variable, count in counts.items() if count > 1} == SHARED


def test_the_options_read_the_variables_the_core_tests_clear() -> None:
    assert {variable for variable, _ in variables(NavaiVoiceBackendOptions)} == set(ENV_VARIABLES)


def test_nested_and_grouped_fields_list_their_variables() -> None:
    options = dict(variables(NavaiVoiceBackendOptions))
    assert options["NAVAI_OPENAI_MAX_ATTEMPTS"] == "max_attempts"
    assert options["ELEVENLABS_STABILITY"] == "stability"
    config = dict(variables(NavaiServerConfig))
    assert config["NAVAI_RATE_LIMIT_CALLS"] == "rate_limits"


# --- the rules, on a small class ----------------------------------------------------------


def _positive(value: object) -> int:
    if not isinstance(value, int) or value < 1:
        msg = "must be at least 1."
        raise BadValueError(msg)
    return value


def _three_at_most(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value > 3:
        msg = f"{attribute.name} must be at most 3. Received: {value}"
        raise InvalidOptionError(msg, option=attribute.name, value=value)


def _short(_instance: object, attribute: attrs.Attribute[int], value: int) -> None:
    if value > 999:
        msg = f"{attribute.name} must be short (the value is not shown)."
        raise InvalidOptionError(msg, option=attribute.name, value="***")


@attrs.frozen
class _Inner:
    depth: int = attrs.field(default=1, validator=_three_at_most, metadata=env("T_DEPTH", whole))


@attrs.frozen(kw_only=True)
class _Sample:
    name: str = attrs.field(default="x", metadata=env("T_NAME"))
    flag: bool = attrs.field(default=False, metadata=env("T_FLAG", boolean))
    count: int = attrs.field(default=1, validator=_three_at_most, metadata=env("T_COUNT", whole))
    checked: int = attrs.field(
        default=1, metadata=env("T_CHECKED", whole, check=_positive, option="checked_count")
    )
    token: int = attrs.field(
        default=0, validator=_short, metadata=env("T_TOKEN", whole, secret=True)
    )
    parts: dict[str, int] = attrs.field(
        factory=dict, metadata=env_each({"a": "T_PART_A", "b": "T_PART_B"}, whole)
    )
    inner: _Inner = attrs.field(factory=_Inner, metadata=env_nested(_Inner))
    untouched: Any = None


def test_unset_and_blank_variables_give_the_defaults() -> None:
    blanks = {"T_NAME": "", "T_FLAG": "  ", "T_COUNT": "\t", "T_DEPTH": "", "T_PART_A": " "}
    assert load(_Sample, blanks) == load(_Sample, {}) == _Sample()


def test_values_are_stripped_then_parsed() -> None:
    env_ = {"T_NAME": " y ", "T_FLAG": "On", "T_COUNT": " 3", "T_PART_B": "2", "T_DEPTH": "2"}
    assert load(_Sample, env_) == _Sample(
        name="y", flag=True, count=3, parts={"b": 2}, inner=_Inner(2)
    )


def test_a_given_value_wins_and_its_variable_is_not_read() -> None:
    sample = load(_Sample, {"T_COUNT": "lots", "T_CHECKED": "0"}, {"count": 2, "checked_count": 3})
    assert (sample.count, sample.checked) == (2, 3)


def test_keywords_without_a_variable_pass_through() -> None:
    assert load(_Sample, {}, {"untouched": 5}).untouched == 5
    with pytest.raises(TypeError):
        load(_Sample, {}, {"no_such_field": 1})


@pytest.mark.parametrize(
    ("env_", "message", "option"),
    [
        ({"T_FLAG": "maybe"}, "T_FLAG='maybe' is not a boolean. Use 'true' or 'false'.", None),
        ({"T_COUNT": " lots "}, "T_COUNT=' lots ' is not a whole number.", None),
        (
            {"T_COUNT": " 4"},
            "T_COUNT=' 4' is invalid: count must be at most 3. Received: 4",
            "count",
        ),
        ({"T_CHECKED": "0"}, "T_CHECKED='0' must be at least 1.", None),
        ({"T_PART_B": "x"}, "T_PART_B='x' is not a whole number.", None),
        ({"T_DEPTH": "9"}, "T_DEPTH='9' is invalid: depth must be at most 3. Received: 9", "depth"),
    ],
)
def test_a_bad_variable_is_named_with_its_value_as_written(
    env_: dict[str, str], message: str, option: str | None
) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        load(_Sample, env_)
    (variable, raw), *_ = env_.items()
    assert str(caught.value) == message
    assert (caught.value.variable, caught.value.value, caught.value.option) == (
        variable,
        raw,
        option,
    )


def test_a_bad_given_value_is_named_as_given() -> None:
    with pytest.raises(InvalidOptionError) as caught:
        load(_Sample, {}, {"checked_count": 0})
    assert str(caught.value) == "checked_count=0 must be at least 1."
    assert (caught.value.option, caught.value.variable) == ("checked_count", None)
    with pytest.raises(InvalidOptionError) as caught:
        load(_Sample, {"T_COUNT": "2"}, {"inner": _Inner(), "count": 5})
    assert str(caught.value) == "count must be at most 3. Received: 5"
    assert caught.value.variable is None


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("12345", "T_TOKEN is invalid: token must be short (the value is not shown)."),
        ("not-a-number", "T_TOKEN is not a whole number."),
    ],
)
def test_a_secret_is_never_quoted(raw: str, message: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        load(_Sample, {"T_TOKEN": raw})
    assert str(caught.value) == message
    assert raw not in repr(caught.value.value)
    assert caught.value.variable == "T_TOKEN"


@pytest.mark.parametrize(
    ("text", "expected"),
    [("a, b,,c", ("a", "b", "c")), (" , ,", ()), ("", ()), ("one", ("one",))],
)
def test_split_names(text: str, expected: tuple[str, ...]) -> None:
    assert split_names(text) == expected


# --- navai serve's settings ---------------------------------------------------------------


def test_serve_settings_defaults_flags_and_variables() -> None:
    assert ServeSettings.from_env({}) == ServeSettings(
        access_log=True, strict=False, log_level="info", log_format="text", demo=False
    )
    env_ = {"NAVAI_LOG_LEVEL": "DEBUG", "NAVAI_STRICT": "yes", "NAVAI_ACCESS_LOG": "off"}
    read = ServeSettings.from_env(env_, log_level=None, strict=False)
    assert (read.log_level, read.strict, read.access_log) == ("debug", False, False)
    assert ServeSettings.from_env({"NAVAI_LOG_FORMAT": " "}).log_format == "text"


@pytest.mark.parametrize(
    ("variable", "raw", "message"),
    [
        (
            "NAVAI_LOG_LEVEL",
            "loud",
            (
                "NAVAI_LOG_LEVEL='loud' is not a log level. "
                "Use one of debug, info, warning, error, critical."
            ),
        ),
        (
            "NAVAI_LOG_FORMAT",
            "xml",
            "NAVAI_LOG_FORMAT='xml' is not a log format. Use 'text' or 'json'.",
        ),
        ("NAVAI_DEMO", "perhaps", "NAVAI_DEMO='perhaps' is not a boolean. Use 'true' or 'false'."),
    ],
)
def test_bad_serve_variables(variable: str, raw: str, message: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        ServeSettings.from_env({variable: raw})
    assert str(caught.value) == message


def test_load_navai_functions_documents_every_variable_it_reads() -> None:
    documented = set(re.findall(r"\bNAVAI_[A-Z0-9_]+", load_navai_functions.__doc__ or ""))
    assert documented == {variable for variable, _ in variables(_Settings)}

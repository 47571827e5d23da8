"""Settings: environment variables, explicit arguments, and refusing bad values."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from navai_core import NavaiFunctionRegistry, load_navai_functions
from navai_core.exceptions import InvalidOptionError


def test_defaults(tree, base, monkeypatch):
    tree({"src/ai/functions-modules/a.py": "def a1():\n    return 1\n"})
    monkeypatch.chdir(base)
    with load_navai_functions(env={}) as registry:
        assert registry.base_dir == os.path.realpath(base)
        assert registry.folders is None
        assert registry.timeout_seconds == 30.0
        assert registry.require_decorator is False
        assert registry.mask_errors is False
        assert registry.max_concurrency == 32
        assert registry.names == ["a1"]


def test_os_environ_is_the_default_env(tree, base, monkeypatch):
    tree({"tools/a.py": "def a1():\n    return 1\n"})
    monkeypatch.setenv("NAVAI_FUNCTIONS_BASE_DIR", str(base))
    monkeypatch.setenv("NAVAI_FUNCTIONS_FOLDERS", "tools")
    monkeypatch.setenv("NAVAI_FUNCTION_TIMEOUT", "2.5")
    with load_navai_functions() as registry:
        assert registry.names == ["a1"]
        assert registry.timeout_seconds == 2.5


def test_env_supplies_every_setting(tree, base):
    tree({"tools/a.py": "def a1():\n    return 1\n"})
    env = {
        "NAVAI_FUNCTIONS_BASE_DIR": str(base),
        "NAVAI_FUNCTIONS_FOLDERS": " tools , ,",
        "NAVAI_FUNCTION_TIMEOUT": "7",
        "NAVAI_FUNCTIONS_REQUIRE_DECORATOR": "false",
        "NAVAI_MASK_FUNCTION_ERRORS": "true",
        "NAVAI_MAX_CONCURRENT_FUNCTIONS": "3",
    }
    with load_navai_functions(env=env) as registry:
        assert registry.folders == ("tools",)
        assert (registry.timeout_seconds, registry.mask_errors, registry.max_concurrency) == (
            7.0,
            True,
            3,
        )
        assert registry.names == ["a1"]


def test_explicit_arguments_win_over_env(tree, base, tmp_path):
    tree({"tools/a.py": "def a1():\n    return 1\n", "other/b.py": "def b1():\n    return 1\n"})
    env = {
        "NAVAI_FUNCTIONS_BASE_DIR": str(tmp_path),
        "NAVAI_FUNCTIONS_FOLDERS": "tools",
        "NAVAI_FUNCTION_TIMEOUT": "abc",
        "NAVAI_FUNCTIONS_REQUIRE_DECORATOR": "maybe",
        "NAVAI_MASK_FUNCTION_ERRORS": "maybe",
        "NAVAI_MAX_CONCURRENT_FUNCTIONS": "many",
    }
    with load_navai_functions(
        base,
        "other",
        env,
        timeout_seconds=1,
        require_decorator=False,
        mask_errors=False,
        max_concurrency=1,
    ) as registry:
        assert registry.names == ["b1"]
        assert registry.timeout_seconds == 1.0


def test_blank_env_values_count_as_unset(tree, base):
    tree({"src/ai/functions-modules/a.py": "def a1():\n    return 1\n"})
    env = {
        "NAVAI_FUNCTIONS_FOLDERS": "  ",
        "NAVAI_FUNCTION_TIMEOUT": "",
        "NAVAI_MAX_CONCURRENT_FUNCTIONS": " ",
    }
    with load_navai_functions(base, env=env) as registry:
        assert registry.names == ["a1"]
        assert registry.timeout_seconds == 30.0


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("NAVAI_FUNCTION_TIMEOUT", "abc", "NAVAI_FUNCTION_TIMEOUT='abc' is not a number."),
        (
            "NAVAI_FUNCTION_TIMEOUT",
            "0",
            "NAVAI_FUNCTION_TIMEOUT='0' must be a number of seconds above 0.",
        ),
        (
            "NAVAI_FUNCTION_TIMEOUT",
            "-3",
            "NAVAI_FUNCTION_TIMEOUT='-3' must be a number of seconds above 0.",
        ),
        ("NAVAI_FUNCTION_TIMEOUT", "inf", "NAVAI_FUNCTION_TIMEOUT='inf' is not a number."),
        (
            "NAVAI_FUNCTIONS_REQUIRE_DECORATOR",
            "maybe",
            "NAVAI_FUNCTIONS_REQUIRE_DECORATOR='maybe' is not a boolean.",
        ),
        (
            "NAVAI_MASK_FUNCTION_ERRORS",
            "sure",
            "NAVAI_MASK_FUNCTION_ERRORS='sure' is not a boolean.",
        ),
        (
            "NAVAI_MAX_CONCURRENT_FUNCTIONS",
            "many",
            "NAVAI_MAX_CONCURRENT_FUNCTIONS='many' is not a whole number.",
        ),
        (
            "NAVAI_MAX_CONCURRENT_FUNCTIONS",
            "0",
            "NAVAI_MAX_CONCURRENT_FUNCTIONS='0' must be at least 1.",
        ),
        (
            "NAVAI_MAX_CONCURRENT_FUNCTIONS",
            "2.5",
            "NAVAI_MAX_CONCURRENT_FUNCTIONS='2.5' is not a whole number.",
        ),
    ],
)
def test_bad_env_values_name_the_variable(base, variable, value, message):
    with pytest.raises(InvalidOptionError) as caught:
        load_navai_functions(base, env={variable: value})
    assert str(caught.value).startswith(message)
    assert caught.value.variable == variable
    assert caught.value.value == value
    assert caught.value.status_code == 400


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"timeout_seconds": 0}, "timeout_seconds=0 must be a number of seconds above 0."),
        ({"timeout_seconds": "5"}, "timeout_seconds='5' is not a number of seconds."),
        ({"timeout_seconds": True}, "timeout_seconds=True is not a number of seconds."),
        (
            {"timeout_seconds": float("nan")},
            "timeout_seconds=nan must be a number of seconds above 0.",
        ),
        ({"max_concurrency": 0}, "max_concurrency=0 must be at least 1."),
        ({"max_concurrency": 2.0}, "max_concurrency=2.0 is not a whole number."),
        ({"require_decorator": "yes"}, "require_decorator='yes' must be True or False."),
        ({"mask_errors": 1}, "mask_errors=1 must be True or False."),
        ({"folders": 5}, "folders=5 must be a comma-separated string or a list of strings."),
        (
            {"folders": ["a", 5]},
            "folders=['a', 5] must be a comma-separated string or a list of strings.",
        ),
        ({"base_dir": 5}, "base_dir=5 must be a path."),
    ],
)
def test_bad_arguments_name_the_argument(base, kwargs, message):
    kwargs.setdefault("base_dir", base)
    with pytest.raises(InvalidOptionError) as caught:
        load_navai_functions(env={}, **kwargs)
    assert str(caught.value) == message
    assert caught.value.option == next(iter(kwargs))


def test_registry_constructor_takes_explicit_values(tree, base):
    tree({"src/ai/functions-modules/a.py": "def a1():\n    return 1\n"})
    with NavaiFunctionRegistry(base_dir=Path(base)) as registry:
        assert registry.names == ["a1"]
    with pytest.raises(InvalidOptionError, match="max_concurrency"):
        NavaiFunctionRegistry(base_dir=base, max_concurrency=-1)


def test_relative_base_dir_from_env(tree, base, monkeypatch):
    tree({"tools/a.py": "def a1():\n    return 1\n"})
    monkeypatch.chdir(base.parent)
    with load_navai_functions(
        env={"NAVAI_FUNCTIONS_BASE_DIR": base.name, "NAVAI_FUNCTIONS_FOLDERS": "tools"}
    ) as registry:
        assert registry.base_dir == os.path.realpath(base)
        assert registry.names == ["a1"]

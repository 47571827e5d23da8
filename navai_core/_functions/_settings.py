"""The functions' settings: each one's check and variable, read by the shared env loader.

A value given in code and one read from a variable pass the same check; a refused one
is named as it was given: ``timeout_seconds=0 must be ...`` or
``NAVAI_FUNCTION_TIMEOUT='0' must be ...``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from navai_core._config._env import (
    BadValueError,
    boolean,
    env,
    load,
    number,
    split_names,
    whole,
)

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024


def _check_timeout(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        msg = "is not a number of seconds."
        raise BadValueError(msg)
    if not math.isfinite(value) or value <= 0:
        msg = "must be a number of seconds above 0."
        raise BadValueError(msg)
    return float(value)


def _check_count(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        msg = "is not a whole number."
        raise BadValueError(msg)
    if value < 1:
        msg = "must be at least 1."
        raise BadValueError(msg)
    return value


def _check_bool(value: object) -> bool:
    if not isinstance(value, bool):
        msg = "must be True or False."
        raise BadValueError(msg)
    return value


def _check_folders(value: object) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        tokens = split_names(value)
    elif isinstance(value, Sequence) and all(isinstance(token, str) for token in value):
        tokens = tuple(token.strip() for token in value if token.strip())
    else:
        msg = "must be a comma-separated string or a list of strings."
        raise BadValueError(msg)
    return tokens or None


def _check_agents(value: object) -> tuple[str, ...] | None:
    agents = _check_folders(value)
    for agent in agents or ():
        if "/" in agent or "\\" in agent or agent in (".", ".."):
            msg = f"{agent!r} is not a folder name (one path segment)."
            raise BadValueError(msg)
    return agents


def _check_base_dir(value: object) -> str:
    if not isinstance(value, (str, os.PathLike)):
        msg = "must be a path."
        raise BadValueError(msg)
    path = os.fspath(value)
    if not isinstance(path, str) or not Path(path).is_dir():
        msg = "is not a directory."
        raise BadValueError(msg)
    return os.path.realpath(path)


def _working_dir() -> str:
    return _check_base_dir(str(Path.cwd()))


@attrs.frozen(kw_only=True)
class _Settings:
    """A registry's settings, checked; ``load(_Settings, env, given)`` reads them."""

    base_dir: str = attrs.field(
        factory=_working_dir, metadata=env("NAVAI_FUNCTIONS_BASE_DIR", check=_check_base_dir)
    )
    folders: tuple[str, ...] | None = attrs.field(
        default=None, metadata=env("NAVAI_FUNCTIONS_FOLDERS", split_names, check=_check_folders)
    )
    agents: tuple[str, ...] | None = attrs.field(
        default=None,
        metadata=env(
            "NAVAI_AGENTS_FOLDERS", split_names, check=_check_agents, option="agents_folders"
        ),
    )
    exclude: tuple[str, ...] | None = attrs.field(
        default=None, metadata=env("NAVAI_FUNCTIONS_EXCLUDE", split_names, check=_check_folders)
    )
    timeout_seconds: float = attrs.field(
        default=DEFAULT_TIMEOUT_SECONDS,
        metadata=env("NAVAI_FUNCTION_TIMEOUT", number, check=_check_timeout),
    )
    require_decorator: bool = attrs.field(
        default=False,
        metadata=env("NAVAI_FUNCTIONS_REQUIRE_DECORATOR", boolean, check=_check_bool),
    )
    mask_errors: bool = attrs.field(
        default=False, metadata=env("NAVAI_MASK_FUNCTION_ERRORS", boolean, check=_check_bool)
    )
    max_concurrency: int = attrs.field(
        default=DEFAULT_MAX_CONCURRENCY,
        metadata=env("NAVAI_MAX_CONCURRENT_FUNCTIONS", whole, check=_check_count),
    )
    max_result_bytes: int = attrs.field(
        default=DEFAULT_MAX_RESULT_BYTES,
        metadata=env("NAVAI_MAX_RESULT_BYTES", whole, check=_check_count),
    )


def checked_settings(base_dir: str | os.PathLike[str] | None, **arguments: object) -> _Settings:
    """The registry constructor's settings: its arguments checked, no variable read."""
    given = arguments if base_dir is None else {"base_dir": base_dir, **arguments}
    return load(_Settings, {}, given)


def registry_arguments(env: Mapping[str, str] | None, **arguments: object) -> dict[str, Any]:
    """``load_navai_functions``' registry arguments: those given (not None), env for the rest.

    Raises:
        InvalidOptionError: A value that cannot be used, named as given (the argument,
            or the variable and its value).
    """
    given = {name: value for name, value in arguments.items() if value is not None}
    keywords = attrs.asdict(load(_Settings, env, given), recurse=False)
    keywords["agents_folders"] = keywords.pop("agents")
    return keywords

"""The functions' settings: checking each one, and reading them from the environment."""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import attrs

from navai_core._config._env import env_bool, env_float, env_int, env_list, env_str
from navai_core.exceptions import InvalidOptionError

DEFAULT_TIMEOUT_SECONDS = 30.0
DEFAULT_MAX_CONCURRENCY = 32
DEFAULT_MAX_RESULT_BYTES = 4 * 1024 * 1024


@attrs.frozen
class _Settings:
    base_dir: str
    folders: tuple[str, ...] | None
    agents: tuple[str, ...] | None
    exclude: tuple[str, ...] | None
    timeout_seconds: float
    require_decorator: bool
    mask_errors: bool
    max_concurrency: int
    max_result_bytes: int


def _invalid(source: str, value: object, problem: str) -> InvalidOptionError:
    is_variable = source.isupper()
    return InvalidOptionError(
        f"{source}={value!r} {problem}",
        option=None if is_variable else source,
        variable=source if is_variable else None,
        value=value,
    )


def _check_timeout(value: object, source: str, raw: str | None = None) -> float:
    shown = value if raw is None else raw
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _invalid(source, shown, "is not a number of seconds.")
    if not math.isfinite(value) or value <= 0:
        raise _invalid(source, shown, "must be a number of seconds above 0.")
    return float(value)


def _check_concurrency(value: object, source: str, raw: str | None = None) -> int:
    shown = value if raw is None else raw
    if isinstance(value, bool) or not isinstance(value, int):
        raise _invalid(source, shown, "is not a whole number.")
    if value < 1:
        raise _invalid(source, shown, "must be at least 1.")
    return value


def _check_result_bytes(value: object, source: str, raw: str | None = None) -> int:
    return _check_concurrency(value, source, raw)


def _check_bool(value: object, source: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(source, value, "must be True or False.")
    return value


def _check_folders(value: object, source: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):
        tokens = value.split(",")
    elif isinstance(value, Sequence) and all(isinstance(token, str) for token in value):
        tokens = list(value)
    else:
        raise _invalid(source, value, "must be a comma-separated string or a list of strings.")
    cleaned = tuple(token.strip() for token in tokens if token.strip())
    return cleaned or None


def _check_agents(value: object, source: str) -> tuple[str, ...] | None:
    agents = _check_folders(value, source)
    for agent in agents or ():
        if "/" in agent or "\\" in agent or agent in (".", ".."):
            raise _invalid(source, value, f"{agent!r} is not a folder name (one path segment).")
    return agents


def _check_base_dir(value: object, source: str) -> str:
    if not isinstance(value, (str, os.PathLike)):
        raise _invalid(source, value, "must be a path.")
    path = os.fspath(value)
    if not isinstance(path, str) or not Path(path).is_dir():
        raise _invalid(source, value, "is not a directory.")
    return os.path.realpath(path)


def registry_arguments(
    base_dir: str | os.PathLike[str] | None = None,
    folders: str | Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    agents_folders: str | Sequence[str] | None = None,
    exclude: str | Sequence[str] | None = None,
    timeout_seconds: float | None = None,
    require_decorator: bool | None = None,
    mask_errors: bool | None = None,
    max_concurrency: int | None = None,
    max_result_bytes: int | None = None,
) -> dict[str, Any]:
    """The registry's keyword arguments: the explicit ones, the environment for the rest."""
    env = os.environ if env is None else env
    if base_dir is None:
        from_env = env_str(env, "NAVAI_FUNCTIONS_BASE_DIR")
        base = (
            _check_base_dir(from_env, "NAVAI_FUNCTIONS_BASE_DIR") if from_env else str(Path.cwd())
        )
    else:
        base = _check_base_dir(base_dir, "base_dir")
    tokens = (
        _check_folders(folders, "folders")
        if folders is not None
        else env_list(env, "NAVAI_FUNCTIONS_FOLDERS")
    )
    agents = (
        _check_agents(agents_folders, "agents_folders")
        if agents_folders is not None
        else _check_agents(env_str(env, "NAVAI_AGENTS_FOLDERS"), "NAVAI_AGENTS_FOLDERS")
    )
    excludes = (
        _check_folders(exclude, "exclude")
        if exclude is not None
        else env_list(env, "NAVAI_FUNCTIONS_EXCLUDE")
    )
    if timeout_seconds is None:
        timeout_seconds = env_float(env, "NAVAI_FUNCTION_TIMEOUT")
        if timeout_seconds is not None:
            raw = env_str(env, "NAVAI_FUNCTION_TIMEOUT")
            _check_timeout(timeout_seconds, "NAVAI_FUNCTION_TIMEOUT", raw)
    if require_decorator is None:
        require_decorator = env_bool(env, "NAVAI_FUNCTIONS_REQUIRE_DECORATOR")
    if mask_errors is None:
        mask_errors = env_bool(env, "NAVAI_MASK_FUNCTION_ERRORS")
    if max_concurrency is None:
        max_concurrency = env_int(env, "NAVAI_MAX_CONCURRENT_FUNCTIONS")
        if max_concurrency is not None:
            raw = env_str(env, "NAVAI_MAX_CONCURRENT_FUNCTIONS")
            _check_concurrency(max_concurrency, "NAVAI_MAX_CONCURRENT_FUNCTIONS", raw)
    if max_result_bytes is None:
        max_result_bytes = env_int(env, "NAVAI_MAX_RESULT_BYTES")
        if max_result_bytes is not None:
            raw = env_str(env, "NAVAI_MAX_RESULT_BYTES")
            _check_result_bytes(max_result_bytes, "NAVAI_MAX_RESULT_BYTES", raw)
    return {
        "base_dir": base,
        "folders": tokens,
        "agents_folders": agents,
        "exclude": excludes,
        "timeout_seconds": DEFAULT_TIMEOUT_SECONDS if timeout_seconds is None else timeout_seconds,
        "require_decorator": False if require_decorator is None else require_decorator,
        "mask_errors": False if mask_errors is None else mask_errors,
        "max_concurrency": DEFAULT_MAX_CONCURRENCY if max_concurrency is None else max_concurrency,
        "max_result_bytes": DEFAULT_MAX_RESULT_BYTES
        if max_result_bytes is None
        else max_result_bytes,
    }

"""Reading settings from environment mappings.

One rule for every variable: a blank string counts as unset, and a value that cannot
be used is an :class:`~navai_core.exceptions.InvalidOptionError` naming the variable
and the value, never a silent default.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from navai_core.exceptions import InvalidOptionError

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})


def env_str(env: Mapping[str, str], name: str) -> str | None:
    """The variable's value, stripped; ``None`` when it is missing or blank."""
    raw = env.get(name)
    if raw is None:
        return None
    value = raw.strip()
    return value or None


def env_bool(env: Mapping[str, str], name: str) -> bool | None:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``), any case."""
    value = env_str(env, name)
    if value is None:
        return None
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    msg = f"{name}={value!r} is not a boolean. Use 'true' or 'false'."
    raise InvalidOptionError(msg, variable=name, value=value)


def env_int(env: Mapping[str, str], name: str) -> int | None:
    """A whole number, such as ``600``."""
    value = env_str(env, name)
    if value is None:
        return None
    try:
        return int(value, 10)
    except ValueError:
        msg = f"{name}={value!r} is not a whole number."
        raise InvalidOptionError(msg, variable=name, value=value) from None


def env_float(env: Mapping[str, str], name: str) -> float | None:
    """A finite number of seconds or similar, such as ``10`` or ``2.5``."""
    value = env_str(env, name)
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not math.isfinite(number):
        msg = f"{name}={value!r} is not a number."
        raise InvalidOptionError(msg, variable=name, value=value)
    return number


def env_list(env: Mapping[str, str], name: str) -> tuple[str, ...] | None:
    """A comma-separated list; blank items are dropped. ``None`` when unset."""
    value = env_str(env, name)
    if value is None:
        return None
    return tuple(item.strip() for item in value.split(",") if item.strip())


def from_env(
    error: InvalidOptionError, variable: str, env: Mapping[str, str]
) -> InvalidOptionError:
    """Re-word an option's validation error so it names the variable and its raw value."""
    raw = env.get(variable, error.value)
    msg = f"{variable}={raw!r} is invalid: {error.message}"
    return InvalidOptionError(msg, option=error.option, variable=variable, value=raw)

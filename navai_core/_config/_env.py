"""Reading settings from the environment: each variable declared once, on its field.

A settings class is an attrs class whose fields name their variables in metadata
(:func:`env`, :func:`env_each`, :func:`env_nested`); :func:`load` builds it from the
values given in code and the environment for the rest. The options, the server config,
the functions' settings and ``navai serve`` all read their variables this way, so
the rules are the same everywhere:

- Values are stripped; a blank one (empty, or only spaces) counts as unset.
- A value given in code wins: its variable is not read at all.
- A value that cannot be used is an :class:`~navai_core.exceptions.InvalidOptionError`
  when the class is built, never a silent default. Its message names the variable and
  the value as written, then what is wrong: ``NAME='abc' is not a whole number.`` when
  the text does not parse, ``NAME='5' is invalid: <the option's own message>`` when the
  option refuses the value. A secret's value is never quoted.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any, Final, TypeVar

import attrs

from navai_core.exceptions import InvalidOptionError

__all__ = [
    "BadValueError",
    "boolean",
    "env",
    "env_each",
    "env_nested",
    "env_str",
    "load",
    "number",
    "split_names",
    "text",
    "variable_of",
    "variables",
    "whole",
]

T = TypeVar("T")

_KEY: Final = "navai.env"
_TRUE: Final = frozenset({"1", "true", "yes", "on"})
_FALSE: Final = frozenset({"0", "false", "no", "off"})


class BadValueError(ValueError):
    """What is wrong with a value, worded to follow ``NAME=value``: ``is not a number.``."""


# --- parsers: stripped, non-blank text in, a value out, or a BadValueError ------------------------


def text(value: str) -> str:
    """Any text, as it is."""
    return value


def boolean(value: str) -> bool:
    """``true``/``false`` (also ``1``/``0``, ``yes``/``no``, ``on``/``off``), any case."""
    lowered = value.lower()
    if lowered in _TRUE:
        return True
    if lowered in _FALSE:
        return False
    msg = "is not a boolean. Use 'true' or 'false'."
    raise BadValueError(msg)


def whole(value: str) -> int:
    """A whole number, such as ``600``."""
    try:
        return int(value, 10)
    except ValueError:
        msg = "is not a whole number."
        raise BadValueError(msg) from None


def number(value: str) -> float:
    """A finite number, such as ``10`` or ``2.5``."""
    try:
        parsed = float(value)
    except ValueError:
        parsed = math.nan
    if not math.isfinite(parsed):
        msg = "is not a number."
        raise BadValueError(msg)
    return parsed


def split_names(value: str) -> tuple[str, ...]:
    """``'a, b,,c'`` as ``('a', 'b', 'c')``: split at commas, stripped, blanks dropped.

    The one comma-separated list of every setting; only commas is an empty list.
    """
    return tuple(item for part in value.split(",") if (item := part.strip()))


# --- declaring a field's variables --------------------------------------------------------


@attrs.frozen
class _Variable:
    name: str
    parse: Callable[[str], Any]
    # Run on the value wherever it comes from; its BadValueError follows `name=value`.
    check: Callable[[Any], Any] | None
    # The keyword in code, when it is not the field's name.
    option: str | None
    secret: bool


@attrs.frozen
class _Each:
    """One variable per key of a mapping field."""

    names: Mapping[str, str]
    parse: Callable[[str], Any]


@attrs.frozen
class _Nested:
    """A field holding an attrs class whose own fields have variables."""

    cls: type


def env(
    name: str,
    parse: Callable[[str], Any] = text,
    *,
    check: Callable[[Any], Any] | None = None,
    option: str | None = None,
    secret: bool = False,
) -> dict[str, object]:
    """Field metadata: the field is read from variable ``name``.

    Args:
        name: The variable.
        parse: Turns the stripped text into the field's value; raises :class:`BadValueError`
            for text that does not parse, or ``InvalidOptionError`` (the option's own
            message) for a value the option refuses.
        check: Checks and normalizes the value, given in code or read from ``name``,
            before the class is built; raises :class:`BadValueError`. For classes whose
            checks are not attrs validators.
        option: The keyword the value is given as in code, if not the field's name.
        secret: Never quote the value in a message.
    """
    return {_KEY: _Variable(name, parse, check, option, secret)}


def env_each(variables: Mapping[str, str], parse: Callable[[str], Any]) -> dict[str, object]:
    """Field metadata: a mapping field, one variable per key; unset keys are left out."""
    return {_KEY: _Each(variables, parse)}


def env_nested(cls: type) -> dict[str, object]:
    """Field metadata: the field is a ``cls``, built from its fields' own variables."""
    return {_KEY: _Nested(cls)}


def variables(cls: type) -> Iterator[tuple[str, str]]:
    """Every ``(variable, field)`` that ``cls`` reads, nested classes included, in order."""
    for field in attrs.fields(cls):
        spec = field.metadata.get(_KEY)
        if isinstance(spec, _Variable):
            yield spec.name, field.name
        elif isinstance(spec, _Each):
            for variable in spec.names.values():
                yield variable, field.name
        elif isinstance(spec, _Nested):
            yield from variables(spec.cls)


def variable_of(cls: type, field: str) -> str:
    """The variable that the field ``field`` of ``cls`` is read from."""
    spec = attrs.fields_dict(cls)[field].metadata[_KEY]
    if not isinstance(spec, _Variable):  # pragma: no cover - asked only of plain fields
        msg = f"{cls.__name__}.{field} is not read from one variable."
        raise TypeError(msg)
    return spec.name


# --- reading ------------------------------------------------------------------------------


def env_str(source: Mapping[str, str], name: str) -> str | None:
    """The variable's value, stripped; ``None`` when it is missing or blank."""
    raw = source.get(name)
    return (raw.strip() or None) if raw is not None else None


def load(
    cls: type[T], env: Mapping[str, str] | None = None, given: Mapping[str, Any] | None = None
) -> T:
    """Build ``cls`` from ``given`` (keyword arguments in code) and ``env`` for the rest.

    Args:
        cls: An attrs class whose fields declare their variables.
        env: The variables; ``os.environ`` when None.
        given: Values from code, by keyword; each wins over its variable. Keywords
            that are not fields are passed on as they are.

    Raises:
        InvalidOptionError: A value that cannot be used; one read from a variable names
            the variable and its value as written.
    """
    source: Mapping[str, str] = os.environ if env is None else env
    read: dict[str, tuple[_Variable, str]] = {}  # field -> the variable its value came from
    try:
        return cls(**_arguments(cls, source, given or {}, read))
    except InvalidOptionError as error:
        if error.variable is not None or error.option not in read:
            raise  # names its variable already, or is about values given in code
        raise _refused(error, *read[error.option]) from None


def _arguments(
    cls: type,
    source: Mapping[str, str],
    given: Mapping[str, Any],
    read: dict[str, tuple[_Variable, str]],
) -> dict[str, Any]:
    arguments = dict(given)
    for field in attrs.fields(cls):
        spec = field.metadata.get(_KEY)
        keyword = spec.option if isinstance(spec, _Variable) and spec.option else field.alias
        if keyword in given:
            value = arguments.pop(keyword)
            if isinstance(spec, _Variable) and spec.check is not None:
                value = _checked(spec.check, value, keyword)
            arguments[field.alias] = value
        elif isinstance(spec, _Variable):
            raw = source.get(spec.name)
            if raw is not None and raw.strip():
                read[field.name] = (spec, raw)  # attrs validators name the field
                arguments[field.alias] = _parsed(spec, raw)
        elif isinstance(spec, _Each):
            found = {
                key: _parsed(_Variable(name, spec.parse, None, None, secret=False), raw)
                for key, name in spec.names.items()
                if (raw := source.get(name)) is not None and raw.strip()
            }
            if found:
                arguments[field.alias] = found
        elif isinstance(spec, _Nested):
            nested = _arguments(spec.cls, source, {}, read)
            if nested:
                arguments[field.alias] = spec.cls(**nested)
    return arguments


def _checked(check: Callable[[Any], Any], value: object, keyword: str) -> Any:
    try:
        return check(value)
    except BadValueError as problem:
        msg = f"{keyword}={value!r} {problem}"
        raise InvalidOptionError(msg, option=keyword, value=value) from None


def _parsed(spec: _Variable, raw: str) -> Any:
    try:
        value = spec.parse(raw.strip())
        return value if spec.check is None else spec.check(value)
    except BadValueError as problem:
        shown = spec.name if spec.secret else f"{spec.name}={raw!r}"
        msg = f"{shown} {problem}"
        raise InvalidOptionError(
            msg, variable=spec.name, value=None if spec.secret else raw
        ) from None
    except InvalidOptionError as error:
        if error.variable is not None:
            raise
        raise _refused(error, spec, raw) from None


def _refused(error: InvalidOptionError, spec: _Variable, raw: str) -> InvalidOptionError:
    """The option's own message for a value read from a variable, naming the variable."""
    if spec.secret:  # the option's message shows the value only as it may be shown
        msg = f"{spec.name} is invalid: {error.message}"
        return InvalidOptionError(msg, option=error.option, variable=spec.name, value=error.value)
    msg = f"{spec.name}={raw!r} is invalid: {error.message}"
    return InvalidOptionError(msg, option=error.option, variable=spec.name, value=raw)

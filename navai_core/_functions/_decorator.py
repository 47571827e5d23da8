"""``@navai_function``: opt a function, class or method in, and tune it."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, TypeVar, overload

import attrs

from navai_core._functions._naming import normalize_name
from navai_core.exceptions import InvalidOptionError

__all__ = ["META_ATTRIBUTE", "NavaiFunctionMeta", "get_meta", "navai_function"]

META_ATTRIBUTE = "__navai_function__"

_T = TypeVar("_T", bound=Callable[..., Any])


@attrs.frozen
class NavaiFunctionMeta:
    """What ``@navai_function`` recorded on the object it decorated.

    Attributes:
        name: The tool name to use instead of the Python name (already checked to
            normalise to something non-empty).
        description: The description to use instead of the docstring's summary.
        timeout: Seconds this tool may run, instead of the registry's default.
    """

    name: str | None = None
    description: str | None = None
    timeout: float | None = None


def get_meta(obj: object) -> NavaiFunctionMeta | None:
    """The decorator's metadata on ``obj`` (or on the function a static/class method wraps)."""
    target = getattr(obj, "__func__", obj)
    meta = getattr(target, META_ATTRIBUTE, None)
    return meta if isinstance(meta, NavaiFunctionMeta) else None


def _check(name: object, description: object, timeout: object) -> NavaiFunctionMeta:
    # Typed ``object``: decorator arguments are checked at run time, whatever the hints say.
    if name is not None and (not isinstance(name, str) or not normalize_name(name)):
        msg = (
            f"@navai_function(name={name!r}) is not a usable tool name: it needs at least "
            "one letter or digit."
        )
        raise InvalidOptionError(msg, option="name", value=name)
    if description is not None and not isinstance(description, str):
        msg = f"@navai_function(description={description!r}) must be a string."
        raise InvalidOptionError(msg, option="description", value=description)
    seconds: float | None = None
    if timeout is not None:
        if (
            isinstance(timeout, bool)
            or not isinstance(timeout, (int, float))
            or not math.isfinite(timeout)
            or timeout <= 0
        ):
            msg = f"@navai_function(timeout={timeout!r}) must be a number of seconds above 0."
            raise InvalidOptionError(msg, option="timeout", value=timeout)
        seconds = float(timeout)
    return NavaiFunctionMeta(name=name, description=description, timeout=seconds)


def _mark(obj: _T, meta: NavaiFunctionMeta) -> _T:
    # Mark, never wrap: the module keeps the very object it defined, so signatures,
    # type hints, pickling and direct calls in tests all behave as without NAVAI.
    target = getattr(obj, "__func__", obj)
    setattr(target, META_ATTRIBUTE, meta)
    return obj


@overload
def navai_function(obj: _T, /) -> _T: ...


@overload
def navai_function(
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> Callable[[_T], _T]: ...


def navai_function(
    obj: _T | None = None,
    /,
    *,
    name: str | None = None,
    description: str | None = None,
    timeout: float | None = None,
) -> _T | Callable[[_T], _T]:
    """Mark a function, class or method as a tool, optionally naming and tuning it.

    Without the decorator, public functions and classes are exposed anyway; it is needed
    only to override something, or when the registry requires it
    (``NAVAI_FUNCTIONS_REQUIRE_DECORATOR=true``), so that an unmarked helper never
    becomes a tool by accident. The object is returned unchanged (only an attribute is
    set), so it stays a plain function you can call and test.

    Usable bare (``@navai_function``) or with keywords::

        @navai_function(name="lookup_order", timeout=5)
        def find(order_id: str) -> dict: ...

    On a class, ``name`` replaces the class part of its tools' names
    (``{name}_{method}``) and ``timeout`` applies to all its methods; on a method, the
    keywords apply to that method's tool only (``name`` replaces the whole tool name).

    Args:
        obj: The function, class or method (when used bare).
        name: Tool name to use instead of the Python name; normalised to snake_case.
        description: Tool description to use instead of the docstring's summary.
        timeout: Seconds a call may take before it fails with a timeout, instead of
            ``NAVAI_FUNCTION_TIMEOUT``.

    Returns:
        ``obj`` itself, or a decorator that marks and returns its argument.

    Raises:
        InvalidOptionError: A keyword has a value NAVAI cannot use (raised at import
            time, so the module fails to load with a clear warning).
    """
    meta = _check(name, description, timeout)
    if obj is not None:
        return _mark(obj, meta)

    def decorate(target: _T) -> _T:
        return _mark(target, meta)

    return decorate

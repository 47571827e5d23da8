"""Call targets: a payload and a context in, one ready-to-run callable out.

A tool is either a function (the payload rules, then one validated call) or a class's
method (constructor arguments and method arguments, each validated). Either way the
result of :meth:`prepare` takes no arguments: running it is all that is left.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import attrs

from navai_core._functions._context import FunctionContext
from navai_core._functions._params import ToolParameters, split_payload
from navai_core.exceptions import InvalidArgumentsError

__all__ = ["FunctionTarget", "MethodTarget"]

_CLASS_KEYS = frozenset({"constructorArgs", "methodArgs"})


def _call_method(
    cls: type,
    attr: str,
    init: tuple[tuple[Any, ...], dict[str, Any]],
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Any:
    instance = cls(*init[0], **init[1])
    return getattr(instance, attr)(*args, **kwargs)


def _split_class_args(
    value: Any, key: str, function_name: str
) -> tuple[Sequence[Any], Mapping[str, Any]]:
    if value is None:
        return (), {}
    if isinstance(value, list):
        return value, {}
    if isinstance(value, dict):
        return (), value
    reason = "must be a list (by position), an object (by name) or null"
    raise InvalidArgumentsError(function_name, reason, parameter=key)


@attrs.frozen(eq=False)
class FunctionTarget:
    """A module-level function: the payload rules, then one validated call."""

    func: Callable[..., Any]
    spec: ToolParameters

    def prepare(
        self, payload: Mapping[str, Any] | None, context: FunctionContext | None, name: str
    ) -> Callable[[], Any]:
        """Validate ``payload`` and return the call to run.

        Raises:
            InvalidArgumentsError: The payload does not fit the parameters.
        """
        positional, keywords = split_payload(payload, self.spec, name)
        args, kwargs = self.spec.bind(positional, keywords, context, name)
        return functools.partial(self.func, *args, **kwargs)


@attrs.frozen(eq=False)
class MethodTarget:
    """A class's method: construct from ``constructorArgs``, call with ``methodArgs``.

    ``init`` is ``None`` for static and class methods, which need no instance.
    """

    owner: type
    attr: str
    spec: ToolParameters
    init: ToolParameters | None

    def prepare(
        self, payload: Mapping[str, Any] | None, context: FunctionContext | None, name: str
    ) -> Callable[[], Any]:
        """Validate ``payload`` and return the call to run (construction included).

        Raises:
            InvalidArgumentsError: The payload does not fit the parameters.
        """
        payload = payload or {}
        unknown = [str(key) for key in payload if key not in _CLASS_KEYS]
        if unknown:
            reason = (
                f"unknown key{'s' * (len(unknown) > 1)} {', '.join(unknown)}; a class method "
                'takes {"constructorArgs": ..., "methodArgs": ...}'
            )
            raise InvalidArgumentsError(name, reason)
        positional, keywords = _split_class_args(payload.get("methodArgs"), "methodArgs", name)
        args, kwargs = self.spec.bind(positional, keywords, context, name, "methodArgs.")
        init_args = payload.get("constructorArgs")
        if self.init is None:
            if init_args:
                reason = "this is a static or class method; it takes no constructor arguments"
                raise InvalidArgumentsError(name, reason, parameter="constructorArgs")
            return functools.partial(getattr(self.owner, self.attr), *args, **kwargs)
        positional, keywords = _split_class_args(init_args, "constructorArgs", name)
        init = self.init.bind(positional, keywords, context, name, "constructorArgs.")
        return functools.partial(_call_method, self.owner, self.attr, init, args, kwargs)

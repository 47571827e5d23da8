"""Fast paths for reading a plain function's parameters and type hints at discovery.

``inspect.signature`` and ``typing.get_type_hints`` are general and correspondingly
slow: the first builds a ``Signature`` object per function, the second compiles every
string annotation afresh (a ``ForwardRef`` each), and modules written with
``from __future__ import annotations`` have nothing but string annotations. Reading a
thousand tool modules, both show up in the loading time (see docs/performance.md). The
two functions here give the very same answer for plain functions and the common
annotations, and return ``None`` for everything else, where the standard library then
does the work, its results and errors applying unchanged.

The standard-library path is one switch away: set ``NAVAI_STDLIB_INTROSPECTION=1`` in
the environment before importing NAVAI, or set :data:`ENABLED` to ``False``. Tests run
both paths and compare them.
"""

from __future__ import annotations

import inspect
import os
import sys
import types
import typing
from typing import Any, ClassVar, Final, Generic, Literal, Protocol

__all__ = ["ENABLED", "Parameter", "plain_parameters", "plain_type_hints"]

# Whether discovery takes these fast paths; False: inspect.signature and get_type_hints.
ENABLED: bool = os.environ.get("NAVAI_STDLIB_INTROSPECTION", "").strip().lower() not in (
    "1",
    "true",
    "yes",
    "on",
)

_P = inspect.Parameter

Parameter = tuple[str, inspect._ParameterKind, Any]  # noqa: SLF001 - name, kind, default
_CO_VARARGS = inspect.CO_VARARGS
_CO_VARKEYWORDS = inspect.CO_VARKEYWORDS


def plain_parameters(func: Any) -> list[Parameter] | None:
    """The parameters of a plain function, read from its code object.

    The same parameters as ``inspect.signature`` gives, without building a
    ``Signature``; ``None`` for anything that is not a plain, undecorated function
    (``inspect.signature`` then does the work, following ``__wrapped__``).
    """
    if (
        not inspect.isfunction(func)
        or hasattr(func, "__wrapped__")
        or hasattr(func, "__signature__")
    ):
        return None
    code = func.__code__
    names = code.co_varnames
    count, positional_only, keyword_only = (
        code.co_argcount,
        code.co_posonlyargcount,
        code.co_kwonlyargcount,
    )
    defaults = func.__defaults__ or ()
    first_default = count - len(defaults)
    parameters: list[Parameter] = [
        (
            names[index],
            _P.POSITIONAL_ONLY if index < positional_only else _P.POSITIONAL_OR_KEYWORD,
            defaults[index - first_default] if index >= first_default else _P.empty,
        )
        for index in range(count)
    ]
    position = count + keyword_only
    if code.co_flags & _CO_VARARGS:
        parameters.append((names[position], _P.VAR_POSITIONAL, _P.empty))
        position += 1
    keyword_defaults = func.__kwdefaults__ or {}
    parameters.extend(
        (name, _P.KEYWORD_ONLY, keyword_defaults.get(name, _P.empty))
        for name in names[count : count + keyword_only]
    )
    if code.co_flags & _CO_VARKEYWORDS:
        parameters.append((names[position], _P.VAR_KEYWORD, _P.empty))
    return parameters


# Type hints without ``typing.get_type_hints`` where that is safe: the very same
# dictionary for the common cases, everything else handed back to ``get_type_hints``.
#
# Checked against ``get_type_hints`` on Python 3.11 to 3.13. On 3.10 it also adds
# ``Optional[...]`` for a parameter whose default is ``None``, and on 3.14 it is rebuilt
# on ``annotationlib`` (PEP 649): there it always does the work.
HINTS_ON_THIS_PYTHON = (3, 11) <= sys.version_info < (3, 14)

# Compiled string annotations, by their text. The same few texts ("str", "int | None",
# "dict[str, Any]") recur across modules; each is compiled once, then evaluated in each
# function's own globals. Cleared when full, so reloads over changing sources cannot
# grow it without bound.
_ANNOTATION_CODE: dict[str, types.CodeType] = {}
_ANNOTATION_CODE_LIMIT = 4096

# What ``typing._type_check`` rejects in a string annotation's value: ``ClassVar[int]``,
# ``Final[int]``, ``Generic[T]``, ``Protocol[T]`` (and bare ``Generic``/``Protocol``).
_INVALID_ORIGINS: tuple[Any, ...] = (ClassVar, Final, Generic, Protocol)

_UNSURE: Any = object()  # the fast path's "ask get_type_hints"


def _unresolved(hint: Any) -> bool:
    """Whether ``get_type_hints`` would still evaluate something inside ``hint``.

    That is a string or a ``ForwardRef``, itself or anywhere in a generic's arguments
    (``list["Item"]``) except inside ``Literal[...]``, whose strings are values; or an
    unpacked ``*tuple[...]``, which ``get_type_hints`` turns into ``Unpack[tuple[...]]``.
    """
    # The usual case first: a class holds nothing to evaluate (and from 3.11 on, a
    # generic such as ``list[int]`` is not an instance of ``type``).
    if isinstance(hint, type):
        return False
    if isinstance(hint, (str, typing.ForwardRef)):
        return True
    origin = typing.get_origin(hint)
    return origin is not None and origin is not Literal and _unresolved_inside(hint)


def _unresolved_inside(alias: Any) -> bool:
    """:func:`_unresolved` for a parameterised generic other than ``Literal``."""
    if getattr(alias, "__unpacked__", False):
        return True
    # ``__args__``, not ``get_args``: ``Annotated``'s metadata is never evaluated, and
    # ``Callable[[int], str]`` keeps its arguments flat there.
    for arg in getattr(alias, "__args__", ()):  # noqa: SIM110 - a loop: no generator
        if _unresolved(arg):
            return True
    return False


def _evaluate(text: str, namespace: dict[str, Any]) -> Any:
    """One string annotation, as ``get_type_hints`` evaluates it; ``_UNSURE`` if in doubt.

    ``get_type_hints`` compiles the text, evaluates it in the function's globals (as
    both globals and locals), turns ``None`` into ``NoneType`` and rejects what is not
    a type (``typing._type_check``). Only the values that check passes unchanged are
    returned here: classes and parameterised generics (``list[int]``, ``int | None``,
    ``Literal["a"]``, ``Annotated[str, ...]``). Anything else (a failed evaluation, a
    ``TypeVar``, a bare special form) is ``_UNSURE``, and ``get_type_hints`` decides.
    """
    code = _ANNOTATION_CODE.get(text)
    if code is None:
        try:
            # Compiled as ``ForwardRef`` does; ``dont_inherit``: no flags from this module.
            code = compile(text, "<string>", "eval", dont_inherit=True)
        except Exception:  # a SyntaxError, or "*Ts" (which typing rewrites first)
            return _UNSURE
        if len(_ANNOTATION_CODE) >= _ANNOTATION_CODE_LIMIT:
            _ANNOTATION_CODE.clear()
        _ANNOTATION_CODE[text] = code
    try:
        value = eval(code, namespace)  # noqa: S307 - what get_type_hints does with the text
    except Exception:  # NameError and the like: get_type_hints raises it, with its message
        return _UNSURE
    if value is None:
        return types.NoneType
    if isinstance(value, type):
        return _UNSURE if value is Generic or value is Protocol else value
    origin = typing.get_origin(value)
    if origin is Literal:  # the strings inside are values
        return value
    if origin is None or origin in _INVALID_ORIGINS or _unresolved_inside(value):
        return _UNSURE
    return value


def plain_type_hints(func: Any) -> dict[str, Any] | None:
    """``typing.get_type_hints(func, include_extras=True)``, faster; ``None`` if in doubt.

    ``func`` must be a plain function (no ``__wrapped__``, whose globals
    ``get_type_hints`` would take from the wrapped function). Annotations that are not
    strings are kept as they are (``None`` as ``NoneType``), as ``get_type_hints`` does,
    unless they hold a string or a ``ForwardRef`` to evaluate. Methods need nothing more:
    ``get_type_hints`` reads a function's annotations in its module's globals only,
    never in its class.
    """
    if not HINTS_ON_THIS_PYTHON:
        return None
    if getattr(func, "__type_params__", None):
        return None  # ``def f[T](x: "T")``: type parameters form a scope of their own
    namespace = func.__globals__
    hints: dict[str, Any] = {}
    # Every annotation, the return one too: one that cannot be resolved skips the tool.
    for name, annotation in func.__annotations__.items():
        if isinstance(annotation, str):
            value = _evaluate(annotation, namespace)
            if value is _UNSURE:
                return None
        elif annotation is None:
            value = types.NoneType
        elif _unresolved(annotation):
            return None
        else:
            value = annotation
        hints[name] = value
    return hints

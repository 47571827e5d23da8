"""A callable's parameters: one list of typed fields for both the schema and the validation.

Each parameter becomes one field: its name, its type hint, whether it is required and
its default. The same fields make the msgspec struct that validates payloads and the
JSON Schema the model reads (see ``_schema.py``), so the two cannot disagree.

Everything here is computed once, when the function is loaded (the struct on the first
call, since most listed tools are rarely called). The per-call path
(:meth:`ToolParameters.bind`) is a dictionary merge, one ``msgspec.convert`` and a dictionary
comprehension.
"""

from __future__ import annotations

import inspect
import itertools
import re
import types
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Annotated, Any, Union

import attrs
import msgspec

from navai_core._functions import _fast_introspection
from navai_core._functions._context import FunctionContext
from navai_core._functions._fast_introspection import Parameter, plain_parameters, plain_type_hints
from navai_core._functions._jsonready import to_json
from navai_core.exceptions import InvalidArgumentsError

__all__ = ["FieldInfo", "SkipToolError", "ToolParameters", "read_parameters", "split_payload"]

_EMPTY = inspect.Parameter.empty
_POSITIONAL_ONLY = inspect.Parameter.POSITIONAL_ONLY
_POSITIONAL_OR_KEYWORD = inspect.Parameter.POSITIONAL_OR_KEYWORD
_VAR_POSITIONAL = inspect.Parameter.VAR_POSITIONAL
_KEYWORD_ONLY = inspect.Parameter.KEYWORD_ONLY
_VAR_KEYWORD = inspect.Parameter.VAR_KEYWORD

_UNSET = msgspec.UNSET
_struct_ids = itertools.count(1)

# msgspec's messages look like "Expected `int`, got `str` - at `$.items[0].id`".
_ERROR = re.compile(r"^(?P<reason>.*?)(?: - at `\$(?P<path>[^`]*)`)?$", re.DOTALL)
_MISSING = re.compile(r"^Object missing required field `(?P<field>[^`]*)`$")
_UNKNOWN = re.compile(r"^Object contains unknown field `(?P<field>[^`]*)`$")


class SkipToolError(Exception):
    """A callable cannot become a tool; the message says why (it becomes a warning)."""


@attrs.frozen
class _Slot:
    """One parameter in call order, for assembling ``(args, kwargs)``."""

    name: str
    kind: inspect._ParameterKind
    default: Any
    is_context: bool


_NO_DEFAULT: Any = object()


@attrs.frozen
class FieldInfo:
    """One parameter as the model sees it.

    Attributes:
        name: The parameter's name (the JSON key).
        hint: The type to validate and describe (``list[T]`` for ``*args: T``).
        required: Whether the payload must give it.
        default: The default, JSON-ready, to show in the schema; ``_NO_DEFAULT`` when
            there is none to show.
    """

    name: str
    hint: Any
    required: bool
    default: Any = _NO_DEFAULT

    @property
    def has_default(self) -> bool:
        """Whether the schema shows a default."""
        return self.default is not _NO_DEFAULT


def _make_struct(fields: tuple[FieldInfo, ...]) -> type[msgspec.Struct]:
    # Optional fields default to UNSET (msgspec does not check defaults against the
    # type), so a parameter left out is left out of the call and the function's own
    # default (the very object, not a copy) applies.
    spec: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (field.name, field.hint) if field.required else (field.name, field.hint, _UNSET)
        for field in fields
    ]
    return msgspec.defstruct(
        f"navai_params_{next(_struct_ids)}", spec, kw_only=True, forbid_unknown_fields=True
    )


class ToolParameters:
    """How to validate a payload for one callable and turn it into call arguments.

    Attributes:
        field_info: The fields, in signature order: every named parameter and the
            ``*args`` parameter (as a list), but not the context or ``**kwargs``.
        fields: Their names: the names a payload may use.
        positional: Names that can be filled by position, in order (no context).
        var_positional: The ``*args`` parameter's name, if there is one.
        var_keyword: The ``**kwargs`` parameter's name, if there is one.
        var_keyword_type: The type of its values (``Any`` when not annotated).
        context_name: The parameter that receives the :class:`FunctionContext`.
        slots: Every parameter except ``*args``/``**kwargs``, in signature order.
        simple: Whether everything can be passed by keyword (no positional-only
            parameter and no ``*args``): the fast path.
    """

    __slots__ = (
        "_struct",
        "context_name",
        "field_info",
        "fields",
        "positional",
        "simple",
        "slots",
        "var_keyword",
        "var_keyword_type",
        "var_positional",
    )

    def __init__(
        self,
        *,
        field_info: tuple[FieldInfo, ...],
        positional: tuple[str, ...],
        var_positional: str | None,
        var_keyword: str | None,
        var_keyword_type: Any,
        context_name: str | None,
        slots: tuple[_Slot, ...],
        simple: bool,
    ) -> None:
        self.field_info = field_info
        self.fields = frozenset(field.name for field in field_info)
        self.positional = positional
        self.var_positional = var_positional
        self.var_keyword = var_keyword
        self.var_keyword_type = var_keyword_type
        self.context_name = context_name
        self.slots = slots
        self.simple = simple
        self._struct: type[msgspec.Struct] | None = None

    @property
    def struct(self) -> type[msgspec.Struct]:
        """The msgspec struct that validates and converts arguments (built on first use)."""
        struct = self._struct
        if struct is None:
            # Two threads may both build it on a first call; either result is correct.
            struct = self._struct = _make_struct(self.field_info)
        return struct

    def hints(self) -> list[tuple[str, Any]]:
        """``(parameter, type)`` for every type the schema must describe."""
        hints = [(field.name, field.hint) for field in self.field_info]
        if self.var_keyword is not None:
            hints.append((f"**{self.var_keyword}", self.var_keyword_type))
        return hints

    def bind(
        self,
        positional: Sequence[Any],
        keywords: Mapping[str, Any],
        context: FunctionContext | None,
        function_name: str,
        prefix: str = "",
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Validate arguments and return what to call the function with.

        Args:
            positional: Positional arguments, mapped onto parameter names in order.
            keywords: Keyword arguments, by parameter name.
            context: The call's context, for the parameter annotated with it.
            function_name: The tool's name, for error messages.
            prefix: Put before parameter names in errors (``methodArgs.``).

        Returns:
            Positional and keyword arguments, converted to the annotated types.

        Raises:
            InvalidArgumentsError: Too many positional arguments, a name given twice,
                an unknown or missing argument, or a value of the wrong type.
        """
        data: Mapping[str, Any] = keywords
        if positional:
            data = self._merge_positional(positional, keywords, function_name, prefix)
        extras: dict[str, Any] | None = None
        if self.var_keyword is not None and not data.keys() <= self.fields:
            extras = {key: value for key, value in data.items() if key not in self.fields}
            data = {key: value for key, value in data.items() if key in self.fields}
            extras = self._convert_extras(extras, function_name, prefix)
        try:
            values = msgspec.convert(data, self.struct, strict=True)
        except msgspec.ValidationError as exc:
            raise invalid_arguments(function_name, str(exc), prefix) from None
        return self._assemble(values, extras, context, function_name)

    def _merge_positional(
        self,
        positional: Sequence[Any],
        keywords: Mapping[str, Any],
        function_name: str,
        prefix: str,
    ) -> dict[str, Any]:
        limit = len(self.positional)
        data = dict(zip(self.positional, positional, strict=False))
        if len(positional) > limit:
            if self.var_positional is None:
                reason = (
                    f"takes at most {limit} positional argument{'s' * (limit != 1)} "
                    f"({len(positional)} given)"
                )
                raise InvalidArgumentsError(
                    function_name, reason, parameter=prefix.rstrip(".") or None
                )
            data[self.var_positional] = list(positional[limit:])
        for key in keywords:
            if key in data:
                raise InvalidArgumentsError(
                    function_name,
                    "given both by position and by name",
                    parameter=prefix + key,
                )
        data.update(keywords)
        return data

    def _convert_extras(
        self, extras: dict[str, Any], function_name: str, prefix: str
    ) -> dict[str, Any]:
        converted = {}
        for key, value in extras.items():
            if not isinstance(key, str):
                raise InvalidArgumentsError(
                    function_name, "argument names must be strings", parameter=prefix + repr(key)
                )
            try:
                converted[key] = msgspec.convert(value, self.var_keyword_type, strict=True)
            except msgspec.ValidationError as exc:
                raise invalid_arguments(function_name, str(exc), f"{prefix}{key}.") from None
        return converted

    def _assemble(
        self,
        values: msgspec.Struct,
        extras: dict[str, Any] | None,
        context: FunctionContext | None,
        function_name: str,
    ) -> tuple[tuple[Any, ...], dict[str, Any]]:
        given = msgspec.structs.asdict(values)
        if self.simple:
            kwargs = {key: value for key, value in given.items() if value is not _UNSET}
            if self.context_name is not None:
                kwargs[self.context_name] = context_for(context, function_name)
            if extras:
                kwargs.update(extras)
            return (), kwargs
        star: Any = ()
        if self.var_positional is not None:
            star = given.pop(self.var_positional)
            if star is _UNSET:
                star = ()
        by_position = bool(star)
        args: list[Any] = []
        kwargs = {}
        for slot in self.slots:
            value = context_for(context, function_name) if slot.is_context else given[slot.name]
            if slot.kind is _POSITIONAL_ONLY or (
                by_position and slot.kind is _POSITIONAL_OR_KEYWORD
            ):
                args.append(slot.default if value is _UNSET else value)
            elif value is not _UNSET:
                kwargs[slot.name] = value
        args.extend(star)
        if extras:
            kwargs.update(extras)
        return tuple(args), kwargs


def context_for(context: FunctionContext | None, function_name: str) -> FunctionContext:
    """The context to pass: the caller's, named after the tool, or a bare one."""
    if context is None:
        return FunctionContext(function_name=function_name)
    if context.function_name != function_name:
        return attrs.evolve(context, function_name=function_name)
    return context


_RESERVED_KEYS = frozenset({"args", "kwargs"})


def split_payload(
    payload: Mapping[str, Any] | None, spec: ToolParameters, function_name: str
) -> tuple[Sequence[Any], Mapping[str, Any]]:
    """Apply the payload rules (CONTRACT section 4), in order, to find the arguments.

    1. ``payload.args`` (a list) are positional arguments and ``payload.kwargs`` (an
       object) keyword ones;
    2. else ``payload.value`` is the single first argument;
    3. else a non-empty payload whose keys are all parameter names is passed by name;
       when only some are, the others are refused by name (``unexpected argument``);
    4. else a non-empty payload (no key a parameter name) is the first argument; an
       empty or null payload calls with none.

    A key of rules 1 and 2 (``args``, ``kwargs``, ``value``) that is also the name of a
    parameter means that parameter: a model that follows the listed schema of
    ``def f(x, value)`` sends ``{"x": 1, "value": 2}`` and must get ``f(x=1, value=2)``.

    Returns:
        Positional and keyword arguments, not yet validated.

    Raises:
        InvalidArgumentsError: ``args``/``kwargs``/``value`` mixed with other keys, or
            of the wrong type; or keys that name parameters mixed with keys that do not.
    """
    if not payload:
        return (), {}
    fields = spec.fields
    args = payload.get("args")
    kwargs = payload.get("kwargs")
    uses_args = isinstance(args, list) and "args" not in fields
    uses_kwargs = isinstance(kwargs, dict) and "kwargs" not in fields
    if uses_args or uses_kwargs:
        others = [key for key in payload if key not in _RESERVED_KEYS]
        if others:
            reason = (
                f"'args'/'kwargs' cannot be mixed with other keys ({', '.join(map(str, others))}); "
                "put keyword arguments inside 'kwargs'"
            )
            raise InvalidArgumentsError(function_name, reason)
        if args is not None and not isinstance(args, list):
            raise InvalidArgumentsError(function_name, "must be a list", parameter="args")
        if kwargs is not None and not isinstance(kwargs, dict):
            raise InvalidArgumentsError(function_name, "must be an object", parameter="kwargs")
        return (args or ()), (kwargs or {})
    if "value" in payload and "value" not in fields:
        if len(payload) > 1:
            listed = ", ".join(str(key) for key in payload if key != "value")
            reason = f"'value' cannot be mixed with other keys ({listed})"
            raise InvalidArgumentsError(function_name, reason)
        return (payload["value"],), {}
    if spec.var_keyword is not None or payload.keys() <= fields:
        return (), payload
    unknown = [key for key in payload if key not in fields]
    if len(unknown) < len(payload):
        # Some keys name parameters: the caller meant keyword arguments and sent extra
        # ones. Say which, instead of passing the whole payload as the first argument.
        raise InvalidArgumentsError(function_name, _unexpected(unknown, spec, function_name))
    if spec.positional or spec.var_positional is not None:
        return (payload,), {}
    # Nothing takes a positional argument: validate by name, so the error lists the
    # unknown keys instead of a count.
    return (), payload


def _unexpected(unknown: list[Any], spec: ToolParameters, function_name: str) -> str:
    """``unexpected argument 'bogus'; half takes n``."""
    names = ", ".join(repr(str(key)) for key in unknown)
    plural = "s" if len(unknown) > 1 else ""
    takes = ", ".join(field.name for field in spec.field_info)
    return f"unexpected argument{plural} {names}; {function_name} takes {takes}"


def invalid_arguments(function_name: str, message: str, prefix: str = "") -> InvalidArgumentsError:
    """Turn a msgspec validation message into an error naming the parameter at fault.

    ``Expected `int`, got `str` - at `$.items[0].id``` becomes parameter
    ``items[0].id`` with reason ``Expected `int`, got `str```.
    """
    match = _ERROR.match(message)
    assert match is not None  # the pattern matches any string
    reason = match["reason"]
    path = (match["path"] or "").removeprefix(".")
    if found := _MISSING.match(reason):
        path = f"{path}.{found['field']}" if path else found["field"]
        reason = "missing required argument" if "." not in path else "missing required field"
    elif found := _UNKNOWN.match(reason):
        path = f"{path}.{found['field']}" if path else found["field"]
        reason = "unknown argument" if "." not in path else "unknown field"
    parameter: str | None
    if path.startswith("[") and prefix.endswith("."):
        parameter = prefix[:-1] + path  # inside a ``**kwargs`` value: ``extra[0]``
    elif path:
        parameter = prefix + path
    else:
        parameter = prefix.rstrip(".") or None
    return InvalidArgumentsError(function_name, reason, parameter=parameter)


def _is_context(hint: Any) -> bool:
    if hint is FunctionContext:
        return True
    if isinstance(hint, type):
        return False
    origin = typing.get_origin(hint)
    if origin is Annotated:
        return _is_context(typing.get_args(hint)[0])
    if origin is Union or isinstance(hint, types.UnionType):
        members = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return len(members) == 1 and _is_context(members[0])
    return False


def _default(value: Any) -> Any:
    """The default as JSON for the schema; a default that is not JSON is not shown."""
    if value is None or type(value) in (str, int, bool):
        return value
    try:
        return to_json(value)
    except Exception:  # whatever stops it from being JSON, the schema just omits it
        return _NO_DEFAULT


def _type_hints(func: Callable[..., Any], *, plain: bool) -> dict[str, Any]:
    """The resolved annotations (``Annotated`` kept); ``plain``: try the fast path first.

    Raises:
        SkipToolError: They cannot be resolved (a name that does not exist, ...).
    """
    try:
        if not getattr(func, "__annotations__", None):
            return {}
        if plain and (hints := plain_type_hints(func)) is not None:
            return hints
        return typing.get_type_hints(func, include_extras=True)
    except Exception as exc:
        msg = f"cannot resolve its type hints ({type(exc).__name__}: {exc})"
        raise SkipToolError(msg) from None


def _read_signature(
    func: Callable[..., Any], *, drop_first: bool
) -> tuple[list[Parameter], dict[str, Any]]:
    """Parameters ``(name, kind, default)`` and resolved type hints.

    The fast paths of :mod:`._fast_introspection` first, when enabled; the standard
    library (``inspect.signature``, ``typing.get_type_hints``) for anything they decline.
    """
    parameters = plain_parameters(func) if _fast_introspection.ENABLED else None
    plain = parameters is not None
    if parameters is None:
        try:
            signature = inspect.signature(func)
        except (TypeError, ValueError) as exc:
            msg = f"cannot read its signature ({type(exc).__name__}: {exc})"
            raise SkipToolError(msg) from None
        parameters = [
            (param.name, param.kind, param.default) for param in signature.parameters.values()
        ]
    hints = _type_hints(func, plain=plain)
    if drop_first and parameters and parameters[0][1] in (_POSITIONAL_ONLY, _POSITIONAL_OR_KEYWORD):
        parameters = parameters[1:]
    return parameters, hints


def read_parameters(
    func: Callable[..., Any],
    *,
    drop_first: bool,
) -> ToolParameters:
    """Read a callable's signature and type hints into a :class:`ToolParameters`.

    Args:
        func: The function (for methods: the plain function, with ``self``/``cls``).
        drop_first: Whether the first parameter is ``self``/``cls``.

    Returns:
        The spec: struct, names and call layout.

    Raises:
        SkipToolError: The signature or type hints cannot be read.
    """
    parameters, hints = _read_signature(func, drop_first=drop_first)
    fields: list[FieldInfo] = []
    positional: list[str] = []
    slots: list[_Slot] = []
    var_positional: str | None = None
    var_keyword: str | None = None
    var_keyword_type: Any = None
    context_name: str | None = None
    simple = True
    for name, kind, default in parameters:
        hint = hints.get(name, Any)
        if hint is object:
            hint = Any
        if _is_context(hint):
            if context_name is not None:
                msg = f"parameters {context_name!r} and {name!r} both take the FunctionContext"
                raise SkipToolError(msg)
            if kind in (_VAR_POSITIONAL, _VAR_KEYWORD):
                msg = f"*{name} cannot take the FunctionContext; use a named parameter"
                raise SkipToolError(msg)
            context_name = name
            simple = simple and kind is not _POSITIONAL_ONLY
            slots.append(_Slot(name, kind, default, is_context=True))
        elif kind is _VAR_KEYWORD:
            var_keyword, var_keyword_type = name, hint
        elif kind is _VAR_POSITIONAL:
            var_positional = name
            simple = False
            fields.append(FieldInfo(name, list[hint], required=False))  # type: ignore[valid-type]
        else:
            if kind is _POSITIONAL_ONLY:
                simple = False
            if kind is not _KEYWORD_ONLY:
                positional.append(name)
            slots.append(_Slot(name, kind, default, is_context=False))
            required = default is _EMPTY
            fields.append(
                FieldInfo(
                    name,
                    hint,
                    required,
                    _NO_DEFAULT if required else _default(default),
                )
            )
    return ToolParameters(
        field_info=tuple(fields),
        positional=tuple(positional),
        var_positional=var_positional,
        var_keyword=var_keyword,
        var_keyword_type=var_keyword_type,
        context_name=context_name,
        slots=tuple(slots),
        simple=simple,
    )

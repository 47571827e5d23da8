"""Docstrings and JSON Schema: what the model reads about each tool."""

from __future__ import annotations

import inspect
import re
import typing
from collections.abc import Callable, Hashable, Iterable, Mapping
from typing import Annotated, Any, cast

import attrs
import docstring_parser
import docstring_parser.epydoc
import docstring_parser.google
import docstring_parser.numpydoc
import docstring_parser.rest
import msgspec

from navai_core._functions._params import ToolParameters

__all__ = ["DocInfo", "SchemaBatch", "read_doc"]

_REF_PREFIX = "#/$defs/"
_NUMPY_UNDERLINE = re.compile(r"^\s*-{3,}\s*$", re.MULTILINE)
_SPHINX_FIELD = re.compile(
    r"^\s*:(?:param|parameter|arg|argument|key|keyword|type)\b", re.MULTILINE
)


@attrs.frozen
class DocInfo:
    """What a docstring says about a callable.

    Attributes:
        summary: The first paragraph, on one line; ``None`` without a docstring.
        params: Parameter name (without ``*``) -> description.
    """

    summary: str | None = None
    params: Mapping[str, str] = attrs.field(factory=dict)


_NO_DOC = DocInfo()


# One parser object per style, made once: ``docstring_parser.parse`` builds a new parser
# (and compiles its regular expressions) on every call.
_GOOGLE = docstring_parser.google.GoogleParser()
_NUMPY = docstring_parser.numpydoc.NumpydocParser()
_PARSERS: tuple[tuple[re.Pattern[str], Callable[[str], docstring_parser.Docstring]], ...] = (
    (_SPHINX_FIELD, docstring_parser.rest.parse),
    (_NUMPY_UNDERLINE, _NUMPY.parse),
    (re.compile(r"^\s*@param\b", re.MULTILINE), docstring_parser.epydoc.parse),
)


def _parse(text: str) -> docstring_parser.Docstring:
    # Picking the style up front parses once; docstring_parser's AUTO parses with every
    # style and keeps the best: more work for the same answer.
    for pattern, parse in _PARSERS:
        if pattern.search(text):
            return parse(text)
    return _GOOGLE.parse(text)


def _summary_only(text: str) -> DocInfo:
    first = inspect.cleandoc(text).split("\n\n", 1)[0]
    return DocInfo(summary=" ".join(first.split()) or None)


def read_doc(obj: object) -> DocInfo:
    """Read the summary and parameter descriptions of ``obj``'s docstring.

    Google, NumPy and Sphinx (reST) styles are understood. A summary wrapped over
    several lines is joined into one, since docstring_parser keeps only its first line.
    A docstring with no colon, ``@`` or ``---`` cannot hold a parameter section in any
    of those styles, so its first paragraph is taken without parsing.
    """
    text = getattr(obj, "__doc__", None)
    if not isinstance(text, str) or not text.strip():
        return _NO_DOC
    if ":" not in text and "@" not in text and "---" not in text:
        return _summary_only(text)
    try:
        parsed = _parse(text)
    except docstring_parser.ParseError:
        return _summary_only(text)
    summary = parsed.short_description
    if summary and parsed.long_description and not parsed.blank_after_short_description:
        rest = parsed.long_description.split("\n\n", 1)[0]
        summary = f"{summary} {rest}"
    if summary:
        summary = " ".join(summary.split())
    params = {
        param.arg_name.lstrip("*"): " ".join(param.description.split())
        for param in parsed.params
        if param.description
    }
    return DocInfo(summary=summary or None, params=params)


def _key(hint: Any) -> Hashable:
    """Group equal hints (``int``, ``Literal["a", "b"]``) so each is described once."""
    try:
        hash(hint)
    except TypeError:
        return ("unhashable", id(hint))
    return cast("Hashable", hint)


def _describe_error(error: Exception) -> str:
    # msgspec's TypeError ends with the useful line ("type <class 'X'> is not supported");
    # anything else (a NameError in a dataclass's own hints) is named with its type.
    lines = str(error).strip().splitlines()
    last = lines[-1] if lines else ""
    if isinstance(error, TypeError) and last:
        return last
    return f"{type(error).__name__}: {last}" if last else type(error).__name__


class SchemaBatch:
    """The JSON Schemas of every parameter type of one scan, from one msgspec pass.

    Parameter types repeat across functions (``str``, ``int``, a shared dataclass), so
    each distinct type is described once, and msgspec's work on shared component types
    is done once. When a type cannot be described, the pass is redone without it and
    the type is remembered as failed, so one bad annotation costs only its own tools.

    Args:
        hints: Every type to describe (repeats are fine).
    """

    def __init__(self, hints: Iterable[Any]) -> None:
        unique: dict[Hashable, Any] = {}
        for hint in hints:
            unique.setdefault(_key(hint), hint)
        self._errors: dict[Hashable, str] = {}
        keys = list(unique)
        try:
            refs, components = _components([unique[key] for key in keys])
        except Exception:  # an unsupported type, or one whose own hints do not resolve
            good = []
            for key in keys:
                try:
                    _components([unique[key]])
                except Exception as exc:  # noqa: PERF203 - runs only after a failure
                    self._errors[key] = _describe_error(exc)
                else:
                    good.append(key)
            keys = good
            refs, components = _components([unique[key] for key in keys])
        self._schemas: dict[Hashable, dict[str, Any]] = dict(zip(keys, refs, strict=True))
        self._components = components
        self._recursive = _recursive_names(components)

    def error(self, hint: Any) -> str | None:
        """Why ``hint`` has no schema, or ``None`` when it has one."""
        if not self._errors:  # the usual case: no hashing (a ``Literal``'s is not cheap)
            return None
        return self._errors.get(_key(hint))

    def schema(self, hint: Any, needed: dict[str, None]) -> dict[str, Any]:
        """A fresh, self-contained schema for ``hint``.

        References are inlined; one to a recursive type stays and its name is added to
        ``needed`` (see :meth:`defs`).
        """
        return cast(
            "dict[str, Any]",
            _inline(self._schemas[_key(hint)], self._components, self._recursive, needed),
        )

    def object_schema(
        self,
        spec: ToolParameters,
        needed: dict[str, None],
        descriptions: Mapping[str, str],
        description: str | None = None,
    ) -> dict[str, Any]:
        """The object schema of one parameter list.

        Built from the same fields as the struct that validates calls: the same names,
        types and required set, with the docstring's descriptions and the defaults.

        Args:
            spec: The parameters.
            needed: Collects the recursive types referred to (see :meth:`defs`).
            descriptions: Parameter descriptions from the docstring.
            description: A description of the whole object, if any.
        """
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in spec.field_info:
            schema = self.schema(field.hint, needed)
            text = descriptions.get(field.name)
            if text and not _has_description(field.hint):
                # First, for whoever reads the JSON; and over a type's own description
                # (a dataclass docstring), since it says what this parameter is for.
                schema = {"description": text, **schema}
                schema["description"] = text
            if field.has_default:
                schema["default"] = field.default
            properties[field.name] = schema
            if field.required:
                required.append(field.name)
        out: dict[str, Any] = {"type": "object"}
        if description:
            out["description"] = description
        out["properties"] = properties
        out["required"] = required
        out["additionalProperties"] = False
        if spec.var_keyword is not None:
            out["additionalProperties"] = self.schema(spec.var_keyword_type, needed) or True
        return out

    def defs(self, needed: dict[str, None]) -> dict[str, Any]:
        """The definitions of the recursive types in ``needed``, for a ``$defs`` key.

        They go at the root of a tool's parameters, where ``#/$defs/...`` points.
        """
        defs: dict[str, Any] = {}
        while len(defs) < len(needed):
            for name in list(needed):
                if name not in defs:
                    defs[name] = _inline(
                        self._components[name], self._components, self._recursive, needed
                    )
        return defs


def _has_description(hint: Any) -> bool:
    """Whether ``Annotated[T, msgspec.Meta(description=...)]`` already describes it.

    A description written next to the type is more deliberate than the docstring's,
    so it wins.
    """
    if isinstance(hint, type) or typing.get_origin(hint) is not Annotated:
        return False
    return any(
        isinstance(meta, msgspec.Meta) and meta.description is not None
        for meta in hint.__metadata__
    )


def _components(hints: list[Any]) -> tuple[tuple[dict[str, Any], ...], dict[str, Any]]:
    return msgspec.json.schema_components(hints, ref_template=_REF_PREFIX + "{name}")


def _recursive_names(components: Mapping[str, Any]) -> frozenset[str]:
    """Components that refer back to themselves, directly or through others."""
    edges: dict[str, set[str]] = {}
    for name, schema in components.items():
        found: set[str] = set()
        _collect_refs(schema, found)
        edges[name] = found
    recursive: set[str] = set()
    for start, targets in edges.items():
        seen: set[str] = set()
        stack = list(targets)
        while stack:
            name = stack.pop()
            if name == start:
                recursive.add(start)
                break
            if name not in seen:
                seen.add(name)
                stack.extend(edges.get(name, ()))
    return frozenset(recursive)


def _collect_refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith(_REF_PREFIX):
            found.add(ref[len(_REF_PREFIX) :])
        for value in node.values():
            _collect_refs(value, found)
    elif isinstance(node, list):
        for value in node:
            _collect_refs(value, found)


def _inline(
    node: Any,
    components: Mapping[str, Any],
    recursive: frozenset[str],
    needed: dict[str, None],
) -> Any:
    if isinstance(node, list):
        return [_inline(value, components, recursive, needed) for value in node]
    if not isinstance(node, dict):
        return node
    ref = node.get("$ref")
    name = ref[len(_REF_PREFIX) :] if isinstance(ref, str) and ref.startswith(_REF_PREFIX) else None
    if name is not None and name not in recursive:
        merged = _inline(components[name], components, recursive, needed)
        for key, value in node.items():
            if key != "$ref":
                merged[key] = _inline(value, components, recursive, needed)
        return merged
    if name is not None:
        needed[name] = None  # stays a reference; its definition goes into ``$defs``
    return {key: _inline(value, components, recursive, needed) for key, value in node.items()}
